//! The processes whose leases this driver holds: from the claim until their outcome is
//! recorded (not just until the command ends), so heartbeats keep the lease alive
//! while the database is unreachable and the outcome waits to be reported.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// Why a running command was stopped by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// killPrevious or stage.CancelProcess asked it to stop (learned from a heartbeat).
    CancelRequested,
    /// The lease is no longer ours (it expired and was reset); another driver may run it.
    LeaseLost,
    /// Graceful shutdown ran out of grace time: hand the process back to the queue.
    Shutdown,
    /// Second signal: kill and leave; the lease expiry hands the process back.
    Abandon,
    /// `stopAtEnd`: the repetition window of its occurrence ended.
    WindowEnded,
}

struct Entry {
    token: CancellationToken,
    reason: Option<StopReason>,
}

#[derive(Default)]
pub struct Held {
    entries: Mutex<HashMap<i64, Entry>>,
}

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Entry>> {
        // A panic elsewhere must not stop lease bookkeeping: the map stays consistent.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts holding a process; the token stops its command.
    pub fn insert(&self, process_id: i64) -> CancellationToken {
        let token = CancellationToken::new();
        self.lock().insert(
            process_id,
            Entry {
                token: token.clone(),
                reason: None,
            },
        );
        token
    }

    pub fn remove(&self, process_id: i64) {
        self.lock().remove(&process_id);
    }

    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.lock().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Stops one command; the first reason given wins.
    pub fn stop(&self, process_id: i64, reason: StopReason) {
        if let Some(entry) = self.lock().get_mut(&process_id) {
            entry.reason.get_or_insert(reason);
            entry.token.cancel();
        }
    }

    pub fn stop_all(&self, reason: StopReason) {
        for entry in self.lock().values_mut() {
            entry.reason.get_or_insert(reason);
            entry.token.cancel();
        }
    }

    pub fn reason(&self, process_id: i64) -> Option<StopReason> {
        self.lock().get(&process_id).and_then(|e| e.reason)
    }
}
