//! SQL Server backend: tiberius over a bb8 pool; procedures run as `EXEC stage.X @P1, ...`.

use super::connection::DatabaseUrl;
use super::engine::{Arg, Engine};
use super::error::{chain, io_cause, ConnectionCause, StoreError, StoreResult};
use super::migrations;
use super::mssql_pool::{open, ConnectFailures, SqlServerManager};
use super::rows::ResultRow;
use super::types::BackendKind;
use super::ConnectOptions;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::TryStreamExt;
use std::borrow::Cow;
use std::time::Duration;
use tiberius::error::Error as SqlError;
use tiberius::{AuthMethod, ColumnData, Config, EncryptionLevel, FromSql, IntoSql, Row, ToSql};

/// Errors a procedure raises for a bad argument (THROW 50000..50099, and 51000..51999 once
/// the first range filled up; see sql/API.md).
const INVALID_ARGUMENT_ERRORS: [std::ops::RangeInclusive<u32>; 2] = [50000..=50099, 51000..=51999];
/// Refusals for the state of a row (THROW 50110..50199: CancelProcess, RetryProcess, RunTaskNow).
const REFUSAL_ERRORS: std::ops::RangeInclusive<u32> = 50110..=50199;

/// 208 invalid object name, 2812 no such procedure: a `stage` object that is not there.
const MISSING_OBJECT_ERRORS: [u32; 2] = [208, 2812];

/// Lock conflicts: 1205 chosen as deadlock victim, 1222 lock request timed out (the
/// pooled sessions' LOCK_TIMEOUT), 50100 AssignProcessToWorker's application lock timed out.
fn is_lock_conflict(code: u32) -> bool {
    matches!(code, 1205 | 1222 | 50100)
}

pub struct SqlServerStore {
    pool: bb8::Pool<SqlServerManager>,
    config: Config,
    target: String,
    connect_timeout: Duration,
    failures: ConnectFailures,
}

impl SqlServerStore {
    pub async fn new(url: &DatabaseUrl, options: &ConnectOptions) -> StoreResult<Self> {
        let mut config = parse_config(url)?;
        config.application_name("stagehand");
        let failures = ConnectFailures::default();
        let pool = bb8::Pool::builder()
            .max_size(options.max_connections)
            .connection_timeout(options.connect_timeout)
            .build_unchecked(SqlServerManager {
                config: config.clone(),
                connect_timeout: options.connect_timeout,
                failures: failures.clone(),
            });
        Ok(SqlServerStore {
            pool,
            config,
            target: url.redacted(),
            connect_timeout: options.connect_timeout,
            failures,
        })
    }

    fn connection_error(&self, cause: ConnectionCause, message: impl ToString) -> StoreError {
        StoreError::Connection {
            target: self.target.clone(),
            cause,
            message: message.to_string(),
        }
    }

    /// Takes the session lock that keeps two `migrate` runs apart (closing the connection
    /// frees it). Each wait is short, so no client-side timeout can cut it off and leave
    /// the connection out of sync; a second `migrate` waits for the first as long as it runs.
    async fn migration_lock(&self, client: &mut super::mssql_pool::SqlClient) -> StoreResult<()> {
        let context = "migrate";
        loop {
            let rows = client
                .simple_query(
                    "DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'stagehand.migrate', \
                     @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 5000; SELECT @r;",
                )
                .await
                .map_err(|e| self.map_error(context, e))?
                .into_first_result()
                .await
                .map_err(|e| self.map_error(context, e))?;
            let result: Option<i32> = rows.first().and_then(|row| row.get(0));
            match result {
                // 0: granted at once; 1: granted after waiting.
                Some(0 | 1) => return Ok(()),
                // -1: timed out; another `migrate` holds it.
                Some(-1) => tracing::info!("waiting for another stagehand migrate to finish"),
                other => {
                    return Err(StoreError::database(
                        context,
                        format!(
                            "sp_getapplock returned {other:?}: could not get the migration lock"
                        ),
                    ))
                }
            }
        }
    }

    /// A failure to open a connection: always a connection error, named as well as we can.
    fn connect_error(&self, error: &SqlError) -> StoreError {
        self.connection_error(
            connection_cause(error).unwrap_or(ConnectionCause::Lost),
            describe(error),
        )
    }

