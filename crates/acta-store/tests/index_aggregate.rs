//! Aggregations on the index itself: partitions written with another schema, and values the index holds
//! only truncated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use acta_query::Field;
use acta_store::log::NewRecord;
use acta_store::{Aggregation, EventIndex, IndexOptions, InstanceScope, Log, LogOptions};
use serde_json::json;

const INSTANCE: &str = "inst-1";

fn scope() -> Vec<InstanceScope> {
    vec![InstanceScope { instance: INSTANCE.into(), account: "acc".into(), region: "eu-de".into() }]
}

fn append(log: &Log, events: &[serde_json::Value]) {
    let records = events
        .iter()
        .enumerate()
        .map(|(n, event)| NewRecord {
            account: "acc".into(),
            event_id: format!("e-{n}"),
            event: event.to_string().into_bytes(),
        })
        .collect();
    log.append(INSTANCE, records).unwrap();
}

fn open_index(dir: &Path, log: &Arc<Log>) -> EventIndex {
    let options = IndexOptions { commit_interval: Duration::from_millis(50), ..IndexOptions::default() };
    let index = EventIndex::open(&dir.join("index"), log.clone(), options).unwrap();
    index.notify(INSTANCE);
    assert!(index.wait_caught_up(Duration::from_secs(20)));
    index
}

fn events() -> Vec<serde_json::Value> {
    (0..10)
        .map(|n| {
            let action = ["a.create", "a.delete"][n % 2];
            json!({"eventTime": format!("2026-11-20T10:0{n}:00Z"), "action": action, "outcome": "success"})
        })
        .collect()
}

fn by_action(index: &EventIndex) -> Vec<(String, u64)> {
    let query = acta_query::parse("").unwrap();
    let scopes = scope();
    let on = Aggregation { scopes: &scopes, query: &query, from: None, to: None, deadline: None };
    let terms = index.terms(&on, &Field::from_name("action"), 10).unwrap();
    terms.values
}

#[test]
fn a_partition_written_with_another_schema_is_rebuilt_from_the_log_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(&dir.path().join("log"), LogOptions::default()).unwrap());
    append(&log, &events());
    let index = open_index(dir.path(), &log);
    let expected = vec![("a.create".to_string(), 5), ("a.delete".to_string(), 5)];
    assert_eq!(by_action(&index), expected);
    let (_, day, info) = index.partitions().into_iter().next().unwrap();
    index.close();
    drop(index);

    // An older Acta's partition: another schema, and a commit saying it holds everything.
    let partition = dir.path().join("index").join("days").join(day.to_string());
    std::fs::remove_dir_all(&partition).unwrap();
    std::fs::create_dir_all(&partition).unwrap();
    let mut builder = tantivy::schema::Schema::builder();
    builder.add_u64_field("seq", tantivy::schema::INDEXED | tantivy::schema::FAST);
    let old = tantivy::Index::create_in_dir(&partition, builder.build()).unwrap();
    let mut writer: tantivy::IndexWriter = old.writer_with_num_threads(1, 15_000_000).unwrap();
    let mut prepared = writer.prepare_commit().unwrap();
    prepared.set_payload(&json!({"instances": {INSTANCE: info}}).to_string());
    prepared.commit().unwrap();
    drop(writer);

    let index = open_index(dir.path(), &log);
    assert_eq!(by_action(&index), expected);
    let query = acta_query::parse("a.delete").unwrap();
    assert_eq!(index.count(&scope(), &query, None, None, None).unwrap(), 5);
    index.close();
}

#[test]
fn values_longer_than_the_index_keeps_are_counted_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(&dir.path().join("log"), LogOptions::default()).unwrap());
    // Two long values sharing their first 1000 bytes: the index holds them as one truncated term.
    let (long_a, long_b) = (format!("{}a", "x".repeat(1_200)), format!("{}b", "x".repeat(1_200)));
    let events: Vec<serde_json::Value> = [&long_a, &long_b, &long_a, &"short".to_string()]
        .iter()
        .enumerate()
        .map(|(n, value)| {
            json!({"eventTime": format!("2026-11-20T10:0{n}:00Z"), "action": value, "note": [value, "short"]})
        })
        .collect();
    append(&log, &events);
    let index = open_index(dir.path(), &log);
    let query = acta_query::parse("").unwrap();
    let scopes = scope();
    let on = Aggregation { scopes: &scopes, query: &query, from: None, to: None, deadline: None };
    // `action` is a column, `note` comes from the terms; both hold the long values truncated.
    for (field, short) in [("action", 1), ("note", 4)] {
        let terms = index.terms(&on, &Field::from_name(field), 10).unwrap();
        let expected = vec![(long_a.clone(), 2), (long_b.clone(), 1), ("short".to_string(), short)];
        let mut values = terms.values.clone();
        values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut expected_sorted = expected.clone();
        expected_sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(values, expected_sorted, "{field}");
        assert_eq!((terms.total, terms.missing, terms.distinct), (4, 0, 3), "{field}");
    }
    index.close();
}

