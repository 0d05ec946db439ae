//! Duplicate detection by id and content: which events of a batch are already stored in their account.
//!
//! An id is not enough. keystonemiddleware, the most common CADF producer, sends an API call's request
//! (`outcome: pending`) and its response (`success` or `failure`) with the same `id`, as pycadf intends; judged by
//! id alone, every audited OpenStack call lost its outcome. So an event is a duplicate only when the account holds
//! an event with the same id and the same content (its canonical JSON, [`acta_cadf::canonical_json`]); the same id
//! with other content is stored, and said to reuse its id.
//!
//! The index answers for what is searchable; ids accepted but not yet searchable are held here ([`PendingIds`])
//! until the index has committed them, so a batch sent twice in a row is recognized.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use tantivy::Term;
use tantivy::query::{TermQuery, TermSetQuery};
use tantivy::schema::IndexRecordOption;

use super::collect::{NewestFirst, SortedCollector};
use super::scope::{Scopes, restrict};
use super::{EventIndex, IndexError, Inner, lock, tantivy_error};

/// The SHA-256 of an event's canonical JSON.
pub(crate) type ContentDigest = [u8; 32];

/// The most stored events of one id whose content a new event is compared with. An id reused more often than this
/// (no producer does) is compared with the newest ones only.
const MAX_COMPARED_PER_ID: usize = 1_000;

/// The digest of an event's content: its canonical JSON (accepted events are JSON; other bytes are digested as
/// they are).
pub(crate) fn stored_digest(bytes: &[u8]) -> ContentDigest {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => Sha256::digest(acta_cadf::canonical_json(&value)).into(),
        Err(_) => Sha256::digest(bytes).into(),
    }
}

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

/// What the account already holds of one new event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdCheck {
    /// No event with its id: store it.
    New,
    /// Events with its id but other content: store it, and say its id is reused.
    Reused,
    /// An event with its id and its content: do not store it again.
    Duplicate,
}

/// One accepted event that is not yet searchable.
struct PendingEvent {
    /// Which reservation made it, to confirm or release that one among events of the same id.
    reservation: u64,
    /// `(instance, seq)` once appended; `None` while its append is under way.
    at: Option<(String, u64)>,
    /// Its bytes while its append is under way (afterwards the log has them). Compared only when another event
    /// comes with the same id: digests are computed then, never for the events whose id is new.
    in_flight: Option<Arc<[u8]>>,
}

/// Events accepted but not yet searchable, so duplicates are recognized before the index sees them.
#[derive(Default)]
pub(super) struct PendingIds {
    /// account -> id -> the pending events with that id.
    by_account: HashMap<String, HashMap<String, Vec<PendingEvent>>>,
    /// instance -> (seq, account, id) in seq order, to forget them once committed.
    by_instance: HashMap<String, VecDeque<(u64, String, String)>>,
    next_reservation: u64,
}

impl PendingIds {
    fn events(&self, account: &str, id: &str) -> &[PendingEvent] {
        self.by_account.get(account).and_then(|ids| ids.get(id)).map_or(&[], Vec::as_slice)
    }

    fn remove(&mut self, account: &str, id: &str, which: impl Fn(&PendingEvent) -> bool) {
        let Some(ids) = self.by_account.get_mut(account) else { return };
        if let Some(events) = ids.get_mut(id) {
            if let Some(position) = events.iter().position(which) {
                events.remove(position);
            }
            if events.is_empty() {
                ids.remove(id);
            }
        }
        if ids.is_empty() {
            self.by_account.remove(account);
        }
    }

    /// Forgets an instance's events up to `indexed`, which the index's readers now see.
    pub(super) fn forget(&mut self, instance: &str, indexed: u64) {
        let Some(queue) = self.by_instance.get_mut(instance) else { return };
        let mut forgotten = Vec::new();
        while queue.front().is_some_and(|(seq, _, _)| *seq <= indexed) {
            if let Some(entry) = queue.pop_front() {
                forgotten.push(entry);
            }
        }
        for (seq, account, id) in forgotten {
            self.remove(&account, &id, |event| event.at.as_ref().is_some_and(|at| at.0 == instance && at.1 == seq));
        }
    }

    /// Where the newest pending event with this id is, if any is appended.
    fn newest_location(&self, account: &str, id: &str) -> Option<(String, u64)> {
        self.events(account, id).iter().rev().find_map(|event| event.at.clone())
    }
}

/// An event a batch asks to store: its id and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct NewId<'a> {
    /// The event's id.
    pub id: &'a str,
    /// The event's bytes, as it is to be stored.
    pub event: &'a [u8],
}

