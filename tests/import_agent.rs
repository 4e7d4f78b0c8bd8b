//! `task import --from agent|agent-file`: the Agent rows in tests/data/agent/jobs.json
//! (every freq_type and freq_subday_type, and what cannot be imported) with the task JSON
//! and next ten fire times each maps to (tests/data/agent-expected/jobs.json, reviewed by
//! hand; `STAGEHAND_BLESS=1` rewrites it after an intended change); and, on SQL Server,
//! jobs created with the msdb procedures, read back through the documented query.

#[macro_use]
mod common;

use chrono::{DateTime, Utc};
use common::TestDb;
use serde_json::{json, Value};
use stagehand::import::agent::{map_job, map_jobs, Job, Options};
use stagehand::import::sqlcmd::{self, Refusal, TsqlStep};
use stagehand::schedule::{parse_tasks, Schedule};
use stagehand::store::BackendKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ZONE: &str = "Europe/London";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn jobs_text() -> String {
    std::fs::read_to_string(data().join("agent/jobs.json")).unwrap()
}

fn after() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A mapped job validated in ZONE with its next ten fire times, or its refusals.
fn outcome(source: &str, result: &Result<Value, Vec<stagehand::import::Unsupported>>) -> Value {
    match result {
        Ok(value) => {
            let mut value = value.clone();
            value["timeZone"] = ZONE.into();
            let task = parse_tasks(&Value::Array(vec![value]).to_string())
                .unwrap_or_else(|e| panic!("{source}: {e}"))
                .remove(0);
            let next: Vec<String> = Schedule::new(&task)
                .upcoming(after(), 10)
                .into_iter()
                .map(|(at, _)| at.to_rfc3339())
                .collect();
            json!({"source": source, "task": task.to_json(), "next": next})
        }
        Err(problems) => {
            let refused: Vec<String> = problems.iter().map(ToString::to_string).collect();
            json!({"source": source, "refused": refused})
        }
    }
}

fn mapped(options: &Options) -> Vec<Value> {
    map_jobs(&jobs_text(), options)
        .unwrap()
        .iter()
        .map(|m| outcome(&m.source, &m.result))
        .collect()
}

fn find<'a>(all: &'a [Value], source: &str) -> &'a Value {
    all.iter()
        .find(|m| m["source"] == source)
        .unwrap_or_else(|| panic!("{source}"))
}

