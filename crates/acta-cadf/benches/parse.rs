//! CADF parse + validate, the first thing ingest does with every event: one typical 1 KB IBM-style event on
//! its own, and a 500-event NDJSON body as `POST /v1/events` receives it. Also the canonical form of an event,
//! which duplicate detection digests for every event.

use std::hint::black_box;

use acta_cadf::{BodyFormat, Options, canonical_json, parse_batch, parse_event};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

/// 2026-11-21T00:00:00Z: later than every event time below, so none is "in the future".
const NOW_NS: i64 = 1_795_219_200_000_000_000;

/// The sample event the benches of `acta-cadf` and `acta-query` share: a failed API key deletion, a numeric
/// `reasonCode` and a stringified `requestData`.
const SAMPLE_EVENT: &str = include_str!("apikey_delete_failure.json");

/// The sample event with an id of its own.
fn event(n: usize) -> Value {
    let mut event: Value = serde_json::from_str(SAMPLE_EVENT).unwrap_or(Value::Null);
    event["id"] = json!(format!("5f0c8e2a-9b1d-4c3e-8f7a-{n:012}"));
    event
}

fn bench(c: &mut Criterion) {
    let options = Options::default();
    let one = event(0).to_string();
    assert!(parse_event(one.as_bytes(), &options, NOW_NS).is_ok(), "the benchmark event is valid");
    eprintln!("event: {} bytes", one.len());

    let mut group = c.benchmark_group("cadf_parse_validate");
    group.throughput(Throughput::Bytes(one.len() as u64));
    group.bench_function("one_event_1kb_lenient", |b| {
        b.iter(|| parse_event(black_box(one.as_bytes()), &options, NOW_NS).is_ok());
    });
    group.finish();

    let value = event(0);
    let mut group = c.benchmark_group("cadf_canonical");
    group.throughput(Throughput::Bytes(one.len() as u64));
    group.bench_function("one_event_1kb", |b| b.iter(|| canonical_json(black_box(&value)).len()));
    group.finish();

    let body: String = (0..500).map(|n| event(n).to_string() + "\n").collect();
    let parsed = parse_batch(body.as_bytes(), BodyFormat::Ndjson, &options, NOW_NS);
    assert!(parsed.as_ref().is_ok_and(|events| events.iter().all(Result::is_ok)), "every batch event is valid");
    let mut group = c.benchmark_group("cadf_parse_batch");
    group.throughput(Throughput::Elements(500));
    group.bench_function("ndjson_500_events", |b| {
        b.iter(|| parse_batch(black_box(body.as_bytes()), BodyFormat::Ndjson, &options, NOW_NS).is_ok());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
