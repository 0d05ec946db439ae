//! Start-up and shutdown: opens the store, bootstraps an empty data directory, starts the background jobs
//! and the listener, and stops them in order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use acta_store::{Account, ApiKey, DEFAULT_ACCOUNT, Instance, IntegrityOptions, Store, StoreOptions};

use crate::access::{auth, session};
use crate::jobs::insights::{InsightRun, Insights};
use crate::jobs::retention::{Retention, RetentionSettings, RunReport};
use crate::notify::{AlertSettings, Alerts};
use crate::state::{AppState, Guards, Limits};
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
    /// Forwarding: the directory of file destinations, retries, batches.
    pub forwarding: crate::forward::ForwardSettings,
    /// Cluster mode: the cluster's PostgreSQL and this node's name; `None` runs the embedded single binary.
    pub cluster: Option<acta_store::cluster::ClusterOptions>,
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
    insights: Arc<Insights>,
}

impl Running {
    /// Runs retention now (archive, then delete what is due), retrying failed archives at once, and says what
    /// it did. The background task does the same on its own schedule.
    pub async fn run_retention(&self) -> RunReport {
        self.state.retention.run_once(true, true).await
    }

    /// Computes insights now (as the background task does every `AlertSettings::insight_period`) and says what
    /// it did.
    pub async fn run_insights(&self) -> InsightRun {
        self.insights.run_once(clock::now_ns()).await
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

/// The jobs that run once per data, not once per node: the alert engine and delivery, insights, forwarding,
/// and in a cluster with object storage, writing sealed days there. The
/// embedded server runs them; in a cluster, the node holding the jobs' lease does ([`OnceJobs::lead`]).
struct OnceJobs {
    store: Arc<Store>,
    alerts: Arc<Alerts>,
    insights: Arc<Insights>,
    insight_period: std::time::Duration,
    forwarding: Arc<crate::forward::Forwarding>,
    allow: crate::forward::Allow,
}

/// Requests to reload the alert definitions, each answered once done.
type Reloads = tokio::sync::mpsc::Receiver<tokio::sync::oneshot::Sender<()>>;

impl OnceJobs {
    /// Starts the jobs until `stopping`; `live` must have subscribed before the events the engine must see.
    fn spawn(
        &self,
        live: tokio::sync::broadcast::Receiver<Arc<acta_store::LiveEvent>>,
        reloads: Reloads,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let store = &self.store;
        let mut jobs = vec![
            tokio::spawn(jobs::alert_engine::run(store.clone(), self.alerts.clone(), live, reloads, stopping.clone())),
            tokio::spawn(jobs::delivery::run(store.clone(), self.alerts.clone(), stopping.clone())),
            tokio::spawn(self.insights.clone().run(self.insight_period, stopping.clone())),
        ];
        if store.writes_sealed_days() {
            jobs.push(tokio::spawn(jobs::sealed_days::run(store.clone(), stopping.clone())));
        }
        jobs.push(tokio::spawn(jobs::forward::run(
            store.clone(),
            self.forwarding.clone(),
            self.allow.clone(),
            stopping,
        )));
        jobs
    }

    /// Cluster mode: runs the jobs while this node holds the jobs' lease, and tries to take it every
    /// [`LEASE_TRY`] while another node does. A node that loses the lease (its session to PostgreSQL ended) stops
    /// its jobs; the next holder's jobs resume from what was recorded (the engine recounts open windows from the
    /// log, delivery retries the outbox, forwarding goes on from its cursors).
    async fn lead(self, mut reloads: Reloads, mut stopping: tokio::sync::watch::Receiver<bool>) {
        loop {
            let lease = loop {
                match self.store.try_jobs_lease().await {
                    Ok(Some(lease)) => break lease,
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "taking the jobs' lease failed; trying again"),
                }
                // The engine runs on another node, which reloads the definitions by itself each second.
                let waited = tokio::time::sleep(LEASE_TRY);
                tokio::pin!(waited);
                loop {
                    tokio::select! {
                        () = jobs::stopped(&mut stopping) => return,
                        Some(reply) = reloads.recv() => { let _ = reply.send(()); }
                        () = &mut waited => break,
                    }
                }
            };
            tracing::info!("this node runs the cluster's jobs (alerts, delivery, insights, forwarding, sealed days)");
            let (stop_jobs, jobs_stopping) = tokio::sync::watch::channel(false);
            let (engine_reloads, engine_requests) = tokio::sync::mpsc::channel(64);
            let running = self.spawn(self.store.publisher().subscribe(), engine_requests, jobs_stopping);
            let mut lease = lease;
            let stopped = {
                let lost = lease.lost();
                tokio::pin!(lost);
                loop {
                    tokio::select! {
                        () = jobs::stopped(&mut stopping) => break true,
                        () = &mut lost => break false,
                        Some(reply) = reloads.recv() => { let _ = engine_reloads.send(reply).await; }
                    }
                }
            };
            let _ = stop_jobs.send(true);
            finish(running).await;
            if stopped {
                lease.release().await;
                return;
            }
            tracing::warn!("this node lost the jobs' lease (its PostgreSQL session ended); its jobs stopped");
        }
    }
}

/// How often a node that does not run the cluster's jobs tries to take the lease.
const LEASE_TRY: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens the data directory, bootstraps it if new, and starts serving.
pub async fn start(config: ServerConfig) -> Result<Running, StartError> {
    let mut options = StoreOptions {
        integrity: config.integrity.clone(),
        min_free_bytes: config.limits.min_free_bytes,
        cluster: config.cluster.clone(),
        ..StoreOptions::default()
    };
    options.log.clock = config.retention.clock.0.clone();
    let store = Arc::new(Store::open(&config.data_dir, options).await?);
    let created_admin_key = bootstrap(&store, config.bootstrap_key.as_deref()).await?;
    let (stop_streams, stopping) = tokio::sync::watch::channel(false);
    let (alerts, reloads) = Alerts::new(config.alerts.clone());
    let alerts = Arc::new(alerts);
    let insights = Arc::new(Insights::new(store.clone()));
    let forwarding = Arc::new(crate::forward::Forwarding::new(config.forwarding.clone()));
    let jobs = OnceJobs {
        store: store.clone(),
        alerts: alerts.clone(),
        insights: insights.clone(),
        insight_period: config.alerts.insight_period,
        forwarding: forwarding.clone(),
        allow: crate::forward::Allow {
            receivers: config.alerts.webhook_allow.clone(),
            storage: config.retention.archive_endpoint_allow.clone(),
        },
    };
    let background = if store.is_cluster() {
        vec![tokio::spawn(jobs.lead(reloads, stopping.clone()))]
    } else {
        // The engine subscribes here, before the listener exists: it sees every event this process accepts.
        jobs.spawn(store.publisher().subscribe(), reloads, stopping.clone())
    };
    let retention = Arc::new(Retention::new(store.clone(), config.retention.clone()));
    let state = AppState {
        store: store.clone(),
        limits: config.limits.clone(),
        alerts,
        stopping: stopping.clone(),
        sessions: Arc::new(session::Sessions::new(store.meta().clone())),
        retention: retention.clone(),
        metrics: Arc::default(),
        forwarding,
        guards: Arc::new(Guards::new(&config.limits)),
    };
    let retention_task = tokio::spawn(retention.run(stopping));
    let app = http::router(state.clone());
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, on_shutdown) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, config.limits.clone(), on_shutdown, stop_streams));
    let sealer = tokio::spawn(jobs::sealer::run(Arc::downgrade(&store), config.retention.clock.clone()));
    tracing::info!(%addr, "acta listening");
    Ok(Running { addr, created_admin_key, shutdown, task, sealer, background, store, state, retention_task, insights })
}

