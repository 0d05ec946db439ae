//! What one signer costs a cluster (docs/benchmarks.md): how many checkpoints a second the signing node can publish
//! in PostgreSQL (each its own transaction under the versions' row lock), and how long a node takes to read what
//! changed, for `ACTA_BENCH_INSTANCES` instances (default 200) receiving events, one checkpoint of each a round,
//! for `ACTA_BENCH_ROUNDS` rounds (default 20). A PostgreSQL server of its own, as `tests/pglog.rs` starts one.
//!
//! `cargo run --release -p acta-store --example checkpoint_publish_bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/pg_util.rs"]
mod pg_util;

use std::time::{Duration, Instant};

use acta_store::Day;
use acta_store::pglog::{PgLog, PgLogOptions, Publication, PublishedCheckpoint};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let instances = setting("ACTA_BENCH_INSTANCES", 200);
    let rounds = setting("ACTA_BENCH_ROUNDS", 20);
    let server = pg_util::PgServer::start().expect("PostgreSQL (ACTA_PG_BIN) for the bench");
    let log = PgLog::connect(&server.url, PgLogOptions::node("node-a")).await.unwrap();
    let day = Day::from_ns(1_780_000_000_000_000_000);
    // A line the size of a real one (about 330 bytes: link, note with origin, root and signature).
    let filler = "x".repeat(250);
    let mut publishing = Duration::ZERO;
    let mut reading = Duration::ZERO;
    let mut read_after = 0;
    for round in 1..=rounds {
        let started = Instant::now();
        for instance in 0..instances {
            let checkpoint = PublishedCheckpoint {
                instance: format!("instance-{instance:04}"),
                day,
                size: round + 1,
                is_final: false,
                origin: format!("node-a/account-{instance}/instance-{instance:04}/{day}"),
                link: "0".repeat(64),
                line: format!("{{\"size\":{},\"note\":\"{filler}\"}}", round + 1),
            };
            assert_eq!(log.publish_checkpoint(&checkpoint).await.unwrap(), Publication::Published);
        }
        publishing += started.elapsed();
        let started = Instant::now();
        let (changed, last) = log.checkpoints_after(read_after).await.unwrap();
        reading += started.elapsed();
        assert_eq!(changed.len() as u64, instances);
        read_after = last;
    }
    let published = instances * rounds;
    println!(
        "{published} checkpoints of {instances} instances in {rounds} rounds: {:.0} publications/s \
         ({:.2} ms each); reading a round's {instances} changes: {:.1} ms on average",
        published as f64 / publishing.as_secs_f64(),
        publishing.as_secs_f64() * 1000.0 / published as f64,
        reading.as_secs_f64() * 1000.0 / rounds as f64,
    );
    log.close().await;
}
