//! RotateHistory: finished processes past the retention move with all their log rows,
//! then old log rows whose process is gone; batch by batch, so an interrupted rotation
//! resumes without losing or duplicating a row.

#[macro_use]
mod common;

use common::{Must, TestDb, Unit};
use stagehand::store::{BackendKind, LogLevel};

const RETENTION_MONTHS: i64 = 6;

/// The retention boundary moved by `hours` (negative: older than the cutoff), as SQL.
fn around_cutoff(db: &TestDb, hours: i64) -> String {
    db.shifted(&db.ago(RETENTION_MONTHS, Unit::Month), hours, Unit::Hour)
}

/// Registers `name` and finishes it at `end_time` (SQL), as the seed's executors do.
async fn finished(db: &TestDb, name: &str, end_time: &str) -> i64 {
    let id = db.register_new(name).await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Completed', StartTime = {end_time}, EndTime = {end_time} \
         WHERE ProcessID = {id}"
    ))
    .await;
    id
}

async fn log_at(db: &TestDb, process_id: Option<i64>, message: &str, log_time: &str) -> i64 {
    let log_id = db
        .log_message(process_id, message, LogLevel::Info, None)
        .await
        .must(db, "LogMessage")
        .expect("written: the default level is Info");
    db.exec(&format!(
        "UPDATE stage.ProcessLog SET LogTime = {log_time} WHERE LogID = {log_id}"
    ))
    .await;
    log_id
}

conformance!(rows_past_the_boundary_move_rows_inside_stay);
async fn rows_past_the_boundary_move_rows_inside_stay(db: &TestDb) {
    let old = finished(db, "old_report", &around_cutoff(db, -1)).await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET CommandStartedAt = EndTime WHERE ProcessID = {old}"
    ))
    .await;
    db.log_message(Some(old), "extra line", LogLevel::Warning, None)
        .await
        .must(db, "LogMessage");
    let young = finished(db, "young_report", &around_cutoff(db, 1)).await;
    // Old but not finished: never moves.
    let waiting = db.register_new("still_waiting").await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET CreatedAt = {} WHERE ProcessID = {waiting}",
        around_cutoff(db, -100)
    ))
    .await;
    let orphan_old = log_at(db, None, "orphan old", &around_cutoff(db, -1)).await;
    let orphan_young = log_at(db, None, "orphan young", &around_cutoff(db, 1)).await;
    // Old log row of a process still in FileControl: stays with its process.
    let young_old_log = log_at(db, Some(young), "early note", &around_cutoff(db, -1)).await;
    let old_logs = db.logs(old).await.len() as i64;
    assert_eq!(old_logs, 2, "{db}: Registered + extra line");

    let report = db
        .rotate(RETENTION_MONTHS as i32, 1000, None)
        .await
        .must(db, "RotateHistory");
    assert_eq!(
        report.processes_moved, 1,
        "{db}: only the process past the boundary moves: {report:?}"
    );
    assert_eq!(
        report.logs_moved,
        old_logs + 1,
        "{db}: its logs and the old orphan log move: {report:?}"
    );
    assert!(report.done, "{db}: one unlimited call finishes: {report:?}");

    assert!(
        db.process(old).await.must(db, "read").is_none(),
        "{db}: the old process left FileControl"
    );
    assert_eq!(
        db.count(&format!(
            "stage.FileControl_History WHERE ProcessID = {old} AND ProcessName = 'old_report' AND Status = 'Completed' \
             AND CommandStartedAt = EndTime"
        ))
        .await,
        1,
        "{db}: the old process is in FileControl_History, columns intact"
    );
    assert_eq!(
        db.count(&format!("stage.ProcessLog WHERE ProcessID = {old}"))
            .await,
        0
    );
    assert_eq!(
        db.count(&format!("stage.ProcessLog_History WHERE ProcessID = {old}"))
            .await,
        old_logs,
        "{db}: all the old process's log rows moved with it"
    );
    for (log_id, stays, what) in [
        (orphan_old, false, "an orphan log row past the boundary"),
        (orphan_young, true, "an orphan log row inside the boundary"),
        (
            young_old_log,
            true,
            "an old log row of a process still in FileControl",
        ),
    ] {
        let live = db
            .count(&format!("stage.ProcessLog WHERE LogID = {log_id}"))
            .await;
        let history = db
            .count(&format!("stage.ProcessLog_History WHERE LogID = {log_id}"))
            .await;
        let expected = if stays { (1, 0) } else { (0, 1) };
        assert_eq!(
            (live, history),
            expected,
            "{db}: {what}: (ProcessLog, ProcessLog_History) rows"
        );
    }
    assert_eq!(
        db.row(young).await.process_name,
        "young_report",
        "{db}: the young process stays"
    );
    assert_eq!(
        db.count(&format!("stage.FileControl WHERE ProcessID = {waiting}"))
            .await,
        1
    );

    let again = db
        .rotate(RETENTION_MONTHS as i32, 1000, None)
        .await
        .must(db, "RotateHistory");
    assert_eq!(
        (again.processes_moved, again.logs_moved, again.done),
        (0, 0, true),
        "{db}: nothing left"
    );
}

