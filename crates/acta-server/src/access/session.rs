//! Console sessions: the web console exchanges an API key for a session cookie, so the key never sits in the
//! page's JavaScript (where any script injected into it could read it) and `EventSource`, which cannot set
//! headers, can follow the live tail.
//!
//! - The cookie holds 256 random bits; the server keeps only their SHA-256, in the metadata database
//!   ([`acta_store::sessions`]): SQLite in the embedded mode, the cluster's PostgreSQL in cluster mode, so every
//!   node of a cluster knows a session made on any of them and signing out on one ends it on all (no sticky
//!   sessions needed at the load balancer). Sessions therefore survive a restart; what is written to disk is a
//!   hash, not a bearer credential. They end after [`IDLE_NS`] without a request or [`ABSOLUTE_NS`] after
//!   sign-in, whichever comes first, and when their key is deleted or expires (the key is read again on every
//!   request). The last-seen time is written at most once a minute per session
//!   ([`TOUCH_AFTER_NS`](acta_store::sessions::TOUCH_AFTER_NS)), not on every request, so the idle expiry has that
//!   granularity: a session left alone may end up to a minute before [`IDLE_NS`].
//! - The cookie is `HttpOnly; SameSite=Strict; Path=/`, and `Secure` when the request came over HTTPS (today
//!   through a TLS-terminating proxy that says `X-Forwarded-Proto: https`; a forged header can only make the
//!   cookie stricter).
//! - CSRF: each session has its own random token, given to the page in the sign-in answer and by
//!   `GET /v1/session`, never in a cookie. Every state-changing request authenticated by the cookie must carry
//!   it in `X-CSRF-Token`; the check lives in the [`Principal`](crate::access::auth::Principal) extractor, so no handler
//!   can forget it. Sign-in itself requires a JSON body (a cross-site form cannot send one without a CORS
//!   preflight, which Acta never grants) and refuses a foreign `Origin` (compared with `Host`, or with
//!   `X-Forwarded-Host` behind a reverse proxy).
//! - Requests authenticated by a session are audited with `host.agent` [`CONSOLE_AGENT`], set here from the
//!   way the request authenticated, not from its `User-Agent`, which a page could not change anyway but a
//!   script outside the browser could.

use acta_store::{ConsoleSession, Meta};
use axum::http::{HeaderMap, Method, StatusCode, header};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub use acta_store::sessions::{ABSOLUTE_NS, IDLE_NS};

/// The session cookie's name.
pub const COOKIE: &str = "acta_session";
/// The header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// `initiator.host.agent` of every request authenticated by a console session.
pub const CONSOLE_AGENT: &str = "Acta web console";
/// At most this many live sessions; sign-in answers 503 beyond (each needs a valid key, so this only bounds a
/// runaway script's rows). Kept although it costs a count of the live rows at every sign-in: sign-in is rare (a
/// person at a browser; programs use their key), the count reads an index bounded by this very cap, and without
/// it nothing would bound the table between sweeps. In a cluster it is approximate (see
/// [`Meta::create_console_session`]).
const MAX_SESSIONS: i64 = 100_000;

/// The console's sessions, kept in the metadata database (so a cluster's nodes share them).
pub struct Sessions {
    meta: Meta,
}

/// The session a request was authenticated by.
#[derive(Clone)]
pub struct SessionInfo {
    token_hash: String,
    /// The CSRF token the page must send on state-changing calls.
    pub csrf: String,
    /// When the session ends if unused, unix ns.
    pub expires_ns: i64,
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token hash and CSRF token are credentials: never in logs.
        f.debug_struct("SessionInfo").field("expires_ns", &self.expires_ns).finish_non_exhaustive()
    }
}

impl SessionInfo {
    fn of(session: &ConsoleSession) -> SessionInfo {
        SessionInfo {
            token_hash: session.token_hash.clone(),
            csrf: session.csrf.clone(),
            expires_ns: session.expires_ns(),
        }
    }
}

impl Sessions {
    /// The sessions of this metadata database.
    pub fn new(meta: Meta) -> Sessions {
        Sessions { meta }
    }

    /// Opens a session for a key; returns the cookie value (shown to the browser only) and the session. A
    /// metadata database that fails is an error answer (`503 database_unavailable` when it cannot be reached).
    pub(crate) async fn create(&self, key_id: &str, now_ns: i64) -> Result<(String, SessionInfo), ApiError> {
        let token = random_token();
        let session = ConsoleSession {
            token_hash: hash(&token),
            key_id: key_id.to_string(),
            csrf: random_token(),
            created_ns: now_ns,
            last_seen_ns: now_ns,
        };
        if !self.meta.create_console_session(&session, MAX_SESSIONS).await? {
            let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too_many_sessions", "too many sessions");
            error.retry_after = Some(60);
            return Err(error);
        }
        Ok((token, SessionInfo::of(&session)))
    }

    /// The key id and session of a cookie value, if the session is live; marks it used.
    pub(crate) async fn resume(&self, token: &str, now_ns: i64) -> Result<Option<(String, SessionInfo)>, ApiError> {
        let session = self.meta.resume_console_session(&hash(token), now_ns).await?;
        Ok(session.map(|session| {
            let info = SessionInfo::of(&session);
            (session.key_id, info)
        }))
    }

    /// Ends a session, on every node.
    pub(crate) async fn end(&self, session: &SessionInfo) -> Result<(), ApiError> {
        self.meta.end_console_session(&session.token_hash).await?;
        Ok(())
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The session cookie's value in a request, if any.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Refuses a state-changing request whose CSRF token is missing or wrong. GET, HEAD and OPTIONS change
/// nothing (Acta keeps it so), and `EventSource` and download links could not send a header anyway.
pub(crate) fn check_csrf(method: &Method, headers: &HeaderMap, session: &SessionInfo) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let Some(sent) = headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "a console session's state-changing request needs its X-CSRF-Token header",
        ));
    };
    if !same_secret(sent, &session.csrf) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "csrf", "the X-CSRF-Token header does not match the session"));
    }
    Ok(())
}

/// Whether the request's `Origin`, when the browser sent one, is this server: its `Host`, or the host a
/// reverse proxy says it was asked for (`X-Forwarded-Host`; a page cannot set that header cross-site without
/// a CORS preflight, so trusting it opens nothing).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()) else {
        return true;
    };
    let Some(origin_host) = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) else {
        return false;
    };
    let forwarded = headers
        .get("x-forwarded-host")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .map(str::trim);
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    [host, forwarded].into_iter().flatten().any(|host| origin_host.eq_ignore_ascii_case(host))
}

/// Compares without revealing where two secrets differ (only their lengths, which are public).
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; acta_session=abc ; b=2"));
        assert_eq!(cookie_token(&headers), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("acta_sessionx=1"));
        assert_eq!(cookie_token(&headers), None);
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8700"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8700"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
        // Behind a reverse proxy that passes its own upstream as Host.
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://acta.example.com"));
        headers.insert("x-forwarded-host", HeaderValue::from_static("acta.example.com"));
        assert!(same_origin(&headers));
    }
}