#[test]
fn the_agent_rows_map_as_expected() {
    let found = Value::Array(mapped(&Options::default()));
    let expected_path = data().join("agent-expected/jobs.json");
    if std::env::var_os("STAGEHAND_BLESS").is_some() {
        std::fs::create_dir_all(expected_path.parent().unwrap()).unwrap();
        std::fs::write(
            &expected_path,
            serde_json::to_string_pretty(&found).unwrap() + "\n",
        )
        .unwrap();
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
    assert_eq!(found, expected);
}

/// The rules behind the expected file, checked without it.
#[test]
fn mappings_follow_the_agent_rules() {
    let all = mapped(&Options::default());
    let etl = find(&all, "ERP - nightly ETL");
    assert_eq!(
        etl["task"]["command"],
        r"C:\ETL\extract.cmd && C:\ETL\load.cmd --all"
    );
    assert_eq!(
        etl["task"]["maxAttempts"], 3,
        "the most retries of its steps, plus one"
    );
    assert_eq!(
        etl["task"]["retryDelaySeconds"], 600,
        "retry_interval is in minutes"
    );
    assert_eq!(
        etl["task"]["description"],
        "SQL Server Agent job ERP - nightly ETL: Extract and load"
    );

    // freq_subday_type 8: every hour 08:00..18:00 inclusive, every other day.
    let sync = find(&all, "ERP - hourly sync");
    let next: Vec<&str> = sync["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        next[0], "2025-03-02T08:00:00+00:00",
        "every other day from January 1st"
    );
    assert_eq!(next[9], "2025-03-02T17:00:00+00:00");
    assert_eq!(
        sync["task"]["triggers"][0]["expires"], "2026-01-01T00:00:00",
        "through active_end_date"
    );

    // freq_subday_type 2 in whole minutes.
    let poller = find(&all, "Two-minute poller");
    assert_eq!(
        poller["task"]["triggers"][0]["repetition"],
        json!({"everyMinutes": 2, "until": "07:00"})
    );

    // A window across midnight belongs to the day it starts on: Monday to Friday nights
    // from 22:00 until 02:00 the next morning. Saturday March 1st has the end of
    // Friday's window and opens none.
    let night = find(&all, "Night window");
    assert_eq!(
        night["task"]["triggers"][0]["repetition"],
        json!({"everyMinutes": 30, "until": "02:00"})
    );
    assert_eq!(
        night["next"].as_array().unwrap()[..5],
        [
            "2025-03-01T00:30:00+00:00",
            "2025-03-01T01:00:00+00:00",
            "2025-03-01T01:30:00+00:00",
            "2025-03-01T02:00:00+00:00",
            "2025-03-03T22:00:00+00:00"
        ]
    );

    let cleanup = find(&all, "Weekly cleanup");
    assert_eq!(
        cleanup["task"]["executor"], "external",
        "T-SQL: Agent keeps running it"
    );
    assert_eq!(
        cleanup["task"]["triggers"][0]["weekdays"],
        json!(["mon", "fri"])
    );
    assert_eq!(cleanup["task"]["triggers"][1]["enabled"], false);

    let quarterly = find(&all, "Quarterly report");
    assert_eq!(
        quarterly["task"]["triggers"][0]["months"],
        json!([2, 5, 8, 11])
    );
    let last_friday = find(&all, "Last Friday");
    assert_eq!(last_friday["next"][0], "2025-03-28T17:00:00+00:00");
    assert_eq!(last_friday["next"][1], "2025-04-25T17:00:00+01:00");
    let starts = find(&all, "Month starts");
    assert_eq!(
        starts["task"]["triggers"][0]["monthDays"],
        json!([1]),
        "freq_interval 8: day"
    );
    assert_eq!(
        find(&all, "At Agent start")["task"]["triggers"][0]["recurrence"],
        "driverStart"
    );
    assert_eq!(find(&all, "One time")["task"]["enabled"], false);

    // freq_interval 9 and 10: the n-th weekday (Monday to Friday) or weekend day.
    let weekday = find(&all, "Weekday relative");
    assert_eq!(
        weekday["task"]["triggers"][1]["monthWeekdays"],
        json!([{"week": "last", "weekday": "weekday"}])
    );
    assert_eq!(
        weekday["next"].as_array().unwrap()[..4],
        [
            "2025-03-03T06:00:00+00:00",
            "2025-03-31T18:00:00+01:00",
            "2025-04-01T06:00:00+01:00",
            "2025-04-30T18:00:00+01:00",
        ],
        "Saturday March 1st is no weekday; the clocks go forward on the 30th"
    );
    let weekend = find(&all, "Weekend relative");
    assert_eq!(
        weekend["task"]["triggers"][0]["monthWeekdays"],
        json!([{"week": 4, "weekday": "weekendDay"}])
    );
    assert_eq!(
        weekend["next"].as_array().unwrap()[..4],
        [
            "2025-03-09T09:30:00+00:00",
            // 01:30 on the last Sunday of March is in the gap: the end of the gap.
            "2025-03-30T02:00:00+01:00",
            "2025-04-13T09:30:00+01:00",
            "2025-04-27T01:30:00+01:00",
        ],
        "weekend days of March 2025: the 1st, 2nd, 8th, 9th .. 30th"
    );

    for (job, element) in [
        ("Idle job", "sysschedules[idle].freq_type"),
        ("SSIS load", "sysjobsteps[1].subsystem"),
        (
            "Branching",
            "sysjobsteps[1].on_success_action/on_fail_action",
        ),
        ("On demand", "sysjobschedules"),
    ] {
        let refused = find(&all, job)["refused"].as_array().unwrap().clone();
        assert!(
            refused.iter().any(|r| r
                .as_str()
                .unwrap()
                .starts_with(&format!("{job}: {element}: "))),
            "{job}: {refused:?}"
        );
    }
}

#[test]
fn selection_and_sqlcmd() {
    let only = mapped(&Options {
        job: Some("Weekly cleanup".into()),
        tsql_as_sqlcmd: true,
        ..Options::default()
    });
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["task"]["executor"], "driver");
    assert_eq!(only[0]["task"]["command"], "sqlcmd");
    // No server_name in the saved row: the local default instance.
    assert_eq!(
        only[0]["task"]["arguments"],
        json!([
            "-E",
            "-b",
            "-x",
            "-d",
            "ERP",
            "-Q",
            "DECLARE @batch nvarchar(max); BEGIN TRY \
             SET @batch = CAST(N'EXEC dbo.Cleanup @Days = 30;' AS nvarchar(max)); \
             EXEC [ERP].sys.sp_executesql @batch; END TRY BEGIN CATCH THROW; END CATCH;"
        ])
    );
    let erp = mapped(&Options {
        category: Some("ERP".into()),
        ..Options::default()
    });
    assert_eq!(erp.len(), 3);
    let missing = map_jobs(
        &jobs_text(),
        &Options {
            job: Some("nope".into()),
            ..Options::default()
        },
    );
    assert_eq!(missing.unwrap_err(), r#"no job named "nope""#);
    assert!(map_jobs("{}", &Options::default())
        .unwrap_err()
        .contains("not the JSON of the Agent query"));
}

#[test]
fn a_multi_step_tsql_job_is_one_sqlcmd_in_step_order() {
    let sqlcmd = Options {
        tsql_as_sqlcmd: true,
        ..Options::default()
    };
    let all = mapped(&sqlcmd);
    let close = find(&all, "ERP - month close");
    assert_eq!(close["task"]["executor"], "driver");
    assert_eq!(close["task"]["command"], "sqlcmd");
    let arguments: Vec<&str> = close["task"]["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        arguments[..7],
        ["-E", "-b", "-x", "-S", r"ERPSQL01\PROD", "-d", "ERP"],
        "the job's server, the first step's database"
    );
    assert_eq!(arguments[7], "-Q");
    let (batches, databases) = decode(arguments[8]);
    assert_eq!(
        batches,
        [
            "EXEC dbo.FreezePeriod @Note = N'it''s month end';",
            "TRUNCATE TABLE dbo.Ledger;\r\n",
            "CREATE OR ALTER VIEW dbo.Open AS SELECT 1 AS x;\r\n",
            "EXEC dbo.PostLedger;",
        ],
        "every batch of every step, in order, split at GO"
    );
    assert_eq!(databases, ["ERP", "Staging", "Staging", "ERP"]);
    // Other flows are still refused with sqlcmd, naming the step; Agent may keep them.
    let jump = find(&all, "T-SQL with a jump");
    assert_eq!(
        jump["refused"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().split(": ").nth(1).unwrap())
            .collect::<Vec<_>>(),
        [
            "sysjobsteps[1].on_success_action/on_fail_action",
            "sysjobsteps[2].on_success_action/on_fail_action",
            "sysjobsteps[3].on_success_action/on_fail_action",
        ],
        "a failure that goes to step 3, a middle step that quits, a last one that fails"
    );
    let external = mapped(&Options::default());
    assert_eq!(
        find(&external, "T-SQL with a jump")["task"]["executor"],
        "external"
    );
}

/// Step text and database names that try to break out of the sqlcmd script: quotes,
/// brackets, comments, line ends, GO lines, sqlcmd commands (`!!` runs a shell command,
/// `:r` reads a file) and variables.
const HOSTILE: [(&str, &str); 3] = [
    (
        "ERP'; DROP DATABASE x; --",
        "INSERT INTO dbo.sqlcmd_steps VALUES (1, N'it''s ]; DROP TABLE dbo.sqlcmd_steps; --');\n\
         /* ' */ PRINT N'\r\n!! echo broken out\n:r C:\\secrets.sql\n:setvar X 1\n';",
    ),
    (
        "Stag]ing [x]",
        "INSERT INTO dbo.sqlcmd_steps VALUES (2, N'second');\nGO\n\
         CREATE OR ALTER PROCEDURE dbo.sqlcmd_probe AS SELECT N'GO' AS word;\n  go  \n",
    ),
    ("x", "PRINT N'--'' ; EXIT(SELECT 1)'"),
];

#[test]
fn step_text_and_database_names_stay_inside_their_quotes() {
    let steps: Vec<TsqlStep> = HOSTILE
        .iter()
        .map(|(database, command)| TsqlStep { command, database })
        .collect();
    let arguments = sqlcmd::arguments(&steps, Some("-S evil")).unwrap();
    // Program form: each value is one argument, whatever it holds.
    assert_eq!(arguments[3..5], ["-S", "-S evil"]);
    assert_eq!(arguments[5..7], ["-d", HOSTILE[0].0]);
    let script = &arguments[8];
    // sqlcmd reads GO and its commands only at the start of a line: there is one line.
    assert!(!script.contains('\n') && !script.contains('\r'), "{script}");
    let (batches, databases) = decode(script);
    assert_eq!(
        batches,
        [
            HOSTILE[0].1,
            "INSERT INTO dbo.sqlcmd_steps VALUES (2, N'second');\n",
            "CREATE OR ALTER PROCEDURE dbo.sqlcmd_probe AS SELECT N'GO' AS word;\n",
            HOSTILE[2].1,
        ]
    );
    assert_eq!(
        databases,
        [HOSTILE[0].0, HOSTILE[1].0, HOSTILE[1].0, HOSTILE[2].0]
    );
    // Agent tokens only Agent replaces, and GO with a count, are refused by step.
    let tokens = [TsqlStep {
        command: "PRINT N'$(ESCAPE_SQUOTE(JOBNAME))';",
        database: "ERP",
    }];
    assert_eq!(
        sqlcmd::arguments(&tokens, None),
        Err((0, Refusal::AgentTokens))
    );
}

conformance!(sqlcmd_scripts_run_their_steps_in_order_and_stop_at_the_first_error);
async fn sqlcmd_scripts_run_their_steps_in_order_and_stop_at_the_first_error(db: &TestDb) {
    if db.kind() != BackendKind::SqlServer {
        // The script is T-SQL; its quoting is checked above on every machine.
        return;
    }
    // The steps run as sqlcmd would send the script: as one batch on a connection to
    // the first step's database. The second step runs in a database of its own.
    let other_url = db.empty_database().await;
    let other = other_url
        .rsplit('/')
        .next()
        .and_then(|rest| rest.split('?').next())
        .expect("a database in the URL")
        .to_string();
    db.exec("CREATE TABLE dbo.sqlcmd_steps (n int NOT NULL, note nvarchar(400) NOT NULL);")
        .await;
    db.exec(&format!(
        "EXEC [{}].sys.sp_executesql N'CREATE TABLE dbo.sqlcmd_other (n int NOT NULL);';",
        other.replace(']', "]]")
    ))
    .await;
    let mine = db.database_name().to_string();
    let steps = [
        TsqlStep {
            command: HOSTILE[0].1,
            database: &mine,
        },
        // Unqualified: it must run in the other database.
        TsqlStep {
            command: "INSERT INTO dbo.sqlcmd_other VALUES (2);\nGO\n\
                      CREATE OR ALTER PROCEDURE dbo.sqlcmd_probe AS SELECT N'GO' AS word;\n",
            database: &other,
        },
        TsqlStep {
            command: "RAISERROR(N'step three fails', 16, 1);\nINSERT INTO dbo.sqlcmd_steps VALUES (3, N'after the error');",
            database: &mine,
        },
        TsqlStep {
            command: "INSERT INTO dbo.sqlcmd_steps VALUES (4, N'never');",
            database: &mine,
        },
    ];
    let arguments = sqlcmd::arguments(&steps, None).unwrap();
    let failed = db.execute_sql(&arguments[8]).await;
    let error = format!("{:#}", failed.expect_err("step three fails"));
    assert!(error.contains("step three fails"), "{db}: {error}");
    assert_eq!(db.count("dbo.sqlcmd_steps WHERE n = 1").await, 1, "{db}");
    assert_eq!(
        db.count(
            "dbo.sqlcmd_steps WHERE n = 1 AND note = N'it''s ]; DROP TABLE dbo.sqlcmd_steps; --'"
        )
        .await,
        1,
        "{db}: the text reached the server as written"
    );
    assert_eq!(
        db.count(&format!("[{}].dbo.sqlcmd_other", other.replace(']', "]]")))
            .await,
        1,
        "{db}: step 2 ran in its own database"
    );
    assert_eq!(
        db.count(&format!(
            "[{}].sys.procedures WHERE name = N'sqlcmd_probe'",
            other.replace(']', "]]")
        ))
        .await,
        1,
        "{db}: its second batch too"
    );
    assert_eq!(
        db.count("dbo.sqlcmd_steps WHERE n > 1").await,
        0,
        "{db}: nothing after the first error"
    );
}

/// Reads a `-Q` script back the way SQL Server reads it: the text of each N'...' literal
/// (quotes doubled) and each [identifier] (`]` doubled), and checks that everything
/// outside them is the fixed frame (a quote left unescaped would leave text outside).
/// Returns the batches (literal pieces joined by their NCHAR line ends) and the database
/// of each.
fn decode(script: &str) -> (Vec<String>, Vec<String>) {
    let mut frame = String::new();
    let mut pieces: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        let close = match c {
            '\'' => '\'',
            '[' => ']',
            c => {
                frame.push(c);
                continue;
            }
        };
        let mut text = String::new();
        loop {
            match chars.next() {
                Some(x) if x == close && chars.peek() == Some(&close) => {
                    chars.next();
                    text.push(close);
                }
                Some(x) if x == close => break,
                Some(x) => text.push(x),
                None => panic!("unterminated {c} in {script}"),
            }
        }
        frame.push(c);
        frame.push(close);
        if c == '[' {
            names.push(text);
        } else {
            pieces.push(text);
        }
    }
    // The frame: a literal is CAST(N'' AS nvarchar(max)), line ends are NCHAR(13|10).
    let frame = frame
        .replace("CAST(N'' AS nvarchar(max))", "L")
        .replace(" + NCHAR(13) + ", "R")
        .replace(" + NCHAR(10) + ", "N");
    let inner = frame
        .strip_prefix("DECLARE @batch nvarchar(max); BEGIN TRY ")
        .and_then(|rest| rest.strip_suffix("END TRY BEGIN CATCH THROW; END CATCH;"))
        .unwrap_or_else(|| panic!("frame: {frame}"));
    let mut batches = Vec::new();
    let mut pieces = pieces.into_iter();
    for statement in inner.split_terminator("; EXEC [].sys.sp_executesql @batch; ") {
        let expression = statement
            .strip_prefix("SET @batch = ")
            .unwrap_or_else(|| panic!("statement: {statement}"));
        let mut batch = String::new();
        for token in expression.chars() {
            match token {
                'L' => batch += &pieces.next().expect("a literal"),
                'R' => batch.push('\r'),
                'N' => batch.push('\n'),
                other => panic!("{other:?} outside the literals in {frame}"),
            }
        }
        batches.push(batch);
    }
    assert!(pieces.next().is_none());
    assert_eq!(names.len(), batches.len());
    (batches, names)
}

