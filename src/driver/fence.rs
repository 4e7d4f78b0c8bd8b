//! Self-fencing: a command whose lease this driver cannot renew (the database
//! unreachable, or answering too late) is stopped before the lease ends. Once it ends,
//! another driver may reset the process and run it again: the first run must be gone.

use super::held::Held;
use crate::exec::DEFAULT_KILL_GRACE;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long after its lease was last set a command is stopped: early enough that a
/// check one interval late plus the kill grace still ends it before the lease does,
/// and never before three quarters of the lease (a short lease is a test's: the kill
/// grace may then outlast it).
pub fn fence_after(lease: Duration, every: Duration) -> Duration {
    lease
        .saturating_sub(DEFAULT_KILL_GRACE + every)
        .max(lease * 3 / 4)
}

/// Checks every `every`, on its own timer: a heartbeat call that hangs must not delay it.
pub async fn run(held: Arc<Held>, lease: Duration, every: Duration, stop: CancellationToken) {
    let after = fence_after(lease, every);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let Some(cutoff) = Instant::now().checked_sub(after) else {
            continue;
        };
        for process_id in held.fence(cutoff) {
            tracing::warn!(
                process_id,
                unrenewed_for = ?after,
                "lease not renewed: stopping the command before the lease ends, so no other driver runs it at the same time"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_stopped_a_kill_grace_and_a_check_before_its_lease_ends() {
        let s = Duration::from_secs;
        assert_eq!(fence_after(s(30), s(1)), s(27));
        // A short lease: never sooner than three quarters of it.
        assert_eq!(fence_after(s(4), s(1)), s(3));
    }

    #[test]
    fn renewed_leases_are_not_fenced_and_stopped_ones_not_twice() {
        let held = Held::default();
        let start = Instant::now();
        let old = held.insert(1, start);
        let renewed = held.insert(2, start);
        let later = start + Duration::from_secs(10);
        held.renewed(&[2], later);
        assert_eq!(held.fence(start + Duration::from_secs(5)), vec![1]);
        assert!(old.is_cancelled() && !renewed.is_cancelled());
        assert_eq!(
            held.fence(start + Duration::from_secs(5)),
            Vec::<i64>::new()
        );
        assert_eq!(held.fence(later + Duration::from_secs(1)), vec![2]);
    }
}
