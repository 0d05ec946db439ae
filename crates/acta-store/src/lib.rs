//! Acta's storage: the durable event log (the source of truth), the search index derived from it, and the
//! metadata repository.
//!
//! Roles and boundaries:
//! - [`log`]: per-instance append-only segments; an append returns only when the records are durable.
//! - [`index`]: tantivy partitions per arrival day, shared by all instances, that follow the log and answer
//!   queries with the search language's exact semantics, each restricted to its caller's instances;
//!   rebuildable from the log at any time.
//! - [`integrity`]: signed Merkle checkpoints of each log segment and inclusion proofs; follows the log on its
//!   own thread, like the index.
//! - [`meta`]: accounts, instances, keys (SQLite, or PostgreSQL in cluster mode, through sqlx);
//!   [`alerting`]: views, alerts, their firings, the notification outbox and delivery attempts, in the same
//!   database; [`boards`]: boards and their graphs.
//! - [`insights`]: the hourly counts per action, failed action and principal that insights compare with their
//!   baseline (same database).
//! - [`sessions`]: the web console's sessions (only a hash of each cookie's token), in the same database, so a
//!   cluster's nodes share them.
//! - [`archives`]: instances' archive configurations and the segments confirmed in them (same database);
//!   [`lifecycle`]: what archiving reads of a sealed day and what retention removes.
//! - [`ingest`]: the one write path ([`Store::accept`]): routing, validation per instance, duplicate detection,
//!   the durable append, publication to the live followers.
//! - [`Store`] ties them together for the server. It knows nothing of HTTP.

pub mod alerting;
pub mod archives;
pub mod boards;
pub mod cluster;
pub mod index;
pub mod ingest;
pub mod insights;
pub mod integrity;
pub mod lifecycle;
pub mod log;
pub mod meta;
pub mod pglog;
pub mod routes;
pub mod sessions;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use acta_cadf::Event;

pub use alerting::{Alert, Attempt, AttemptOutcome, Delivery, Firing, NewFiring, View};
pub use archives::{ArchiveRow, ArchivedSegment};
pub use boards::Board;
pub use index::{
    Aggregation, Breakdown, EventIndex, Histogram, Hit, IndexError, IndexOptions, InstanceScope, PartitionInfo, Search,
    Series, SortKey, Terms,
};
pub use ingest::{
    Batch, BatchOutcome, DEFAULT_ACCOUNT, Destination, EventOutcome, IngestError, LiveEvent, Parsed, Publisher,
};
pub use insights::{CountedHours, HourCount};
pub use integrity::{InclusionProof, Integrity, IntegrityError, IntegrityOptions, StoredCheckpoint};
pub use log::{Day, Log, LogError, LogOptions, Record, Records};
pub use meta::{Account, ApiKey, Engine, Instance, Meta, MetaError};
pub use routes::Route;
pub use sessions::ConsoleSession;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The metadata repository failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Checkpoints or proofs failed.
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    /// The cluster's PostgreSQL failed or could not be reached (cluster mode): nothing of the batch was stored.
    #[error(transparent)]
    Cluster(#[from] pglog::PgLogError),
    /// Sealed days in object storage could not be written or taken.
    #[error(transparent)]
    SealedDays(#[from] cluster::DaysError),
    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Fewer bytes are free on the data directory's device than the operator keeps in reserve
    /// (`StoreOptions::min_free_bytes`): client batches are refused so that retention, archives and
    /// Acta's own records still have room.
    #[error(
        "only {free} bytes are free on the device holding {}, below the {min} bytes kept in reserve (--min-free-space): the batch was not stored; it is accepted again once space is freed",
        path.display()
    )]
    LowSpace {
        /// The data directory.
        path: PathBuf,
        /// Bytes free for Acta's user.
        free: u64,
        /// The reserve.
        min: u64,
    },
    /// A sealed segment has no final checkpoint yet.
    #[error("the segment of {0} has no final checkpoint yet")]
    NotFinal(Day),
    /// A blocking task failed.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// The faults a store is in now (see [`Store::health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageHealth {
    /// The log stopped after a write or sync failure whose effect is unknown; only a restart (which
    /// runs recovery) brings it back.
    pub log_failed: bool,
    /// Since when (unix ns) the log refuses batches because the device is full; it heals by itself.
    pub log_no_space_since_ns: Option<i64>,
    /// Why indexing fails, while it does; it is retried from the log by itself.
    pub index_fault: Option<String>,
    /// Bytes free for Acta on the data directory's device, if the system says.
    pub free_bytes: Option<u64>,
    /// The reserve below which client batches are refused (0: none).
    pub min_free_bytes: u64,
}

