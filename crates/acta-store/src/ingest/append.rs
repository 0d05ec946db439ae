//! Duplicate detection and the durable append: the part of the write path the cluster mode implements again
//! (on PostgreSQL); everything around it in [`super`] stays the same.

use std::sync::Arc;

use acta_cadf::Event;

use crate::index::EventIndex;
use crate::log::{self, Log};
use crate::{StoreError, Stored};

/// Appends events of an account to one of its instances, unless their id is already stored in the account.
/// Returns when the new ones are durable, one [`Stored`] per event in order. Blocking.
pub trait DurableAppend: Send + Sync {
    /// `account_instances` are all instances of the account: an id seen in any of them is a duplicate.
    fn append(
        &self,
        account: &str,
        instance: &str,
        account_instances: &[String],
        events: Vec<Event>,
    ) -> Result<Vec<Stored>, StoreError>;
}

/// The embedded mode: the local log, with the ids of the index (and those reserved by appends in flight) for
/// duplicate detection.
pub struct LocalAppend {
    pub(crate) log: Arc<Log>,
    pub(crate) index: Arc<EventIndex>,
}

impl DurableAppend for LocalAppend {
    fn append(
        &self,
        account: &str,
        instance: &str,
        account_instances: &[String],
        events: Vec<Event>,
    ) -> Result<Vec<Stored>, StoreError> {
        let (log, index) = (&self.log, &self.index);
        let ids: Vec<String> =
            events.iter().map(|event| event.id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string())).collect();
        let duplicates = index.reserve_ids(account, account_instances, &ids)?;
        let mut records = Vec::new();
        let mut reserved = Vec::new();
        for ((event, id), duplicate) in events.into_iter().zip(&ids).zip(&duplicates) {
            if *duplicate {
                continue;
            }
            reserved.push(id.clone());
            records.push(log::NewRecord { account: account.to_string(), event_id: id.clone(), event: event.raw });
        }
        let appended = if records.is_empty() {
            Vec::new()
        } else {
            match log.append(instance, records) {
                Ok(appended) => appended,
                Err(error) => {
                    index.release_ids(account, &reserved);
                    return Err(error.into());
                }
            }
        };
        let stored_ids: Vec<(String, u64)> = reserved.iter().cloned().zip(appended.iter().map(|a| a.seq)).collect();
        index.confirm_ids(account, instance, &stored_ids);
        if !appended.is_empty() {
            index.notify(instance);
        }
        let mut appended = appended.into_iter();
        let outcomes = ids
            .into_iter()
            .zip(duplicates)
            .map(|(id, duplicate)| {
                if duplicate {
                    return Stored::Duplicate { id };
                }
                match appended.next() {
                    Some(done) => Stored::New { id, seq: done.seq, received_ns: done.received_ns },
                    None => Stored::Duplicate { id },
                }
            })
            .collect();
        Ok(outcomes)
    }
}
