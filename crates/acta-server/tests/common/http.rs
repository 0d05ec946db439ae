//! A client of a test server with one key (or none) and, when asked, one User-Agent: JSON requests that answer
//! their status and JSON body, NDJSON sends, and waits for what the index shows.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::poll;
use super::server::{ADMIN_KEY, TestServer};

/// A client of the server with one key.
#[derive(Clone)]
pub struct As<'a> {
    pub server: &'a TestServer,
    /// The bearer key; none sends no `Authorization` header.
    pub key: Option<String>,
    /// The `User-Agent` (the audit records it); none sends reqwest's default.
    pub agent: Option<&'static str>,
}

impl TestServer {
    /// The platform admin.
    pub fn admin(&self) -> As<'_> {
        self.with_key(ADMIN_KEY)
    }

    /// A client with `key`, valid or not.
    pub fn with_key(&self, key: &str) -> As<'_> {
        As { server: self, key: Some(key.to_string()), agent: None }
    }

    /// A client without a key.
    pub fn anonymous(&self) -> As<'_> {
        As { server: self, key: None, agent: None }
    }
}

/// The status of an answer and its JSON body (null when it has none).
pub async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `text` with every byte but ASCII letters and digits percent-encoded, for a query string.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

impl<'a> As<'a> {
    /// The same client with this User-Agent.
    pub fn agent(self, agent: &'static str) -> As<'a> {
        As { agent: Some(agent), ..self }
    }

    /// A client of the same server, with the same User-Agent, and another key.
    pub fn with_key(&self, key: &str) -> As<'a> {
        As { server: self.server, key: Some(key.to_string()), agent: self.agent }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.server.http.request(method, format!("{}{path}", self.server.url));
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if let Some(agent) = self.agent {
            request = request.header("user-agent", agent);
        }
        request
    }

    /// A request with a JSON body when given.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }

    /// A request with a body sent as JSON whatever it holds (malformed bodies).
    pub async fn raw(&self, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        answer(request).await
    }

    /// A POST of `body` with this content type.
    pub async fn send_raw(&self, path: &str, body: impl Into<reqwest::Body>, content_type: &str) -> (u16, Value) {
        answer(self.request(Method::POST, path).header("content-type", content_type).body(body)).await
    }

    /// A POST of `lines` as NDJSON.
    pub async fn ndjson(&self, path: &str, lines: &[Value]) -> (u16, Value) {
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        self.send_raw(path, body, "application/x-ndjson").await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn get_with(&self, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
        answer(self.request(Method::GET, path).query(params)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Every event matching `q` the key can see, once the index has caught up with `expected` of them (or after
    /// 15 s).
    pub async fn search(&self, q: &str, expected: usize) -> Vec<Value> {
        let path = format!("/v1/events?limit=1000&q={}", urlencode(q));
        let events = |answer: &Value| answer["events"].as_array().cloned().unwrap_or_default();
        let (status, answer) = poll(
            Duration::from_secs(15),
            Duration::from_millis(100),
            || self.get(&path),
            |(status, answer)| *status != 200 || events(answer).len() >= expected,
        )
        .await;
        assert_eq!(status, 200, "{q}: {answer}");
        events(&answer)
    }

    /// The event with this id once it is searchable.
    pub async fn event(&self, id: &str) -> Value {
        let path = format!("/v1/events/{id}");
        let (status, answer) =
            poll(Duration::from_secs(15), Duration::from_millis(50), || self.get(&path), |(status, _)| *status == 200)
                .await;
        assert_eq!(status, 200, "event {id} not found: {answer}");
        answer
    }
}
