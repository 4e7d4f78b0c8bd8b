//! `--scratch`: a bench measures in a database of its own, created next to the one it is
//! pointed at (CREATE DATABASE on the same server, with the same login), migrated as
//! `stagehand migrate` migrates, and dropped at the end, also when the bench fails or is
//! interrupted (Ctrl-C): its prefilled rows go with it instead of being deleted. A fill
//! can serve several benches: `--keep-scratch` leaves the database and prints its name,
//! `--reuse-scratch NAME` measures in it again (and drops it, unless `--keep-scratch`).

use super::super::{database_url, open_store};
use crate::store::{self, Backend, BackendKind, ConnectOptions, DatabaseUrl};
use anyhow::{anyhow, bail, Context, Result};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// What every scratch database's name starts with: the bench drops no other.
const PREFIX: &str = "stagehand_bench_";

#[derive(Debug, Clone, clap::Args)]
pub struct ScratchArgs {
    /// Measure in a new database on the same server (stagehand_bench_<pid>), migrated,
    /// dropped at the end (also on error and Ctrl-C): nothing is written to the one given.
    #[arg(long)]
    scratch: bool,
    /// Measure in a scratch database an earlier --keep-scratch left, rows included.
    #[arg(long, value_name = "NAME", conflicts_with = "scratch")]
    reuse_scratch: Option<String>,
    /// With --scratch or --reuse-scratch: leave the database at the end, for --reuse-scratch.
    #[arg(long)]
    keep_scratch: bool,
}

/// Where a bench measures: the store, and whether rows it writes need deleting afterwards.
pub struct Target {
    pub db: Arc<dyn Backend>,
    /// In a scratch database: its rows go with it, none needs deleting.
    pub scratch: bool,
}

/// Opens the database a bench measures in (a scratch one if asked), runs `bench` there,
/// and drops the scratch database afterwards, also when `bench` fails or on Ctrl-C.
pub async fn measure<T, F, Fut>(
    database: &Option<String>,
    max_connections: u32,
    args: &ScratchArgs,
    bench: F,
) -> Result<T>
where
    F: FnOnce(Target) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let name = match (&args.reuse_scratch, args.scratch) {
        (Some(name), _) => {
            valid_name(name)?;
            name.clone()
        }
        (None, true) => format!("{PREFIX}{}", std::process::id()),
        (None, false) => {
            if args.keep_scratch {
                bail!("--keep-scratch needs --scratch or --reuse-scratch");
            }
            let db = open_store(database, max_connections).await?;
            return bench(Target { db, scratch: false }).await;
        }
    };
    let url = database_url(database)?
        .with_database(&name)
        .context("--database")?;
    let options = ConnectOptions {
        max_connections,
        ..ConnectOptions::default()
    };
    // The database named in the connection string stays the server's way in.
    let admin = open_store(database, 1).await?;
    if args.reuse_scratch.is_none() {
        admin
            .execute_sql(&create_sql(admin.kind(), &name))
            .await
            .with_context(|| format!("creating the scratch database {name}"))?;
    }
    println!("measuring in the scratch database {name} on the same server");
    let outcome = tokio::select! {
        outcome = in_scratch(&url, &name, &options, bench) => outcome,
        interrupted = tokio::signal::ctrl_c() => match interrupted {
            Ok(()) => Err(anyhow!("interrupted")),
            Err(e) => Err(anyhow!(e).context("waiting for Ctrl-C")),
        },
    };
    if args.keep_scratch {
        println!("kept the scratch database {name}: --reuse-scratch {name} measures in it again");
    } else {
        let started = Instant::now();
        let dropped = admin
            .execute_sql(&drop_sql(admin.kind(), &name))
            .await
            .with_context(|| format!("dropping the scratch database {name}"));
        match (&outcome, dropped) {
            (_, Ok(_)) => println!(
                "dropped the scratch database {name} in {:.1} s",
                started.elapsed().as_secs_f64()
            ),
            // The bench's own error says more; the database left behind is named.
            (Err(_), Err(e)) => eprintln!("warning: {e:#}"),
            (Ok(_), Err(e)) => return Err(e),
        }
    }
    outcome
}

/// Connects to the scratch database (`url`), migrates it and runs the bench there.
async fn in_scratch<T, F, Fut>(
    url: &DatabaseUrl,
    name: &str,
    options: &ConnectOptions,
    bench: F,
) -> Result<T>
where
    F: FnOnce(Target) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let db = store::connect(url, options)
        .await
        .with_context(|| format!("connecting to the scratch database {name}"))?;
    db.migrate()
        .await
        .with_context(|| format!("migrating the scratch database {name}"))?;
    bench(Target { db, scratch: true }).await
}

/// Scratch names stand in the SQL text: only ones a bench could have made are accepted.
fn valid_name(name: &str) -> Result<()> {
    let tail = name.strip_prefix(PREFIX).unwrap_or_default();
    if tail.is_empty()
        || !tail
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        bail!("--reuse-scratch {name}: not a scratch database's name ({PREFIX}<digits>)");
    }
    Ok(())
}

fn create_sql(kind: BackendKind, name: &str) -> String {
    match kind {
        BackendKind::Postgres => format!("CREATE DATABASE {name}"),
        BackendKind::SqlServer => format!("CREATE DATABASE [{name}]"),
    }
}

/// Drops the database whoever is still connected (a driver the bench could not stop).
fn drop_sql(kind: BackendKind, name: &str) -> String {
    match kind {
        BackendKind::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        BackendKind::SqlServer => format!(
            "IF DB_ID(N'{name}') IS NOT NULL
             BEGIN
                 ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE;
                 DROP DATABASE [{name}];
             END"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_benchs_names_are_reused() {
        assert!(valid_name("stagehand_bench_4242").is_ok());
        for name in [
            "stagehand_bench_",
            "erp",
            "stagehand_bench_1; DROP DATABASE erp",
            "stagehand_bench_X",
        ] {
            assert!(valid_name(name).is_err(), "{name}");
        }
    }
}
