//! Console sessions: the web console exchanges an API key for a session cookie, so the key never sits in the
//! page's JavaScript (where any script injected into it could read it) and `EventSource`, which cannot set
//! headers, can follow the live tail.
//!
//! - The cookie holds 256 random bits; the server keeps only their SHA-256, in memory. Sessions are lost on
//!   restart (everyone signs in again), which is the price of never writing a bearer credential to disk and of
//!   adding no table next to the ones other parts of Acta are migrating. They end after [`IDLE_NS`] without a
//!   request or [`ABSOLUTE_NS`] after sign-in, whichever comes first, and when their key is deleted or expires
//!   (the key is read again on every request).
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

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, Method, StatusCode, header};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The session cookie's name.
pub const COOKIE: &str = "acta_session";
/// The header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// `initiator.host.agent` of every request authenticated by a console session.
pub const CONSOLE_AGENT: &str = "Acta web console";
/// A session ends after this long without a request.
pub const IDLE_NS: i64 = 2 * 3_600 * 1_000_000_000;
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_NS: i64 = 12 * 3_600 * 1_000_000_000;
/// At most this many live sessions; sign-in answers 503 beyond (each needs a valid key, so this only bounds a
/// runaway script's memory).
const MAX_SESSIONS: usize = 100_000;
/// Sign-in sweeps expired sessions once this many are held.
const SWEEP_ABOVE: usize = 1_024;

/// The live sessions, by the SHA-256 of their cookie.
#[derive(Default)]
pub struct Sessions {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    key_id: String,
    csrf: String,
    created_ns: i64,
    last_seen_ns: i64,
}

impl Entry {
    fn expires_ns(&self) -> i64 {
        (self.last_seen_ns + IDLE_NS).min(self.created_ns + ABSOLUTE_NS)
    }
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

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written (each is inserted whole), so the
        // map is still usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a session for a key; returns the cookie value (shown to the browser only) and the session.
    pub(crate) fn create(&self, key_id: &str, now_ns: i64) -> Result<(String, SessionInfo), ApiError> {
        let token = random_token();
        let token_hash = hash(&token);
        let entry =
            Entry { key_id: key_id.to_string(), csrf: random_token(), created_ns: now_ns, last_seen_ns: now_ns };
        let info =
            SessionInfo { token_hash: token_hash.clone(), csrf: entry.csrf.clone(), expires_ns: entry.expires_ns() };
        let mut entries = self.lock();
        // Expired sessions leave when they are next presented; those never presented again are swept here,
        // at sign-in (rare), once there are enough of them to matter.
        if entries.len() >= SWEEP_ABOVE {
            entries.retain(|_, entry| entry.expires_ns() > now_ns);
        }
        if entries.len() >= MAX_SESSIONS {
            let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too_many_sessions", "too many sessions");
            error.retry_after = Some(60);
            return Err(error);
        }
        entries.insert(token_hash, entry);
        Ok((token, info))
    }

    /// The key id and session of a cookie value, if the session is live; marks it used.
    pub(crate) fn resume(&self, token: &str, now_ns: i64) -> Option<(String, SessionInfo)> {
        let token_hash = hash(token);
        let mut entries = self.lock();
        if entries.get(&token_hash)?.expires_ns() <= now_ns {
            entries.remove(&token_hash);
            return None;
        }
        let entry = entries.get_mut(&token_hash)?;
        entry.last_seen_ns = now_ns;
        let info = SessionInfo { token_hash, csrf: entry.csrf.clone(), expires_ns: entry.expires_ns() };
        Some((entry.key_id.clone(), info))
    }

    /// Ends a session.
    pub(crate) fn end(&self, session: &SessionInfo) {
        self.lock().remove(&session.token_hash);
    }

    /// How many sessions are held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    fn session_expires_when_idle_and_after_its_lifetime() {
        let sessions = Sessions::default();
        let Ok((token, _)) = sessions.create("k1", 0) else { panic!("create") };
        assert!(sessions.resume(&token, IDLE_NS - 1).is_some());
        // Used just now, so the idle clock restarted.
        assert!(sessions.resume(&token, 2 * IDLE_NS - 2).is_some());
        let mut now = 2 * IDLE_NS - 2;
        while now + IDLE_NS / 2 < ABSOLUTE_NS {
            now += IDLE_NS / 2;
            assert!(sessions.resume(&token, now).is_some());
        }
        assert!(sessions.resume(&token, ABSOLUTE_NS).is_none());
        assert!(sessions.is_empty());
    }

    #[test]
    fn idle_session_ends() {
        let sessions = Sessions::default();
        let Ok((token, _)) = sessions.create("k1", 0) else { panic!("create") };
        assert!(sessions.resume(&token, IDLE_NS).is_none());
    }

    #[test]
    fn sign_in_sweeps_sessions_never_presented_again() {
        let sessions = Sessions::default();
        for _ in 0..SWEEP_ABOVE {
            assert!(sessions.create("k1", 0).is_ok());
        }
        assert!(sessions.create("k1", ABSOLUTE_NS).is_ok());
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn unknown_token_is_no_session() {
        let sessions = Sessions::default();
        assert!(sessions.resume("nope", 0).is_none());
    }

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
