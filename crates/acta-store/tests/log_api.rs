//! The event log's behaviour through its public API: appending, reading, days, sealing,
//! reopening, retention.
#![allow(clippy::unwrap_used)]

mod log_util;

use acta_store::log::{Day, Envelope, Log, LogError, LogOptions, NewRecord, encode_payload, read_segment_file};
use log_util::*;

const INSTANCE: &str = "us-south";

#[test]
fn appended_record_reads_back_with_exact_payload_and_event_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();
    let new = record(7);

    let appended = log.append(INSTANCE, vec![new.clone()]).unwrap();

    assert_eq!(appended.len(), 1);
    let read = log.read(INSTANCE, appended[0].day, appended[0].seq).unwrap();
    assert_eq!(read.seq, 1);
    assert_eq!(read.received_ns, clock.now());
    assert_eq!(read.event, new.event);
    assert_eq!(read.account, new.account);
    assert_eq!(read.event_id, new.event_id);
    assert_eq!(read.instance, INSTANCE);
    assert_eq!(read.stream, "local");
    let envelope = Envelope {
        seq: 1,
        received_ns: clock.now(),
        stream: "local",
        account: &new.account,
        instance: INSTANCE,
        event_id: &new.event_id,
    };
    assert_eq!(read.payload, encode_payload(&envelope, &new.event).unwrap());
}

#[test]
fn seqs_are_contiguous_across_appends_and_days() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();

    let mut seqs = Vec::new();
    for batch in 0..6 {
        let appended = log.append(INSTANCE, records(batch * 10..batch * 10 + 10)).unwrap();
        seqs.extend(appended.iter().map(|a| a.seq));
        clock.advance(8 * NANOS_PER_HOUR); // crosses midnight every third batch
    }

    assert_eq!(seqs, (1..=60).collect::<Vec<u64>>());
    assert_eq!(log.last_seq(INSTANCE), 60);
    let segments = log.segments(INSTANCE);
    assert!(segments.len() >= 2, "the batches span several days");
    for pair in segments.windows(2) {
        assert_eq!(pair[1].first_seq, pair[0].last_seq + 1);
    }
}

#[test]
fn instances_have_independent_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), FakeClock::at_noon("2024-03-10").options()).unwrap();

    log.append("a", records(0..3)).unwrap();
    let appended = log.append("b", records(0..2)).unwrap();

    assert_eq!(appended.iter().map(|a| a.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(log.instances(), vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(log.last_seq("a"), 3);
    assert_eq!(log.last_seq("unknown"), 0);
}

#[test]
fn received_time_never_decreases_when_the_clock_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();

    let first = log.append(INSTANCE, vec![record(1)]).unwrap()[0];
    clock.advance(-NANOS_PER_DAY); // back to yesterday
    let second = log.append(INSTANCE, vec![record(2)]).unwrap()[0];
    clock.advance(2 * NANOS_PER_DAY);
    let third = log.append(INSTANCE, vec![record(3)]).unwrap()[0];

    assert!(second.received_ns >= first.received_ns);
    assert_eq!(second.day, first.day, "the record does not go back to yesterday's segment");
    assert!(third.received_ns > second.received_ns);
    assert_eq!(third.day, first.day.next());
}

#[test]
fn day_change_seals_the_previous_day_with_identical_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let opts = LogOptions { block_bytes: 512, ..clock.options() }; // many blocks
    let log = Log::open(dir.path(), opts).unwrap();
    let day1 = clock.today();
    let appended = log.append(INSTANCE, records(0..100)).unwrap();
    let before: Vec<_> = appended.iter().map(|a| log.read(INSTANCE, day1, a.seq).unwrap()).collect();

    clock.advance(NANOS_PER_DAY);
    log.append(INSTANCE, vec![record(100)]).unwrap();
    wait_until_sealed(&log, day1);

    let dir1 = dir.path().join(INSTANCE);
    assert!(dir1.join(format!("{day1}.seg")).exists());
    assert!(!dir1.join(format!("{day1}.log")).exists());
    assert_eq!(log.segment_path(INSTANCE, day1), dir1.join(format!("{day1}.seg")));
    for record in &before {
        assert_eq!(&log.read(INSTANCE, day1, record.seq).unwrap(), record);
    }
    let scanned: Vec<_> = log.scan(INSTANCE, day1, 1).unwrap().map(Result::unwrap).collect();
    assert_eq!(scanned, before);
}

