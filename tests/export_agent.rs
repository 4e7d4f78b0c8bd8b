//! `task export --format agent`: the Agent job script for external tasks. The script for
//! the sample tasks below is committed as sql/mssql/agent_export_sample.sql, so that
//! scripts/parse-tsql.sh parses it with sqlfluff's tsql dialect (`STAGEHAND_BLESS=1`
//! rewrites it after an intended change); the schedules are checked here.

#[macro_use]
mod common;

use common::TestDb;
use stagehand::catalog;
use stagehand::import::agent_script::script;
use stagehand::schedule::{parse_tasks, TaskDefinition};
use std::path::Path;
use std::process::Command;

const SAMPLE: &str = r#"[
  {"id": "weekly-cleanup", "description": "SQL Server Agent job Weekly cleanup",
   "command": "EXEC dbo.Cleanup @Days = 30; -- it's idempotent", "executor": "external",
   "timeZone": "Europe/London", "maxAttempts": 3, "retryDelaySeconds": 300,
   "triggers": [
     {"recurrence": "weekly", "start": "2025-01-06T22:00:00", "weekdays": ["mon", "fri"]},
     {"recurrence": "weekly", "start": "2025-01-05T03:00:00", "intervalWeeks": 2, "enabled": false}]},
  {"id": "month-ends", "command": "EXEC dbo.CloseMonth;", "executor": "external",
   "timeZone": "Europe/London",
   "triggers": [
     {"recurrence": "monthly", "start": "2025-01-01T06:00:00", "monthDays": [1, "last"],
      "expires": "2026-01-01T00:00:00"},
     {"recurrence": "monthly", "start": "2025-01-01T09:00:00",
      "monthWeekdays": [{"week": 4, "weekday": "mon"}],
      "repetition": {"everyMinutes": 30, "until": "11:30"}},
     {"recurrence": "daily", "start": "2025-01-01T08:00:00", "intervalDays": 2,
      "repetition": {"everyMinutes": 60, "durationMinutes": 600}},
     {"recurrence": "minutely", "start": "2025-01-01T00:05:00", "intervalMinutes": 15},
     {"recurrence": "once", "start": "2025-03-15T09:30:00"},
     {"recurrence": "driverStart"},
     {"recurrence": "monthly", "start": "2025-01-01T07:00:00",
      "monthWeekdays": [{"week": 2, "weekday": "weekday"}, {"week": "last", "weekday": "weekendDay"}]},
     {"recurrence": "daily", "start": "2025-01-01T22:00:00",
      "repetition": {"everyMinutes": 20, "durationMinutes": 240}},
     {"recurrence": "daily", "start": "2025-01-01T23:00:00",
      "repetition": {"everyMinutes": 15, "until": "01:30"}}]}
]"#;

