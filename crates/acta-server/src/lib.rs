//! Acta's HTTP server: routes, authentication, ingest, search, live tail and export, over `acta-store`.
//!
//! It also serves the web console (`console`) and its sign-in sessions (`session`).
//!
//! Handlers are small functions of extractors with one [`AppState`]; they never touch files (the store does)
//! and every read is scoped to the account of the authenticated key.

mod admin;
mod aggregate;
pub mod alerts;
pub mod archive;
mod archive_api;
mod audit;
pub mod auth;
mod boards;
pub mod buckets;
mod bulk;
pub mod console;
pub mod error;
mod events;
mod integrity;
pub mod metrics;
pub mod openapi;
pub mod retention;
pub mod session;
pub mod state;
pub mod timespec;
mod views;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use acta_store::{Account, ApiKey, Instance, IntegrityOptions, Store, StoreOptions};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::broadcast;

pub use alerts::{AlertSettings, parse_allowlist};
pub use retention::{Clock, RetentionSettings, RunReport};
pub use state::{AppState, Limits, LiveEvent};

/// The account the platform admin acts in when it names none, created on first start.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Unix nanoseconds now.
pub fn now_ns() -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(now).unwrap_or(i64::MAX)
}

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The platform admin key to create on first start (`ACTA_BOOTSTRAP_KEY`); random when absent.
    pub bootstrap_key: Option<String>,
    /// Limits.
    pub limits: Limits,
    /// Signed checkpoints (signing key, node name); `None` serves without them.
    pub integrity: Option<IntegrityOptions>,
    /// Alerting: SMTP relay, webhook allowlist, retries.
    pub alerts: AlertSettings,
    /// Retention and archives: period, allowed archive roots, clock.
    pub retention: RetentionSettings,
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The admin key when this start created a random one (printed once).
    pub created_admin_key: Option<String>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), std::io::Error>>,
    sealer: tokio::task::JoinHandle<()>,
    background: Vec<tokio::task::JoinHandle<()>>,
    store: Arc<Store>,
    state: AppState,
    retention_task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Runs retention now (archive, then delete what is due), retrying failed archives at once, and says what
    /// it did. The background task does the same on its own schedule.
    pub async fn run_retention(&self) -> RunReport {
        retention::run_once(&self.state, true, true).await
    }

    /// Stops accepting, finishes requests in flight, commits the index.
    pub async fn stop(self) -> Result<(), std::io::Error> {
        self.sealer.abort();
        let _ = self.shutdown.send(());
        let result = self.task.await.map_err(std::io::Error::other)?;
        stop_retention(self.retention_task).await;
        finish(self.background).await;
        self.store.close().await;
        result
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(self) -> Result<(), std::io::Error> {
        let result = self.task.await.map_err(std::io::Error::other)?;
        stop_retention(self.retention_task).await;
        finish(self.background).await;
        self.store.close().await;
        result
    }
}

/// Stops the retention task where it is: an archive copy may wait on a slow store, and every step of a deletion
/// is safe to interrupt (the next start finishes it), so there is nothing to wait for.
async fn stop_retention(task: tokio::task::JoinHandle<()>) {
    task.abort();
    let _ = task.await;
}

/// Waits (briefly) for the alert engine and the delivery worker to end, so they do not write to a closed
/// database. Anything they leave undone is in the outbox or the log and is picked up at the next start.
async fn finish(background: Vec<tokio::task::JoinHandle<()>>) {
    for task in background {
        if tokio::time::timeout(std::time::Duration::from_secs(3), task).await.is_err() {
            tracing::warn!("a background task did not stop within 3 s");
        }
    }
}

/// Opens the data directory, bootstraps it if new, and starts serving.
pub async fn start(config: ServerConfig) -> anyhow_like::Result<Running> {
    let mut options = StoreOptions { integrity: config.integrity.clone(), ..StoreOptions::default() };
    options.log.clock = config.retention.clock.0.clone();
    let store = Arc::new(Store::open(&config.data_dir, options).await?);
    let created_admin_key = bootstrap(&store, &config.data_dir, config.bootstrap_key.as_deref()).await?;
    let (live, engine_events) = broadcast::channel(4096);
    let (stop_streams, stopping) = tokio::sync::watch::channel(false);
    let (alerts, reloads) = alerts::Alerts::new(config.alerts.clone());
    let alerts = Arc::new(alerts);
    // The engine subscribed above, before the listener exists: it sees every event this process accepts.
    let background = vec![
        tokio::spawn(alerts::engine::run(store.clone(), alerts.clone(), engine_events, reloads, stopping.clone())),
        tokio::spawn(alerts::outbox::run(store.clone(), alerts.clone(), stopping.clone())),
    ];
    let sessions = Arc::new(session::Sessions::default());
    let state = AppState {
        store: store.clone(),
        live,
        limits: config.limits.clone(),
        alerts,
        stopping: stopping.clone(),
        sessions,
        retention: Arc::default(),
        retention_settings: config.retention.clone(),
        metrics: Arc::default(),
    };
    let retention_task = tokio::spawn(retention::run(state.clone(), stopping));
    let app = router(state.clone());
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, on_shutdown) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = on_shutdown.await;
                let _ = stop_streams.send(true);
            })
            .await
    });
    let sealer = tokio::spawn(seal_finished_days(Arc::downgrade(&store), config.retention.clock.clone()));
    tracing::info!(%addr, "acta listening");
    Ok(Running { addr, created_admin_key, shutdown, task, sealer, background, store, state, retention_task })
}

