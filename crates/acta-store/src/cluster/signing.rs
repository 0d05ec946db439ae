//! One signer for the cluster's checkpoints: the node holding the signer's lease signs every instance's, and
//! publishes each in PostgreSQL before writing it; every node adopts what was published after checking it against
//! its own copy (`integrity/shared.rs`). Signing follows the lease: when the signer dies, PostgreSQL releases its
//! lock and another node takes it within [`LEASE_TRY`], going on from the published trees.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::integrity::IntegrityError;
use crate::integrity::files::{NoteEntry, to_hex};
use crate::integrity::shared::{Published, SharedCheckpoints};
use crate::log::Day;
use crate::pglog::{PgLog, Publication, PublishedCheckpoint};

/// How often a node that does not sign tries to take the signer's lease.
const LEASE_TRY: Duration = Duration::from_secs(1);

/// This node's side of the cluster's checkpoints.
pub(crate) struct ClusterCheckpoints {
    log: Arc<PgLog>,
    runtime: tokio::runtime::Handle,
    signs: Arc<AtomicBool>,
    /// The version of the last published checkpoint read.
    read: std::sync::Mutex<i64>,
}

/// The task that holds (or tries to take) the signer's lease; stopped when dropped.
pub(crate) struct SignerLease {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SignerLease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ClusterCheckpoints {
    /// This node's side, and the task that makes it the signer while it holds the lease. The lease is tried
    /// once before this returns, so a node alone in its cluster signs from its checkpointer's first round.
    pub(crate) async fn start(log: Arc<PgLog>) -> (Arc<ClusterCheckpoints>, SignerLease) {
        let signs = Arc::new(AtomicBool::new(false));
        let first = take(&log).await;
        let task = tokio::spawn(hold(log.clone(), signs.clone(), first));
        let shared = ClusterCheckpoints {
            log,
            runtime: tokio::runtime::Handle::current(),
            signs,
            read: std::sync::Mutex::new(0),
        };
        (Arc::new(shared), SignerLease { task })
    }
}

async fn take(log: &PgLog) -> Option<crate::cluster::Lease> {
    match log.try_signer_lease().await {
        Ok(lease) => lease,
        Err(error) => {
            tracing::warn!(%error, "taking the signer's lease failed; trying again");
            None
        }
    }
}

/// Holds the lease while PostgreSQL keeps it, and tries to take it again whenever this node lacks it.
async fn hold(log: Arc<PgLog>, signs: Arc<AtomicBool>, mut lease: Option<crate::cluster::Lease>) {
    loop {
        match lease.take() {
            Some(mut held) => {
                tracing::info!("this node signs the cluster's checkpoints");
                signs.store(true, Ordering::SeqCst);
                held.lost().await;
                signs.store(false, Ordering::SeqCst);
                tracing::warn!("this node lost the signer's lease (its PostgreSQL session ended); it stopped signing");
            }
            None => {
                tokio::time::sleep(LEASE_TRY).await;
                lease = take(&log).await;
            }
        }
    }
}

fn cluster_error(error: impl std::fmt::Display) -> IntegrityError {
    IntegrityError::Cluster(error.to_string())
}

impl SharedCheckpoints for ClusterCheckpoints {
    fn signs(&self) -> bool {
        self.signs.load(Ordering::SeqCst)
    }

    fn publish(
        &self,
        instance: &str,
        day: Day,
        size: u64,
        origin: &str,
        entry: &NoteEntry,
    ) -> Result<(), IntegrityError> {
        let mut line = entry.to_line();
        line.pop(); // the newline: the row holds the line's text
        let checkpoint = PublishedCheckpoint {
            instance: instance.to_owned(),
            day,
            size,
            is_final: entry.is_final,
            origin: origin.to_owned(),
            link: to_hex(&entry.link),
            line,
        };
        match self.runtime.block_on(self.log.publish_checkpoint(&checkpoint)).map_err(cluster_error)? {
            Publication::Published => Ok(()),
            Publication::Refused(why) => {
                Err(cluster_error(format!("the checkpoint of {instance}/{day} (size {size}) was not published: {why}")))
            }
        }
    }

    fn changed(&self) -> Result<Vec<(String, Day, Published)>, IntegrityError> {
        let mut read = self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (rows, last) = self.runtime.block_on(self.log.checkpoints_after(*read)).map_err(cluster_error)?;
        let mut changed = Vec::with_capacity(rows.len());
        for row in rows {
            match NoteEntry::parse(&row.line) {
                Ok(entry) => {
                    let published = Published { size: row.size, entry, line: format!("{}\n", row.line) };
                    changed.push((row.instance, row.day, published));
                }
                // Not this node's to mend: its copy of the segment waits for the signer's next checkpoint.
                Err(reason) => tracing::error!(instance = %row.instance, day = %row.day, %reason,
                    "a published checkpoint is not a checkpoint line; skipped"),
            }
        }
        *read = last;
        Ok(changed)
    }
}
