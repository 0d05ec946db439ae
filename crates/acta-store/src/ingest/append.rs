//! Duplicate detection and the durable append: the part of the write path the cluster mode implements again
//! (on PostgreSQL); everything around it in [`super`] stays the same.

use std::sync::Arc;

use acta_cadf::Event;

use crate::index::{EventIndex, IdCheck, NewId, content_digest};
use crate::log::{self, Log};
use crate::{StoreError, Stored};

/// Which event whose id the account already holds is a duplicate (and is not stored again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicates {
    /// One with the same content too; the same id with other content is stored and marked as reusing its id.
    /// Every writer's events: an id may name a request and its outcome (keystonemiddleware).
    SameContent,
    /// Any: Acta's own events, whose ids are derived from what they record, so a job repeated after a crash
    /// (with a later time in the event) adds nothing.
    SameId,
}

/// Appends events of an account to one of its instances, unless they are already stored in the account (see
/// [`Duplicates`]). Returns when the new ones are durable, one [`Stored`] per event in order. Blocking.
pub trait DurableAppend: Send + Sync {
    /// `account_instances` are all instances of the account: an event stored in any of them counts.
    fn append(
        &self,
        account: &str,
        instance: &str,
        account_instances: &[String],
        events: Vec<Event>,
        duplicates: Duplicates,
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
        duplicates: Duplicates,
    ) -> Result<Vec<Stored>, StoreError> {
        let (log, index) = (&self.log, &self.index);
        let new_ids: Vec<NewId> = events
            .iter()
            .map(|event| NewId {
                id: event.id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                digest: content_digest(&event.value),
            })
            .collect();
        let checks: Vec<IdCheck> = index
            .reserve_ids(account, account_instances, &new_ids)?
            .into_iter()
            .map(|check| match (check, duplicates) {
                (IdCheck::Reused, Duplicates::SameId) => IdCheck::Duplicate,
                (check, _) => check,
            })
            .collect();
        let mut records = Vec::new();
        let mut reserved = Vec::new();
        for ((event, new_id), check) in events.into_iter().zip(&new_ids).zip(&checks) {
            if *check == IdCheck::Duplicate {
                continue;
            }
            reserved.push(new_id.clone());
            records.push(log::NewRecord {
                account: account.to_string(),
                event_id: new_id.id.clone(),
                event: event.raw,
            });
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
        let stored_ids: Vec<(NewId, u64)> = reserved.into_iter().zip(appended.iter().map(|a| a.seq)).collect();
        index.confirm_ids(account, instance, &stored_ids);
        if !appended.is_empty() {
            index.notify(instance);
        }
        let mut appended = appended.into_iter();
        let outcomes = new_ids
            .into_iter()
            .zip(checks)
            .map(|(NewId { id, .. }, check)| {
                if check == IdCheck::Duplicate {
                    return Stored::Duplicate { id };
                }
                match appended.next() {
                    Some(done) => Stored::New {
                        id,
                        seq: done.seq,
                        received_ns: done.received_ns,
                        id_reused: check == IdCheck::Reused,
                    },
                    None => Stored::Duplicate { id },
                }
            })
            .collect();
        Ok(outcomes)
    }
}
