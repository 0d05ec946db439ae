//! Forwarding: where a route's events go, and what the forwarding job ([`crate::jobs::forward`]) reports.
//!
//! A destination is one JSON object (`type` and its members), validated here when a route is created or changed
//! ([`validate`]) and turned into a [`Sender`] by the job. Every network destination passes the webhooks' SSRF
//! rule ([`crate::notify::ssrf`], the same allowlist); a directory destination writes only under the operator's
//! `--forward-dir`. Secrets (a webhook's signing secret, Elasticsearch credentials) are kept with the route and
//! never answered ([`redacted`]).
//!
//! - [`syslog`]: RFC 5424 messages over TCP or TLS, octet-counted (RFC 6587).
//! - [`webhook`]: NDJSON batches over HTTP(S), signed with HMAC-SHA256.
//! - [`directory`]: NDJSON files per instance and arrival day, synced before they count.
//! - [`elasticsearch`]: the bulk API, each event created under a stable id.
//! - [`s3`]: NDJSON objects in an S3-compatible bucket, described as an S3 archive is.

pub mod destination;
pub mod directory;
pub mod elasticsearch;
pub mod s3;
pub mod syslog;
pub mod webhook;

pub use destination::{Allow, ForwardSettings};
pub(crate) use destination::{BATCH_BYTES, Invalid, Outgoing, SendError, one_line};

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

/// The kinds of destination.
pub(crate) const KINDS: [&str; 5] = ["syslog", "webhook", "directory", "elasticsearch", "s3"];

/// The members of a destination that hold secrets: kept, never answered.
const SECRET_MEMBERS: [&str; 4] = ["secret", "password", "api_key", "secret_access_key"];

/// Checks a destination's shape (not whether it is reachable) and answers it with defaults filled in.
pub(crate) fn validate(destination: &Value, settings: &ForwardSettings) -> Result<Value, Invalid> {
    let Some(object) = destination.as_object() else {
        return Err(Invalid("destination must be an object with a \"type\"".to_string()));
    };
    let kind = object.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "syslog" => syslog::validate(object),
        "webhook" => webhook::validate(object),
        "directory" => directory::validate(object, settings),
        "elasticsearch" => elasticsearch::validate(object),
        "s3" => s3::validate(object),
        "" => Err(Invalid(format!("destination.type is required: one of {}", KINDS.join(", ")))),
        other => Err(Invalid(format!("destination.type {other:?} is not one of {}", KINDS.join(", ")))),
    }
}

/// The destination as answered: its secrets left out, and a list of the ones that are set.
pub(crate) fn redacted(destination: &Value) -> Value {
    let mut shown = destination.clone();
    let mut set = Vec::new();
    if let Some(object) = shown.as_object_mut() {
        for name in SECRET_MEMBERS {
            if object.remove(name).is_some() {
                set.push(name);
            }
        }
        if !set.is_empty() {
            object.insert("secrets_set".to_string(), json!(set));
        }
    }
    shown
}

/// A changed destination of the same kind keeps the secrets it does not give again.
pub(crate) fn keep_secrets(old: &Value, new: &mut Value) {
    if old.get("type") != new.get("type") {
        return;
    }
    let (Some(old), Some(new)) = (old.as_object(), new.as_object_mut()) else {
        return;
    };
    for name in SECRET_MEMBERS {
        if let (Some(secret), false) = (old.get(name), new.contains_key(name)) {
            new.insert(name.to_string(), secret.clone());
        }
    }
}

/// A route's destination, ready to send (a connection it keeps between batches, a checked HTTP client...).
pub(crate) enum Sender {
    Syslog(syslog::Sender),
    Webhook(webhook::Sender),
    Directory(directory::Sender),
    Elasticsearch(elasticsearch::Sender),
    S3(s3::Sender),
}

impl Sender {
    /// The sender of a validated destination.
    pub(crate) fn new(destination: &Value, settings: &ForwardSettings, allow: &Allow) -> Sender {
        let object = destination.as_object().cloned().unwrap_or_default();
        let receivers = &allow.receivers;
        match object.get("type").and_then(Value::as_str) {
            Some("syslog") => Sender::Syslog(syslog::Sender::new(&object, settings, receivers)),
            Some("webhook") => Sender::Webhook(webhook::Sender::new(&object, settings, receivers)),
            Some("elasticsearch") => Sender::Elasticsearch(elasticsearch::Sender::new(&object, settings, receivers)),
            Some("s3") => Sender::S3(s3::Sender::new(&object, &allow.storage)),
            _ => Sender::Directory(directory::Sender::new(&object, settings)),
        }
    }

