//! The index after retention removed days from the log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use acta_store::log::NewRecord;
use acta_store::{Day, EventIndex, IndexOptions, Log, LogOptions};
use serde_json::json;

const INSTANCE: &str = "inst-1";
const DAY_NS: i64 = 86_400_000_000_000;

fn open(dir: &std::path::Path, clock: &Arc<AtomicI64>) -> (Arc<Log>, EventIndex) {
    let now = clock.clone();
    let options = LogOptions { clock: Arc::new(move || now.load(Ordering::SeqCst)), ..LogOptions::default() };
    let log = Arc::new(Log::open(&dir.join("log"), options).unwrap());
    let options = IndexOptions { commit_interval: Duration::from_millis(50), ..IndexOptions::default() };
    let index = EventIndex::open(&dir.join("index"), log.clone(), options).unwrap();
    (log, index)
}

#[test]
fn an_instance_whose_every_day_was_removed_has_nothing_to_index_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(1_780_000_000_000_000_000));
    let day = Day::from_ns(clock.load(Ordering::SeqCst));
    let (log, index) = open(dir.path(), &clock);
    let records = (0..3)
        .map(|n| NewRecord {
            account: "acc".into(),
            event_id: format!("e-{n}"),
            event: json!({"eventTime": "2026-05-28T10:00:00Z", "action": "a.read", "outcome": "success"})
                .to_string()
                .into_bytes(),
        })
        .collect();
    log.append(INSTANCE, records).unwrap();
    index.notify(INSTANCE);
    assert!(index.wait_caught_up(Duration::from_secs(20)));
    clock.fetch_add(DAY_NS, Ordering::SeqCst);
    log.seal_before(day.next()).unwrap();
    index.remove_partition(INSTANCE, day, 3).unwrap();
    log.remove_segment(INSTANCE, day).unwrap();
    drop(index);
    drop(log);

    let (log, index) = open(dir.path(), &clock);

    assert_eq!(log.last_seq(INSTANCE), 3, "seqs go on after the removed day");
    assert_eq!(index.lag(), 0, "nothing removed is waited for");
    assert!(index.searchable(&index.durable_marks()));
}
