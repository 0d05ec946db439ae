//! Latency of `GET /v1/events/histogram`, `terms` and pipe queries (`GET /v1/events/query`) over many events
//! (docs/benchmarks.md).
//!
//! Starts a server on a temporary directory, sends `ACTA_BENCH_EVENTS` events (default 1,000,000) spread over
//! the last `ACTA_BENCH_DAYS` days (default 1) through `POST /v1/events`, waits until they are searchable and
//! the server's merges are done (unless `ACTA_BENCH_SETTLE=0`), then times each request several times and
//! prints a Markdown table (`ACTA_BENCH_ONLY`, `ACTA_BENCH_ROUNDS`: fewer cases, more rounds, for a profiler).
//! Run in release mode:
//!
//! `cargo run --release -p acta-server --example histogram_bench`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const KEY: &str = "bench-admin-key-0123456789";

/// The allocator of the `acta` binary: the server measured here is the one users run.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A timed request: its name in the table, its path, its parameters.
type Case = (&'static str, &'static str, Vec<(&'static str, &'static str)>);

fn main() {
    // The server's warnings and errors on stderr: an answer "internal error; see the server log" names its cause
    // there.
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::WARN).init();
    let events: u64 = std::env::var("ACTA_BENCH_EVENTS").ok().and_then(|text| text.parse().ok()).unwrap_or(1_000_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let days: i64 = std::env::var("ACTA_BENCH_DAYS").ok().and_then(|text| text.parse().ok()).unwrap_or(1);
    runtime.block_on(run(events, days));
}

async fn run(total: u64, days: i64) {
    let dir = tempfile::tempdir_in(std::env::var("ACTA_BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let running = acta_server::start(acta_server::ServerConfig {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        bootstrap_key: Some(KEY.to_string()),
        limits: acta_server::Limits::default(),
        integrity: None,
        alerts: acta_server::AlertSettings::default(),
        retention: acta_server::RetentionSettings::default(),
        forwarding: Default::default(),
        cluster: None,
    })
    .await
    .unwrap();
    let url = format!("http://{}", running.addr);
    let http = reqwest::Client::new();

    let started = Instant::now();
    let now = acta_server::now_ns();
    let day = 86_400_000_000_000i64 * days.max(1);
    let batch = 5_000u64;
    let mut sent = 0u64;
    while sent < total {
        let n = batch.min(total - sent);
        let body: String = (sent..sent + n)
            .map(|i| format!("{}\n", event(i, now - day + (i * 7919 % total) as i64 * (day / total as i64))))
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
    let ingested = started.elapsed();
    loop {
        // Acta's own events (insights the job finds in the generated week) are not the bench's.
        let answer: Value = get(&http, &url, "/v1/events/count", &[("q", "-action:acta*")]).await;
        if answer["count"].as_u64() == Some(total) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("{total} events sent in {ingested:.1?}, searchable after {:.1?}", started.elapsed());
    // Timed once the index is at rest: a week of events is long merged in a running server, and segments merged
    // while the requests run would time the merges, not the requests. `ACTA_BENCH_SETTLE=0` times at once.
    if std::env::var("ACTA_BENCH_SETTLE").map_or(true, |value| value != "0") {
        let settled = settle().await;
        eprintln!("the process's CPU at rest after {settled:.1?} more");
    }
    // How the load left the index: an aggregation's time grows with the segments it walks.
    let (partitions, segments) = index_segments(dir.path());
    eprintln!("the index holds {segments} segments in {partitions} partitions");

    let cases: [Case; 8] = [
        ("count, last 24 h", "/v1/events/count", vec![("from", "24h")]),
        ("histogram, last 24 h, no breakdown", "/v1/events/histogram", vec![("from", "24h")]),
        (
            "histogram, last 24 h, by action, top 5 (column)",
            "/v1/events/histogram",
            vec![("from", "24h"), ("by", "action"), ("top", "5")],
        ),
        (
            "histogram, last 24 h, by initiator.host.address, top 5 (terms)",
            "/v1/events/histogram",
            vec![("from", "24h"), ("by", "initiator.host.address"), ("top", "5")],
        ),
        (
            "histogram, last 24 h, `action:user-apikey`, by action, top 5",
            "/v1/events/histogram",
            vec![("from", "24h"), ("q", "action:user-apikey"), ("by", "action"), ("top", "5")],
        ),
        (
            "terms of initiator.id (1,000 values), last 24 h, top 10",
            "/v1/events/terms",
            vec![("from", "24h"), ("field", "initiator.id")],
        ),
        (
            "pipe `| stats count by action`, last 7 d",
            "/v1/events/query",
            vec![("from", "7d"), ("q", "| stats count by action")],
        ),
        (
            "pipe `| timechart span=1h count by action`, last 7 d",
            "/v1/events/query",
            vec![("from", "7d"), ("q", "| timechart span=1h count by action")],
        ),
    ];
    // Wall time counts whatever else the machine runs; the server's CPU time per request (this process is at
    // rest between requests) does not, and compares runs on a busy machine.
    // `ACTA_BENCH_ONLY` times only the cases whose name holds it, `ACTA_BENCH_ROUNDS` times each that many times
    // (7 by default): long runs of one case for a profiler (`perf record -p`).
    let only = std::env::var("ACTA_BENCH_ONLY").unwrap_or_default();
    let rounds: usize = std::env::var("ACTA_BENCH_ROUNDS").ok().and_then(|text| text.parse().ok()).unwrap_or(7);
    println!("| request | matching events | median | min | max | CPU per request |");
    println!("|---|---|---|---|---|---|");
    for (name, path, params) in cases.into_iter().filter(|(name, _, _)| name.contains(only.as_str())) {
        let _warm = get(&http, &url, path, &params).await;
        let mut times = Vec::new();
        let mut matched = Value::Null;
        let mut cpu = 0;
        for _ in 0..rounds.max(1) {
            // Timed to the answer's last byte: parsing it is the client's work, not the server's.
            let (start, cpu_before) = (Instant::now(), cpu_ticks());
            let body = get_body(&http, &url, path, &params).await;
            times.push(start.elapsed());
            cpu += cpu_ticks().saturating_sub(cpu_before);
            let answer: Value = serde_json::from_str(&body).unwrap();
            // A pipe query's table has no count: its events are the sum of its `count` column.
            matched = match answer.get("rows").and_then(Value::as_array) {
                Some(rows) => json!(rows.iter().filter_map(|row| row.as_array()?.last()?.as_u64()).sum::<u64>()),
                None => answer["count"].clone(),
            };
        }
        let cpu_ms = cpu as f64 * 10.0 / times.len() as f64;
        times.sort();
        println!(
            "| {name} | {matched} | {:.0?} | {:.0?} | {:.0?} | {cpu_ms:.0} ms |",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    running.stop().await.unwrap();
}

/// Waits until this process uses under 5% of a core over 2 s (tantivy's merges done), for at most 5 minutes.
async fn settle() -> Duration {
    let started = Instant::now();
    let mut last = cpu_ticks();
    while started.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = cpu_ticks();
        // Clock ticks are 100 per second on Linux: 2 s at 5% of one core is 10 ticks.
        if now.saturating_sub(last) < 10 {
            break;
        }
        last = now;
    }
    started.elapsed()
}

/// The tantivy indexes under `dir` (each partition's `meta.json`) and the segments they list.
fn index_segments(dir: &std::path::Path) -> (usize, usize) {
    let (mut partitions, mut segments) = (0, 0);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|name| name == "meta.json") {
                let meta: Value = serde_json::from_slice(&std::fs::read(&path).unwrap_or_default()).unwrap_or_default();
                partitions += 1;
                segments += meta["segments"].as_array().map_or(0, Vec::len);
            }
        }
    }
    (partitions, segments)
}