fn sample() -> Vec<TaskDefinition> {
    parse_tasks(SAMPLE).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_sample_script_is_committed_and_schedules_match_the_triggers() {
    let tasks = sample();
    let text = script(&tasks.iter().collect::<Vec<_>>(), "ERP").unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/mssql/agent_export_sample.sql");
    if std::env::var_os("STAGEHAND_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "sql/mssql/agent_export_sample.sql is what the sample exports to"
    );
    // Idempotent: each job deleted when it exists, all in one transaction.
    assert_eq!(text.matches("EXEC msdb.dbo.sp_delete_job").count(), 2);
    assert_eq!(text.matches("EXEC msdb.dbo.sp_add_job\n").count(), 2);
    assert_eq!(text.matches("BEGIN TRANSACTION;").count(), 1);
    assert!(text.contains("N'EXEC dbo.Cleanup @Days = 30; -- it''s idempotent'"));
    assert!(text.contains("@retry_attempts = 2,\n        @retry_interval = 5,"));
    // One schedule per trigger, and one per day of a monthly trigger.
    assert_eq!(
        text.matches("EXEC msdb.dbo.sp_add_schedule").count(),
        2 + 11
    );
    let schedule = |name: &str| {
        let at = text.find(&format!("@schedule_name = N'{name}'")).unwrap();
        text[at..text[at..].find("OUTPUT").unwrap() + at].to_string()
    };
    // Monday and Friday: bits 2 and 32.
    assert!(
        schedule("weekly-cleanup - 1").contains("@freq_type = 8,\n        @freq_interval = 34,")
    );
    assert!(schedule("weekly-cleanup - 2").contains("@enabled = 0,"));
    assert!(schedule("weekly-cleanup - 2").contains("@freq_recurrence_factor = 2,"));
    // The 1st, and the last day (relative 16, freq_interval 8), through 2025-12-31.
    assert!(schedule("month-ends - 1").contains("@freq_type = 16,\n        @freq_interval = 1,"));
    assert!(schedule("month-ends - 2").contains("@freq_type = 32,\n        @freq_interval = 8,"));
    assert!(schedule("month-ends - 2").contains("@active_end_date = 20251231,"));
    // The fourth Monday (relative 8, Monday is 2) every 30 minutes until 11:30.
    let fourth_monday = schedule("month-ends - 3");
    assert!(fourth_monday.contains("@freq_interval = 2,"));
    assert!(fourth_monday.contains("@freq_subday_type = 4,\n        @freq_subday_interval = 30,"));
    assert!(fourth_monday.contains("@freq_relative_interval = 8,"));
    assert!(fourth_monday.contains("@active_end_time = 113000,"));
    // Ten hours from 08:00: the last run at or before 17:59:59.
    assert!(schedule("month-ends - 4").contains("@active_end_time = 175959,"));
    // Every 15 minutes from 00:05.
    assert!(schedule("month-ends - 5").contains("@active_start_time = 500,"));
    assert!(schedule("month-ends - 6").contains("@freq_type = 1,"));
    assert!(schedule("month-ends - 7").contains("@freq_type = 64,"));
    // The second weekday (freq_interval 9) and the last weekend day (10).
    let second_weekday = schedule("month-ends - 8");
    assert!(second_weekday.contains("@freq_type = 32,\n        @freq_interval = 9,"));
    assert!(second_weekday.contains("@freq_relative_interval = 2,"));
    let last_weekend_day = schedule("month-ends - 9");
    assert!(last_weekend_day.contains("@freq_type = 32,\n        @freq_interval = 10,"));
    assert!(last_weekend_day.contains("@freq_relative_interval = 16,"));
    // Windows across midnight: an end time before the start time, as Agent reads it.
    let night = schedule("month-ends - 10");
    assert!(night.contains("@active_start_time = 220000,\n        @active_end_time = 15959,"));
    let until = schedule("month-ends - 11");
    assert!(until.contains("@active_start_time = 230000,\n        @active_end_time = 13000,"));
}

#[test]
fn triggers_agent_cannot_express_are_refused_by_name() {
    let tasks = parse_tasks(
        r#"[{"id": "x", "command": "SELECT 1;", "executor": "external", "timeZone": "UTC",
             "triggers": [{"recurrence": "cron", "cron": "0 * * * *"},
                          {"recurrence": "daily", "start": "2025-01-01T00:00", "months": [1]},
                          {"recurrence": "daily", "start": "2025-01-01T00:00", "randomDelaySeconds": 5},
                          {"recurrence": "driverStart", "delaySeconds": 5},
                          {"recurrence": "daily", "start": "2025-01-01T00:00",
                           "repetition": {"everyMinutes": 60, "durationMinutes": 1441}}]}]"#,
    )
    .unwrap();
    let error = script(&tasks.iter().collect::<Vec<_>>(), "ERP").unwrap_err();
    assert!(error.contains("x: triggers[0]: a cron trigger"), "{error}");
    assert!(error.contains("x: triggers[1]: a months filter"), "{error}");
    assert!(
        error.contains("x: triggers[2]: randomDelaySeconds"),
        "{error}"
    );
    assert!(
        error.contains("x: triggers[3]: a delay after the start (delaySeconds)"),
        "{error}"
    );
    assert!(
        error.contains("x: triggers[4]: a repetition window longer than a day"),
        "{error}"
    );
}

conformance!(export_writes_the_script_of_the_stored_external_tasks);
async fn export_writes_the_script_of_the_stored_external_tasks(db: &TestDb) {
    let mut tasks = sample();
    let driver_task = parse_tasks(
        r#"[{"id": "not-exported", "command": "true", "timeZone": "UTC",
             "triggers": [{"recurrence": "once", "start": "2030-01-01T00:00"}]}]"#,
    )
    .unwrap();
    tasks.extend(driver_task);
    let rows: Vec<_> = tasks
        .iter()
        .map(|t| catalog::to_save(t, chrono::Utc::now()))
        .collect();
    db.save_tasks(&rows).await.expect("SaveTasks");
    let output = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args([
            "task",
            "export",
            "--format",
            "agent",
            "--step-database",
            "ERP",
        ])
        .env("STAGEHAND_DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{db}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Tasks come back by name (month-ends, not-exported, weekly-cleanup): the script of
    // the two external ones, in that order.
    let external: Vec<&TaskDefinition> = vec![&tasks[1], &tasks[0]];
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        script(&external, "ERP").unwrap(),
        "{db}"
    );
}
