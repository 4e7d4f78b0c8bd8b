//! `stagehand logs`: read, follow and export stage.ProcessLog (or its history).

use super::output::{print_json_line, JsonArrayWriter};
use crate::store::{Backend, LogFilter, LogLevel, LogRow};
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Rows fetched per query.
const PAGE: i64 = 5000;

/// Rows shown on a terminal when --tail is not given (a log can hold millions).
const TERMINAL_TAIL: i64 = 200;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LogsArgs {
    #[command(subcommand)]
    command: Option<LogsCommand>,
    /// Only this process's rows.
    #[arg(long, value_name = "PROCESS_ID")]
    process: Option<i64>,
    /// Only the rows of this task's processes (their process name).
    #[arg(long, value_name = "NAME")]
    task: Option<String>,
    /// Only rows at this level or more severe: Info, Warning, Error.
    #[arg(long, value_parser = parse_level)]
    level: Option<LogLevel>,
    /// Only rows at or after this time: RFC 3339, YYYY-MM-DD[THH:MM[:SS]] in UTC, or an age
    /// such as 90s, 30m, 1h, 2d, 1w.
    #[arg(long, value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Only the last N matching rows (0: all). Default: 200 on a terminal, all when piped.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    tail: Option<i64>,
    /// Read the history tables (stage.ProcessLog_History: rows rotated out of the live log).
    #[arg(long, conflicts_with = "follow")]
    history: bool,
    /// Keep printing new rows as they are written (with --json: one JSON object per line).
    #[arg(long)]
    follow: bool,
}

#[derive(Debug, clap::Subcommand)]
enum LogsCommand {
    /// Write the log to a file (logs kept outside the database).
    Export {
        /// csv (with a header row) or json (an array of rows).
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Only rows at or after this time (as for `logs --since`).
        #[arg(long, value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
        /// Export the history tables (stage.ProcessLog_History) instead of the live log.
        #[arg(long)]
        history: bool,
        /// The file to write, or - for standard output.
        #[arg(long)]
        output: PathBuf,
    },
    /// Show the minimum log level (the database's, and the tasks' own `minLogLevel`), or
    /// set the database's: Info keeps every row, Warning drops the Info rows (registered,
    /// completed, a run's stdout), Error keeps errors only. Applies at once.
    Level {
        /// The database's new level: Info, Warning or Error.
        #[arg(value_parser = parse_level)]
        level: Option<LogLevel>,
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

pub(super) fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    parse_since_at(text, Utc::now())
}

/// An instant, or an age (`30m`) counted back from `now`.
fn parse_since_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Some(age) = parse_age(text) {
        return now
            .checked_sub_signed(age)
            .ok_or_else(|| format!("{text:?} reaches back too far"));
    }
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
            format!(
                "{text:?} is not a time (RFC 3339, YYYY-MM-DD[THH:MM[:SS]] in UTC, or an age: 90s, 30m, 1h, 2d, 1w)"
            )
        })
}

/// `90s`, `30m`, `1h`, `2d`, `1w`.
fn parse_age(text: &str) -> Option<chrono::TimeDelta> {
    let unit = text.chars().last()?;
    let count: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    chrono::TimeDelta::try_seconds(count.checked_mul(seconds)?).filter(|_| count >= 0)
}

/// The levels at `level` or more severe.
fn levels_from(level: Option<LogLevel>) -> Vec<LogLevel> {
    match level {
        None | Some(LogLevel::Info) => Vec::new(),
        Some(LogLevel::Warning) => vec![LogLevel::Warning, LogLevel::Error],
        Some(LogLevel::Error) => vec![LogLevel::Error],
    }
}

/// Where `logs` prints: text lines, a JSON array, or JSON lines (`--follow`).
enum Printer {
    Text,
    Array(JsonArrayWriter<std::io::Stdout>),
    Lines,
}

impl Printer {
    fn new(json: bool, follow: bool) -> Result<Printer> {
        Ok(match (json, follow) {
            (false, _) => Printer::Text,
            (true, false) => Printer::Array(JsonArrayWriter::new(std::io::stdout())?),
            (true, true) => Printer::Lines,
        })
    }

