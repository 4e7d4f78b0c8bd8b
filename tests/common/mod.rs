//! The conformance harness shared by every `tests/queue_*.rs` file (`#[macro_use] mod common;`).
//!
//! A test is an `async fn name(db: &TestDb)`; `conformance!(name);` turns it into a
//! `#[tokio::test]` that runs it once per configured backend (PostgreSQL always,
//! SQL Server when STAGEHAND_TEST_MSSQL is set), each time on a fresh, migrated
//! database of its own, so tests share no state and run in parallel.
//!
//! Dialect differences the tests need (arranging time, literals, raw procedure calls,
//! other logins) live here and nowhere else.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

mod mssql;
mod postgres;

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use stagehand::store::{
    connect, Backend, BackendKind, ClaimRequest, ClaimedProcess, ConnectOptions, DatabaseUrl,
    LogRow, ProcessRow, StoreError, StoreResult, TaskRecord,
};

/// `conformance!(name);` runs `async fn name(db: &TestDb)` on every configured backend.
/// The test shows up as `name::conformance`.
#[macro_export]
macro_rules! conformance {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn conformance() {
                $crate::common::run(stringify!($name), |db| Box::pin(super::$name(db))).await;
            }
        }
    };
}

/// Runs `body` once per configured backend on a fresh database; a failure on one backend
/// does not hide the result on the other. Databases of passed runs are dropped, those of
/// failed runs are kept for inspection.
pub async fn run<F>(test: &str, body: F)
where
    F: for<'a> Fn(&'a TestDb) -> Pin<Box<dyn Future<Output = ()> + 'a>>,
{
    let mut failed = Vec::new();
    for target in Target::configured() {
        let db = TestDb::create(&target, test).await;
        let passed = AssertUnwindSafe(body(&db)).catch_unwind().await.is_ok();
        if !passed {
            eprintln!(
                "{db}: {test} FAILED; its database {} is kept for inspection",
                db.database
            );
            failed.push(db.kind.to_string());
        }
        db.finish(passed).await;
    }
    assert!(
        failed.is_empty(),
        "{test} failed on {} (see the messages above)",
        failed.join(" and ")
    );
}

enum Target {
    Postgres(String),
    SqlServer(String),
}

impl Target {
    fn configured() -> Vec<Target> {
        let postgres = std::env::var("STAGEHAND_TEST_POSTGRES")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "STAGEHAND_TEST_POSTGRES is not set: run scripts/test.sh (it starts a private PostgreSQL \
                     cluster and sets it), or set it to a superuser URL of a private cluster, \
                     e.g. postgres://postgres@127.0.0.1:PORT/postgres"
                )
            });
        let mut targets = vec![Target::Postgres(postgres)];
        match std::env::var("STAGEHAND_TEST_MSSQL")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(mssql) => targets.push(Target::SqlServer(mssql)),
            None => {
                static NOTE: Once = Once::new();
                // Written to the stream itself: eprintln! would be captured with the
                // test's output and shown only when it fails.
                NOTE.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "SQL Server: skipped (STAGEHAND_TEST_MSSQL not set)"
                    );
                });
            }
        }
        targets
    }
}

enum Server {
    Postgres(Box<postgres::Admin>),
    SqlServer(mssql::Admin),
}

/// One backend's fresh database for one test. Derefs to the store ([`Backend`]), so a
/// test calls `db.register(...)` directly.
pub struct TestDb {
    store: Arc<dyn Backend>,
    kind: BackendKind,
    database: String,
    /// The connection string of this database (a superuser's), for child processes.
    url: String,
    server: Server,
    /// Logins made by [`TestDb::connect_as`], dropped at the end.
    logins: Mutex<Vec<String>>,
    /// Databases made by [`TestDb::empty_database`], dropped at the end of a passed run.
    databases: Mutex<Vec<String>>,
}

impl fmt::Display for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.kind)
    }
}

