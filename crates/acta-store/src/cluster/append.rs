//! The durable append of cluster mode: the PostgreSQL log, duplicates judged there.

use std::sync::Arc;

use acta_cadf::Event;

use crate::index::Duplicates;
use crate::ingest::DurableAppend;
use crate::log::NewRecord;
use crate::pglog::PgLog;
use crate::{StoreError, Stored};

/// Appends to the cluster's log from the blocking thread [`crate::Store`] runs appends on.
pub(crate) struct ClusterAppend {
    pub(crate) log: Arc<PgLog>,
    pub(crate) runtime: tokio::runtime::Handle,
}

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
        Ok(self.runtime.block_on(self.log.append_new(account, instance, records, duplicates))?)
    }
}
