//! `acta bench ingest`: load a server with NDJSON batches and measure what the issue asks.
//!
//! Closed loop (the default): C clients each send a batch and wait for its answer before sending the next; the
//! latency of a batch is from its send to its answer. Open loop (`--rate R`): batch k is due at
//! `start + k * B / R`; a client sends it at that time, or as soon as it is free when it is late, and its latency
//! counts from the due time. Queueing inside the tool, on the network or in the server is therefore not hidden
//! (no coordinated omission), as long as `--clients` is not what limits the rate: the report shows the rate
//! reached next to the one asked for.
//!
//! Bodies are built before the clock starts, so the tool spends its CPU on HTTP only while measuring (it shares
//! the machine with the server when both are local).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DataSet, Latency, Memory, ServerProbe, Storage, generate, print_memory, server_memory};
use crate::client::{Client, Connection, api_error_text};

/// How long to poll `/v1/events/count` between checks for searchability.
const SEARCHABLE_POLL: Duration = Duration::from_millis(20);
/// Errors kept for the report; the rest are only counted.
const MAX_ERRORS_KEPT: usize = 5;

#[derive(clap::Args)]
pub(crate) struct IngestArgs {
    /// An NDJSON file of events, or a number N of events to generate (with --seed, --days, --accounts).
    #[arg(long)]
    events: String,
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    data_set: DataSet,
    #[command(flatten)]
    probe: ServerProbe,
    /// Another node of the same cluster (repeatable): batches go round-robin to --url and these, and events
    /// count as searchable once every node counts them.
    #[arg(long = "node-url", value_name = "URL")]
    node_urls: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// How to load the server (shared with `bench all`).
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct LoadArgs {
    /// Concurrent clients (connections).
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Events per request.
    #[arg(long, default_value_t = 500)]
    pub(crate) batch: usize,
    /// Open loop at this many events per second (closed loop when absent).
    #[arg(long)]
    rate: Option<f64>,
    /// Give up waiting for the last event to be searchable after this many seconds.
    #[arg(long, default_value_t = 300)]
    searchable_timeout: u64,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 120)]
    request_timeout: u64,
    /// Store every event in this account (platform admin key only). Without it the admin key routes each event
    /// by the account in its `logSourceCRN`, and the generator's accounts do not exist on a fresh server.
    #[arg(long)]
    pub(crate) account: Option<String>,
    /// How long one batch keeps being retried while the server answers 429 (its index is behind the log), in
    /// seconds; then it counts as failed. A real client waits too, so the wait counts in the ack latency.
    #[arg(long, default_value_t = 1800)]
    backpressure_timeout: u64,
}

/// Events grouped into request bodies.
#[derive(Default)]
pub(crate) struct Batches {
    bodies: Vec<Bytes>,
    /// Events in each body.
    counts: Vec<usize>,
    /// Bytes of the events of each body, newlines excluded.
    raw: Vec<u64>,
    /// The key each body is sent with, when not the client's (an account's own key).
    keys: Vec<Option<Arc<str>>>,
}

impl Batches {
    pub(crate) fn events(&self) -> u64 {
        self.counts.iter().map(|count| *count as u64).sum()
    }

