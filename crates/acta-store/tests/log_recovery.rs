//! Recovery at open: what a crash leaves is repaired, what damage leaves is refused untouched.
#![allow(clippy::unwrap_used)]

mod log_util;

use std::path::{Path, PathBuf};

use acta_store::log::{Day, Log, LogError, Record, read_segment_file};
use log_util::*;

const INSTANCE: &str = "eu-de";

/// A log directory with `count` records in one active segment of 2024-03-10 (each record
/// appended alone), closed; returns the records and the segment file.
fn log_with_records(dir: &Path, count: usize) -> (Vec<Record>, PathBuf) {
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir, clock.options()).unwrap();
    for n in 0..count {
        log.append(INSTANCE, vec![record(n)]).unwrap();
    }
    let records = log.scan(INSTANCE, clock.today(), 1).unwrap().map(Result::unwrap).collect();
    (records, log.segment_path(INSTANCE, clock.today()))
}

/// Byte offset of each record's frame in an active segment.
fn frame_offsets(records: &[Record]) -> Vec<u64> {
    let mut offset = 0;
    records
        .iter()
        .map(|record| {
            let start = offset;
            offset += 8 + record.payload.len() as u64;
            start
        })
        .collect()
}

fn day() -> Day {
    day_of("2024-03-10")
}

fn reopen(dir: &Path) -> Result<Log, LogError> {
    Log::open(dir, FakeClock::at_noon("2024-03-10").options())
}

fn all_records(log: &Log, day: Day) -> Vec<Record> {
    log.scan(INSTANCE, day, 1).unwrap().map(Result::unwrap).collect()
}

#[test]
fn torn_tail_is_truncated_and_earlier_records_kept() {
    let original = tempfile::tempdir().unwrap();
    let (records, log_path) = log_with_records(original.path(), 5);
    let bytes = std::fs::read(&log_path).unwrap();
    let offsets = frame_offsets(&records);
    let ends: Vec<u64> = records.iter().zip(&offsets).map(|(r, start)| start + 8 + r.payload.len() as u64).collect();
    let last_two_start = offsets[3] as usize;

    for cut in last_two_start..bytes.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INSTANCE).join(log_path.file_name().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let whole = ends.iter().filter(|end| **end <= cut as u64).count();
        let whole_len = whole.checked_sub(1).map_or(0, |last| ends[last]);

        let log = reopen(dir.path()).unwrap();

        assert_eq!(all_records(&log, day()), records[..whole], "cut at {cut}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole_len, "cut at {cut}");
        let next = log.append(INSTANCE, vec![record(99)]).unwrap()[0];
        assert_eq!(next.seq, whole as u64 + 1, "cut at {cut}");
        drop(log);
        let log = reopen(dir.path()).unwrap();
        assert_eq!(log.read(INSTANCE, day(), next.seq).unwrap().event, record(99).event);
    }
}

#[test]
fn zero_filled_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (records, log_path) = log_with_records(dir.path(), 3);
    let clean_len = std::fs::metadata(&log_path).unwrap().len();
    let mut bytes = std::fs::read(&log_path).unwrap();
    bytes.extend_from_slice(&[0; 4096]);
    std::fs::write(&log_path, bytes).unwrap();

    let log = reopen(dir.path()).unwrap();

    assert_eq!(all_records(&log, day()), records);
    assert_eq!(std::fs::metadata(&log_path).unwrap().len(), clean_len);
    assert_eq!(log.append(INSTANCE, vec![record(3)]).unwrap()[0].seq, 4);
}

#[test]
fn garbage_tail_without_a_valid_frame_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (records, log_path) = log_with_records(dir.path(), 3);
    let clean_len = std::fs::metadata(&log_path).unwrap().len();
    let mut bytes = std::fs::read(&log_path).unwrap();
    bytes.extend_from_slice(b"\x10\x00\x00\x00 half a frame of stale junk from the disk");
    std::fs::write(&log_path, bytes).unwrap();

    let log = reopen(dir.path()).unwrap();

    assert_eq!(all_records(&log, day()), records);
    assert_eq!(std::fs::metadata(&log_path).unwrap().len(), clean_len);
}

