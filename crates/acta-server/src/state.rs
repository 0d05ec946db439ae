//! The state shared by all handlers.

use std::sync::Arc;
use std::time::Duration;

use acta_store::Store;
use tokio::sync::broadcast;

/// An event as it was accepted, for live tail and the alert engine.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Account.
    pub account: String,
    /// Instance.
    pub instance: String,
    /// Region of the instance.
    pub region: String,
    /// Event id.
    pub id: String,
    /// Sequence number in the instance's log.
    pub seq: u64,
    /// Arrival time, unix ns.
    pub received_ns: i64,
    /// The event bytes as received (UTF-8 JSON).
    pub raw: Arc<str>,
    /// The parsed event.
    pub value: Arc<serde_json::Value>,
}

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
    /// Accepted events, as they are answered.
    pub live: broadcast::Sender<Arc<LiveEvent>>,
    /// Limits.
    pub limits: Limits,
    /// Alerting: operator settings, engine reloads, the outbox worker's wake-up.
    pub alerts: Arc<crate::alerts::Alerts>,
    /// Becomes true when the server stops, so long-lived answers (tail) end and shutdown completes.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The web console's sign-in sessions (in memory: a restart signs everyone out).
    pub sessions: Arc<crate::session::Sessions>,
    /// Retention's run state (archive backoff).
    pub retention: Arc<crate::retention::Retention>,
    /// Retention and archive settings of the operator (clock, archive roots).
    pub retention_settings: crate::retention::RetentionSettings,
    /// Counters for `GET /metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}
