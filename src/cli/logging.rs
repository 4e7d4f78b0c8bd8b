//! Where the driver's own log goes: standard error always (a terminal, or the journal
//! under systemd), and a file rotated daily in `log_dir` when the configuration file
//! sets one (a Windows service has no standard error). Colours only on a terminal.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Daily files kept in `log_dir`; older ones are deleted.
const KEPT_FILES: usize = 31;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    pub dir: Option<PathBuf>,
    pub format: LogFormat,
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global subscriber; `RUST_LOG` filters (default `stagehand=info`).
pub fn init(settings: &LogSettings) -> Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("stagehand=info"));
    let stderr = layer(
        settings.format,
        std::io::stderr().is_terminal(),
        std::io::stderr,
    );
    let file = match &settings.dir {
        Some(dir) => {
            let appender = RollingFileAppender::builder()
                .rotation(Rotation::DAILY)
                .filename_prefix("stagehand")
                .filename_suffix("log")
                .max_log_files(KEPT_FILES)
                .build(dir)
                .with_context(|| format!("log_dir {}", dir.display()))?;
            Some(layer(settings.format, false, appender))
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr.and_then(file).with_filter(filter))
        .try_init()
        .context("installing the logger")
}

fn layer<W>(format: LogFormat, ansi: bool, writer: W) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    }
}
