//! Delivery of stage.Notification rows, in a task of its own so it never holds up a
//! worker: claim due notifications (a lease, so several drivers share them and a driver
//! killed mid-delivery leaves them to the next), send each by its channel, report the
//! outcome; the database retries with backoff and gives up after `max_attempts`.

use super::email::{Mailer, SmtpConfig};
use super::webhook::{Webhook, WebhookConfig};
use super::{Backoff, Secrets};
use crate::store::{Backend, NotificationClaim, NotificationOutcome, PendingNotification};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Every notification option of `stagehand run`, in one place (flags today, the config
/// file's `[notify]` table later).
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Between claims while nothing was due.
    pub poll_every: Duration,
    /// How long a claim is this driver's; a delivery that takes longer may be repeated.
    pub lease: Duration,
    /// Notifications claimed at once (and delivered concurrently).
    pub batch: i32,
    /// Attempts per notification before it is given up (stage.CompleteNotification).
    pub max_attempts: i32,
    /// The wait before the first retry; it doubles with each attempt.
    pub retry_delay: Duration,
    pub webhook: WebhookConfig,
    /// None: emails are left for another deliverer (Database Mail, another driver).
    pub smtp: Option<SmtpConfig>,
}

/// Runs until `stop`; deliveries already started are finished first.
pub async fn run(
    db: Arc<dyn Backend>,
    driver_name: String,
    config: NotifierConfig,
    secrets: Arc<Secrets>,
    stop: CancellationToken,
) {
    let webhook = match Webhook::new(&config.webhook) {
        Ok(webhook) => webhook,
        Err(error) => {
            tracing::error!("{error:#}; notifications are not delivered by this driver");
            return;
        }
    };
    let mailer = match config.smtp.as_ref().map(Mailer::new).transpose() {
        Ok(mailer) => mailer,
        Err(error) => {
            tracing::error!("{error:#}; notifications are not delivered by this driver");
            return;
        }
    };
    let senders = Senders {
        webhook,
        mailer,
        secrets,
    };
    let mut errors = Backoff::new(config.poll_every, Duration::from_secs(30));
    loop {
        let claim = NotificationClaim {
            driver_name: &driver_name,
            max_count: config.batch.max(1),
            lease_seconds: i32::try_from(config.lease.as_secs().max(1)).unwrap_or(i32::MAX),
            webhooks: true,
            emails: senders.mailer.is_some(),
        };
        let wait = match db.claim_notifications(&claim).await {
            Ok(due) if !due.is_empty() => {
                errors.reset();
                let full = due.len() >= claim.max_count as usize;
                deliver_all(&*db, &driver_name, &config, &senders, due).await;
                // A full batch: more may be due at once.
                if full {
                    Duration::ZERO
                } else {
                    config.poll_every
                }
            }
            Ok(_) => {
                errors.reset();
                config.poll_every
            }
            Err(error) => {
                let wait = errors.next_wait();
                tracing::warn!(%error, "cannot claim notifications; retrying in {wait:?}");
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return,
        }
    }
}

struct Senders {
    webhook: Webhook,
    mailer: Option<Mailer>,
    secrets: Arc<Secrets>,
}

async fn deliver_all(
    db: &dyn Backend,
    driver_name: &str,
    config: &NotifierConfig,
    senders: &Senders,
    due: Vec<PendingNotification>,
) {
    let concurrency = due.len();
    futures_util::stream::iter(due)
        .for_each_concurrent(concurrency, |notification| async move {
            let sent = match notification.channel.as_str() {
                "webhook" => senders.webhook.send(&notification, &senders.secrets).await,
                "email" => match &senders.mailer {
                    Some(mailer) => mailer.send(&notification, &senders.secrets).await,
                    None => Err("no SMTP server is configured for this driver".to_string()),
                },
                other => Err(format!("unknown channel {other:?}")),
            };
            let error = sent.as_ref().err().map(|e| senders.secrets.mask(e));
            match &error {
                None => tracing::info!(
                    notification = notification.notification_id,
                    task = %notification.task_name,
                    event = %notification.event,
                    channel = %notification.channel,
                    "notification delivered"
                ),
                Some(error) => tracing::warn!(
                    notification = notification.notification_id,
                    task = %notification.task_name,
                    channel = %notification.channel,
                    attempt = notification.attempt,
                    %error,
                    "notification not delivered"
                ),
            }
            report(db, driver_name, config, &notification, error.as_deref()).await;
        })
        .await;
}

/// Reports one attempt, retrying while the database is unreachable but within the lease
/// (after it, the claim is someone else's and the report would be refused anyway).
async fn report(
    db: &dyn Backend,
    driver_name: &str,
    config: &NotifierConfig,
    notification: &PendingNotification,
    error: Option<&str>,
) {
    let outcome = NotificationOutcome {
        notification_id: notification.notification_id,
        driver_name,
        attempt: notification.attempt,
        result: error.map_or(Ok(()), Err),
        max_attempts: config.max_attempts,
        retry_delay_seconds: i32::try_from(config.retry_delay.as_secs()).unwrap_or(86_400),
    };
    let deadline = tokio::time::Instant::now() + config.lease;
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        match db.complete_notification(&outcome).await {
            Ok(done) => {
                if !done.accepted {
                    tracing::warn!(
                        notification = notification.notification_id,
                        status = ?done.status,
                        "notification outcome refused: the claim was no longer this driver's"
                    );
                }
                return;
            }
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(%error, notification = notification.notification_id, "cannot record a notification's outcome; retrying");
                tokio::time::sleep(backoff.next_wait()).await;
            }
            Err(error) => {
                tracing::warn!(%error, notification = notification.notification_id, "notification outcome lost; the lease ends and it is delivered again");
                return;
            }
        }
    }
}
