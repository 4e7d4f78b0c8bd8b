//! Live drivers (stage.DriverStatus), as `stagehand status` shows them, and the warning
//! `status` and `task list` give when none is alive.

use crate::store::DriverRow;
use chrono::Utc;
use comfy_table::{presets::UTF8_BORDERS_ONLY, Cell, CellAlignment, Table};

/// Some(warning) when no driver is alive, or none of the live ones runs the clock.
pub fn no_live_driver(drivers: &[DriverRow]) -> Option<String> {
    let mut alive = drivers.iter().filter(|d| d.alive).peekable();
    if alive.peek().is_none() {
        Some(
            "no live driver: nothing claims driver work and no trigger fires, so next-fire \
             times go stale (start `stagehand run`)"
                .to_string(),
        )
    } else if !alive.any(|d| d.clock_enabled) {
        Some(
            "no live driver runs the trigger clock (all run with --no-clock): no trigger \
             fires, so next-fire times go stale"
                .to_string(),
        )
    } else {
        None
    }
}

fn state(d: &DriverRow) -> String {
    match (d.alive, d.stopping) {
        (true, false) => "alive".into(),
        (true, true) => "stopping".into(),
        (false, _) => format!("NOT ALIVE (seen {:.0} s ago)", d.seconds_since_seen),
    }
}

/// Every known driver, alive or not, with its state.
pub fn table(drivers: &[DriverRow]) -> Table {
    let now = Utc::now();
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "Driver", "Host", "PID", "Version", "Workers", "Clock", "Up", "State",
    ]);
    for d in drivers {
        let up = (now - d.started_at).num_seconds().max(0);
        table.add_row(vec![
            Cell::new(&d.driver_name),
            Cell::new(d.host_name.as_deref().unwrap_or("")),
            Cell::new(d.process_id.map_or_else(String::new, |p| p.to_string()))
                .set_alignment(CellAlignment::Right),
            Cell::new(d.version.as_deref().unwrap_or("")),
            Cell::new(d.workers).set_alignment(CellAlignment::Right),
            Cell::new(if d.clock_enabled { "on" } else { "off" }),
            Cell::new(format!("{up} s")).set_alignment(CellAlignment::Right),
            Cell::new(state(d)),
        ]);
    }
    table
}
