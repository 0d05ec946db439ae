//! The durable append of cluster mode: the PostgreSQL log, duplicates judged there.

use std::sync::Arc;
use std::time::Duration;

use acta_cadf::Event;

use crate::index::Duplicates;
use crate::ingest::DurableAppend;
use crate::log::{Log, NewRecord};
use crate::pglog::PgLog;
use crate::{StoreError, Stored};

/// Appends to the cluster's log from the blocking thread [`crate::Store`] runs appends on.
pub(crate) struct ClusterAppend {
    pub(crate) log: Arc<PgLog>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// This node's copy, and word of what was copied into it.
    pub(crate) copy: Arc<Log>,
    pub(crate) copied: Arc<tokio::sync::Notify>,
}

/// The longest an answer waits for this node's copy to hold what it committed.
const COPY_WAIT: Duration = Duration::from_secs(5);

impl DurableAppend for ClusterAppend {
    fn append(
        &self,
        account: &str,
        instance: &str,
        _account_instances: &[String],
        events: Vec<Event>,
        duplicates: Duplicates,
    ) -> Result<Vec<Stored>, StoreError> {
        // The cluster's ids are per account whatever the instance (`pglog/ids.rs`), so the account's instances
        // are not needed here.
        let records = events
            .into_iter()
            .map(|event| NewRecord {
                account: account.to_owned(),
                event_id: event.id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                event: event.raw,
            })
            .collect();
        self.runtime.block_on(async {
            let stored = self.log.append_new(account, instance, records, duplicates).await?;
            // The client that sent a batch may read it back from this node at once (by id, or wait=searchable):
            // the answer waits for this node's copy of it, normally a few milliseconds. Committed is what matters,
            // so once the wait is over it answers anyway.
            let last = stored.iter().filter_map(|stored| match stored {
                Stored::New { seq, .. } => Some(*seq),
                Stored::Duplicate { .. } => None,
            });
            if let Some(last) = last.max() {
                let copied = async {
                    loop {
                        let notified = self.copied.notified();
                        if self.copy.last_seq(instance) >= last {
                            return;
                        }
                        notified.await;
                    }
                };
                let _ = tokio::time::timeout(COPY_WAIT, copied).await;
            }
            Ok(stored)
        })
    }

    fn publishes_accepted(&self) -> bool {
        false // every node's copy publishes what any node took (`copy.rs`)
    }
}
