//! Lock conflicts: the database ends a call to break a deadlock (SQL Server error 1205,
//! PostgreSQL 40P01) or because a lock wait ran past [`LOCK_TIMEOUT`] (1222, 55P03). The
//! call's transaction was rolled back, so the same call made again is the same as making
//! it once; it usually succeeds at once. Every procedure and query goes through
//! [`retry_conflicts`], whichever front end makes it; what still fails after that is a
//! [`StoreError::Conflict`] for the caller (the driver retries it with its own backoff).

use super::error::{StoreError, StoreResult};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a statement of a pooled connection waits for a lock before the database
/// refuses it (SQL Server `SET LOCK_TIMEOUT`, PostgreSQL `lock_timeout`). The procedures
/// hold their locks for milliseconds; a wait this long means someone else's transaction
/// is open (a DBA's session, say), and without a bound the driver would hang on it.
pub(super) const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls made again after a conflict before it is reported.
const CONFLICT_RETRIES: u32 = 4;

/// Makes `call`, and makes it again (up to [`CONFLICT_RETRIES`] times, after a short
/// randomised wait) while it ends in a lock conflict.
pub(super) async fn retry_conflicts<T, F, Fut>(mut call: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut retries = 0;
    loop {
        match call().await {
            Err(error @ StoreError::Conflict { .. }) if retries < CONFLICT_RETRIES => {
                retries += 1;
                let wait = conflict_wait(retries);
                tracing::debug!(%error, ?wait, retries, "lock conflict: making the call again");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// 10 ms, 20, 40, 80 ... plus up to as much again, so that two victims of one deadlock
/// do not meet again in step.
fn conflict_wait(retry: u32) -> Duration {
    let base = Duration::from_millis(10 << (retry.saturating_sub(1)).min(6));
    let noise = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    base + Duration::from_nanos(noise % (base.as_nanos() as u64 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn conflict() -> StoreError {
        StoreError::Conflict {
            context: "CompleteProcesses".into(),
            message: "Transaction was deadlocked".into(),
        }
    }

    #[tokio::test]
    async fn a_conflict_is_retried_until_the_call_succeeds() {
        let calls = Cell::new(0);
        let result = retry_conflicts(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(conflict())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.ok(), Some(3));
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test]
    async fn a_lasting_conflict_is_reported_after_the_retries() {
        let calls = Cell::new(0);
        let result: StoreResult<()> = retry_conflicts(|| {
            calls.set(calls.get() + 1);
            async { Err(conflict()) }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Conflict { .. })));
        assert_eq!(calls.get(), 1 + CONFLICT_RETRIES);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let calls = Cell::new(0);
        let result: StoreResult<()> = retry_conflicts(|| {
            calls.set(calls.get() + 1);
            async {
                Err(StoreError::InvalidArgument(
                    "MaxCount must be between 1 and 1000".into(),
                ))
            }
        })
        .await;
        assert!(matches!(result, Err(StoreError::InvalidArgument(_))));
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn waits_grow_and_stay_short() {
        for retry in 1..=CONFLICT_RETRIES {
            let base = Duration::from_millis(10 << (retry - 1));
            let wait = conflict_wait(retry);
            assert!(wait >= base && wait <= base * 2, "retry {retry}: {wait:?}");
        }
    }
}
