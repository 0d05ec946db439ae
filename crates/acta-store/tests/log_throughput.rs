//! A rough append throughput figure; prints, asserts nothing about time. Run with
//! `cargo test --release -p acta-store --test log_throughput -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use acta_store::log::{Log, LogOptions, NewRecord};

#[test]
#[ignore = "a measurement, not a check: run it by hand"]
fn append_throughput_of_1kb_events_in_batches_of_100_from_4_threads() {
    const THREADS: usize = 4;
    const EVENTS: usize = 100_000;
    const BATCH: usize = 100;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let log = Arc::new(Log::open(dir.path(), LogOptions::default()).unwrap());
    let event = vec![b'x'; 1024];

    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (log, event) = (Arc::clone(&log), event.clone());
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
    let elapsed = started.elapsed();

    let stats = log.stats();
    assert_eq!(log.last_seq("bench"), EVENTS as u64);
    println!(
        "{EVENTS} events of 1 KiB in {:.2?}: {:.0} events/s, {} appends in {} group commits ({} file syncs)",
        elapsed,
        EVENTS as f64 / elapsed.as_secs_f64(),
        stats.appends,
        stats.commits,
        stats.file_syncs
    );
}
