//! Starts a real server on 127.0.0.1:0 over a temporary data directory, and speaks its HTTP API.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

pub mod receivers;

use acta_server::{AlertSettings, Limits, Running, ServerConfig};
use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

pub struct TestServer {
    pub running: Option<Running>,
    pub url: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// Holds the checkpoint signing key: outside the data directory, as in production.
    pub key_dir: tempfile::TempDir,
    pub alerts: AlertSettings,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let key_dir = tempfile::tempdir().expect("temp dir");
        let running = launch(dir.path(), key_dir.path(), limits, AlertSettings::default()).await;
        let url = format!("http://{}", running.addr);
        TestServer {
            running: Some(running),
            url,
            http: reqwest::Client::new(),
            dir,
            key_dir,
            alerts: AlertSettings::default(),
        }
    }

    /// A server with these alert settings (SMTP relay, webhook allowlist, short windows).
    pub async fn start_with_alerts(alerts: AlertSettings) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let key_dir = tempfile::tempdir().expect("temp dir");
        let running = launch(dir.path(), key_dir.path(), Limits::default(), alerts.clone()).await;
        let url = format!("http://{}", running.addr);
        TestServer { running: Some(running), url, http: reqwest::Client::new(), dir, key_dir, alerts }
    }

    /// Stops and starts again on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("stop");
        }
        let running = launch(self.dir.path(), self.key_dir.path(), Limits::default(), self.alerts.clone()).await;
        self.url = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("stop");
        }
    }

    /// Stops and hands over the data directory for inspection.
    pub async fn stop_and_keep(mut self) -> tempfile::TempDir {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("stop");
        }
        self.dir
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url)).bearer_auth(ADMIN_KEY)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.url)).bearer_auth(ADMIN_KEY)
    }

    /// Sends events as NDJSON; returns the status and the answer.
    pub async fn send(&self, events: &[Value]) -> (u16, Value) {
        let body: String = events.iter().map(|event| format!("{event}\n")).collect();
        self.send_raw(body, "application/x-ndjson").await
    }

    pub async fn send_raw(&self, body: impl Into<reqwest::Body>, content_type: &str) -> (u16, Value) {
        let response = self.post("/v1/events").header("content-type", content_type).body(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Every event matching `q` (pages of 1000).
    pub async fn search_all(&self, q: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut params = vec![("q", q.to_string()), ("limit", "1000".to_string())];
            if let Some(cursor) = &cursor {
                params.push(("cursor", cursor.clone()));
            }
            let answer: Value = self.get("/v1/events").query(&params).send().await.unwrap().json().await.unwrap();
            let page = answer["events"].as_array().cloned().unwrap_or_else(|| panic!("no events in {answer}"));
            events.extend(page);
            match answer["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return events,
            }
        }
    }

    pub async fn count(&self, q: &str) -> u64 {
        let answer: Value = self.get("/v1/events/count").query(&[("q", q)]).send().await.unwrap().json().await.unwrap();
        answer["count"].as_u64().unwrap_or_else(|| panic!("no count in {answer}"))
    }

    /// Waits until everything sent is searchable (the index commits about once a second).
    pub async fn wait_searchable(&self, expected: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let count = self.count("").await;
            if count >= expected {
                assert_eq!(count, expected, "more events than sent are searchable");
                return;
            }
            assert!(Instant::now() < deadline, "only {count} of {expected} events became searchable");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn launch(dir: &std::path::Path, key_dir: &std::path::Path, limits: Limits, alerts: AlertSettings) -> Running {
    acta_server::start(ServerConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        bootstrap_key: Some(ADMIN_KEY.to_string()),
        limits,
        integrity: Some(acta_store::IntegrityOptions::new(key_dir.join("signing-key"), "test-node")),
        alerts,
        retention: acta_server::RetentionSettings::default(),
    })
    .await
    .expect("server starts")
}

/// A valid event with the given action and extra members.
pub fn event(action: &str, extra: Value) -> Value {
    let mut event = json!({
        "eventTime": "2026-11-20T10:00:00.000Z",
        "action": action,
        "outcome": "success",
        "initiator": {"id": "IBMid-1", "name": "user@example.com", "typeURI": "service/security/account/user"},
        "target": {"id": "t-1", "name": "demo-key", "typeURI": "iam-identity/user-apikey"},
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut event, extra) {
        for (key, value) in extra {
            base.insert(key, value);
        }
    }
    event
}

/// The ids of events, sorted.
pub fn ids(events: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> =
        events.iter().map(|event| event["_acta"]["id"].as_str().unwrap_or_default().to_string()).collect();
    ids.sort();
    ids
}

/// Which of `events` (as sent, by their `id`) the reference evaluator selects for `q`.
pub fn expected_ids(q: &str, events: &[Value]) -> Vec<String> {
    let query = acta_query::parse(q).unwrap_or_else(|error| panic!("{q}: {error}"));
    let mut ids: Vec<String> = events
        .iter()
        .filter(|event| {
            let raw = event.to_string();
            let view = acta_query::EventView {
                raw: &raw,
                event,
                account: "default",
                instance: "default",
                region: "global",
                received: "",
            };
            acta_query::matches(&query, &view)
        })
        .map(|event| event["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}