    fn rows(&mut self, rows: &[LogRow]) -> Result<()> {
        match self {
            Printer::Text => {
                let mut out = std::io::stdout().lock();
                for row in rows {
                    writeln!(out, "{}", line(row))?;
                }
                out.flush()?;
            }
            Printer::Array(array) => {
                for row in rows {
                    array.write(row)?;
                }
            }
            Printer::Lines => {
                for row in rows {
                    print_json_line(row)?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Printer::Array(array) => array.finish(),
            Printer::Text | Printer::Lines => Ok(()),
        }
    }
}

pub async fn run(db: &Arc<dyn Backend>, args: &LogsArgs, json: bool) -> Result<ExitCode> {
    match &args.command {
        Some(LogsCommand::Export {
            format,
            since,
            history,
            output,
        }) => return export(db, *format, *since, *history, output).await,
        Some(LogsCommand::Level { level }) => return super::log_level::run(db, *level, json).await,
        None => {}
    }
    let mut filter = LogFilter {
        process_id: args.process,
        process_name: args.task.clone(),
        levels: levels_from(args.level),
        since: args.since,
        after_log_id: None,
        limit: PAGE,
        newest_first: false,
        history: args.history,
    };
    let table = if args.history {
        "reading stage.ProcessLog_History"
    } else {
        "reading stage.ProcessLog"
    };
    let mut printer = Printer::new(json, args.follow)?;
    let terminal = std::io::stdout().is_terminal();
    let tail = args
        .tail
        .or_else(|| terminal.then_some(TERMINAL_TAIL))
        .filter(|n| *n > 0);
    if let Some(count) = tail {
        // The newest rows, shown oldest first; --follow continues after them.
        let mut rows = db
            .logs(&LogFilter {
                newest_first: true,
                limit: count,
                ..filter.clone()
            })
            .await
            .context(table)?;
        rows.reverse();
        printer.rows(&rows)?;
        if args.tail.is_none() && rows.len() as i64 == count {
            eprintln!("(the last {count} rows: --tail N for more, --tail 0 for all)");
        }
        if !args.follow {
            printer.finish()?;
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(last) = rows.last() {
            filter.after_log_id = Some(last.log_id);
        }
    }
    loop {
        let rows = db.logs(&filter).await.context(table)?;
        printer.rows(&rows)?;
        if let Some(last) = rows.last() {
            filter.after_log_id = Some(last.log_id);
        }
        if rows.len() as i64 == PAGE {
            continue;
        }
        if !args.follow {
            printer.finish()?;
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn line(row: &LogRow) -> String {
    let process = match (row.process_id, row.process_name.as_deref()) {
        (Some(id), Some(name)) => format!("#{id} {name}"),
        (Some(id), None) => format!("#{id}"),
        (None, _) => "-".to_string(),
    };
    let mut text = format!(
        "{} {:<7} {} {}",
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
    Csv(Box<csv::Writer<Box<dyn Write>>>),
    Json(JsonArrayWriter<Box<dyn Write>>),
}

impl Sink {
    fn open(format: ExportFormat, out: Box<dyn Write>) -> Result<Sink> {
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
                    "ProcessName",
                ])?;
                Sink::Csv(Box::new(csv))
            }
            ExportFormat::Json => Sink::Json(JsonArrayWriter::new(out)?),
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
                row.process_name.clone().unwrap_or_default(),
            ])?,
            Sink::Json(array) => array.write(row)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Csv(mut csv) => csv.flush()?,
            Sink::Json(array) => array.finish()?,
        }
        Ok(())
    }
}

/// Page by page, so millions of rows never sit in memory at once.
async fn export(
    db: &Arc<dyn Backend>,
    format: ExportFormat,
    since: Option<DateTime<Utc>>,
    history: bool,
    output: &PathBuf,
) -> Result<ExitCode> {
    let to_stdout = output.as_os_str() == "-";
    let out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
        let file = std::fs::File::create(output)
            .with_context(|| format!("--output {}", output.display()))?;
        Box::new(std::io::BufWriter::new(file))
    };
    let mut sink = Sink::open(format, out)?;
    let mut filter = LogFilter {
        since,
        limit: PAGE,
        history,
        ..LogFilter::default()
    };
    let mut count = 0_u64;
    loop {
        let rows = db.logs(&filter).await.context("reading the log")?;
        for row in &rows {
            sink.write(row)?;
        }
        count += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => filter.after_log_id = Some(last.log_id),
            _ => break,
        }
    }
    let target = if to_stdout {
        "standard output".to_string()
    } else {
        output.display().to_string()
    };
    sink.finish().with_context(|| format!("writing {target}"))?;
    eprintln!("exported {count} log rows to {target}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_ages_and_instants() {
        let now = DateTime::parse_from_rfc3339("2024-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |text: &str| parse_since_at(text, now).map(|t| t.to_rfc3339());
        assert_eq!(at("1h").unwrap(), "2024-03-10T11:00:00+00:00");
        assert_eq!(at("2d").unwrap(), "2024-03-08T12:00:00+00:00");
        assert_eq!(at("90s").unwrap(), "2024-03-10T11:58:30+00:00");
        assert_eq!(at("1w").unwrap(), "2024-03-03T12:00:00+00:00");
        assert_eq!(at("2024-01-02").unwrap(), "2024-01-02T00:00:00+00:00");
        assert_eq!(
            at("2024-01-02T03:04:05+01:00").unwrap(),
            "2024-01-02T02:04:05+00:00"
        );
        for bad in ["1y", "h", "-1h", "yesterday", "99999999999999d"] {
            assert!(at(bad).is_err(), "{bad} is refused");
        }
    }
}