#[test]
fn mid_file_corruption_fails_open_naming_file_and_offset_and_changes_nothing() {
    let original = tempfile::tempdir().unwrap();
    let (records, log_path) = log_with_records(original.path(), 3);
    let offsets = frame_offsets(&records);
    let middle = offsets[1] as usize..offsets[2] as usize;

    // Every byte of the middle frame: its length, its checksum, its payload.
    for at in middle {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(original.path(), dir.path());
        let path = dir.path().join(INSTANCE).join(log_path.file_name().unwrap());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] ^= 0x5a;
        std::fs::write(&path, &bytes).unwrap();
        let before = snapshot(dir.path());

        let result = reopen(dir.path());

        match result {
            Err(LogError::Corrupt { path: reported, offset, .. }) => {
                assert_eq!(reported, path, "byte {at}");
                assert_eq!(offset, offsets[1], "byte {at}");
            }
            other => panic!("byte {at}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(snapshot(dir.path()), before, "byte {at}: files must be untouched");
    }
}

#[test]
fn a_valid_frame_with_a_wrong_seq_fails_open_instead_of_being_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (records, log_path) = log_with_records(dir.path(), 3);
    let mut bytes = std::fs::read(&log_path).unwrap();
    let first_frame = bytes[..8 + records[0].payload.len()].to_vec();
    bytes.extend_from_slice(&first_frame); // seq 1 again, after seq 3
    std::fs::write(&log_path, &bytes).unwrap();
    let before = snapshot(dir.path());

    let result = reopen(dir.path());

    assert!(matches!(result, Err(LogError::Corrupt { .. })), "{result:?}");
    assert_eq!(snapshot(dir.path()), before);
}

/// Two days: 2024-03-10 sealed (records 1..=count), 2024-03-11 active (one record).
fn log_with_sealed_day(dir: &Path, count: usize) -> (Vec<Record>, FakeClock) {
    let clock = FakeClock::at_noon("2024-03-10");
    let opts = acta_store::log::LogOptions { block_bytes: 512, ..clock.options() };
    let log = Log::open(dir, opts).unwrap();
    log.append(INSTANCE, records(0..count)).unwrap();
    let records = all_records(&log, day());
    clock.advance(NANOS_PER_DAY);
    log.append(INSTANCE, vec![record(count)]).unwrap();
    log.seal_before(clock.today()).unwrap();
    (records, clock)
}

fn seg_path(dir: &Path) -> PathBuf {
    dir.join(INSTANCE).join("2024-03-10.seg")
}

#[test]
fn damaged_sealed_segment_footer_fails_open_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, clock) = log_with_sealed_day(dir.path(), 50);
    let path = seg_path(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let in_footer = bytes.len() - 30;
    bytes[in_footer] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let before = snapshot(dir.path());

    let result = Log::open(dir.path(), clock.options());

    assert!(matches!(&result, Err(LogError::Corrupt { path: p, .. }) if *p == path), "{result:?}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn damaged_sealed_block_fails_reads_of_that_block_only() {
    let dir = tempfile::tempdir().unwrap();
    let (records, clock) = log_with_sealed_day(dir.path(), 50);
    let path = seg_path(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1; // inside the first block
    std::fs::write(&path, &bytes).unwrap();

    let log = Log::open(dir.path(), clock.options()).unwrap();

    let first = log.read(INSTANCE, day(), 1);
    assert!(matches!(&first, Err(LogError::Corrupt { path: p, .. }) if *p == path), "{first:?}");
    assert_eq!(log.read(INSTANCE, day(), 50).unwrap(), records[49]);
    assert!(log.scan(INSTANCE, day(), 1).unwrap().any(|r| r.is_err()));
    assert!(matches!(read_segment_file(&path), Err(LogError::Corrupt { .. })));
}

/// The state a crash during sealing leaves: the .log of 2024-03-10 and, in `seg`, what the
/// sealed file would hold.
fn crash_during_seal(dir: &Path) -> (Vec<Record>, Vec<u8>) {
    let (records, log_path) = log_with_records(dir, 20);
    let log_bytes = std::fs::read(&log_path).unwrap();
    let clock = FakeClock::at_noon("2024-03-11");
    {
        let log = Log::open(dir, clock.options()).unwrap();
        log.seal_before(clock.today()).unwrap();
    }
    let seg = std::fs::read(seg_path(dir)).unwrap();
    std::fs::write(&log_path, log_bytes).unwrap(); // the .log is back, as before its removal
    std::fs::remove_file(seg_path(dir)).unwrap();
    (records, seg)
}

#[test]
fn crash_after_the_seal_rename_keeps_the_sealed_file_and_removes_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (records, seg) = crash_during_seal(dir.path());
    std::fs::write(seg_path(dir.path()), &seg).unwrap();

    let log = reopen(dir.path()).unwrap();

    assert_eq!(file_names(&dir.path().join(INSTANCE)), vec!["2024-03-10.seg"]);
    assert!(log.segments(INSTANCE)[0].sealed);
    assert_eq!(all_records(&log, day()), records);
}

#[test]
fn crash_before_the_seal_rename_removes_the_temporary_file_and_keeps_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (records, seg) = crash_during_seal(dir.path());
    let temp = dir.path().join(INSTANCE).join("2024-03-10.seg.tmp");
    std::fs::write(&temp, &seg[..seg.len() / 2]).unwrap();

    let log = reopen(dir.path()).unwrap();

    assert_eq!(file_names(&dir.path().join(INSTANCE)), vec!["2024-03-10.log"]);
    assert_eq!(all_records(&log, day()), records);
}

