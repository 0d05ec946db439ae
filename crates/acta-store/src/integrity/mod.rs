//! Integrity: signed Merkle checkpoints of the log, and inclusion proofs of its records.
//!
//! # The trees
//! One RFC 6962 tree per log segment, that is per (instance, stream, UTC arrival day); the
//! embedded log has one stream per data directory, so a segment is a `<instance>/<day>` file.
//! Its leaves, in order:
//!
//! 1. the **link leaf** `leaf_hash("acta-link\n" || SHA-256(previous final note))`, where the
//!    previous final note is the last signed checkpoint of the instance's previous segment, or
//!    32 zero bytes for an instance's first segment ([`files::link_leaf`]);
//! 2. one leaf per record, `leaf_hash(record.payload)`: Acta's envelope (seq, arrival time,
//!    stream, account, instance, event id) and the event bytes exactly as stored.
//!
//! The record format is frozen and every record is a real event, so the link cannot live in a
//! record; a synthetic first leaf keeps it inside the signed tree, so each checkpoint also
//! vouches for every segment before it. A record of seq `s` in a segment starting at
//! `first_seq` is leaf `s - first_seq + 1`.
//!
//! # Checkpoints
//! C2SP signed notes (`acta_ledger::Checkpoint`) with origin `<node>/<account>/<instance>/<day>`,
//! signed by the node's Ed25519 key. The checkpointer thread signs one about every
//! [`IntegrityOptions::interval`] while a segment receives records, and a final one when the
//! segment closes (it is sealed, or the next day's segment has begun). They are appended and
//! synced to `<data>/checkpoints/<instance>/<day>.notes` (format in [`files`]), next to the
//! segment's leaf hashes (`.leaves`), which serve proofs without reading the log and let
//! `acta verify` name the exact record that differs from the signed history.
//!
//! In a cluster one node signs at a time and publishes each checkpoint; every node writes the same lines
//! after checking them against the tree of its own copy ([`shared`]), so every node holds one history per
//! segment, whichever node signed it.
//!
//! # Keys
//! The signing key is a file outside the data directory, created on first start (mode 0600);
//! the data directory keeps the public key of every key that signed there (`checkpoints/keys`),
//! so checkpoints made before a rotation still verify.
//!
//! # Invariants
//! - A checkpoint is only signed over records that are durable in the log, in seq order, with
//!   no gap; a segment's trees only grow, and each note extends the previous one.
//! - Leaves are written and synced before the note that covers them.
//! - The checkpointer never signs on top of leaves it cannot tie to the last signed root.

pub mod bundle;
mod checkpointer;
pub mod files;
mod keys;
pub(crate) mod shared;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use acta_ledger::{
    Checkpoint, CheckpointError, Hash, KeyError, KeyRing, NoteError, ProofError, SigningKey, VerifierKey,
    inclusion_proof, leaf_hash, root,
};

use crate::log::{Day, Log, LogError, validate_instance};
use checkpointer::{Checkpointer, Context};
use files::{last_note, leaves_path, note_days, notes_path, read_leaves_prefix, read_notes};
use shared::SharedCheckpoints;

/// Errors of the integrity layer.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// A checkpoint file or the signing key file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The signing key could not be created, loaded or recorded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A stored note does not open with the key history.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A checkpoint could not be formed (an origin part the note format cannot carry).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A proof could not be built.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Checkpoint files that contradict each other or the log.
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The file or directory concerned.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Checkpoints of an instance stopped, because signing more would bless a changed history.
    #[error("checkpoints of instance {instance} are stopped: {reason}")]
    Halted {
        /// The instance.
        instance: String,
        /// Why.
        reason: String,
    },
    /// A stored record is not the one its segment's checkpoint signed.
    #[error("record {instance}/{day} seq {seq} differs from the record that was signed")]
    Mismatch {
        /// The instance.
        instance: String,
        /// The segment.
        day: Day,
        /// The record.
        seq: u64,
    },
    /// Options that cannot work.
    #[error("invalid integrity options: {0}")]
    InvalidOptions(String),
    /// Cluster mode: the cluster's checkpoints could not be read, or did not take this node's.
    #[error("the cluster's checkpoints: {0}")]
    Cluster(String),
}