impl Deref for TestDb {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// Enough connections for the 16-way concurrency tests.
fn connect_options() -> ConnectOptions {
    ConnectOptions {
        max_connections: 20,
        connect_timeout: Duration::from_secs(30),
    }
}

async fn open(url: &str) -> anyhow::Result<Arc<dyn Backend>> {
    let url = DatabaseUrl::parse(url)?;
    Ok(connect(&url, &connect_options()).await?)
}

/// A name part no other test, thread or earlier run uses: process id, clock, counter.
fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}_{:x}{:x}",
        std::process::id(),
        nanos & 0xffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDb {
    async fn create(target: &Target, test: &str) -> TestDb {
        let short: String = test.chars().take(24).collect();
        let database = format!("stagehand_t_{short}_{}", unique_suffix()).to_lowercase();
        let kind = match target {
            Target::Postgres(_) => BackendKind::Postgres,
            Target::SqlServer(_) => BackendKind::SqlServer,
        };
        let setup = async {
            let (server, url) = match target {
                Target::Postgres(base) => {
                    let admin = postgres::Admin::connect(base).await?;
                    let url = admin.create_database(&database).await?;
                    (Server::Postgres(Box::new(admin)), url)
                }
                Target::SqlServer(base) => {
                    let admin = mssql::Admin::connect(base).await?;
                    let url = admin.create_database(&database).await?;
                    (Server::SqlServer(admin), url)
                }
            };
            let store = open(&url).await?;
            anyhow::Ok((server, store, url))
        };
        let (server, store, url) = setup
            .await
            .unwrap_or_else(|e| panic!("[{kind}] cannot set up a test database for {test}: {e:#}"));
        TestDb {
            store,
            kind,
            database,
            url,
            server,
            logins: Mutex::new(Vec::new()),
            databases: Mutex::new(Vec::new()),
        }
    }

    async fn finish(self, passed: bool) {
        let TestDb {
            store,
            kind,
            database,
            server,
            url: _,
            logins,
            databases,
        } = self;
        drop(store);
        if passed {
            let mut databases = databases
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            databases.push(database);
            for database in databases {
                let dropped = match &server {
                    Server::Postgres(admin) => admin.drop_database(&database).await,
                    Server::SqlServer(admin) => admin.drop_database(&database).await,
                };
                if let Err(e) = dropped {
                    eprintln!("[{kind}] could not drop test database {database}: {e:#}");
                }
            }
        }
        let logins = logins
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for login in logins {
            let dropped = match &server {
                Server::Postgres(admin) => admin.drop_login(&login).await,
                Server::SqlServer(admin) => admin.drop_login(&login).await,
            };
            if let Err(e) = dropped {
                eprintln!("[{kind}] could not drop test login {login}: {e:#}");
            }
        }
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The connection string of this test's database, e.g. for a `stagehand` child process.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The name of this test's database.
    pub fn database_name(&self) -> &str {
        &self.database
    }

    /// The store, for tasks spawned by a test.
    pub fn store(&self) -> Arc<dyn Backend> {
        self.store.clone()
    }

    /// A second store on this database, logged in as a new login that is a member of
    /// `role` (stage_submitter, stage_worker, stage_reader, stage_admin) and nothing else.
    pub async fn connect_as(&self, role: &str) -> Arc<dyn Backend> {
        let url = self.url_as(role).await;
        open(&url)
            .await
            .unwrap_or_else(|e| panic!("{self}: cannot connect as a member of {role}: {e:#}"))
    }

    /// The URL of a new database on the same server with no schema in it (for deploying
    /// it from scratch); dropped with this one.
    pub async fn empty_database(&self) -> String {
        let name = format!("{}_e{}", self.database, unique_suffix()).to_lowercase();
        let url = match &self.server {
            Server::Postgres(admin) => admin.create_empty_database(&name).await,
            Server::SqlServer(admin) => admin.create_empty_database(&name).await,
        };
        self.databases
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(name);
        url.unwrap_or_else(|e| panic!("{self}: cannot create an empty database: {e:#}"))
    }

    /// The connection string (with a password) of a new login that is a member of
    /// `role` and nothing else, e.g. for running the binary as that login.
    pub async fn url_as(&self, role: &str) -> String {
        self.login_in(&[role]).await.1
    }

    /// A new login that is a member of `roles` only (none: no stage role at all), with
    /// a password the server checks; returns its name, URL and password. Panics when
    /// the server would accept a wrong password (a PostgreSQL cluster not set up by
    /// scripts/pg.sh), since then no test of a wrong password can mean anything.
    pub async fn password_login(&self, roles: &[&str]) -> (String, String) {
        let (login, _, password) = self.login_in(roles).await;
        if let Server::Postgres(admin) = &self.server {
            let checked = admin.checks_passwords(&self.database, &login).await;
            assert!(
                checked.unwrap_or(false),
                "{self}: the cluster accepts wrong passwords for members of {}: start it with \
                 scripts/pg.sh's pg_start (or run its pg_check_passwords DATADIR)",
                postgres::PASSWORD_CHECKED
            );
        }
        (login, password)
    }

    async fn login_in(&self, roles: &[&str]) -> (String, String, String) {
        let suffix = roles
            .first()
            .map_or("none", |r| r.trim_start_matches("stage_"));
        let login = format!("sh_{}_{suffix}", unique_suffix());
        self.logins
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(login.clone());
        let created = match &self.server {
            Server::Postgres(admin) => admin.create_login(&self.database, &login, roles).await,
            Server::SqlServer(admin) => {
                admin
                    .create_login(&*self.store, &self.database, &login, roles)
                    .await
            }
        };
        let (url, password) = created
            .unwrap_or_else(|e| panic!("{self}: cannot create a login in roles {roles:?}: {e:#}"));
        (login, url, password)
    }

    // ---- dialect helpers: the only place the tests' SQL differs per engine ----

    /// The current instant as SQL.
    pub fn now_sql(&self) -> &'static str {
        match self.kind {
            BackendKind::Postgres => "now()",
            BackendKind::SqlServer => "SYSUTCDATETIME()",
        }
    }

    /// `expr` moved by `amount` units (negative: earlier), as SQL.
    pub fn shifted(&self, expr: &str, amount: i64, unit: Unit) -> String {
        match self.kind {
            BackendKind::Postgres => {
                format!("({expr} + ({amount}) * interval '1 {}')", unit.postgres())
            }
            BackendKind::SqlServer => format!("DATEADD({}, {amount}, {expr})", unit.sql_server()),
        }
    }

    /// Now minus `amount` units, as SQL.
    pub fn ago(&self, amount: i64, unit: Unit) -> String {
        self.shifted(self.now_sql(), -amount, unit)
    }

    /// Now plus `amount` units, as SQL.
    pub fn ahead(&self, amount: i64, unit: Unit) -> String {
        self.shifted(self.now_sql(), amount, unit)
    }

    /// A string literal (quotes doubled; national on SQL Server so unicode survives).
    pub fn text(&self, value: &str) -> String {
        let quoted = value.replace('\'', "''");
        match self.kind {
            BackendKind::Postgres => format!("'{quoted}'"),
            BackendKind::SqlServer => format!("N'{quoted}'"),
        }
    }

    /// A boolean literal (`bit` on SQL Server).
    pub fn boolean(&self, value: bool) -> &'static str {
        match (self.kind, value) {
            (BackendKind::Postgres, true) => "true",
            (BackendKind::Postgres, false) => "false",
            (BackendKind::SqlServer, true) => "1",
            (BackendKind::SqlServer, false) => "0",
        }
    }

    /// A call of `stage.<procedure>` with positional SQL arguments, as an application
    /// would write it (for arguments the typed store cannot express, e.g. NULL names).
    pub fn call_sql(&self, procedure: &str, args: &[&str]) -> String {
        match self.kind {
            BackendKind::Postgres => {
                format!("SELECT * FROM stage.{procedure}({})", args.join(", "))
            }
            BackendKind::SqlServer => format!("EXEC stage.{procedure} {}", args.join(", ")),
        }
    }

    /// The seed's SSIS completion statement, verbatim for the engine.
    pub fn seed_completion_sql(&self, process_id: i64) -> String {
        let now = match self.kind {
            BackendKind::Postgres => "now()",
            BackendKind::SqlServer => "GETDATE()",
        };
        format!("UPDATE stage.FileControl SET Status = 'Completed', EndTime = {now} WHERE ProcessID = {process_id}")
    }

    /// The value of an instant expression over `from` (`FROM ... WHERE ...`, or empty).
    pub async fn instant(&self, expr: &str, from: &str) -> Option<DateTime<Utc>> {
        let millis = match self.kind {
            BackendKind::Postgres => format!("CAST(EXTRACT(EPOCH FROM {expr}) * 1000 AS bigint)"),
            BackendKind::SqlServer => format!("DATEDIFF_BIG(MILLISECOND, '19700101', {expr})"),
        };
        let sql = format!("SELECT {millis} {from}");
        let millis = self.query_i64(&sql).await.must(self, &sql);
        millis.and_then(DateTime::<Utc>::from_timestamp_millis)
    }

    /// The database's clock (the one the procedures use).
    pub async fn now(&self) -> DateTime<Utc> {
        let now = self.instant(self.now_sql(), "").await;
        now.unwrap_or_else(|| panic!("{self}: the database returned no current time"))
    }

    /// `SELECT COUNT(*) FROM <from_where>`.
    pub async fn count(&self, from_where: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {from_where}");
        self.query_i64(&sql).await.must(self, &sql).unwrap_or(0)
    }

    /// Asserts that the tables a bench writes hold no row (`what` says who would have
    /// left them).
    pub async fn assert_no_bench_rows(&self, what: &str) {
        for table in [
            "stage.FileControl",
            "stage.ProcessLog",
            "stage.FileControl_History",
            "stage.ProcessLog_History",
            "stage.Task",
        ] {
            assert_eq!(
                self.count(table).await,
                0,
                "{self}: {what} left rows in {table}"
            );
        }
    }

    /// How many rows a procedure call returns (the typed store reads only the first).
    /// SQL Server cannot select from EXEC, so there the rows go through a table
    /// variable with `mssql_columns`, the result set's column definitions.
    pub async fn rows_returned(&self, procedure: &str, args: &[&str], mssql_columns: &str) -> i64 {
        let sql = match self.kind {
            BackendKind::Postgres => format!(
                "SELECT COUNT(*) FROM stage.{procedure}({})",
                args.join(", ")
            ),
            BackendKind::SqlServer => format!(
                "SET NOCOUNT ON; DECLARE @rows TABLE ({mssql_columns}); \
                 INSERT INTO @rows EXEC stage.{procedure} {}; SELECT COUNT(*) FROM @rows;",
                args.join(", ")
            ),
        };
        self.query_i64(&sql).await.must(self, &sql).unwrap_or(0)
    }

    /// Runs SQL that must succeed (arranging a test's state); returns the rows affected.
    pub async fn exec(&self, sql: &str) -> u64 {
        self.execute_sql(sql).await.must(self, sql)
    }

    // ---- reading and arranging through the store ----

    /// The FileControl row, which must exist.
    pub async fn row(&self, process_id: i64) -> ProcessRow {
        let row = self.process(process_id).await.must(self, "read process");
        row.unwrap_or_else(|| panic!("{self}: process {process_id} is not in stage.FileControl"))
    }

    pub async fn logs(&self, process_id: i64) -> Vec<LogRow> {
        self.process_logs(process_id)
            .await
            .must(self, "read process log")
    }

    /// Registers a name that must be accepted as a new row; returns its ProcessID.
    pub async fn register_new(&self, name: &str) -> i64 {
        let registered = self
            .register(name, None, None)
            .await
            .must(self, "RegisterProcess");
        assert!(
            registered.registered,
            "{self}: registering {name:?} was refused: {registered:?}"
        );
        registered.process_id
    }

    /// Saves a driver task with `policy`, command `true`, and the procedure's defaults otherwise.
    pub async fn driver_task(&self, name: &str, policy: &str) -> i32 {
        let task = TaskRecord {
            overlap_policy: policy.to_string(),
            ..TaskRecord::new(name, "true")
        };
        self.save_task(&task).await.must(self, "SaveTask").task_id
    }

    /// ClaimProcesses with a 60-second lease and no slots.
    pub async fn claim_as(&self, worker: &str, max_count: i32) -> Vec<ClaimedProcess> {
        let request = ClaimRequest {
            worker_name: worker,
            max_count,
            lease_seconds: 60,
            slots: None,
        };
        self.claim(&request).await.must(self, "ClaimProcesses")
    }
}

