//! The console's sessions: an API key exchanged for a cookie, CSRF on every state-changing call, sign-out, the
//! audit agent taken from the session, a session kept over a restart, and the security headers of the console's
//! page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{ADMIN_KEY, TestServer};
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

/// A signed-in browser, as far as the server can tell: the cookie and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in_with(server: &TestServer, key: &str) -> reqwest::Response {
    server.http.post(format!("{}/v1/session", server.url)).json(&json!({ "key": key })).send().await.unwrap()
}

fn set_cookie(headers: &HeaderMap) -> String {
    headers.get(SET_COOKIE).expect("a Set-Cookie header").to_str().unwrap().to_string()
}

async fn sign_in(server: &TestServer, key: &str) -> Session {
    let response = sign_in_with(server, key).await;
    assert_eq!(response.status(), 201);
    let header = set_cookie(response.headers());
    let cookie = header.split(';').next().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    let csrf = body["session"]["csrf_token"].as_str().expect("a CSRF token").to_string();
    Session { cookie, csrf }
}

impl Session {
    fn request(&self, server: &TestServer, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        server
            .http
            .request(method, format!("{}{path}", server.url))
            .header("cookie", &self.cookie)
            .header("user-agent", "Mozilla/5.0 (forged) Acta CLI/0.1.0")
    }
}

/// The events of an account matching `q`, as the platform admin sees them.
async fn events_in(server: &TestServer, account: &str, q: &str) -> Vec<Value> {
    let params = [("q", q), ("account", account), ("limit", "1000")];
    let answer: Value = server.get("/v1/events").query(&params).send().await.unwrap().json().await.unwrap();
    answer["events"].as_array().cloned().unwrap_or_else(|| panic!("no events in {answer}"))
}

/// An account with a manager key; returns the key.
async fn manager_key(server: &TestServer) -> String {
    let admin = server.admin();
    let (_, answer) = admin.post("/v1/accounts", json!({"name": "Acme", "id": "acme"})).await;
    assert_eq!(answer["id"], "acme");
    let body = json!({"account": "acme", "name": "officer", "role": "manager", "principal": "officer@acme.example"});
    admin.new_key(body).await.key.unwrap()
}

#[tokio::test]
async fn a_bad_key_is_401_and_sets_no_cookie() {
    let server = TestServer::start().await;
    for key in ["acta_0000000000000000_00000000000000000000000000000000_00000000", "not a key", ""] {
        let response = sign_in_with(&server, key).await;
        assert_eq!(response.status(), 401, "{key}");
        assert!(response.headers().get(SET_COOKIE).is_none());
    }
    server.stop().await;
}

#[tokio::test]
async fn the_cookie_is_httponly_samesite_strict_and_secure_behind_https() {
    let server = TestServer::start().await;
    let response = sign_in_with(&server, ADMIN_KEY).await;
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(response.headers());
    assert!(cookie.starts_with("acta_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.split("; ").any(|part| part == flag), "{flag} in {cookie}");
    }
    assert!(!cookie.split("; ").any(|part| part == "Secure"), "plain HTTP: {cookie}");
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = response.json().await.unwrap();
    assert!(!body.to_string().contains(ADMIN_KEY), "the key is not echoed");
    assert_eq!(body["agent"], "Acta web console");

    let response = server
        .http
        .post(format!("{}/v1/session", server.url))
        .header("x-forwarded-proto", "https")
        .json(&json!({ "key": ADMIN_KEY }))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(response.headers()).split("; ").any(|part| part == "Secure"));
    server.stop().await;
}