/// How checkpoints are made.
#[derive(Debug, Clone)]
pub struct IntegrityOptions {
    /// The signing key file, created on first start when missing. Keep it outside the data
    /// directory: a copy of the directory must not be able to sign a rewritten history.
    pub signing_key: PathBuf,
    /// The node name: first part of every origin, and the name of a newly generated key.
    pub node: String,
    /// How often a segment that received records gets a checkpoint.
    pub interval: Duration,
}

impl IntegrityOptions {
    /// A checkpoint every second, as DESIGN.md sets.
    pub fn new(signing_key: PathBuf, node: impl Into<String>) -> IntegrityOptions {
        IntegrityOptions { signing_key, node: node.into(), interval: Duration::from_secs(1) }
    }
}

/// One stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The instance.
    pub instance: String,
    /// The segment's day.
    pub day: Day,
    /// The tree size: the link leaf plus the records covered.
    pub size: u64,
    /// The tree root.
    pub root: Hash,
    /// Whether it is the segment's final checkpoint.
    pub is_final: bool,
    /// The signed note.
    pub note: String,
}

/// An inclusion proof of one record in its segment's latest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The instance.
    pub instance: String,
    /// The segment's day.
    pub day: Day,
    /// The record's seq.
    pub seq: u64,
    /// Its leaf index (the link leaf is 0).
    pub leaf_index: u64,
    /// The size of the checkpoint's tree.
    pub tree_size: u64,
    /// `leaf_hash(payload)`.
    pub leaf_hash: Hash,
    /// The audit path, from the leaf's sibling up.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note the proof leads to.
    pub note: String,
    /// The record payload: what was hashed.
    pub payload: Vec<u8>,
}

/// The integrity layer of a data directory: the checkpointer thread and read access to what
/// it wrote.
pub struct Integrity {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    data_dir: PathBuf,
    log: Arc<Log>,
    key: SigningKey,
    /// Every key that signed here, the current one included.
    ring: KeyRing,
    node: String,
    interval: Duration,
    /// Cluster mode: the checkpoints the nodes share.
    shared: Option<Arc<dyn SharedCheckpoints>>,
    checkpointer: Mutex<Checkpointer>,
    stop: (Mutex<bool>, Condvar),
}

impl Integrity {
    /// The verifier text of the key `options` sign with (created if missing, as [`Integrity::open`] would).
    pub(crate) fn verifier_text(options: &IntegrityOptions) -> Result<String, IntegrityError> {
        Ok(keys::load_or_create(&options.signing_key, &options.node)?.0.verifier().to_text())
    }

    /// Loads (or creates) the signing key, records it in the key history and starts the
    /// checkpointer thread, whose first round catches up with the log.
    pub fn open(data_dir: &Path, log: Arc<Log>, options: IntegrityOptions) -> Result<Integrity, IntegrityError> {
        Integrity::open_shared(data_dir, log, options, None)
    }

