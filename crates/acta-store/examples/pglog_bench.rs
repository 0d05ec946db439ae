//! Appends per second to cluster mode's PostgreSQL log (docs/benchmarks.md): a PostgreSQL server of its own
//! (as `tests/pglog.rs` starts one, with `fsync` and `synchronous_commit` on), batches of 500 events of about
//! 1 KB (one `POST /v1/events`), from one node and from three nodes at once, into one instance and into one
//! instance per node. Each batch is committed before the next is sent, as an ingest answer waits for it. Each
//! configuration runs twice: the bare append (`PgLog::append`: `COPY` under the head row lock), and the server's
//! path (`PgLog::append_new`: the account's duplicates judged in `log_event_ids` first).
//!
//! `cargo run --release -p acta-store --example pglog_bench` (`ACTA_BENCH_BATCHES`: batches per node, 100).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/pg_util.rs"]
mod pg_util;

use std::sync::Arc;
use std::time::Instant;

use acta_store::index::Duplicates;
use acta_store::log::NewRecord;
use acta_store::pglog::{PgLog, PgLogOptions};

const BATCH: usize = 500;

fn event(n: usize) -> Vec<u8> {
    let mut event = format!(
        r#"{{"id":"bench-{n}","action":"iam-identity.user-apikey.delete","outcome":"failure","eventTime":"2026-11-20T16:37:40.12+0000","initiator":{{"id":"IBMid-550006JKXX","name":"jane.doe@example.com"}},"target":{{"id":"crn:v1:bluemix:public:iam-identity::a/0f1e2d3c::apikey:ApiKey-9f3c2d1e"}},"pad":""#
    )
    .into_bytes();
    event.resize(1000, b'x');
    event.extend_from_slice(b"\"}");
    event
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let batches: usize = std::env::var("ACTA_BENCH_BATCHES").ok().and_then(|text| text.parse().ok()).unwrap_or(100);
    let server = pg_util::PgServer::start().expect("PostgreSQL's server programs (apt-get install postgresql)");
    println!("| append | nodes | instances | events | seconds | events/s | p50 batch commit | max batch commit |");
    println!("|---|---|---|---|---|---|---|---|");
    let configurations = [(1, false), (3, false), (3, true)];
    for (checked, (nodes, own_instance)) in
        [false, true].into_iter().flat_map(|checked| configurations.into_iter().map(move |c| (checked, c)))
    {
        let mut logs = Vec::new();
        for node in 0..nodes {
            let options = PgLogOptions { max_connections: 2, ..PgLogOptions::node(&format!("node-{node}")) };
            logs.push(Arc::new(PgLog::connect(&server.url, options).await.unwrap()));
        }
        let run = format!("run-{nodes}-{own_instance}-{checked}");
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (node, log) in logs.iter().enumerate() {
            let log = log.clone();
            let instance = if own_instance { format!("{run}-{node}") } else { run.clone() };
            tasks.push(tokio::spawn(async move {
                let mut commits = Vec::new();
                for batch in 0..batches {
                    let records = (0..BATCH)
                        .map(|n| NewRecord {
                            account: "bench".into(),
                            event_id: format!("{instance}-{node}-{batch}-{n}"),
                            event: event(n),
                        })
                        .collect();
                    let sent = Instant::now();
                    if checked {
                        log.append_new("bench", &instance, records, Duplicates::SameContent).await.unwrap();
                    } else {
                        log.append(&instance, records).await.unwrap();
                    }
                    commits.push(sent.elapsed());
                }
                commits
            }));
        }
        let mut commits = Vec::new();
        for task in tasks {
            commits.extend(task.await.unwrap());
        }
        let seconds = started.elapsed().as_secs_f64();
        commits.sort();
        let events = nodes * batches * BATCH;
        println!(
            "| {} | {nodes} | {} | {events} | {seconds:.1} | {:.0} | {:.0?} | {:.0?} |",
            if checked { "with duplicates (server)" } else { "bare" },
            if own_instance { nodes } else { 1 },
            events as f64 / seconds,
            commits[commits.len() / 2],
            commits[commits.len() - 1]
        );
        for log in logs {
            log.close().await;
        }
    }
}
