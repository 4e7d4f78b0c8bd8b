//! Connection strings: `postgres://...`, `mssql://user:password@host:port/database`,
//! or an ADO.NET string (`Server=tcp:host,1433;Database=...;User Id=...;Password=...`).
//! Everything printed about a connection goes through [`DatabaseUrl::redacted`].

use super::error::StoreError;
use super::types::BackendKind;

/// The environment variable every command reads the connection string from.
pub const DATABASE_URL_ENV: &str = "STAGEHAND_DATABASE_URL";

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

/// Wiped when dropped: the string holds a password.
impl Drop for DatabaseUrl {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.raw);
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

    /// The same server, database and options signed in as `user` with `password` (the
    /// dashboard's database logins): the string's own login, and any integrated (Windows)
    /// authentication, are replaced.
    pub fn with_login(&self, user: &str, password: &str) -> Result<DatabaseUrl, StoreError> {
        let raw = if self.raw.contains("://") {
            url_with_login(&self.raw, user, password)?
        } else {
            ado_with_login(&self.raw, user, password)?
        };
        Ok(DatabaseUrl {
            raw,
            kind: self.kind,
        })
    }

    /// The same server, login and options in another database (a bench's scratch
    /// database): the URL's path, or the ADO.NET string's Database / Initial Catalog.
    pub fn with_database(&self, database: &str) -> Result<DatabaseUrl, StoreError> {
        let raw = if self.raw.contains("://") {
            let mut url = url::Url::parse(&self.raw).map_err(|_| {
                StoreError::InvalidUrl(
                    "another database needs a host in the connection string (postgres://HOST/...)"
                        .into(),
                )
            })?;
            url.set_path(&format!("/{database}"));
            // tokio-postgres lets `dbname=` override the path.
            drop_query_keys(&mut url, is_database_key);
            url.to_string()
        } else {
            let mut pairs = ado_pairs_without(&self.raw, is_database_key);
            pairs.push(format!("Database={database}"));
            pairs.join(";")
        };
        Ok(DatabaseUrl {
            raw,
            kind: self.kind,
        })
    }

    /// The password as written and as the server sees it (percent-decoded, unquoted):
    /// the strings that must never reach a job or its stored output.
    pub fn passwords(&self) -> Vec<String> {
        let written = if self.raw.contains("://") {
            url_password(&self.raw)
        } else {
            ado_password(&self.raw)
        };
        let mut found: Vec<String> = Vec::new();
        for password in written.into_iter().filter(|p| !p.is_empty()) {
            for form in [unquote(&percent_decode(&password)), password] {
                if !form.is_empty() && !found.contains(&form) {
                    found.push(form);
                }
            }
        }
        found
    }
}

/// Keys of a connection string that say who signs in (replaced by [`DatabaseUrl::with_login`]).
fn is_login_key(key: &str) -> bool {
    is_secret_key(key)
        || matches!(
            normal_key(key).as_str(),
            "user"
                | "userid"
                | "uid"
                | "username"
                | "integratedsecurity"
                | "trustedconnection"
                | "authentication"
        )
}

/// Keys of a connection string that name the database (replaced by [`DatabaseUrl::with_database`]).
fn is_database_key(key: &str) -> bool {
    matches!(
        normal_key(key).as_str(),
        "database" | "dbname" | "initialcatalog"
    )
}

fn url_with_login(raw: &str, user: &str, password: &str) -> Result<String, StoreError> {
    let no_host = || {
        StoreError::InvalidUrl(
            "signing in as another login needs a host in the connection string (postgres://HOST/...)"
                .into(),
        )
    };
    let mut url = url::Url::parse(raw).map_err(|_| no_host())?;
    // `url` percent-encodes both; both engines decode them.
    url.set_username(user).map_err(|()| no_host())?;
    url.set_password(Some(password)).map_err(|()| no_host())?;
    drop_query_keys(&mut url, is_login_key);
    Ok(url.to_string())
}

/// Removes the query's options whose key `drop` matches.
fn drop_query_keys(url: &mut url::Url, drop: fn(&str) -> bool) {
    if let Some(query) = url.query().map(str::to_string) {
        // Filtered as text, so the other options keep their encoding.
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !drop(pair.split('=').next().unwrap_or("")))
            .collect();
        url.set_query((!kept.is_empty()).then(|| kept.join("&")).as_deref());
    }
}

/// The ADO.NET string's non-empty pairs but those whose key `drop` matches.
fn ado_pairs_without(raw: &str, drop: fn(&str) -> bool) -> Vec<String> {
    ado_pairs(raw)
        .into_iter()
        .filter(|pair| !pair.trim().is_empty())
        .filter(|pair| !drop(pair.split('=').next().unwrap_or("")))
        .map(str::to_string)
        .collect()
}

fn ado_with_login(raw: &str, user: &str, password: &str) -> Result<String, StoreError> {
    // tiberius reads ASCII only; a double-quoted value holds anything else but `"`, doubled.
    if !user.is_ascii() || !password.is_ascii() {
        return Err(StoreError::InvalidUrl(
            "an ADO.NET connection string holds only ASCII user names and passwords".into(),
        ));
    }
    let quote = |value: &str| format!("\"{}\"", value.replace('"', "\"\""));
    let mut pairs = ado_pairs_without(raw, is_login_key);
    pairs.push(format!("User Id={}", quote(user)));
    pairs.push(format!("Password={}", quote(password)));
    Ok(pairs.join(";"))
}

