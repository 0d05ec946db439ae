//! Cluster mode at the store: nodes (stores with their own data directories) on one real PostgreSQL.
#![allow(clippy::unwrap_used)]

mod pg_util;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use acta_cadf::{BodyFormat, Options};
use acta_store::cluster::ClusterOptions;
use acta_store::{
    Account, Batch, Destination, EventOutcome, Instance, IntegrityOptions, Search, Store, StoreError, StoreOptions,
};
use pg_util::PgServer;

const NOW: i64 = 1_780_000_000_000_000_000;

async fn node(url: &str, name: &str) -> (tempfile::TempDir, Store) {
    let cluster = ClusterOptions { postgres_url: url.to_owned(), node: name.to_owned(), object_store: None };
    node_with(StoreOptions { cluster: Some(cluster), ..StoreOptions::default() }).await
}

async fn node_with(options: StoreOptions) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options).await.unwrap();
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

/// Nodes sharing a PostgreSQL, a `file://` object store for sealed days, the cluster's signing key, and a clock
/// the test moves.
struct WithObjects {
    server: PgServer,
    objects: tempfile::TempDir,
    _keys: tempfile::TempDir,
    key: std::path::PathBuf,
    clock: Arc<AtomicI64>,
}

impl WithObjects {
    fn start() -> Option<WithObjects> {
        let server = PgServer::start()?;
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("signing-key");
        let clock = Arc::new(AtomicI64::new(NOW));
        Some(WithObjects { server, objects: tempfile::tempdir().unwrap(), _keys: keys, key, clock })
    }

    fn options(&self, name: &str) -> StoreOptions {
        let cluster = ClusterOptions {
            postgres_url: self.server.url.clone(),
            node: name.to_owned(),
            object_store: Some(format!("file://{}", self.objects.path().display())),
        };
        let mut options = StoreOptions { cluster: Some(cluster), ..StoreOptions::default() };
        let clock = self.clock.clone();
        options.log.clock = Arc::new(move || clock.load(Ordering::SeqCst));
        options.integrity = Some(IntegrityOptions::new(self.key.clone(), name.to_owned()));
        options
    }

    /// A node on a data directory of its own.
    async fn node(&self, name: &str) -> (tempfile::TempDir, Store) {
        node_with(self.options(name)).await
    }

    fn days_later(&self, days: i64) {
        self.clock.fetch_add(days * 86_400_000_000_000, Ordering::SeqCst);
    }
}

