//! A server in this process whose clock the test holds (`RetentionSettings::clock`, a test knob of
//! `ServerConfig`), for retention and archives: events arrive on day 0, 1, 2... and "now" is whatever day the
//! test says. Day 0 is 2026-01-01 (UTC); each day's events arrive at 01:00.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use acta_server::{Clock, RetentionSettings, Running, ServerConfig};
use serde_json::{Value, json};

use super::ADMIN_KEY;

pub const DAY_NS: i64 = 86_400_000_000_000;
pub const HOUR_NS: i64 = 3_600_000_000_000;
/// Day 0 is 2026-01-01 (UTC).
pub const DAY0_NS: i64 = 1_767_225_600_000_000_000;

/// `YYYY-MM-DD` of a day.
pub fn day_name(day: i64) -> String {
    acta_cadf::format_time(DAY0_NS + day * DAY_NS)[..10].to_string()
}

/// 01:00 of a day, when its events arrive.
pub fn arrival(day: i64) -> i64 {
    DAY0_NS + day * DAY_NS + HOUR_NS
}

/// The `i`th event of a day, without an id: its time is its arrival.
pub fn day_event(day: i64, i: usize) -> Value {
    json!({
        "eventTime": acta_cadf::format_time(arrival(day)),
        "action": "iam-identity.user-apikey.create",
        "outcome": "success",
        "message": format!("event {i} of day {day}"),
        "initiator": {"id": "IBMid-1", "name": "user@example.com", "typeURI": "service/security/account/user"},
        "target": {"id": "t-1", "name": "demo-key", "typeURI": "iam-identity/user-apikey"},
    })
}

/// A server in this process, with its clock in the test's hands.
pub struct ClockedServer {
    pub running: Option<Running>,
    pub url: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// Holds the signing key, outside the data directory.
    pub key_dir: tempfile::TempDir,
    /// The only root directory archives may be written under.
    pub archive_root: tempfile::TempDir,
    pub clock: Arc<AtomicI64>,
    /// Every root archives may be written under: its own, and in a cluster its peer's (as a directory every
    /// node mounts).
    archive_roots: Vec<std::path::PathBuf>,
    /// Cluster mode: the cluster's PostgreSQL and this node's name.
    cluster: Option<acta_store::cluster::ClusterOptions>,
}

impl ClockedServer {
    /// Starts at 01:00 of day 0; archives may reach the endpoints of `endpoint_allow` (the operator's
    /// `ACTA_ARCHIVE_ENDPOINT_ALLOW`: "" for none, "127.0.0.0/8" for an S3 store on this machine).
    pub async fn start(endpoint_allow: &str) -> ClockedServer {
        let mut server = ClockedServer::unstarted(None);
        server.launch(endpoint_allow, None).await;
        server
    }

    /// Cluster mode: a node `name` of the cluster on `postgres_url`, archives limited to directories; `peer`,
    /// another node, gives it the cluster's signing key and its archive root.
    pub async fn start_node(postgres_url: &str, name: &str, peer: Option<&ClockedServer>) -> ClockedServer {
        let cluster = acta_store::cluster::ClusterOptions {
            postgres_url: postgres_url.to_owned(),
            node: name.to_owned(),
            object_store: None,
        };
        let mut server = ClockedServer::unstarted(Some(cluster));
        if let Some(peer) = peer {
            std::fs::copy(peer.key_dir.path().join("signing-key"), server.key_dir.path().join("signing-key")).unwrap();
            server.archive_roots.push(peer.archive_root.path().canonicalize().unwrap());
        }
        server.launch("", None).await;
        server
    }

    fn unstarted(cluster: Option<acta_store::cluster::ClusterOptions>) -> ClockedServer {
        let archive_root = tempfile::tempdir().unwrap();
        ClockedServer {
            running: None,
            url: String::new(),
            http: reqwest::Client::new(),
            dir: tempfile::tempdir().unwrap(),
            key_dir: tempfile::tempdir().unwrap(),
            archive_roots: vec![archive_root.path().canonicalize().unwrap()],
            archive_root,
            clock: Arc::new(AtomicI64::new(arrival(0))),
            cluster,
        }
    }