/// An instance that stops receiving events keeps its last day open; this seals finished days every hour so
/// they are compressed and final (retention, archives and integrity work on sealed segments).
async fn seal_finished_days(store: std::sync::Weak<Store>, clock: Clock) {
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        // Only a weak hold: a stopped server's store must close and release its data directory.
        let Some(log) = store.upgrade().map(|store| store.log().clone()) else {
            return;
        };
        let today = acta_store::Day::from_ns(clock.now());
        match tokio::task::spawn_blocking(move || log.seal_before(today)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "sealing finished days failed; will retry"),
            Err(error) => tracing::error!(%error, "sealing task failed"),
        }
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/", get(console::index))
        .route("/console/{*path}", get(console::asset))
        .route("/v1/session", post(session::sign_in).get(session::show).delete(session::sign_out))
        .route("/v1/events", post(events::ingest).get(events::search))
        .route("/v1/events/count", get(events::count))
        .route("/_bulk", post(bulk::bulk))
        .route("/{index}/_bulk", post(bulk::bulk_into))
        .route("/v1/events/tail", get(events::tail))
        .route("/v1/events/export", get(events::export))
        .route("/v1/events/histogram", get(aggregate::histogram))
        .route("/v1/events/terms", get(aggregate::terms))
        .route("/v1/events/{id}", get(events::one))
        .route("/v1/accounts", post(admin::create_account).get(admin::list_accounts))
        .route("/v1/instances", post(admin::create_instance).get(admin::list_instances))
        .route(
            "/v1/instances/{id}",
            get(admin::show_instance).patch(admin::update_instance).delete(admin::delete_instance),
        )
        .route(
            "/v1/instances/{id}/archive",
            get(archive_api::show_archive).put(archive_api::set_archive).delete(archive_api::delete_archive),
        )
        .route("/v1/keys", post(admin::create_key).get(admin::list_keys))
        .route("/v1/keys/{id}", get(admin::show_key).patch(admin::update_key).delete(admin::delete_key))
        .route("/v1/keys/{id}/lock", post(admin::lock_key))
        .route("/v1/keys/{id}/unlock", post(admin::unlock_key))
        .route("/v1/events/{id}/proof", get(integrity::proof))
        .route("/v1/integrity/keys", get(integrity::keys))
        .route("/v1/integrity/checkpoints", get(integrity::checkpoints))
        .route("/v1/views", post(views::create_view).get(views::list_views))
        .route("/v1/views/categories", get(views::list_categories))
        .route("/v1/views/{id}", get(views::show_view).patch(views::update_view).delete(views::delete_view))
        .route("/v1/alerts", post(alerts::api::create_alert).get(alerts::api::list_alerts))
        .route(
            "/v1/alerts/{id}",
            get(alerts::api::show_alert).patch(alerts::api::update_alert).delete(alerts::api::delete_alert),
        )
        .route("/v1/alerts/{id}/test", post(alerts::api::test_alert))
        .route("/v1/alerts/{id}/history", get(alerts::api::alert_history))
        .route(
            "/v1/boards",
            post(boards::create_board)
                .get(boards::list_boards)
                .layer(DefaultBodyLimit::max(boards::MAX_BODY_BYTES.min(body_limit))),
        )
        .route("/v1/boards/categories", get(boards::list_categories))
        .route(
            "/v1/boards/{id}",
            get(boards::show_board)
                .patch(boards::update_board)
                .delete(boards::delete_board)
                .layer(DefaultBodyLimit::max(boards::MAX_BODY_BYTES.min(body_limit))),
        )
        .route("/v1/boards/{id}/graphs/{n}/data", get(boards::graph_data))
        .route("/v1/boards/{id}/graphs/{n}/drilldown", get(boards::graph_drilldown))
        .fallback(|| async { error::ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(console::security_headers))
        .with_state(state)
}

/// On an empty data directory: the platform admin key, the default account and its global instance.
async fn bootstrap(store: &Store, data_dir: &Path, given: Option<&str>) -> anyhow_like::Result<Option<String>> {
    let meta = store.meta();
    let now = acta_cadf::format_time(now_ns());
    if meta.account(DEFAULT_ACCOUNT).await?.is_none() {
        meta.create_account(&Account {
            id: DEFAULT_ACCOUNT.into(),
            name: DEFAULT_ACCOUNT.into(),
            created_at: now.clone(),
        })
        .await?;
        meta.create_instance(&Instance {
            id: "default".into(),
            account: DEFAULT_ACCOUNT.into(),
            name: "default".into(),
            region: "global".into(),
            retention_days: 30,
            global: true,
            strict: false,
            created_at: now.clone(),
        })
        .await?;
    }
    boards::give_predefined_to_all(meta).await?;
    if meta.has_keys().await? {
        return Ok(None);
    }
    let (secret, created) = match given {
        Some(secret) if !secret.trim().is_empty() => (secret.trim().to_string(), None),
        _ => {
            let key = auth::generate_key();
            (key.secret.clone(), Some(key.secret))
        }
    };
    let id = auth::key_id(&secret).unwrap_or(auth::ADMIN_KEY_ID).to_string();
    meta.create_key(&ApiKey {
        id,
        account: None,
        instance: None,
        name: "platform admin".into(),
        description: "created at bootstrap".into(),
        role: "admin".into(),
        created_at: now,
        created_by: None,
        expires_at: None,
        locked: false,
        last_used_at: None,
        secret_hash: auth::hash_key(&secret),
        principal: "admin".into(),
    })
    .await?;
    if let Some(secret) = &created {
        write_private(&data_dir.join("admin-key"), secret)?;
    }
    Ok(created)
}

/// Writes a secret readable by its owner only.
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// A boxed error for start-up, where every failure is reported to the operator as text.
pub mod anyhow_like {
    /// Start-up result.
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}