fn wait_until_sealed(log: &Log, day: Day) {
    for _ in 0..500 {
        if log.segments(INSTANCE).iter().any(|s| s.day == day && s.sealed) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{day} was not sealed in the background");
}

#[test]
fn seal_before_seals_older_days_but_never_today() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();
    let day1 = clock.today();
    log.append(INSTANCE, records(0..5)).unwrap();

    log.seal_before(day1.next().next()).unwrap(); // capped at today: nothing to seal

    assert!(!log.segments(INSTANCE)[0].sealed);
    clock.advance(NANOS_PER_DAY);
    log.seal_before(clock.today()).unwrap();
    let segments = log.segments(INSTANCE);
    assert_eq!(segments.len(), 1);
    assert!(segments[0].sealed);
    assert_eq!((segments[0].first_seq, segments[0].last_seq, segments[0].records), (1, 5, 5));
}

#[test]
fn records_after_seal_before_never_land_in_a_sealed_day_even_if_the_clock_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();
    let day1 = clock.today();
    log.append(INSTANCE, vec![record(0)]).unwrap();
    clock.advance(NANOS_PER_DAY);
    log.seal_before(clock.today()).unwrap();

    clock.advance(-NANOS_PER_DAY);
    let appended = log.append(INSTANCE, vec![record(1)]).unwrap()[0];

    assert_eq!(appended.day, day1.next());
    assert_eq!(appended.received_ns, day1.next().start_ns());
}

#[test]
fn reopen_keeps_every_record_and_continues_seq() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let day = clock.today();
    let before: Vec<_> = {
        let log = Log::open(dir.path(), clock.options()).unwrap();
        log.append(INSTANCE, records(0..10)).unwrap();
        log.scan(INSTANCE, day, 1).unwrap().map(Result::unwrap).collect()
    };

    let log = Log::open(dir.path(), clock.options()).unwrap();

    let after: Vec<_> = log.scan(INSTANCE, day, 1).unwrap().map(Result::unwrap).collect();
    assert_eq!(after, before);
    assert_eq!(log.last_seq(INSTANCE), 10);
    assert_eq!(log.append(INSTANCE, vec![record(10)]).unwrap()[0].seq, 11);
}

#[test]
fn reopen_on_a_later_day_seals_the_old_days_and_continues_seq() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let day1 = clock.today();
    drop_after(Log::open(dir.path(), clock.options()).unwrap(), |log| {
        log.append(INSTANCE, records(0..3)).unwrap();
    });
    clock.advance(3 * NANOS_PER_DAY);

    let log = Log::open(dir.path(), clock.options()).unwrap();
    log.seal_before(clock.today()).unwrap(); // waits for the background sealing, if still on

    assert!(log.segments(INSTANCE)[0].sealed);
    assert_eq!(log.read(INSTANCE, day1, 3).unwrap().event, record(2).event);
    let appended = log.append(INSTANCE, vec![record(3)]).unwrap()[0];
    assert_eq!((appended.seq, appended.day), (4, clock.today()));
}

fn drop_after(log: Log, work: impl FnOnce(&Log)) {
    work(&log);
}

