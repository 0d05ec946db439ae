//! CPU of computing insights per counted event (docs/benchmarks.md, docs/insights.md).
//!
//! Starts a server on a temporary directory (insights' own period set to an hour, so only the measured runs
//! count), sends `ACTA_BENCH_EVENTS` events (default 200,000) spread over the last 8 days with 40 actions and
//! 1,000 principals, waits until they are searchable, then measures the process's CPU time (user + system, from
//! `/proc/self/stat`) of the first run (an account's full count: 8 days) and of the next (the current and the
//! previous hour), and prints a Markdown table. Run in release mode:
//!
//! `cargo run --release -p acta-server --example insights_bench`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const KEY: &str = "bench-admin-key-0123456789";

/// The allocator of the `acta` binary: the server measured here is the one users run.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let events: u64 = std::env::var("ACTA_BENCH_EVENTS").ok().and_then(|text| text.parse().ok()).unwrap_or(200_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(events));
}

/// User + system CPU time of this process, from `/proc/self/stat` (clock ticks of 10 ms, Linux's `USER_HZ`).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its end.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = after.split(' ').map(|field| field.parse().unwrap_or(0)).collect();
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
    Duration::from_millis((fields[11] + fields[12]) * 10)
}

async fn run(total: u64) {
    let dir = tempfile::tempdir_in(std::env::var("ACTA_BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let running = acta_server::start(acta_server::ServerConfig {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        bootstrap_key: Some(KEY.to_string()),
        limits: acta_server::Limits::default(),
        integrity: None,
        alerts: acta_server::AlertSettings {
            insight_period: Duration::from_secs(3600),
            ..acta_server::AlertSettings::default()
        },
        retention: acta_server::RetentionSettings::default(),
        forwarding: Default::default(),
        cluster: None,
    })
    .await
    .unwrap();
    let url = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let now = acta_server::now_ns();
    let span = 8 * 86_400_000_000_000i64;
    let step = span / i64::try_from(total).unwrap();
    let batch = 5_000u64;
    let mut sent = 0u64;
    while sent < total {
        let n = batch.min(total - sent);
        let body: String = (sent..sent + n)
            .map(|i| format!("{}\n", event(i, now - span + i64::try_from(i).unwrap() * step)))
            .collect();
        loop {
            let response = http
                .post(format!("{url}/v1/events"))
                .bearer_auth(KEY)
                .header("content-type", "application/x-ndjson")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            if response.status().as_u16() == 429 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            assert!(response.status().is_success(), "{}", response.text().await.unwrap_or_default());
            break;
        }
        sent += n;
    }
    loop {
        let answer: Value =
            http.get(format!("{url}/v1/events/count")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
        if answer["count"].as_u64() == Some(total) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Let the indexer's last commit and merges settle, so their CPU is not counted as the job's.
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("| run | hours | events counted | wall | CPU | CPU per event |");
    println!("|---|---|---|---|---|---|");
    for name in ["first (full count, 8 days)", "next (current and previous hour)"] {
        let (cpu_before, wall) = (cpu(), Instant::now());
        let report = running.run_insights().await;
        let (used, wall) = (cpu() - cpu_before, wall.elapsed());
        let per_event = used.as_nanos() as f64 / report.events.max(1) as f64;
        println!("| {name} | {} | {} | {wall:.0?} | {used:.0?} | {per_event:.0} ns |", report.hours, report.events);
    }
    running.stop().await.unwrap();
}

/// 40 actions (a few frequent), 1,000 principals, a tenth failures.
fn event(i: u64, time: i64) -> Value {
    let skew = (i * 2_654_435_761 % 1_000).pow(2) / 1_000;
    json!({
        "eventTime": acta_cadf::format_time(time),
        "action": format!("svc-{}.resource.verb-{}", skew % 8, skew % 5),
        "outcome": if i.is_multiple_of(10) { "failure" } else { "success" },
        "initiator": {"id": format!("IBMid-{}", i * 7_919 % 1_000), "name": "user", "typeURI": "service/security/account/user"},
        "target": {"id": "t", "name": "t", "typeURI": "iam-identity/user-apikey"},
    })
}
