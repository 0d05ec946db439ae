//! Data tests of the search language: what queries mean on events, the syntax tree the parser builds, the
//! canonical text, parse errors, and the seed tutorial's queries.

mod errors;
mod foreign;
mod seeds;
mod semantics;
mod syntax;

use acta_query::{Compiled, EventView, PreparedEvent, Query, matches, parse};
use serde_json::Value;

/// An event as the store would hand it over: its compact JSON text and where it is stored.
pub struct TestEvent {
    pub name: &'static str,
    pub raw: String,
    pub value: Value,
}

impl TestEvent {
    pub fn new(name: &'static str, value: Value) -> TestEvent {
        let raw = serde_json::to_string(&value).expect("serializable");
        TestEvent { name, raw, value }
    }

    pub fn view(&self) -> EventView<'_> {
        EventView {
            raw: &self.raw,
            event: &self.value,
            account: "acct-1",
            instance: "inst-us-south",
            region: "us-south",
            received: "2026-11-20T10:00:01.5Z",
        }
    }
}

pub fn parsed(query: &str) -> Query {
    parse(query).unwrap_or_else(|e| panic!("{query:?} does not parse: {e} (column {})", e.column))
}

/// Both evaluators give `expected`, and the query survives printing and parsing again.
pub fn check(query: &str, event: &TestEvent, expected: bool) {
    let parsed = parsed(query);
    let view = event.view();
    assert_eq!(matches(&parsed, &view), expected, "reference evaluator: {query:?} on {}: {parsed:?}", event.name);
    assert_eq!(
        Compiled::new(&parsed).matches(&PreparedEvent::new(view)),
        expected,
        "compiled evaluator: {query:?} on {}: {parsed:?}",
        event.name
    );
    let printed = parsed.to_string();
    assert_eq!(parse(&printed).as_ref(), Ok(&parsed), "{query:?} printed as {printed:?}");
}