/// (rows in live + history, rows in both) for processes and for logs.
async fn totals(db: &TestDb) -> [(i64, i64); 2] {
    [
        (
            db.count("stage.FileControl").await + db.count("stage.FileControl_History").await,
            db.count("stage.FileControl AS f JOIN stage.FileControl_History AS h ON h.ProcessID = f.ProcessID")
                .await,
        ),
        (
            db.count("stage.ProcessLog").await + db.count("stage.ProcessLog_History").await,
            db.count("stage.ProcessLog AS l JOIN stage.ProcessLog_History AS h ON h.LogID = l.LogID").await,
        ),
    ]
}

conformance!(interrupted_rotation_resumes_without_loss_or_duplicates);
async fn interrupted_rotation_resumes_without_loss_or_duplicates(db: &TestDb) {
    const OLD: i64 = 60;
    const YOUNG: i64 = 10;
    const ORPHANS: i64 = 25;
    const BATCH: i32 = 7;
    for i in 0..OLD {
        let id = db.register_new(&format!("batch_old_{i}")).await;
        db.log_message(Some(id), "work done", LogLevel::Info, None)
            .await
            .must(db, "LogMessage");
    }
    for i in 0..YOUNG {
        db.register_new(&format!("batch_young_{i}")).await;
    }
    for i in 0..ORPHANS {
        db.log_message(None, &format!("orphan {i}"), LogLevel::Info, None)
            .await
            .must(db, "LogMessage");
    }
    let finish = |pattern: &str, end_time: String| {
        format!(
            "UPDATE stage.FileControl SET Status = 'Completed', StartTime = {end_time}, EndTime = {end_time} \
             WHERE ProcessName LIKE '{pattern}'"
        )
    };
    assert_eq!(
        db.exec(&finish("batch_old_%", db.ago(7, Unit::Month)))
            .await,
        OLD as u64
    );
    assert_eq!(
        db.exec(&finish("batch_young_%", db.ago(1, Unit::Day)))
            .await,
        YOUNG as u64
    );
    let old_orphans = format!(
        "UPDATE stage.ProcessLog SET LogTime = {} WHERE ProcessID IS NULL",
        db.ago(8, Unit::Month)
    );
    assert_eq!(db.exec(&old_orphans).await, ORPHANS as u64);

    let [(processes, _), (logs, _)] = totals(db).await;
    let (mut moved_processes, mut moved_logs, mut calls) = (0, 0, 0);
    loop {
        let report = db
            .rotate(RETENTION_MONTHS as i32, BATCH, Some(1))
            .await
            .must(db, "RotateHistory");
        calls += 1;
        assert!(
            report.processes_moved <= BATCH as i64,
            "{db}: call {calls}: one batch moves at most BatchSize processes: {report:?}"
        );
        moved_processes += report.processes_moved;
        moved_logs += report.logs_moved;
        let [(p, p_both), (l, l_both)] = totals(db).await;
        assert_eq!(
            p, processes,
            "{db}: call {calls}: FileControl + FileControl_History must stay {processes}"
        );
        assert_eq!(
            p_both, 0,
            "{db}: call {calls}: a process is in both FileControl and its history"
        );
        assert_eq!(
            l, logs,
            "{db}: call {calls}: ProcessLog + ProcessLog_History must stay {logs}"
        );
        assert_eq!(
            l_both, 0,
            "{db}: call {calls}: a log row is in both ProcessLog and its history"
        );
        if report.done {
            break;
        }
        assert!(
            calls < 100,
            "{db}: RotateHistory with MaxBatches 1 never reports Done"
        );
    }
    assert!(
        calls > 1,
        "{db}: MaxBatches 1 must stop after one batch of {BATCH}, not move everything"
    );
    assert_eq!(moved_processes, OLD, "{db}: every old process moved once");
    assert_eq!(
        moved_logs,
        OLD * 2 + ORPHANS,
        "{db}: their logs (Registered + one) and the orphans moved"
    );
    assert_eq!(db.count("stage.FileControl_History").await, OLD);
    assert_eq!(
        db.count("stage.FileControl").await,
        YOUNG,
        "{db}: the young processes stay"
    );
    assert_eq!(
        db.count("stage.ProcessLog").await,
        YOUNG,
        "{db}: the young processes' logs stay"
    );
}

