//! Cluster mode at the store: nodes (stores with their own data directories) on one real PostgreSQL.
#![allow(clippy::unwrap_used)]

mod pg_util;

use std::time::{Duration, Instant};

use acta_cadf::{BodyFormat, Options};
use acta_store::cluster::ClusterOptions;
use acta_store::{Account, Batch, Destination, EventOutcome, Instance, Search, Store, StoreError, StoreOptions};
use pg_util::PgServer;

const NOW: i64 = 1_780_000_000_000_000_000;

async fn node(url: &str, name: &str) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = ClusterOptions { postgres_url: url.to_owned(), node: name.to_owned() };
    let store =
        Store::open(dir.path(), StoreOptions { cluster: Some(cluster), ..StoreOptions::default() }).await.unwrap();
    // Until the metadata lives in PostgreSQL too, each node is told of the account itself.
    if store.meta().account("acme").await.unwrap().is_none() {
        let created_at = "2026-12-05T10:00:00Z".to_string();
        store.meta().create_account(&Account { id: "acme".into(), name: "acme".into(), created_at }).await.unwrap();
        let instance = Instance {
            id: "acme-global".into(),
            account: "acme".into(),
            name: "global".into(),
            region: "global".into(),
            retention_days: 30,
            global: true,
            strict: false,
            created_at: "2026-12-05T10:00:00Z".into(),
        };
        store.meta().create_instance(&instance).await.unwrap();
    }
    (dir, store)
}

fn batch(ids: impl Iterator<Item = String>) -> Batch {
    let body: Vec<String> = ids
        .map(|id| {
            format!(
                r#"{{"id":"{id}","eventTime":"2026-05-28T12:00:00Z","action":"kms.secrets.read","outcome":"success","initiator":{{"id":"u"}},"target":{{"id":"t"}}}}"#
            )
        })
        .collect();
    let events =
        acta_cadf::parse_batch(format!("[{}]", body.join(",")).as_bytes(), BodyFormat::Json, &Options::default(), NOW)
            .unwrap();
    Batch { events, destination: Destination::Account { account: "acme".into(), fallback_instance: None }, now: NOW }
}

fn ids(range: std::ops::Range<usize>) -> impl Iterator<Item = String> {
    range.map(|n| format!("event-{n}"))
}

/// Waits until `store`'s local copy holds `seq` records of the instance.
async fn copied(store: &Store, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.log().last_seq("acme-global") < seq {
        assert!(Instant::now() < deadline, "copied {} of {seq}", store.log().last_seq("acme-global"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ids a node's index finds for `query`, once it caught up with its copy.
async fn found(store: &Store, query: &str) -> Vec<String> {
    assert!(store.index().wait_caught_up(Duration::from_secs(30)), "indexed");
    let scope = vec![acta_store::InstanceScope {
        instance: "acme-global".into(),
        account: "acme".into(),
        region: "global".into(),
    }];
    let query = acta_query::parse(query).unwrap();
    let search =
        Search { scopes: &scope, query: &query, from: None, to: None, after: None, limit: 1000, deadline: None };
    let hits = store.index().search(&search).unwrap();
    let mut ids: Vec<String> = hits.into_iter().map(|hit| hit.record.event_id).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_one_node_accepts_are_copied_searchable_and_live_on_another() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (_a_dir, node_a) = node(&server.url, "node-a").await;
    let (_b_dir, node_b) = node(&server.url, "node-b").await;
    let mut live_b = node_b.publisher().subscribe();

    let outcome = node_a.accept(batch(ids(0..50))).await.unwrap();

    assert!(outcome.results.iter().all(|result| matches!(result, EventOutcome::Stored { .. })), "{outcome:?}");
    copied(&node_b, 50).await;
    let copy = node_b.log().records("acme-global", 0, u64::MAX, None).map(Result::unwrap).collect::<Vec<_>>();
    assert!(copy.iter().all(|record| record.stream == "node-a"), "the stream names the node that took them");
    let mut expected: Vec<String> = ids(0..50).collect();
    expected.sort();
    assert_eq!(found(&node_b, "action:kms.secrets.read").await, expected);
    for seq in 1..=50 {
        let event = tokio::time::timeout(Duration::from_secs(5), live_b.recv()).await.unwrap().unwrap();
        assert_eq!((event.seq, event.account.as_str(), event.region.as_str()), (seq, "acme", "global"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_later_copies_everything_the_cluster_holds() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (_a_dir, node_a) = node(&server.url, "node-a").await;
    node_a.accept(batch(ids(0..30))).await.unwrap();
    node_a.accept(batch(ids(30..60))).await.unwrap();

    let (_c_dir, node_c) = node(&server.url, "node-c").await;

    copied(&node_c, 60).await;
    let on_a = node_a.log().records("acme-global", 0, u64::MAX, None).map(Result::unwrap).collect::<Vec<_>>();
    let on_c = node_c.log().records("acme-global", 0, u64::MAX, None).map(Result::unwrap).collect::<Vec<_>>();
    assert_eq!(on_c, on_a, "the same records, seqs, times and payloads on every node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sent_again_to_another_node_is_a_duplicate() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (_a_dir, node_a) = node(&server.url, "node-a").await;
    let (_b_dir, node_b) = node(&server.url, "node-b").await;
    node_a.accept(batch(ids(0..5))).await.unwrap();

    let again = node_b.accept(batch(ids(3..8))).await.unwrap();

    let duplicates = again.results.iter().filter(|result| matches!(result, EventOutcome::Duplicate { .. })).count();
    assert_eq!(duplicates, 2, "{again:?}");
    copied(&node_a, 8).await;
    assert_eq!(node_a.log().last_seq("acme-global"), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_refused_while_postgresql_is_down_and_accepted_once_it_is_back() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let (_a_dir, node_a) = node(&server.url, "node-a").await;
    node_a.accept(batch(ids(0..5))).await.unwrap();
    server.stop();

    let refused = node_a.accept(batch(ids(5..10))).await;

    let error = refused.unwrap_err();
    let unavailable = match &error {
        acta_store::IngestError::Store(StoreError::Cluster(_)) => true,
        acta_store::IngestError::Store(StoreError::Meta(meta)) => meta.is_unavailable(),
        _ => false,
    };
    assert!(unavailable, "{error}");
    server.start_again();
    let deadline = Instant::now() + Duration::from_secs(30);
    let accepted = loop {
        match node_a.accept(batch(ids(5..10))).await {
            Ok(outcome) => break outcome,
            Err(error) => assert!(Instant::now() < deadline, "still refused: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(accepted.results.iter().all(|result| matches!(result, EventOutcome::Stored { .. })), "{accepted:?}");
    copied(&node_a, 10).await;
    let seqs: Vec<u64> =
        node_a.log().records("acme-global", 0, u64::MAX, None).map(|record| record.unwrap().seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "nothing of the refused batch was stored");
}
