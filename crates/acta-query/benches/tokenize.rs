//! The one tokenizer (`acta_query::tokenize`) over the raw line of a typical 1 KB IBM-style event: the indexer
//! runs it on every ingested event, and the compiled evaluator once per event for live tail and alerts.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    // The sample event the benches of `acta-cadf` and `acta-query` share, as one raw line.
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../../acta-cadf/benches/apikey_delete_failure.json")).unwrap_or_default();
    let raw = sample.to_string();
    eprintln!("raw line: {} bytes, {} tokens", raw.len(), acta_query::tokenize(&raw).len());

    let mut group = c.benchmark_group("tokenize");
    group.throughput(Throughput::Bytes(raw.len() as u64));
    group.bench_function("raw_line_1kb_event", |b| b.iter(|| acta_query::tokenize(black_box(&raw)).len()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