#[test]
fn scan_returns_records_in_seq_order_from_the_given_seq() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), LogOptions { block_bytes: 300, ..clock.options() }).unwrap();
    let day = clock.today();
    log.append(INSTANCE, records(0..40)).unwrap();
    let seqs =
        |log: &Log, from| -> Vec<u64> { log.scan(INSTANCE, day, from).unwrap().map(|r| r.unwrap().seq).collect() };

    assert_eq!(seqs(&log, 0), (1..=40).collect::<Vec<_>>());
    assert_eq!(seqs(&log, 17), (17..=40).collect::<Vec<_>>());
    assert!(seqs(&log, 41).is_empty());
    clock.advance(NANOS_PER_DAY);
    log.seal_before(clock.today()).unwrap();
    assert_eq!(seqs(&log, 17), (17..=40).collect::<Vec<_>>());
    assert_eq!(seqs(&log, 1).len(), 40);
}

#[test]
fn records_between_two_seqs_run_across_days_and_skip_what_arrived_before_the_given_time() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();
    let mut received = Vec::new();
    for batch in 0..6 {
        for appended in log.append(INSTANCE, records(batch * 5..batch * 5 + 5)).unwrap() {
            received.push((appended.seq, log.read(INSTANCE, appended.day, appended.seq).unwrap().received_ns));
        }
        clock.advance(8 * NANOS_PER_HOUR); // three days
    }
    let seqs = |after, through, from| -> Vec<u64> {
        log.records(INSTANCE, after, through, from).map(|record| record.unwrap().seq).collect()
    };

    assert_eq!(seqs(0, 30, None), (1..=30).collect::<Vec<_>>());
    assert_eq!(seqs(7, 23, None), (8..=23).collect::<Vec<_>>(), "after is excluded, through included");
    assert!(seqs(30, 40, None).is_empty());
    assert!(seqs(12, 12, None).is_empty());
    // From the time the third batch arrived (a batch arrives at one instant): it and every later one, none
    // before, whatever their day.
    let from = received[10].1;
    assert!(received[9].1 < from);
    assert_eq!(seqs(0, 30, Some(from)), (11..=30).collect::<Vec<_>>());
    assert_eq!(seqs(12, 20, Some(from)), (13..=20).collect::<Vec<_>>());
    // The follower's read: the next records after a cursor, bounded by count.
    let next: Vec<u64> = log.read_after(INSTANCE, 9, 4, usize::MAX).unwrap().iter().map(|record| record.seq).collect();
    assert_eq!(next, vec![10, 11, 12, 13]);
}

#[test]
fn scan_of_an_active_segment_stops_at_what_was_durable_when_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();
    log.append(INSTANCE, records(0..5)).unwrap();

    let scan = log.scan(INSTANCE, clock.today(), 1).unwrap();
    log.append(INSTANCE, records(5..10)).unwrap();

    assert_eq!(scan.count(), 5);
}

#[test]
fn reading_what_does_not_exist_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();
    let day = clock.today();
    log.append(INSTANCE, records(0..2)).unwrap();

    let missing_seq = log.read(INSTANCE, day, 3);
    let missing_day = log.read(INSTANCE, day.next(), 1);
    let missing_instance = log.read("eu-de", day, 1);

    assert!(matches!(missing_seq, Err(LogError::NotFound { seq: Some(3), .. })));
    assert!(matches!(missing_day, Err(LogError::NotFound { seq: None, .. })));
    assert!(matches!(missing_instance, Err(LogError::NotFound { .. })));
    assert!(matches!(log.read(INSTANCE, day, 0), Err(LogError::NotFound { .. })));
}

#[test]
fn instance_ids_outside_the_allowed_characters_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogOptions::default()).unwrap();

    for bad in ["", "US-south", "a/b", "..", "a.b", "é", &"x".repeat(129)] {
        let result = log.append(bad, vec![record(0)]);
        assert!(matches!(result, Err(LogError::InvalidInstance(_))), "{bad:?}");
    }
    assert!(log.append("us-south_2", vec![record(0)]).is_ok());
    assert!(log.instances() == vec!["us-south_2".to_owned()]);
}

