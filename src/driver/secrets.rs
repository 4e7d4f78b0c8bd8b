//! What a job must never see: the connection string and its password. Commands get
//! the driver's environment without them, and captured output is masked before it is
//! stored, so a job that prints its environment (or echoes a password it found
//! elsewhere) cannot put the credential in stage.ProcessLog.

use crate::store::{DatabaseUrl, DATABASE_URL_ENV};

/// Shorter passwords are not masked: replacing every `ab` in every output would
/// destroy the output and protect nothing such a password does not already give away.
const SHORTEST_MASKED: usize = 4;

/// What stands in for a masked secret.
pub const MASK: &str = "***";

#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// Longest first, so a password that contains another is masked whole.
    values: Vec<String>,
    /// Environment variables the driver has that commands must not inherit.
    env_remove: Vec<String>,
}

impl Secrets {
    /// The secrets of `url`, and the variables of this process's environment that
    /// hold the connection string or any of them.
    pub fn of(url: &DatabaseUrl) -> Secrets {
        Secrets::with_extra(url, Vec::new())
    }

    /// As [`Secrets::of`], plus other values of the driver's configuration (an SMTP
    /// password, a webhook's token header).
    pub fn with_extra(url: &DatabaseUrl, extra: Vec<String>) -> Secrets {
        let mut values = url.passwords();
        values.push(url.expose().to_string());
        values.extend(extra);
        values.retain(|v| v.chars().count() >= SHORTEST_MASKED);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut env_remove = vec![DATABASE_URL_ENV.to_string()];
        for (name, value) in std::env::vars_os() {
            let (Some(name), value) = (name.to_str(), value.to_string_lossy()) else {
                continue;
            };
            if name != DATABASE_URL_ENV && values.iter().any(|s| value.contains(s.as_str())) {
                env_remove.push(name.to_string());
            }
        }
        Secrets { values, env_remove }
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        self.values.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), MASK)
        })
    }

    /// The variables to remove from a command's environment.
    pub fn env_remove(&self) -> &[String] {
        &self.env_remove
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_form_and_keeps_the_rest() {
        let url = DatabaseUrl::parse("mssql://sa:p%40ssw0rd@sql01:1433/erp").unwrap();
        let secrets = Secrets::of(&url);
        assert_eq!(
            secrets.mask("a p@ssw0rd b p%40ssw0rd c mssql://sa:p%40ssw0rd@sql01:1433/erp"),
            "a *** b *** c ***"
        );
        assert_eq!(secrets.mask("nothing here"), "nothing here");
        assert!(secrets.env_remove().iter().any(|v| v == DATABASE_URL_ENV));
    }

    #[test]
    fn short_passwords_are_not_masked() {
        let url = DatabaseUrl::parse("postgres://u:ab@h/db").unwrap();
        assert_eq!(Secrets::of(&url).mask("tab cab"), "tab cab");
    }
}