    fn map_error(&self, context: &str, error: SqlError) -> StoreError {
        if let SqlError::Server(token) = &error {
            if INVALID_ARGUMENT_ERRORS
                .iter()
                .any(|range| range.contains(&token.code()))
            {
                return StoreError::InvalidArgument(token.message().to_string());
            }
            if REFUSAL_ERRORS.contains(&token.code()) {
                return StoreError::Refused(token.message().to_string());
            }
            if is_lock_conflict(token.code()) {
                return StoreError::Conflict {
                    context: context.to_string(),
                    message: token.message().to_string(),
                };
            }
            if MISSING_OBJECT_ERRORS.contains(&token.code())
                && token.message().to_ascii_lowercase().contains("stage")
            {
                return StoreError::SchemaMissing {
                    context: context.to_string(),
                    message: token.message().to_string(),
                };
            }
        }
        match connection_cause(&error) {
            Some(cause) => self.connection_error(cause, describe(&error)),
            None => StoreError::database(context, describe(&error)),
        }
    }

    /// A pooled connection, or the reason there is none as soon as a connect fails
    /// (bb8 itself would only say `TimedOut` when its timeout is up).
    async fn client(&self) -> StoreResult<bb8::PooledConnection<'_, SqlServerManager>> {
        // Created before asking, so a failure while we wait is never missed.
        let failed = self.failures.failed.notified();
        tokio::pin!(failed);
        tokio::select! {
            biased;
            got = self.pool.get() => got.map_err(|e| match e {
                bb8::RunError::User(e) => self.connect_error(&e),
                bb8::RunError::TimedOut => match self.failures.last() {
                    Some(e) => self.connect_error(&e),
                    None => self.connection_error(
                        ConnectionCause::Timeout,
                        format!("no connection within {} s", self.connect_timeout.as_secs_f64()),
                    ),
                },
            }),
            () = &mut failed => Err(match self.failures.last() {
                Some(e) => self.connect_error(&e),
                None => self.connection_error(ConnectionCause::Lost, "a connection attempt failed"),
            }),
        }
    }

    async fn run(&self, context: &str, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        let mut client = self.client().await?;
        let params: Vec<&dyn ToSql> = args.iter().map(|a| a as &dyn ToSql).collect();
        let stream = client
            .query(sql, &params)
            .await
            .map_err(|e| self.map_error(context, e))?;
        stream
            .into_first_result()
            .await
            .map_err(|e| self.map_error(context, e))
    }
}

/// `$n` (the common form) becomes tiberius' `@Pn`; highest first so $1 never eats $10.
fn placeholders(sql: &str, count: usize) -> String {
    let mut sql = sql.to_string();
    for i in (1..=count).rev() {
        sql = sql.replace(&format!("${i}"), &format!("@P{i}"));
    }
    sql
}

/// A server error with its number and state (18456's state tells why a login failed);
/// anything else as tiberius words it.
fn describe(error: &SqlError) -> String {
    match error {
        SqlError::Server(token) => format!(
            "{} (error {}, state {})",
            token.message(),
            token.code(),
            token.state()
        ),
        other => other.to_string(),
    }
}

/// The connection cause of a tiberius error, if it is one.
fn connection_cause(error: &SqlError) -> Option<ConnectionCause> {
    match error {
        SqlError::Io { kind, message } => Some(io_cause(*kind, message)),
        SqlError::Tls(_) => Some(ConnectionCause::Tls),
        SqlError::Routing { .. } => Some(ConnectionCause::Lost),
        SqlError::Server(token) => match token.code() {
            // Login failed; untrusted domain; password expired or must change.
            18456 | 18452 | 18486 | 18487 | 18488 => Some(ConnectionCause::Authentication),
            // Cannot open database requested by the login.
            4060 => Some(ConnectionCause::MissingDatabase),
            // Azure database unavailable; server paused, in upgrade mode or starting up.
            40613 | 17142 | 18401 | 17809 => Some(ConnectionCause::Unavailable),
            _ => None,
        },
        _ => None,
    }
}

