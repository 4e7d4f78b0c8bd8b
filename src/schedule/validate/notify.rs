//! The task's `notify` object: events and targets (webhook URLs, email addresses).

use super::{field, given, show, Checker, ListRules};
use crate::schedule::task::NotifySettings;
use serde_json::Value;
use std::num::NonZeroU32;
use std::str::FromStr;

const NOTIFY_FIELDS: &[&str] = &[
    "onFailure",
    "onSuccess",
    "onMissed",
    "afterConsecutiveFailures",
    "webhooks",
    "emails",
];

/// The longest target the database keeps (stage.TaskNotifyTarget.Target).
const TARGET_MAX: usize = 2000;

/// RFC 5321's limit on a forward path.
const EMAIL_MAX: usize = 254;

impl Checker {
    pub(super) fn notify(&mut self, path: &str, value: &Value) -> Option<NotifySettings> {
        let errors_before = self.errors.len();
        let map = self.object(path, value, "notify settings", NOTIFY_FIELDS)?;
        let on_failure = self.optional(map, path, "onFailure", Self::boolean);
        let on_success = self.optional(map, path, "onSuccess", Self::boolean);
        let on_missed = self.optional(map, path, "onMissed", Self::boolean);
        let after = self.optional(map, path, "afterConsecutiveFailures", |c, p, v| {
            c.whole(p, v, 1, 1000)
        });
        let webhooks = self.optional(map, path, "webhooks", |c, p, v| {
            c.list(p, v, ListRules::DISTINCT, Self::webhook)
        });
        let emails = self.optional(map, path, "emails", |c, p, v| {
            c.list(p, v, ListRules::DISTINCT, Self::email)
        });
        if on_failure == Some(true) && after.is_some() {
            self.error(
                &field(path, "afterConsecutiveFailures"),
                "not together with onFailure true (onFailure notifies of every failure, \
                 afterConsecutiveFailures of the Nth in a row only)",
            );
        }
        let on_failure = on_failure
            .unwrap_or(after.is_none() && given(map, "afterConsecutiveFailures").is_none());
        let on_success = on_success.unwrap_or(false);
        let on_missed = on_missed.unwrap_or(false);
        if !on_failure
            && !on_success
            && !on_missed
            && given(map, "afterConsecutiveFailures").is_none()
        {
            self.error(
                path,
                "notifies of nothing: set onFailure, onSuccess, onMissed or afterConsecutiveFailures",
            );
        }
        let no_targets = |key: &str| {
            given(map, key)
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        };
        if no_targets("webhooks") && no_targets("emails") {
            self.error(path, "has no target: give webhooks or emails (or both)");
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(NotifySettings {
            on_failure,
            on_success,
            on_missed,
            after_consecutive_failures: after.and_then(NonZeroU32::new),
            webhooks: webhooks.unwrap_or_default(),
            emails: emails.unwrap_or_default(),
        })
    }

    /// An absolute http or https URL.
    fn webhook(&mut self, path: &str, value: &Value) -> Option<String> {
        let text = self.text(path, value, 1, TARGET_MAX)?;
        match url::Url::parse(&text) {
            Ok(url) if ["http", "https"].contains(&url.scheme()) && url.host().is_some() => {
                Some(text)
            }
            Ok(_) => {
                self.error(path, format!("{} is not an http or https URL", show(value)));
                None
            }
            Err(error) => {
                self.error(path, format!("{} is not a URL: {error}", show(value)));
                None
            }
        }
    }

    /// An address as SMTP takes it (`ops@example.com`, no display name).
    fn email(&mut self, path: &str, value: &Value) -> Option<String> {
        let text = self.text(path, value, 1, EMAIL_MAX)?;
        match lettre::Address::from_str(&text) {
            Ok(_) => Some(text),
            Err(error) => {
                self.error(
                    path,
                    format!(
                        "{} is not an email address like ops@example.com: {error}",
                        show(value)
                    ),
                );
                None
            }
        }
    }
}
