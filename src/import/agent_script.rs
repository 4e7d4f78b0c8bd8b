//! `stagehand task export --format agent`: a T-SQL script that creates one SQL Server
//! Agent job per `external` task, for shops that keep Agent as the executor: a T-SQL step
//! running the task's command in the given database (retries as the task's), and the
//! task's triggers as Agent schedules. Idempotent: a job of the same name is deleted
//! (with its schedules) and created again; all jobs are written in one transaction.
//!
//! Triggers Agent cannot express (cron, months filters, several weekdays of the month in
//! one trigger are split into one schedule each; random delays) are refused, naming the
//! task and the trigger, so the script never runs at other times than the task.

use crate::schedule::{
    DayKind, MonthDay, Recurrence, RepetitionEnd, TaskDefinition, TimeSpec, TriggerDefinition,
    WeekOfMonth,
};
use chrono::{Datelike, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Weekday};
use std::fmt::Write;

/// One Agent schedule: the sp_add_schedule arguments.
#[derive(Debug, Clone, Default)]
struct AgentSchedule {
    enabled: bool,
    freq_type: i32,
    freq_interval: i32,
    freq_subday_type: i32,
    freq_subday_interval: i32,
    freq_relative_interval: i32,
    freq_recurrence_factor: i32,
    active_start_date: i32,
    active_end_date: i32,
    active_start_time: i32,
    active_end_time: i32,
}

/// The script for `tasks` (external tasks), their steps running in `database`.
pub fn script(tasks: &[&TaskDefinition], database: &str) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut jobs = String::new();
    for task in tasks {
        let mut schedules = Vec::new();
        for (index, trigger) in task.triggers.iter().enumerate() {
            match schedules_of(task, trigger) {
                Ok(found) => schedules.extend(found),
                Err(why) => problems.push(format!("{}: triggers[{index}]: {why}", task.id)),
            }
        }
        job(&mut jobs, task, &schedules);
    }
    if !problems.is_empty() {
        return Err(format!(
            "these triggers have no SQL Server Agent schedule; nothing was written:\n  {}",
            problems.join("\n  ")
        ));
    }
    let mut out = String::new();
    let _ = write!(
        out,
        "-- stagehand: SQL Server Agent jobs for {count} external task(s), written by\n\
         -- `stagehand task export --format agent`. Run it in sqlcmd or SSMS (sysadmin, or\n\
         -- SQLAgentOperatorRole in msdb). Re-runnable: each job is deleted first when it\n\
         -- exists, with its schedules, and created anew; all jobs or none.\n\
         SET NOCOUNT ON;\n\
         SET XACT_ABORT ON;\n\
         \n\
         DECLARE @DatabaseName sysname = {database};\n\
         DECLARE @OwnerLogin sysname = SUSER_SNAME();\n\
         DECLARE @ScheduleID int;\n\
         \n\
         BEGIN TRY\n\
         \x20   IF DB_ID(@DatabaseName) IS NULL\n\
         \x20       THROW 50000, N'DatabaseName: no such database; set @DatabaseName at the top of this script', 1;\n\
         \n\
         \x20   BEGIN TRANSACTION;\n\
         {jobs}\
         \x20   COMMIT TRANSACTION;\n\
         END TRY\n\
         BEGIN CATCH\n\
         \x20   IF XACT_STATE() <> 0\n\
         \x20       ROLLBACK TRANSACTION;\n\
         \x20   THROW;\n\
         END CATCH;\n",
        count = tasks.len(),
        database = literal(database),
    );
    Ok(out)
}