/// `mssql://user:password@host:port/database?encrypt=true&trustServerCertificate=true`
/// or an ADO.NET connection string.
fn parse_config(url: &DatabaseUrl) -> StoreResult<Config> {
    let raw = url.expose();
    if !raw.contains("://") {
        return Config::from_ado_string(raw)
            .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", url.redacted())));
    }
    let parsed = url::Url::parse(raw)
        .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", url.redacted())))?;
    let decode = |s: &str| percent_decode(s);
    let mut config = Config::new();
    config.host(parsed.host_str().unwrap_or("localhost"));
    config.port(parsed.port().unwrap_or(1433));
    let database = parsed.path().trim_start_matches('/');
    if !database.is_empty() {
        config.database(decode(database));
    }
    if !parsed.username().is_empty() {
        config.authentication(AuthMethod::sql_server(
            decode(parsed.username()),
            decode(parsed.password().unwrap_or("")),
        ));
    }
    for (key, value) in parsed.query_pairs() {
        let on = matches!(value.to_ascii_lowercase().as_str(), "true" | "yes" | "1");
        match key.to_ascii_lowercase().as_str() {
            "encrypt" if on => config.encryption(EncryptionLevel::Required),
            "encrypt" => config.encryption(EncryptionLevel::Off),
            "trustservercertificate" if on => config.trust_cert(),
            "trustservercertificate" => {}
            other => {
                return Err(StoreError::InvalidUrl(format!(
                    "{}: unknown option {other:?} (encrypt, trustServerCertificate)",
                    url.redacted()
                )))
            }
        }
    }
    Ok(config)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> ColumnData<'_> {
        match *self {
            Arg::Text(v) => ColumnData::String(v.map(Cow::Borrowed)),
            Arg::Int(v) => ColumnData::I32(v),
            Arg::BigInt(v) => ColumnData::I64(v),
            Arg::Bool(v) => ColumnData::Bit(Some(v)),
            // datetime2 holding UTC, as the schema stores every instant.
            Arg::Instant(v) => v.map(|t| t.naive_utc()).into_sql(),
        }
    }
}

#[async_trait]
impl Engine for SqlServerStore {
    type Row = Row;

    fn kind(&self) -> BackendKind {
        BackendKind::SqlServer
    }

    async fn migrate(&self, dry_run: bool) -> StoreResult<Vec<String>> {
        let context = "migrate";
        let mut client = open(&self.config, self.connect_timeout)
            .await
            .map_err(|e| self.connect_error(&e))?;
        let runner = migrations::runner(BackendKind::SqlServer);
        let applied = if dry_run {
            // Nothing is applied until refinery has made its history table.
            let history = client
                .query(
                    "SELECT CAST(CASE WHEN OBJECT_ID(@P1, N'U') IS NULL THEN 0 ELSE 1 END AS bit)",
                    &[&migrations::HISTORY_TABLE],
                )
                .await
                .map_err(|e| self.map_error(context, e))?
                .into_row()
                .await
                .map_err(|e| self.map_error(context, e))?;
            if history.and_then(|row| row.get::<bool, _>(0)) == Some(true) {
                runner
                    .get_last_applied_migration_async(&mut client)
                    .await
                    .map(|last| {
                        migrations::pending(BackendKind::SqlServer, last.map(|m| m.version()))
                    })
            } else {
                Ok(migrations::pending(BackendKind::SqlServer, None))
            }
        } else {
            self.migration_lock(&mut client).await?;
            runner
                .run_async(&mut client)
                .await
                .map(|report| report.applied_migrations().clone())
        };
        let applied = applied.map_err(|e| StoreError::database(context, chain(&e)))?;
        Ok(applied.iter().map(migrations::label).collect())
    }

    async fn call_once(&self, procedure: &'static str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        let placeholders: Vec<String> = (1..=args.len()).map(|i| format!("@P{i}")).collect();
        let sql = format!("EXEC stage.{procedure} {}", placeholders.join(", "));
        self.run(procedure, &sql, args).await
    }

    async fn query_once(
        &self,
        context: &'static str,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Row>> {
        self.run(context, &placeholders(sql, args.len()), args)
            .await
    }

