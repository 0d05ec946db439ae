//! Duplicate detection and the durable append: the part of the write path the cluster mode implements again
//! (on PostgreSQL); everything around it in [`super`] stays the same.

use std::sync::Arc;

use acta_cadf::Event;

pub use crate::index::Duplicates;
use crate::index::{EventIndex, IdCheck, NewId, Reservation};
use crate::log::{self, Log};
use crate::{StoreError, Stored};

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

    /// Whether the events this append stores are published on the live bus by the accept that made them (the
    /// embedded log), rather than by the log's followers (a cluster node's copy publishes what any node took).
    fn publishes_accepted(&self) -> bool;
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
        let ids: Vec<String> =
            events.iter().map(|event| event.id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string())).collect();
        let new_ids: Vec<NewId<'_>> =
            ids.iter().zip(&events).map(|(id, event)| NewId { id, event: &event.raw }).collect();
        let reservations: Vec<Reservation> = index.reserve_ids(account, account_instances, &new_ids, duplicates)?;
        drop(new_ids);
        let mut records = Vec::new();
        let mut reserved: Vec<(&str, u64)> = Vec::new();
        for ((event, id), reservation) in events.into_iter().zip(&ids).zip(&reservations) {
            if reservation.check == IdCheck::Duplicate {
                continue;
            }
            reserved.push((id, reservation.token));
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
        let stored: Vec<(&str, u64, u64)> =
            reserved.iter().zip(appended.iter()).map(|((id, token), done)| (*id, *token, done.seq)).collect();
        index.confirm_ids(account, instance, &stored);
        if !appended.is_empty() {
            index.notify(instance);
        }
        let mut appended = appended.into_iter();
        let outcomes = ids
            .into_iter()
            .zip(reservations)
            .map(|(id, reservation)| {
                if reservation.check == IdCheck::Duplicate {
                    return Stored::Duplicate { id };
                }
                match appended.next() {
                    Some(done) => Stored::New {
                        id,
                        seq: done.seq,
                        received_ns: done.received_ns,
                        id_reused: reservation.check == IdCheck::Reused,
                    },
                    None => Stored::Duplicate { id },
                }
            })
            .collect();
        Ok(outcomes)
    }

    fn publishes_accepted(&self) -> bool {
        true
    }
}
