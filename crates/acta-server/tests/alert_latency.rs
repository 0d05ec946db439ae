//! Event-to-webhook latency on loopback, for `docs/benchmarks.md`. Ignored by default (it measures, it does
//! not check behaviour, and means something only in release mode):
//!
//! `cargo test --release -p acta-server --test alert_latency -- --ignored --nocapture`
//!
//! One immediate presence alert (threshold 1) with a webhook to a receiver on 127.0.0.1; windows are shortened
//! to 1 ms (`window_divisor`) so that every event opens a window of its own and fires. Events are sent one at a
//! time, 20 ms apart; the latency of each is from just before its `POST /v1/events` to the webhook's arrival.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use acta_server::AlertSettings;
use common::receivers::HttpReceiver;
use common::{ADMIN_KEY, TestServer, event};
use serde_json::json;

const EVENTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release mode with --ignored --nocapture"]
async fn event_to_webhook_latency_on_loopback() {
    let receiver = HttpReceiver::start().await;
    let settings = AlertSettings {
        webhook_allow: vec!["127.0.0.0/8".parse().unwrap()],
        window_divisor: 30_000,
        ..AlertSettings::default()
    };
    let server = TestServer::start_with_alerts(settings).await;
    let post = |path: &str, body: serde_json::Value| {
        server.http.post(format!("{}{path}", server.url)).bearer_auth(ADMIN_KEY).json(&body).send()
    };
    let view: serde_json::Value = post("/v1/views", json!({"name": "latency", "query": "action:svc.probe.ping"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let channel =
        json!({"type": "webhook", "url": format!("{}/hook", receiver.url), "body": {"id": "{{first_line_object}}"}});
    let alert = json!({"view": view["id"], "kind": "presence", "threshold": 1, "window": "30s", "channels": [channel]});
    assert_eq!(post("/v1/alerts", alert).await.unwrap().status().as_u16(), 201);

    let mut sent = Vec::with_capacity(EVENTS);
    let mut answers = Vec::with_capacity(EVENTS);
    for n in 0..EVENTS {
        let probe = event("svc.probe.ping", json!({"id": format!("probe-{n}")}));
        let started = Instant::now();
        let response = post("/v1/events", json!([probe])).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        answers.push(started.elapsed());
        sent.push((format!("probe-{n}"), started));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let requests = receiver.wait_for(EVENTS, Duration::from_secs(30)).await;
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(id, started)| {
            let arrived = requests.iter().find(|r| r.json()["id"]["id"].as_str() == Some(id.as_str()))?;
            Some(arrived.at.duration_since(*started))
        })
        .collect();
    assert_eq!(latencies.len(), EVENTS, "{} of {EVENTS} webhooks arrived", latencies.len());
    latencies.sort();
    answers.sort();
    let pick = |sorted: &[Duration], p: f64| sorted[((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!(
        "event-to-webhook over {EVENTS} events: p50 {:?}, p99 {:?}, max {:?}; ingest answer p50 {:?}, p99 {:?}",
        pick(&latencies, 0.50),
        pick(&latencies, 0.99),
        latencies[EVENTS - 1],
        pick(&answers, 0.50),
        pick(&answers, 0.99),
    );
    server.stop().await;
}
