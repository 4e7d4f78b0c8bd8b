//! CSRF protection for every POST: a per-session random token, kept in a SameSite
//! cookie and repeated in each form's hidden `csrf` field (the double-submit pattern),
//! plus an Origin (or Referer) that must name this server.

use axum::http::{header, HeaderMap};
use base64::Engine as _;

pub const COOKIE: &str = "stagehand_csrf";
/// The hidden form field every POST carries.
pub const FIELD: &str = "csrf";

/// A fresh session token: 32 random bytes, URL-safe base64.
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random bytes: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The session token of the request's cookie, if it has a well-formed one.
pub fn from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The `Set-Cookie` value for a new session token (not readable by scripts).
pub fn set_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
}

/// Why a POST is refused, or Ok: the form's token is the session's, and the request
/// comes from a page of this server.
pub fn check(
    headers: &HeaderMap,
    session: Option<&str>,
    form: Option<&str>,
) -> Result<(), &'static str> {
    let (Some(session), Some(form)) = (session, form) else {
        return Err("the form has no CSRF token (reload the page and try again)");
    };
    if !super::auth::constant_time_eq(session, form) {
        return Err("the form's CSRF token does not match this session (reload the page)");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or("the request has no Host header")?;
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .ok_or("the request has neither Origin nor Referer")?;
    let authority = url::Url::parse(source)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_string();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .ok_or("the request's Origin is not a URL")?;
    if !authority.eq_ignore_ascii_case(host) {
        return Err("the request comes from another site (Origin/Referer is not this server)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn posts_need_the_session_token_and_this_origin() {
        let token = new_token().unwrap();
        let ok = headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8080"),
        ]);
        assert_eq!(check(&ok, Some(&token), Some(&token)), Ok(()));
        assert!(check(&ok, Some(&token), None).is_err());
        assert!(check(&ok, Some(&token), Some("other")).is_err());
        assert!(check(&ok, None, Some(&token)).is_err());
        let foreign = headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://evil.example"),
        ]);
        assert!(check(&foreign, Some(&token), Some(&token)).is_err());
        let referer = headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::REFERER, "http://127.0.0.1:8080/tasks"),
        ]);
        assert_eq!(check(&referer, Some(&token), Some(&token)), Ok(()));
        let neither = headers(&[(header::HOST, "127.0.0.1:8080")]);
        assert!(check(&neither, Some(&token), Some(&token)).is_err());
    }

    #[test]
    fn cookies_are_read_back() {
        let token = new_token().unwrap();
        let map = headers(&[(header::COOKIE, &format!("a=b; {COOKIE}={token}"))]);
        assert_eq!(from_cookie(&map), Some(token));
    }
}
