//! The state every handler gets, and only handlers: jobs take what they use.

use std::sync::Arc;
use std::time::Duration;

use acta_store::Store;

/// The default free-space reserve: room for retention and archive runs, Acta's own records and the index's
/// merges after clients are refused.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

/// Operator settings the handlers need.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Per-query deadline.
    pub query_deadline: Duration,
    /// Above this many durable but unsearchable events, ingest answers 429.
    pub max_index_lag: u64,
    /// `GET /metrics` answers only the platform admin key (open by default, like most exporters).
    pub metrics_require_key: bool,
    /// Client batches are refused (507) while fewer bytes than this are free on the data directory's device,
    /// so retention, archives and Acta's own records still have room (0: only a full device refuses).
    pub min_free_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * 1024 * 1024,
            query_deadline: Duration::from_secs(30),
            max_index_lag: 500_000,
            metrics_require_key: false,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Arc<Store>,
    /// Limits.
    pub limits: Limits,
    /// Alerting: operator settings, engine reloads, the outbox worker's wake-up.
    pub alerts: Arc<crate::notify::Alerts>,
    /// Becomes true when the server stops, so long-lived answers (tail) end and shutdown completes.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The web console's sign-in sessions (in memory: a restart signs everyone out).
    pub sessions: Arc<crate::access::session::Sessions>,
    /// The retention job (its settings, plans, explicit runs).
    pub retention: Arc<crate::jobs::retention::Retention>,
    /// Counters for `GET /metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}