impl StorageHealth {
    /// Whether client batches are refused for want of space (the device is full, or below the reserve).
    pub fn short_of_space(&self) -> bool {
        self.log_no_space_since_ns.is_some() || self.below_reserve()
    }

    /// Whether fewer bytes are free than the reserve (never, without a reserve or a reading).
    pub fn below_reserve(&self) -> bool {
        below_reserve(self.free_bytes, self.min_free_bytes)
    }
}

fn below_reserve(free: Option<u64>, min: u64) -> bool {
    min > 0 && free.is_some_and(|free| free < min)
}

/// How to open a store.
#[derive(Clone, Default)]
pub struct StoreOptions {
    /// Options of the log.
    pub log: LogOptions,
    /// Options of the index.
    pub index: IndexOptions,
    /// Signed checkpoints of the log; `None` runs without them (tools and tests that do not need them).
    pub integrity: Option<IntegrityOptions>,
    /// Client batches are refused while fewer bytes than this are free on the data directory's
    /// device (0: never), before the device is full.
    pub min_free_bytes: u64,
    /// Cluster mode: the node's PostgreSQL and name; `None` is the embedded mode.
    pub cluster: Option<cluster::ClusterOptions>,
}

/// What became of one accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Appended durably.
    New {
        /// The event id (given or assigned).
        id: String,
        /// Sequence number in the instance's log.
        seq: u64,
        /// Arrival time, unix ns.
        received_ns: i64,
        /// The account already held events with this id and other content (keystonemiddleware's request and
        /// response share their id).
        id_reused: bool,
    },
    /// An event with this id and this content is already stored in the account; nothing was written.
    Duplicate {
        /// The repeated id.
        id: String,
    },
}

/// An instance's storage figures ([`Store::storage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storage {
    /// Live records in the log.
    pub events: u64,
    /// Bytes on disk: log segments, index partitions, checkpoint files.
    pub bytes: u64,
    /// Arrival time of the oldest live record, unix ns.
    pub oldest_ns: Option<i64>,
    /// Arrival time of the newest record, unix ns.
    pub newest_ns: Option<i64>,
    /// Log segments (days) kept.
    pub segments: usize,
}

/// The event log, its index and the metadata of one data directory.
pub struct Store {
    append: Arc<dyn ingest::DurableAppend>,
    publisher: Publisher,
    log: Arc<Log>,
    index: Arc<EventIndex>,
    integrity: Option<Arc<Integrity>>,
    meta: Meta,
    dir: PathBuf,
    min_free_bytes: u64,
    /// Cluster mode: the cluster's log and this node's tasks on it.
    cluster: Option<cluster::Node>,
    /// Cluster mode with `--object-store`: where sealed days go.
    sealed_days: Option<cluster::SealedDays>,
    /// Cluster mode: this node's name.
    node: Option<String>,
}