/// Writes the closed days of `node`'s copy to object storage once they are final; returns them.
async fn write_sealed_days(node: &Store) -> Vec<acta_store::Day> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Written once its index commits and its final checkpoint is signed.
        let written = node.write_sealed_days().await.unwrap();
        if !written.is_empty() || Instant::now() > deadline {
            return written;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The directory of the one write of `day` in a `file://` object store, if there is one (deleting objects
/// leaves their directories behind, empty).
fn written_day(objects: &Path, day: acta_store::Day) -> Option<std::path::PathBuf> {
    let writes: Vec<std::path::PathBuf> = std::fs::read_dir(objects.join(format!("days/{day}")))
        .map(|entries| entries.map(|entry| entry.unwrap().path()).filter(|write| !files_in(write).is_empty()).collect())
        .unwrap_or_default();
    assert!(writes.len() <= 1, "one write of a day is kept: {writes:?}");
    writes.into_iter().next()
}

/// The names of a directory's files, without tantivy's lock files.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".lock"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_day_is_searchable_from_object_storage_on_a_node_that_never_indexed_it() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    let (_a_dir, node_a) = cluster.node("node-a").await;
    node_a.accept(batch(ids(0..300))).await.unwrap();
    copied(&node_a, 300).await;
    let day = acta_store::Day::from_ns(NOW);
    // Three days on: the copy (a day behind the clock) has closed the day.
    cluster.days_later(3);
    assert_eq!(write_sealed_days(&node_a).await, vec![day]);
    let pool = sqlx::PgPool::connect(&cluster.server.url).await.unwrap();
    let partition = format!("log_records_{}", day.to_string().replace('-', "_"));
    let left: Option<String> =
        sqlx::query_scalar("SELECT to_regclass($1)::text").bind(&partition).fetch_one(&pool).await.unwrap();
    assert_eq!(left, None, "the day's partition is dropped from PostgreSQL");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM log_records").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 0);

    let (b_dir, node_b) = cluster.node("node-b").await;

    let mut expected: Vec<String> = ids(0..300).collect();
    expected.sort();
    assert_eq!(found(&node_b, "action:kms.secrets.read").await, expected);
    let written = written_day(cluster.objects.path(), day).unwrap().join(format!("index/days/{day}"));
    let opened = b_dir.path().join(format!("index/days/{day}"));
    assert_eq!(file_names(&opened), file_names(&written), "node b searches the partition as written, not one it built");
    let on_a = node_a.log().records("acme-global", 0, u64::MAX, None).map(Result::unwrap).collect::<Vec<_>>();
    let on_b = node_b.log().records("acme-global", 0, u64::MAX, None).map(Result::unwrap).collect::<Vec<_>>();
    assert_eq!(on_b, on_a, "the same records, seqs, times and payloads");
    let notes = |dir: &Path| std::fs::read(dir.join(format!("checkpoints/acme-global/{day}.notes"))).unwrap();
    assert_eq!(notes(b_dir.path()), notes(_a_dir.path()), "the day's signed checkpoints came with it");

    // What the cluster takes next follows on from the day, on every node.
    node_a.accept(batch(ids(300..301))).await.unwrap();
    copied(&node_b, 301).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_while_its_day_was_dropped_takes_the_whole_day_from_object_storage() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    let (_a_dir, node_a) = cluster.node("node-a").await;
    let b_dir = tempfile::tempdir().unwrap();
    let options_b = || cluster.options("node-b");
    let node_b = Store::open(b_dir.path(), options_b()).await.unwrap();
    node_a.accept(batch(ids(0..100))).await.unwrap();
    copied(&node_b, 100).await;
    drop(node_b);
    node_a.accept(batch(ids(100..250))).await.unwrap();
    copied(&node_a, 250).await;
    cluster.days_later(3);
    assert_eq!(write_sealed_days(&node_a).await, vec![acta_store::Day::from_ns(NOW)]);

    // Node b held the first 100 of the day; PostgreSQL no longer has the other 150.
    let node_b = Store::open(b_dir.path(), options_b()).await.unwrap();

    let on_a = node_a.log().records("acme-global", 0, u64::MAX, None).map(Result::unwrap).collect::<Vec<_>>();
    let on_b = node_b.log().records("acme-global", 0, u64::MAX, None).map(Result::unwrap).collect::<Vec<_>>();
    assert_eq!(on_b, on_a, "the whole day, record for record");
    let mut expected: Vec<String> = ids(0..250).collect();
    expected.sort();
    assert_eq!(found(&node_b, "action:kms.secrets.read").await, expected, "each event found once");
    node_a.accept(batch(ids(250..251))).await.unwrap();
    copied(&node_b, 251).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_object_storage_a_node_holding_its_days_starts_and_a_node_lacking_one_refuses_naming_it() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    let options_a = || cluster.options("node-a");
    let (a_dir, node_a) = node_with(options_a()).await;
    node_a.accept(batch(ids(0..20))).await.unwrap();
    copied(&node_a, 20).await;
    cluster.days_later(3);
    let day = acta_store::Day::from_ns(NOW);
    assert_eq!(write_sealed_days(&node_a).await, vec![day]);
    drop(node_a);
    std::fs::remove_dir_all(cluster.objects.path().join("days")).unwrap();

    let node_a = Store::open(a_dir.path(), options_a()).await.unwrap();
    let lacking = tempfile::tempdir().unwrap();
    let refused = Store::open(lacking.path(), cluster.options("node-c")).await;

    let mut expected: Vec<String> = ids(0..20).collect();
    expected.sort();
    assert_eq!(found(&node_a, "action:kms.secrets.read").await, expected);
    let error = refused.err().expect("a node lacking a sealed day does not start without it").to_string();
    assert!(error.contains(&format!("days/{day}/")) && error.contains("/MANIFEST.json"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_reaches_object_storage_and_a_node_lacking_the_day_retires_it_as_the_cluster_did() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    let (_a_dir, node_a) = cluster.node("node-a").await;
    let eu = Instance {
        id: "acme-eu".into(),
        account: "acme".into(),
        name: "eu".into(),
        region: "eu-de".into(),
        retention_days: 365,
        global: false,
        strict: false,
        created_at: "2026-12-05T10:00:00Z".into(),
    };
    node_a.meta().create_instance(&eu).await.unwrap();
    node_a.accept(batch(ids(0..30))).await.unwrap();
    node_a.accept(Batch { destination: Destination::Instance(eu.clone()), ..batch(ids(100..110)) }).await.unwrap();
    copied(&node_a, 30).await;
    cluster.days_later(3);
    let day = acta_store::Day::from_ns(NOW);
    assert_eq!(write_sealed_days(&node_a).await, vec![day]);
    let first_write = written_day(cluster.objects.path(), day).unwrap();

    // Retention removes the global instance's day from node a's copy, as the retention job does.
    node_a.remove_from_index("acme-global", day, 30).await.unwrap();
    node_a.remove_segment("acme-global", day).await.unwrap();
    node_a.write_sealed_days().await.unwrap();

    let second_write = written_day(cluster.objects.path(), day).unwrap();
    assert_ne!(second_write, first_write, "the day is written again and the first write deleted");
    assert!(!second_write.join("log/acme-global").exists(), "nothing of the removed instance is left");
    assert!(second_write.join(format!("log/acme-eu/{day}.seg")).exists());
    let (b_dir, node_b) = cluster.node("node-b").await;
    assert_eq!(found(&node_b, "action:kms.secrets.read").await, Vec::<String>::new(), "the removed day is not found");
    assert_eq!(node_b.log().last_seq("acme-global"), 30, "retired as the cluster did: seqs go on after it");
    let eu_on =
        |store: &Store| store.log().records("acme-eu", 0, u64::MAX, None).map(Result::unwrap).collect::<Vec<_>>();
    assert_eq!(eu_on(&node_b), eu_on(&node_a), "the instance retention kept is taken whole");
    node_a.accept(batch(ids(30..31))).await.unwrap();
    copied(&node_b, 31).await;
    drop(node_b);
    assert!(b_dir.path().join("log/acme-global/RETIRED").exists());

    // Once retention removed every instance of the day, nothing of it is left in object storage.
    node_a.remove_from_index("acme-eu", day, 10).await.unwrap();
    node_a.remove_segment("acme-eu", day).await.unwrap();
    node_a.write_sealed_days().await.unwrap();
    assert_eq!(written_day(cluster.objects.path(), day), None);
}

/// Every file under `dir`.
fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_in(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_retention_removed_before_it_was_written_is_dropped_from_postgresql_and_retired_on_a_new_node() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    let (_a_dir, node_a) = cluster.node("node-a").await;
    node_a.accept(batch(ids(0..20))).await.unwrap();
    copied(&node_a, 20).await;
    cluster.days_later(3);
    let day = acta_store::Day::from_ns(NOW);
    node_a.seal_before(acta_store::Day::from_ns(NOW + 2 * 86_400_000_000_000)).await.unwrap();
    assert!(node_a.index().wait_caught_up(Duration::from_secs(30)));

    // A one-day plan: retention on the lease holder removed the day before it was written.
    node_a.remove_from_index("acme-global", day, 20).await.unwrap();
    node_a.remove_segment("acme-global", day).await.unwrap();
    assert_eq!(write_sealed_days(&node_a).await, vec![day]);

    assert_eq!(written_day(cluster.objects.path(), day), None, "nothing of the day is in object storage");
    let pool = sqlx::PgPool::connect(&cluster.server.url).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM log_records").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 0, "nor in PostgreSQL");
    let (_b_dir, node_b) = cluster.node("node-b").await;
    assert_eq!(node_b.log().last_seq("acme-global"), 20, "retired as the cluster did: seqs go on after it");
    node_a.accept(batch(ids(20..21))).await.unwrap();
    copied(&node_b, 21).await;
}

/// Brings a node's checkpoints up to date (from a blocking thread: in a cluster it reads PostgreSQL).
async fn sync_checkpoints(node: &Store) -> Result<(), acta_store::IntegrityError> {
    let integrity = node.integrity().unwrap().clone();
    tokio::task::spawn_blocking(move || integrity.sync_instance("acme-global")).await.unwrap()
}

/// A node's latest checkpoint of the instance's segment of `NOW`, once it covers `records` records.
async fn checkpoint_covering(node: &Store, records: u64) -> acta_store::StoredCheckpoint {
    let day = acta_store::Day::from_ns(NOW);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        sync_checkpoints(node).await.unwrap();
        let latest = node.integrity().unwrap().checkpoints("acme-global", Some(day)).unwrap().pop();
        match latest {
            Some(latest) if latest.size > records => return latest,
            _ => assert!(Instant::now() < deadline, "no checkpoint covers {records} records: {latest:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The lines of a node's checkpoint file of the instance's segment of `NOW`.
fn note_lines(dir: &Path) -> Vec<String> {
    let day = acta_store::Day::from_ns(NOW);
    let text = std::fs::read_to_string(dir.join(format!("checkpoints/acme-global/{day}.notes"))).unwrap_or_default();
    text.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_writes_the_checkpoints_the_signing_node_signed() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    let (a_dir, node_a) = cluster.node("node-a").await;
    let (b_dir, node_b) = cluster.node("node-b").await;

    node_b.accept(batch(ids(0..40))).await.unwrap();

    let on_b = checkpoint_covering(&node_b, 40).await;
    let on_a = checkpoint_covering(&node_a, 40).await;
    assert_eq!(on_b, on_a, "one checkpoint, byte for byte, on both nodes");
    assert!(on_b.note.starts_with("node-a/acme/acme-global/"), "signed by the first node: {}", on_b.note);
    let signed = note_lines(a_dir.path());
    assert!(note_lines(b_dir.path()).iter().all(|line| signed.contains(line)), "node b wrote only what a signed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_signing_node_stops_another_node_signs_on_from_its_checkpoints() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    let (_a_dir, node_a) = cluster.node("node-a").await;
    let (b_dir, node_b) = cluster.node("node-b").await;
    node_a.accept(batch(ids(0..20))).await.unwrap();
    let before = checkpoint_covering(&node_b, 20).await;
    let adopted = note_lines(b_dir.path());
    node_a.close().await;
    drop(node_a);

    node_b.accept(batch(ids(20..30))).await.unwrap();

    let after = checkpoint_covering(&node_b, 30).await;
    assert!(after.note.starts_with("node-a/acme/acme-global/"), "the segment keeps its origin: {}", after.note);
    let on_b = note_lines(b_dir.path());
    assert_eq!(on_b[..adopted.len()], adopted[..], "node b's checkpoints go on after the ones node a signed");
    assert!(after.size > before.size);
    let proof = node_b.integrity().unwrap().proof("acme-global", 25).unwrap().unwrap();
    assert_eq!(proof.note, after.note, "records node b took are proved in its checkpoint");
    let (c_dir, node_c) = cluster.node("node-c").await;
    assert_eq!(checkpoint_covering(&node_c, 30).await, after, "a node started later writes the same");
    assert!(note_lines(c_dir.path()).iter().all(|line| on_b.contains(line)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_copy_does_not_give_the_published_root_stops_that_instances_checkpoints() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    // Node a holds the signer's lease but signs only when told to.
    let mut options_a = cluster.options("node-a");
    options_a.integrity.as_mut().unwrap().interval = Duration::from_secs(3600);
    let (_a_dir, _node_a) = node_with(options_a).await;
    let (b_dir, node_b) = cluster.node("node-b").await;
    node_b.accept(batch(ids(0..3))).await.unwrap();
    copied(&node_b, 3).await;

    // A checkpoint of three records with the operator's key, over another root than theirs.
    let day = acta_store::Day::from_ns(NOW);
    let key = acta_ledger::SigningKey::load(&cluster.key).unwrap();
    let origin = format!("node-a/acme/acme-global/{day}");
    let note = key.sign(&acta_ledger::Checkpoint { origin: origin.clone(), size: 4, root: [7; 32] }).unwrap();
    let genesis = acta_store::integrity::files::GENESIS;
    let entry = acta_store::integrity::files::NoteEntry { link: genesis, is_final: false, note };
    let pool = sqlx::PgPool::connect(&cluster.server.url).await.unwrap();
    sqlx::query(
        "INSERT INTO log_checkpoints (instance, day, size, is_final, origin, link, line, version) \
         VALUES ('acme-global', $1, 4, false, $2, $3, $4, 1)",
    )
    .bind(i32::try_from(NOW / 86_400_000_000_000).unwrap())
    .bind(&origin)
    .bind(acta_store::integrity::files::to_hex(&genesis))
    .bind(entry.to_line().trim_end())
    .execute(&pool)
    .await
    .unwrap();

    let error = sync_checkpoints(&node_b).await.unwrap_err().to_string();

    assert!(error.contains("checkpoints of instance acme-global are stopped"), "{error}");
    assert!(error.contains("does not give the root of the checkpoint the signing node published"), "{error}");
    assert_eq!(note_lines(b_dir.path()), Vec::<String>::new(), "node b wrote no checkpoint it could not check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_checkpoint_of_a_closed_day_reaches_every_node() {
    let Some(cluster) = WithObjects::start() else {
        return;
    };
    let (_a_dir, node_a) = cluster.node("node-a").await;
    let (_b_dir, node_b) = cluster.node("node-b").await;
    node_a.accept(batch(ids(0..10))).await.unwrap();
    let open = checkpoint_covering(&node_b, 10).await;
    assert!(!open.is_final);

    // Two days on the copies close the day, with no record after the one signed; each node seals its copy's.
    cluster.days_later(2);
    let tomorrow = acta_store::Day::from_ns(NOW).next();
    node_a.seal_before(tomorrow).await.unwrap();
    node_b.seal_before(tomorrow).await.unwrap();

    let day = acta_store::Day::from_ns(NOW);
    let deadline = Instant::now() + Duration::from_secs(20);
    let last = loop {
        sync_checkpoints(&node_b).await.unwrap();
        let last = node_b.integrity().unwrap().checkpoints("acme-global", Some(day)).unwrap().pop().unwrap();
        if last.is_final || Instant::now() > deadline {
            break last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(last.is_final, "node b holds the day's final checkpoint: {last:?}");
    assert_eq!((last.size, &last.note), (open.size, &open.note), "the final checkpoint of the same tree");
}
