//! The machine's zone on Windows where the WinRT calendar API is missing (Wine, Server
//! Core): read from GetDynamicTimeZoneInformation's zone key, mapped to IANA.
#![cfg(windows)]

use stagehand::schedule::{machine_time_zone, parse_task};

#[test]
fn the_machine_zone_is_known_and_becomes_the_default_time_zone() {
    let zone = machine_time_zone().expect("the machine's zone");
    let task = parse_task(
        r#"{"id":"x","command":"echo","triggers":[{"recurrence":"daily","start":"2024-12-06T15:00:00"}]}"#,
    )
    .expect("a task without timeZone");
    assert_eq!(task.time_zone, zone);
    // scripts/wine.sh runs Wine with TZ set and says which zone that is.
    match std::env::var("STAGEHAND_TEST_MACHINE_ZONE") {
        Ok(expected) => assert_eq!(zone.name(), expected),
        Err(_) => assert!(
            zone.name().contains('/') || zone.name() == "UTC",
            "{}",
            zone.name()
        ),
    }
}