#[test]
fn a_damaged_sealed_file_next_to_its_log_is_moved_aside_and_the_log_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (records, mut seg) = crash_during_seal(dir.path());
    let middle = seg.len() / 2;
    seg[middle] ^= 1;
    std::fs::write(seg_path(dir.path()), &seg).unwrap();

    let log = reopen(dir.path()).unwrap();

    assert_eq!(file_names(&dir.path().join(INSTANCE)), vec!["2024-03-10.log", "2024-03-10.seg.corrupt"]);
    assert_eq!(all_records(&log, day()), records);
}

#[test]
fn a_missing_middle_segment_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    {
        let log = Log::open(dir.path(), clock.options()).unwrap();
        for n in 0..3 {
            log.append(INSTANCE, records(n * 2..n * 2 + 2)).unwrap();
            clock.advance(NANOS_PER_DAY);
        }
    }
    clock.advance(-NANOS_PER_DAY); // still on the last day: nothing gets sealed
    std::fs::remove_file(dir.path().join(INSTANCE).join("2024-03-11.log")).unwrap();
    let before = snapshot(dir.path());

    let result = Log::open(dir.path(), clock.options());

    let expected = dir.path().join(INSTANCE).join("2024-03-12.log");
    assert!(matches!(&result, Err(LogError::Corrupt { path, .. }) if *path == expected), "{result:?}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn an_empty_active_segment_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let instance_dir = dir.path().join(INSTANCE);
    std::fs::create_dir_all(&instance_dir).unwrap();
    std::fs::write(instance_dir.join("2024-03-10.log"), b"").unwrap();

    let log = reopen(dir.path()).unwrap();

    assert!(file_names(&instance_dir).is_empty());
    assert_eq!(log.instances(), vec![INSTANCE.to_owned()]);
    assert_eq!(log.append(INSTANCE, vec![record(0)]).unwrap()[0].seq, 1);
}

#[test]
fn a_segment_whose_removal_was_interrupted_is_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (_, clock) = log_with_sealed_day(dir.path(), 5);
    let seg = std::fs::read(seg_path(dir.path())).unwrap();
    {
        let log = Log::open(dir.path(), clock.options()).unwrap();
        log.remove_segment(INSTANCE, day()).unwrap();
    }
    std::fs::write(seg_path(dir.path()), seg).unwrap(); // as if the crash came before the unlink

    let log = Log::open(dir.path(), clock.options()).unwrap();

    assert!(!seg_path(dir.path()).exists());
    let days: Vec<Day> = log.segments(INSTANCE).iter().map(|s| s.day).collect();
    assert_eq!(days, vec![day().next()]);
    assert_eq!(log.append(INSTANCE, vec![record(9)]).unwrap()[0].seq, 7);
}

#[test]
fn read_segment_file_reports_a_torn_tail_instead_of_repairing_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, log_path) = log_with_records(dir.path(), 3);
    let bytes = std::fs::read(&log_path).unwrap();
    std::fs::write(&log_path, &bytes[..bytes.len() - 1]).unwrap();

    let result = read_segment_file(&log_path);

    assert!(matches!(result, Err(LogError::Corrupt { .. })));
    assert_eq!(std::fs::read(&log_path).unwrap(), bytes[..bytes.len() - 1]);
}
