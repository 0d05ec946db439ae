//! `GET /metrics`: Prometheus text with the process gauges and Acta's counters; open by default, the platform
//! admin key only with `metrics_require_key`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use acta_server::{AlertSettings, Limits};
use common::receivers::HttpReceiver;
use common::{ADMIN_KEY, TestServer, event};
use serde_json::json;

/// The samples of an exposition, by name with labels (`acta_log_durable_seq{instance="default"}`).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').unwrap();
            (name.to_string(), value.parse::<f64>().unwrap())
        })
        .collect()
}

async fn scrape(server: &TestServer) -> (u16, String, String) {
    let response = server.http.get(format!("{}/metrics", server.url)).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_accepted_rejected_and_duplicate_events_and_show_the_durable_log() {
    let server = TestServer::start().await;
    let first = event("iam.key.create", json!({"id": "metrics-1"}));
    let second = event("iam.key.delete", json!({"id": "metrics-2"}));
    let (status, _) = server.send(&[first.clone(), second]).await;
    assert_eq!(status, 200);
    let (status, answer) = server.send(&[first, json!({"action": "broken"})]).await;
    assert_eq!(status, 400, "nothing stored: {answer}");
    server.wait_searchable(2).await;

    let (status, content_type, text) = scrape(&server).await;
    assert_eq!(status, 200, "open without a key by default: {text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let values = samples(&text);
    assert_eq!(values["acta_events_accepted_total"], 2.0, "{text}");
    assert_eq!(values["acta_events_rejected_total"], 1.0, "{text}");
    assert_eq!(values["acta_events_duplicate_total"], 1.0, "{text}");
    // Audit events share the log with ingested ones, so the log holds at least the two accepted events.
    let durable = values["acta_log_durable_seq{instance=\"default\"}"];
    assert!(durable >= 2.0, "{text}");
    assert_eq!(values["acta_log_durable_records"], durable, "one instance: the total is its seq");
    assert!(text.contains("# TYPE acta_events_accepted_total counter"), "{text}");
    assert!(text.contains("# TYPE acta_index_lag_events gauge"), "{text}");
    assert!(values.contains_key("acta_index_lag_events"), "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_process_memory_fds_cpu_and_start_time() {
    let server = TestServer::start().await;
    let (status, _, text) = scrape(&server).await;
    assert_eq!(status, 200);
    let values = samples(&text);
    let rss = values["process_resident_memory_bytes"];
    assert!(rss > 0.0 && values["process_resident_memory_max_bytes"] >= rss, "{text}");
    assert!(values["process_virtual_memory_bytes"] >= rss, "{text}");
    assert!(values["process_open_fds"] >= 3.0, "{text}");
    assert!(values["process_cpu_seconds_total"] >= 0.0, "{text}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let started = values["process_start_time_seconds"];
    assert!(started <= now + 1.0 && started > now - 86_400.0 * 365.0, "{started} vs {now}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_delivered_alert_notifications() {
    let receiver = HttpReceiver::start().await;
    let settings = AlertSettings { webhook_allow: vec!["127.0.0.0/8".parse().unwrap()], ..AlertSettings::default() };
    let server = TestServer::start_with_alerts(settings).await;
    let view: serde_json::Value = server
        .post("/v1/views")
        .json(&json!({"name": "probes", "query": "action:svc.probe.ping"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let channel = json!({"type": "webhook", "url": format!("{}/hook", receiver.url)});
    let alert = json!({"view": view["id"], "kind": "presence", "threshold": 1, "window": "30s",
                       "immediate": true, "channels": [channel]});
    assert_eq!(server.post("/v1/alerts").json(&alert).send().await.unwrap().status().as_u16(), 201);
    assert_eq!(server.send(&[event("svc.probe.ping", json!({}))]).await.0, 200);
    receiver.wait_for(1, Duration::from_secs(10)).await;

    // The attempt is counted after the receiver answered: poll briefly.
    let mut values = HashMap::new();
    for _ in 0..100 {
        values = samples(&scrape(&server).await.2);
        if values["acta_alert_notifications_sent_total"] >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(values["acta_alert_notifications_sent_total"], 1.0);
    assert_eq!(values["acta_alert_notification_attempts_failed_total"], 0.0);
    assert_eq!(values["acta_alert_notifications_failed_total"], 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_require_the_platform_admin_key_when_the_operator_says_so() {
    let server = TestServer::start_with(Limits { metrics_require_key: true, ..Limits::default() }).await;
    assert_eq!(scrape(&server).await.0, 401, "no key");
    let wrong = server.http.get(format!("{}/metrics", server.url)).bearer_auth("not-a-key").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401, "a key that does not exist");

    server.admin().create_account("acme").await;
    let key = json!({"account": "acme", "name": "officer", "role": "manager"});
    let manager = server.admin().new_key(key).await.key.unwrap();
    let refused = server.http.get(format!("{}/metrics", server.url)).bearer_auth(&manager).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 403, "an account's manager is not the platform admin");
    let refused: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "forbidden", "{refused}");

    let admin = server.http.get(format!("{}/metrics", server.url)).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(admin.status().as_u16(), 200);
    assert!(admin.text().await.unwrap().contains("acta_events_accepted_total 0"));
    server.stop().await;
}