/// Units of [`TestDb::shifted`].
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Month,
}

impl Unit {
    fn postgres(self) -> &'static str {
        match self {
            Unit::Second => "second",
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Month => "month",
        }
    }

    fn sql_server(self) -> &'static str {
        match self {
            Unit::Second => "SECOND",
            Unit::Minute => "MINUTE",
            Unit::Hour => "HOUR",
            Unit::Day => "DAY",
            Unit::Month => "MONTH",
        }
    }
}

/// `result.must(db, "what")`: the value, or a panic naming the backend and the call.
pub trait Must<T> {
    fn must(self, db: &dyn fmt::Display, what: &str) -> T;
}

impl<T> Must<T> for StoreResult<T> {
    fn must(self, db: &dyn fmt::Display, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{db}: {what}: unexpected error: {e}"))
    }
}

/// The call must have been refused with [`StoreError::InvalidArgument`] whose message
/// starts with `argument` (sql/API.md: errors start with the parameter's name).
pub fn assert_invalid_argument<T: fmt::Debug>(
    db: &TestDb,
    result: StoreResult<T>,
    argument: &str,
    call: &str,
) {
    match result {
        Err(StoreError::InvalidArgument(message)) => assert!(
            message.starts_with(argument),
            "{db}: {call}: expected an error starting with {argument:?}, got {message:?}"
        ),
        other => panic!("{db}: {call}: expected InvalidArgument naming {argument}, got {other:?}"),
    }
}

/// The call must have been refused for lack of a privilege.
pub fn assert_permission_denied<T: fmt::Debug>(
    db: &TestDb,
    result: StoreResult<T>,
    who: &str,
    call: &str,
) {
    match result {
        Err(StoreError::Database { message, .. })
            if {
                let lower = message.to_lowercase();
                lower.contains("permission denied") || lower.contains("permission was denied")
            } => {}
        other => panic!(
            "{db}: {who} must not be allowed to {call}: expected permission denied, got {other:?}"
        ),
    }
}
