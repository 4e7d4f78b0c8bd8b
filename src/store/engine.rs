//! What a database engine must provide: call a `stage` procedure with positional
//! arguments, run a query, migrate, and wait for work. Everything else
//! ([`Backend`](super::Backend)) is written once on top of it, in `procedures.rs`.

use super::conflict::retry_conflicts;
use super::error::StoreResult;
use super::rows::ResultRow;
use super::types::BackendKind;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// A positional argument of a procedure or query.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    Text(Option<&'a str>),
    Int(Option<i32>),
    BigInt(Option<i64>),
    Bool(bool),
    Instant(Option<DateTime<Utc>>),
}

#[async_trait]
pub(super) trait Engine: Send + Sync {
    type Row: ResultRow + Send;

    fn kind(&self) -> BackendKind;

    /// Applies the embedded migrations for this engine; returns the ones applied (with
    /// `dry_run`: the ones it would apply, touching nothing).
    async fn migrate(&self, dry_run: bool) -> StoreResult<Vec<String>>;

    /// Calls `stage.<procedure>` with positional arguments and returns its rows
    /// (PostgreSQL: `SELECT * FROM stage.p($1, ...)`; SQL Server: `EXEC stage.p @P1, ...`).
    async fn call_once(
        &self,
        procedure: &'static str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Self::Row>>;

    /// Runs a query written in the common subset of both dialects, with `$1`, `$2`...
    /// placeholders.
    async fn query_once(
        &self,
        context: &'static str,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Self::Row>>;

    /// Runs a query as [`Engine::query_once`] does, handing each row to `each` as it
    /// arrives instead of collecting them: what a large read needs to stay small. Not
    /// retried on a lock conflict (rows may have been handed over already).
    async fn query_each(
        &self,
        context: &'static str,
        sql: &str,
        args: &[Arg<'_>],
        each: &mut (dyn for<'r> FnMut(&'r Self::Row) -> StoreResult<()> + Send),
    ) -> StoreResult<()>;

    /// [`Engine::call_once`], made again while it ends in a lock conflict.
    async fn call(&self, procedure: &'static str, args: &[Arg<'_>]) -> StoreResult<Vec<Self::Row>> {
        retry_conflicts(|| self.call_once(procedure, args)).await
    }

    /// [`Engine::query_once`], made again while it ends in a lock conflict.
    async fn query(
        &self,
        context: &'static str,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Self::Row>> {
        retry_conflicts(|| self.query_once(context, sql, args)).await
    }

    /// Runs SQL text with no parameters and no result; returns the rows affected.
    async fn execute(&self, sql: &str) -> StoreResult<u64>;

    /// Waits until new driver work may be there, or `timeout`.
    async fn wait_for_work(&self, timeout: Duration) -> StoreResult<()>;
}