    /// Sends a batch, in order. `Ok` means the destination has it, or (syslog) that it was written and is
    /// confirmed later by [`Sender::still_connected`].
    pub(crate) async fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendError> {
        match self {
            Sender::Syslog(sender) => sender.send(batch).await,
            Sender::Webhook(sender) => sender.send(batch).await,
            Sender::Directory(sender) => sender.send(batch).await,
            Sender::Elasticsearch(sender) => sender.send(batch).await,
            Sender::S3(sender) => sender.send(batch).await,
        }
    }

    /// How long after a successful send a batch still waits before it counts as delivered.
    pub(crate) fn confirm_after(&self, settings: &ForwardSettings) -> Duration {
        match self {
            Sender::Syslog(_) => settings.confirm_after,
            _ => Duration::ZERO,
        }
    }

    /// Whether what was sent may still be lost: for syslog, whether the connection is still up.
    pub(crate) async fn still_connected(&mut self) -> Result<(), SendError> {
        match self {
            Sender::Syslog(sender) => sender.still_connected().await,
            _ => Ok(()),
        }
    }

    /// Drops what the sender holds (a broken connection) so the next send starts afresh.
    pub(crate) fn reset(&mut self) {
        match self {
            Sender::Syslog(sender) => sender.reset(),
            Sender::S3(sender) => sender.reset(),
            _ => {}
        }
    }
}

/// What a route has done since the server started, and how far it is, for the API, the console and `/metrics`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteStatus {
    pub(crate) account: String,
    /// Per instance, the last seq delivered for good (the durable cursor).
    pub(crate) delivered_seq: HashMap<String, u64>,
    pub(crate) delivered_events: u64,
    pub(crate) failures: u64,
    pub(crate) last_delivery: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) last_error_at: Option<String>,
    /// Consecutive failures of the current attempt (0 while healthy).
    pub(crate) failing_for: u32,
    pub(crate) next_attempt: Option<String>,
}

/// The forwarding handle: the job's reports and the handlers' wake-up when routes change.
pub struct Forwarding {
    /// The operator's settings.
    pub settings: ForwardSettings,
    pub(crate) statuses: Mutex<HashMap<String, RouteStatus>>,
    pub(crate) changed: tokio::sync::Notify,
}

impl Forwarding {
    pub(crate) fn new(settings: ForwardSettings) -> Forwarding {
        Forwarding { settings, statuses: Mutex::new(HashMap::new()), changed: tokio::sync::Notify::new() }
    }

    /// Tells the job that routes were created, changed or deleted.
    pub(crate) fn reload(&self) {
        self.changed.notify_one();
    }

    /// A route's status, when the job knows it.
    pub(crate) fn status(&self, route: &str) -> Option<RouteStatus> {
        self.statuses.lock().ok()?.get(route).cloned()
    }

    /// Every route's status, by route id.
    pub(crate) fn all_statuses(&self) -> Vec<(String, RouteStatus)> {
        let mut all: Vec<(String, RouteStatus)> = self
            .statuses
            .lock()
            .map(|statuses| statuses.iter().map(|(id, status)| (id.clone(), status.clone())).collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    pub(crate) fn update(&self, route: &str, change: impl FnOnce(&mut RouteStatus)) {
        if let Ok(mut statuses) = self.statuses.lock() {
            change(statuses.entry(route.to_string()).or_default());
        }
    }

    pub(crate) fn forget(&self, route: &str) {
        if let Ok(mut statuses) = self.statuses.lock() {
            statuses.remove(route);
        }
    }
}

/// The events a route's status is behind: per instance of its account, what the log holds past its cursor.
pub(crate) fn lag(status: &RouteStatus, log: &acta_store::Log, instances: &[String]) -> u64 {
    instances
        .iter()
        .map(|instance| log.last_seq(instance).saturating_sub(status.delivered_seq.get(instance).copied().unwrap_or(0)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_leave_secrets_out_and_name_them() {
        let shown = redacted(&json!({"type": "webhook", "url": "https://x", "secret": "s"}));
        assert_eq!(shown, json!({"type": "webhook", "url": "https://x", "secrets_set": ["secret"]}));
    }
}