    /// [`Integrity::open`] for a node of a cluster, whose checkpoints are `shared` with the other nodes.
    pub(crate) fn open_shared(
        data_dir: &Path,
        log: Arc<Log>,
        options: IntegrityOptions,
        shared: Option<Arc<dyn SharedCheckpoints>>,
    ) -> Result<Integrity, IntegrityError> {
        Checkpoint::origin_for(&options.node, "account", "instance", "day")
            .map_err(|error| IntegrityError::InvalidOptions(format!("node name: {error}")))?;
        if options.interval.is_zero() {
            return Err(IntegrityError::InvalidOptions("the checkpoint interval must be positive".to_owned()));
        }
        if options.signing_key.starts_with(data_dir) {
            tracing::warn!(key = %options.signing_key.display(),
                "the signing key is inside the data directory: a copy of the directory can then sign a rewritten history");
        }
        let (key, _) = keys::load_or_create(&options.signing_key, &options.node)?;
        tracing::info!(key = %key.verifier().to_text(), path = %options.signing_key.display(), node = %options.node,
            "signing checkpoints");
        let checkpoints = files::checkpoints_dir(data_dir);
        std::fs::create_dir_all(&checkpoints).map_err(|source| IntegrityError::Io { path: checkpoints, source })?;
        let mut ring = keys::read_history(data_dir)?;
        keys::record(data_dir, &mut ring, &key.verifier())?;
        let inner = Arc::new(Inner {
            data_dir: data_dir.to_owned(),
            log,
            key,
            ring,
            node: options.node,
            interval: options.interval,
            shared,
            checkpointer: Mutex::new(Checkpointer::default()),
            stop: (Mutex::new(false), Condvar::new()),
        });
        let thread_inner = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("acta-checkpointer".to_owned())
            .spawn(move || thread_inner.run())
            .map_err(|source| IntegrityError::Io { path: data_dir.to_owned(), source })?;
        Ok(Integrity { inner, thread: Mutex::new(Some(thread)) })
    }

    /// Signs checkpoints of everything durable now, without waiting for the next round (in a cluster: takes what
    /// the signer published, and signs the rest if this node is the signer).
    pub fn sync(&self) -> Result<(), IntegrityError> {
        self.inner.round()
    }

    /// [`Integrity::sync`] for one instance: what another instance's trouble cannot hold up.
    pub fn sync_instance(&self, instance: &str) -> Result<(), IntegrityError> {
        validate_instance(instance)?;
        lock(&self.inner.checkpointer).round_instance(&self.inner.context(), instance)
    }

    /// Stops the checkpointer after a last round, so everything durable is signed.
    pub fn close(&self) -> Result<(), IntegrityError> {
        self.stop_thread();
        self.inner.round()
    }

    fn stop_thread(&self) {
        *lock(&self.inner.stop.0) = true;
        self.inner.stop.1.notify_all();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }

    /// Writes the export bundle of `instances` (see [`bundle`]) to `out`, after signing what is
    /// not signed yet, so the bundle verifies up to its last record.
    pub fn write_bundle(&self, instances: &[String], out: &mut dyn std::io::Write) -> std::io::Result<()> {
        if let Err(error) = self.sync() {
            // Exported all the same: what cannot be signed shows up as such when it is verified.
            tracing::error!(%error, "signing before an export bundle failed");
        }
        bundle::write_bundle(&self.inner.data_dir, &self.inner.log, instances, out)
    }

    /// The current signing key's public half.
    pub fn verifier_key(&self) -> VerifierKey {
        self.inner.key.verifier()
    }

    /// Every key that signed checkpoints in this data directory, oldest first.
    pub fn key_history(&self) -> &[VerifierKey] {
        self.inner.ring.keys()
    }