/// An N'...' literal.
fn literal(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

fn job(out: &mut String, task: &TaskDefinition, schedules: &[AgentSchedule]) {
    let name = literal(&task.id);
    let description = literal(
        &task
            .description
            .clone()
            .unwrap_or_else(|| format!("stagehand task {}", task.id))
            .chars()
            .take(512)
            .collect::<String>(),
    );
    let retries = task.max_attempts.saturating_sub(1);
    let retry_minutes = task.retry_delay_seconds.div_ceil(60);
    let _ = write!(
        out,
        "\n    -- task {id}\n\
         \x20   IF EXISTS (SELECT 1 FROM msdb.dbo.sysjobs AS s WHERE s.name = {name})\n\
         \x20       EXEC msdb.dbo.sp_delete_job @job_name = {name}, @delete_unused_schedule = 1;\n\
         \x20   EXEC msdb.dbo.sp_add_job\n\
         \x20       @job_name = {name},\n\
         \x20       @enabled = {enabled},\n\
         \x20       @description = {description},\n\
         \x20       @owner_login_name = @OwnerLogin;\n\
         \x20   EXEC msdb.dbo.sp_add_jobstep\n\
         \x20       @job_name = {name},\n\
         \x20       @step_name = {name},\n\
         \x20       @subsystem = N'TSQL',\n\
         \x20       @database_name = @DatabaseName,\n\
         \x20       @command = {command},\n\
         \x20       @retry_attempts = {retries},\n\
         \x20       @retry_interval = {retry_minutes},\n\
         \x20       @on_success_action = 1,\n\
         \x20       @on_fail_action = 2;\n",
        id = task.id.replace(['\r', '\n'], " "),
        enabled = i32::from(task.enabled),
        command = literal(&task.command),
    );
    for (number, schedule) in schedules.iter().enumerate() {
        let _ = write!(
            out,
            "    SET @ScheduleID = NULL;\n\
             \x20   EXEC msdb.dbo.sp_add_schedule\n\
             \x20       @schedule_name = {schedule_name},\n\
             \x20       @enabled = {enabled},\n\
             \x20       @freq_type = {freq_type},\n\
             \x20       @freq_interval = {freq_interval},\n\
             \x20       @freq_subday_type = {freq_subday_type},\n\
             \x20       @freq_subday_interval = {freq_subday_interval},\n\
             \x20       @freq_relative_interval = {freq_relative_interval},\n\
             \x20       @freq_recurrence_factor = {freq_recurrence_factor},\n\
             \x20       @active_start_date = {active_start_date},\n\
             \x20       @active_end_date = {active_end_date},\n\
             \x20       @active_start_time = {active_start_time},\n\
             \x20       @active_end_time = {active_end_time},\n\
             \x20       @schedule_id = @ScheduleID OUTPUT;\n\
             \x20   EXEC msdb.dbo.sp_attach_schedule @job_name = {name}, @schedule_id = @ScheduleID;\n",
            schedule_name = literal(&format!("{} - {}", task.id, number + 1)),
            enabled = i32::from(schedule.enabled),
            freq_type = schedule.freq_type,
            freq_interval = schedule.freq_interval,
            freq_subday_type = schedule.freq_subday_type,
            freq_subday_interval = schedule.freq_subday_interval,
            freq_relative_interval = schedule.freq_relative_interval,
            freq_recurrence_factor = schedule.freq_recurrence_factor,
            active_start_date = schedule.active_start_date,
            active_end_date = schedule.active_end_date,
            active_start_time = schedule.active_start_time,
            active_end_time = schedule.active_end_time,
        );
    }
    let _ = writeln!(
        out,
        "    EXEC msdb.dbo.sp_add_jobserver @job_name = {name}, @server_name = N'(local)';"
    );
}

fn yyyymmdd(at: NaiveDateTime) -> i32 {
    at.year() * 10_000 + at.month() as i32 * 100 + at.day() as i32
}

fn hhmmss(time: NaiveTime) -> i32 {
    time.hour() as i32 * 10_000 + time.minute() as i32 * 100 + time.second() as i32
}

/// Agent's weekday bits: 1 Sunday, 2 Monday, .. 64 Saturday.
fn weekday_bit(day: Weekday) -> i32 {
    1 << day.num_days_from_sunday()
}

/// The Agent schedules standing for one trigger (wall-clock times in the task's zone,
/// as Agent reads them in the server's).
fn schedules_of(
    task: &TaskDefinition,
    trigger: &TriggerDefinition,
) -> Result<Vec<AgentSchedule>, String> {
    if trigger.random_delay_seconds > 0 {
        return Err("randomDelaySeconds has no Agent equivalent".into());
    }
    let zone = task.time_zone;
    let wall = |spec: &TimeSpec| spec.wall_clock(zone);
    let end_date = trigger
        .expires
        .map(|expires| yyyymmdd(wall(&expires) - TimeDelta::seconds(1)))
        .unwrap_or(99_991_231);
    let base = |start: &TimeSpec| AgentSchedule {
        enabled: trigger.enabled,
        active_start_date: yyyymmdd(wall(start)),
        active_end_date: end_date,
        active_start_time: hhmmss(wall(start).time()),
        active_end_time: 235_959,
        freq_recurrence_factor: 1,
        ..AgentSchedule::default()
    };
    let no_months = |months: &[chrono::Month]| {
        if months.is_empty() || months.len() == 12 {
            Ok(())
        } else {
            Err("a months filter has no Agent equivalent".to_string())
        }
    };
    let mut found = match &trigger.recurrence {
        Recurrence::Once { start } => vec![AgentSchedule {
            freq_type: 1,
            freq_recurrence_factor: 0,
            ..base(start)
        }],
        Recurrence::DriverStart { delay_seconds: 1.. } => {
            return Err("a delay after the start (delaySeconds) has no Agent equivalent".into())
        }
        Recurrence::DriverStart { .. } => vec![AgentSchedule {
            enabled: trigger.enabled,
            freq_type: 64,
            active_start_date: 19_900_101,
            active_end_date: 99_991_231,
            active_end_time: 235_959,
            ..AgentSchedule::default()
        }],
        Recurrence::Minutely {
            start,
            interval_minutes,
            weekdays,
            months,
        } => {
            no_months(months)?;
            let every = interval_minutes.get() as i32;
            if 1440 % every != 0 {
                return Err(format!(
                    "every {every} minutes does not divide a day (Agent restarts the count at midnight)"
                ));
            }
            // The earliest time of day on the elapsed grid.
            let first = hhmmss(
                NaiveTime::MIN
                    + TimeDelta::minutes(
                        i64::from(wall(start).time().num_seconds_from_midnight() / 60)
                            % i64::from(every),
                    ),
            );
            let mut schedule = AgentSchedule {
                freq_type: 4,
                freq_interval: 1,
                freq_subday_type: 4,
                freq_subday_interval: every,
                active_start_time: first,
                ..base(start)
            };
            if !weekdays.is_empty() {
                schedule.freq_type = 8;
                schedule.freq_interval = weekdays.iter().map(|d| weekday_bit(*d)).sum();
            }
            vec![schedule]
        }
        Recurrence::Daily {
            start,
            interval_days,
            months,
        } => {
            no_months(months)?;
            vec![AgentSchedule {
                freq_type: 4,
                freq_interval: interval_days.get() as i32,
                ..base(start)
            }]
        }
        Recurrence::Weekly {
            start,
            interval_weeks,
            weekdays,
            months,
        } => {
            no_months(months)?;
            let days = if weekdays.is_empty() {
                weekday_bit(wall(start).weekday())
            } else {
                weekdays.iter().map(|d| weekday_bit(*d)).sum()
            };
            vec![AgentSchedule {
                freq_type: 8,
                freq_interval: days,
                freq_recurrence_factor: interval_weeks.get() as i32,
                ..base(start)
            }]
        }
        Recurrence::Monthly {
            start,
            month_days,
            month_weekdays,
            months,
        } => {
            no_months(months)?;
            let mut found = Vec::new();
            let own = [MonthDay::Day(wall(start).day() as u8)];
            let days = if month_days.is_empty() && month_weekdays.is_empty() {
                &own[..]
            } else {
                &month_days[..]
            };
            for day in days {
                found.push(match day {
                    MonthDay::Day(day) => AgentSchedule {
                        freq_type: 16,
                        freq_interval: i32::from(*day),
                        ..base(start)
                    },
                    MonthDay::Last => AgentSchedule {
                        freq_type: 32,
                        freq_interval: 8,
                        freq_relative_interval: 16,
                        ..base(start)
                    },
                });
            }
            for entry in month_weekdays {
                found.push(AgentSchedule {
                    freq_type: 32,
                    // 1 Sunday .. 7 Saturday, 9 weekday, 10 weekend day.
                    freq_interval: match entry.weekday {
                        DayKind::Named(day) => day.num_days_from_sunday() as i32 + 1,
                        DayKind::Weekday => 9,
                        DayKind::WeekendDay => 10,
                    },
                    freq_relative_interval: match entry.week {
                        WeekOfMonth::Nth(n) => 1 << (i32::from(n) - 1),
                        WeekOfMonth::Last => 16,
                    },
                    ..base(start)
                });
            }
            found
        }
        Recurrence::Cron { .. } => return Err("a cron trigger has no Agent equivalent".into()),
    };
    if let Some(repetition) = trigger.repetition {
        let start = trigger.recurrence.start().map(wall).unwrap_or_default();
        let end = match repetition.end {
            RepetitionEnd::Until(until) => until,
            // Agent ends a window whose end time is before its start time on the next
            // day, as stagehand does; its windows last at most a day.
            RepetitionEnd::Duration(minutes) if minutes.get() > 1440 => {
                return Err("a repetition window longer than a day has no Agent equivalent".into())
            }
            RepetitionEnd::Duration(minutes) => {
                (start + TimeDelta::minutes(i64::from(minutes.get())) - TimeDelta::seconds(1))
                    .time()
            }
        };
        for schedule in &mut found {
            schedule.freq_subday_type = 4;
            schedule.freq_subday_interval = repetition.every_minutes.get() as i32;
            schedule.active_end_time = hhmmss(end);
        }
    }
    Ok(found)
}
