//! PostgreSQL backend: deadpool-postgres pool, prepared statements, one call per procedure.

use super::conflict::LOCK_TIMEOUT;
use super::connection::DatabaseUrl;
use super::engine::{Arg, Engine};
use super::error::{chain, io_cause, ConnectionCause, StoreError, StoreResult};
use super::migrations;
use super::rows::ResultRow;
use super::types::BackendKind;
use super::ConnectOptions;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use futures_util::{StreamExt, TryStreamExt};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify};
use tokio_postgres::error::{DbError, SqlState};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{AsyncMessage, NoTls, Row};

/// Key of the session advisory lock that keeps two `migrate` runs apart.
const MIGRATION_LOCK_KEY: i64 = 0x5354_4147_454d_4947; // "STAGEMIG"

pub struct PostgresStore {
    pool: Pool,
    config: tokio_postgres::Config,
    target: String,
    connect_timeout: Duration,
    /// Woken by `NOTIFY stage_process`; the listener runs on its own connection.
    work_signal: Arc<Notify>,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl PostgresStore {
    pub fn new(url: &DatabaseUrl, options: &ConnectOptions) -> StoreResult<Self> {
        let mut config = tokio_postgres::Config::from_str(url.expose())
            .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", url.redacted())))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        config.application_name("stagehand");
        // Pooled sessions wait at most LOCK_TIMEOUT for a lock (the default is forever), so
        // a transaction someone left open cannot hang the driver; the error (55P03) is a
        // lock conflict, made again by the store. Migrations and LISTEN use `config` as is.
        let mut pooled = config.clone();
        let lock_timeout = format!("-c lock_timeout={}", LOCK_TIMEOUT.as_millis());
        pooled.options(&match config.get_options() {
            Some(options) if !options.trim().is_empty() => format!("{options} {lock_timeout}"),
            _ => lock_timeout,
        });
        let manager = Manager::from_config(
            pooled,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections as usize)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        Ok(PostgresStore {
            pool,
            config,
            target: url.redacted(),
            connect_timeout: options.connect_timeout,
            work_signal: Arc::new(Notify::new()),
            listener: Mutex::new(None),
        })
    }

    async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => self.connect_error(&e),
            PoolError::Timeout(_) => self.connection_error(
                ConnectionCause::Timeout,
                format!(
                    "no connection within {} s",
                    self.connect_timeout.as_secs_f64()
                ),
            ),
            other => self.connection_error(ConnectionCause::Lost, chain(&other)),
        })
    }

    /// Runs one statement (prepared with the arguments' types, cached per connection).
    async fn rows(&self, context: &str, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        let client = self.client().await?;
        let types: Vec<Type> = args.iter().map(pg_type).collect();
        let statement = client
            .prepare_typed_cached(sql, &types)
            .await
            .map_err(|e| self.map_error(context, e))?;
        client
            .query(&statement, &params(args))
            .await
            .map_err(|e| self.map_error(context, e))
    }

    fn map_error(&self, context: &str, error: tokio_postgres::Error) -> StoreError {
        if let Some(db) = error.as_db_error() {
            if *db.code() == SqlState::INVALID_PARAMETER_VALUE {
                return StoreError::InvalidArgument(db.message().to_string());
            }
            if *db.code() == SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE {
                return StoreError::Refused(db.message().to_string());
            }
            if is_lock_conflict(db.code()) {
                return StoreError::Conflict {
                    context: context.to_string(),
                    message: db.message().to_string(),
                };
            }
            if is_missing_stage_object(db) {
                return StoreError::SchemaMissing {
                    context: context.to_string(),
                    message: db.message().to_string(),
                };
            }
            if db_connection_cause(db).is_none() {
                return StoreError::database(context, describe(db));
            }
        }
        match connection_cause(&error) {
            Some(cause) => self.connection_error(cause, message(&error)),
            None => StoreError::database(context, message(&error)),
        }
    }

    /// A failure to open a connection: always a connection error, named as well as we can.
    fn connect_error(&self, error: &tokio_postgres::Error) -> StoreError {
        self.connection_error(
            connection_cause(error).unwrap_or(ConnectionCause::Lost),
            message(error),
        )
    }

    fn connection_error(&self, cause: ConnectionCause, message: impl ToString) -> StoreError {
        StoreError::Connection {
            target: self.target.clone(),
            cause,
            message: message.to_string(),
        }
    }

    /// A connection of its own, outside the pool: for LISTEN and for migrating under a
    /// session lock, which must not be handed to other callers.
    async fn dedicated(
        &self,
    ) -> StoreResult<(
        tokio_postgres::Client,
        tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
    )> {
        self.config
            .connect(NoTls)
            .await
            .map_err(|e| self.connect_error(&e))
    }

    /// Opens a connection that LISTENs on `stage_process` and turns every
    /// notification into a permit on `work_signal`.
    async fn start_listener(&self) -> StoreResult<tokio::task::JoinHandle<()>> {
        let (client, mut connection) = self.dedicated().await?;
        let signal = self.work_signal.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let handle = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            let mut ready = Some(ready_tx);
            let listen = client.batch_execute("LISTEN stage_process");
            tokio::pin!(listen);
            loop {
                tokio::select! {
                    result = &mut listen, if ready.is_some() => {
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(result.map_err(|e| e.to_string()));
                        }
                    }
                    message = messages.next() => match message {
                        Some(Ok(AsyncMessage::Notification(_))) => signal.notify_one(),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "notification connection lost; falling back to polling until it is back");
                            break;
                        }
                        None => break,
                    }
                }
            }
            // Wake the waiter so it notices the listener is gone and reconnects.
            signal.notify_one();
        });
        match ready_rx.await {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(message)) => Err(self.connection_error(ConnectionCause::Lost, message)),
            Err(_) => Err(self.connection_error(
                ConnectionCause::Lost,
                "notification connection closed before LISTEN",
            )),
        }
    }
}

