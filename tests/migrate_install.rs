//! Deploying by hand and deploying twice at once: `migrate --script` and the committed
//! install scripts (sql/<dialect>/install.sql), `migrate --dry-run`, and two concurrent
//! `stagehand migrate` runs on an empty database.

#[macro_use]
mod common;

use common::TestDb;
use stagehand::store::{connect, migrations, BackendKind, ConnectOptions, DatabaseUrl};
use std::process::{Command, Output};

fn stagehand(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env("STAGEHAND_DATABASE_URL", url)
        .output()
        .expect("run stagehand")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn install_path(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Postgres => "sql/postgres/install.sql",
        BackendKind::SqlServer => "sql/mssql/install.sql",
    }
}

#[test]
fn committed_install_scripts_are_the_generated_ones() {
    for kind in [BackendKind::Postgres, BackendKind::SqlServer] {
        let path = install_path(kind);
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == migrations::script(kind, 0),
            "{path} differs from the migrations: run scripts/install-sql.sh and commit it"
        );
    }
}

#[test]
fn script_from_a_version_holds_only_what_follows() {
    let all = migrations::all(BackendKind::Postgres);
    let last = all.last().expect("migrations").version();
    let out = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["migrate", "--script", "--dialect", "postgres", "--from"])
        .arg((last - 1).to_string())
        .env_remove("STAGEHAND_DATABASE_URL")
        .output()
        .expect("run stagehand");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    let labels: Vec<String> = all.iter().map(migrations::label).collect();
    let shown: Vec<&String> = labels
        .iter()
        .filter(|l| script.contains(&format!("-- {l}\n")))
        .collect();
    assert_eq!(shown, vec![labels.last().unwrap()], "{script}");

    let out = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args([
            "migrate",
            "--script",
            "--dialect",
            "mssql",
            "--from",
            "99999",
        ])
        .output()
        .expect("run stagehand");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--from 99999"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs an install script the way a DBA would: psql for PostgreSQL, batch by batch (as
/// SSMS and sqlcmd split at `GO`) for SQL Server.
async fn run_install_script(kind: BackendKind, url: &str) {
    let path = install_path(kind);
    match kind {
        BackendKind::Postgres => {
            let out = Command::new("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", path])
                .output()
                .expect("run psql");
            assert!(
                out.status.success(),
                "psql -f {path}: {}",
                text(&out.stderr)
            );
        }
        BackendKind::SqlServer => {
            let store = connect(
                &DatabaseUrl::parse(url).unwrap(),
                &ConnectOptions::default(),
            )
            .await
            .expect("connect to the empty database");
            let script = std::fs::read_to_string(path).expect("read the install script");
            for batch in script.split("\nGO\n").filter(|b| !b.trim().is_empty()) {
                store
                    .execute_sql(batch)
                    .await
                    .unwrap_or_else(|e| panic!("{path}: batch failed: {e}\n{batch:.400}"));
            }
        }
    }
}

conformance!(the_install_script_deploys_what_migrate_would);
async fn the_install_script_deploys_what_migrate_would(db: &TestDb) {
    let url = db.empty_database().await;
    let out = stagehand(&url, &["migrate", "--dry-run"]);
    assert!(out.status.success(), "{db}: {}", text(&out.stderr));
    let expected = migrations::all(db.kind()).len();
    assert_eq!(
        text(&out.stdout).matches("would apply V").count(),
        expected,
        "{db}: an empty database needs every migration: {}",
        text(&out.stdout)
    );

    run_install_script(db.kind(), &url).await;
    // Idempotent: a second run changes nothing and does not fail.
    run_install_script(db.kind(), &url).await;

    for args in [&["migrate", "--dry-run"][..], &["migrate"]] {
        let out = stagehand(&url, args);
        assert!(out.status.success(), "{db}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout).trim(),
            "schema is up to date",
            "{db}: migrate continues from the install script's history"
        );
    }
    let out = stagehand(&url, &["register", "after-install", "--params", "{}"]);
    assert!(
        out.status.success(),
        "{db}: the installed schema works: {}",
        text(&out.stderr)
    );
}

conformance!(concurrent_migrates_apply_everything_once);
async fn concurrent_migrates_apply_everything_once(db: &TestDb) {
    let url = db.empty_database().await;
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
            .args(["migrate", "--json"])
            .env("STAGEHAND_DATABASE_URL", &url)
            .output()
    };
    let (first, second) = tokio::join!(spawn(), spawn());
    let mut applied = Vec::new();
    for out in [first, second] {
        let out = out.expect("run stagehand migrate");
        assert!(out.status.success(), "{db}: {}", text(&out.stderr));
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("migrate --json prints JSON");
        applied.push(json["applied"].as_array().expect("applied").len());
    }
    applied.sort();
    assert_eq!(
        applied,
        vec![0, migrations::all(db.kind()).len()],
        "{db}: one migrate applies everything, the other waits and finds nothing"
    );
}