#[test]
fn histogram_buckets_split_at_the_boundaries_and_breakdowns_by_partition_fields() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(&dir.path().join("log"), LogOptions::default()).unwrap());
    append(&log, &events());
    let index = open_index(dir.path(), &log);
    let query = acta_query::parse("").unwrap();
    let scopes = scope();
    let from = acta_cadf::parse_time("2026-11-20T10:00:00Z").unwrap();
    let to = acta_cadf::parse_time("2026-11-20T10:10:00Z").unwrap();
    let boundaries: Vec<i64> = (1..5).map(|n| from + n * 2 * 60_000_000_000).collect();
    let on = Aggregation { scopes: &scopes, query: &query, from: Some(from), to: Some(to), deadline: None };
    let histogram = index.histogram(&on, &boundaries, Some(&Field::Region), 5).unwrap();
    assert_eq!(histogram.counts, [2, 2, 2, 2, 2]);
    let breakdown = histogram.breakdown.unwrap();
    assert_eq!(breakdown.top.len(), 1);
    assert_eq!((breakdown.top[0].value.as_str(), breakdown.top[0].total), ("eu-de", 10));
    assert_eq!(breakdown.top[0].counts, [2, 2, 2, 2, 2]);
    index.close();
}

/// Two instances (two accounts) sharing a day's partition, for the segments an aggregation reads without the
/// restriction to its instances (those wholly theirs) and those it must restrict.
struct Shared {
    _dir: tempfile::TempDir,
    log: Arc<Log>,
    index: EventIndex,
}

const OTHER: &str = "inst-2";

fn append_to(log: &Log, instance: &str, prefix: &str, events: &[serde_json::Value]) {
    let records = events
        .iter()
        .enumerate()
        .map(|(n, event)| NewRecord {
            account: format!("acc-{instance}"),
            event_id: format!("{prefix}-{n}"),
            event: event.to_string().into_bytes(),
        })
        .collect();
    log.append(instance, records).unwrap();
}

fn timed(minutes: &[u32], action: &str) -> Vec<serde_json::Value> {
    minutes
        .iter()
        .map(|minute| json!({"eventTime": format!("2026-11-20T10:{minute:02}:00Z"), "action": action}))
        .collect()
}

/// `inst-1`'s first events committed alone (a segment of its own), then more of its events and `inst-2`'s
/// committed together (one segment of both: one writer thread, one commit). Aggregations collect the segments
/// on one thread.
fn shared_partition() -> Shared {
    shared_partition_with(IndexOptions { aggregation_threads: 1, ..IndexOptions::default() })
}

/// [`shared_partition`], its segments collected on `threads` threads however few documents they hold.
fn shared_partition_on_threads(threads: usize) -> Shared {
    shared_partition_with(IndexOptions {
        aggregation_threads: threads,
        parallel_from_documents: 0,
        ..IndexOptions::default()
    })
}

fn shared_partition_with(options: IndexOptions) -> Shared {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(&dir.path().join("log"), LogOptions::default()).unwrap());
    let options = IndexOptions { commit_interval: Duration::from_millis(1_500), writer_threads: 1, ..options };
    let index = EventIndex::open(&dir.path().join("index"), log.clone(), options).unwrap();
    append_to(
        &log,
        INSTANCE,
        "first",
        &[timed(&[0, 2, 4, 6, 8], "a.create"), timed(&[1, 3, 5, 7, 9], "a.delete")].concat(),
    );
    index.notify(INSTANCE);
    assert!(index.wait_caught_up(Duration::from_secs(20)));
    append_to(&log, INSTANCE, "second", &timed(&[30, 31, 32, 33], "a.read"));
    append_to(&log, OTHER, "other", &timed(&[0, 1, 2, 3, 4, 5], "b.other"));
    index.notify(INSTANCE);
    index.notify(OTHER);
    assert!(index.wait_caught_up(Duration::from_secs(20)));
    Shared { _dir: dir, log, index }
}

fn scopes_of(instances: &[&str]) -> Vec<InstanceScope> {
    instances
        .iter()
        .map(|instance| InstanceScope {
            instance: (*instance).into(),
            account: format!("acc-{instance}"),
            region: "eu-de".into(),
        })
        .collect()
}

fn at(text: &str) -> i64 {
    acta_cadf::parse_time(text).unwrap()
}