#[test]
fn records_too_big_to_frame_are_rejected_without_poisoning() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogOptions::default()).unwrap();
    let long_account = NewRecord { account: "a".repeat(70_000), ..record(0) };
    let huge_event = NewRecord { event: vec![b'x'; 17 << 20], ..record(0) };

    let results = [log.append(INSTANCE, vec![record(1), long_account]), log.append(INSTANCE, vec![huge_event])];

    for result in results {
        assert!(matches!(result, Err(LogError::InvalidRecord(_))));
    }
    assert_eq!(log.last_seq(INSTANCE), 0, "nothing of a rejected batch is written");
    assert_eq!(log.append(INSTANCE, vec![record(2)]).unwrap()[0].seq, 1);
}

#[test]
fn an_empty_batch_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogOptions::default()).unwrap();

    assert!(log.append(INSTANCE, Vec::new()).unwrap().is_empty());
    assert!(log.instances().is_empty());
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogOptions::default()).unwrap();

    let second = Log::open(dir.path(), LogOptions::default());

    assert!(matches!(second, Err(LogError::Locked { .. })));
    drop(log);
    assert!(Log::open(dir.path(), LogOptions::default()).is_ok());
}

#[test]
fn only_the_oldest_sealed_segment_can_be_removed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();
    let day1 = clock.today();
    for n in 0..3 {
        log.append(INSTANCE, records(n * 5..n * 5 + 5)).unwrap();
        clock.advance(NANOS_PER_DAY);
    }
    let day2 = day1.next();
    let day3 = day2.next();
    log.seal_before(day3).unwrap();

    assert!(matches!(log.remove_segment(INSTANCE, day3), Err(LogError::NotSealed { .. })));
    assert!(matches!(log.remove_segment(INSTANCE, day2), Err(LogError::NotOldest { .. })));
    log.remove_segment(INSTANCE, day1).unwrap();

    assert!(!log.segment_path(INSTANCE, day1).exists());
    assert!(matches!(log.read(INSTANCE, day1, 1), Err(LogError::NotFound { .. })));
    assert_eq!(log.read(INSTANCE, day2, 6).unwrap().event, record(5).event);
    let days: Vec<Day> = log.segments(INSTANCE).iter().map(|s| s.day).collect();
    assert_eq!(days, vec![day2, day3]);
}

#[test]
fn seq_continues_after_retention_removed_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let day1 = clock.today();
    {
        let log = Log::open(dir.path(), clock.options()).unwrap();
        log.append(INSTANCE, records(0..4)).unwrap();
        clock.advance(NANOS_PER_DAY);
        log.seal_before(clock.today()).unwrap();
        log.remove_segment(INSTANCE, day1).unwrap();
        assert!(log.segments(INSTANCE).is_empty());
    }
    clock.advance(-NANOS_PER_DAY); // even if the clock then goes back

    let log = Log::open(dir.path(), clock.options()).unwrap();

    assert_eq!(log.last_seq(INSTANCE), 4);
    let appended = log.append(INSTANCE, vec![record(4)]).unwrap()[0];
    assert_eq!(appended.seq, 5);
    assert!(appended.day > day1, "arrival times continue after the removed day");
}

#[test]
fn read_segment_file_reads_active_and_sealed_files_alike() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), LogOptions { block_bytes: 256, ..clock.options() }).unwrap();
    let day = clock.today();
    log.append(INSTANCE, records(0..30)).unwrap();
    let expected: Vec<_> = log.scan(INSTANCE, day, 1).unwrap().map(Result::unwrap).collect();

    let from_log = read_segment_file(&log.segment_path(INSTANCE, day)).unwrap();
    clock.advance(NANOS_PER_DAY);
    log.seal_before(clock.today()).unwrap();
    let from_seg = read_segment_file(&log.segment_path(INSTANCE, day)).unwrap();

    assert_eq!(from_log, expected);
    assert_eq!(from_seg, expected);
}

