//! `stagehand logs`: read, follow and export stage.ProcessLog.

use crate::store::{Backend, LogFilter, LogLevel, LogRow};
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Rows fetched per query.
const PAGE: i64 = 5000;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LogsArgs {
    #[command(subcommand)]
    export: Option<LogsCommand>,
    /// Only this process's rows.
    #[arg(long)]
    process: Option<i64>,
    /// Only rows at this level or more severe: Info, Warning, Error.
    #[arg(long, value_parser = parse_level)]
    level: Option<LogLevel>,
    /// Only rows at or after this time (RFC 3339, or YYYY-MM-DD[THH:MM[:SS]] in UTC).
    #[arg(long, value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Keep printing new rows as they are written.
    #[arg(long)]
    follow: bool,
}

#[derive(Debug, clap::Subcommand)]
enum LogsCommand {
    /// Write the log to a file (logs kept outside the database).
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[arg(long, value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
        #[arg(long)]
        output: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Json,
}

fn parse_level(text: &str) -> Result<LogLevel, String> {
    LogLevel::from_str(text)
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        .map_err(|_| {
            format!("{text:?} is not a time (RFC 3339, or YYYY-MM-DD[THH:MM[:SS]] in UTC)")
        })
}

/// The levels at `level` or more severe.
fn levels_from(level: Option<LogLevel>) -> Vec<LogLevel> {
    match level {
        None | Some(LogLevel::Info) => Vec::new(),
        Some(LogLevel::Warning) => vec![LogLevel::Warning, LogLevel::Error],
        Some(LogLevel::Error) => vec![LogLevel::Error],
    }
}

pub async fn run(db: &Arc<dyn Backend>, args: &LogsArgs) -> Result<ExitCode> {
    if let Some(LogsCommand::Export {
        format,
        since,
        output,
    }) = &args.export
    {
        return export(db, *format, *since, output).await;
    }
    let mut filter = LogFilter {
        process_id: args.process,
        levels: levels_from(args.level),
        since: args.since,
        after_log_id: None,
        limit: PAGE,
    };
    let stdout = std::io::stdout();
    loop {
        let rows = db.logs(&filter).await.context("reading stage.ProcessLog")?;
        let mut out = stdout.lock();
        for row in &rows {
            writeln!(out, "{}", line(row))?;
        }
        out.flush()?;
        if let Some(last) = rows.last() {
            filter.after_log_id = Some(last.log_id);
        }
        if rows.len() as i64 == PAGE {
            continue;
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn line(row: &LogRow) -> String {
    let process = row
        .process_id
        .map_or_else(|| "-".to_string(), |id| format!("#{id}"));
    let mut text = format!(
        "{} {:<7} {:>8} {}",
        row.log_time.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        row.log_level,
        process,
        row.message
    );
    if let Some(detail) = row
        .detail
        .as_deref()
        .filter(|d| !d.is_empty() && *d != row.message)
    {
        for detail_line in detail.lines() {
            text.push_str("\n    ");
            text.push_str(detail_line);
        }
    }
    text
}

/// Where exported rows go.
enum Sink {
    Csv(Box<csv::Writer<std::io::BufWriter<std::fs::File>>>),
    Json {
        out: std::io::BufWriter<std::fs::File>,
        rows: u64,
    },
}

impl Sink {
    fn open(format: ExportFormat, file: std::fs::File) -> Result<Sink> {
        let out = std::io::BufWriter::new(file);
        Ok(match format {
            ExportFormat::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record([
                    "LogID",
                    "ProcessID",
                    "LogTime",
                    "LogLevel",
                    "Message",
                    "Detail",
                ])?;
                Sink::Csv(Box::new(csv))
            }
            ExportFormat::Json => {
                let mut out = out;
                out.write_all(b"[")?;
                Sink::Json { out, rows: 0 }
            }
        })
    }

    fn write(&mut self, row: &LogRow) -> Result<()> {
        match self {
            Sink::Csv(csv) => csv.write_record([
                row.log_id.to_string(),
                row.process_id.map(|p| p.to_string()).unwrap_or_default(),
                row.log_time.to_rfc3339(),
                row.log_level.clone(),
                row.message.clone(),
                row.detail.clone().unwrap_or_default(),
            ])?,
            Sink::Json { out, rows } => {
                out.write_all(if *rows == 0 { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut *out, row)?;
                *rows += 1;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Csv(mut csv) => csv.flush()?,
            Sink::Json { mut out, .. } => {
                out.write_all(b"\n]\n")?;
                out.flush()?;
            }
        }
        Ok(())
    }
}

/// Page by page, so millions of rows never sit in memory at once.
async fn export(
    db: &Arc<dyn Backend>,
    format: ExportFormat,
    since: Option<DateTime<Utc>>,
    output: &PathBuf,
) -> Result<ExitCode> {
    let file =
        std::fs::File::create(output).with_context(|| format!("--output {}", output.display()))?;
    let mut sink = Sink::open(format, file)?;
    let mut filter = LogFilter {
        since,
        limit: PAGE,
        ..LogFilter::default()
    };
    let mut count = 0_u64;
    loop {
        let rows = db.logs(&filter).await.context("reading stage.ProcessLog")?;
        for row in &rows {
            sink.write(row)?;
        }
        count += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => filter.after_log_id = Some(last.log_id),
            _ => break,
        }
    }
    sink.finish()
        .with_context(|| format!("writing {}", output.display()))?;
    eprintln!("exported {count} log rows to {}", output.display());
    Ok(ExitCode::SUCCESS)
}
