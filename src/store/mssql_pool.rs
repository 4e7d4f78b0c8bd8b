//! A bb8 connection manager for tiberius. The published adapters (bb8-tiberius,
//! deadpool-tiberius) pin tiberius 0.12 while refinery needs 0.13, so this thin
//! manager stands in; pooling itself is bb8's.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tiberius::error::{Error, IoErrorKind};
use tiberius::{Client, Config};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

pub(super) type SqlClient = Client<Compat<TcpStream>>;

pub(super) struct SqlServerManager {
    pub config: Config,
    pub connect_timeout: Duration,
    pub failures: ConnectFailures,
}

/// Opens one connection: TCP with Nagle off (small request/response round trips),
/// then the TDS login, all within `timeout` (an unanswered SYN otherwise waits minutes).
pub(super) async fn open(config: &Config, timeout: Duration) -> tiberius::Result<SqlClient> {
    let login = async {
        let tcp = TcpStream::connect(config.get_addr()).await?;
        tcp.set_nodelay(true)?;
        Client::connect(config.clone(), tcp.compat_write()).await
    };
    tokio::time::timeout(timeout, login)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Io {
                kind: IoErrorKind::TimedOut,
                message: format!("no answer within {} s", timeout.as_secs_f64()),
            })
        })
}

/// bb8 opens connections in the background and tells a waiting caller only that it
/// timed out; the manager keeps each failed connect here and wakes the callers waiting
/// for a connection, so they can report the real cause at once. (Only connects: a
/// pooled connection found broken at checkout is replaced by bb8 as usual.)
#[derive(Debug, Clone, Default)]
pub(super) struct ConnectFailures {
    last: Arc<Mutex<Option<Error>>>,
    pub failed: Arc<Notify>,
}

impl ConnectFailures {
    /// The outcome of a connect: a failure is kept (and wakes the waiters), a success
    /// clears it, so what is kept is always about the latest attempt.
    fn record(&self, failure: Option<&Error>) {
        if let Ok(mut last) = self.last.lock() {
            *last = failure.cloned();
        }
        if failure.is_some() {
            self.failed.notify_waiters();
        }
    }

    /// The failure of the latest connect, if it failed.
    pub fn last(&self) -> Option<Error> {
        self.last.lock().ok().and_then(|last| last.clone())
    }
}

impl bb8::ManageConnection for SqlServerManager {
    type Connection = SqlClient;
    type Error = Error;

    /// A pooled session waits at most LOCK_TIMEOUT for a lock (the default is forever),
    /// so a transaction someone left open cannot hang the driver; the error (1222) is
    /// a lock conflict, made again by the store. Migrations open sessions of their own.
    async fn connect(&self) -> Result<Self::Connection, Self::Error> {
        let result = open(&self.config, self.connect_timeout).await;
        self.failures.record(result.as_ref().err());
        let mut client = result?;
        let millis = super::conflict::LOCK_TIMEOUT.as_millis();
        client
            .simple_query(format!("SET LOCK_TIMEOUT {millis}"))
            .await?
            .into_results()
            .await?;
        Ok(client)
    }

    async fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), Self::Error> {
        conn.simple_query("SELECT 1").await?.into_row().await?;
        Ok(())
    }

    fn has_broken(&self, _conn: &mut Self::Connection) -> bool {
        false
    }
}
