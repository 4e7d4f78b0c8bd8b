//! Notifications (V70..V78): the rows of `stage.PendingNotifications` a deliverer claims
//! with `stage.ClaimNotifications`, and what it reports with `stage.CompleteNotification`.

use super::error::StoreResult;
use super::rows::{ResultRow, RowExt};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A `stage.ClaimNotifications` call.
#[derive(Debug, Clone)]
pub struct NotificationClaim<'a> {
    pub driver_name: &'a str,
    pub max_count: i32,
    pub lease_seconds: i32,
    /// Claim webhook notifications.
    pub webhooks: bool,
    /// Claim email notifications (off when Database Mail sends them).
    pub emails: bool,
}

/// One row of `stage.PendingNotifications` (the columns in view order).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingNotification {
    pub notification_id: i64,
    pub task_id: Option<i32>,
    pub task_name: String,
    pub process_id: Option<i64>,
    /// `failure`, `success`, `missed`, `consecutiveFailures`.
    pub event: String,
    /// `webhook` or `email`.
    pub channel: String,
    pub target: String,
    /// `Pending` or `Sending`.
    pub status: String,
    /// Delivery attempts so far, this claim's included.
    pub attempt: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub process_status: Option<String>,
    pub process_attempt: Option<i32>,
    pub exit_code: Option<i32>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub missed_count: Option<i32>,
    pub consecutive_failures: Option<i32>,
    pub last_error: Option<String>,
    /// The run's outcome as logged (its last 2,000 characters).
    pub message: Option<String>,
    pub subject: String,
    pub body: String,
}

/// What a deliverer reports to `stage.CompleteNotification`.
#[derive(Debug, Clone)]
pub struct NotificationOutcome<'a> {
    pub notification_id: i64,
    pub driver_name: &'a str,
    /// The attempt as claimed.
    pub attempt: i32,
    /// Err: why it was not delivered (stored, so never a secret).
    pub result: Result<(), &'a str>,
    pub max_attempts: i32,
    pub retry_delay_seconds: i32,
}

/// The row `stage.CompleteNotification` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationCompleted {
    pub notification_id: i64,
    /// false: the claim was no longer this deliverer's; nothing changed.
    pub accepted: bool,
    /// `Delivered`, `Pending` (retry due), `Failed` (given up); None: no such row.
    pub status: Option<String>,
}

pub(super) fn pending_notification(row: &impl ResultRow) -> StoreResult<PendingNotification> {
    Ok(PendingNotification {
        notification_id: row.i64_req(0)?,
        task_id: row.i32_opt(1)?,
        task_name: row.text_req(2)?,
        process_id: row.int(3)?,
        event: row.text_req(4)?,
        channel: row.text_req(5)?,
        target: row.text_req(6)?,
        status: row.text_req(7)?,
        attempt: row.i32_req(8)?,
        next_attempt_at: row.instant_req(9)?,
        claimed_by: row.text(10)?,
        created_at: row.instant_req(11)?,
        process_status: row.text(12)?,
        process_attempt: row.i32_opt(13)?,
        exit_code: row.i32_opt(14)?,
        start_time: row.instant(15)?,
        end_time: row.instant(16)?,
        scheduled_for: row.instant(17)?,
        missed_count: row.i32_opt(18)?,
        consecutive_failures: row.i32_opt(19)?,
        last_error: row.text(20)?,
        message: row.text(21)?,
        subject: row.text_req(22)?,
        body: row.text_req(23)?,
    })
}

pub(super) fn notification_completed(row: &impl ResultRow) -> StoreResult<NotificationCompleted> {
    Ok(NotificationCompleted {
        notification_id: row.i64_req(0)?,
        accepted: row.bool_req(1)?,
        status: row.text(2)?,
    })
}
