//! Durable log appends: every acknowledged append has been written and `fdatasync`ed, so these figures are
//! bounded by the disk's sync latency. One batch of 500 events of 1 KB (what one `POST /v1/events` appends),
//! a single event per append (the worst case: one sync per event), and 4 threads appending batches of 500 at
//! once (group commit: one sync serves all batches queued while the previous one ran).
//!
//! The log lives under cargo's target temporary directory, on the disk that holds the build, not in /tmp.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use acta_store::log::{Log, LogOptions, NewRecord};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// About 1 KB: the size of a typical IBM-style event.
fn event_bytes() -> Vec<u8> {
    let mut event = br#"{"action":"iam-identity.user-apikey.delete","outcome":"failure","eventTime":"2026-11-20T16:37:40.12+0000","initiator":{"id":"IBMid-550006JKXX","name":"jane.doe@example.com"},"target":{"id":"crn:v1:bluemix:public:iam-identity::a/0f1e2d3c::apikey:ApiKey-9f3c2d1e"},"message":"IAM Identity Service: delete user-apikey demo-key -failure","pad":""#.to_vec();
    event.resize(1000, b'x');
    event.extend_from_slice(b"\"}");
    event
}

fn batch(event: &[u8], size: usize, next_id: &AtomicU64) -> Vec<NewRecord> {
    (0..size)
        .map(|_| NewRecord {
            account: "bench".to_owned(),
            event_id: format!("ev-{}", next_id.fetch_add(1, Ordering::Relaxed)),
            event: event.to_vec(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = match tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")) {
        Ok(dir) => dir,
        Err(error) => panic!("creating a temporary directory: {error}"),
    };
    let log = match Log::open(dir.path(), LogOptions::default()) {
        Ok(log) => Arc::new(log),
        Err(error) => panic!("opening the log: {error}"),
    };
    let event = event_bytes();
    let next_id = AtomicU64::new(0);

    let mut group = c.benchmark_group("log_append_durable");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));

    group.throughput(Throughput::Elements(500));
    group.bench_function("batch_500_x_1kb", |b| {
        b.iter_batched(
            || batch(&event, 500, &next_id),
            |records| log.append("bench", records).map(|appended| appended.len()).unwrap_or(0),
            criterion::BatchSize::SmallInput,
        );
    });

    group.throughput(Throughput::Elements(1));
    group.bench_function("batch_1_x_1kb", |b| {
        b.iter_batched(
            || batch(&event, 1, &next_id),
            |records| log.append("bench", records).map(|appended| appended.len()).unwrap_or(0),
            criterion::BatchSize::SmallInput,
        );
    });

    group.throughput(Throughput::Elements(4 * 500));
    group.bench_function("4_threads_batch_500_x_1kb", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let batches: Vec<Vec<NewRecord>> = (0..4).map(|_| batch(&event, 500, &next_id)).collect();
                let started = Instant::now();
                std::thread::scope(|scope| {
                    for records in batches {
                        let log = &log;
                        scope.spawn(move || log.append("bench", records).map(|appended| appended.len()));
                    }
                });
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();

    let stats = log.stats();
    eprintln!("{} appends in {} group commits ({} file syncs)", stats.appends, stats.commits, stats.file_syncs);
}

criterion_group!(benches, bench);
criterion_main!(benches);
