//! A bb8 connection manager for tiberius. The published adapters (bb8-tiberius,
//! deadpool-tiberius) pin tiberius 0.12 while refinery needs 0.13, so this thin
//! manager stands in; pooling itself is bb8's.

use tiberius::{Client, Config};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

pub(super) type SqlClient = Client<Compat<TcpStream>>;

pub(super) struct SqlServerManager {
    pub config: Config,
}

/// Opens one connection: TCP with Nagle off (small request/response round trips),
/// then the TDS login.
pub(super) async fn open(config: &Config) -> tiberius::Result<SqlClient> {
    let tcp = TcpStream::connect(config.get_addr()).await?;
    tcp.set_nodelay(true)?;
    Client::connect(config.clone(), tcp.compat_write()).await
}

impl bb8::ManageConnection for SqlServerManager {
    type Connection = SqlClient;
    type Error = tiberius::error::Error;

    /// A pooled session waits at most LOCK_TIMEOUT for a lock (the default is forever),
    /// so a transaction someone left open cannot hang the driver; the error (1222) is
    /// a lock conflict, made again by the store. Migrations open sessions of their own.
    async fn connect(&self) -> Result<Self::Connection, Self::Error> {
        let mut client = open(&self.config).await?;
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
