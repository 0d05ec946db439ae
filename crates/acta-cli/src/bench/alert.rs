//! `acta bench alert`: the latency from an ingest answer to the webhook of an immediate alert.
//!
//! The tool starts an HTTP receiver on 127.0.0.1, creates views and immediate presence alerts (threshold 1)
//! whose webhook goes to it, sends probe events one at a time at a steady pace, and matches each webhook to its
//! event by the event id the body template carries (`{{first_line_object}}`). What it reports: percentiles of
//! the time from each ingest answer to its webhook's arrival (negative when the webhook came first, which
//! happens: the live bus is fed right after the log's sync, before the answer is written), the same from just
//! before each send, the ingest answers' own latency, and the notifications that never came.
//!
//! A presence alert fires once per window (at least 30 s), so one alert cannot fire for every event of a
//! steady stream. The tool therefore rotates over as many alerts as it takes for each to see at most one
//! probe per window: `ceil((30 s + margin) / interval)`, at most one per event. Each has its own view, matching
//! only its probes by `target.name`. They are deleted at the end (best effort).
//!
//! At scale (`--alert-accounts N --alert-alerts M --alert-load-rate R`): N accounts (`alert-bench-0000`, ...,
//! reused when they exist) hold the M alerts in turn, probes go to their alert's account, and background events
//! that match no alert are sent meanwhile at R events/s (open loop, bodies of `--alert-load-batch`) spread over
//! the accounts, so the engine matches every event against its account's alerts while probes are timed.
//!
//! The server must allow webhooks to the receiver: `--webhook-allow 127.0.0.1/32` (or `ACTA_WEBHOOK_ALLOW`).

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Latency, generate};
use crate::client::{Client, Connection};

/// The shortest alert window (`30s`) and the margin kept so that two probes of one alert never share a window.
const WINDOW: Duration = Duration::from_secs(30);
const WINDOW_MARGIN: Duration = Duration::from_secs(2);
/// Longest pause allowed between two probes (a slower pace measures nothing more).
const MAX_INTERVAL: Duration = Duration::from_secs(60);

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct AlertArgs {
    /// Probe events to send (one notification expected per event).
    #[arg(id = "alert_events", long = "alert-events", default_value_t = 200)]
    pub(crate) events: usize,
    /// Milliseconds between two probe events.
    #[arg(id = "alert_interval_ms", long = "alert-interval-ms", default_value_t = 50)]
    pub(crate) interval_ms: u64,
    /// How long to wait for webhooks after the last probe, in seconds; those still missing then are lost.
    #[arg(id = "alert_wait", long = "alert-wait", default_value_t = 15)]
    pub(crate) wait_s: u64,
    /// Spread the alerts over this many accounts (created by the tool; platform admin key only). 0: one
    /// account (the key's, or `--account`).
    #[arg(id = "alert_accounts", long = "alert-accounts", default_value_t = 0)]
    pub(crate) accounts: usize,
    /// At least this many alerts (more when the pace needs them).
    #[arg(id = "alert_alerts", long = "alert-alerts", default_value_t = 0)]
    pub(crate) alerts: usize,
    /// Background events per second, matching no alert, spread over the accounts while probing. 0: none.
    #[arg(id = "alert_load_rate", long = "alert-load-rate", default_value_t = 0.0)]
    pub(crate) load_rate: f64,
    /// Events per background request.
    #[arg(id = "alert_load_batch", long = "alert-load-batch", default_value_t = 100)]
    pub(crate) load_batch: usize,
}

#[derive(clap::Args)]
pub(crate) struct AlertCommandArgs {
    #[command(flatten)]
    pub(crate) alert: AlertArgs,
    /// The account to create the views and alerts in and to send the probes to (platform admin key only).
    #[arg(long)]
    account: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Signed percentiles in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub(crate) struct SignedLatency {
    pub(crate) samples: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) min_ms: f64,
}

