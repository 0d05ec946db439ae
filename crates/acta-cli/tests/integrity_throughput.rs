//! Rough figures for docs/benchmarks.md; prints, asserts nothing about time. Run with
//! `cargo test --release -p acta-cli --test integrity_throughput -- --ignored --nocapture --test-threads 1`.
//!
//! - ingest (the log's append path, 1 KiB events in batches of 100 from 4 threads) with and
//!   without the checkpointer running beside it (a checkpoint every second);
//! - how fast the checkpointer catches up with a log it has not seen (hashing and signing);
//! - `acta verify` (the release binary) on the result.
#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acta_ledger::SigningKey;
use acta_store::log::{Log, LogOptions, NewRecord};
use acta_store::{Integrity, IntegrityOptions};

const THREADS: usize = 4;
const EVENTS: usize = 200_000;
const BATCH: usize = 100;

fn ingest(log: &Arc<Log>) -> Duration {
    let event = vec![b'x'; 1024];
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (log, event) = (Arc::clone(log), event.clone());
            std::thread::spawn(move || {
                for batch in 0..EVENTS / THREADS / BATCH {
                    let records = (0..BATCH)
                        .map(|i| NewRecord {
                            account: "acct".to_owned(),
                            event_id: format!("{thread}-{batch}-{i}"),
                            event: event.clone(),
                        })
                        .collect();
                    log.append("bench", records).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    started.elapsed()
}

fn rate(events: usize, elapsed: Duration) -> String {
    format!("{:.0} events/s ({elapsed:.2?})", events as f64 / elapsed.as_secs_f64())
}

#[test]
#[ignore = "a measurement, not a check: run it by hand"]
fn integrity_cost_on_ingest_and_verify_speed() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let key_path = root.path().join("signing-key");

    // Without checkpoints.
    let plain = root.path().join("plain");
    let log = Arc::new(Log::open(&plain.join("log"), LogOptions::default()).unwrap());
    let elapsed = ingest(&log);
    println!("ingest without checkpoints: {}", rate(EVENTS, elapsed));

    // The checkpointer catching up with that log from nothing.
    let started = Instant::now();
    let integrity =
        Integrity::open(&plain, Arc::clone(&log), IntegrityOptions::new(key_path.clone(), "bench")).unwrap();
    integrity.sync().unwrap();
    println!("checkpointer catching up (hash, write leaves, sign): {}", rate(EVENTS, started.elapsed()));
    integrity.close().unwrap();
    drop(integrity);
    drop(log);

    // With checkpoints every second beside the writers.
    let signed = root.path().join("signed");
    let log = Arc::new(Log::open(&signed.join("log"), LogOptions::default()).unwrap());
    let integrity =
        Integrity::open(&signed, Arc::clone(&log), IntegrityOptions::new(key_path.clone(), "bench")).unwrap();
    let elapsed = ingest(&log);
    println!("ingest with checkpoints every second: {}", rate(EVENTS, elapsed));
    let started = Instant::now();
    integrity.close().unwrap();
    println!("  the last round after ingest ended took {:.2?}", started.elapsed());
    drop(integrity);
    drop(log);

    // acta verify on the signed directory.
    let key = SigningKey::load(&key_path).unwrap().verifier().to_text();
    let started = Instant::now();
    let output = common::run_acta(
        &[OsStr::new("verify"), signed.as_os_str(), OsStr::new("--key"), OsStr::new(&key)],
        &[],
        Duration::from_secs(600),
    );
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}{}", output.stdout, output.stderr);
    print!("acta verify: {}: {}", rate(EVENTS, elapsed), output.stdout);
}