/// `user:password@` in the authority, or `password=` in the query.
fn url_password(raw: &str) -> Vec<String> {
    let Some(scheme_end) = raw.find("://") else {
        return Vec::new();
    };
    let rest = &raw[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let mut found = Vec::new();
    if let Some(at) = rest[..authority_end].rfind('@') {
        if let Some((_, password)) = rest[..at].split_once(':') {
            found.push(password.to_string());
        }
    }
    if let Some(q) = rest[authority_end..].find('?') {
        found.extend(secret_values(rest[authority_end + q + 1..].split('&')));
    }
    found
}

fn ado_password(raw: &str) -> Vec<String> {
    secret_values(ado_pairs(raw))
}

fn secret_values<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    pairs
        .into_iter()
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| is_secret_key(key))
        .map(|(_, value)| value.trim().to_string())
        .collect()
}

/// The value inside ADO.NET's `{}`, `'` or `"` quotes, doubled closers undoubled.
fn unquote(value: &str) -> String {
    for (open, close) in [('{', "}"), ('\'', "'"), ('"', "\"")] {
        if let Some(inner) = value.strip_prefix(open).and_then(|v| v.strip_suffix(close)) {
            return inner.replace(&close.repeat(2), close);
        }
    }
    value.to_string()
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
    ado_pairs(raw)
        .into_iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The `key=value` pairs of an ADO.NET string; a value quoted with `{}`, `'` or `"`
/// may hold `;` (a doubled closing quote stands for itself).
fn ado_pairs(raw: &str) -> Vec<&str> {
    let mut pairs = Vec::new();
    let (mut start, mut quote, mut at_value_start) = (0, None, false);
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(close) if c == close => {
                if chars.peek().is_some_and(|(_, next)| *next == close) {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None if at_value_start && matches!(c, '{' | '\'' | '"') => {
                quote = Some(if c == '{' { '}' } else { c });
            }
            None if c == ';' => {
                pairs.push(&raw[start..i]);
                start = i + 1;
            }
            None => {}
        }
        at_value_start = quote.is_none() && c == '=' || (at_value_start && c == ' ');
    }
    pairs.push(&raw[start..]);
    pairs
}

/// A key as ADO.NET compares them: case, spaces and underscores aside.
fn normal_key(key: &str) -> String {
    key.trim().to_ascii_lowercase().replace([' ', '_'], "")
}

fn is_secret_key(key: &str) -> bool {
    matches!(normal_key(key).as_str(), "password" | "pwd" | "pass")
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
            (
                "Server=sql01;PWD={s3;cret};Database=erp",
                "Server=sql01;PWD=***;Database=erp",
            ),
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            assert_eq!(url.redacted(), shown);
            assert!(!format!("{url:?}").contains("s3cret"));
        }
    }

    #[test]
    fn another_database_keeps_the_login_and_options() {
        for (raw, expected) in [
            (
                "postgres://app:s3cret@db:5432/erp?sslmode=disable&dbname=erp",
                "postgres://app:s3cret@db:5432/stagehand_bench_7?sslmode=disable",
            ),
            ("postgres://app@db", "postgres://app@db/stagehand_bench_7"),
            (
                "mssql://sa:x@sql01:1433/erp?encrypt=true",
                "mssql://sa:x@sql01:1433/stagehand_bench_7?encrypt=true",
            ),
            (
                "Server=sql01;Initial Catalog=erp;User Id=sa;Password={x;y};",
                "Server=sql01;User Id=sa;Password={x;y};Database=stagehand_bench_7",
            ),
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            let other = url.with_database("stagehand_bench_7").unwrap();
            assert_eq!(other.expose(), expected, "{raw}");
            assert_eq!(other.kind(), url.kind());
        }
    }

    #[test]
    fn another_login_replaces_the_strings_own() {
        for (raw, expected) in [
            (
                "postgres://app:s3cret@db:5432/erp?sslmode=disable&password=x",
                "postgres://ann:p%40ss%3Aw@db:5432/erp?sslmode=disable",
            ),
            ("postgres://db/erp", "postgres://ann:p%40ss%3Aw@db/erp"),
            (
                "mssql://sa:x@sql01:1433/erp?encrypt=true",
                "mssql://ann:p%40ss%3Aw@sql01:1433/erp?encrypt=true",
            ),
            (
                "Server=sql01;Database=erp;Integrated Security=SSPI;UID=sa;PWD={x;y}",
                "Server=sql01;Database=erp;User Id=\"ann\";Password=\"p@ss:w\"",
            ),
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            let login = url.with_login("ann", "p@ss:w").unwrap();
            assert_eq!(login.expose(), expected, "{raw}");
            assert_eq!(login.kind(), url.kind());
        }
        let quoted = DatabaseUrl::parse("Server=sql01")
            .unwrap()
            .with_login("a\"b", "c\"d")
            .unwrap();
        assert_eq!(
            quoted.expose(),
            "Server=sql01;User Id=\"a\"\"b\";Password=\"c\"\"d\""
        );
        assert!(DatabaseUrl::parse("postgres:///erp?host=/run/pg")
            .unwrap()
            .with_login("a", "b")
            .is_err());
    }

    #[test]
    fn passwords_are_found_in_every_form() {
        for (raw, expected) in [
            ("postgres://app:s3cret@db:5432/erp", vec!["s3cret"]),
            (
                "postgres://app@db/erp?sslmode=disable&password=s3cret",
                vec!["s3cret"],
            ),
            ("mssql://sa:p%40ss@sql01:1433/erp", vec!["p@ss", "p%40ss"]),
            (
                "Server=sql01;Database=erp;User Id=sa;Password=s3cret;",
                vec!["s3cret"],
            ),
            (
                "Server=sql01;PWD={a;b}}c};Database=erp",
                vec!["a;b}c", "{a;b}}c}"],
            ),
            ("Server=sql01;Password='x;y'", vec!["x;y", "'x;y'"]),
            ("postgres://app@db/erp", vec![]),
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            assert_eq!(url.passwords(), expected, "{raw}");
        }
    }
}
