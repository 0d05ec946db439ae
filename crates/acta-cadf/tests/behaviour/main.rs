//! What a client sees when it sends events: one module per area, one test per behaviour.

mod batch;
mod crn;
mod limits;
mod strict;
mod time;
mod validation;

use acta_cadf::{Event, Options, Problem, parse_event, parse_time};
use serde_json::{Value, json};

/// The clock every test reads: 2026-01-01T00:00:00Z.
fn now() -> i64 {
    parse_time("2026-01-01T00:00:00Z").expect("a fixed now")
}

/// The smallest event lenient mode accepts.
fn minimal() -> Value {
    json!({
        "action": "kms.secrets.create",
        "outcome": "success",
        "eventTime": "2025-12-31T23:00:00Z",
        "initiator": {"id": "IBMid-1"},
        "target": {"id": "key-1"}
    })
}

/// The smallest event strict mode accepts.
fn minimal_strict() -> Value {
    json!({
        "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
        "id": "e-1",
        "eventType": "activity",
        "action": "create",
        "outcome": "success",
        "eventTime": "2025-12-31T23:00:00Z",
        "initiator": {"id": "u-1", "typeURI": "service/security/account/user"},
        "target": {"id": "p-1", "typeURI": "network/port"},
        "observer": {"id": "o-1", "typeURI": "service/network"}
    })
}

/// `event` with the top-level member `key` set to `value`.
fn with(mut event: Value, key: &str, value: Value) -> Value {
    event[key] = value;
    event
}

/// `event` without the top-level member `key`.
fn without(mut event: Value, key: &str) -> Value {
    if let Some(object) = event.as_object_mut() {
        object.shift_remove(key);
    }
    event
}

fn bytes(event: &Value) -> Vec<u8> {
    serde_json::to_vec(event).expect("serializable")
}

fn accept(event: &Value, opts: &Options) -> Event {
    parse_event(&bytes(event), opts, now())
        .unwrap_or_else(|problems| panic!("expected {event} to be accepted, got {problems:?}"))
}

fn reject(event: &Value, opts: &Options) -> Vec<Problem> {
    match parse_event(&bytes(event), opts, now()) {
        Ok(accepted) => panic!("expected {event} to be rejected, got {accepted:?}"),
        Err(problems) => problems,
    }
}

/// Asserts that `event` is rejected with exactly these `(pointer, message)` problems, in this order.
fn check(event: &Value, opts: &Options, expected: &[(&str, &str)]) {
    let problems = reject(event, opts);
    let found: Vec<(&str, &str)> = problems.iter().map(|p| (p.pointer.as_str(), p.message.as_str())).collect();
    assert_eq!(found, expected);
}

fn lenient() -> Options {
    Options::default()
}

fn strict() -> Options {
    Options::strict()
}