    fn from_lines<'a>(lines: impl Iterator<Item = &'a str>, batch: usize) -> Batches {
        let mut batches = Batches::default();
        let (mut body, mut count, mut raw) = (Vec::new(), 0, 0u64);
        for line in lines.map(str::trim).filter(|line| !line.is_empty()) {
            body.extend_from_slice(line.as_bytes());
            body.push(b'\n');
            count += 1;
            raw += line.len() as u64;
            if count == batch {
                batches.push(std::mem::take(&mut body), count, raw, None);
                (count, raw) = (0, 0);
            }
        }
        if count > 0 {
            batches.push(body, count, raw, None);
        }
        batches
    }

    fn push(&mut self, body: Vec<u8>, count: usize, raw: u64, key: Option<Arc<str>>) {
        self.bodies.push(Bytes::from(body));
        self.counts.push(count);
        self.raw.push(raw);
        self.keys.push(key);
    }

    /// Whether the bodies go to many accounts, each with its key.
    pub(crate) fn has_tenants(&self) -> bool {
        self.keys.iter().any(Option::is_some)
    }

    /// Generates `spec.count` events into bodies of `batch`, on every core (event i depends on i only).
    pub(crate) fn generate(spec: &generate::Spec, batch: usize) -> Batches {
        let batch = batch.max(1) as u64;
        let bodies: Vec<(Option<Arc<str>>, Vec<u64>)> = (0..spec.count.div_ceil(batch))
            .map(|k| (None, (k * batch..((k + 1) * batch).min(spec.count)).collect()))
            .collect();
        Batches::generate_bodies(spec, bodies)
    }

    /// Generates `spec.count` events for as many accounts as `keys`: event i belongs to account i mod N, and
    /// each account's events go in bodies of `batch` sent with its key. The bodies of the accounts are
    /// interleaved, so every account sends throughout the load.
    pub(crate) fn generate_for_accounts(spec: &generate::Spec, batch: usize, keys: &[String]) -> Batches {
        let tenants = keys.len().max(1) as u64;
        let batch = batch.max(1) as u64;
        let per_account: Vec<Vec<u64>> =
            (0..tenants).map(|tenant| (tenant..spec.count).step_by(tenants as usize).collect()).collect();
        let keys: Vec<Arc<str>> = keys.iter().map(|key| Arc::from(key.as_str())).collect();
        let rounds = per_account.iter().map(|events| events.len() as u64).max().unwrap_or(0).div_ceil(batch);
        let mut bodies = Vec::new();
        for round in 0..rounds {
            for (tenant, events) in per_account.iter().enumerate() {
                let start = (round * batch) as usize;
                if start < events.len() {
                    let end = (start + batch as usize).min(events.len());
                    bodies.push((keys.get(tenant).cloned(), events[start..end].to_vec()));
                }
            }
        }
        Batches::generate_bodies(spec, bodies)
    }

    /// Generates the events of each body (its key and event indexes), on every core.
    fn generate_bodies(spec: &generate::Spec, plan: Vec<(Option<Arc<str>>, Vec<u64>)>) -> Batches {
        let total = plan.len() as u64;
        let plan = &plan;
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(8) as u64;
        let per_thread = total.div_ceil(threads.max(1));
        let parts: Vec<Batches> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|thread| {
                    scope.spawn(move || {
                        let mut part = Batches::default();
                        let first = thread * per_thread;
                        for (key, indexes) in
                            plan.iter().take((first + per_thread).min(total) as usize).skip(first as usize)
                        {
                            let mut body = Vec::with_capacity(indexes.len() * 1200);
                            let mut raw = 0;
                            for index in indexes {
                                let line = generate::event(spec, *index);
                                raw += line.len() as u64;
                                body.extend_from_slice(line.as_bytes());
                                body.push(b'\n');
                            }
                            part.push(body, indexes.len(), raw, key.clone());
                        }
                        part
                    })
                })
                .collect();
            // A generator thread only panics on a bug; the empty part then shows as missing events.
            handles.into_iter().map(|handle| handle.join().unwrap_or_default()).collect()
        });
        let mut all = Batches::default();
        for part in parts {
            all.bodies.extend(part.bodies);
            all.counts.extend(part.counts);
            all.raw.extend(part.raw);
            all.keys.extend(part.keys);
        }
        all
    }
}

/// The events of `--events`: a file, else a number to generate.
fn load_events(events: &str, data_set: &DataSet, batch: usize) -> anyhow::Result<Batches> {
    let path = Path::new(events);
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(Batches::from_lines(text.lines(), batch.max(1)));
    }
    let count: u64 = events
        .replace('_', "")
        .parse()
        .map_err(|_| anyhow!("--events {events:?}: no such file, and not a number of events to generate"))?;
    Ok(Batches::generate(&data_set.spec(count, acta_server::now_ns()), batch))
}