conformance!(oldest_end_time_moves_first);
async fn oldest_end_time_moves_first(db: &TestDb) {
    // Registered in one order, finished in the other: the older EndTime moves first, and
    // between equal EndTimes the lower ProcessID.
    let later = finished(db, "finished_later", &around_cutoff(db, -2)).await;
    let tied = finished(db, "finished_tied", &around_cutoff(db, -2)).await;
    let earlier = finished(db, "finished_earlier", &around_cutoff(db, -5)).await;
    let orphan_later = log_at(db, None, "orphan later", &around_cutoff(db, -2)).await;
    let orphan_earlier = log_at(db, None, "orphan earlier", &around_cutoff(db, -5)).await;

    let mut moved = Vec::new();
    for _ in 0..3 {
        let report = db
            .rotate(RETENTION_MONTHS as i32, 1, Some(1))
            .await
            .must(db, "RotateHistory");
        assert_eq!(
            report.processes_moved, 1,
            "{db}: one process a batch: {report:?}"
        );
        let gone: Vec<i64> = [later, tied, earlier]
            .into_iter()
            .filter(|id| !moved.contains(id))
            .collect();
        for id in gone {
            if db.process(id).await.must(db, "read").is_none() {
                moved.push(id);
            }
        }
    }
    assert_eq!(
        moved,
        [earlier, later, tied],
        "{db}: by EndTime, then ProcessID"
    );

    let report = db
        .rotate(RETENTION_MONTHS as i32, 1, Some(1))
        .await
        .must(db, "RotateHistory");
    assert_eq!(
        (report.processes_moved, report.logs_moved),
        (0, 1),
        "{db}: then one orphan log row: {report:?}"
    );
    let history = |log_id: i64| format!("stage.ProcessLog_History WHERE LogID = {log_id}");
    assert_eq!(
        (
            db.count(&history(orphan_earlier)).await,
            db.count(&history(orphan_later)).await
        ),
        (1, 0),
        "{db}: the older orphan log row first"
    );
}

conformance!(a_retention_beyond_the_calendar_moves_nothing);
async fn a_retention_beyond_the_calendar_moves_nothing(db: &TestDb) {
    finished(db, "ancient", &db.ago(100, Unit::Month)).await;
    let report = db
        .rotate(i32::MAX, 1000, None)
        .await
        .must(db, "RotateHistory");
    assert_eq!(
        (report.processes_moved, report.logs_moved, report.done),
        (0, 0, true),
        "{db}: nothing is that old: {report:?}"
    );
}

/// `processes` finished runs named `name`, an hour past the retention, with two log rows each.
async fn old_runs_with_two_logs(db: &TestDb, name: &str, processes: i64) {
    let rows = match db.kind() {
        BackendKind::Postgres => format!("generate_series(1, {processes}) AS g(n)"),
        BackendKind::SqlServer => format!(
            "(SELECT TOP ({processes}) 1 AS n FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b) AS g"
        ),
    };
    let end_time = around_cutoff(db, -1);
    db.exec(&format!(
        "INSERT INTO stage.FileControl (ProcessName, Status, StartTime, EndTime, Attempt, MaxAttempts, \
         OverlapPolicy, Executor) SELECT '{name}', 'Completed', {end_time}, {end_time}, 1, 1, 'parallel', 'external' \
         FROM {rows}"
    ))
    .await;
    for message in ["one", "two"] {
        db.exec(&format!(
            "INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel, LogTime) \
             SELECT ProcessID, '{message}', 'Info', {end_time} FROM stage.FileControl WHERE ProcessName = '{name}'"
        ))
        .await;
    }
}