impl Store {
    /// Opens the data directory, recovering the log and bringing the index up to date.
    pub async fn open(dir: &Path, mut options: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        // A cluster's metadata is in its PostgreSQL, shared by every node; the embedded mode's in the directory.
        let meta = match &options.cluster {
            Some(cluster) => Meta::connect(&cluster.postgres_url, cluster::META_CONNECTIONS).await?,
            None => Meta::open(&dir.join("meta.sqlite")).await?,
        };
        let min_free_bytes = options.min_free_bytes;
        let cluster_log = match &options.cluster {
            Some(cluster) => {
                let node = pglog::PgLogOptions {
                    clock: options.log.clock.clone(),
                    ..pglog::PgLogOptions::node(&cluster.node)
                };
                let cluster_log = Arc::new(pglog::PgLog::connect(&cluster.postgres_url, node).await?);
                // The local log is a copy: its records carry the streams of the nodes that took them, and its
                // days close a day late (see `cluster::DAY_CLOSING_DELAY_NS`).
                let clock = options.log.clock.clone();
                options.log.clock = Arc::new(move || clock().saturating_sub(cluster::DAY_CLOSING_DELAY_NS));
                options.log.stream = cluster.node.clone();
                Some(cluster_log)
            }
            None => None,
        };
        let sealed_days = match options.cluster.as_ref().and_then(|cluster| cluster.object_store.as_deref()) {
            Some(url) => Some(cluster::SealedDays::open(url)?),
            None => None,
        };
        if let (Some(cluster_log), Some(days)) = (&cluster_log, &sealed_days) {
            let signing_key = options.integrity.as_ref().map(Integrity::verifier_text).transpose()?;
            cluster::days::restore(dir, cluster_log, days, signing_key.as_deref()).await?;
        }
        let node = options.cluster.as_ref().map(|cluster| cluster.node.clone());
        // Checkpoints: in a cluster one node signs and the others check and write the same (`integrity::shared`).
        let (shared, signer) = match &cluster_log {
            Some(cluster_log) => {
                let (shared, signer) = cluster::ClusterCheckpoints::start(cluster_log.clone()).await;
                (Some(shared as Arc<dyn integrity::shared::SharedCheckpoints>), Some(signer))
            }
            None => (None, None),
        };
        let log_dir = dir.join("log");
        let index_dir = dir.join("index");
        let data_dir = dir.to_path_buf();
        let (log, index, integrity) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let log = Arc::new(Log::open(&log_dir, options.log)?);
            let index = Arc::new(EventIndex::open(&index_dir, log.clone(), options.index)?);
            let integrity = match options.integrity {
                Some(integrity) => Some(Arc::new(Integrity::open_shared(&data_dir, log.clone(), integrity, shared)?)),
                None => None,
            };
            Ok((log, index, integrity))
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))??;
        let publisher = Publisher::default();
        let (append, cluster): (Arc<dyn ingest::DurableAppend>, _) = match (cluster_log, signer) {
            (Some(cluster_log), Some(signer)) => {
                let runtime = tokio::runtime::Handle::current();
                let copied = Arc::new(tokio::sync::Notify::new());
                let append = Arc::new(cluster::ClusterAppend {
                    log: cluster_log.clone(),
                    runtime,
                    copy: log.clone(),
                    copied: copied.clone(),
                });
                let followers = cluster::Followers {
                    log: log.clone(),
                    index: index.clone(),
                    publisher: publisher.clone(),
                    meta: meta.clone(),
                    copied,
                };
                let copier = cluster::Copier::start(cluster_log.clone(), followers);
                (append, Some(cluster::Node { log: cluster_log, _copier: copier, _signer: signer }))
            }
            _ => (Arc::new(ingest::LocalAppend { log: log.clone(), index: index.clone() }), None),
        };
        Ok(Store {
            append,
            publisher,
            log,
            index,
            integrity,
            meta,
            dir: dir.to_path_buf(),
            min_free_bytes,
            cluster,
            sealed_days,
            node,
        })
    }

    /// Whether this node is one of a cluster (its events are made durable in PostgreSQL).
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// Cluster mode: this node's name.
    pub fn cluster_node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// Cluster mode: takes the jobs' lease if no other node holds it (see [`cluster::JobsLease`]). `Ok(None)`
    /// when another node holds it, and always in the embedded mode (its one process runs every job).
    pub async fn try_jobs_lease(&self) -> Result<Option<cluster::JobsLease>, StoreError> {
        match &self.cluster {
            Some(node) => Ok(node.log.try_jobs_lease().await?),
            None => Ok(None),
        }
    }

    /// The metadata repository.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The index (searches, counts, lag).
    pub fn index(&self) -> &Arc<EventIndex> {
        &self.index
    }

    /// The integrity layer, when checkpoints are on.
    pub fn integrity(&self) -> Option<&Arc<Integrity>> {
        self.integrity.as_ref()
    }

    /// The log.
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes free for Acta on the data directory's device, if the system says.
    pub fn free_bytes(&self) -> Option<u64> {
        fs4::available_space(&self.dir).ok()
    }

    /// The reserve of free bytes below which client batches are refused (0: none).
    pub fn min_free_bytes(&self) -> u64 {
        self.min_free_bytes
    }

    /// The state of the storage, for health checks: which faults are on now.
    pub fn health(&self) -> StorageHealth {
        StorageHealth {
            log_failed: self.log.is_poisoned(),
            log_no_space_since_ns: self.log.no_space_since(),
            index_fault: self.index.fault(),
            free_bytes: self.free_bytes(),
            min_free_bytes: self.min_free_bytes,
        }
    }

    /// Refuses a client batch while the free space is below the reserve.
    fn check_reserve(&self) -> Result<(), StoreError> {
        if self.min_free_bytes == 0 {
            return Ok(());
        }
        match self.free_bytes() {
            Some(free) if below_reserve(Some(free), self.min_free_bytes) => {
                Err(StoreError::LowSpace { path: self.dir.clone(), free, min: self.min_free_bytes })
            }
            _ => Ok(()),
        }
    }

    /// The live bus: events as they are accepted (see [`ingest`]).
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// The durable append of valid events of an account into one of its instances (see
    /// [`ingest::DurableAppend`]); [`Store::accept`] is the write path that uses it.
    async fn append(
        &self,
        account: &str,
        instance: &str,
        account_instances: &[String],
        events: Vec<Event>,
        duplicates: ingest::Duplicates,
    ) -> Result<Vec<Stored>, StoreError> {
        let (account, instance, account_instances) =
            (account.to_string(), instance.to_string(), account_instances.to_vec());
        let append = self.append.clone();
        tokio::task::spawn_blocking(move || append.append(&account, &instance, &account_instances, events, duplicates))
            .await
            .map_err(|error| StoreError::Task(error.to_string()))?
    }

    /// What an instance keeps on disk: live records, bytes of its log, index and checkpoints, and the arrival
    /// times of its oldest and newest records.
    pub fn storage(&self, instance: &str) -> Storage {
        let segments = self.log.segments(instance);
        let received = |day: Day, seq: u64| self.log.read(instance, day, seq).ok().map(|record| record.received_ns);
        let oldest = segments.first().and_then(|segment| received(segment.day, segment.first_seq));
        let newest = segments.last().and_then(|segment| received(segment.day, segment.last_seq));
        let log_bytes: u64 = segments.iter().map(|segment| segment.bytes).sum();
        let checkpoint_bytes = index::dir_bytes(&integrity::files::instance_dir(&self.dir, instance));
        Storage {
            events: segments.iter().map(|segment| segment.records).sum(),
            bytes: log_bytes + self.index.instance_bytes(instance) + checkpoint_bytes,
            oldest_ns: oldest,
            newest_ns: newest,
            segments: segments.len(),
        }
    }

    /// Writes the platform admin key created at bootstrap to `<data>/admin-key`, readable by its owner only,
    /// so an operator who missed the one time it was printed can still read it.
    pub fn write_admin_key(&self, secret: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(self.dir.join("admin-key"))?;
        file.write_all(secret.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    }

    /// Signs a last checkpoint of everything durable, and stops the indexer after a final commit.
    pub async fn close(&self) {
        if let Some(integrity) = self.integrity.clone() {
            let closed = tokio::task::spawn_blocking(move || integrity.close()).await;
            if let Ok(Err(error)) = closed {
                tracing::error!(%error, "last checkpoint round failed");
            }
        }
        let index = self.index.clone();
        let _ = tokio::task::spawn_blocking(move || index.close()).await;
        if let Some(node) = &self.cluster {
            node.log.close().await;
        }
        self.meta.close().await;
    }
}