/// What became of the load.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IngestReport {
    /// `closed` or `open`.
    pub(crate) mode: &'static str,
    pub(crate) target_rate: Option<f64>,
    pub(crate) clients: usize,
    pub(crate) batch: usize,
    pub(crate) events_sent: u64,
    pub(crate) batches: usize,
    /// Request body bytes sent (NDJSON, newlines included).
    pub(crate) body_bytes: u64,
    pub(crate) accepted: u64,
    pub(crate) duplicates: u64,
    pub(crate) rejected: u64,
    /// Events of requests that failed (no per-event answer), after retries.
    pub(crate) failed_events: u64,
    pub(crate) failed_batches: u64,
    /// Requests answered 429 (index behind the log) and sent again.
    pub(crate) throttled_retries: u64,
    /// From the first send (open loop: the first due time) to the last answer.
    pub(crate) elapsed_s: f64,
    /// Events answered (accepted, duplicate or rejected) per second.
    pub(crate) events_per_s: f64,
    pub(crate) accepted_per_s: f64,
    /// Body megabytes (10^6 bytes) per second.
    pub(crate) mb_per_s: f64,
    /// Per request: from its send (open loop: its due time) to its answer.
    pub(crate) ack_latency: Latency,
    pub(crate) searchable: Searchable,
    /// Accepted events per second until the last one was searchable: ingest with indexing keeping up.
    pub(crate) sustained_searchable_per_s: Option<f64>,
    pub(crate) errors: Vec<String>,
    pub(crate) storage: Option<Storage>,
    pub(crate) server_memory: Option<Memory>,
    /// Bytes of the accepted events as sent (estimated per batch when some were not accepted).
    #[serde(skip)]
    pub(crate) accepted_raw_bytes: u64,
}

/// When the last accepted event became searchable.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct Searchable {
    /// Events counted before the load (`/v1/events/count` of everything).
    pub(crate) before: Option<u64>,
    /// `before + accepted`.
    pub(crate) expected: Option<u64>,
    /// The last count seen.
    pub(crate) counted: Option<u64>,
    /// Seconds from the last answer until the count reached `expected`; absent if it did not in time.
    pub(crate) after_s: Option<f64>,
    pub(crate) note: String,
}

