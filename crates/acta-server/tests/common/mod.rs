//! The scaffolding of the server's integration tests: a real server on 127.0.0.1:0 over a temporary data
//! directory (`server`), a client of its HTTP API with one key (`http`), accounts, instances and keys made
//! through it (`accounts`), events, and the receivers of alert notifications (`receivers`).
//!
//! Each test binary uses part of it, hence `dead_code` and `unreachable_pub` allowed here.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

mod accounts;
mod http;
pub mod receivers;
mod server;

use serde_json::{Value, json};

// Re-exported under `common::`; each test binary imports the part it uses.
#[allow(unused_imports)]
pub use accounts::account_with_manager;
#[allow(unused_imports)]
pub use http::{As, answer};
#[allow(unused_imports)]
pub use server::{ADMIN_KEY, TestServer, blocking_admin, meta_of, process_server};

/// Asks `attempt` every `every` until `done` holds for its answer or `timeout` has passed; returns the last
/// answer.
pub async fn poll<T, F: Future<Output = T>>(
    timeout: Duration,
    every: Duration,
    mut attempt: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let answer = attempt().await;
        if done(&answer) || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(every).await;
    }
}

/// A valid event with the given action and extra members.
pub fn event(action: &str, extra: Value) -> Value {
    let mut event = json!({
        "eventTime": "2026-11-20T10:00:00.000Z",
        "action": action,
        "outcome": "success",
        "initiator": {"id": "IBMid-1", "name": "user@example.com", "typeURI": "service/security/account/user"},
        "target": {"id": "t-1", "name": "demo-key", "typeURI": "iam-identity/user-apikey"},
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut event, extra) {
        for (key, value) in extra {
            base.insert(key, value);
        }
    }
    event
}

/// The ids of events, sorted.
pub fn ids(events: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> =
        events.iter().map(|event| event["_acta"]["id"].as_str().unwrap_or_default().to_string()).collect();
    ids.sort();
    ids
}

/// Which of `events` (as sent, by their `id`) the reference evaluator selects for `q`.
pub fn expected_ids(q: &str, events: &[Value]) -> Vec<String> {
    let query = acta_query::parse(q).unwrap_or_else(|error| panic!("{q}: {error}"));
    let mut ids: Vec<String> = events
        .iter()
        .filter(|event| {
            let raw = event.to_string();
            acta_query::matches(&query, &default_view(event, &raw))
        })
        .map(|event| event["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

/// How the reference evaluator sees `event` (whose text is `raw`) once sent with the admin key to the default
/// instance.
pub fn default_view<'a>(event: &'a Value, raw: &'a str) -> acta_query::EventView<'a> {
    acta_query::EventView { raw, event, account: "default", instance: "default", region: "global", received: "" }
}
