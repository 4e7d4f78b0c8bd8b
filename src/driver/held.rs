//! The processes whose leases this driver holds: from the claim until their outcome is
//! recorded (not just until the command ends), so heartbeats keep the lease alive
//! while the database is unreachable and the outcome waits to be reported.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
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
    /// Its lease could not be renewed (the database unreachable) and was about to end:
    /// stopped before another driver may run it again, then handed back.
    LeaseUnrenewed,
}

struct Entry {
    token: CancellationToken,
    reason: Option<StopReason>,
    /// When the call that last set its lease (the claim, then each heartbeat) was sent:
    /// the database's lease runs from no earlier than this.
    leased_at: Instant,
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

    /// Starts holding a process leased by a claim sent at `leased_at`; the token stops
    /// its command.
    pub fn insert(&self, process_id: i64, leased_at: Instant) -> CancellationToken {
        let token = CancellationToken::new();
        self.lock().insert(
            process_id,
            Entry {
                token: token.clone(),
                reason: None,
                leased_at,
            },
        );
        token
    }

    /// The leases of these processes were renewed by a heartbeat sent at `at`.
    pub fn renewed(&self, process_ids: &[i64], at: Instant) {
        let mut entries = self.lock();
        for id in process_ids {
            if let Some(entry) = entries.get_mut(id) {
                entry.leased_at = entry.leased_at.max(at);
            }
        }
    }

    /// Stops, as LeaseUnrenewed, every command not already stopped whose lease was last
    /// set before `cutoff`; returns their ids.
    pub fn fence(&self, cutoff: Instant) -> Vec<i64> {
        let mut fenced = Vec::new();
        for (id, entry) in self.lock().iter_mut() {
            if entry.leased_at < cutoff && entry.reason.is_none() {
                entry.reason = Some(StopReason::LeaseUnrenewed);
                entry.token.cancel();
                fenced.push(*id);
            }
        }
        fenced.sort_unstable();
        fenced
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
