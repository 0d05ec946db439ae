//! What a node joining a cluster costs, with and without sealed days in object storage (docs/benchmarks.md): a
//! PostgreSQL server of its own (as `tests/pglog.rs` starts one) and a `file://` object store on the same disk.
//! Node a takes `ACTA_BENCH_EVENTS` events of about 1 KB (default 100,000) in batches of 500 on one day. Node c
//! joins while the day is still in PostgreSQL: it copies and indexes every event. Three days on (by the nodes'
//! clock), node a writes the day to object storage and drops it from PostgreSQL; node b then joins and takes the
//! day from there, partition included. Times are from `Store::open` until the node's index counts every event.
//!
//! `cargo run --release -p acta-store --example sealed_days_bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/pg_util.rs"]
mod pg_util;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use acta_cadf::{BodyFormat, Options};
use acta_store::cluster::ClusterOptions;
use acta_store::{Account, Batch, Destination, Instance, IntegrityOptions, Store, StoreOptions};

const NOW: i64 = 1_780_000_000_000_000_000;
const BATCH: usize = 500;

struct Bench {
    server: pg_util::PgServer,
    objects: tempfile::TempDir,
    keys: tempfile::TempDir,
    clock: Arc<AtomicI64>,
}

impl Bench {
    async fn open(&self, dir: &std::path::Path, name: &str) -> Store {
        let cluster = ClusterOptions {
            postgres_url: self.server.url.clone(),
            node: name.to_owned(),
            object_store: Some(format!("file://{}", self.objects.path().display())),
        };
        let mut options = StoreOptions { cluster: Some(cluster), ..StoreOptions::default() };
        let clock = self.clock.clone();
        options.log.clock = Arc::new(move || clock.load(Ordering::SeqCst));
        options.integrity = Some(IntegrityOptions::new(self.keys.path().join("signing-key"), name.to_owned()));
        Store::open(dir, options).await.unwrap()
    }
}

fn batch(first: usize) -> Batch {
    let body: Vec<String> = (first..first + BATCH)
        .map(|n| {
            let mut event = format!(
                r#"{{"id":"bench-{n}","eventTime":"2026-05-28T12:00:00Z","action":"iam-identity.user-apikey.delete","outcome":"failure","initiator":{{"id":"IBMid-550006JKXX","name":"jane.doe@example.com"}},"target":{{"id":"crn:v1:bluemix:public:iam-identity::a/0f1e2d3c::apikey:ApiKey-9f3c2d1e"}},"pad":""#
            );
            event.push_str(&"x".repeat(1000usize.saturating_sub(event.len())));
            event.push_str("\"}");
            event
        })
        .collect();
    let events =
        acta_cadf::parse_batch(format!("[{}]", body.join(",")).as_bytes(), BodyFormat::Json, &Options::default(), NOW)
            .unwrap();
    Batch { events, destination: Destination::Account { account: "acme".into(), fallback_instance: None }, now: NOW }
}

/// Waits until the node's index counts `events` events of the instance; returns how long that took from `since`.
async fn searchable(store: &Store, events: u64, since: Instant) -> Duration {
    while store.log().last_seq("acme-global") < events
        || !store.index().searchable(&[("acme-global".to_owned(), events)])
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    since.elapsed()
}

fn bytes_under(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| {
                    let path = entry.unwrap().path();
                    if path.is_dir() { bytes_under(&path) } else { path.metadata().map_or(0, |meta| meta.len()) }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: usize = std::env::var("ACTA_BENCH_EVENTS").ok().and_then(|text| text.parse().ok()).unwrap_or(100_000);
    let bench = Bench {
        server: pg_util::PgServer::start().expect("PostgreSQL's server programs (apt-get install postgresql)"),
        objects: tempfile::tempdir().unwrap(),
        keys: tempfile::tempdir().unwrap(),
        clock: Arc::new(AtomicI64::new(NOW)),
    };
    let (a_dir, b_dir, c_dir) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node_a = bench.open(a_dir.path(), "node-a").await;
    let created_at = "2026-05-28T10:00:00Z".to_string();
    node_a.meta().create_account(&Account { id: "acme".into(), name: "acme".into(), created_at }).await.unwrap();
    let instance = Instance {
        id: "acme-global".into(),
        account: "acme".into(),
        name: "global".into(),
        region: "global".into(),
        retention_days: 30,
        global: true,
        strict: false,
        created_at: "2026-05-28T10:00:00Z".into(),
    };
    node_a.meta().create_instance(&instance).await.unwrap();
    let started = Instant::now();
    for first in (0..events).step_by(BATCH) {
        node_a.accept(batch(first)).await.unwrap();
    }
    let taken = started.elapsed();
    searchable(&node_a, events as u64, started).await;
    println!("node a took {events} events in {:.1} s", taken.as_secs_f64());

    let opening = Instant::now();
    let node_c = bench.open(c_dir.path(), "node-c").await;
    let opened = opening.elapsed();
    let joined = searchable(&node_c, events as u64, opening).await;
    println!(
        "| node c, the day in PostgreSQL: copied and indexed | {:.2} s open | {:.1} s |",
        opened.as_secs_f64(),
        joined.as_secs_f64()
    );
    drop(node_c);

    bench.clock.fetch_add(3 * 86_400_000_000_000, Ordering::SeqCst);
    let writing = Instant::now();
    let written = loop {
        let written = node_a.write_sealed_days().await.unwrap();
        if !written.is_empty() {
            break written;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "| node a writes {written:?} to object storage ({:.1} MB) and drops it from PostgreSQL | | {:.1} s |",
        bytes_under(bench.objects.path()) as f64 / 1e6,
        writing.elapsed().as_secs_f64()
    );

    let opening = Instant::now();
    let node_b = bench.open(b_dir.path(), "node-b").await;
    let opened = opening.elapsed();
    let joined = searchable(&node_b, events as u64, opening).await;
    println!(
        "| node b, the day in object storage: taken with its partition | {:.2} s open | {:.1} s |",
        opened.as_secs_f64(),
        joined.as_secs_f64()
    );
    println!(
        "data directories: a {:.1} MB, b {:.1} MB, c {:.1} MB",
        bytes_under(a_dir.path()) as f64 / 1e6,
        bytes_under(b_dir.path()) as f64 / 1e6,
        bytes_under(c_dir.path()) as f64 / 1e6
    );
}
