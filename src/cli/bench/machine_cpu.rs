//! The whole machine's busy CPU time (every process: the database, the driver, the
//! commands), from Linux's /proc/stat: on a machine where the database shares the cores,
//! CPU per process is what bounds end-to-end throughput, so the bench prints it beside
//! the bare spawn loop's.

use std::time::Duration;

/// /proc/stat counts in USER_HZ ticks, which Linux fixes at 100 a second for user space.
const TICKS_PER_SECOND: u64 = 100;

/// Busy CPU time since boot summed over all cores; None where /proc/stat is missing.
pub fn busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal ...: all but idle and iowait are busy.
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let busy: u64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 3 | 4) && *i < 8)
        .map(|(_, n)| n)
        .sum();
    Some(Duration::from_millis(busy * 1000 / TICKS_PER_SECOND))
}

/// Milliseconds of machine CPU per unit of work done while `busy_before` .. now.
pub fn per_unit(busy_before: Option<Duration>, units: usize) -> Option<f64> {
    let spent = busy()?.checked_sub(busy_before?)?;
    Some(spent.as_secs_f64() * 1000.0 / units.max(1) as f64)
}
