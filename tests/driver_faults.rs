//! `stagehand run` surviving faults: a killed driver, signals, a timeout that must kill
//! grandchildren, and the database going away while commands run.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use common::TestDb;
use driver_support::{
    alive, lines, pg_script, scratch, task, wait_final, wait_for, wait_lines, Driver,
};
use nix::sys::signal::Signal;
use stagehand::store::{connect, ConnectOptions, DatabaseUrl, ProcessStatus, TaskRecord};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

conformance!(a_killed_drivers_work_is_recovered_by_another_driver);
async fn a_killed_drivers_work_is_recovered_by_another_driver(db: &TestDb) {
    let dir = scratch("sigkill");
    let file = dir.join("runs");
    // Records attempt and pid, then runs long enough to be killed mid-run.
    let command = format!(
        "echo \"$STAGEHAND_ATTEMPT $$\" >> '{}'; exec sleep 4",
        file.display()
    );
    task(&**db, "survivor", &command, |t| t.max_attempts = 2).await;
    let mut first = Driver::start(db.url(), "doomed", 1, &[]);
    let id = db.register_new("survivor").await;
    let running = wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    assert!(
        running
            .worker_assigned
            .as_deref()
            .unwrap_or("")
            .contains("/doomed/"),
        "{db}: {running:?}"
    );
    let started = wait_lines(&file, 1, LIMIT).await;
    let pid: i32 = started[0]
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("pid");

    first.signal(Signal::SIGKILL);
    first.exit_within(Duration::from_secs(5)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: the killed driver's command {pid} must die with it"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut second = Driver::start(db.url(), "rescuer", 1, &[]);
    let row = wait_final(&**db, id, LIMIT).await;
    assert_eq!(
        row.status,
        ProcessStatus::Completed,
        "{db}: the process is not lost"
    );
    assert_eq!(
        row.attempt, 2,
        "{db}: it ran a second time, after the lease of the first expired"
    );
    assert!(
        row.worker_assigned
            .as_deref()
            .unwrap_or("")
            .contains("/rescuer/"),
        "{db}: {row:?}"
    );
    let runs = lines(&file);
    assert_eq!(
        runs.len(),
        2,
        "{db}: exactly two runs, never at once: {runs:?}"
    );
    let logs = db.logs(id).await;
    assert!(
        logs.iter()
            .any(|l| l.log_level == "Warning" && l.message.contains("doomed")),
        "{db}: the reset names the lost worker: {logs:#?}"
    );

    second.signal(Signal::SIGTERM);
    assert!(second.exit_within(Duration::from_secs(20)).await.success());
}

conformance!(graceful_shutdown_lets_short_commands_finish);
async fn graceful_shutdown_lets_short_commands_finish(db: &TestDb) {
    task(&**db, "short", "sleep 2", |_| {}).await;
    task(&**db, "later", "true", |_| {}).await;
    let mut driver = Driver::start(db.url(), "patient", 2, &["--grace-seconds", "20"]);
    let id = db.register_new("short").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    driver.signal(Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = db.register_new("later").await;
    assert!(
        driver.exit_within(Duration::from_secs(20)).await.success(),
        "{db}: exits cleanly"
    );
    assert_eq!(
        db.row(id).await.status,
        ProcessStatus::Completed,
        "{db}: the running command finished"
    );
    assert_eq!(
        db.row(second).await.status,
        ProcessStatus::Pending,
        "{db}: nothing new was claimed"
    );
}

conformance!(graceful_shutdown_releases_what_outlives_the_grace);
async fn graceful_shutdown_releases_what_outlives_the_grace(db: &TestDb) {
    task(&**db, "long", "sleep 60", |_| {}).await;
    let mut driver = Driver::start(db.url(), "hasty", 1, &["--grace-seconds", "1"]);
    let id = db.register_new("long").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    driver.signal(Signal::SIGTERM);
    assert!(
        driver.exit_within(Duration::from_secs(15)).await.success(),
        "{db}: exits after the grace"
    );
    let row = db.row(id).await;
    assert_eq!(
        row.status,
        ProcessStatus::Pending,
        "{db}: handed back to the queue: {row:?}"
    );
    assert_eq!(
        (row.attempt, row.worker_assigned.as_deref()),
        (0, None),
        "{db}: the interrupted run does not count"
    );
    let logs = db.logs(id).await;
    assert!(
        logs.iter().any(|l| l.message.contains("Released")),
        "{db}: logged: {logs:#?}"
    );
}

conformance!(a_second_signal_stops_at_once);
async fn a_second_signal_stops_at_once(db: &TestDb) {
    let dir = scratch("second-signal");
    let file = dir.join("pid");
    task(
        &**db,
        "stubborn",
        &format!("echo $$ > '{}'; exec sleep 60", file.display()),
        |_| {},
    )
    .await;
    let mut driver = Driver::start(db.url(), "impatient", 1, &["--grace-seconds", "60"]);
    let id = db.register_new("stubborn").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    let pid: i32 = wait_lines(&file, 1, LIMIT).await[0]
        .trim()
        .parse()
        .expect("pid");
    driver.signal(Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(300)).await;
    driver.signal(Signal::SIGTERM);
    driver.exit_within(Duration::from_secs(8)).await;
    assert!(!alive(pid), "{db}: the command was killed");
}

conformance!(a_timeout_kills_the_whole_tree);
async fn a_timeout_kills_the_whole_tree(db: &TestDb) {
    let dir = scratch("timeout");
    let file = dir.join("grandchild");
    // The grandchild outlives its parent's own wait unless the tree is killed.
    let command = format!("sleep 600 & echo $! > '{}'; wait", file.display());
    task(&**db, "hangs", &command, |t| t.timeout_minutes = Some(1)).await;
    let mut driver = Driver::start(db.url(), "timer", 1, &[]);
    let id = db.register_new("hangs").await;
    let grandchild: i32 = wait_lines(&file, 1, LIMIT).await[0]
        .trim()
        .parse()
        .expect("pid");
    assert!(alive(grandchild), "{db}: the grandchild runs");
    let row = wait_final(&**db, id, Duration::from_secs(90)).await;
    assert_eq!(
        row.status,
        ProcessStatus::Failed,
        "{db}: a timeout is a failure"
    );
    let logs = db.logs(id).await;
    assert!(
        logs.iter().any(|l| l.message.contains("timed out")),
        "{db}: says it timed out: {logs:#?}"
    );
    assert!(
        !alive(grandchild),
        "{db}: the grandchild was killed with the tree"
    );
    driver.signal(Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

/// A private cluster of one test's own, for tests that stop the database.
#[derive(Clone)]
struct OwnCluster {
    dir: std::path::PathBuf,
    data: std::path::PathBuf,
    port: String,
    url: String,
}

impl OwnCluster {
    fn start(name: &str) -> OwnCluster {
        let dir = scratch(name);
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let data = dir.join("data");
        let port = pg_script("pg_free_port");
        pg_script(&format!(
            "PG_EXTRA_OPTS='-c fsync=off' pg_start '{}' {port}; \"$PG_BIN/createdb\" -h 127.0.0.1 -p {port} -U postgres {name}",
            data.display()
        ));
        let url = format!("postgres://postgres@127.0.0.1:{port}/{name}");
        OwnCluster {
            dir,
            data,
            port,
            url,
        }
    }

    fn stop(&self) {
        pg_script(&format!("pg_stop '{}'", self.data.display()));
    }

    fn start_again(&self) {
        pg_script(&format!("pg_start '{}' {}", self.data.display(), self.port));
    }

    async fn connect(&self) -> std::sync::Arc<dyn stagehand::store::Backend> {
        let db = connect(
            &DatabaseUrl::parse(&self.url).unwrap(),
            &ConnectOptions::default(),
        )
        .await
        .unwrap();
        db.migrate().await.expect("migrate");
        db
    }
}

/// Runs `body` against a cluster of its own, stopped afterwards even when `body` panics.
async fn with_own_cluster<F, Fut>(name: &str, body: F)
where
    F: FnOnce(OwnCluster) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let cluster = OwnCluster::start(name);
    let result = tokio::spawn(body(cluster.clone())).await;
    cluster.stop();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
}

/// The database stopped and started while commands run: commands keep running, and
/// every outcome is recorded once it is back. This test brings its own cluster, since
/// it stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_loses_no_outcome() {
    with_own_cluster("outage", outage_body).await;
}

async fn outage_body(cluster: OwnCluster) {
    let db = cluster.connect().await;
    let url = &cluster.url;
    let dir = &cluster.dir;
    let done = dir.join("done");
    let mut task = TaskRecord::new(
        "through-outage",
        &format!(
            "sleep 4; echo \"$STAGEHAND_PROCESS_ID\" >> '{}'",
            done.display()
        ),
    );
    task.overlap_policy = "parallel".into();
    db.save_task(&task).await.unwrap();
    // A lease longer than the outage: the work stays this driver's.
    let mut driver = Driver::start_with_lease(url, "steady", 3, 30, &[]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            db.register("through-outage", None, None)
                .await
                .unwrap()
                .process_id,
        );
    }
    for id in &ids {
        wait_for(&*db, *id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    }
    cluster.stop();
    // Commands finish while the database is down; their outcomes wait in the driver.
    wait_lines(&done, 3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.start_again();
    for id in &ids {
        let row = wait_final(&*db, *id, Duration::from_secs(60)).await;
        assert_eq!(
            (row.status, row.attempt),
            (ProcessStatus::Completed, 1),
            "recorded once the database is back: {row:?}"
        );
    }
    driver.signal(Signal::SIGTERM);
    assert!(
        driver.exit_within(Duration::from_secs(20)).await.success(),
        "the driver never gave up"
    );
}

/// The database gone for longer than the lease: the driver stops the command before
/// the lease ends (another driver could reset it and run it again from then on), hands
/// it back once the database is back, and the process then runs once more, alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrenewable_lease_stops_the_command_before_it_ends() {
    with_own_cluster("fence", fence_body).await;
}

async fn fence_body(cluster: OwnCluster) {
    const LEASE: Duration = Duration::from_secs(10);
    let db = cluster.connect().await;
    let (pids, first, done) = (
        cluster.dir.join("pids"),
        cluster.dir.join("first"),
        cluster.dir.join("done"),
    );
    let mut task = TaskRecord::new(
        "fenced",
        &format!(
            "echo $$ >> '{pids}'; if [ ! -e '{first}' ]; then touch '{first}'; sleep 60; fi; echo ran >> '{done}'",
            pids = pids.display(),
            first = first.display(),
            done = done.display()
        ),
    );
    // The database may reset the expired lease before the driver's release arrives:
    // either way the process must run again.
    task.max_attempts = 3;
    db.save_task(&task).await.unwrap();
    let mut driver =
        Driver::start_with_lease(&cluster.url, "fencing", 1, LEASE.as_secs() as u32, &[]);
    let id = db.register("fenced", None, None).await.unwrap().process_id;
    let shell: i32 = wait_lines(&pids, 1, LIMIT).await[0].parse().unwrap();

    cluster.stop();
    // No heartbeat renews the lease from here: it ends within LEASE of now.
    let stopped = tokio::time::Instant::now();
    while alive(shell) {
        assert!(
            stopped.elapsed() < LEASE,
            "the command still runs when its lease may have ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.start_again();

    let row = wait_final(&*db, id, Duration::from_secs(90)).await;
    assert_eq!(row.status, ProcessStatus::Completed, "{row:?}");
    assert_eq!(
        lines(&done),
        ["ran"],
        "the stopped run never finished; the second ran once"
    );
    assert_eq!(lines(&pids).len(), 2, "one stopped run, one complete run");
    driver.signal(Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}
