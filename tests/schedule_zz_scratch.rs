use chrono::{TimeZone, Utc};
use stagehand::schedule::{parse_task, Occurrences, Schedule};
#[test]
fn scratch() {
    let text = r#"{"id": "t", "command": "true", "timeZone": "America/Sao_Paulo", "triggers": [{"recurrence": "minutely", "start": "2024-12-06T00:00:00", "intervalMinutes": 15}]}"#;
    let s = Schedule::new(&parse_task(text).unwrap());
    let from = Utc.with_ymd_and_hms(2025,1,1,0,0,0).unwrap();
    let t0 = std::time::Instant::now();
    let mut at = from; let mut n = 0;
    while let Some(next) = s.next_after(at) { if n == 35040 { break }; at = next; n += 1; }
    println!("next_after x{n}: {:?}", t0.elapsed());
    let t0 = std::time::Instant::now();
    let mut k = 0i64;
    for i in 0..35040 { k += (from + chrono::TimeDelta::minutes(i*15)).with_timezone(&chrono_tz::America::Sao_Paulo).timestamp(); }
    println!("with_timezone x35040: {:?} {k}", t0.elapsed());
    let t0 = std::time::Instant::now();
    let v = s.upcoming(from, 35040);
    println!("upcoming: {:?} {}", t0.elapsed(), v.len());
}
