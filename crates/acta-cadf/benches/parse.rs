//! CADF parse + validate, the first thing ingest does with every event: one typical 1 KB IBM-style event on
//! its own, and a 500-event NDJSON body as `POST /v1/events` receives it.

use std::hint::black_box;

use acta_cadf::{BodyFormat, Options, parse_batch, parse_event};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

/// 2026-11-21T00:00:00Z: later than every event time below, so none is "in the future".
const NOW_NS: i64 = 1_795_219_200_000_000_000;

/// The event of `acta-query`'s matching benchmark, with an id: a failed API key deletion, a numeric
/// `reasonCode` and a stringified `requestData`.
fn event(n: usize) -> Value {
    json!({
        "id": format!("5f0c8e2a-9b1d-4c3e-8f7a-{n:012}"),
        "initiator": {
            "id": "IBMid-550006JKXX",
            "typeURI": "service/security/account/user",
            "name": "jane.doe@example.com",
            "host": {"address": "192.0.2.10", "agent": "IBM Cloud CLI"},
            "credential": {"type": "token"},
            "authnName": "jane.doe@example.com"
        },
        "target": {
            "id": "crn:v1:bluemix:public:iam-identity::a/0f1e2d3c4b5a69788796a5b4c3d2e1f0::apikey:ApiKey-9f3c2d1e-5b6a-4c7d-8e9f-0a1b2c3d4e5f",
            "name": "demo-key-for-fail-scenario",
            "typeURI": "iam-identity/user-apikey"
        },
        "observer": {"name": "ActivityTracker"},
        "action": "iam-identity.user-apikey.delete",
        "outcome": "failure",
        "reason": {
            "reasonCode": 409,
            "reasonType": "Conflict",
            "reasonForFailure": "The API key is locked and cannot be deleted"
        },
        "severity": "critical",
        "eventTime": "2026-11-20T16:37:40.12+0000",
        "message": "IAM Identity Service: delete user-apikey demo-key-for-fail-scenario -failure",
        "requestData": "{\"region\":\"us-south\",\"apikeyId\":\"ApiKey-9f3c2d1e-5b6a-4c7d-8e9f-0a1b2c3d4e5f\",\"locked\":true}",
        "logSourceCRN": "crn:v1:bluemix:public:iam-identity:global:a/0f1e2d3c4b5a69788796a5b4c3d2e1f0:::",
        "saveServiceCopy": true,
        "dataEvent": false
    })
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