/// Counts by action (sorted by value) and per 10-minute bucket from 10:00, over `from..to`.
fn counted(
    index: &EventIndex,
    instances: &[&str],
    q: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> (Vec<(String, u64)>, Vec<u64>) {
    let query = acta_query::parse(q).unwrap();
    let scopes = scopes_of(instances);
    let on = Aggregation { scopes: &scopes, query: &query, from, to, deadline: None };
    let mut values = index.terms(&on, &Field::from_name("action"), 100).unwrap().values;
    values.sort();
    let boundaries: Vec<i64> = (1..4).map(|n| at("2026-11-20T10:00:00Z") + n * 600_000_000_000).collect();
    let histogram = index.histogram(&on, &boundaries, Some(&Field::from_name("action")), 100).unwrap();
    let per_action: u64 = histogram.breakdown.unwrap().top.iter().map(|series| series.total).sum();
    assert_eq!(per_action, histogram.counts.iter().sum::<u64>(), "{instances:?} {q}");
    (values, histogram.counts)
}

fn expect(values: &[(&str, u64)], buckets: [u64; 4]) -> (Vec<(String, u64)>, Vec<u64>) {
    (values.iter().map(|(value, count)| ((*value).to_string(), *count)).collect(), buckets.to_vec())
}

fn check_shared(index: &EventIndex) {
    let own = expect(&[("a.create", 5), ("a.delete", 5), ("a.read", 4)], [10, 0, 0, 4]);
    assert_eq!(counted(index, &[INSTANCE], "", None, None), own);
    // Another account's events in the same partition, even in the same segment, are never counted.
    assert_eq!(counted(index, &[OTHER], "", None, None), expect(&[("b.other", 6)], [6, 0, 0, 0]));
    let both = expect(&[("a.create", 5), ("a.delete", 5), ("a.read", 4), ("b.other", 6)], [16, 0, 0, 4]);
    assert_eq!(counted(index, &[INSTANCE, OTHER], "", None, None), both);
    // A range that cuts the segments: 10:02 inclusive to 10:31 exclusive.
    let (from, to) = (Some(at("2026-11-20T10:02:00Z")), Some(at("2026-11-20T10:31:00Z")));
    assert_eq!(
        counted(index, &[INSTANCE], "", from, to),
        expect(&[("a.create", 4), ("a.delete", 4), ("a.read", 1)], [8, 0, 0, 1])
    );
    assert_eq!(counted(index, &[OTHER], "", from, None), expect(&[("b.other", 4)], [4, 0, 0, 0]));
    assert_eq!(counted(index, &[INSTANCE, OTHER], "", None, to).1, [16, 0, 0, 1]);
    // Queries that name the other account or reach past the scopes still stay inside them.
    assert_eq!(counted(index, &[INSTANCE], "_account:acc-inst-2 OR action:a*", None, None), own);
    assert_eq!(
        counted(index, &[INSTANCE], "-a.read", None, None),
        expect(&[("a.create", 5), ("a.delete", 5)], [10, 0, 0, 0])
    );
}

#[test]
fn segments_shared_with_another_account_or_cut_by_the_range_count_only_whats_asked() {
    let shared = shared_partition();
    check_shared(&shared.index);
    shared.index.close();
}

#[test]
fn segments_collected_on_several_threads_count_what_one_thread_counts() {
    for threads in [2, 3] {
        let shared = shared_partition_on_threads(threads);
        check_shared(&shared.index);
        // Three segments after a rebuild (one all deleted, one partly), more than two threads share.
        let (_, day, _) = shared.index.partitions().into_iter().next().unwrap();
        shared.index.rebuild(INSTANCE, day).unwrap();
        check_shared(&shared.index);
        shared.index.close();
    }
}

#[test]
fn a_segment_with_deleted_documents_counts_only_the_live_ones() {
    let shared = shared_partition();
    let (_, day, _) = shared.index.partitions().into_iter().next().unwrap();
    // A rebuild deletes the instance's documents and adds them again: its own segment is then all deleted,
    // the shared one partly, and the new one holds the same events.
    shared.index.rebuild(INSTANCE, day).unwrap();
    check_shared(&shared.index);
    // Retention removes the other instance's documents from the shared segment.
    let last = shared.log.last_seq(OTHER);
    shared.index.remove_partition(OTHER, day, last).unwrap();
    assert_eq!(counted(&shared.index, &[OTHER], "", None, None), expect(&[], [0, 0, 0, 0]));
    let own = expect(&[("a.create", 5), ("a.delete", 5), ("a.read", 4)], [10, 0, 0, 4]);
    assert_eq!(counted(&shared.index, &[INSTANCE, OTHER], "", None, None), own);
    shared.index.close();
}
