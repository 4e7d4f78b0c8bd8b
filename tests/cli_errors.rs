//! Honest errors: every connection failure names its cause with the password masked,
//! a database without the schema says "run stagehand migrate", and `stagehand run`
//! exits at once on what retrying cannot fix but waits for what can heal. Real
//! PostgreSQL throughout: the shared cluster for a missing database, a closed port and a
//! database without the schema; a private cluster (password authentication for one
//! role, started while a driver waits for it) for the rest.
#![cfg(unix)]

mod driver_support;

use driver_support::{pg_script, scratch};
use stagehand::store::{connect, ConnectOptions, DatabaseUrl};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A password that must never be printed.
const SECRET: &str = "Sup3r-Secret-Pw";

fn shared_cluster() -> url::Url {
    let raw = std::env::var("STAGEHAND_TEST_POSTGRES")
        .expect("STAGEHAND_TEST_POSTGRES (a superuser URL of a test cluster)");
    url::Url::parse(&raw).expect("STAGEHAND_TEST_POSTGRES is a URL")
}

/// `base` with another database and a password.
fn with(base: &url::Url, database: &str, password: &str) -> String {
    let mut url = base.clone();
    url.set_path(database);
    url.set_password(Some(password)).expect("set password");
    url.to_string()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

async fn stagehand(url: &str, args: &[&str]) -> Output {
    let run = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env("STAGEHAND_DATABASE_URL", url)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    // A bound on a failure (a driver that loops instead of exiting), not a measurement.
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("stagehand {args:?} did not exit"))
        .expect("run stagehand")
}

/// The command failed with exit code 1, its message says `expected`, never the password.
fn assert_fails_saying(out: &Output, args: &str, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args}: exit 1: {stderr}");
    for text in expected {
        assert!(stderr.contains(text), "{args}: says {text:?}: {stderr}");
    }
    assert!(
        !stderr.contains(SECRET) && !String::from_utf8_lossy(&out.stdout).contains(SECRET),
        "{args}: the password is never shown: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_and_a_closed_port_are_named() {
    let base = shared_cluster();
    let missing = unique("no_such_db");
    let url = with(&base, &missing, SECRET);
    for args in [&["status"][..], &["logs"], &["register", "x"], &["run"]] {
        let out = stagehand(&url, args).await;
        assert_fails_saying(
            &out,
            &args.join(" "),
            &["database does not exist", &missing, "3D000", ":***@"],
        );
    }

    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:{SECRET}@127.0.0.1:{port}/erp");
    for args in [&["status"][..], &["task", "list"]] {
        let out = stagehand(&url, args).await;
        assert_fails_saying(&out, &args.join(" "), &["connection refused", ":***@"]);
    }
    // SQL Server's pool connects in the background: the real cause still comes out,
    // not the pool's "timed out", in both connection string forms.
    for url in [
        format!("mssql://sa:{SECRET}@127.0.0.1:{port}/erp"),
        format!("Server=tcp:127.0.0.1,{port};Database=erp;User Id=sa;Password={SECRET}"),
    ] {
        let out = stagehand(&url, &["status"]).await;
        assert_fails_saying(&out, &url, &["connection refused"]);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("imed out"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_without_the_schema_says_run_migrate() {
    let base = shared_cluster();
    let admin = connect(
        &DatabaseUrl::parse(base.as_str()).unwrap(),
        &ConnectOptions::default(),
    )
    .await
    .expect("connect to the test cluster");
    let name = unique("unmigrated");
    admin
        .execute_sql(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create an empty database");
    let url = with(&base, &name, SECRET);
    for args in [
        &["status"][..],
        &["logs"],
        &["register", "x"],
        &["rotate"],
        &["reset-stuck"],
        &["task", "list"],
        &["run"],
    ] {
        let out = stagehand(&url, args).await;
        assert_fails_saying(&out, &args.join(" "), &["run `stagehand migrate`"]);
    }
    // Once migrated, the same URL works.
    let out = stagehand(&url, &["migrate"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = stagehand(&url, &["status"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    admin
        .execute_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop the database");
}

/// A driver's standard error, collected while it runs.
struct Watched {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Watched {
    fn start(url: &str) -> Watched {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
            .args(["run", "--workers", "1"])
            .env("STAGEHAND_DATABASE_URL", url)
            .env("RUST_LOG", "stagehand=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start stagehand run");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Watched { child, stderr }
    }

    fn text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn wait_until_says(&self, expected: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !self.text().contains(expected) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the driver never said {expected:?}: {}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_waits_for_a_server_that_comes_up_and_a_wrong_password_is_named() {
    let dir = scratch("cli-errors-auth");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let data = dir.join("data");
    let port = pg_script("pg_free_port");
    let result = tokio::spawn(auth_body(data.clone(), port)).await;
    pg_script(&format!("pg_stop '{}'", data.display()));
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
    // Kept for inspection only when it failed.
    let _ = std::fs::remove_dir_all(&dir);
}

async fn auth_body(data: std::path::PathBuf, port: String) {
    // Nothing listens yet: the driver waits, saying for what.
    let superuser = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let mut driver = Watched::start(&superuser);
    driver.wait_until_says("waiting for the database").await;
    assert!(
        driver.text().contains("connection refused"),
        "{}",
        driver.text()
    );
    assert!(
        driver.child.try_wait().unwrap().is_none(),
        "a refused connection can heal: the driver keeps waiting"
    );
    pg_script(&format!(
        "PG_EXTRA_OPTS='-c fsync=off' pg_start '{}' {port}",
        data.display()
    ));
    // The server is up but has no schema: that does not heal, so the driver stops.
    let status = tokio::time::timeout(Duration::from_secs(60), driver.child.wait())
        .await
        .expect("the driver exits once it finds no schema")
        .unwrap();
    assert_eq!(status.code(), Some(1), "{}", driver.text());
    // The exit can be seen before the reader has taken the last lines from the pipe.
    driver.wait_until_says("run `stagehand migrate`").await;

    // One role that must give its password (scram-sha-256); the rest stays trusted.
    let admin = connect(
        &DatabaseUrl::parse(&superuser).unwrap(),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    admin
        .execute_sql("CREATE ROLE app LOGIN PASSWORD 'the-right-one'")
        .await
        .unwrap();
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhost all app 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n",
    )
    .unwrap();
    admin
        .query_i64("SELECT CAST(pg_reload_conf() AS int)")
        .await
        .unwrap();

    let wrong = format!("postgres://app:{SECRET}@127.0.0.1:{port}/postgres");
    for args in [&["status"][..], &["register", "x"], &["run"]] {
        let out = stagehand(&wrong, args).await;
        assert_fails_saying(
            &out,
            &args.join(" "),
            &["authentication failed", "28P01", "app:***@"],
        );
    }
    // The right password gets past authentication (to the missing schema).
    let right = format!("postgres://app:the-right-one@127.0.0.1:{port}/postgres");
    let out = stagehand(&right, &["status"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("run `stagehand migrate`") && !stderr.contains("authentication"),
        "{stderr}"
    );
}
