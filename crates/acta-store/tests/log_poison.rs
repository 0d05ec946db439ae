//! A failed write or sync stops acknowledgements for good (until reopen), through the
//! fault-injection hook `LogOptions::io_hook`.
#![allow(clippy::unwrap_used)]

mod log_util;

use std::sync::Arc;

use acta_store::log::{IoOp, Log, LogError};
use log_util::*;

const INSTANCE: &str = "us-east";

fn assert_poisoned_for_good(log: &Log, faults: &Faults) {
    assert!(log.is_poisoned());
    faults.disarm();
    assert!(matches!(log.append(INSTANCE, vec![record(100)]), Err(LogError::Poisoned)));
    assert!(matches!(log.append("other", vec![record(101)]), Err(LogError::Poisoned)));
}

#[test]
fn failed_sync_poisons_that_append_and_every_later_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let faults = Faults::default();
    let log = Log::open(dir.path(), faults.options(&clock)).unwrap();
    log.append(INSTANCE, records(0..3)).unwrap();

    faults.arm(IoOp::Sync, ".log");
    let failed = log.append(INSTANCE, records(3..6));

    assert!(matches!(failed, Err(LogError::Poisoned)));
    assert_poisoned_for_good(&log, &faults);
    assert_eq!(log.last_seq(INSTANCE), 3, "nothing unacknowledged becomes visible");
    assert_eq!(log.read(INSTANCE, clock.today(), 3).unwrap().event, record(2).event);
    assert!(matches!(log.read(INSTANCE, clock.today(), 4), Err(LogError::NotFound { .. })));
}

#[test]
fn failed_write_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let faults = Faults::default();
    let log = Log::open(dir.path(), faults.options(&clock)).unwrap();
    log.append(INSTANCE, records(0..1)).unwrap();

    faults.arm(IoOp::Write, ".log");

    assert!(matches!(log.append(INSTANCE, records(1..2)), Err(LogError::Poisoned)));
    assert_poisoned_for_good(&log, &faults);
}

#[test]
fn failed_segment_creation_on_a_new_day_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let faults = Faults::default();
    let log = Log::open(dir.path(), faults.options(&clock)).unwrap();
    log.append(INSTANCE, records(0..1)).unwrap();
    clock.advance(NANOS_PER_DAY);

    faults.arm(IoOp::Create, "2024-03-11.log");

    assert!(matches!(log.append(INSTANCE, records(1..2)), Err(LogError::Poisoned)));
    assert_poisoned_for_good(&log, &faults);
}

#[test]
fn failed_directory_sync_for_a_new_segment_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let faults = Faults::default();
    let log = Log::open(dir.path(), faults.options(&clock)).unwrap();

    faults.arm(IoOp::SyncDir, INSTANCE);

    assert!(matches!(log.append(INSTANCE, records(0..1)), Err(LogError::Poisoned)));
    assert_poisoned_for_good(&log, &faults);
}

#[test]
fn every_batch_of_a_failed_group_commit_fails() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let faults = Faults::default();
    let log = Arc::new(Log::open(dir.path(), faults.options(&clock)).unwrap());
    log.append(INSTANCE, records(0..1)).unwrap();

    faults.arm(IoOp::Sync, ".log");
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || log.append(INSTANCE, records(n * 10..n * 10 + 5)))
        })
        .collect();

    for thread in threads {
        assert!(matches!(thread.join().unwrap(), Err(LogError::Poisoned)));
    }
    assert_eq!(log.last_seq(INSTANCE), 1);
}

#[test]
fn reopen_after_poisoning_keeps_every_acknowledged_record_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let faults = Faults::default();
    {
        let log = Log::open(dir.path(), faults.options(&clock)).unwrap();
        log.append(INSTANCE, records(0..4)).unwrap();
        faults.arm(IoOp::Sync, ".log");
        assert!(log.append(INSTANCE, records(4..6)).is_err());
    }

    let log = Log::open(dir.path(), clock.options()).unwrap();

    // The failed batch's bytes were written before its sync failed, so they may be there;
    // the acknowledged ones must be.
    let last = log.last_seq(INSTANCE);
    assert!(last == 4 || last == 6, "last seq {last}");
    for seq in 1..=4 {
        let read = log.read(INSTANCE, clock.today(), seq).unwrap();
        assert_eq!(read.event, record(seq as usize - 1).event);
    }
    assert_eq!(log.append(INSTANCE, records(9..10)).unwrap()[0].seq, last + 1);
}

#[test]
fn failed_sealing_before_the_rename_keeps_the_log_and_does_not_poison() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let day = clock.today();
    let faults = Faults::default();
    let log = Log::open(dir.path(), faults.options(&clock)).unwrap();
    log.append(INSTANCE, records(0..10)).unwrap();
    clock.advance(NANOS_PER_DAY);

    faults.arm(IoOp::Write, ".seg.tmp");
    let sealing = log.seal_before(clock.today());

    assert!(matches!(sealing, Err(LogError::Io { .. })), "{sealing:?}");
    assert!(!log.is_poisoned());
    assert_eq!(file_names(&dir.path().join(INSTANCE)), vec!["2024-03-10.log"]);
    assert_eq!(log.read(INSTANCE, day, 10).unwrap().event, record(9).event);
    assert_eq!(log.append(INSTANCE, records(10..11)).unwrap()[0].seq, 11);
    faults.disarm();
    log.seal_before(clock.today()).unwrap();
    assert!(log.segments(INSTANCE)[0].sealed);
    assert_eq!(log.read(INSTANCE, day, 10).unwrap().event, record(9).event);
}

#[test]
fn failed_rename_while_sealing_poisons_and_reopen_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let day = clock.today();
    let faults = Faults::default();
    {
        let log = Log::open(dir.path(), faults.options(&clock)).unwrap();
        log.append(INSTANCE, records(0..10)).unwrap();
        clock.advance(NANOS_PER_DAY);
        faults.arm(IoOp::Rename, ".seg");
        assert!(log.seal_before(clock.today()).is_err());
        assert!(log.is_poisoned());
    }

    let log = Log::open(dir.path(), clock.options()).unwrap();
    log.seal_before(clock.today()).unwrap();

    assert_eq!(file_names(&dir.path().join(INSTANCE)), vec!["2024-03-10.seg"]);
    assert_eq!(log.read(INSTANCE, day, 10).unwrap().event, record(9).event);
}