#[tokio::test]
async fn sign_in_refuses_a_foreign_origin_and_a_form_body() {
    let server = TestServer::start().await;
    let response = server
        .http
        .post(format!("{}/v1/session", server.url))
        .header("origin", "https://evil.example")
        .json(&json!({ "key": ADMIN_KEY }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get(SET_COOKIE).is_none());
    // What a cross-site HTML form can send without a CORS preflight.
    let response = server
        .http
        .post(format!("{}/v1/session", server.url))
        .header("content-type", "text/plain")
        .body(json!({ "key": ADMIN_KEY }).to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(response.headers().get(SET_COOKIE).is_none());
    server.stop().await;
}

#[tokio::test]
async fn reads_need_only_the_cookie_and_changes_need_the_csrf_token() {
    let server = TestServer::start().await;
    let key = manager_key(&server).await;
    let session = sign_in(&server, &key).await;

    let shown: Value =
        session.request(&server, reqwest::Method::GET, "/v1/session").send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["key"]["account"], "acme");
    assert_eq!(shown["session"]["csrf_token"], session.csrf.as_str());
    let listed = session.request(&server, reqwest::Method::GET, "/v1/keys").send().await.unwrap();
    assert_eq!(listed.status(), 200);

    let new_key = json!({"name": "demo-key", "role": "reader"});
    let missing = session.request(&server, reqwest::Method::POST, "/v1/keys").json(&new_key).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["code"], "csrf");
    let wrong = session
        .request(&server, reqwest::Method::POST, "/v1/keys")
        .header("x-csrf-token", "0".repeat(session.csrf.len()))
        .json(&new_key)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    // Another session's token is no better.
    let other = sign_in(&server, &key).await;
    let crossed = session
        .request(&server, reqwest::Method::POST, "/v1/keys")
        .header("x-csrf-token", &other.csrf)
        .json(&new_key)
        .send()
        .await
        .unwrap();
    assert_eq!(crossed.status(), 403);
    let created = session
        .request(&server, reqwest::Method::POST, "/v1/keys")
        .header("x-csrf-token", &session.csrf)
        .json(&new_key)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    // DELETE and PATCH are state-changing too.
    let path = format!("/v1/keys/{id}");
    let delete = session.request(&server, reqwest::Method::DELETE, &path).send().await.unwrap();
    assert_eq!(delete.status(), 403);
    let patch = session
        .request(&server, reqwest::Method::PATCH, &path)
        .json(&json!({"description": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 403);
    server.stop().await;
}

#[tokio::test]
async fn console_requests_are_audited_with_the_console_agent_from_the_session() {
    let server = TestServer::start().await;
    let key = manager_key(&server).await;
    let session = sign_in(&server, &key).await;
    let created = session
        .request(&server, reqwest::Method::POST, "/v1/keys")
        .header("x-csrf-token", &session.csrf)
        .json(&json!({"name": "demo-key", "role": "reader"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let q = "action:==iam-identity.user-apikey.create target.name:==demo-key";
    let events = loop {
        let events = events_in(&server, "acme", q).await;
        if !events.is_empty() || std::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(events.len(), 1);
    // The request said it was a CLI; the session says it came from the console.
    assert_eq!(events[0]["initiator"]["host"]["agent"], "Acta web console");
    assert_eq!(events[0]["initiator"]["id"], "officer@acme.example");
    // Signing in is a login event of the key, from the console.
    let logins =
        events_in(&server, "acme", "action:==iam-identity.user-apikey.login initiator.host.agent:\"Acta web console\"")
            .await;
    assert!(!logins.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let server = TestServer::start().await;
    let session = sign_in(&server, ADMIN_KEY).await;
    let refused = session.request(&server, reqwest::Method::DELETE, "/v1/session").send().await.unwrap();
    assert_eq!(refused.status(), 403, "sign-out is state-changing: it needs the CSRF token");
    let signed_out = session
        .request(&server, reqwest::Method::DELETE, "/v1/session")
        .header("x-csrf-token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    let cleared = set_cookie(signed_out.headers());
    assert!(cleared.starts_with("acta_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    for path in ["/v1/session", "/v1/events", "/v1/keys"] {
        let after = session.request(&server, reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(after.status(), 401, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_visitor_without_key_or_cookie_is_told_nobody_is_signed_in_without_an_error() {
    let server = TestServer::start().await;
    let answer = server.http.get(format!("{}/v1/session", server.url)).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"signed_in": false}));
    let wrong_key =
        server.http.get(format!("{}/v1/session", server.url)).bearer_auth("acta_not_a_key").send().await.unwrap();
    assert_eq!(wrong_key.status(), 401, "a key that is not valid is still refused");
    server.stop().await;
}

#[tokio::test]
async fn deleting_the_key_ends_its_sessions() {
    let server = TestServer::start().await;
    let key = manager_key(&server).await;
    let session = sign_in(&server, &key).await;
    let listed: Value = server.get("/v1/keys?account=acme").send().await.unwrap().json().await.unwrap();
    let id = listed["keys"][0]["id"].as_str().unwrap().to_string();
    let deleted =
        server.http.delete(format!("{}/v1/keys/{id}?account=acme", server.url)).bearer_auth(ADMIN_KEY).send().await;
    assert_eq!(deleted.unwrap().status(), 204);
    let after = session.request(&server, reqwest::Method::GET, "/v1/session").send().await.unwrap();
    assert_eq!(after.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn a_session_survives_a_server_restart() {
    let mut server = TestServer::start().await;
    let session = sign_in(&server, ADMIN_KEY).await;
    server.restart().await;
    let shown = session.request(&server, reqwest::Method::GET, "/v1/session").send().await.unwrap();
    assert_eq!(shown.status(), 200);
    let shown: Value = shown.json().await.unwrap();
    assert_eq!(shown["session"]["csrf_token"], session.csrf.as_str());
    server.stop().await;
}

#[tokio::test]
async fn the_console_page_has_a_strict_content_security_policy() {
    let server = TestServer::start().await;
    let response = server.http.get(format!("{}/", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers.get("content-type").unwrap(), "text/html; charset=utf-8");
    let csp = headers.get("content-security-policy").expect("a CSP").to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.split("; ").any(|part| part == directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(headers.get("referrer-policy").unwrap(), "no-referrer");
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"<script type="module" src="/console/js/app.js"></script>"#));
    assert!(!page.contains("<script>"), "no inline script");

    let script = server.http.get(format!("{}/console/js/app.js", server.url)).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers().get("content-type").unwrap(), "text/javascript; charset=utf-8");
    assert!(script.headers().get("content-security-policy").is_some());
    let missing = server.http.get(format!("{}/console/../Cargo.toml", server.url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    // API answers carry the headers too.
    let api = server.http.get(format!("{}/v1/events", server.url)).send().await.unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(api.headers().get("x-content-type-options").unwrap(), "nosniff");
    server.stop().await;
}
