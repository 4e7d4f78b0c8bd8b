//! `stagehand dashboard`: the web dashboard and `/metrics` (see src/web), on its own
//! connection string; `stagehand run --dashboard ADDR` serves the same in the driver.

use crate::store::{Backend, DatabaseUrl};
use crate::web::{auth::AuthArgs, Auth, Dashboard, DashboardConfig, DEFAULT_ALERT_MB};
use anyhow::Result;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct DashboardArgs {
    /// The address to serve on; anything but loopback requires --auth-token-file,
    /// --users-file or --auth database.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Flag stage tables larger than this many MiB (as `status --alert-mb`).
    #[arg(long, env = "STAGEHAND_ALERT_MB", default_value_t = DEFAULT_ALERT_MB)]
    pub alert_mb: i64,
}

/// Checks the listen address against the auth before anything connects.
pub fn config(
    listen: SocketAddr,
    auth: &AuthArgs,
    alert_mb: i64,
    url: &DatabaseUrl,
) -> Result<DashboardConfig> {
    Ok(DashboardConfig {
        listen,
        auth: Auth::load(auth, listen, url)?,
        driver_metrics: None,
        alert_mb,
    })
}

pub async fn run(db: Arc<dyn Backend>, config: DashboardConfig) -> Result<ExitCode> {
    let dashboard = Dashboard::bind(db, config).await?;
    // The address really bound (port 0 picks one), on stdout for scripts and tests.
    println!("dashboard listening on http://{}/", dashboard.local_addr()?);
    dashboard
        .serve(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}
