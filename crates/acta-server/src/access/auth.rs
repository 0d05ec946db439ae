//! API keys and authentication.
//!
//! A key reads `acta_<id>_<secret>_<check>`: a recognisable prefix (secret scanners can find leaked keys), a
//! 16-hex-digit id to look the key up, 128 bits of secret as 32 hex digits, and 8 hex digits of checksum so
//! typos are refused without a database lookup. Only SHA-256 of the whole key is stored. The bootstrap key
//! given by an operator (`ACTA_BOOTSTRAP_KEY`) may be any text; unless it is a well-formed key it is stored
//! under the id `admin`.

use acta_store::ApiKey;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// A key's logins are audited at most this often.
const LOGIN_AUDIT_INTERVAL_NS: i64 = 60 * 1_000_000_000;

/// The id under which the platform admin key is stored.
pub const ADMIN_KEY_ID: &str = "admin";

/// A freshly generated key: its id and the secret text shown once.
pub struct NewKey {
    /// The key id.
    pub id: String,
    /// The full key text.
    pub secret: String,
}

/// Generates a key.
pub fn generate_key() -> NewKey {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id = hex(&bytes[..8]);
    let secret = hex(&bytes[8..]);
    let body = format!("acta_{id}_{secret}");
    let check = checksum(&body);
    NewKey { id, secret: format!("{body}_{check}") }
}

/// The id of a well-formed key text, `None` for other text (possibly an operator's bootstrap key).
pub fn key_id(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("acta_")?;
    let mut parts = rest.split('_');
    let (id, secret, check) = (parts.next()?, parts.next()?, parts.next()?);
    let well_formed = parts.next().is_none()
        && id.len() == 16
        && secret.len() == 32
        && check.len() == 8
        && [id, secret, check].iter().all(|part| part.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed || checksum(&format!("acta_{id}_{secret}")) != check {
        return None;
    }
    Some(id)
}

/// SHA-256 of a key text, hex.
pub fn hash_key(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn checksum(body: &str) -> String {
    hex(&Sha256::digest(body.as_bytes())[..4])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a request may do: the authenticated key, and where the request came from (for the audit trail).
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key.
    pub key: acta_store::ApiKey,
    /// The client's address.
    pub address: String,
    /// The client's User-Agent (`Acta CLI/<version>`, ...), or `Acta web console` for a console session.
    pub agent: String,
    /// The console session the request came with, when it authenticated by cookie rather than Bearer.
    pub session: Option<crate::access::session::SessionInfo>,
}

impl Principal {
    /// Whether this is the platform admin.
    pub fn is_admin(&self) -> bool {
        self.key.role == "admin"
    }

    /// Whether the key's role includes `role` (admin > manager > writer > reader; ingest only ingests).
    pub fn has(&self, role: &str) -> bool {
        let rank = |name: &str| match name {
            "reader" => 1,
            "writer" => 2,
            "manager" => 3,
            "admin" => 4,
            _ => 0,
        };
        if role == "ingest" {
            return self.key.role == "ingest" || rank(&self.key.role) >= rank("writer");
        }
        rank(&self.key.role) >= rank(role)
    }

    /// The principal's display name in audit events.
    pub fn name(&self) -> &str {
        if self.key.principal.is_empty() { &self.key.name } else { &self.key.principal }
    }

    /// Refuses the request unless the key holds `role`.
    pub fn require(&self, role: &str) -> Result<(), ApiError> {
        if self.has(role) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!("this action needs the {role} role; the key has {}", self.key.role)))
    }
}

/// The stored key of a key text, if the text is that key and it has not expired.
pub(crate) async fn authenticate_key(state: &AppState, text: &str, now_ns: i64) -> Result<ApiKey, ApiError> {
    let id = key_id(text).unwrap_or(ADMIN_KEY_ID);
    let invalid = || ApiError::unauthorized("the API key is not valid");
    let key = state.store.meta().key_for_auth(id).await?.ok_or_else(invalid)?;
    if !crate::access::session::same_secret(&key.secret_hash, &hash_key(text)) {
        return Err(invalid());
    }
    check_not_expired(&key, now_ns)?;
    Ok(key)
}