    /// Starts on the data directory; with `crash_after_step`, a retention deletion stops after that step as if
    /// the process had died.
    async fn launch(&mut self, endpoint_allow: &str, crash_after_step: Option<u8>) {
        let clock = self.clock.clone();
        let config = ServerConfig {
            data_dir: self.dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            bootstrap_key: Some(ADMIN_KEY.to_string()),
            limits: acta_server::Limits::default(),
            integrity: Some(acta_store::IntegrityOptions::new(
                self.key_dir.path().join("signing-key"),
                self.cluster.as_ref().map_or("test-node", |cluster| cluster.node.as_str()),
            )),
            alerts: acta_server::AlertSettings::default(),
            retention: RetentionSettings {
                archive_roots: self.archive_roots.clone(),
                archive_endpoint_allow: acta_server::parse_allowlist(endpoint_allow).unwrap(),
                clock: Clock(Arc::new(move || clock.load(Ordering::SeqCst))),
                crash_after_step,
                ..RetentionSettings::default()
            },
            forwarding: Default::default(),
            cluster: self.cluster.clone(),
        };
        let running = acta_server::start(config).await.expect("server starts");
        self.url = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    /// Stops and starts again on the same data directory (see [`ClockedServer::launch`]).
    pub async fn restart(&mut self, endpoint_allow: &str, crash_after_step: Option<u8>) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
        self.launch(endpoint_allow, crash_after_step).await;
    }

    /// Moves "now" to 01:00 of `day`.
    pub fn set_day(&self, day: i64) {
        self.clock.store(arrival(day), Ordering::SeqCst);
    }

    /// A request with the admin key and a JSON body when given; the status and the JSON answer.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(ADMIN_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends `events` (as NDJSON) arriving on `day`, the clock set to that day first, to an instance (by default
    /// the routed one, the global instance); all must be taken.
    pub async fn send_on_day(&self, day: i64, events: &[Value], instance: Option<&str>) {
        self.set_day(day);
        let body: String = events.iter().map(|event| format!("{event}\n")).collect();
        let target = instance.map_or(String::new(), |instance| format!("?instance={instance}"));
        let response = self
            .http
            .post(format!("{}/v1/events{target}", self.url))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap());
    }

    pub async fn search(&self, q: &str) -> Vec<Value> {
        let (status, answer) =
            self.call(reqwest::Method::GET, &format!("/v1/events?limit=1000&q={}", encode(q)), None).await;
        assert_eq!(status, 200, "{answer}");
        answer["events"].as_array().cloned().unwrap_or_default()
    }

    pub async fn count(&self, q: &str) -> u64 {
        let (_, answer) = self.call(reqwest::Method::GET, &format!("/v1/events/count?q={}", encode(q)), None).await;
        answer["count"].as_u64().unwrap_or_else(|| panic!("no count in {answer}"))
    }

    /// Waits until `q` counts `expected` (the index commits about once a second).
    pub async fn wait_count(&self, q: &str, expected: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let count = self.count(q).await;
            if count == expected {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{q:?} counts {count}, expected {expected}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn run_retention(&self) -> acta_server::RunReport {
        self.running.as_ref().unwrap().run_retention().await
    }

    /// The public key of the server's signing key, as `acta verify --key` takes it.
    pub fn verifier_key(&self) -> String {
        acta_ledger::SigningKey::load(&self.key_dir.path().join("signing-key")).unwrap().verifier().to_text()
    }

    /// Stops the server; its directories stay for inspection.
    pub async fn stop(mut self) -> ClockedServer {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
        self
    }
}

/// `text` with every byte but ASCII letters and digits percent-encoded, for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
