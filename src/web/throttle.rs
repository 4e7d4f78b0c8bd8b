//! Failed sign-ins per client address: after [`MAX_FAILURES`] within [`WINDOW`], that
//! address is refused (429) until the window has passed, so passwords cannot be guessed
//! at network speed (and, with `--auth database`, the database server is not made to
//! check them).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses kept at most; beyond, expired entries are dropped first.
const MAX_ADDRESSES: usize = 10_000;

/// Failures of one address since `since`.
struct Failures {
    since: Instant,
    count: u32,
}

#[derive(Default)]
pub struct SignInThrottle {
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

impl SignInThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        // The map stays consistent whatever panicked while holding it.
        self.by_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `address` must still wait, if it is refused now.
    pub fn refused_for(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let entries = self.lock();
        let failures = entries.get(&address)?;
        let left = (failures.since + WINDOW).checked_duration_since(now)?;
        (failures.count >= MAX_FAILURES && !left.is_zero()).then_some(left)
    }

    /// Counts a failed sign-in of `address`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ADDRESSES {
            entries.retain(|_, f| now.duration_since(f.since) < WINDOW);
        }
        let failures = entries.entry(address).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now.duration_since(failures.since) >= WINDOW {
            *failures = Failures {
                since: now,
                count: 0,
            };
        }
        failures.count = failures.count.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_too_many_failures_until_the_window_passes() {
        let throttle = SignInThrottle::default();
        let (guesser, other): (IpAddr, IpAddr) =
            ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed(guesser, start);
        }
        assert_eq!(throttle.refused_for(guesser, start), None, "not yet");
        throttle.failed(guesser, start);
        assert_eq!(throttle.refused_for(guesser, start), Some(WINDOW));
        assert_eq!(
            throttle.refused_for(other, start),
            None,
            "others are not refused"
        );
        let later = start + WINDOW;
        assert_eq!(
            throttle.refused_for(guesser, later),
            None,
            "the window passed"
        );
        throttle.failed(guesser, later);
        assert_eq!(
            throttle.refused_for(guesser, later),
            None,
            "counting starts again"
        );
    }
}
