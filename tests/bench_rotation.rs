//! `stagehand bench rotation` at a small size: it rotates every run it made past the
//! retention while its workers claim and complete, prints claim latency beside and without
//! the rotation, refuses a database holding someone else's rows past the retention, and
//! leaves no row behind.

#[macro_use]
mod common;

use common::{TestDb, Unit};
use std::process::Stdio;
use tokio::process::Command;

async fn bench_rotation(db: &TestDb) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args([
            "bench",
            "rotation",
            "--rows",
            "3000",
            "--baseline-seconds",
            "1",
        ])
        .env("STAGEHAND_DATABASE_URL", db.url())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run stagehand bench rotation")
}

conformance!(a_small_rotation_bench_moves_its_rows_and_leaves_none);
async fn a_small_rotation_bench_moves_its_rows_and_leaves_none(db: &TestDb) {
    let output = bench_rotation(db).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{db}: the bench failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("rotated 3000 runs and 6000 log rows")
            && stdout.contains("claim latency beside the rotation: p50")
            && stdout.contains("| without: p50"),
        "{db}: {stdout}"
    );
    db.assert_no_bench_rows("the bench").await;

    // Someone's own run past the retention: the bench would move it, so it refuses.
    let id = db.register_new("old-report").await;
    let old = db.ago(7, Unit::Month);
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Completed', StartTime = {old}, EndTime = {old} WHERE ProcessID = {id}"
    ))
    .await;
    let output = bench_rotation(db).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("past a 6-month retention"),
        "{db}: {stderr}"
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        1,
        "{db}: nothing moved"
    );
}
