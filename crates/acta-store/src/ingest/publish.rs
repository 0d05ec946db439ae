//! Publication of accepted events to the followers that do not read the log themselves (the alert engine and
//! live tail), after the append is durable.

use std::sync::Arc;

use acta_cadf::Event;
use acta_query::EventView;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::index::InstanceScope;
use crate::log::Record;

/// How many published events a slow follower may fall behind before it is told it lagged.
const CAPACITY: usize = 4096;

/// An event as it was accepted.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Account.
    pub account: String,
    /// Instance.
    pub instance: String,
    /// Region of the instance.
    pub region: String,
    /// Event id.
    pub id: String,
    /// Sequence number in the instance's log.
    pub seq: u64,
    /// Arrival time, unix ns.
    pub received_ns: i64,
    /// The event bytes as received (UTF-8 JSON).
    pub raw: Arc<str>,
    /// The parsed event.
    pub value: Arc<Value>,
}

impl LiveEvent {
    /// A stored record of an instance as a held event; `None` when its bytes are not JSON (never for an accepted
    /// event).
    pub fn of_record(scope: &InstanceScope, record: Record) -> Option<LiveEvent> {
        let raw = match String::from_utf8(record.event) {
            Ok(text) => text,
            Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
        };
        let value = serde_json::from_str::<Value>(&raw).ok()?;
        Some(LiveEvent {
            account: scope.account.clone(),
            instance: scope.instance.clone(),
            region: scope.region.clone(),
            id: record.event_id,
            seq: record.seq,
            received_ns: record.received_ns,
            raw: Arc::from(raw),
            value: Arc::new(value),
        })
    }

    /// Runs `f` on the search language's view of the event.
    pub fn with_view<T>(&self, f: impl FnOnce(&EventView<'_>) -> T) -> T {
        let scope = (self.account.as_str(), self.instance.as_str(), self.region.as_str());
        viewed(&self.raw, &self.value, scope, self.received_ns, f)
    }
}

/// Runs `f` on the search language's view of a stored record of an instance; `None` when its bytes are not
/// JSON (never for an accepted event: such an event matches nothing).
pub fn with_record_view<T>(scope: &InstanceScope, record: &Record, f: impl FnOnce(&EventView<'_>) -> T) -> Option<T> {
    let raw = String::from_utf8_lossy(&record.event);
    let value = serde_json::from_str::<Value>(&raw).ok()?;
    let names = (scope.account.as_str(), scope.instance.as_str(), scope.region.as_str());
    Some(viewed(&raw, &value, names, record.received_ns, f))
}

/// The one place an event Acta holds becomes what queries are evaluated on.
fn viewed<T>(
    raw: &str,
    value: &Value,
    (account, instance, region): (&str, &str, &str),
    received_ns: i64,
    f: impl FnOnce(&EventView<'_>) -> T,
) -> T {
    let received = acta_cadf::format_time(received_ns);
    f(&EventView { raw, event: value, account, instance, region, received: &received })
}

/// The live bus of accepted events.
#[derive(Clone)]
pub struct Publisher {
    sender: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for Publisher {
    fn default() -> Publisher {
        Publisher { sender: broadcast::channel(CAPACITY).0 }
    }
}

impl Publisher {
    /// Every event accepted from now on (a follower that must miss none subscribes before events are accepted).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.sender.subscribe()
    }

    pub(crate) fn publish(&self, event: LiveEvent) {
        // No follower listening is not an error: the event is in the log.
        let _ = self.sender.send(Arc::new(event));
    }
}

/// What is kept of an event while it is appended (the append takes the event itself).
pub(crate) struct Pending {
    raw: Arc<str>,
    value: Arc<Value>,
}

impl Pending {
    pub(crate) fn of(events: &[Event]) -> Vec<Pending> {
        events
            .iter()
            .map(|event| Pending {
                raw: Arc::from(String::from_utf8_lossy(&event.raw).as_ref()),
                value: Arc::new(event.value.clone()),
            })
            .collect()
    }

    pub(crate) fn accepted(
        self,
        account: &str,
        instance: &str,
        region: &str,
        id: &str,
        seq: u64,
        received_ns: i64,
    ) -> LiveEvent {
        LiveEvent {
            account: account.to_string(),
            instance: instance.to_string(),
            region: region.to_string(),
            id: id.to_string(),
            seq,
            received_ns,
            raw: self.raw,
            value: self.value,
        }
    }
}
