//! Concurrent appends and reads: group commit shares syncs, and nothing gets lost or reordered.
#![allow(clippy::unwrap_used)]

mod log_util;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use acta_store::log::{IoOp, Log, LogOptions, NewRecord};
use log_util::*;

const INSTANCE: &str = "us-south";

fn tagged(thread: usize, n: usize) -> NewRecord {
    NewRecord {
        account: format!("acct-{thread}"),
        event_id: format!("t{thread}-{n}"),
        event: format!("{{\"thread\":{thread},\"n\":{n}}}").into_bytes(),
    }
}

#[test]
fn concurrent_appends_are_durable_unique_contiguous_and_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    // A slow disk: each sync takes 2 ms, so appends pile up behind it as on a real disk.
    let slow_sync = |op: IoOp, _: &Path| {
        if op == IoOp::Sync {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    };
    let opts = LogOptions { io_hook: Some(Arc::new(slow_sync)), ..clock.options() };
    let log = Arc::new(Log::open(dir.path(), opts).unwrap());
    const THREADS: usize = 8;
    const APPENDS: usize = 40;

    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for n in 0..APPENDS {
                    let batch = vec![tagged(thread, 2 * n), tagged(thread, 2 * n + 1)];
                    let appended = log.append(INSTANCE, batch.clone()).unwrap();
                    mine.extend(appended.into_iter().zip(batch));
                }
                mine
            })
        })
        .collect();
    let per_thread: Vec<Vec<_>> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    for mine in &per_thread {
        // One thread's appends are sequential, so its seqs only go up.
        assert!(mine.windows(2).all(|w| w[0].0.seq < w[1].0.seq));
    }
    let appended: Vec<_> = per_thread.into_iter().flatten().collect();
    let total = (THREADS * APPENDS * 2) as u64;
    let seqs: HashSet<u64> = appended.iter().map(|(a, _)| a.seq).collect();
    assert_eq!(seqs, (1..=total).collect::<HashSet<u64>>(), "unique and contiguous");
    let stats = log.stats();
    assert_eq!(stats.appends, (THREADS * APPENDS) as u64);
    assert!(
        stats.file_syncs * 2 <= stats.appends,
        "group commit shares syncs: {} syncs for {} appends",
        stats.file_syncs,
        stats.appends
    );
    println!("{} appends, {} commits, {} file syncs", stats.appends, stats.commits, stats.file_syncs);

    drop(log);
    let log = Log::open(dir.path(), clock.options()).unwrap();
    assert_eq!(log.last_seq(INSTANCE), total);
    for (appended, new) in &appended {
        let read = log.read(INSTANCE, appended.day, appended.seq).unwrap();
        assert_eq!((&read.event_id, &read.event), (&new.event_id, &new.event));
    }
}

#[test]
fn a_batch_gets_consecutive_seqs_even_under_contention() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(dir.path(), FakeClock::at_noon("2024-03-10").options()).unwrap());

    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..20)
                    .map(|n| log.append(INSTANCE, (0..5).map(|i| tagged(thread, n * 5 + i)).collect()).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();

    for batches in threads.into_iter().map(|t| t.join().unwrap()) {
        for batch in batches {
            let seqs: Vec<u64> = batch.iter().map(|a| a.seq).collect();
            let first = seqs[0];
            assert_eq!(seqs, (first..first + 5).collect::<Vec<_>>());
        }
    }
}

#[test]
fn reads_and_scans_keep_working_while_days_roll_over_and_get_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Arc::new(Log::open(dir.path(), LogOptions { block_bytes: 1024, ..clock.options() }).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (log, done) = (Arc::clone(&log), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) {
                for segment in log.segments(INSTANCE) {
                    let record = log.read(INSTANCE, segment.day, segment.last_seq).unwrap();
                    assert_eq!(record.seq, segment.last_seq);
                    let scanned = log.scan(INSTANCE, segment.day, segment.first_seq).unwrap();
                    let seqs: Vec<u64> = scanned.map(|r| r.unwrap().seq).collect();
                    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
                    reads += 1;
                }
            }
            reads
        })
    };

    for n in 0..300 {
        log.append(INSTANCE, vec![record(n)]).unwrap();
        clock.advance(NANOS_PER_HOUR); // a new day every 24 appends, sealed in the background
    }
    log.seal_before(clock.today()).unwrap();
    done.store(true, Ordering::SeqCst);

    assert!(reader.join().unwrap() > 0);
    let segments = log.segments(INSTANCE);
    assert!(segments.iter().rev().skip(1).all(|s| s.sealed));
    assert_eq!(segments.iter().map(|s| s.records).sum::<u64>(), 300);
}