pub(crate) async fn command(args: IngestArgs, connection: &Connection) -> anyhow::Result<ExitCode> {
    let client = Arc::new(connection.client()?);
    let mut nodes = vec![client.clone()];
    for url in &args.node_urls {
        nodes.push(Arc::new(client.for_url(url)?));
    }
    let batches = load_events(&args.events, &args.data_set, args.load.batch)?;
    let mut report = run(&nodes, Arc::new(batches), &args.load).await?;
    report.server_memory = server_memory(&client, args.probe.pid).await;
    if report.server_memory.is_none() {
        eprintln!("warning: no memory figures (neither /proc/<pid>/status with --pid nor the server's /metrics)");
    }
    if let Some(data) = &args.probe.data {
        let events = report.searchable.counted.unwrap_or(report.accepted);
        // The raw-byte ratio is only meaningful when the directory holds nothing but this load's events.
        let fresh = report.searchable.before == Some(0);
        let raw = fresh.then_some(report.accepted_raw_bytes);
        let note = if fresh { "" } else { "the directory held other events: no ratio to raw bytes" };
        report.storage = Some(Storage::measure(data, events, raw, note)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    let clean = report.failed_events == 0 && report.rejected == 0;
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The counts a batch answer carries (its per-event `results` are not needed here).
#[derive(Deserialize)]
struct Answer {
    accepted: u64,
    rejected: u64,
    duplicates: u64,
}

enum Fate {
    Answered(Answer),
    Failed(String),
}

struct Sent {
    batch: usize,
    latency: Duration,
    fate: Fate,
    throttled: u32,
    answered_at: Instant,
}

/// Sends every batch, round-robin to the `nodes` (one server, or the nodes of a cluster), and waits until the last
/// accepted event is searchable on every node.
pub(crate) async fn run(nodes: &[Arc<Client>], batches: Arc<Batches>, load: &LoadArgs) -> anyhow::Result<IngestReport> {
    let client = nodes.first().context("no server to load")?;
    let clients = load.clients.max(1);
    let rate = load.rate.filter(|rate| *rate > 0.0);
    let before = count_all(client).await.ok();

    let progress = ProgressBar::new(batches.events());
    progress.set_style(crate::output::progress_style("{bar:40} {pos}/{len} events {rate} {eta}"));
    let next = Arc::new(AtomicUsize::new(0));
    let timeout = Duration::from_secs(load.request_timeout.max(1));
    let path = Arc::new(match &load.account {
        Some(account) => format!("/v1/events?account={account}"),
        None => "/v1/events".to_string(),
    });
    let backpressure = Duration::from_secs(load.backpressure_timeout);
    // Due times count from here in open loop; both modes measure elapsed time from here.
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (batches, next, progress) = (batches.clone(), next.clone(), progress.clone());
            let nodes = nodes.to_vec();
            let path = path.clone();
            tokio::spawn(async move {
                let mut sent = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = batches.bodies.get(k) else { break };
                    let events_before: usize = k * batches.counts.first().copied().unwrap_or(0);
                    let due = match rate {
                        Some(rate) => start + Duration::from_secs_f64(events_before as f64 / rate),
                        None => start.max(tokio::time::Instant::now()),
                    };
                    tokio::time::sleep_until(due).await;
                    let measured_from = if rate.is_some() { due } else { tokio::time::Instant::now() };
                    let key = batches.keys.get(k).cloned().flatten();
                    let client = &nodes[k % nodes.len()];
                    let (fate, throttled) =
                        send(client, &path, key.as_deref(), body.clone(), timeout, backpressure).await;
                    let answered_at = tokio::time::Instant::now();
                    progress.inc(batches.counts[k] as u64);
                    sent.push(Sent {
                        batch: k,
                        latency: answered_at - measured_from,
                        fate,
                        throttled,
                        answered_at: answered_at.into_std(),
                    });
                }
                sent
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.context("a load client failed")?);
    }
    progress.finish_and_clear();
    let last_answer = all.iter().map(|sent| sent.answered_at).max().unwrap_or_else(Instant::now);
    let elapsed = last_answer.saturating_duration_since(start.into_std()).max(Duration::from_micros(1));

    let mut report = IngestReport {
        mode: if rate.is_some() { "open" } else { "closed" },
        target_rate: rate,
        clients,
        batch: batches.counts.first().copied().unwrap_or(load.batch),
        events_sent: batches.events(),
        batches: batches.bodies.len(),
        body_bytes: batches.bodies.iter().map(|body| body.len() as u64).sum(),
        accepted: 0,
        duplicates: 0,
        rejected: 0,
        failed_events: 0,
        failed_batches: 0,
        throttled_retries: 0,
        elapsed_s: elapsed.as_secs_f64(),
        events_per_s: 0.0,
        accepted_per_s: 0.0,
        mb_per_s: 0.0,
        ack_latency: Latency::default(),
        searchable: Searchable::default(),
        sustained_searchable_per_s: None,
        errors: Vec::new(),
        storage: None,
        server_memory: None,
        accepted_raw_bytes: 0,
    };
    let mut latencies = Vec::with_capacity(all.len());
    for sent in all {
        latencies.push(sent.latency);
        report.throttled_retries += u64::from(sent.throttled);
        let count = batches.counts[sent.batch] as u64;
        match sent.fate {
            Fate::Answered(answer) => {
                report.accepted += answer.accepted;
                report.duplicates += answer.duplicates;
                report.rejected += answer.rejected;
                report.accepted_raw_bytes += batches.raw[sent.batch] * answer.accepted / count.max(1);
            }
            Fate::Failed(error) => {
                report.failed_batches += 1;
                report.failed_events += count;
                if report.errors.len() < MAX_ERRORS_KEPT {
                    report.errors.push(error);
                }
            }
        }
    }
    let seconds = elapsed.as_secs_f64();
    report.events_per_s = (report.accepted + report.duplicates + report.rejected) as f64 / seconds;
    report.accepted_per_s = report.accepted as f64 / seconds;
    report.mb_per_s = report.body_bytes as f64 / 1e6 / seconds;
    report.ack_latency = Latency::of(latencies);
    // Every node must find every event: the last node to get there says when they are searchable.
    for node in nodes {
        report.searchable = if batches.has_tenants() {
            wait_index_lag(node, report.accepted, last_answer, load.searchable_timeout).await
        } else {
            wait_searchable(node, before, report.accepted, last_answer, load.searchable_timeout).await
        };
        if report.searchable.after_s.is_none() {
            break;
        }
    }
    report.sustained_searchable_per_s =
        report.searchable.after_s.map(|after| report.accepted as f64 / (seconds + after).max(1e-6));
    Ok(report)
}

/// Sends one batch, retrying while the server answers 429 (the index is behind the log, nothing was stored), for
/// at most `backpressure` in all.
async fn send(
    client: &Client,
    path: &str,
    key: Option<&str>,
    body: Bytes,
    timeout: Duration,
    backpressure: Duration,
) -> (Fate, u32) {
    let mut throttled = 0;
    let first_sent = Instant::now();
    loop {
        let request = match key {
            Some(key) => client.post_as(path, key),
            None => client.post(path),
        };
        let request = request.header("content-type", "application/x-ndjson").timeout(timeout).body(body.clone());
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return (Fate::Failed(format!("request failed: {error}")), throttled),
        };
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or(1)
                .clamp(1, 10);
            let wait = Duration::from_secs(wait);
            if first_sent.elapsed() + wait <= backpressure {
                throttled += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return (Fate::Failed(format!("reading the answer: {error}")), throttled),
        };
        // A batch whose every event was rejected is answered 400 with the same per-event body.
        if let Ok(answer) = serde_json::from_slice::<Answer>(&bytes) {
            return (Fate::Answered(answer), throttled);
        }
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        return (Fate::Failed(api_error_text(status, &value)), throttled);
    }
}

/// For events spread over many accounts, which no one count covers: waits until the server's index lag
/// (`acta_index_lag_events` in `/metrics`: durable events not yet searchable, over every instance) is 0.
async fn wait_index_lag(client: &Client, accepted: u64, last_answer: Instant, timeout_s: u64) -> Searchable {
    let deadline = last_answer + Duration::from_secs(timeout_s);
    let mut searchable = Searchable {
        note: "measured by the server's index lag (GET /metrics), since the events are in many accounts".into(),
        ..Searchable::default()
    };
    loop {
        let lag = match client.send(client.get("/metrics")).await {
            Ok(response) => response.text().await.ok().and_then(|text| metric(&text, "acta_index_lag_events")),
            Err(_) => None,
        };
        if lag == Some(0.0) {
            searchable.after_s = Some(last_answer.elapsed().as_secs_f64());
            searchable.expected = Some(accepted);
            return searchable;
        }
        if Instant::now() >= deadline {
            searchable.note = format!("the index lag was not 0 within {timeout_s} s of the last answer");
            return searchable;
        }
        tokio::time::sleep(SEARCHABLE_POLL).await;
    }
}

/// The value of an unlabelled sample in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

pub(crate) async fn count_all(client: &Client) -> anyhow::Result<u64> {
    let answer = client.json(client.get("/v1/events/count").query(&[("q", "")])).await?;
    answer["count"].as_u64().ok_or_else(|| anyhow!("the count answer has no count: {answer}"))
}

async fn wait_searchable(
    client: &Client,
    before: Option<u64>,
    accepted: u64,
    last_answer: Instant,
    timeout_s: u64,
) -> Searchable {
    let Some(before) = before else {
        return Searchable {
            note: "the key cannot count events (GET /v1/events/count failed before the load): not measured".into(),
            ..Searchable::default()
        };
    };
    let expected = before + accepted;
    let deadline = last_answer + Duration::from_secs(timeout_s);
    let mut searchable = Searchable { before: Some(before), expected: Some(expected), ..Searchable::default() };
    loop {
        match count_all(client).await {
            Ok(count) => {
                searchable.counted = Some(count);
                if count >= expected {
                    searchable.after_s = Some(last_answer.elapsed().as_secs_f64());
                    return searchable;
                }
            }
            Err(error) => searchable.note = format!("counting failed: {error:#}"),
        }
        if Instant::now() >= deadline {
            searchable.note = format!("not all searchable within {timeout_s} s of the last answer");
            return searchable;
        }
        tokio::time::sleep(SEARCHABLE_POLL).await;
    }
}

pub(crate) fn print(report: &IngestReport) {
    let loop_kind = match report.target_rate {
        Some(rate) => format!("open loop at {rate:.0} events/s"),
        None => "closed loop".to_string(),
    };
    println!(
        "ingest: {} events in {} requests of {}, {} clients, {loop_kind}",
        report.events_sent, report.batches, report.batch, report.clients
    );
    println!(
        "  {:<13}{:.0} events/s, {:.1} MB/s ({:.2} s)",
        "throughput", report.events_per_s, report.mb_per_s, report.elapsed_s
    );
    println!(
        "  {:<13}{} accepted, {} duplicates, {} rejected, {} failed; {} retries after 429",
        "events", report.accepted, report.duplicates, report.rejected, report.failed_events, report.throttled_retries
    );
    let l = &report.ack_latency;
    println!(
        "  {:<13}p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        "ack latency", l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
    );
    match (report.searchable.after_s, report.sustained_searchable_per_s) {
        (Some(after), Some(sustained)) => println!(
            "  {:<13}{after:.2} s after the last answer; {sustained:.0} events/s from first send to all searchable",
            "searchable"
        ),
        _ => println!("  {:<13}{}", "searchable", report.searchable.note),
    }
    for error in &report.errors {
        println!("  {:<13}{error}", "error");
    }
    if let Some(storage) = &report.storage {
        storage.print("storage");
    }
    print_memory(report.server_memory.as_ref());
}