/// Serves HTTP/1.1 connections until `on_shutdown`, then lets the open ones finish (streams end when
/// `stop_streams` is set) and returns when the last has closed.
///
/// The listener's limits: at most `max_connections` connections are served at once (the next is accepted only
/// when one closes, so more clients wait in the kernel's listen queue), and a connection that has not sent a
/// whole request head within `header_read_timeout` is closed, whether it is new, idle between requests, or
/// sending its headers a byte at a time (hyper's header read timeout). HTTP/1.1 only: axum's own `serve` also
/// spoke HTTP/2 without TLS (h2c), but could not bound the time a client takes to send its first bytes.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Limits,
    mut on_shutdown: tokio::sync::oneshot::Receiver<()>,
    stop_streams: tokio::sync::watch::Sender<bool>,
) -> Result<(), std::io::Error> {
    let max = u32::try_from(limits.max_connections.clamp(1, 1 << 20)).unwrap_or(1 << 20);
    let connections = Arc::new(tokio::sync::Semaphore::new(max as usize));
    let (closing, closing_seen) = tokio::sync::watch::channel(false);
    loop {
        let permit = tokio::select! {
            _ = &mut on_shutdown => break,
            permit = connections.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
        };
        let (stream, remote) = tokio::select! {
            _ = &mut on_shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, a connection reset before it was accepted...: wait a little
                    // rather than spin, and go on.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = tower::ServiceExt::map_request(app.clone(), move |mut request: axum::http::Request<_>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(remote));
            request
        });
        let mut closing = closing_seen.clone();
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_read_timeout);
            let connection = builder.serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %remote, "connection ended with an error");
                    }
                }
                Ok(()) = closing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    let _ = stop_streams.send(true);
    let _ = closing.send(true);
    // Every connection gives its place back when it ends.
    let _ = connections.acquire_many(max).await;
    Ok(())
}

/// Whether a bootstrap step was done here (`true`) or had been done by another node (a conflict: `false`).
fn done_by_someone(result: Result<(), acta_store::MetaError>) -> Result<bool, StartError> {
    match result {
        Ok(()) => Ok(true),
        Err(acta_store::MetaError::Conflict(_)) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// On an empty data directory: the platform admin key, the default account and its global instance.
async fn bootstrap(store: &Store, given: Option<&str>) -> Result<Option<String>, StartError> {
    let meta = store.meta();
    let now = acta_cadf::format_time(clock::now_ns());
    // Each step is checked on its own and a conflict means another node of a cluster, starting at the same
    // time, did it first; so does a start that stopped between two steps.
    if meta.account(DEFAULT_ACCOUNT).await?.is_none() {
        let account = Account { id: DEFAULT_ACCOUNT.into(), name: DEFAULT_ACCOUNT.into(), created_at: now.clone() };
        done_by_someone(meta.create_account(&account).await)?;
    }
    if meta.instance(DEFAULT_ACCOUNT, "default").await?.is_none() && meta.instances(DEFAULT_ACCOUNT).await?.is_empty() {
        let instance = Instance {
            id: "default".into(),
            account: DEFAULT_ACCOUNT.into(),
            name: "default".into(),
            region: "global".into(),
            retention_days: 30,
            global: true,
            strict: false,
            created_at: now.clone(),
        };
        done_by_someone(meta.create_instance(&instance).await)?;
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
    let key = meta
        .create_key(&ApiKey {
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
        .await;
    if !done_by_someone(key)? {
        return Ok(None);
    }
    if let Some(secret) = &created {
        store.write_admin_key(secret)?;
    }
    Ok(created)
}
