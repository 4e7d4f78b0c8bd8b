//! `stagehand bench ... --scratch`: the bench measures in a database it creates on the
//! same server and drops at the end (also when interrupted), so the database it was
//! pointed at gets no row; `--keep-scratch` leaves it for `--reuse-scratch NAME`.

#[macro_use]
mod common;

use common::TestDb;
use stagehand::store::{connect, BackendKind, ConnectOptions, DatabaseUrl};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn bench(db: &TestDb, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagehand"));
    command
        .arg("bench")
        .args(args)
        .env("STAGEHAND_DATABASE_URL", db.url())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs a bench that must succeed; returns its stdout.
async fn bench_ok(db: &TestDb, args: &[&str]) -> String {
    let output = bench(db, args).output().await.expect("run stagehand bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{db}: bench {args:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The scratch database a bench's output names.
fn scratch_name(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("measuring in the scratch database "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no scratch database named in:\n{stdout}"))
        .to_string()
}

async fn database_exists(db: &TestDb, name: &str) -> bool {
    let catalog = match db.kind() {
        BackendKind::Postgres => format!("pg_database WHERE datname = '{name}'"),
        BackendKind::SqlServer => format!("sys.databases WHERE name = '{name}'"),
    };
    db.count(&catalog).await > 0
}

async fn assert_untouched(db: &TestDb) {
    db.assert_no_bench_rows("a scratch bench, in the database it was pointed at,")
        .await;
    assert_eq!(
        db.count("stage.ProcessCounter").await,
        0,
        "{db}: a scratch bench counted runs in the database it was pointed at"
    );
}

conformance!(a_scratch_bench_measures_elsewhere_and_drops_its_database);
async fn a_scratch_bench_measures_elsewhere_and_drops_its_database(db: &TestDb) {
    let stdout = bench_ok(db, &["monitor", "--scratch", "--prefill", "1000"]).await;
    let name = scratch_name(&stdout);
    assert!(name.starts_with("stagehand_bench_"), "{db}: {name}");
    assert!(
        stdout.contains("with 1000 finished runs in stage.FileControl")
            && stdout.contains(&format!("dropped the scratch database {name}")),
        "{db}: {stdout}"
    );
    assert!(
        !database_exists(db, &name).await,
        "{db}: {name} was left behind"
    );
    assert_untouched(db).await;

    // A queue bench with its prefill, the same way.
    let stdout = bench_ok(
        db,
        &[
            "queue",
            "--scratch",
            "--prefill",
            "1000",
            "--processes",
            "200",
            "--workers",
            "2",
            "--bulk",
            "0",
        ],
    )
    .await;
    let name = scratch_name(&stdout);
    assert!(stdout.contains("workers   2: register"), "{db}: {stdout}");
    assert!(
        !database_exists(db, &name).await,
        "{db}: {name} was left behind"
    );
    assert_untouched(db).await;
}

conformance!(a_kept_scratch_database_is_measured_again_then_dropped);
async fn a_kept_scratch_database_is_measured_again_then_dropped(db: &TestDb) {
    let stdout = bench_ok(
        db,
        &[
            "monitor",
            "--scratch",
            "--keep-scratch",
            "--prefill",
            "1000",
        ],
    )
    .await;
    let name = scratch_name(&stdout);
    assert!(
        database_exists(db, &name).await,
        "{db}: --keep-scratch dropped {name}"
    );
    // The fill's counter deltas are rolled up, as a driver's sweep would have.
    let url = DatabaseUrl::parse(db.url())
        .and_then(|url| url.with_database(&name))
        .expect("the scratch database's URL");
    let scratch = connect(&url, &ConnectOptions::default())
        .await
        .expect("connect to the kept scratch database");
    let deltas = scratch
        .query_i64("SELECT COUNT(*) FROM stage.ProcessCounter")
        .await
        .expect("count the counter deltas");
    assert_eq!(deltas, Some(0), "{db}: the prefill left counter deltas");
    drop(scratch);
    let stdout = bench_ok(db, &["monitor", "--reuse-scratch", &name]).await;
    assert!(
        stdout.contains("with 1000 finished runs in stage.FileControl"),
        "{db}: the reused database lost its rows: {stdout}"
    );
    assert!(
        !database_exists(db, &name).await,
        "{db}: {name} was left behind"
    );
    assert_untouched(db).await;

    // Only a bench's own names are taken: it drops what it reuses.
    let output = bench(db, &["monitor", "--reuse-scratch", db.database_name()])
        .output()
        .await
        .expect("run stagehand bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("not a scratch database's name"),
        "{db}: {stderr}"
    );
}

#[cfg(unix)]
conformance!(an_interrupted_scratch_bench_drops_its_database);
#[cfg(unix)]
async fn an_interrupted_scratch_bench_drops_its_database(db: &TestDb) {
    // A fill far longer than the test: Ctrl-C arrives while it runs.
    let mut child = bench(db, &["monitor", "--scratch", "--prefill", "100000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stagehand bench");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut name = None;
    while let Some(line) = lines.next_line().await.expect("read the bench's stdout") {
        if line.starts_with("measuring in the scratch database ") {
            name = Some(scratch_name(&line));
            break;
        }
    }
    let name = name.unwrap_or_else(|| panic!("{db}: the bench named no scratch database"));
    assert!(database_exists(db, &name).await, "{db}: {name} not made");
    let pid = child.id().expect("the bench runs") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("send SIGINT");
    let output = child.wait_with_output().await.expect("wait for the bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("interrupted"),
        "{db}: {} {stderr}",
        output.status
    );
    assert!(
        !database_exists(db, &name).await,
        "{db}: {name} was left behind after Ctrl-C"
    );
    assert_untouched(db).await;
}
