//! The one write path: a parsed batch in, each event's fate out.
//!
//! For every batch, in this order: the account of each event ([`route`]), the instance of each event and the
//! strict validation of strict instances, duplicate detection and the durable append ([`append`]), then, only
//! once the append is durable, publication to the followers that are not polling the log (the alert engine and
//! live tail, [`publish`]). The indexer and the checkpointer follow the log itself.
//!
//! Callers (the HTTP handlers, Acta's own audit and retention events) decide who may write where and hand a
//! [`Destination`]; they never append to the log themselves. The cluster mode will give [`append::DurableAppend`]
//! a second implementation; routing, validation and publication stay as they are.

pub mod append;
pub mod publish;
pub mod route;

use std::collections::HashMap;

use acta_cadf::{Event, Mode, Options, Problem};

use crate::meta::Instance;
use crate::{Store, StoreError, Stored};

pub use append::{Duplicates, DurableAppend, LocalAppend};
pub use publish::{LiveEvent, Publisher};

/// The account the platform admin writes to when an event names none, created on first start.
pub const DEFAULT_ACCOUNT: &str = "default";

/// An event of a request as it was parsed: the event, or why it is not one.
pub type Parsed = Result<Event, Vec<Problem>>;

/// Where the events of a batch go.
#[derive(Debug, Clone)]
pub enum Destination {
    /// Into this account, each event to the instance of its `logSourceCRN` region (`global` to the global
    /// instance), else to `fallback_instance` (the key's own), else to the global instance.
    Account {
        /// The account.
        account: String,
        /// The instance for events whose region has none.
        fallback_instance: Option<String>,
    },
    /// Each event to the account its `logSourceCRN` names (`a/<id>`, as IBM delivered events to the resource's
    /// owner), or to [`DEFAULT_ACCOUNT`] when it names none; within it, routed as in [`Destination::Account`].
    LogSource,
    /// Every event into this instance.
    Instance(Instance),
}

/// A batch of parsed events for one [`Destination`].
#[derive(Debug)]
pub struct Batch {
    /// The events in request order.
    pub events: Vec<Parsed>,
    /// Where they go.
    pub destination: Destination,
    /// Now, unix ns (validation of eventTime in the future).
    pub now: i64,
}

/// What became of one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// Appended durably under this id.
    Stored {
        /// The event id (its own, or assigned).
        id: String,
        /// The account already held events with this id and other content: this one is stored beside them
        /// (keystonemiddleware's request and its outcome share their id).
        id_reused: bool,
    },
    /// An event with its id and its content is already stored in the account: nothing was written.
    Duplicate {
        /// The repeated id.
        id: String,
    },
    /// Not an event Acta accepts, or nowhere to put it.
    Rejected(Vec<Problem>),
}

/// The fate of each event of a batch, in request order.
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    /// Events stored.
    pub accepted: usize,
    /// Events rejected.
    pub rejected: usize,
    /// Events already stored.
    pub duplicates: usize,
    /// One outcome per event of the batch, in order.
    pub results: Vec<EventOutcome>,
}

impl BatchOutcome {
    fn with_len(len: usize) -> BatchOutcome {
        BatchOutcome { results: vec![EventOutcome::Rejected(Vec::new()); len], ..BatchOutcome::default() }
    }

    fn set(&mut self, position: usize, outcome: EventOutcome) {
        match &outcome {
            EventOutcome::Stored { .. } => self.accepted += 1,
            EventOutcome::Duplicate { .. } => self.duplicates += 1,
            EventOutcome::Rejected(_) => self.rejected += 1,
        }
        if let Some(slot) = self.results.get_mut(position) {
            *slot = outcome;
        }
    }
}

/// Why a whole batch was refused (a single event's problem is an [`EventOutcome::Rejected`] instead).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The destination's account does not exist.
    #[error("account {0} does not exist")]
    UnknownAccount(String),
    /// An event Acta writes itself was not stored (a defect of Acta, never of the caller's input).
    #[error("Acta's own {action} event was not stored: {reason}")]
    OwnEvent {
        /// The event's action.
        action: String,
        /// Why.
        reason: String,
    },
    /// Storage failed: nothing after the failure was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::meta::MetaError> for IngestError {
    fn from(error: crate::meta::MetaError) -> IngestError {
        IngestError::Store(error.into())
    }
}