#[test]
fn segments_list_days_in_order_with_their_extent() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let log = Log::open(dir.path(), clock.options()).unwrap();
    log.append(INSTANCE, records(0..3)).unwrap();
    clock.advance(NANOS_PER_DAY);
    log.append(INSTANCE, records(3..5)).unwrap();
    log.seal_before(clock.today()).unwrap();

    let segments = log.segments(INSTANCE);

    let summary: Vec<_> =
        segments.iter().map(|s| (s.day.to_string(), s.first_seq, s.last_seq, s.records, s.sealed)).collect();
    assert_eq!(summary, vec![("2024-03-10".to_owned(), 1, 3, 3, true), ("2024-03-11".to_owned(), 4, 5, 2, false)]);
    assert!(segments.iter().all(|s| s.bytes > 0));
    assert!(log.segments("unknown").is_empty());
}

/// All of an instance's records, oldest first.
fn all_records(log: &Log, instance: &str) -> Vec<acta_store::log::Record> {
    log.records(instance, 0, u64::MAX, None).collect::<Result<Vec<_>, _>>().unwrap()
}

#[test]
fn a_copy_holds_the_records_of_the_log_it_copies_with_their_seqs_times_streams_and_payloads() {
    let (source_dir, copy_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clock = FakeClock::at_noon("2024-03-10");
    let mut node_a = clock.options();
    node_a.stream = "node-a".to_owned();
    let source = Log::open(source_dir.path(), node_a).unwrap();
    for batch in 0..4 {
        source.append(INSTANCE, records(batch * 5..batch * 5 + 5)).unwrap();
        clock.advance(10 * NANOS_PER_HOUR); // crosses midnight
    }
    let copy = Log::open(copy_dir.path(), FakeClock::at_noon("2024-03-10").options()).unwrap();

    let original = all_records(&source, INSTANCE);
    let (first, rest) = original.split_at(7);
    copy.copy(INSTANCE, first.to_vec()).unwrap();
    let appended = copy.copy(INSTANCE, rest.to_vec()).unwrap();

    assert_eq!(appended.last().map(|appended| appended.seq), Some(20));
    assert_eq!(all_records(&copy, INSTANCE), original);
    let days = |log: &Log| log.segments(INSTANCE).iter().map(|segment| segment.day).collect::<Vec<_>>();
    assert_eq!(days(&copy), days(&source));
}

#[test]
fn a_copy_out_of_order_is_refused_and_writes_nothing() {
    let (source_dir, copy_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clock = FakeClock::at_noon("2024-03-10");
    let source = Log::open(source_dir.path(), clock.options()).unwrap();
    source.append(INSTANCE, records(0..6)).unwrap();
    let original = all_records(&source, INSTANCE);
    let copy = Log::open(copy_dir.path(), clock.options()).unwrap();
    copy.copy(INSTANCE, original[..2].to_vec()).unwrap();

    let skipped = copy.copy(INSTANCE, original[3..].to_vec());
    let repeated = copy.copy(INSTANCE, original[1..4].to_vec());

    for refused in [skipped, repeated] {
        let error = refused.unwrap_err();
        assert!(matches!(error, LogError::InvalidRecord(_)), "{error}");
        assert!(error.to_string().contains("holds up to seq 2"), "{error}");
    }
    assert_eq!(copy.last_seq(INSTANCE), 2);
    copy.copy(INSTANCE, original[2..].to_vec()).unwrap();
    assert_eq!(all_records(&copy, INSTANCE), original);
}

#[test]
fn a_copy_on_a_day_the_copy_has_closed_is_refused() {
    let (source_dir, copy_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clock = FakeClock::at_noon("2024-03-10");
    let source = Log::open(source_dir.path(), clock.options()).unwrap();
    source.append(INSTANCE, records(0..3)).unwrap();
    let original = all_records(&source, INSTANCE);
    clock.advance(24 * NANOS_PER_HOUR);
    let copy = Log::open(copy_dir.path(), clock.options()).unwrap();
    copy.seal_before(Day::from_ns(clock.now())).unwrap();

    let error = copy.copy(INSTANCE, original).unwrap_err();

    assert!(error.to_string().contains("2024-03-10 is closed here"), "{error}");
    assert_eq!(copy.last_seq(INSTANCE), 0);
}