#[async_trait]
impl Engine for PostgresStore {
    type Row = Row;

    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    async fn migrate(&self, dry_run: bool) -> StoreResult<Vec<String>> {
        let (mut client, connection) = self.dedicated().await?;
        let driver = tokio::spawn(connection);
        let context = "migrate";
        let runner = migrations::runner(BackendKind::Postgres);
        let applied = if dry_run {
            // Nothing is applied until refinery has made its history table.
            let history = client
                .query_one(
                    "SELECT to_regclass($1) IS NOT NULL",
                    &[&migrations::HISTORY_TABLE],
                )
                .await
                .map_err(|e| self.map_error(context, e))?;
            if history.get(0) {
                runner
                    .get_last_applied_migration_async(&mut client)
                    .await
                    .map(|last| {
                        migrations::pending(BackendKind::Postgres, last.map(|m| m.version()))
                    })
            } else {
                Ok(migrations::pending(BackendKind::Postgres, None))
            }
        } else {
            // A second `migrate` waits here for the first, then finds nothing to do.
            client
                .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
                .await
                .map_err(|e| self.map_error(context, e))?;
            runner
                .run_async(&mut client)
                .await
                .map(|report| report.applied_migrations().clone())
        };
        // The lock belongs to the session: closing the connection releases it whatever happened.
        drop(client);
        let _ = driver.await;
        let applied = applied.map_err(|e| StoreError::database(context, chain(&e)))?;
        Ok(applied.iter().map(migrations::label).collect())
    }

    async fn call_once(&self, procedure: &'static str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        // Casts pin each argument's type so that PostgreSQL resolves the function
        // whatever the Rust value (a NULL included).
        let placeholders: Vec<String> = args
            .iter()
            .enumerate()
            .map(|(i, arg)| format!("${}::{}", i + 1, sql_type(arg)))
            .collect();
        let sql = format!(
            "SELECT * FROM stage.{procedure}({})",
            placeholders.join(", ")
        );
        self.rows(procedure, &sql, args).await
    }

    async fn query_once(
        &self,
        context: &'static str,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Row>> {
        self.rows(context, sql, args).await
    }

    async fn query_each(
        &self,
        context: &'static str,
        sql: &str,
        args: &[Arg<'_>],
        each: &mut (dyn for<'r> FnMut(&'r Row) -> StoreResult<()> + Send),
    ) -> StoreResult<()> {
        let client = self.client().await?;
        let types: Vec<Type> = args.iter().map(pg_type).collect();
        let statement = client
            .prepare_typed_cached(sql, &types)
            .await
            .map_err(|e| self.map_error(context, e))?;
        let rows = client
            .query_raw(&statement, params(args))
            .await
            .map_err(|e| self.map_error(context, e))?;
        futures_util::pin_mut!(rows);
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
        let client = self.client().await?;
        client
            .execute(sql, &[])
            .await
            .map_err(|e| self.map_error("execute", e))
    }

    async fn wait_for_work(&self, timeout: Duration) -> StoreResult<()> {
        {
            let mut listener = self.listener.lock().await;
            let alive = listener.as_ref().is_some_and(|h| !h.is_finished());
            if !alive {
                *listener = Some(self.start_listener().await?);
            }
        }
        let _ = tokio::time::timeout(timeout, self.work_signal.notified()).await;
        Ok(())
    }
}

/// A server error's own words and its SQLSTATE (tokio-postgres alone says `db error`).
fn describe(db: &DbError) -> String {
    format!("{} (SQLSTATE {})", db.message(), db.code().code())
}

/// What to show of any tokio-postgres error: the server's words when it sent some,
/// else the whole source chain.
fn message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => describe(db),
        None => chain(error),
    }
}

/// 42P01 relation, 3F000 schema, 42883 function: a `stage` object that is not there.
fn is_missing_stage_object(db: &DbError) -> bool {
    let code = db.code();
    (*code == SqlState::UNDEFINED_TABLE
        || *code == SqlState::INVALID_SCHEMA_NAME
        || *code == SqlState::UNDEFINED_FUNCTION)
        && db.message().to_ascii_lowercase().contains("stage")
}

