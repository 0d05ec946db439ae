//! `/v1/session`: signing in to the web console with a key, and out. The sessions themselves are
//! `access::session`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::auth::Principal;
use crate::access::session::{ABSOLUTE_NS, CONSOLE_AGENT, COOKIE, same_origin};
use crate::error::{ApiError, JsonBody};
use crate::state::AppState;

fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

fn cookie(value: &str, max_age_s: i64, secure: bool) -> Result<HeaderValue, ApiError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"))
        .map_err(ApiError::internal)
}

/// What the console needs to know about who signed in.
fn describe(principal: &Principal) -> Value {
    let key = &principal.key;
    let session = principal
        .session
        .as_ref()
        .map(|session| json!({"csrf_token": session.csrf, "expires_at": acta_cadf::format_time(session.expires_ns)}));
    json!({
        "key": {
            "id": key.id,
            "name": key.name,
            "role": key.role,
            "account": key.account,
            "instance": key.instance,
            "principal": key.principal,
        },
        "agent": principal.agent,
        "session": session,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    key: String,
}

/// `POST /v1/session`: `{key}` -> the session cookie, and the CSRF token in the body.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    if !same_origin(&headers) {
        return Err(ApiError::forbidden("sign-in from another origin is refused"));
    }
    let now_ns = crate::clock::now_ns();
    let key = crate::access::auth::authenticate_key(&state, body.key.trim(), now_ns).await?;
    let (token, info) = state.sessions.create(&key.id, now_ns).await?;
    let principal = Principal {
        key,
        address: crate::access::auth::client_address(&extensions),
        agent: CONSOLE_AGENT.to_string(),
        session: Some(info),
    };
    // Every sign-in is a login event, whatever the once-a-minute rule for API calls says: it is the moment a
    // person starts using the key in a browser.
    state.store.meta().touch_key(&principal.key.id, &acta_cadf::format_time(now_ns)).await?;
    crate::access::audit::key_login(&state.store, &principal).await?;
    let mut response = (StatusCode::CREATED, Json(describe(&principal))).into_response();
    let max_age_s = ABSOLUTE_NS / 1_000_000_000;
    response.headers_mut().insert(header::SET_COOKIE, cookie(&token, max_age_s, over_https(&headers))?);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /v1/session`: who is signed in, and the CSRF token again (the page forgets it on reload). A request with
/// no credential at all is told `{"signed_in": false}`: the console asks on every page load, and a visitor who has
/// not signed in yet is not an error. A key or cookie that is no longer valid is still `401`.
pub(crate) async fn show(headers: HeaderMap, principal: Result<Principal, ApiError>) -> Response {
    let answer = match principal {
        Ok(principal) => describe(&principal),
        Err(_)
            if !headers.contains_key(header::AUTHORIZATION)
                && crate::access::session::cookie_token(&headers).is_none() =>
        {
            json!({"signed_in": false})
        }
        Err(error) => return error.into_response(),
    };
    let mut response = Json(answer).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `DELETE /v1/session`: signs out on every node (the extractor has checked the CSRF token) and clears the cookie.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    principal: Principal,
) -> Result<Response, ApiError> {
    if let Some(session) = &principal.session {
        state.sessions.end(session).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie("", 0, over_https(&headers))?);
    Ok(response)
}
