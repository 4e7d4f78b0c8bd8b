//! Store errors: what the database refused (with its message) apart from what failed.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A procedure rejected an argument (T-SQL THROW 50000..50099, PostgreSQL 22023).
    /// The message names the argument, e.g. `ProcessName must not be NULL or empty`.
    #[error("{0}")]
    InvalidArgument(String),
    /// The connection string could not be understood; the text never holds a password.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database could not be reached or a pooled connection could not be had.
    #[error("cannot connect to {target}: {message}")]
    Connection { target: String, message: String },
    /// The database ended the call over a lock conflict: a deadlock victim (SQL Server
    /// 1205, PostgreSQL 40P01) or a lock wait past the lock timeout (1222, 55P03; also
    /// AssignProcessToWorker's application lock, 50100). The call's transaction was rolled
    /// back; the store has already made the call again a few times (see `conflict.rs`).
    #[error("{context}: {message} (lock conflict; its transaction was rolled back)")]
    Conflict { context: String, message: String },
    /// Any other database error, with what was being done.
    #[error("{context}: {message}")]
    Database { context: String, message: String },
    /// A result row did not have the shape the contract promises.
    #[error("unexpected result from {context}: {message}")]
    Protocol { context: String, message: String },
}

impl StoreError {
    pub fn database(context: impl Into<String>, message: impl ToString) -> Self {
        StoreError::Database {
            context: context.into(),
            message: message.to_string(),
        }
    }

    pub fn protocol(context: impl Into<String>, message: impl ToString) -> Self {
        StoreError::Protocol {
            context: context.into(),
            message: message.to_string(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
