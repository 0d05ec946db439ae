//! Matches per second of a 10-term query against a typical 1 KB IBM-style event: the reference evaluator,
//! and the compiled form with a fresh `PreparedEvent` per evaluation, as the alert engine and live tail do.

use std::hint::black_box;

use acta_query::{Compiled, EventView, PreparedEvent, matches, parse};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

/// Ten terms touching free text, negation, a phrase, equality, a compound comparison, stringified JSON and the
/// Kibana-era `_str` form. It matches the event, so no AND short-circuits: the worst case for a match.
const QUERY: &str = "(action user-apikey) -login failure initiator.host.agent:\"IBM Cloud CLI\" \
    outcome:==failure reason.reasonCode:(>=400 <500) requestData.region:us-south \
    target.typeURI_str:iam-identity/user-apikey";

/// The sample event the benches of `acta-cadf` and `acta-query` share.
fn event() -> Value {
    serde_json::from_str(include_str!("../../acta-cadf/benches/apikey_delete_failure.json")).unwrap_or(Value::Null)
}

fn bench(c: &mut Criterion) {
    let value = event();
    let raw = serde_json::to_string(&value).unwrap_or_default();
    let view = EventView {
        raw: &raw,
        event: &value,
        account: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        instance: "inst-global",
        region: "global",
        received: "2026-11-20T16:37:40.512Z",
    };
    let query = parse(QUERY).unwrap_or_else(|e| panic!("{e} at column {}", e.column));
    assert!(matches(&query, &view), "the benchmark query matches the event");
    let compiled = Compiled::new(&query);
    assert!(compiled.matches(&PreparedEvent::new(view)));
    eprintln!("event: {} bytes of JSON; query: {QUERY}", raw.len());

    let mut group = c.benchmark_group("match_10_terms_1kb_event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("reference_matches", |b| {
        b.iter(|| matches(black_box(&query), black_box(&view)));
    });
    group.bench_function("compiled_fresh_prepared_event", |b| {
        b.iter(|| compiled.matches(&PreparedEvent::new(black_box(view))));
    });
    // Many alerts over one event: the prepared event's caches are warm after the first query.
    let prepared = PreparedEvent::new(view);
    group.bench_function("compiled_warm_prepared_event", |b| {
        b.iter(|| compiled.matches(black_box(&prepared)));
    });
    group.finish();

    c.bench_function("parse_and_compile_10_terms", |b| {
        b.iter(|| parse(black_box(QUERY)).map(|query| Compiled::new(&query)).is_ok());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
