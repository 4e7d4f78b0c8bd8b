//! Waiting times that grow while something keeps failing or finding nothing, and
//! snap back once it succeeds: the database retry backoff and the SQL Server poll.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        let min = min.min(max);
        Backoff {
            min,
            max,
            current: min,
        }
    }

    /// The wait to use now; the next one is twice as long, up to the maximum.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.current;
        self.current = (self.current * 2).min(self.max);
        wait
    }

    /// Back to the shortest wait (it worked, or work was found).
    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(35));
        let waits: Vec<u128> = (0..5).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(waits, vec![10, 20, 35, 35, 35]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_millis(10));
    }
}
