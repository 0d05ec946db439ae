//! OpenStack oslo.messaging notifications whose payload is a CADF event (keystonemiddleware's audit
//! middleware, keystone's CADF notifications).
//!
//! The payload is the event, kept as it is. A notification in the messaging v2 envelope
//! (`{"oslo.version": "2.0", "oslo.message": "<notification as a JSON string>"}`) is unwrapped first.
//!
//! | CADF | from the notification |
//! |---|---|
//! | every member | `payload`, unchanged |
//! | `id` | `payload.id`; when absent `oslo:<message_id>` |
//! | `observer.name` | `publisher_id`, when the payload's observer is an object without a name |
//! | attachment `notification` | `{"event_type", "publisher_id", "message_id", "priority", "timestamp"}` as the notification gave them, so `event_type` (`identity.authenticate`, `audit.http.request`) stays searchable beside the event |

use serde_json::{Map, Value};

use super::{Source, attach, derived_id};
use crate::Problem;

/// The notification members recorded in the `notification` attachment.
const ENVELOPE_MEMBERS: [&str; 5] = ["event_type", "publisher_id", "message_id", "priority", "timestamp"];

pub(crate) fn adapt(source: &Source<'_>) -> Result<Map<String, Value>, Vec<Problem>> {
    let unwrapped: Map<String, Value>;
    let notification = match source.get("/oslo.message") {
        None => source.record,
        Some(Value::String(text)) => {
            unwrapped = match serde_json::from_str(text) {
                Ok(Value::Object(object)) => object,
                _ => {
                    return Err(vec![Problem::new(
                        "/oslo.message",
                        "OpenStack oslo.messaging notification: `oslo.message` must hold a notification object as JSON text",
                    )]);
                }
            };
            &unwrapped
        }
        Some(_) => {
            return Err(vec![Problem::new(
                "/oslo.message",
                "OpenStack oslo.messaging notification: `oslo.message` must be a string (the v2 envelope)",
            )]);
        }
    };
    let inner = Source { format: source.format, record: notification };
    let mut event = inner.required_object("/payload").map_err(|problem| vec![problem])?.clone();
    let has_id = event.get("id").and_then(Value::as_str).is_some_and(|id| !id.is_empty());
    if !has_id && let Some(message_id) = inner.text("/message_id") {
        event.insert("id".into(), Value::from(derived_id(source.format, &[message_id])));
    }
    if let (Some(publisher), Some(Value::Object(observer))) = (inner.text("/publisher_id"), event.get_mut("observer"))
        && !observer.contains_key("name")
    {
        observer.insert("name".into(), Value::from(publisher));
    }
    let recorded: Map<String, Value> = ENVELOPE_MEMBERS
        .iter()
        .filter_map(|name| notification.get(*name).map(|value| ((*name).to_owned(), value.clone())))
        .collect();
    attach(
        &mut event,
        serde_json::json!({
            "name": "notification",
            "typeURI": "oslo.messaging/notification",
            "contentType": "application/json",
            "content": recorded,
        }),
    )
    .map_err(|problem| vec![problem])?;
    Ok(event)
}