/// One event's judgement, and its reservation unless it is a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// What the account holds of it.
    pub check: IdCheck,
    /// The reservation to confirm or release (meaningless for a duplicate).
    pub token: u64,
}

impl EventIndex {
    /// Judges each of `events` against the account's stored events (in any of its `instances`), those being
    /// stored now and the earlier events of the same list, and reserves those to store until
    /// [`Self::confirm_ids`] or [`Self::release_ids`]. Contents are compared only for an id already known, and
    /// not at all under [`Duplicates::SameId`].
    pub fn reserve_ids(
        &self,
        account: &str,
        instances: &[String],
        events: &[NewId<'_>],
        duplicates: Duplicates,
    ) -> Result<Vec<Reservation>, IndexError> {
        let scopes = Scopes::of_instances(instances);
        let mut pending = lock(&self.inner.pending);
        let ids: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
        let indexed = self.inner.indexed_ids(&scopes, &ids)?;
        let mut stored: HashMap<&str, HashSet<ContentDigest>> = HashMap::new();
        for id in &indexed {
            stored.insert(id.as_str(), self.inner.stored_digests(&scopes, id)?);
        }
        let mut reservations = Vec::with_capacity(events.len());
        for event in events {
            let indexed_digests = stored.get(event.id);
            let pending_events = pending.events(account, event.id);
            let known = indexed_digests.is_some_and(|digests| !digests.is_empty()) || !pending_events.is_empty();
            let check = if known && duplicates == Duplicates::SameId {
                IdCheck::Duplicate
            } else if known {
                let digest = stored_digest(event.event);
                let mut same = indexed_digests.is_some_and(|digests| digests.contains(&digest));
                for other in pending_events {
                    if same {
                        break;
                    }
                    same = self.inner.pending_digest(other)? == Some(digest);
                }
                if same { IdCheck::Duplicate } else { IdCheck::Reused }
            } else {
                IdCheck::New
            };
            let token = pending.next_reservation;
            if check != IdCheck::Duplicate {
                pending.next_reservation += 1;
                let reserved = PendingEvent { reservation: token, at: None, in_flight: Some(Arc::from(event.event)) };
                let ids = pending.by_account.entry(account.to_string()).or_default();
                ids.entry(event.id.to_string()).or_default().push(reserved);
            }
            reservations.push(Reservation { check, token });
        }
        Ok(reservations)
    }

    /// Records where reserved events were stored: `(id, reservation token, seq)` in the instance's log.
    pub fn confirm_ids(&self, account: &str, instance: &str, stored: &[(&str, u64, u64)]) {
        let committed = lock(&self.inner.committed).get(instance).copied().unwrap_or(0);
        let mut pending = lock(&self.inner.pending);
        for &(id, token, seq) in stored {
            let reserved = |pending: &PendingEvent| pending.reservation == token;
            if seq <= committed {
                pending.remove(account, id, reserved);
                continue;
            }
            let slot = pending
                .by_account
                .get_mut(account)
                .and_then(|ids| ids.get_mut(id))
                .and_then(|events| events.iter_mut().find(|pending| reserved(pending)));
            if let Some(slot) = slot {
                slot.at = Some((instance.to_string(), seq));
                slot.in_flight = None;
            }
            pending.by_instance.entry(instance.to_string()).or_default().push_back((
                seq,
                account.to_string(),
                id.to_string(),
            ));
        }
    }

    /// Records events another node took, now in this node's copy of the log (cluster mode): `(account, id, seq)`
    /// in the instance. Until the index has committed them they are found by id as an accepted event is.
    pub fn note_copied(&self, instance: &str, copied: &[(&str, &str, u64)]) {
        let committed = lock(&self.inner.committed).get(instance).copied().unwrap_or(0);
        let mut pending = lock(&self.inner.pending);
        for &(account, id, seq) in copied {
            if seq <= committed {
                continue;
            }
            let reservation = pending.next_reservation;
            pending.next_reservation += 1;
            let event = PendingEvent { reservation, at: Some((instance.to_string(), seq)), in_flight: None };
            pending.by_account.entry(account.to_string()).or_default().entry(id.to_string()).or_default().push(event);
            pending.by_instance.entry(instance.to_string()).or_default().push_back((
                seq,
                account.to_string(),
                id.to_string(),
            ));
        }
    }

    /// Gives back reservations whose append failed: `(id, reservation token)`.
    pub fn release_ids(&self, account: &str, reserved: &[(&str, u64)]) {
        let mut pending = lock(&self.inner.pending);
        for &(id, token) in reserved {
            pending.remove(account, id, |pending| pending.reservation == token);
        }
    }

    /// Where the newest event with this id is among the instances, searchable or just accepted.
    pub(super) fn locate_id(
        &self,
        account: &str,
        instances: &[String],
        id: &str,
    ) -> Result<Option<(String, u64)>, IndexError> {
        let pending = lock(&self.inner.pending).newest_location(account, id);
        match pending {
            Some(location) if instances.contains(&location.0) => Ok(Some(location)),
            _ => self.inner.find_indexed_id(&Scopes::of_instances(instances), id),
        }
    }

    /// Which of `ids` name more than one event among the instances (an id reused with other content): for a page
    /// of results, one count per partition, and a count per id only when the page's ids are not all unique.
    pub fn reused_ids(
        &self,
        account: &str,
        instances: &[String],
        ids: &[String],
    ) -> Result<HashSet<String>, IndexError> {
        let scopes = Scopes::of_instances(instances);
        let distinct: Vec<String> = ids.iter().collect::<HashSet<_>>().into_iter().cloned().collect();
        let not_searchable: HashMap<&str, u64> = {
            let committed = lock(&self.inner.committed).clone();
            let pending = lock(&self.inner.pending);
            distinct
                .iter()
                .map(|id| {
                    let waiting = pending.events(account, id).iter().filter(|event| match &event.at {
                        Some((instance, seq)) => *seq > committed.get(instance).copied().unwrap_or(0),
                        None => true,
                    });
                    (id.as_str(), waiting.count() as u64)
                })
                .collect()
        };
        let total = self.inner.count_ids(&scopes, &distinct)? + not_searchable.values().sum::<u64>();
        if total <= distinct.len() as u64 {
            return Ok(HashSet::new());
        }
        let mut reused = HashSet::new();
        for id in &distinct {
            let count = self.inner.count_ids(&scopes, std::slice::from_ref(id))?
                + not_searchable.get(id.as_str()).copied().unwrap_or(0);
            if count > 1 {
                reused.insert(id.clone());
            }
        }
        Ok(reused)
    }
}

impl Inner {
    /// The digest of a pending event: from its bytes while its append is under way, else from the log.
    fn pending_digest(&self, pending: &PendingEvent) -> Result<Option<ContentDigest>, IndexError> {
        if let Some(bytes) = &pending.in_flight {
            return Ok(Some(stored_digest(bytes)));
        }
        match &pending.at {
            Some((instance, seq)) => Ok(Some(stored_digest(&self.read_record(instance, *seq)?.event))),
            None => Ok(None),
        }
    }