/// This process's user and system CPU time, in clock ticks (`/proc/self/stat`, fields 14 and 15).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after.split_whitespace().skip(11).take(2).filter_map(|field| field.parse::<u64>().ok()).sum()
}

async fn get(http: &reqwest::Client, url: &str, path: &str, params: &[(&str, &str)]) -> Value {
    serde_json::from_str(&get_body(http, url, path, params).await).unwrap()
}

/// The answer's body, once the server has sent all of it.
async fn get_body(http: &reqwest::Client, url: &str, path: &str, params: &[(&str, &str)]) -> String {
    let response = http.get(format!("{url}{path}")).bearer_auth(KEY).query(params).send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// An IBM-style event: 40 actions (a few frequent), 1,000 initiators, 250 addresses, some failures.
fn event(i: u64, time: i64) -> Value {
    let services = ["iam-identity", "kms", "cloud-object-storage", "iam-groups", "containers-kubernetes"];
    let resources = ["user-apikey", "secrets", "bucket", "group", "cluster", "policy", "instance", "key"];
    let verbs = ["create", "update", "delete", "read", "login"];
    // Skewed: low numbers far more often, so there is a clear top 5.
    let skew = (i * 2_654_435_761 % 1_000).pow(2) / 1_000;
    let action = format!(
        "{}.{}.{}",
        services[(skew % 5) as usize],
        resources[(skew / 5 % 8) as usize],
        verbs[(skew / 40 % 5) as usize]
    );
    let failed = i.is_multiple_of(7);
    json!({
        "id": format!("bench-{i}"),
        "eventTime": acta_cadf::format_time(time),
        "action": action,
        "outcome": if failed { "failure" } else { "success" },
        "severity": if failed { "warning" } else { "normal" },
        "message": format!("Service: {action} demo-{}", i % 100),
        "initiator": {"id": format!("IBMid-{}", i % 1_000), "name": format!("user{}@example.com", i % 1_000),
                      "typeURI": "service/security/account/user",
                      "host": {"address": format!("192.0.2.{}", i % 250), "agent": "IBM Cloud CLI"}},
        "target": {"id": format!("crn:v1:bluemix:public:kms:us-south:a/1::key:{}", i % 5_000), "name": "demo-key",
                   "typeURI": "kms/secrets"},
        "reason": {"reasonCode": if failed { 403 } else { 200 }},
        "observer": {"name": "ActivityTracker"},
    })
}
