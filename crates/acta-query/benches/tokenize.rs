//! The one tokenizer (`acta_query::tokenize`) over the raw line of a typical 1 KB IBM-style event: the indexer
//! runs it on every ingested event, and the compiled evaluator once per event for live tail and alerts.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let raw = json!({
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
        "reason": {"reasonCode": 409, "reasonType": "Conflict", "reasonForFailure": "The API key is locked and cannot be deleted"},
        "severity": "critical",
        "eventTime": "2026-11-20T16:37:40.12+0000",
        "message": "IAM Identity Service: delete user-apikey demo-key-for-fail-scenario -failure",
        "requestData": "{\"region\":\"us-south\",\"apikeyId\":\"ApiKey-9f3c2d1e-5b6a-4c7d-8e9f-0a1b2c3d4e5f\",\"locked\":true}",
        "logSourceCRN": "crn:v1:bluemix:public:iam-identity:global:a/0f1e2d3c4b5a69788796a5b4c3d2e1f0:::",
        "saveServiceCopy": true,
        "dataEvent": false
    })
    .to_string();
    eprintln!("raw line: {} bytes, {} tokens", raw.len(), acta_query::tokenize(&raw).len());

    let mut group = c.benchmark_group("tokenize");
    group.throughput(Throughput::Bytes(raw.len() as u64));
    group.bench_function("raw_line_1kb_event", |b| b.iter(|| acta_query::tokenize(black_box(&raw)).len()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