conformance!(a_batch_larger_than_a_statement_moves_whole);
async fn a_batch_larger_than_a_statement_moves_whole(db: &TestDb) {
    // More processes and log rows than one statement touches on SQL Server (1,000), fewer
    // than a batch: one batch moves them all, in several statements.
    const PROCESSES: i64 = 1500;
    old_runs_with_two_logs(db, "bulk", PROCESSES).await;
    let report = db
        .rotate(RETENTION_MONTHS as i32, 4000, Some(1))
        .await
        .must(db, "RotateHistory");
    assert_eq!(
        (report.processes_moved, report.logs_moved),
        (PROCESSES, 2 * PROCESSES),
        "{db}: one batch of 4,000 moves everything: {report:?}"
    );
    let report = db
        .rotate(RETENTION_MONTHS as i32, 4000, Some(1))
        .await
        .must(db, "RotateHistory");
    assert_eq!(
        (report.processes_moved, report.logs_moved, report.done),
        (0, 0, true),
        "{db}: nothing was left: {report:?}"
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        0,
        "{db}: FileControl empty"
    );
    assert_eq!(
        db.count("stage.ProcessLog").await,
        0,
        "{db}: ProcessLog empty"
    );
    assert_eq!(db.count("stage.FileControl_History").await, PROCESSES);
    assert_eq!(db.count("stage.ProcessLog_History").await, 2 * PROCESSES);
}

/// SQL Server's lock escalation attempts so far on the tables a rotation touches.
async fn lock_escalation_attempts(db: &TestDb) -> i64 {
    db.query_i64(
        "SELECT CAST(COALESCE(SUM(s.index_lock_promotion_attempt_count), 0) AS bigint) \
         FROM sys.dm_db_index_operational_stats(DB_ID(), NULL, NULL, NULL) AS s \
         WHERE s.object_id IN (OBJECT_ID('stage.FileControl'), OBJECT_ID('stage.ProcessLog'), \
                               OBJECT_ID('stage.FileControl_History'), OBJECT_ID('stage.ProcessLog_History'))",
    )
    .await
    .must(db, "sys.dm_db_index_operational_stats")
    .unwrap_or(0)
}

conformance!(a_rotation_past_the_escalation_threshold_keeps_row_locks);
async fn a_rotation_past_the_escalation_threshold_keeps_row_locks(db: &TestDb) {
    // 6,000 runs and 12,000 log rows in batches of 4,000: more than the 5,000 locks at which
    // one SQL Server statement escalates to a table lock (stopping every claim), were a
    // batch one statement. SQL Server counts escalation attempts; PostgreSQL has none.
    const PROCESSES: i64 = 6000;
    old_runs_with_two_logs(db, "escalation", PROCESSES).await;
    let before = match db.kind() {
        BackendKind::SqlServer => lock_escalation_attempts(db).await,
        BackendKind::Postgres => 0,
    };
    let report = db
        .rotate(RETENTION_MONTHS as i32, 4000, None)
        .await
        .must(db, "RotateHistory");
    assert_eq!(
        (report.processes_moved, report.logs_moved, report.done),
        (PROCESSES, 2 * PROCESSES, true),
        "{db}: everything moved: {report:?}"
    );
    if db.kind() == BackendKind::SqlServer {
        assert_eq!(
            lock_escalation_attempts(db).await - before,
            0,
            "{db}: the rotation tried to escalate to a table lock"
        );
    }
    assert_eq!(db.count("stage.FileControl_History").await, PROCESSES);
    assert_eq!(db.count("stage.ProcessLog_History").await, 2 * PROCESSES);
}

conformance!(the_drivers_paced_rotation_moves_everything_and_stops_when_told);
async fn the_drivers_paced_rotation_moves_everything_and_stops_when_told(db: &TestDb) {
    const PROCESSES: i64 = 2500;
    old_runs_with_two_logs(db, "paced", PROCESSES).await;
    let store = db.store();
    let stopped = tokio_util::sync::CancellationToken::new();
    stopped.cancel();
    let mut calls = 0;
    stagehand::driver::rotate_in_batches(
        &store,
        RETENTION_MONTHS as i32,
        1000,
        0.5,
        &stopped,
        |_, _| calls += 1,
    )
    .await
    .must(db, "rotate_in_batches");
    assert_eq!(calls, 0, "{db}: a stopped driver does not rotate");

    let (mut batches, mut moved, mut logs) = (0, 0, 0);
    let running = tokio_util::sync::CancellationToken::new();
    stagehand::driver::rotate_in_batches(
        &store,
        RETENTION_MONTHS as i32,
        1000,
        0.5,
        &running,
        |report, _| {
            batches += 1;
            moved += report.processes_moved;
            logs += report.logs_moved;
        },
    )
    .await
    .must(db, "rotate_in_batches");
    assert_eq!((moved, logs), (PROCESSES, 2 * PROCESSES), "{db}");
    assert!(
        batches >= 3,
        "{db}: a batch of 1,000 per transaction: {batches}"
    );
    assert_eq!(db.count("stage.FileControl").await, 0, "{db}");
}
