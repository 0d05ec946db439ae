//! Model-based property test: random batches for random instances across random days, with
//! reopens, sealing and retention at random points; every record stays readable with the
//! exact payload its envelope encodes to.
#![allow(clippy::unwrap_used)]

mod log_util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use acta_store::log::{Appended, Day, Envelope, Log, LogOptions, NewRecord, encode_payload};
use log_util::*;
use proptest::prelude::*;

const INSTANCES: [&str; 3] = ["a", "b-2", "c_3"];

#[derive(Debug, Clone)]
enum Op {
    Append { instance: usize, count: usize, size: usize },
    Advance(i64),
    GoBack(i64),
    Reopen,
    SealBefore,
    RemoveOldest(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..INSTANCES.len(), 1..12usize, 0..400usize)
            .prop_map(|(instance, count, size)| Op::Append { instance, count, size }),
        3 => (0..30 * NANOS_PER_HOUR).prop_map(Op::Advance),
        1 => (0..12 * NANOS_PER_HOUR).prop_map(Op::GoBack),
        1 => Just(Op::Reopen),
        1 => Just(Op::SealBefore),
        1 => (0..INSTANCES.len()).prop_map(Op::RemoveOldest),
    ]
}

/// What the log should hold for one instance.
#[derive(Default)]
struct Model {
    /// Every record ever appended, by seq - 1.
    records: Vec<(Appended, NewRecord)>,
    /// Days removed by retention.
    removed: BTreeSet<Day>,
}

fn event_bytes(instance: usize, n: usize, size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 + n * 7 + instance) as u8).collect()
}

fn open(dir: &Path, clock: &FakeClock) -> Log {
    Log::open(dir, LogOptions { block_bytes: 256, ..clock.options() }).unwrap()
}

fn check(log: &Log, models: &[Model]) {
    for (instance, model) in INSTANCES.iter().zip(models) {
        assert_eq!(log.last_seq(instance), model.records.len() as u64);
        let mut by_day: BTreeMap<Day, Vec<&(Appended, NewRecord)>> = BTreeMap::new();
        for entry in model.records.iter().filter(|(a, _)| !model.removed.contains(&a.day)) {
            by_day.entry(entry.0.day).or_default().push(entry);
        }
        let segments = log.segments(instance);
        let days: Vec<Day> = segments.iter().map(|s| s.day).collect();
        assert_eq!(days, by_day.keys().copied().collect::<Vec<_>>(), "{instance}");
        for (day, expected) in &by_day {
            let scanned: Vec<_> = log.scan(instance, *day, 0).unwrap().map(Result::unwrap).collect();
            assert_eq!(scanned.len(), expected.len());
            for (read, (appended, new)) in scanned.iter().zip(expected) {
                let envelope = Envelope {
                    seq: appended.seq,
                    received_ns: appended.received_ns,
                    stream: "local",
                    account: &new.account,
                    instance,
                    event_id: &new.event_id,
                };
                let payload = encode_payload(&envelope, &new.event).unwrap();
                assert_eq!(read.payload, payload);
                assert_eq!(log.read(instance, *day, appended.seq).unwrap().payload, payload);
            }
        }
    }
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at_noon("2024-03-10");
    let mut log = open(dir.path(), &clock);
    let mut models: Vec<Model> = INSTANCES.iter().map(|_| Model::default()).collect();
    for op in ops {
        match op {
            Op::Append { instance, count, size } => {
                let model = &mut models[instance];
                let batch: Vec<NewRecord> = (0..count)
                    .map(|i| {
                        let n = model.records.len() + i;
                        NewRecord {
                            account: format!("acct-{}", n % 2),
                            event_id: format!("{instance}-{n}"),
                            event: event_bytes(instance, n, size),
                        }
                    })
                    .collect();
                let now = clock.now();
                let appended = log.append(INSTANCES[instance], batch.clone()).unwrap();
                for (appended, new) in appended.into_iter().zip(batch) {
                    assert_eq!(appended.seq, model.records.len() as u64 + 1);
                    assert!(appended.received_ns >= now);
                    if let Some((previous, _)) = model.records.last() {
                        assert!(appended.received_ns >= previous.received_ns);
                    }
                    assert_eq!(appended.day, Day::from_ns(appended.received_ns));
                    model.records.push((appended, new));
                }
            }
            Op::Advance(ns) => clock.advance(ns),
            Op::GoBack(ns) => clock.advance(-ns),
            Op::Reopen => {
                drop(log);
                log = open(dir.path(), &clock);
                check(&log, &models);
            }
            Op::SealBefore => log.seal_before(clock.today()).unwrap(),
            Op::RemoveOldest(instance) => {
                let oldest = log.segments(INSTANCES[instance]).into_iter().next();
                if let Some(segment) = oldest.filter(|s| s.sealed) {
                    log.remove_segment(INSTANCES[instance], segment.day).unwrap();
                    models[instance].removed.insert(segment.day);
                }
            }
        }
    }
    check(&log, &models);
    drop(log);
    check(&open(dir.path(), &clock), &models);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_batches_across_days_and_reopens_keep_every_payload(ops in prop::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
