//! Connection strings: `postgres://...`, `mssql://user:password@host:port/database`,
//! or an ADO.NET string (`Server=tcp:host,1433;Database=...;User Id=...;Password=...`).
//! Everything printed about a connection goes through [`DatabaseUrl::redacted`].

use super::error::StoreError;
use super::types::BackendKind;

#[derive(Clone)]
pub struct DatabaseUrl {
    raw: String,
    kind: BackendKind,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let trimmed = raw.trim();
        let lower = trimmed.to_ascii_lowercase();
        let kind = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            BackendKind::Postgres
        } else if lower.starts_with("mssql://")
            || lower.starts_with("sqlserver://")
            || lower.contains("server=")
            || lower.contains("data source=")
        {
            BackendKind::SqlServer
        } else {
            return Err(StoreError::InvalidUrl(
                "expected postgres://..., mssql://user:password@host:port/database, or an ADO.NET connection string (Server=...;Database=...)".into(),
            ));
        };
        Ok(DatabaseUrl {
            raw: trimmed.to_string(),
            kind,
        })
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The string as given, credentials included: only for the driver, never for logs.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The string with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        if self.raw.contains("://") {
            redact_url(&self.raw)
        } else {
            redact_ado(&self.raw)
        }
    }
}

fn redact_url(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return raw.to_string();
    };
    let rest = &raw[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let mut out = raw[..scheme_end + 3].to_string();
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&rest[at..authority_end]);
        }
        None => out.push_str(&rest[..authority_end]),
    }
    out.push_str(&redact_query(&rest[authority_end..]));
    out
}

/// `?password=...` in a URL's query.
fn redact_query(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_string();
    };
    let pairs: Vec<String> = tail[q + 1..]
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{}?{}", &tail[..q], pairs.join("&"))
}

fn redact_ado(raw: &str) -> String {
    raw.split(';')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn is_secret_key(key: &str) -> bool {
    matches!(
        key.trim()
            .to_ascii_lowercase()
            .replace([' ', '_'], "")
            .as_str(),
        "password" | "pwd" | "pass"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_form() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap().kind(),
            BackendKind::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("mssql://sa:x@h:1433/db").unwrap().kind(),
            BackendKind::SqlServer
        );
        assert_eq!(
            DatabaseUrl::parse("Server=tcp:h,1433;Database=erp;User Id=sa;Password=x")
                .unwrap()
                .kind(),
            BackendKind::SqlServer
        );
        let err = DatabaseUrl::parse("mysql://h/db").unwrap_err().to_string();
        assert!(err.contains("postgres://"), "{err}");
    }

    #[test]
    fn passwords_never_show() {
        for (raw, shown) in [
            (
                "postgres://app:s3cret@db:5432/erp",
                "postgres://app:***@db:5432/erp",
            ),
            (
                "postgres://app@db/erp?password=s3cret&sslmode=disable",
                "postgres://app@db/erp?password=***&sslmode=disable",
            ),
            (
                "mssql://sa:p%40ss@sql01:1433/erp",
                "mssql://sa:***@sql01:1433/erp",
            ),
            (
                "Server=sql01;Database=erp;User Id=sa;Password=s3cret;",
                "Server=sql01;Database=erp;User Id=sa;Password=***;",
            ),
            ("Server=sql01;PWD=s3cret", "Server=sql01;PWD=***"),
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            assert_eq!(url.redacted(), shown);
            assert!(!format!("{url:?}").contains("s3cret"));
        }
    }
}
