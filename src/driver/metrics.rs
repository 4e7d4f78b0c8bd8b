//! What this driver did since it started, for `run --dashboard`'s `/metrics`: counters
//! (atomics: an increment is one instruction on the hot path) and two histograms, kept
//! in memory by the driver's tasks and registered into the registry each scrape builds.
//! The database-wide numbers (processes by status, queue depth...) come from the views
//! instead (src/web/metrics.rs).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// How a finished command's outcome went to the database.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Outcome {
    Completed,
    Failed,
    Cancelled,
    /// stage.CompleteProcesses refused it: this worker no longer held the process.
    Refused,
    /// Handed back to the queue by a graceful shutdown (stage.ReleaseProcesses).
    Released,
    /// Nothing recorded: the lease was lost, or the driver stopped at once.
    Abandoned,
}

/// The database call that failed.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Call {
    Claim,
    Complete,
    Release,
    Heartbeat,
    ResetStuck,
    /// Folding the monitoring counters' deltas into their totals (stage.RollUpCounters).
    RollUp,
    Rotate,
    Presence,
    /// The clock: reading the schedule, firing and catching up triggers.
    Clock,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabel {
    call: Call,
}

/// Cloned handles share their values (prometheus-client metrics are `Arc`s inside).
#[derive(Debug, Clone)]
pub struct DriverMetrics {
    claims: Counter,
    completions: Family<OutcomeLabel, Counter>,
    retries: Counter,
    lease_resets: Counter,
    heartbeats: Counter,
    heartbeat_failures: Counter,
    database_errors: Family<CallLabel, Counter>,
    run_duration: Histogram,
    fire_lateness: Histogram,
}

impl Default for DriverMetrics {
    fn default() -> Self {
        DriverMetrics {
            claims: Counter::default(),
            completions: Family::default(),
            retries: Counter::default(),
            lease_resets: Counter::default(),
            heartbeats: Counter::default(),
            heartbeat_failures: Counter::default(),
            database_errors: Family::default(),
            // 10 ms .. ~11.6 h, factor 4.
            run_duration: Histogram::new(exponential_buckets(0.01, 4.0, 12)),
            // 1 ms .. ~4.4 min, factor 4.
            fire_lateness: Histogram::new(exponential_buckets(0.001, 4.0, 10)),
        }
    }
}

impl DriverMetrics {
    pub fn claimed(&self, count: usize) {
        self.claims.inc_by(count as u64);
    }

    pub fn finished(&self, outcome: Outcome) {
        self.completions
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// A failed run the database queued again for another attempt.
    pub fn retried(&self) {
        self.retries.inc();
    }

    /// Processes the driver's housekeeping reset (stage.ResetStuckProcesses).
    pub fn leases_reset(&self, count: usize) {
        self.lease_resets.inc_by(count as u64);
    }

    pub fn heartbeat(&self, ok: bool) {
        if ok {
            self.heartbeats.inc();
        } else {
            self.heartbeat_failures.inc();
            self.database_error(Call::Heartbeat);
        }
    }

    pub fn database_error(&self, call: Call) {
        self.database_errors
            .get_or_create(&CallLabel { call })
            .inc();
    }

    /// How long a command ran.
    pub fn run_took(&self, seconds: f64) {
        self.run_duration.observe(seconds);
    }

    /// How long after its due time an occurrence was handed to stage.FireTrigger.
    pub fn fired_late(&self, seconds: f64) {
        self.fire_lateness.observe(seconds.max(0.0));
    }

    /// Adds every metric to `registry` (prefixed there, e.g. `stagehand_`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "driver_claims",
            "Processes this driver claimed",
            self.claims.clone(),
        );
        registry.register(
            "driver_completions",
            "Finished commands by how their outcome was recorded",
            self.completions.clone(),
        );
        registry.register(
            "driver_retries",
            "Failed runs the database queued again for another attempt",
            self.retries.clone(),
        );
        registry.register(
            "driver_lease_resets",
            "Processes whose lease had expired, reset by this driver's housekeeping",
            self.lease_resets.clone(),
        );
        registry.register(
            "driver_heartbeats",
            "stage.Heartbeat calls that renewed the leases of running commands",
            self.heartbeats.clone(),
        );
        registry.register(
            "driver_heartbeat_failures",
            "stage.Heartbeat calls that failed",
            self.heartbeat_failures.clone(),
        );
        registry.register(
            "driver_database_errors",
            "Database calls of this driver that failed, by call",
            self.database_errors.clone(),
        );
        registry.register(
            "driver_run_duration_seconds",
            "How long commands ran",
            self.run_duration.clone(),
        );
        registry.register(
            "driver_fire_lateness_seconds",
            "How long after its due time the clock fired an occurrence",
            self.fire_lateness.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_their_values_and_render_with_labels() {
        let metrics = DriverMetrics::default();
        let clone = metrics.clone();
        clone.claimed(3);
        clone.finished(Outcome::Failed);
        clone.heartbeat(false);
        clone.run_took(0.5);
        let mut registry = Registry::with_prefix("stagehand");
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "stagehand_driver_claims_total 3",
            "stagehand_driver_completions_total{outcome=\"Failed\"} 1",
            "stagehand_driver_heartbeat_failures_total 1",
            "stagehand_driver_database_errors_total{call=\"Heartbeat\"} 1",
            "stagehand_driver_run_duration_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
