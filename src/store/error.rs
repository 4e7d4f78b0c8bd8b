//! Store errors: what the database refused (with its message) apart from what failed.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A procedure rejected an argument (T-SQL THROW 50000..50099 or 51000..51999, PostgreSQL 22023).
    /// The message names the argument, e.g. `ProcessName must not be NULL or empty`.
    #[error("{0}")]
    InvalidArgument(String),
    /// The connection string could not be understood; the text never holds a password.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database could not be reached or a pooled connection could not be had.
    /// `target` is the redacted connection string; `message` is the driver's own words.
    #[error("cannot connect to {target}: {cause}: {message}")]
    Connection {
        target: String,
        cause: ConnectionCause,
        message: String,
    },
    /// The database answers but has no `stage` schema, or an older one without the
    /// object named in `message`.
    #[error("{context}: the database has no stagehand schema or an older one (run `stagehand migrate`): {message}")]
    SchemaMissing { context: String, message: String },
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
    /// A procedure refused the request for the state of what it names (T-SQL THROW
    /// 50110..50199, PostgreSQL 55000): cancelling a finished process, retrying a
    /// completed one, running a disabled task without Force. The message says which.
    #[error("{0}")]
    Refused(String),
}

/// Why a connection could not be had, as an operator would name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionCause {
    /// Wrong user or password, or a login the server refuses (SQL Server 18456).
    Authentication,
    /// The server has no database of that name.
    MissingDatabase,
    /// Nothing listens on that host and port.
    Refused,
    /// The host name does not resolve.
    HostNotFound,
    /// TLS negotiation or certificate validation failed.
    Tls,
    /// No answer in time.
    Timeout,
    /// The server is starting, shutting down or restarting, or has no free connection.
    Unavailable,
    /// The connection broke (reset, closed, network unreachable).
    Lost,
}

impl ConnectionCause {
    /// Whether waiting can fix it: a server that is down or restarting comes back;
    /// a wrong password or a missing database does not.
    pub fn heals(self) -> bool {
        matches!(
            self,
            ConnectionCause::Refused
                | ConnectionCause::Timeout
                | ConnectionCause::Unavailable
                | ConnectionCause::Lost
        )
    }
}

impl std::fmt::Display for ConnectionCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectionCause::Authentication => "authentication failed",
            ConnectionCause::MissingDatabase => "database does not exist",
            ConnectionCause::Refused => "connection refused",
            ConnectionCause::HostNotFound => "host not found",
            ConnectionCause::Tls => "TLS/certificate problem",
            ConnectionCause::Timeout => "timed out",
            ConnectionCause::Unavailable => "server unavailable (starting, stopping or full)",
            ConnectionCause::Lost => "connection lost",
        })
    }
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

    /// Whether retrying later can succeed where this failed (see [`ConnectionCause::heals`]).
    pub fn heals(&self) -> bool {
        matches!(self, StoreError::Connection { cause, .. } if cause.heals())
    }
}

/// The cause of an I/O failure, from its kind and, for name lookups (which the OS
/// reports without a kind of their own), its text.
pub(super) fn io_cause(kind: std::io::ErrorKind, text: &str) -> ConnectionCause {
    use std::io::ErrorKind;
    let lower = text.to_ascii_lowercase();
    match kind {
        ErrorKind::ConnectionRefused => ConnectionCause::Refused,
        ErrorKind::TimedOut => ConnectionCause::Timeout,
        // "Temporary failure in name resolution" (EAI_AGAIN) heals; an unknown name does not.
        _ if lower.contains("temporary failure") => ConnectionCause::Lost,
        _ if lower.contains("lookup address")
            || lower.contains("name or service not known")
            || lower.contains("no such host")
            || lower.contains("nodename nor servname") =>
        {
            ConnectionCause::HostNotFound
        }
        _ => ConnectionCause::Lost,
    }
}

/// `error` and its sources, joined with `: ` (drivers often say `db error` on top and
/// the server's words only underneath).
pub(super) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn io_failures_are_named() {
        assert_eq!(
            io_cause(
                ErrorKind::ConnectionRefused,
                "Connection refused (os error 111)"
            ),
            ConnectionCause::Refused
        );
        assert_eq!(
            io_cause(
                ErrorKind::Other,
                "failed to lookup address information: Name or service not known"
            ),
            ConnectionCause::HostNotFound
        );
        assert_eq!(
            io_cause(
                ErrorKind::Other,
                "failed to lookup address information: Temporary failure in name resolution"
            ),
            ConnectionCause::Lost
        );
        assert!(!ConnectionCause::HostNotFound.heals());
        assert!(ConnectionCause::Refused.heals());
    }
}