    /// The digests of the newest stored events with this id among the scopes' instances.
    fn stored_digests(&self, scopes: &Scopes, id: &str) -> Result<HashSet<ContentDigest>, IndexError> {
        let mut digests = HashSet::new();
        for (instance, seq) in self.id_locations(scopes, id, MAX_COMPARED_PER_ID)? {
            digests.insert(stored_digest(&self.read_record(&instance, seq)?.event));
        }
        Ok(digests)
    }

    /// Where the newest `limit` events with this id are among the scopes' instances (`(instance, seq)`), newest
    /// partition first.
    pub(super) fn id_locations(
        &self,
        scopes: &Scopes,
        id: &str,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, IndexError> {
        let term = Term::from_field_text(self.fields.id, id);
        let mut locations = Vec::new();
        for (partition, present) in self.partitions_for(scopes, None, None, None).into_iter().rev() {
            let searcher = partition.reader.searcher();
            let query = restrict(
                &self.fields,
                present.iter().map(|position| scopes.get(*position).instance.as_str()),
                Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
            );
            let wanted = limit - locations.len();
            let collector = SortedCollector::<NewestFirst>::new(scopes.instances().clone(), Some(wanted), None);
            let found = searcher.search(&query, &collector).map_err(|source| tantivy_error(&partition.name, source))?;
            locations.extend(
                found.into_iter().map(|(_, _, position, seq)| (scopes.get(position as usize).instance.clone(), seq)),
            );
            if locations.len() >= limit {
                break;
            }
        }
        Ok(locations)
    }

    /// How many events among the scopes' instances have one of these ids.
    fn count_ids(&self, scopes: &Scopes, ids: &[String]) -> Result<u64, IndexError> {
        let terms: Vec<Term> = ids.iter().map(|id| Term::from_field_text(self.fields.id, id)).collect();
        let mut total = 0;
        for (partition, present) in self.partitions_for(scopes, None, None, None) {
            let searcher = partition.reader.searcher();
            let query = restrict(
                &self.fields,
                present.iter().map(|position| scopes.get(*position).instance.as_str()),
                Box::new(TermSetQuery::new(terms.clone())),
            );
            let count = searcher
                .search(&query, &tantivy::collector::Count)
                .map_err(|source| tantivy_error(&partition.name, source))?;
            total += count as u64;
        }
        Ok(total)
    }
}
