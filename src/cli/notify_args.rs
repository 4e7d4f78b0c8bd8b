//! The notification options of `stagehand run` (delivery of stage.Notification rows):
//! webhooks always, email when an SMTP server is given.

use crate::driver::{NotifierConfig, SmtpConfig, SmtpTls, WebhookConfig};
use anyhow::{bail, Context, Result};
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct NotifyArgs {
    /// Deliver no notifications from this driver (they wait for another deliverer).
    #[arg(long)]
    pub no_notify: bool,
    /// Attempts per notification before it is given up (with an Error log row).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub notify_attempts: i32,
    /// Seconds before the first retry of a notification; doubles with each attempt.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub notify_retry_seconds: u64,
    /// Milliseconds between looks for due notifications.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub notify_poll_ms: u64,
    /// Seconds a webhook POST (or an SMTP exchange) may take.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub notify_timeout_seconds: u64,
    /// A header sent with every webhook POST, `Name: value` (repeatable); values are
    /// treated as secrets.
    #[arg(long = "notify-webhook-header", value_name = "NAME: VALUE")]
    pub webhook_headers: Vec<String>,
    /// SMTP server for email notifications, HOST or HOST:PORT (without it, emails are left
    /// for another deliverer, such as a Database Mail job).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub smtp_server: Option<String>,
    /// TLS to the SMTP server: starttls (required), implicit, or none (loopback relays only).
    #[arg(long, value_enum, default_value_t = SmtpTls::Starttls)]
    pub smtp_tls: SmtpTls,
    /// The sender address of notification emails (required with --smtp-server).
    #[arg(long, value_name = "ADDRESS")]
    pub smtp_from: Option<String>,
    /// SMTP login user (with --smtp-password).
    #[arg(long)]
    pub smtp_user: Option<String>,
    /// SMTP login password; better from the environment than the command line.
    #[arg(long, env = "STAGEHAND_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
}

impl NotifyArgs {
    /// The notifier's configuration; None with --no-notify. Errors name the flag.
    pub fn config(&self, lease: Duration) -> Result<Option<NotifierConfig>> {
        if self.no_notify {
            return Ok(None);
        }
        let timeout = Duration::from_secs(self.notify_timeout_seconds);
        let headers = self
            .webhook_headers
            .iter()
            .map(|header| match header.split_once(':') {
                Some((name, value)) if !name.trim().is_empty() => {
                    Ok((name.trim().to_string(), value.trim().to_string()))
                }
                _ => bail!("--notify-webhook-header {header:?} is not `Name: value`"),
            })
            .collect::<Result<Vec<_>>>()?;
        let smtp = self
            .smtp_server
            .as_deref()
            .map(|server| self.smtp(server, timeout))
            .transpose()?;
        Ok(Some(NotifierConfig {
            poll_every: Duration::from_millis(self.notify_poll_ms),
            lease,
            batch: 20,
            max_attempts: self.notify_attempts,
            retry_delay: Duration::from_secs(self.notify_retry_seconds),
            webhook: WebhookConfig { timeout, headers },
            smtp,
        }))
    }

    fn smtp(&self, server: &str, timeout: Duration) -> Result<SmtpConfig> {
        let (host, port) = match server.rsplit_once(':') {
            // An IPv6 literal without a port has colons too: [::1] or [::1]:25.
            Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
                let port = port
                    .parse()
                    .with_context(|| format!("--smtp-server {server:?}: {port:?} is not a port"))?;
                (host, Some(port))
            }
            _ => (server, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            bail!("--smtp-server {server:?} names no host");
        }
        let Some(from) = self.smtp_from.clone() else {
            bail!("--smtp-server needs --smtp-from, the sender address of notification emails");
        };
        let login = match (&self.smtp_user, &self.smtp_password) {
            (Some(user), Some(password)) => Some((user.clone(), password.clone())),
            (None, None) => None,
            (Some(_), None) => {
                bail!("--smtp-user needs --smtp-password (or STAGEHAND_SMTP_PASSWORD)")
            }
            (None, Some(_)) => bail!("--smtp-password needs --smtp-user"),
        };
        let config = SmtpConfig {
            host: host.to_string(),
            port,
            tls: self.smtp_tls,
            login,
            from,
            timeout,
        };
        config.check()?;
        Ok(config)
    }

    /// What must be masked and kept from commands besides the database's secrets.
    pub fn secrets(&self) -> Vec<String> {
        let headers = self.webhook_headers.iter().filter_map(|header| {
            header
                .split_once(':')
                .map(|(_, value)| value.trim().to_string())
        });
        headers.chain(self.smtp_password.clone()).collect()
    }
}