fn check_not_expired(key: &ApiKey, now_ns: i64) -> Result<(), ApiError> {
    let now = acta_cadf::format_time(now_ns);
    if key.expires_at.as_deref().is_some_and(|expires| expires <= now.as_str()) {
        return Err(ApiError::unauthorized("the API key has expired"));
    }
    Ok(())
}

/// The client's IP address, when the server was started with connection info (it always is outside tests).
pub(crate) fn client_address(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_default()
}

/// The key of a console session's cookie, after the CSRF check for state-changing methods.
async fn from_session(
    parts: &Parts,
    state: &AppState,
    token: &str,
    now_ns: i64,
) -> Result<(ApiKey, crate::access::session::SessionInfo), ApiError> {
    let (key_id, session) = state
        .sessions
        .resume(token, now_ns)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the console session has ended; sign in again"))?;
    crate::access::session::check_csrf(&parts.method, &parts.headers, &session)?;
    // Read the key again on every request, so deleting it (or its expiry) ends its sessions at once.
    let Some(key) = state.store.meta().key_for_auth(&key_id).await? else {
        // Its sessions went with the key's row (ON DELETE CASCADE); this one is ended all the same.
        state.sessions.end(&session).await?;
        return Err(ApiError::unauthorized("the API key of this session no longer exists; sign in again"));
    };
    if let Err(error) = check_not_expired(&key, now_ns) {
        state.sessions.end(&session).await?;
        return Err(error);
    }
    Ok((key, session))
}

/// The key text of an `Authorization` header: `Bearer <key>`, or `Basic` with the key as the password, for log
/// shippers whose Elasticsearch output only speaks basic authentication (the user name is ignored).
fn key_of_authorization(value: &str) -> Option<String> {
    if let Some(key) = value.strip_prefix("Bearer ") {
        return Some(key.trim().to_owned());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let now_ns = crate::clock::now_ns();
        let address = client_address(&parts.extensions);
        // An explicit Authorization header wins over a cookie the browser may also have attached.
        let principal = if let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let text = header.to_str().ok().and_then(key_of_authorization).ok_or_else(|| {
                ApiError::unauthorized(
                    "the Authorization header must be Bearer <api key> (or Basic with the api key as password)",
                )
            })?;
            let key = authenticate_key(state, &text, now_ns).await?;
            let agent = parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("NotSet")
                .chars()
                .take(200)
                .collect();
            Principal { key, address, agent, session: None }
        } else if let Some(token) = crate::access::session::cookie_token(&parts.headers) {
            let (key, session) = from_session(parts, state, token, now_ns).await?;
            Principal { key, address, agent: crate::access::session::CONSOLE_AGENT.to_string(), session: Some(session) }
        } else {
            return Err(ApiError::unauthorized("missing Authorization: Bearer <api key>"));
        };
        if let Some(rates) = &state.guards.key_rates {
            rates.check(&principal.key.id)?;
        }
        let now = acta_cadf::format_time(now_ns);
        let last_used_ns = principal.key.last_used_at.as_deref().and_then(|text| acta_cadf::parse_time(text).ok());
        if last_used_ns.is_none_or(|last| now_ns - last >= LOGIN_AUDIT_INTERVAL_NS) {
            state.store.meta().touch_key(&principal.key.id, &now).await?;
            crate::access::audit::key_login(&state.store, &principal).await?;
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_prefix_id_secret_and_valid_checksum() {
        let key = generate_key();
        assert!(key.secret.starts_with("acta_"));
        assert_eq!(key_id(&key.secret), Some(key.id.as_str()));
    }

    #[test]
    fn key_with_a_typo_is_not_well_formed() {
        let key = generate_key();
        let mut typo = key.secret.clone().into_bytes();
        let position = 25;
        typo[position] = if typo[position] == b'a' { b'b' } else { b'a' };
        assert_eq!(key_id(&String::from_utf8_lossy(&typo)), None);
    }

    #[test]
    fn secret_holds_128_bits() {
        let key = generate_key();
        let secret = key.secret.split('_').nth(2).unwrap_or_default();
        assert_eq!(secret.len() * 4, 128);
    }
}
