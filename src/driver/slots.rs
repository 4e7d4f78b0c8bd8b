//! The N execution slots: which are free, and a wake-up when one frees.

use std::sync::Mutex;
use tokio::sync::Notify;

pub struct Slots {
    busy: Mutex<Vec<bool>>,
    freed: Notify,
}

impl Slots {
    pub fn new(count: usize) -> Self {
        Slots {
            busy: Mutex::new(vec![false; count]),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<bool>> {
        self.busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Labels of the free slots ("1".."N"), as sent to stage.ClaimProcesses.
    pub fn free_labels(&self) -> Vec<String> {
        self.lock()
            .iter()
            .enumerate()
            .filter(|(_, busy)| !**busy)
            .map(|(i, _)| (i + 1).to_string())
            .collect()
    }

    /// Marks the slot named by a label busy; false when the label is not a free slot.
    pub fn take(&self, label: &str) -> bool {
        let mut busy = self.lock();
        match label.parse::<usize>().ok().and_then(|n| n.checked_sub(1)) {
            Some(i) if i < busy.len() && !busy[i] => {
                busy[i] = true;
                true
            }
            _ => false,
        }
    }

    pub fn release(&self, label: &str) {
        if let Some(i) = label.parse::<usize>().ok().and_then(|n| n.checked_sub(1)) {
            if let Some(slot) = self.lock().get_mut(i) {
                *slot = false;
            }
        }
        self.freed.notify_one();
    }

    pub fn all_free(&self) -> bool {
        self.lock().iter().all(|busy| !busy)
    }

    /// Resolves when a slot is released (a release before the call counts once).
    pub async fn wait_freed(&self) {
        self.freed.notified().await;
    }
}
