//! LogMessage: levels validated, long messages cut to 500 characters and kept whole in Detail.

#[macro_use]
mod common;

use common::{assert_invalid_argument, Must, TestDb};
use stagehand::store::LogLevel;

conformance!(every_level_is_logged_as_given);
async fn every_level_is_logged_as_given(db: &TestDb) {
    let id = db.register_new("logged").await;
    for level in [LogLevel::Info, LogLevel::Warning, LogLevel::Error] {
        let message = format!("a {} line", level.as_str());
        let log_id = db
            .log_message(Some(id), &message, level, Some("the detail"))
            .await
            .must(db, "LogMessage")
            .expect("written: the default level is Info");
        let logs = db.logs(id).await;
        let row = logs.iter().find(|l| l.log_id == log_id).unwrap_or_else(|| {
            panic!("{db}: LogID {log_id} is not among the process's rows: {logs:?}")
        });
        assert_eq!(
            (
                row.message.as_str(),
                row.log_level.as_str(),
                row.detail.as_deref()
            ),
            (message.as_str(), level.as_str(), Some("the detail")),
            "{db}: the row as logged"
        );
    }
    let free = db
        .log_message(None, "no process", LogLevel::Info, None)
        .await
        .must(db, "LogMessage")
        .expect("written: the default level is Info");
    assert_eq!(
        db.count(&format!(
            "stage.ProcessLog WHERE LogID = {free} AND ProcessID IS NULL"
        ))
        .await,
        1,
        "{db}: a log row without a process"
    );
}

conformance!(unknown_levels_and_empty_messages_are_refused);
async fn unknown_levels_and_empty_messages_are_refused(db: &TestDb) {
    let before = db.count("stage.ProcessLog").await;
    for level in ["Debug", "", "Fatal"] {
        let sql = db.call_sql("LogMessage", &["NULL", &db.text("hello"), &db.text(level)]);
        assert_invalid_argument(
            db,
            db.query_i64(&sql).await,
            "LogLevel",
            &format!("LogMessage level {level:?}"),
        );
    }
    let sql = db.call_sql("LogMessage", &["NULL", &db.text("hello"), "NULL"]);
    assert_invalid_argument(
        db,
        db.query_i64(&sql).await,
        "LogLevel",
        "LogMessage level NULL",
    );
    for message in ["", "   "] {
        let result = db.log_message(None, message, LogLevel::Info, None).await;
        assert_invalid_argument(
            db,
            result,
            "Message",
            &format!("LogMessage message {message:?}"),
        );
    }
    let sql = db.call_sql("LogMessage", &["NULL", "NULL"]);
    assert_invalid_argument(
        db,
        db.query_i64(&sql).await,
        "Message",
        "LogMessage message NULL",
    );
    assert_eq!(
        db.count("stage.ProcessLog").await,
        before,
        "{db}: refused calls write nothing"
    );
}

conformance!(long_messages_are_cut_to_500_and_kept_whole_in_detail);
async fn long_messages_are_cut_to_500_and_kept_whole_in_detail(db: &TestDb) {
    let id = db.register_new("long_winded").await;
    // Multi-byte characters: the cut counts characters, not bytes.
    let long = format!("{}{}", "ü".repeat(499), "界".repeat(101));
    let cut: String = long.chars().take(500).collect();
    let log_id = db
        .log_message(Some(id), &long, LogLevel::Warning, None)
        .await
        .must(db, "LogMessage")
        .expect("written: the default level is Info");
    let logs = db.logs(id).await;
    let row = logs
        .iter()
        .find(|l| l.log_id == log_id)
        .unwrap_or_else(|| panic!("{db}: LogID {log_id} missing: {logs:?}"));
    assert_eq!(
        row.message, cut,
        "{db}: the message is its first 500 characters"
    );
    assert_eq!(
        row.detail.as_deref(),
        Some(long.as_str()),
        "{db}: the whole text is in Detail"
    );

    let given = db
        .log_message(Some(id), &long, LogLevel::Info, Some("caller's detail"))
        .await
        .must(db, "LogMessage")
        .expect("written: the default level is Info");
    let logs = db.logs(id).await;
    let row = logs
        .iter()
        .find(|l| l.log_id == given)
        .unwrap_or_else(|| panic!("{db}: LogID {given} missing: {logs:?}"));
    assert_eq!(row.message, cut, "{db}: cut to 500 characters");
    assert_eq!(
        row.detail.as_deref(),
        Some("caller's detail"),
        "{db}: a given Detail is kept as given"
    );

    let exact = "x".repeat(500);
    let fits = db
        .log_message(Some(id), &exact, LogLevel::Info, None)
        .await
        .must(db, "LogMessage")
        .expect("written: the default level is Info");
    let logs = db.logs(id).await;
    let row = logs
        .iter()
        .find(|l| l.log_id == fits)
        .unwrap_or_else(|| panic!("{db}: LogID {fits} missing: {logs:?}"));
    assert_eq!(
        (row.message.as_str(), row.detail.as_deref()),
        (exact.as_str(), None),
        "{db}: 500 fits whole"
    );
}

conformance!(release_logs_the_message_as_given_or_the_default);
async fn release_logs_the_message_as_given_or_the_default(db: &TestDb) {
    db.driver_task("released", "parallel").await;
    let given = "  stopping: deploy\t";
    for message in [Some(given), Some(" \t\r\n"), None] {
        let id = db.register_new("released").await;
        assert_eq!(db.claim_as("w", 1).await.len(), 1, "{db}: claimed");
        let released = db
            .release("w", &[id], message)
            .await
            .must(db, "ReleaseProcesses");
        assert_eq!(released, [id], "{db}: released");
        let last = db
            .logs(id)
            .await
            .pop()
            .unwrap_or_else(|| panic!("{db}: no log row for {id}"));
        let expected = if message == Some(given) {
            given
        } else {
            "Released by driver shutdown"
        };
        assert_eq!(
            (last.message.as_str(), last.log_level.as_str()),
            (expected, "Warning"),
            "{db}: ReleaseProcesses({message:?})"
        );
        // Finished, so that the next round claims its own run.
        db.exec(&db.seed_completion_sql(id)).await;
    }
}
