//! Reading matches oldest first: the search's events in the opposite order, a page at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use acta_store::log::NewRecord;
use acta_store::{EventIndex, IndexOptions, InstanceScope, Log, LogOptions, Search, SortKey};
use serde_json::json;

const INSTANCE: &str = "inst-1";

fn scope() -> Vec<InstanceScope> {
    vec![InstanceScope { instance: INSTANCE.into(), account: "acc".into(), region: "eu-de".into() }]
}

/// Twelve events arriving out of eventTime order, two of them at the same instant; even ones are deletions.
fn index_of_events(dir: &std::path::Path) -> EventIndex {
    let log = Arc::new(Log::open(&dir.join("log"), LogOptions::default()).unwrap());
    let minutes = [7, 3, 11, 0, 5, 5, 9, 1, 10, 2, 8, 4];
    let records = minutes
        .iter()
        .enumerate()
        .map(|(n, minute)| {
            let action = ["a.delete", "a.create"][n % 2];
            NewRecord {
                account: "acc".into(),
                event_id: format!("e-{n}"),
                event: json!({"eventTime": format!("2026-11-20T10:{minute:02}:00Z"),
                          "action": action, "outcome": "success"})
                .to_string()
                .into_bytes(),
            }
        })
        .collect();
    log.append(INSTANCE, records).unwrap();
    let options = IndexOptions { commit_interval: Duration::from_millis(50), ..IndexOptions::default() };
    let index = EventIndex::open(&dir.join("index"), log, options).unwrap();
    index.notify(INSTANCE);
    assert!(index.wait_caught_up(Duration::from_secs(20)));
    index
}

fn ids(hits: &[acta_store::Hit]) -> Vec<String> {
    hits.iter().map(|hit| hit.record.event_id.clone()).collect()
}

#[test]
fn pages_read_oldest_first_give_the_search_events_in_reverse_order() {
    let dir = tempfile::tempdir().unwrap();
    let index = index_of_events(dir.path());
    let scopes = scope();
    let query = acta_query::parse("action:===a.delete").unwrap();
    let search = |after: Option<&SortKey>, limit, oldest: bool| {
        let search = Search { scopes: &scopes, query: &query, from: None, to: None, after, limit, deadline: None };
        if oldest { index.search_oldest_first(&search).unwrap() } else { index.search(&search).unwrap() }
    };
    let mut newest = ids(&search(None, 100, false));
    newest.reverse();
    assert_eq!(newest.len(), 6);

    let mut paged = Vec::new();
    let mut after: Option<SortKey> = None;
    loop {
        let page = search(after.as_ref(), 4, true);
        paged.extend(ids(&page));
        let next = page.last().filter(|_| page.len() == 4).map(|last| last.key.clone());
        if next.is_none() {
            break;
        }
        after = next;
    }
    assert_eq!(paged, newest);
    let times: Vec<i64> = search(None, 100, true).iter().map(|hit| hit.key.time).collect();
    assert!(times.is_sorted(), "{times:?}");
    index.close();
}

#[test]
fn reading_oldest_first_starts_at_the_range_start() {
    let dir = tempfile::tempdir().unwrap();
    let index = index_of_events(dir.path());
    let scopes = scope();
    let query = acta_query::parse("").unwrap();
    let from = acta_cadf::parse_time("2026-11-20T10:05:00Z").unwrap();
    let to = acta_cadf::parse_time("2026-11-20T10:09:00Z").unwrap();
    let search = Search {
        scopes: &scopes,
        query: &query,
        from: Some(from),
        to: Some(to),
        after: None,
        limit: 3,
        deadline: None,
    };
    let hits = index.search_oldest_first(&search).unwrap();
    let minutes: Vec<i64> = hits.iter().map(|hit| (hit.key.time - from) / 60_000_000_000 + 5).collect();
    assert_eq!(minutes, [5, 5, 7]);
    index.close();
}
