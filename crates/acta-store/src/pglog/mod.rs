//! Cluster mode's durable log, in PostgreSQL: several stateless nodes append to one log per instance.
//!
//! A batch is one transaction (`append.rs`): lock the instance's head row (`SELECT ... FOR UPDATE`), `COPY`
//! the records with the seqs after the head into `log_records` (partitioned by arrival day), advance the head,
//! commit; only then is the batch answered. The row lock gives each instance one gapless order whichever node
//! writes, with no leader to elect and nothing to hand over when a node dies; durability is PostgreSQL's
//! (`synchronous_commit`). Records read back (`read.rs`) with the same envelope, hence the same integrity
//! leaves, as the embedded log's: the stream is the node's name. Any node follows what every node commits
//! (`follow.rs`: `NOTIFY` on commit, then a read after the follower's cursor).
//!
//! Invariant: seqs of an instance are 1, 2, 3... with no gap and no repeat across nodes, and arrival times never
//! decrease along them; an event's bytes are stored exactly as received.

mod append;
mod checkpoints;
mod follow;
mod ids;
mod read;
mod sealed;

pub use checkpoints::{Publication, PublishedCheckpoint};
pub use follow::Follower;
pub use sealed::{DayEnd, SealedDay};

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::log::LogError;

/// How a node opens the log.
#[derive(Clone)]
pub struct PgLogOptions {
    /// The node's name, written as the stream of every record it appends.
    pub node: String,
    /// The time source for arrival times, unix nanoseconds UTC (tests set a fake one to cross days).
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Connections this node keeps to PostgreSQL.
    pub max_connections: u32,
}

impl PgLogOptions {
    /// Options for the node `node`, on the system clock.
    pub fn node(node: &str) -> PgLogOptions {
        PgLogOptions { node: node.to_owned(), clock: Arc::new(crate::log::system_clock_ns), max_connections: 8 }
    }
}

/// Why the PostgreSQL log could not do what was asked. Nothing of a failed append is stored.
#[derive(Debug, thiserror::Error)]
pub enum PgLogError {
    /// PostgreSQL refused or could not be reached.
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    /// The log's tables could not be created or updated.
    #[error("migrating the PostgreSQL log: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A record or an instance the log cannot hold (the embedded log's rules).
    #[error(transparent)]
    Record(#[from] LogError),
    /// PostgreSQL holds what this log never writes (a negative seq, one past `BIGINT`).
    #[error("the PostgreSQL log is inconsistent: {0}")]
    Inconsistent(String),
}

/// A node's handle on the cluster's log.
pub struct PgLog {
    pool: PgPool,
    options: PgLogOptions,
    /// Days whose partition this node knows exists.
    days: Mutex<BTreeSet<i32>>,
}

impl PgLog {
    /// Connects to PostgreSQL at `url` and creates or updates the log's tables.
    pub async fn connect(url: &str, options: PgLogOptions) -> Result<PgLog, PgLogError> {
        // A node that cannot reach PostgreSQL answers soon that it cannot store (503), rather than after sqlx's
        // default of 30 s; a node under load gets a connection well within this.
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations_pg").run(&pool).await?;
        Ok(PgLog { pool, options, days: Mutex::new(BTreeSet::new()) })
    }

    /// The last seq of an instance; 0 when it has none.
    pub async fn last_seq(&self, instance: &str) -> Result<u64, PgLogError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM log_heads WHERE instance = $1")
            .bind(instance)
            .fetch_optional(&self.pool)
            .await?;
        seq_of(last.unwrap_or(0))
    }

    /// The node's connections to the cluster's database.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the node's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn known_day(&self, day: i32) -> bool {
        self.days.lock().unwrap_or_else(PoisonError::into_inner).contains(&day)
    }

    fn remember_day(&self, day: i32) {
        self.days.lock().unwrap_or_else(PoisonError::into_inner).insert(day);
    }

    fn forget_day(&self, day: i32) {
        self.days.lock().unwrap_or_else(PoisonError::into_inner).remove(&day);
    }
}

/// The day number (days since 1970-01-01 UTC) of an arrival time, as `log_records.day` holds it.
fn day_number(received_ns: i64) -> i32 {
    i32::try_from(received_ns.div_euclid(NANOS_PER_DAY)).unwrap_or(if received_ns < 0 { i32::MIN } else { i32::MAX })
}

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// The name of a day's partition of `log_records` (`log_records_2026_12_07`).
fn partition_name(day: i32) -> String {
    format!("log_records_{}", crate::Day::from_ns(i64::from(day) * NANOS_PER_DAY)).replace('-', "_")
}

/// The advisory lock under which partitions are created and dropped (any fixed number no other part of Acta
/// uses): creating or dropping one locks the whole table until the transaction ends.
const PARTITIONS_LOCK: i64 = 0x4163_7461_5061_7274; // "ActaPart"

/// The longest a batch waits for a connection to PostgreSQL.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A seq as PostgreSQL's `BIGINT` holds it, back to the log's `u64`.
fn seq_of(value: i64) -> Result<u64, PgLogError> {
    u64::try_from(value).map_err(|_| PgLogError::Inconsistent(format!("a negative seq {value}")))
}