impl SignedLatency {
    fn of(mut samples: Vec<f64>) -> SignedLatency {
        if samples.is_empty() {
            return SignedLatency::default();
        }
        samples.sort_unstable_by(f64::total_cmp);
        let rank = |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
        SignedLatency {
            samples: samples.len(),
            p50_ms: rank(0.50),
            p90_ms: rank(0.90),
            p99_ms: rank(0.99),
            max_ms: samples[samples.len() - 1],
            min_ms: samples[0],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct AlertReport {
    pub(crate) events: usize,
    pub(crate) interval_ms: u64,
    /// Alerts (each with its own view) the probes rotate over.
    pub(crate) alerts: usize,
    /// Probes the server accepted.
    pub(crate) accepted: usize,
    /// From each ingest answer to its webhook's arrival (negative: the webhook came first).
    pub(crate) answer_to_webhook: SignedLatency,
    /// From just before each `POST /v1/events` to its webhook's arrival.
    pub(crate) send_to_webhook: Latency,
    /// The ingest requests' own latency.
    pub(crate) ingest_answer: Latency,
    /// Accepted probes whose webhook did not arrive within the wait.
    pub(crate) lost: usize,
    /// Webhooks that named no probe of this run, or a probe a second time.
    pub(crate) unexpected: usize,
    /// Accounts the alerts were spread over.
    pub(crate) accounts: usize,
    /// The background load: asked events/s, events accepted, failed requests, events/s reached.
    pub(crate) load: Option<LoadReport>,
    pub(crate) note: String,
}

pub(crate) async fn command(args: AlertCommandArgs, connection: &Connection) -> anyhow::Result<ExitCode> {
    let client = connection.client()?;
    let report = run(&client, &args.alert, args.account.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(if report.lost == 0 && report.accepted == report.events { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The background load while probing.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct LoadReport {
    pub(crate) rate: f64,
    pub(crate) batch: usize,
    pub(crate) sent: u64,
    pub(crate) accepted: u64,
    pub(crate) failed_requests: u64,
    pub(crate) events_per_s: f64,
}

/// What the receiver saw: event id -> arrival times.
type Arrivals = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

/// The webhook receiver on 127.0.0.1; stops when dropped.
struct Receiver {
    url: String,
    arrivals: Arrivals,
    /// Requests that carried no event id.
    anonymous: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Receiver> {
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the webhook receiver on 127.0.0.1")?;
        let url = format!("http://{}/acta-bench-hook", listener.local_addr().context("receiver address")?);
        let arrivals: Arrivals = Arc::default();
        let anonymous: Arc<Mutex<usize>> = Arc::default();
        let state = (arrivals.clone(), anonymous.clone());
        let app = axum::Router::new().fallback(record).with_state(state);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("warning: the webhook receiver stopped: {error}");
            }
        });
        Ok(Receiver { url, arrivals, anonymous, task })
    }

    fn arrived(&self) -> usize {
        lock(&self.arrivals).len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    axum::extract::State((arrivals, anonymous)): axum::extract::State<(Arrivals, Arc<Mutex<usize>>)>,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    // The time is taken before parsing, so that it is the arrival of the whole request.
    let at = Instant::now();
    let id =
        serde_json::from_slice::<Value>(&body).ok().and_then(|body| body["event"]["id"].as_str().map(str::to_string));
    match id {
        Some(id) => lock(&arrivals).entry(id).or_default().push(at),
        None => *lock(&anonymous) += 1,
    }
    axum::http::StatusCode::NO_CONTENT
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many alerts a pace needs so that each sees at most one probe per window.
pub(crate) fn alerts_needed(events: usize, interval: Duration) -> usize {
    let span = (WINDOW + WINDOW_MARGIN).as_secs_f64();
    let per_interval = interval.as_secs_f64().max(1e-3);
    ((span / per_interval).ceil() as usize).clamp(1, events.max(1))
}

/// Runs the measurement against `client`'s server.
pub(crate) async fn run(client: &Client, args: &AlertArgs, account: Option<&str>) -> anyhow::Result<AlertReport> {
    if args.events == 0 {
        return Err(anyhow!("--alert-events must be at least 1"));
    }
    let interval = Duration::from_millis(args.interval_ms).min(MAX_INTERVAL);
    let receiver = Receiver::start().await?;
    let run_tag = format!("{:x}", acta_server::now_ns());
    let accounts: Vec<Option<String>> = if args.accounts > 0 {
        create_accounts(client, args.accounts).await?.into_iter().map(Some).collect()
    } else {
        vec![account.map(str::to_string)]
    };
    let alerts = alerts_needed(args.events, interval).max(args.alerts).max(accounts.len());
    let param = |slot: usize| {
        accounts[slot % accounts.len()].as_ref().map(|account| format!("?account={account}")).unwrap_or_default()
    };

    let mut created: Vec<(String, String)> = Vec::with_capacity(alerts);
    let setup = create_alerts(client, &receiver.url, &run_tag, alerts, &accounts, &mut created).await;
    let result = match setup {
        Ok(()) => {
            let load = background_load(client, args, interval, &accounts);
            let probes = probe(client, args, interval, &receiver, &run_tag, alerts, &param);
            let (load, probes) = tokio::join!(load, probes);
            probes.map(|mut report| {
                report.load = load;
                report
            })
        }
        Err(error) => Err(error),
    };
    for (slot, (alert, view)) in created.iter().enumerate() {
        // Best effort: the measurement stands even if cleaning up fails.
        let _ = client.send(client.delete(&format!("/v1/alerts/{alert}{}", param(slot)))).await;
        let _ = client.send(client.delete(&format!("/v1/views/{view}{}", param(slot)))).await;
    }
    let mut report = result?;
    report.alerts = alerts;
    report.accounts = accounts.len();
    Ok(report)
}

/// Creates (or reuses) `n` accounts `alert-bench-0000`, ...; returns their ids.
async fn create_accounts(client: &Client, n: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for k in 0..n {
        let id = format!("alert-bench-{k:04}");
        let body = json!({"id": id, "name": format!("Alert bench {k}")});
        let status = client.post("/v1/accounts").json(&body).send().await.context("creating an account")?.status();
        if status != reqwest::StatusCode::CREATED && status != reqwest::StatusCode::CONFLICT {
            return Err(anyhow!("creating account {id}: HTTP {status}"));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Sends events that match no alert at `args.load_rate` events/s, spread over `accounts`, for as long as the
/// probes take; `None` without a rate.
async fn background_load(
    client: &Client,
    args: &AlertArgs,
    interval: Duration,
    accounts: &[Option<String>],
) -> Option<LoadReport> {
    if args.load_rate <= 0.0 {
        return None;
    }
    let batch = args.load_batch.max(1);
    let duration = interval.as_secs_f64() * args.events as f64;
    let bodies_needed = ((args.load_rate * duration) / batch as f64).ceil() as u64;
    let spec = generate::Spec {
        count: bodies_needed * batch as u64,
        days: 1,
        accounts: 1,
        seed: acta_server::now_ns().unsigned_abs(),
        end_ns: acta_server::now_ns(),
    };
    let bodies: Vec<bytes::Bytes> = tokio::task::spawn_blocking(move || {
        (0..bodies_needed)
            .map(|k| {
                let mut body = Vec::with_capacity(batch * 1200);
                for i in 0..batch as u64 {
                    body.extend_from_slice(generate::event(&spec, k * batch as u64 + i).as_bytes());
                    body.push(b'\n');
                }
                bytes::Bytes::from(body)
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let start = tokio::time::Instant::now();
    let per_body = Duration::from_secs_f64(batch as f64 / args.load_rate);
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (bodies, next) = (&bodies, &next);
            async move {
                let (mut accepted, mut failed) = (0u64, 0u64);
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = bodies.get(k) else { break };
                    tokio::time::sleep_until(start + per_body * u32::try_from(k).unwrap_or(u32::MAX)).await;
                    let path = match &accounts[k % accounts.len()] {
                        Some(account) => format!("/v1/events?account={account}"),
                        None => "/v1/events".to_string(),
                    };
                    let request = client.post(&path).header("content-type", "application/x-ndjson").body(body.clone());
                    match client.json(request).await {
                        Ok(answer) => accepted += answer["accepted"].as_u64().unwrap_or(0),
                        Err(_) => failed += 1,
                    }
                }
                (accepted, failed)
            }
        })
        .collect();
    let mut report =
        LoadReport { rate: args.load_rate, batch, sent: bodies.len() as u64 * batch as u64, ..Default::default() };
    for (accepted, failed) in futures::future::join_all(workers).await {
        report.accepted += accepted;
        report.failed_requests += failed;
    }
    report.events_per_s = report.accepted as f64 / start.elapsed().as_secs_f64().max(1e-6);
    Some(report)
}

/// The target name of slot `slot`'s probes. It differs from the view's and alert's names, which are the target
/// names of their own creation's audit events: those must not fire the alert.
fn probe_name(run_tag: &str, slot: usize) -> String {
    format!("acta-bench-probe-{run_tag}-{slot}")
}

async fn create_alerts(
    client: &Client,
    receiver_url: &str,
    run_tag: &str,
    alerts: usize,
    accounts: &[Option<String>],
    created: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    for slot in 0..alerts {
        let account = accounts[slot % accounts.len()].as_deref();
        let name = format!("acta bench alert {run_tag} {slot}");
        let mut view = json!({"name": name, "query": format!("target.name:=={}", probe_name(run_tag, slot))});
        if let Some(account) = account {
            view["account"] = json!(account);
        }
        let view = client.json(client.post("/v1/views").json(&view)).await.context("creating a view")?;
        let view_id = view["id"].as_str().ok_or_else(|| anyhow!("the view answer has no id"))?.to_string();
        let channel = json!({"type": "webhook", "url": receiver_url, "body": {"event": "{{first_line_object}}"}});
        let mut alert = json!({
            "view": view_id, "kind": "presence", "threshold": 1, "window": "30s", "immediate": true,
            "at_end": false, "channels": [channel],
        });
        if let Some(account) = account {
            alert["account"] = json!(account);
        }
        let answer = client.send(client.post("/v1/alerts").json(&alert)).await;
        let alert = match answer {
            Ok(response) => response.json::<Value>().await.context("reading the alert answer")?,
            Err(error) => {
                let _ = client.send(client.delete(&format!("/v1/views/{view_id}"))).await;
                // The usual cause: the server refuses a webhook to loopback when the alert is saved, unless the
                // operator allows it.
                return Err(error.context(
                    "creating the alert (the server must allow webhooks to 127.0.0.1: --webhook-allow 127.0.0.1/32)",
                ));
            }
        };
        let alert_id = alert["id"].as_str().ok_or_else(|| anyhow!("the alert answer has no id"))?.to_string();
        created.push((alert_id, view_id));
    }
    Ok(())
}

async fn probe(
    client: &Client,
    args: &AlertArgs,
    interval: Duration,
    receiver: &Receiver,
    run_tag: &str,
    alerts: usize,
    param: &dyn Fn(usize) -> String,
) -> anyhow::Result<AlertReport> {
    // The same realistic event as `bench generate`, made a probe by its id and target name.
    let spec = generate::Spec { count: 1, days: 1, accounts: 1, seed: 1, end_ns: acta_server::now_ns() };
    let template: Value = serde_json::from_str(&generate::event(&spec, 0)).context("the generated event")?;
    // (id, sent, answered) of each accepted probe.
    let mut sent: Vec<(String, Instant, Instant)> = Vec::with_capacity(args.events);
    let mut notes = Vec::new();
    let start = Instant::now();
    for n in 0..args.events {
        // A steady pace: probe n is due at start + n * interval, whatever the previous one took.
        let due = start + interval * u32::try_from(n).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        let id = format!("acta-bench-alert-{run_tag}-event-{n}");
        let mut event = template.clone();
        event["id"] = json!(id);
        event["eventTime"] = json!(acta_cadf::format_time(acta_server::now_ns()));
        event["target"]["name"] = json!(probe_name(run_tag, n % alerts));
        // Without a logSourceCRN the probe is stored in the account of the key (or `--account`), where the
        // alerts are; the generator's CRN names accounts the server may not have.
        if let Some(fields) = event.as_object_mut() {
            fields.remove("logSourceCRN");
        }
        let path = format!("/v1/events{}", param(n % alerts));
        let before = Instant::now();
        let answer = client.json(client.post(&path).json(&json!([event]))).await;
        let answered = Instant::now();
        match answer {
            Ok(answer) if answer["accepted"].as_u64() == Some(1) => sent.push((id, before, answered)),
            Ok(answer) => notes.push(format!("probe {n} not accepted: {answer}")),
            Err(error) => notes.push(format!("probe {n}: {error:#}")),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(args.wait_s);
    while receiver.arrived() < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrivals = lock(&receiver.arrivals).clone();
    let mut from_answer = Vec::new();
    let mut from_send = Vec::new();
    let mut answers = Vec::new();
    let mut unexpected = *lock(&receiver.anonymous);
    let mut lost = 0;
    for (id, before, answered) in &sent {
        answers.push(answered.duration_since(*before));
        let Some(times) = arrivals.get(id) else {
            lost += 1;
            continue;
        };
        unexpected += times.len() - 1;
        let at = times[0];
        from_send.push(at.saturating_duration_since(*before));
        from_answer.push(if at >= *answered {
            at.duration_since(*answered).as_secs_f64() * 1000.0
        } else {
            -(answered.duration_since(at).as_secs_f64() * 1000.0)
        });
    }
    unexpected += arrivals.keys().filter(|id| !sent.iter().any(|(sent_id, _, _)| sent_id == *id)).count();
    notes.truncate(5);
    if !sent.is_empty() && lost == sent.len() {
        // A server refuses a webhook to loopback when the alert is saved; one that let it through (its allowlist
        // changed since, or a name resolved elsewhere) refuses it at send time and says so only in the history.
        notes.push(
            "no webhook arrived: does the server allow webhooks to 127.0.0.1 (--webhook-allow 127.0.0.1/32)?".into(),
        );
    }
    Ok(AlertReport {
        events: args.events,
        interval_ms: interval.as_millis() as u64,
        alerts,
        accepted: sent.len(),
        answer_to_webhook: SignedLatency::of(from_answer),
        send_to_webhook: Latency::of(from_send),
        ingest_answer: Latency::of(answers),
        lost,
        unexpected,
        accounts: 1,
        load: None,
        note: notes.join("; "),
    })
}

pub(crate) fn print(report: &AlertReport) {
    let a = &report.answer_to_webhook;
    println!(
        "alert: {} probes, one every {} ms, over {} immediate presence alerts with a webhook to 127.0.0.1",
        report.events, report.interval_ms, report.alerts
    );
    println!(
        "  {:<13}p50 {:.2} / p90 {:.2} / p99 {:.2} / max {:.2} ms (min {:.2}; negative: webhook before answer)",
        "answer->hook", a.p50_ms, a.p90_ms, a.p99_ms, a.max_ms, a.min_ms
    );
    let s = &report.send_to_webhook;
    println!(
        "  {:<13}p50 {:.2} / p90 {:.2} / p99 {:.2} / max {:.2} ms",
        "send->hook", s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
    );
    let i = &report.ingest_answer;
    println!("  {:<13}p50 {:.2} / p99 {:.2} ms", "ingest", i.p50_ms, i.p99_ms);
    println!(
        "  {:<13}{} accepted, {} notifications lost, {} unexpected",
        "delivery", report.accepted, report.lost, report.unexpected
    );
    if let Some(load) = &report.load {
        println!(
            "  {:<13}{} accounts; {:.0} events/s asked in bodies of {}, {:.0} reached, {} accepted, {} requests failed",
            "load", report.accounts, load.rate, load.batch, load.events_per_s, load.accepted, load.failed_requests
        );
    }
    if !report.note.is_empty() {
        println!("  {:<13}{}", "note", report.note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_alert_sees_at_most_one_probe_per_window() {
        assert_eq!(alerts_needed(200, Duration::from_millis(50)), 200);
        assert_eq!(alerts_needed(1000, Duration::from_millis(50)), 640);
        assert_eq!(alerts_needed(10, Duration::from_secs(40)), 1);
    }

    #[test]
    fn signed_percentiles_keep_negative_samples() {
        let latency = SignedLatency::of(vec![-1.0, 2.0, 3.0, 4.0]);
        assert_eq!((latency.p50_ms, latency.min_ms, latency.max_ms), (2.0, -1.0, 4.0));
    }
}
