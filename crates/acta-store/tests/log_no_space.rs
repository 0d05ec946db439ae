//! A full device (`ENOSPC`, `EDQUOT`) refuses the batch that met it and nothing else: the log is not
//! poisoned, keeps its sequence numbers gapless, and accepts again as soon as a write succeeds.
//! Through the fault-injection hook `LogOptions::io_hook`; the server's disk-full test fills a real
//! file system.
#![allow(clippy::unwrap_used)]

mod log_util;

use std::io::ErrorKind;

use acta_store::log::{IoOp, Log, LogError};
use log_util::*;

const INSTANCE: &str = "us-east";

fn is_no_space<T>(result: &Result<T, LogError>) -> bool {
    matches!(result, Err(LogError::NoSpace { .. }))
}

/// A log on a fresh directory whose file operations the returned `Faults` can make fail.
fn open_with_faults() -> (tempfile::TempDir, FakeClock, Faults, Log) {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let faults = Faults::default();
    let log = Log::open(dir.path(), faults.options(&clock)).unwrap();
    (dir, clock, faults, log)
}

#[test]
fn a_write_that_finds_the_device_full_refuses_the_batch_without_poisoning() {
    let (_dir, _clock, faults, log) = open_with_faults();
    log.append(INSTANCE, records(0..3)).unwrap();

    faults.arm_with(IoOp::Write, ".log", ErrorKind::StorageFull);

    assert!(is_no_space(&log.append(INSTANCE, records(3..6))));
    assert!(!log.is_poisoned());
    assert_eq!(log.last_seq(INSTANCE), 3, "nothing of the refused batch is visible");
}

#[test]
fn the_log_accepts_again_once_space_is_back_with_no_gap_in_sequence_numbers() {
    let (_dir, clock, faults, log) = open_with_faults();
    log.append(INSTANCE, records(0..3)).unwrap();
    faults.arm_with(IoOp::Write, ".log", ErrorKind::StorageFull);
    assert!(is_no_space(&log.append(INSTANCE, records(3..6))));

    faults.disarm();
    let appended = log.append(INSTANCE, records(6..8)).unwrap();

    assert_eq!(appended.iter().map(|a| a.seq).collect::<Vec<_>>(), vec![4, 5]);
    assert_eq!(log.read(INSTANCE, clock.today(), 4).unwrap().event, record(6).event);
    assert_eq!(log.read(INSTANCE, clock.today(), 3).unwrap().event, record(2).event);
}

#[test]
fn a_quota_exceeded_counts_as_a_full_device() {
    let (_dir, _clock, faults, log) = open_with_faults();
    log.append(INSTANCE, records(0..1)).unwrap();

    faults.arm_with(IoOp::Write, ".log", ErrorKind::QuotaExceeded);

    assert!(is_no_space(&log.append(INSTANCE, records(1..2))));
    assert!(!log.is_poisoned());
}

#[test]
fn the_log_says_since_when_it_lacks_space_until_a_batch_is_stored() {
    let (_dir, clock, faults, log) = open_with_faults();
    assert_eq!(log.no_space_since(), None);

    faults.arm_with(IoOp::Write, ".log", ErrorKind::StorageFull);
    let failed_at = clock.now();
    assert!(is_no_space(&log.append(INSTANCE, records(0..1))));
    clock.advance(1_000_000_000);
    assert!(is_no_space(&log.append(INSTANCE, records(1..2))));
    assert_eq!(log.no_space_since(), Some(failed_at), "the first refusal of a run counts");

    faults.disarm();
    log.append(INSTANCE, records(2..3)).unwrap();
    assert_eq!(log.no_space_since(), None);
}

#[test]
fn a_new_instance_whose_first_segment_cannot_be_created_starts_at_seq_one_later() {
    let (_dir, _clock, faults, log) = open_with_faults();

    faults.arm_with(IoOp::Create, ".log", ErrorKind::StorageFull);
    assert!(is_no_space(&log.append("new-instance", records(0..2))));
    assert!(!log.instances().contains(&"new-instance".to_string()));

    faults.disarm();
    assert_eq!(log.append("new-instance", records(2..3)).unwrap()[0].seq, 1);
}

#[test]
fn a_new_days_segment_refused_for_want_of_space_leaves_no_file_and_reopens_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let faults = Faults::default();
    {
        let log = Log::open(dir.path(), faults.options(&clock)).unwrap();
        log.append(INSTANCE, records(0..2)).unwrap();
        clock.advance(NANOS_PER_DAY);
        faults.arm_with(IoOp::Write, "2024-03-11.log", ErrorKind::StorageFull);
        assert!(is_no_space(&log.append(INSTANCE, records(2..4))));
        assert!(!dir.path().join(INSTANCE).join("2024-03-11.log").exists());

        faults.disarm();
        assert_eq!(log.append(INSTANCE, records(4..5)).unwrap()[0].seq, 3);
    }

    let log = Log::open(dir.path(), clock.options()).unwrap();

    assert_eq!(log.last_seq(INSTANCE), 3);
    assert_eq!(log.read(INSTANCE, clock.today(), 3).unwrap().event, record(4).event);
}

#[test]
fn a_sync_that_reports_a_full_device_still_poisons_the_log() {
    // After a failed fsync the kernel may have dropped the pages: whatever the error says, nothing is retried.
    let (_dir, _clock, faults, log) = open_with_faults();
    log.append(INSTANCE, records(0..1)).unwrap();

    faults.arm_with(IoOp::Sync, ".log", ErrorKind::StorageFull);

    assert!(matches!(log.append(INSTANCE, records(1..2)), Err(LogError::Poisoned)));
    assert!(log.is_poisoned());
}
