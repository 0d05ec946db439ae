//! The state every handler gets, and only handlers: jobs take what they use.

use std::sync::Arc;
use std::time::Duration;

use acta_store::Store;

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * 1024 * 1024,
            query_deadline: Duration::from_secs(30),
            max_index_lag: 500_000,
            metrics_require_key: false,
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
