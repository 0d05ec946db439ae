//! Starting a real server on 127.0.0.1:0 over a temporary data directory, for one test or for the whole test
//! process, and its platform admin's shortcuts.

use std::time::Duration;

use acta_server::{AlertSettings, ForwardSettings, Limits, RetentionSettings, Running, ServerConfig};
use serde_json::Value;

use super::poll;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// The operator's settings a test may choose beside the limits and alerts.
#[derive(Clone, Default)]
struct Settings {
    forwarding: ForwardSettings,
    retention: RetentionSettings,
}

pub struct TestServer {
    pub running: Option<Running>,
    pub url: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// Holds the checkpoint signing key: outside the data directory, as in production.
    pub key_dir: tempfile::TempDir,
    pub alerts: AlertSettings,
    pub forwarding: ForwardSettings,
    pub retention: RetentionSettings,
    /// With `ACTA_TEST_POSTGRES_URL`, the server is a cluster node and this is its own database there.
    pub postgres: Option<String>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> TestServer {
        TestServer::start_on(limits, AlertSettings::default()).await
    }

    /// A server with these alert settings (SMTP relay, webhook allowlist, short windows).
    pub async fn start_with_alerts(alerts: AlertSettings) -> TestServer {
        TestServer::start_on(Limits::default(), alerts).await
    }

    /// A server with these alert settings (the webhook allowlist holds for routes' receivers), retention settings
    /// (the archive endpoint allowlist holds for routes' S3 stores) and forwarding settings.
    pub async fn start_with_forwarding(
        alerts: AlertSettings,
        retention: RetentionSettings,
        forwarding: ForwardSettings,
    ) -> TestServer {
        TestServer::start_full(Limits::default(), alerts, Settings { forwarding, retention }).await
    }

    async fn start_on(limits: Limits, alerts: AlertSettings) -> TestServer {
        TestServer::start_full(limits, alerts, Settings::default()).await
    }

    async fn start_full(limits: Limits, alerts: AlertSettings, settings: Settings) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let key_dir = tempfile::tempdir().expect("temp dir");
        let postgres = test_database().await;
        let running =
            launch(dir.path(), key_dir.path(), postgres.as_deref(), limits, alerts.clone(), settings.clone()).await;
        let url = format!("http://{}", running.addr);
        let Settings { forwarding, retention } = settings;
        TestServer {
            running: Some(running),
            url,
            http: reqwest::Client::new(),
            dir,
            key_dir,
            alerts,
            forwarding,
            retention,
            postgres,
        }
    }

    /// The server's metadata repository, opened beside it (SQLite in its directory, or its PostgreSQL database).
    pub async fn meta(&self) -> acta_store::Meta {
        meta_of(self.dir.path(), self.postgres.as_deref()).await
    }

    /// Stops and starts again on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("stop");
        }
        let running = launch(
            self.dir.path(),
            self.key_dir.path(),
            self.postgres.as_deref(),
            Limits::default(),
            self.alerts.clone(),
            Settings { forwarding: self.forwarding.clone(), retention: self.retention.clone() },
        )
        .await;
        self.url = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    pub async fn stop(self) {
        self.stop_and_keep().await;
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
        self.admin().ndjson("/v1/events", events).await
    }

    pub async fn send_raw(&self, body: impl Into<reqwest::Body>, content_type: &str) -> (u16, Value) {
        self.admin().send_raw("/v1/events", body, content_type).await
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
        let count =
            poll(Duration::from_secs(20), Duration::from_millis(50), || self.count(""), |count| *count >= expected)
                .await;
        assert!(count >= expected, "only {count} of {expected} events became searchable");
        assert_eq!(count, expected, "more events than sent are searchable");
    }
}

/// The metadata repository of a server's data directory, or of its PostgreSQL database.
pub async fn meta_of(dir: &std::path::Path, postgres: Option<&str>) -> acta_store::Meta {
    match postgres {
        Some(url) => acta_store::Meta::connect(url, 2).await.unwrap(),
        None => acta_store::Meta::open(&dir.join("meta.sqlite")).await.unwrap(),
    }
}

/// One suite, two stores: with `ACTA_TEST_POSTGRES_URL` (a PostgreSQL server, as `scripts/test` starts for the
/// second run of this suite), every test server is a cluster node with a database of its own made there; without
/// it, the embedded store.
async fn test_database() -> Option<String> {
    use sqlx::Connection;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = std::env::var("ACTA_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())?;
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!("acta_test_{}_{n}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(&base).await.expect("connecting to ACTA_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut connection).await.expect("creating a test database");
    let _ = connection.close().await;
    let (server, _) = base.rsplit_once('/').expect("ACTA_TEST_POSTGRES_URL ends with /<database>");
    Some(format!("{server}/{name}"))
}

async fn launch(
    dir: &std::path::Path,
    key_dir: &std::path::Path,
    postgres: Option<&str>,
    limits: Limits,
    alerts: AlertSettings,
    settings: Settings,
) -> Running {
    acta_server::start(ServerConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        bootstrap_key: Some(ADMIN_KEY.to_string()),
        limits,
        integrity: Some(acta_store::IntegrityOptions::new(key_dir.join("signing-key"), "test-node")),
        alerts,
        retention: settings.retention,
        forwarding: settings.forwarding,
        cluster: postgres.map(|url| acta_store::cluster::ClusterOptions {
            postgres_url: url.to_owned(),
            node: "test-node".to_owned(),
            // Beside the signing key, so a restarted server finds the days it wrote.
            object_store: Some(format!("file://{}", key_dir.join("objects").display())),
        }),
    })
    .await
    .expect("server starts")
}

/// One server for the whole test process (the cases of a proptest share it), on a thread and a runtime of its
/// own that keep serving until the process ends. `set_up` runs on that thread with the runtime and the server
/// (to fill it, blocking or on the runtime); what it returns is handed back within `timeout`.
pub fn process_server<T: Send + 'static>(
    timeout: Duration,
    set_up: impl FnOnce(&tokio::runtime::Runtime, &TestServer) -> T + Send + 'static,
) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = runtime.block_on(TestServer::start());
        sender.send(set_up(&runtime, &server)).unwrap();
        // Keep serving until the test process ends.
        runtime.block_on(std::future::pending::<()>());
        drop(server);
    });
    receiver.recv_timeout(timeout).expect("server with corpus")
}

/// A blocking request with the admin key, for the proptests, which run outside any runtime.
pub fn blocking_admin(method: reqwest::Method, url: String) -> reqwest::blocking::RequestBuilder {
    reqwest::blocking::Client::new().request(method, url).bearer_auth(ADMIN_KEY)
}
