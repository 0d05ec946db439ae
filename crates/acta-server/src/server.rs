//! Start-up and shutdown: opens the store, bootstraps an empty data directory, starts the background jobs
//! and the listener, and stops them in order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use acta_store::{Account, ApiKey, DEFAULT_ACCOUNT, Instance, IntegrityOptions, Store, StoreOptions};

use crate::access::{auth, session};
use crate::jobs::retention::{Retention, RetentionSettings, RunReport};
use crate::notify::{AlertSettings, Alerts};
use crate::state::{AppState, Limits};
use crate::{clock, http, jobs};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be opened.
    #[error(transparent)]
    Store(#[from] acta_store::StoreError),
    /// The metadata could not be bootstrapped.
    #[error(transparent)]
    Meta(#[from] acta_store::MetaError),
    /// The listener could not bind, or the admin key could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
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
        self.state.retention.run_once(true, true).await
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
pub async fn start(config: ServerConfig) -> Result<Running, StartError> {
    let mut options = StoreOptions {
        integrity: config.integrity.clone(),
        min_free_bytes: config.limits.min_free_bytes,
        ..StoreOptions::default()
    };
    options.log.clock = config.retention.clock.0.clone();
    let store = Arc::new(Store::open(&config.data_dir, options).await?);
    let created_admin_key = bootstrap(&store, config.bootstrap_key.as_deref()).await?;
    let (stop_streams, stopping) = tokio::sync::watch::channel(false);
    let (alerts, reloads) = Alerts::new(config.alerts.clone());
    let alerts = Arc::new(alerts);
    // The engine subscribes here, before the listener exists: it sees every event this process accepts.
    let engine_events = store.publisher().subscribe();
    let background = vec![
        tokio::spawn(jobs::alert_engine::run(store.clone(), alerts.clone(), engine_events, reloads, stopping.clone())),
        tokio::spawn(jobs::delivery::run(store.clone(), alerts.clone(), stopping.clone())),
    ];
    let retention = Arc::new(Retention::new(store.clone(), config.retention.clone()));
    let state = AppState {
        store: store.clone(),
        limits: config.limits.clone(),
        alerts,
        stopping: stopping.clone(),
        sessions: Arc::new(session::Sessions::default()),
        retention: retention.clone(),
        metrics: Arc::default(),
    };
    let retention_task = tokio::spawn(retention.run(stopping));
    let app = http::router(state.clone());
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
    let sealer = tokio::spawn(jobs::sealer::run(Arc::downgrade(&store), config.retention.clock.clone()));
    tracing::info!(%addr, "acta listening");
    Ok(Running { addr, created_admin_key, shutdown, task, sealer, background, store, state, retention_task })
}

/// On an empty data directory: the platform admin key, the default account and its global instance.
async fn bootstrap(store: &Store, given: Option<&str>) -> Result<Option<String>, StartError> {
    let meta = store.meta();
    let now = acta_cadf::format_time(clock::now_ns());
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
    http::boards::give_predefined_to_all(meta).await?;
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
        store.write_admin_key(secret)?;
    }
    Ok(created)
}
