//! Cluster mode: several nodes on one PostgreSQL (issue 19). The store's parts stay those of the embedded mode;
//! what changes is where an accepted event is first made durable and how a node learns of the events others took.
//!
//! - `append.rs`: the durable append ([`crate::ingest::DurableAppend`]) over the PostgreSQL log: duplicates are
//!   judged per account across nodes, and an event is answered once PostgreSQL committed it.
//! - `copy.rs`: every node copies the PostgreSQL log, as it commits, into its own local log ([`crate::Log::copy`]):
//!   the same seqs, arrival times and bytes. The node's index, checkpoints, live bus (tail, alerts) and
//!   forwarding follow that copy exactly as they follow the embedded log, so a node answers for every account.
//! - `local.rs`: a PostgreSQL of its own on this host, for `acta demo --cluster` and the tests.
//! - `days.rs`: sealed days in object storage: written by the lease holder, then dropped from PostgreSQL; a
//!   node lacking one takes it from there, index partition included, before it opens its log.
//! - `export.rs`: the cluster's log and published checkpoints (and sealed days) in a data directory's layout, for
//!   `acta verify postgres://...`.
//! - `lease.rs`: one node at a time runs the jobs that must run once, and one signs checkpoints, each under a
//!   PostgreSQL advisory lock that PostgreSQL releases when the node's session ends.
//! - `signing.rs`: the signer publishes each checkpoint in PostgreSQL before writing it; every node writes the
//!   same lines after checking them against its own copy, so the cluster has one history per segment.
//!
//! Invariant: a node's local log holds a prefix of each instance's PostgreSQL log, record for record; it is a
//! cache (deleting it makes the node copy again), never a source of truth.

mod append;
mod copy;
pub(crate) mod days;
mod export;
mod lease;
pub mod local;
mod signing;

pub(crate) use append::ClusterAppend;
pub(crate) use copy::{Copier, Followers};
pub use days::{DayManifest, DaysError, SealedDays};
pub use export::{ExportedCluster, export_for_verify};
pub use lease::{JobsLease, Lease};
pub(crate) use signing::{ClusterCheckpoints, SignerLease};

/// What a node of a cluster runs beside the embedded mode's parts; its tasks stop when it is dropped.
pub(crate) struct Node {
    /// The cluster's log.
    pub(crate) log: std::sync::Arc<crate::pglog::PgLog>,
    /// The copy of the cluster's log into the local log (which publishes on the live bus: `accept` then does
    /// not).
    pub(crate) _copier: Copier,
    /// The signer's lease, held or tried.
    pub(crate) _signer: SignerLease,
}

/// How a node joins a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `postgres://` URL of the cluster's database.
    pub postgres_url: String,
    /// The node's name: the stream of every record it appends, unique in the cluster.
    pub node: String,
    /// Where sealed days go (`s3://bucket/prefix` or `file:///path`); without it every day stays in
    /// PostgreSQL.
    pub object_store: Option<String>,
}

/// Connections a node keeps to the cluster's database for the metadata (the log has its own).
pub(crate) const META_CONNECTIONS: u32 = 8;

/// How long a node keeps a day open after it ended by its clock, for records another node (whose clock is
/// behind) still stamps with that day: a node closes day D once its clock is past the end of D+1.
pub(crate) const DAY_CLOSING_DELAY_NS: i64 = 86_400_000_000_000;
