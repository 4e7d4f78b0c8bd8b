//! Email delivery over SMTP (lettre): the Subject and Body of stage.PendingNotifications,
//! the same text a Database Mail job sends. TLS as configured: STARTTLS (required),
//! implicit TLS, or none, which only a loopback relay may use.

use super::Secrets;
use crate::store::PendingNotification;
use anyhow::{bail, Context, Result};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: a relay on this machine only.
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    /// None: the default of the TLS mode (587, 465, 25).
    pub port: Option<u16>,
    pub tls: SmtpTls,
    /// User name and password, when the server wants a login.
    pub login: Option<(String, String)>,
    pub from: String,
    pub timeout: Duration,
}

impl SmtpConfig {
    /// What flags cannot say: plain SMTP leaves the machine only encrypted.
    pub fn check(&self) -> Result<()> {
        let loopback = self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if self.tls == SmtpTls::None && !loopback {
            bail!(
                "--smtp-tls none is only for a relay on this machine (localhost, 127.0.0.1, ::1), \
                 not {}: use starttls or implicit",
                self.host
            );
        }
        self.from
            .parse::<lettre::message::Mailbox>()
            .map(drop)
            .with_context(|| format!("--smtp-from {:?} is not an email address", self.from))
    }
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Mailer {
    pub fn new(config: &SmtpConfig) -> Result<Mailer> {
        config.check()?;
        let host = config.host.as_str();
        let mut builder = match config.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .with_context(|| format!("SMTP server {host}"))?,
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .with_context(|| format!("SMTP server {host}"))?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        if let Some(port) = config.port {
            builder = builder.port(port);
        }
        if let Some((user, password)) = &config.login {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.timeout(Some(config.timeout)).build(),
            from: config.from.parse().context("--smtp-from")?,
        })
    }

    pub async fn send(
        &self,
        notification: &PendingNotification,
        secrets: &Secrets,
    ) -> Result<(), String> {
        let to = notification.target.parse().map_err(|error| {
            format!("{:?} is not an email address: {error}", notification.target)
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(secrets.mask(&notification.subject))
            .header(ContentType::TEXT_PLAIN)
            .body(secrets.mask(&notification.body))
            .map_err(|error| format!("cannot build the email: {error}"))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| format!("SMTP: {error}"))
    }
}
