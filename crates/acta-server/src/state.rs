//! The state every handler gets, and only handlers: jobs take what they use.

use std::sync::Arc;
use std::time::Duration;

use acta_store::Store;

/// The default free-space reserve: room for retention and archive runs, Acta's own records and the index's
/// merges after clients are refused.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

/// Operator settings the handlers and the listener need. `docs/limits.md` lists each with its flag, its default
/// and what a client sees when it hits it.
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
    /// A connection that has not sent a whole request head within this time is closed (this is also how long an
    /// idle keep-alive connection is kept).
    pub header_read_timeout: Duration,
    /// Longest wait for the next chunk of a request body.
    pub body_idle_timeout: Duration,
    /// Longest time from a request's head to the head of its answer (reading the body included); streamed
    /// answers (tail, export) are not cut once they have started.
    pub request_timeout: Duration,
    /// Most connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Most bytes of ingest bodies (`POST /v1/events`, `_bulk`) being received or processed at once.
    pub max_ingest_bytes_in_flight: usize,
    /// Most searches (search, count, histogram, terms, export, board data) running at once.
    pub max_concurrent_searches: usize,
    /// How long a search waits for one of those places before it is answered 503.
    pub search_queue_wait: Duration,
    /// Requests per second per API key (a token bucket); 0 turns the limit off.
    pub key_rate_per_second: u32,
    /// Requests a key may send at once above its rate (the bucket's size).
    pub key_rate_burst: u32,
}

impl Limits {
    /// The default number of concurrent searches: half the CPUs, at least 2, so that searches leave room for
    /// ingest, the indexer and the log writer.
    pub fn default_concurrent_searches() -> usize {
        std::thread::available_parallelism().map_or(2, |cpus| (cpus.get() / 2).max(2))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * 1024 * 1024,
            query_deadline: Duration::from_secs(30),
            max_index_lag: 500_000,
            metrics_require_key: false,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_ingest_bytes_in_flight: 64 * 1024 * 1024,
            max_concurrent_searches: Limits::default_concurrent_searches(),
            search_queue_wait: Duration::from_secs(5),
            key_rate_per_second: 1000,
            key_rate_burst: 2000,
        }
    }
}

/// The shared counters behind the limits that hold across requests.
pub struct Guards {
    /// Bytes of ingest bodies in flight, one permit a byte.
    pub ingest_bytes: Arc<tokio::sync::Semaphore>,
    /// Places for searches.
    pub searches: Arc<tokio::sync::Semaphore>,
    /// The token bucket of each API key, when rate limits are on.
    pub key_rates: Option<crate::access::rate::KeyRates>,
}

impl Guards {
    /// The guards of a server with these limits.
    pub fn new(limits: &Limits) -> Guards {
        Guards {
            ingest_bytes: Arc::new(tokio::sync::Semaphore::new(
                limits.max_ingest_bytes_in_flight.min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            searches: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_searches.max(1))),
            key_rates: crate::access::rate::KeyRates::new(limits.key_rate_per_second, limits.key_rate_burst),
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
    /// The web console's sign-in sessions, in the metadata database (shared by a cluster's nodes, kept over a
    /// restart).
    pub sessions: Arc<crate::access::session::Sessions>,
    /// The retention job (its settings, plans, explicit runs).
    pub retention: Arc<crate::jobs::retention::Retention>,
    /// Counters for `GET /metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// In-flight ingest bytes, search places, per-key rates.
    pub guards: Arc<Guards>,
    /// Routes' statuses, and the forwarding job's wake-up when routes change.
    pub forwarding: Arc<crate::forward::Forwarding>,
}
