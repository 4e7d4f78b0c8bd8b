//! `stagehand bench chaos` at a small size (no database restart: scripts/test.sh runs
//! it with one against its private cluster): two real drivers, one SIGKILLed mid-run and
//! restarted, sleepers past the lease, a lock per process; nothing lost, failed or run
//! twice at once, and the rows it made are gone afterwards.
#![cfg(unix)]

#[macro_use]
mod common;

use common::TestDb;
use std::process::Stdio;
use tokio::process::Command;

conformance!(a_small_chaos_run_loses_nothing_and_never_overlaps);
async fn a_small_chaos_run_loses_nothing_and_never_overlaps(db: &TestDb) {
    let output = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["bench", "chaos", "--processes", "200", "--workers", "4"])
        .env("STAGEHAND_DATABASE_URL", db.url())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run stagehand bench chaos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{db}: the bench failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("SIGKILL driver") && stdout.contains("database restart: SKIPPED"),
        "{db}: one driver was killed mid-run, and the skipped restart is said: {stdout}"
    );
    assert!(
        stdout.contains("processes 200: completed 200, lost 0, failed 0, overlapping 0,"),
        "{db}: {stdout}"
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM stage.FileControl")
            .await
            .expect("count"),
        Some(0),
        "{db}: the bench removed its processes"
    );
}