/// Server errors that mean there is no usable connection.
fn db_connection_cause(db: &DbError) -> Option<ConnectionCause> {
    let code = db.code();
    if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        Some(ConnectionCause::Authentication)
    } else if *code == SqlState::INVALID_CATALOG_NAME {
        Some(ConnectionCause::MissingDatabase)
    } else if *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::TOO_MANY_CONNECTIONS
    {
        Some(ConnectionCause::Unavailable)
    } else if code.code().starts_with("08") {
        Some(ConnectionCause::Lost)
    } else {
        None
    }
}

/// The connection cause of a tokio-postgres error, if it is one. Its error kinds are
/// private, so the client-side ones are told apart by their fixed texts.
fn connection_cause(error: &tokio_postgres::Error) -> Option<ConnectionCause> {
    if let Some(db) = error.as_db_error() {
        return db_connection_cause(db);
    }
    let top = error.to_string();
    let text = chain(error);
    if top.starts_with("error performing TLS handshake") {
        return Some(ConnectionCause::Tls);
    }
    if top.starts_with("timeout waiting for server") {
        return Some(ConnectionCause::Timeout);
    }
    if top.starts_with("authentication error") || text.contains("password missing") {
        return Some(ConnectionCause::Authentication);
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return Some(io_cause(io.kind(), &text));
        }
        source = inner.source();
    }
    error.is_closed().then_some(ConnectionCause::Lost)
}

fn pg_type(arg: &Arg<'_>) -> Type {
    match arg {
        Arg::Text(_) => Type::TEXT,
        Arg::Int(_) => Type::INT4,
        Arg::BigInt(_) => Type::INT8,
        Arg::Bool(_) => Type::BOOL,
        Arg::Instant(_) => Type::TIMESTAMPTZ,
    }
}

fn sql_type(arg: &Arg<'_>) -> &'static str {
    match arg {
        Arg::Text(_) => "text",
        Arg::Int(_) => "int",
        Arg::BigInt(_) => "bigint",
        Arg::Bool(_) => "boolean",
        Arg::Instant(_) => "timestamptz",
    }
}

fn params<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter()
        .map(|arg| -> &(dyn ToSql + Sync) {
            match arg {
                Arg::Text(v) => v,
                Arg::Int(v) => v,
                Arg::BigInt(v) => v,
                Arg::Bool(v) => v,
                Arg::Instant(v) => v,
            }
        })
        .collect()
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Ok(mut listener) = self.listener.try_lock() {
            if let Some(handle) = listener.take() {
                handle.abort();
            }
        }
    }
}

fn column_error(index: usize, error: impl ToString) -> StoreError {
    StoreError::protocol(
        "result row",
        format!("column {index}: {}", error.to_string()),
    )
}

impl ResultRow for Row {
    fn int(&self, index: usize) -> StoreResult<Option<i64>> {
        let ty = self.columns().get(index).map(|c| c.type_().clone());
        let value = match ty {
            Some(Type::INT8) => self.try_get::<_, Option<i64>>(index),
            Some(Type::INT4) => self
                .try_get::<_, Option<i32>>(index)
                .map(|v| v.map(i64::from)),
            Some(Type::INT2) => self
                .try_get::<_, Option<i16>>(index)
                .map(|v| v.map(i64::from)),
            _ => self.try_get::<_, Option<i64>>(index),
        };
        value.map_err(|e| column_error(index, e))
    }

    fn text(&self, index: usize) -> StoreResult<Option<String>> {
        self.try_get(index).map_err(|e| column_error(index, e))
    }

    fn boolean(&self, index: usize) -> StoreResult<Option<bool>> {
        self.try_get(index).map_err(|e| column_error(index, e))
    }

    fn instant(&self, index: usize) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get(index).map_err(|e| column_error(index, e))
    }

    fn float(&self, index: usize) -> StoreResult<Option<f64>> {
        let ty = self.columns().get(index).map(|c| c.type_().clone());
        let value = match ty {
            Some(Type::FLOAT4) => self
                .try_get::<_, Option<f32>>(index)
                .map(|v| v.map(f64::from)),
            Some(Type::INT8 | Type::INT4 | Type::INT2) => {
                return Ok(self.int(index)?.map(|v| v as f64))
            }
            _ => self.try_get::<_, Option<f64>>(index),
        };
        value.map_err(|e| column_error(index, e))
    }
}

/// Lock conflicts: deadlock victim (40P01), lock wait past lock_timeout (55P03), and a
/// serialization failure (40001; not raised at READ COMMITTED, where stagehand runs).
fn is_lock_conflict(code: &SqlState) -> bool {
    [
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::LOCK_NOT_AVAILABLE,
        SqlState::T_R_SERIALIZATION_FAILURE,
    ]
    .contains(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlocks_and_lock_timeouts_are_conflicts() {
        for code in ["40P01", "55P03", "40001"] {
            assert!(is_lock_conflict(&SqlState::from_code(code)), "{code}");
        }
        for code in ["22023", "23505", "42501", "57P01"] {
            assert!(!is_lock_conflict(&SqlState::from_code(code)), "{code}");
        }
    }
}