    async fn query_each(
        &self,
        context: &'static str,
        sql: &str,
        args: &[Arg<'_>],
        each: &mut (dyn for<'r> FnMut(&'r Row) -> StoreResult<()> + Send),
    ) -> StoreResult<()> {
        let sql = placeholders(sql, args.len());
        let mut client = self.client().await?;
        let params: Vec<&dyn ToSql> = args.iter().map(|a| a as &dyn ToSql).collect();
        let mut rows = client
            .query(&sql, &params)
            .await
            .map_err(|e| self.map_error(context, e))?
            .into_row_stream();
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(|e| self.map_error(context, e))?
        {
            each(&row)?;
        }
        Ok(())
    }

    async fn execute(&self, sql: &str) -> StoreResult<u64> {
        let mut client = self.client().await?;
        let result = client
            .execute(sql, &[])
            .await
            .map_err(|e| self.map_error("execute", e))?;
        Ok(result.total())
    }

    /// SQL Server has no LISTEN: the caller's adaptive poll decides the timeout.
    async fn wait_for_work(&self, timeout: Duration) -> StoreResult<()> {
        tokio::time::sleep(timeout).await;
        Ok(())
    }
}

fn column_error(index: usize, error: impl ToString) -> StoreError {
    StoreError::protocol(
        "result row",
        format!("column {index}: {}", error.to_string()),
    )
}

fn cell(row: &Row, index: usize) -> StoreResult<&ColumnData<'static>> {
    row.cells()
        .nth(index)
        .map(|(_, data)| data)
        .ok_or_else(|| column_error(index, "missing"))
}

impl ResultRow for Row {
    fn int(&self, index: usize) -> StoreResult<Option<i64>> {
        match cell(self, index)? {
            ColumnData::U8(v) => Ok(v.map(i64::from)),
            ColumnData::I16(v) => Ok(v.map(i64::from)),
            ColumnData::I32(v) => Ok(v.map(i64::from)),
            ColumnData::I64(v) => Ok(*v),
            ColumnData::Numeric(v) => {
                Ok(v.map(|n| n.value() as i64 / 10_i64.pow(n.scale() as u32)))
            }
            other => Err(column_error(
                index,
                format!("expected an integer, got {other:?}"),
            )),
        }
    }

    fn text(&self, index: usize) -> StoreResult<Option<String>> {
        match cell(self, index)? {
            ColumnData::String(v) => Ok(v.as_ref().map(|s| s.to_string())),
            ColumnData::Xml(v) => Ok(v.as_ref().map(|x| x.to_string())),
            other => Err(column_error(index, format!("expected text, got {other:?}"))),
        }
    }

    fn boolean(&self, index: usize) -> StoreResult<Option<bool>> {
        match cell(self, index)? {
            ColumnData::Bit(v) => Ok(*v),
            ColumnData::I32(v) => Ok(v.map(|n| n != 0)),
            ColumnData::U8(v) => Ok(v.map(|n| n != 0)),
            other => Err(column_error(
                index,
                format!("expected a bit, got {other:?}"),
            )),
        }
    }

    fn instant(&self, index: usize) -> StoreResult<Option<DateTime<Utc>>> {
        let data = cell(self, index)?;
        if let ColumnData::DateTimeOffset(_) = data {
            return DateTime::<Utc>::from_sql(data).map_err(|e| column_error(index, e));
        }
        // datetime2 / datetime columns hold UTC by the schema's convention.
        NaiveDateTime::from_sql(data)
            .map(|v| v.map(|t| t.and_utc()))
            .map_err(|e| column_error(index, e))
    }

    fn float(&self, index: usize) -> StoreResult<Option<f64>> {
        match cell(self, index)? {
            ColumnData::F64(v) => Ok(*v),
            ColumnData::F32(v) => Ok(v.map(f64::from)),
            ColumnData::Numeric(v) => Ok(v.map(f64::from)),
            _ => Ok(self.int(index)?.map(|v| v as f64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlock_victims_and_lock_timeouts_are_conflicts() {
        for code in [1205, 1222, 50100] {
            assert!(
                is_lock_conflict(code),
                "{code} is retried as a lock conflict"
            );
        }
        // an argument error, a unique-key violation, a permission error: not conflicts
        for code in [50000, 50042, 2627, 229] {
            assert!(!is_lock_conflict(code), "{code} is not a lock conflict");
        }
    }
}