impl Store {
    /// Stores a batch: each event is routed, validated for its instance, appended durably unless its id is
    /// already stored in its account, and published to the live followers. Returns when every stored event is
    /// durable. Refused whole ([`StoreError::LowSpace`]) while the free space is below the operator's reserve.
    pub async fn accept(&self, batch: Batch) -> Result<BatchOutcome, IngestError> {
        self.check_reserve()?;
        self.accept_within_reserve(batch, Duplicates::SameContent).await
    }

    /// [`Store::accept`] without the free-space reserve, which is kept for Acta's own records.
    async fn accept_within_reserve(&self, batch: Batch, duplicates: Duplicates) -> Result<BatchOutcome, IngestError> {
        let mut outcome = BatchOutcome::with_len(batch.events.len());
        let now = batch.now;
        match batch.destination {
            Destination::Instance(instance) => {
                let instances = self.meta().instances(&instance.account).await?;
                let items = batch.events.into_iter().enumerate().collect();
                let target = Target::Instance(&instance);
                self.accept_in_account(
                    &instance.account,
                    &instances,
                    target,
                    items,
                    Rules { now, duplicates },
                    &mut outcome,
                )
                .await?;
            }
            Destination::Account { account, fallback_instance } => {
                let items = batch.events.into_iter().enumerate().collect();
                let instances = self.instances_to_write(&account, true).await?;
                match instances {
                    Ok(instances) => {
                        let target = Target::Routed { fallback: fallback_instance.as_deref() };
                        self.accept_in_account(
                            &account,
                            &instances,
                            target,
                            items,
                            Rules { now, duplicates },
                            &mut outcome,
                        )
                        .await?;
                    }
                    Err(problem) => reject_all(items, &problem, &mut outcome),
                }
            }
            Destination::LogSource => {
                let mut by_account: HashMap<String, Vec<(usize, Parsed)>> = HashMap::new();
                for (position, parsed) in batch.events.into_iter().enumerate() {
                    match route::account_of(&parsed) {
                        Ok(account) => by_account.entry(account).or_default().push((position, parsed)),
                        Err(problem) => outcome.set(position, EventOutcome::Rejected(vec![problem])),
                    }
                }
                for (account, items) in by_account {
                    match self.instances_to_write(&account, false).await? {
                        Ok(instances) => {
                            let target = Target::Routed { fallback: None };
                            self.accept_in_account(
                                &account,
                                &instances,
                                target,
                                items,
                                Rules { now, duplicates },
                                &mut outcome,
                            )
                            .await?;
                        }
                        Err(problem) => reject_all(items, &problem, &mut outcome),
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Stores an event Acta writes itself (an audit record, a retention deletion, archive health) in `account`,
    /// through the same path as every event; durable when this returns. An event already stored (the same id,
    /// as a retention run repeated after a crash writes) counts as stored.
    pub async fn accept_own(&self, account: &str, event: &serde_json::Value, now: i64) -> Result<(), IngestError> {
        let action = event.get("action").and_then(serde_json::Value::as_str).unwrap_or("").to_string();
        let own_error = |reason: String| IngestError::OwnEvent { action: action.clone(), reason };
        let parsed = acta_cadf::parse_event(event.to_string().as_bytes(), &Options::default(), now)
            .map_err(|problems| own_error(format!("{problems:?}")))?;
        let batch = Batch {
            events: vec![Ok(parsed)],
            destination: Destination::Account { account: account.to_string(), fallback_instance: None },
            now,
        };
        match self.accept_within_reserve(batch, Duplicates::SameId).await?.results.as_slice() {
            [EventOutcome::Stored { .. } | EventOutcome::Duplicate { .. }] => Ok(()),
            other => Err(own_error(format!("{other:?}"))),
        }
    }

    /// The instances of an account events can go to, or the problem that rejects its events. `named`: the
    /// account was named by the writer (an unknown one refuses the batch) rather than by an event's
    /// `logSourceCRN` (an unknown one rejects that event).
    async fn instances_to_write(
        &self,
        account: &str,
        named: bool,
    ) -> Result<Result<Vec<Instance>, Problem>, IngestError> {
        let instances = self.meta().instances(account).await?;
        if !instances.is_empty() {
            return Ok(Ok(instances));
        }
        let known = self.meta().account(account).await?.is_some();
        if named && !known {
            return Err(IngestError::UnknownAccount(account.to_string()));
        }
        let message = if known {
            format!("account {account} has no instance to store events in")
        } else {
            format!("logSourceCRN names account {account}, which does not exist")
        };
        Ok(Err(Problem { pointer: "/logSourceCRN".to_string(), message }))
    }

    /// Routes the events of one account to its instances, validates them for their instance, appends, publishes.
    /// `instances` are all of the account's: an id stored in any of them is a duplicate, whichever instance the
    /// batch goes to.
    async fn accept_in_account(
        &self,
        account: &str,
        instances: &[Instance],
        target: Target<'_>,
        items: Vec<(usize, Parsed)>,
        Rules { now, duplicates }: Rules,
        outcome: &mut BatchOutcome,
    ) -> Result<(), IngestError> {
        let mut groups: HashMap<&str, Vec<(usize, Event)>> = HashMap::new();
        for (position, parsed) in items {
            let event = match parsed {
                Ok(event) => event,
                Err(problems) => {
                    outcome.set(position, EventOutcome::Rejected(problems));
                    continue;
                }
            };
            let instance = match target {
                Target::Routed { fallback } => route::instance_of(instances, fallback, &event),
                Target::Instance(instance) => instance,
            };
            if instance.strict {
                let strict = Options { mode: Mode::Strict, ..Options::default() };
                if let Err(problems) = acta_cadf::parse_event(&event.raw, &strict, now) {
                    outcome.set(position, EventOutcome::Rejected(problems));
                    continue;
                }
            }
            groups.entry(instance.id.as_str()).or_default().push((position, event));
        }
        let account_instances: Vec<String> = instances.iter().map(|instance| instance.id.clone()).collect();
        for (instance_id, members) in groups {
            let region = instances.iter().find(|i| i.id == instance_id).map(|i| i.region.clone()).unwrap_or_default();
            let (positions, events): (Vec<usize>, Vec<Event>) = members.into_iter().unzip();
            let mut published =
                if self.append.publishes_accepted() { publish::Pending::of(&events) } else { Vec::new() }.into_iter();
            let stored = self.append(account, instance_id, &account_instances, events, duplicates).await?;
            for (position, stored) in positions.into_iter().zip(stored) {
                let pending = published.next();
                match stored {
                    Stored::New { id, seq, received_ns, id_reused } => {
                        if let Some(pending) = pending {
                            self.publisher().publish(pending.accepted(
                                account,
                                instance_id,
                                &region,
                                &id,
                                seq,
                                received_ns,
                            ));
                        }
                        outcome.set(position, EventOutcome::Stored { id, id_reused });
                    }
                    Stored::Duplicate { id } => outcome.set(position, EventOutcome::Duplicate { id }),
                }
            }
        }
        Ok(())
    }
}

/// What an event is judged by: now (an eventTime in the future) and which events are duplicates.
#[derive(Clone, Copy)]
struct Rules {
    now: i64,
    duplicates: Duplicates,
}

/// Where the events of one account go.
#[derive(Clone, Copy)]
enum Target<'a> {
    Routed { fallback: Option<&'a str> },
    Instance(&'a Instance),
}

fn reject_all(items: Vec<(usize, Parsed)>, problem: &Problem, outcome: &mut BatchOutcome) {
    for (position, _) in items {
        outcome.set(position, EventOutcome::Rejected(vec![problem.clone()]));
    }
}