    /// An instance's checkpoints: every one of `day`'s segment, or, without a day, the latest of
    /// each segment (the final one of a closed segment).
    pub fn checkpoints(&self, instance: &str, day: Option<Day>) -> Result<Vec<StoredCheckpoint>, IntegrityError> {
        validate_instance(instance)?;
        let every = day.is_some();
        let days = match day {
            Some(day) => vec![day],
            None => {
                let dir = files::instance_dir(&self.inner.data_dir, instance);
                note_days(&dir).map_err(|source| IntegrityError::Io { path: dir, source })?
            }
        };
        let mut found = Vec::new();
        for day in days {
            let path = notes_path(&self.inner.data_dir, instance, day);
            let io = |source| IntegrityError::Io { path: path.clone(), source };
            let entries: Vec<files::NoteEntry> = if every {
                let file = read_notes(&path).map_err(io)?;
                let mut entries = Vec::with_capacity(file.lines.len());
                for (number, entry) in file.lines {
                    entries.push(entry.map_err(|reason| IntegrityError::Corrupt {
                        path: path.clone(),
                        reason: format!("line {number}: {reason}"),
                    })?);
                }
                entries
            } else {
                last_note(&path).map_err(io)?.into_iter().collect()
            };
            for entry in entries {
                let checkpoint = self.inner.ring.open(&entry.note)?;
                found.push(StoredCheckpoint {
                    instance: instance.to_owned(),
                    day,
                    size: checkpoint.size,
                    root: checkpoint.root,
                    is_final: entry.is_final,
                    note: entry.note,
                });
            }
        }
        Ok(found)
    }

    /// The inclusion proof of record `seq` of `instance` in its segment's latest checkpoint;
    /// `None` when no checkpoint covers it yet (or there is no such record).
    pub fn proof(&self, instance: &str, seq: u64) -> Result<Option<InclusionProof>, IntegrityError> {
        validate_instance(instance)?;
        let inner = &self.inner;
        let segment = inner.log.segments(instance).into_iter().find(|s| s.first_seq <= seq && seq <= s.last_seq);
        let Some(segment) = segment else {
            return Ok(None);
        };
        let day = segment.day;
        let path = notes_path(&inner.data_dir, instance, day);
        let Some(entry) = last_note(&path).map_err(|source| IntegrityError::Io { path: path.clone(), source })? else {
            return Ok(None);
        };
        let checkpoint = inner.ring.open(&entry.note)?;
        let leaf_index = seq - segment.first_seq + 1;
        if leaf_index >= checkpoint.size {
            return Ok(None);
        }
        let leaves_path = leaves_path(&inner.data_dir, instance, day);
        let leaves = read_leaves_prefix(&leaves_path, checkpoint.size)
            .map_err(|source| IntegrityError::Io { path: leaves_path.clone(), source })?;
        if leaves.len() as u64 != checkpoint.size || root(&leaves) != checkpoint.root {
            return Err(IntegrityError::Corrupt {
                path: leaves_path,
                reason: format!("the leaf hashes do not give the root of the checkpoint of size {}", checkpoint.size),
            });
        }
        let record = inner.log.read(instance, day, seq)?;
        let position = usize::try_from(leaf_index).unwrap_or(usize::MAX);
        let leaf = leaf_hash(&record.payload);
        if leaves.get(position) != Some(&leaf) {
            return Err(IntegrityError::Mismatch { instance: instance.to_owned(), day, seq });
        }
        let proof = inclusion_proof(&leaves, leaf_index)?;
        Ok(Some(InclusionProof {
            instance: instance.to_owned(),
            day,
            seq,
            leaf_index,
            tree_size: checkpoint.size,
            leaf_hash: leaf,
            proof,
            note: entry.note,
            payload: record.payload,
        }))
    }
}

impl Drop for Integrity {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

impl Inner {
    fn context(&self) -> Context<'_> {
        Context {
            data_dir: &self.data_dir,
            log: &self.log,
            key: &self.key,
            ring: &self.ring,
            node: &self.node,
            shared: self.shared.as_deref(),
        }
    }

    fn round(&self) -> Result<(), IntegrityError> {
        lock(&self.checkpointer).round(&self.context())
    }

    fn run(&self) {
        loop {
            // Errors are logged per instance by the checkpointer; the next round retries.
            let _ = self.round();
            let stopped = lock(&self.stop.0);
            if *stopped {
                return;
            }
            let (stopped, _) = self.stop.1.wait_timeout(stopped, self.interval).unwrap_or_else(PoisonError::into_inner);
            if *stopped {
                return;
            }
        }
    }
}

// A panic while holding the lock leaves a checkpointer whose next round rebuilds from files.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