fn stagehand(db: Option<&TestDb>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagehand"));
    command.args(args).env_remove("STAGEHAND_DATABASE_URL");
    if let Some(db) = db {
        command.env("STAGEHAND_DATABASE_URL", db.url());
    }
    command.output().expect("run stagehand")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_command_line_reads_a_saved_query_result() {
    let file = data().join("agent/jobs.json");
    let file = file.to_str().unwrap();
    let refused = stagehand(
        None,
        &["task", "import", "--from", "agent-file", file, "--dry-run"],
    );
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("Idle job: sysschedules[idle].freq_type"));
    let dry = stagehand(
        None,
        &[
            "task",
            "import",
            "--from",
            "agent-file",
            file,
            "--dry-run",
            "--skip-unsupported",
            "--time-zone",
            ZONE,
        ],
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let tasks: Vec<Value> = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(tasks.len(), 15);
}

/// The jobs of jobs.json that the SQL Server test creates with the msdb procedures.
const CREATED: [&str; 9] = [
    "ERP - nightly ETL",
    "ERP - hourly sync",
    "Night window",
    "Weekly cleanup",
    "Last Friday",
    "Month starts",
    "Weekday relative",
    "Weekend relative",
    "At Agent start",
];

/// T-SQL creating `job` (from jobs.json) under the name `name`.
fn create_job_sql(job: &Job, name: &str) -> String {
    let text = |s: &str| format!("N'{}'", s.replace('\'', "''"));
    let mut sql = format!(
        "EXEC msdb.dbo.sp_add_job @job_name = {n}, @enabled = {e}, @description = {d};\n",
        n = text(name),
        e = job.enabled,
        d = text(job.description.as_deref().unwrap_or("")),
    );
    for step in &job.steps {
        sql += &format!(
            "EXEC msdb.dbo.sp_add_jobstep @job_name = {n}, @step_name = {s}, @subsystem = {sub}, \
             @command = {c}, @database_name = {db}, @retry_attempts = {ra}, @retry_interval = {ri}, \
             @on_success_action = {osa}, @on_fail_action = {ofa};\n",
            n = text(name),
            s = text(&step.step_name),
            sub = text(&step.subsystem),
            c = text(step.command.as_deref().unwrap_or("")),
            // sp_add_jobstep checks that the database exists; which one does not matter
            // here (an external task does not keep it).
            db = if step.subsystem == "TSQL" { "N'master'" } else { "NULL" },
            ra = step.retry_attempts,
            ri = step.retry_interval,
            osa = step.on_success_action,
            ofa = step.on_fail_action,
        );
    }
    for s in &job.schedules {
        sql += &format!(
            "EXEC msdb.dbo.sp_add_jobschedule @job_name = {n}, @name = {sn}, @enabled = {en}, \
             @freq_type = {ft}, @freq_interval = {fi}, @freq_subday_type = {st}, \
             @freq_subday_interval = {si}, @freq_relative_interval = {rel}, \
             @freq_recurrence_factor = {rf}, @active_start_date = {sd}, @active_end_date = {ed}, \
             @active_start_time = {stt}, @active_end_time = {et};\n",
            n = text(name),
            sn = text(&format!("{name} {}", s.schedule_name)),
            en = s.enabled,
            ft = s.freq_type,
            fi = s.freq_interval,
            st = s.freq_subday_type.max(1),
            si = s.freq_subday_interval,
            rel = s.freq_relative_interval,
            rf = s.freq_recurrence_factor,
            sd = s.active_start_date,
            ed = s.active_end_date,
            stt = s.active_start_time,
            et = s.active_end_time,
        );
    }
    sql
}

conformance!(agent_jobs_are_read_from_msdb);
async fn agent_jobs_are_read_from_msdb(db: &TestDb) {
    if db.kind() != BackendKind::SqlServer {
        // PostgreSQL has no Agent: the command says so, naming what it needs.
        let refused = stagehand(
            Some(db),
            &["task", "import", "--from", "agent", "--dry-run"],
        );
        assert!(!refused.status.success());
        assert!(
            text(&refused.stderr).contains("read over a SQL Server connection"),
            "{db}: {}",
            text(&refused.stderr)
        );
        return;
    }
    let jobs: Vec<Job> = serde_json::from_str(&jobs_text()).unwrap();
    let prefix = format!("stagehand-test-{}-", std::process::id());
    let created: Vec<(Job, String)> = jobs
        .into_iter()
        .filter(|job| CREATED.contains(&job.job_name.as_str()))
        .map(|job| {
            let name = format!("{prefix}{}", job.job_name);
            (job, name)
        })
        .collect();
    for (job, name) in &created {
        db.exec(&create_job_sql(job, name)).await;
    }
    let read = db.store().agent_jobs().await.expect("the Agent query");
    let result = map_jobs(&read, &Options::default()).expect("the query's JSON");
    for (job, name) in &created {
        let from_msdb = result
            .iter()
            .find(|m| &m.source == name)
            .unwrap_or_else(|| panic!("{db}: {name} read back"));
        let mut renamed = job.clone();
        renamed.job_name = name.clone();
        for schedule in &mut renamed.schedules {
            schedule.schedule_name = format!("{name} {}", schedule.schedule_name);
        }
        let expected = map_job(&renamed, &Options::default());
        assert_eq!(
            outcome(name, &from_msdb.result),
            outcome(name, &expected),
            "{db}: {name}: msdb's rows map as the saved ones do"
        );
    }
    // And through the command line, one job selected by name.
    let (job, name) = &created[0];
    let dry = stagehand(
        Some(db),
        &[
            "task",
            "import",
            "--from",
            "agent",
            "--job",
            name,
            "--dry-run",
            "--time-zone",
            ZONE,
        ],
    );
    assert!(dry.status.success(), "{db}: {}", text(&dry.stderr));
    let printed: Vec<Value> = serde_json::from_slice(&dry.stdout).expect("JSON");
    let mut renamed = job.clone();
    renamed.job_name = name.clone();
    assert_eq!(
        printed,
        [outcome(name, &map_job(&renamed, &Options::default()))["task"].clone()],
        "{db}"
    );
    for (_, name) in &created {
        db.exec(&format!(
            "EXEC msdb.dbo.sp_delete_job @job_name = N'{}', @delete_unused_schedule = 1;",
            name.replace('\'', "''")
        ))
        .await;
    }
}
