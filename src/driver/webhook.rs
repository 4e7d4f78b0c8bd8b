//! Webhook delivery: one JSON POST per notification, with a timeout, without following
//! redirects (a webhook that moved is a configuration to fix, and a redirected POST turns
//! into a GET). Any 2xx answer is delivered; anything else is an error the database retries.

use super::Secrets;
use crate::store::PendingNotification;
use anyhow::{Context, Result};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::error::Error as _;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub timeout: Duration,
    /// Sent with every POST (e.g. `Authorization`); values are masked like passwords.
    pub headers: Vec<(String, String)>,
}

pub struct Webhook {
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(config: &WebhookConfig) -> Result<Webhook> {
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .with_context(|| format!("webhook header name {name:?}"))?;
            let mut value = HeaderValue::from_str(value)
                .with_context(|| format!("webhook header {name}: not a valid value"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("stagehand/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .context("cannot build the webhook client")?;
        Ok(Webhook { client })
    }

    /// Posts the notification's JSON to its target. Errors never name the URL (it may
    /// hold a token).
    pub async fn send(
        &self,
        notification: &PendingNotification,
        secrets: &Secrets,
    ) -> Result<(), String> {
        let response = self
            .client
            .post(&notification.target)
            .json(&payload(notification, secrets))
            .send()
            .await
            .map_err(|error| describe(error.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered HTTP {status}"))
        }
    }
}

/// The error with its causes (reqwest's own text is only "error sending request").
fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else {
        error.to_string()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The JSON body: what happened, to which run, in the names of sql/API.md.
pub fn payload(n: &PendingNotification, secrets: &Secrets) -> serde_json::Value {
    serde_json::json!({
        "notificationId": n.notification_id,
        "event": n.event,
        "task": n.task_name,
        "taskId": n.task_id,
        "processId": n.process_id,
        "status": n.process_status,
        "attempt": n.process_attempt,
        "exitCode": n.exit_code,
        "startedAt": n.start_time,
        "endedAt": n.end_time,
        "scheduledFor": n.scheduled_for,
        "missedCount": n.missed_count,
        "consecutiveFailures": n.consecutive_failures,
        "message": n.message.as_deref().map(|m| secrets.mask(m)),
        "subject": secrets.mask(&n.subject),
        "text": secrets.mask(&n.body),
        "deliveryAttempt": n.attempt,
        "createdAt": n.created_at,
    })
}
