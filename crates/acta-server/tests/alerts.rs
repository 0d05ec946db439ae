//! Alerts end to end: the seed's email alert against a real SMTP conversation, end-of-window presence, absence,
//! mute, time zones, signed webhooks, the SSRF rule, retries, Slack and PagerDuty, the test action, and the
//! recount after a restart. Notifications go to receivers on 127.0.0.1 (`common::receivers`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use acta_server::AlertSettings;
use common::receivers::{HttpReceiver, SmtpSink};
use common::{As, TestServer, account_with_manager, event, poll};
use serde_json::{Value, json};

impl As<'_> {
    async fn view(&self, name: &str, query: &str) -> String {
        let (status, view) = self.post("/v1/views", json!({"name": name, "query": query})).await;
        assert_eq!(status, 201, "{view}");
        view["id"].as_str().unwrap().to_string()
    }

    async fn alert(&self, body: Value) -> String {
        let (status, alert) = self.post("/v1/alerts", body).await;
        assert_eq!(status, 201, "{alert}");
        alert["id"].as_str().unwrap().to_string()
    }

    async fn send(&self, events: Vec<Value>) {
        let (status, answer) = self.post("/v1/events", Value::Array(events)).await;
        assert_eq!(status, 200, "{answer}");
    }

    /// The alert's firings once `done` holds for them (or after `timeout`).
    async fn history_when(&self, alert: &str, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let path = format!("/v1/alerts/{alert}/history");
        let firings = |history: &Value| history["firings"].as_array().cloned().unwrap_or_default();
        let (status, history) = poll(
            timeout,
            Duration::from_millis(25),
            || self.get(&path),
            |(status, history)| *status != 200 || done(&firings(history)),
        )
        .await;
        assert_eq!(status, 200, "{history}");
        firings(&history)
    }
}

fn loopback_allowed() -> AlertSettings {
    AlertSettings { webhook_allow: vec!["127.0.0.0/8".parse().unwrap()], ..AlertSettings::default() }
}

fn webhook(receiver: &HttpReceiver) -> Value {
    json!({"type": "webhook", "url": format!("{}/hook", receiver.url)})
}

fn matching(n: usize) -> Vec<Value> {
    (0..n).map(|i| event("svc.widget.delete", json!({"message": format!("widget {i} deleted")}))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_step_4_one_email_arrives_after_two_key_deletions() {
    let smtp = SmtpSink::start().await;
    let settings = AlertSettings {
        smtp_url: Some(smtp.url()),
        smtp_from: "Acta <acta@acme.example>".to_string(),
        ..AlertSettings::default()
    };
    let server = TestServer::start_with_alerts(settings).await;
    let user = account_with_manager(&server, "acme").await;
    let mut keys = Vec::new();
    for name in ["demo-key-1", "demo-key-2", "demo-key-3"] {
        let (status, key) = user.post("/v1/keys", json!({"name": name, "role": "reader"})).await;
        assert_eq!(status, 201, "{key}");
        keys.push(key["id"].as_str().unwrap().to_string());
    }
    let view = user.view("Deleted API keys", "(action user-apikey.delete) -login").await;
    let alert = user
        .alert(json!({"view": view, "kind": "presence", "threshold": 2, "window": "1h", "immediate": true,
                      "channels": [{"type": "email", "to": ["officer@acme.example"]}], "timezone": "Europe/Berlin"}))
        .await;
    assert_eq!(user.get("/v1/alerts").await.1["email_relay"], true, "the server has a relay");

    assert_eq!(user.delete(&format!("/v1/keys/{}", keys[0])).await.0, 204);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.mails().is_empty(), "an email after one deletion: the threshold is 2");
    assert_eq!(user.delete(&format!("/v1/keys/{}", keys[1])).await.0, 204);
    let answered = Instant::now();

    let mails = smtp.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1, "no email arrived");
    let latency = mails[0].at.duration_since(answered);
    assert!(latency < Duration::from_secs(1), "the email left {latency:?} after the answer");
    // A third deletion in the same window does not fire again.
    assert_eq!(user.delete(&format!("/v1/keys/{}", keys[2])).await.0, 204);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "exactly one email for the window");

    let mail = &mails[0];
    assert_eq!(mail.to, vec!["officer@acme.example"]);
    assert_eq!(mail.from, "acta@acme.example");
    let subject = mail.header("Subject").unwrap();
    assert!(subject.contains("Deleted API keys") && subject.contains("2 events"), "{subject}");
    let body = mail.body();
    for expected in [
        "View: Deleted API keys",
        "Query: (action user-apikey.delete) -login",
        "Matching events: 2",
        "Time zone: Europe/Berlin",
        "IAM Identity Service: delete user-apikey demo-key-1",
        "IAM Identity Service: delete user-apikey demo-key-2",
    ] {
        assert!(body.contains(expected), "the email lacks {expected:?}:\n{body}");
    }
    assert!(!body.contains("demo-key-3"), "{body}");
    assert!(body.contains("CET (+01:00)"), "times are not in Europe/Berlin:\n{body}");

    let firings =
        user.history_when(&alert, Duration::from_secs(5), |f| f[0]["deliveries"][0]["state"] == "delivered").await;
    assert_eq!(firings.len(), 1, "{firings:#?}");
    assert_eq!(firings[0]["reason"], "immediate");
    assert_eq!(firings[0]["count"], 2);
    let attempts = &firings[0]["deliveries"][0]["history"];
    assert_eq!(attempts[0]["ok"], true, "{attempts}");
    assert!(attempts[0]["detail"].as_str().unwrap().starts_with("SMTP 250"), "{attempts}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_at_end_of_window_fires_once_when_the_window_ends() {
    let receiver = HttpReceiver::start().await;
    // 30 s windows last 1 s in this server.
    let server = TestServer::start_with_alerts(AlertSettings { window_divisor: 30, ..loopback_allowed() }).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let alert = user
        .alert(json!({"view": view, "kind": "presence", "threshold": 2, "window": "30s", "immediate": false,
                      "at_end": true, "channels": [webhook(&receiver)]}))
        .await;
    user.send(matching(3)).await;
    let sent = Instant::now();
    let requests = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 1, "no notification at the end of the window");
    let body = requests[0].json();
    assert_eq!(body["reason"], "at_end", "{body}");
    assert_eq!(body["matches"], 3, "{body}");
    // The window (1 s), then the engine's grace for late events (250 ms, 1 s on a cluster node), and slack.
    let grace = if server.postgres.is_some() { Duration::from_secs(1) } else { Duration::from_millis(250) };
    let waited = requests[0].at.duration_since(sent);
    assert!(waited <= Duration::from_secs(1) + grace + Duration::from_millis(250), "fired {waited:?} after");
    // Later windows without events do not fire a presence alert.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.requests().len(), 1);
    let firings = user.history_when(&alert, Duration::from_secs(1), |_| true).await;
    assert_eq!(firings.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absence_fires_when_fewer_than_n_events_arrive_in_a_window() {
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start_with_alerts(AlertSettings { window_divisor: 30, ..loopback_allowed() }).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("heartbeats", "action:svc.heartbeat.beat").await;
    user.alert(json!({"view": view, "kind": "absence", "threshold": 1, "window": "30s",
                      "channels": [webhook(&receiver)]}))
        .await;
    let requests = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert!(!requests.is_empty(), "no absence notification");
    let body = requests[0].json();
    assert_eq!(body["reason"], "absence", "{body}");
    assert_eq!(body["matches"], 0, "{body}");
    assert!(body["summary"].as_str().unwrap().contains("fewer than 1"), "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_alert_records_its_firing_as_muted_and_sends_nothing() {
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start_with_alerts(loopback_allowed()).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let until = acta_cadf::format_time(acta_server::now_ns() + 3_600_000_000_000);
    let alert = user
        .alert(json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h",
                      "channels": [webhook(&receiver)], "muted_until": until}))
        .await;
    user.send(matching(1)).await;
    let firings = user.history_when(&alert, Duration::from_secs(5), |f| !f.is_empty()).await;
    assert_eq!(firings.len(), 1, "the firing is not in the history");
    assert_eq!(firings[0]["muted"], true);
    assert_eq!(firings[0]["deliveries"], json!([]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.requests().is_empty(), "a muted alert sent a notification");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_times_are_in_the_alerts_time_zone() {
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start_with_alerts(loopback_allowed()).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let channel = json!({"type": "webhook", "url": format!("{}/hook", receiver.url),
                         "body": {"text": "Events:\n{{lines}}", "zone": "{{timezone}}"}});
    user.alert(json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h", "channels": [channel],
                      "timezone": "Asia/Kolkata"}))
        .await;
    user.send(vec![event("svc.widget.delete", json!({"eventTime": "2026-11-20T10:00:05Z", "message": "gone"}))]).await;
    let requests = receiver.wait_for(1, Duration::from_secs(5)).await;
    let body = requests.first().map(common::receivers::Received::json).unwrap_or_default();
    assert_eq!(body["zone"], "Asia/Kolkata");
    assert_eq!(body["text"], "Events:\n2026-11-20 15:30:05 IST (+05:30)  svc.widget.delete  success  gone", "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_signature_verifies_at_the_receiver_and_the_template_is_filled() {
    use hmac::{Hmac, Mac};
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start_with_alerts(loopback_allowed()).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let secret = "whsec-0123456789";
    let channel = json!({
        "type": "webhook", "url": format!("{}/hook", receiver.url), "method": "PUT",
        "headers": {"X-Team": "secops"}, "secret": secret,
        "body": {"alert": "{{name}}", "count": "{{matches}}", "query": "{{query}}", "first": "{{first_line_object}}",
                 "all": "{{lines}}", "text": "{{name}} saw {{matches}}"},
    });
    let alert = user
        .alert(json!({"view": view, "name": "widget watch", "kind": "presence", "threshold": 2, "window": "1h",
                      "channels": [channel]}))
        .await;
    let (_, shown) = user.get(&format!("/v1/alerts/{alert}")).await;
    assert!(!shown.to_string().contains(secret), "the secret is shown: {shown}");
    user.send(matching(2)).await;
    let requests = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(request.headers["x-team"], "secops");
    let signature = request.headers["x-acta-signature"].strip_prefix("sha256=").unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&request.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(signature, expected, "the signature does not verify");
    let body = request.json();
    assert_eq!(body["alert"], "widget watch");
    assert_eq!(body["count"], 2);
    assert_eq!(body["query"], "action:svc.widget.delete");
    assert_eq!(body["first"]["message"], "widget 0 deleted");
    assert_eq!(body["all"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["text"], "widget watch saw 2");
    assert!(!request.headers["x-acta-delivery"].is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_whose_channel_url_is_internal_is_refused_when_saved_without_the_operators_allowlist() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let internal = [
        ("http://127.0.0.1:8799/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.5/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://2130706433/hook", "loopback"),
        ("http://example.com@127.0.0.1/hook", "loopback"),
        ("http://localhost:8799/hook", "loopback"),
    ];
    for (url, kind) in internal {
        for channel in [
            json!({"type": "webhook", "url": url}),
            json!({"type": "slack", "url": url}),
            json!({"type": "pagerduty", "routing_key": "R0UT1NG", "url": url}),
        ] {
            let body = json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h", "channels": [channel]});
            let (status, answer) = user.post("/v1/alerts", body).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_field")), "{url}: {answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(kind) && message.contains("--webhook-allow"), "{url}: {message}");
            assert_eq!(answer["error"]["details"][0]["field"], "channels[0].url", "{answer}");
        }
    }
    let (_, list) = user.get("/v1/alerts").await;
    assert_eq!(list["alerts"], json!([]), "an alert with an internal URL was saved");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_channels_to_an_internal_url_is_refused_and_the_alert_is_unchanged() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let public = json!({"type": "webhook", "url": "http://93.184.216.34/hook"});
    let alert = user
        .alert(json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h", "channels": [public]}))
        .await;
    let change = json!({"channels": [{"type": "webhook", "url": "http://127.0.0.1:8799/hook"}]});
    let (status, answer) = user.patch(&format!("/v1/alerts/{alert}"), change).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_field")), "{answer}");
    let (_, shown) = user.get(&format!("/v1/alerts/{alert}")).await;
    assert_eq!(shown["channels"][0]["url"], "http://93.184.216.34/hook");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_url_the_operators_allowlist_covers_is_saved() {
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start_with_alerts(loopback_allowed()).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let (status, answer) = user
        .post(
            "/v1/alerts",
            json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h",
                                   "channels": [webhook(&receiver)]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_to_loopback_is_refused_when_sending_once_the_allowlist_no_longer_covers_it() {
    // Saved while the operator allowed loopback; the server then restarts without that allowlist: the send-time
    // check refuses what the save-time check let through (the same holds when DNS changes after the save).
    let receiver = HttpReceiver::start().await;
    let mut server = TestServer::start_with_alerts(loopback_allowed()).await;
    let key = {
        let user = account_with_manager(&server, "acme").await;
        let view = user.view("widgets", "action:svc.widget.delete").await;
        user.alert(json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h",
                          "channels": [webhook(&receiver), {"type": "slack", "url": format!("{}/slack", receiver.url)}]}))
            .await;
        user.key.clone().unwrap()
    };
    server.alerts = AlertSettings::default();
    server.restart().await;
    let user = server.with_key(&key);
    let (_, list) = user.get("/v1/alerts").await;
    let alert = list["alerts"][0]["id"].as_str().unwrap().to_string();
    user.send(matching(1)).await;
    let firings = user
        .history_when(&alert, Duration::from_secs(5), |f| {
            f.first().is_some_and(|f| f["deliveries"].as_array().unwrap().iter().all(|d| d["state"] == "failed"))
        })
        .await;
    for delivery in firings[0]["deliveries"].as_array().unwrap() {
        assert_eq!(delivery["state"], "failed", "{delivery}");
        assert_eq!(delivery["attempts"], 1, "a refusal is not retried: {delivery}");
        let error = delivery["last_error"].as_str().unwrap();
        assert!(error.contains("refused") && error.contains("127.0.0.1") && error.contains("loopback"), "{error}");
    }
    assert!(receiver.requests().is_empty(), "the receiver on loopback was reached");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_is_retried_after_the_receiver_answers_500() {
    let receiver = HttpReceiver::start().await;
    receiver.answer_next(&[500, 503]);
    let settings = AlertSettings { retry_base: Duration::from_millis(100), ..loopback_allowed() };
    let server = TestServer::start_with_alerts(settings).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let alert = user
        .alert(
            json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h", "channels": [webhook(&receiver)]}),
        )
        .await;
    user.send(matching(1)).await;
    let firings = user
        .history_when(&alert, Duration::from_secs(10), |f| {
            f.first().is_some_and(|f| f["deliveries"][0]["state"] == "delivered")
        })
        .await;
    let delivery = &firings[0]["deliveries"][0];
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    let attempts: Vec<(bool, String)> = delivery["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["ok"].as_bool().unwrap(), a["detail"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(!attempts[0].0 && attempts[0].1.starts_with("HTTP 500"), "{attempts:?}");
    assert!(!attempts[1].0 && attempts[1].1.starts_with("HTTP 503"), "{attempts:?}");
    assert_eq!(attempts[2], (true, "HTTP 200".to_string()));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    let ids: std::collections::BTreeSet<&str> =
        requests.iter().map(|r| r.headers["x-acta-delivery"].as_str()).collect();
    assert_eq!(ids.len(), 1, "retries carry the same delivery id");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_and_pagerduty_channels_get_their_own_formats() {
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start_with_alerts(loopback_allowed()).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let channels = json!([
        {"type": "slack", "url": format!("{}/slack", receiver.url)},
        {"type": "pagerduty", "routing_key": "R0UT1NGKEY", "severity": "critical",
         "url": format!("{}/v2/enqueue", receiver.url)},
    ]);
    user.alert(json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h", "channels": channels})).await;
    user.send(matching(1)).await;
    let requests = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 2);
    let slack = requests.iter().find(|r| r.path == "/slack").unwrap().json();
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("widgets") && text.contains("widget 0 deleted"), "{text}");
    let pagerduty = requests.iter().find(|r| r.path == "/v2/enqueue").unwrap().json();
    assert_eq!(pagerduty["routing_key"], "R0UT1NGKEY");
    assert_eq!(pagerduty["event_action"], "trigger");
    assert_eq!(pagerduty["payload"]["severity"], "critical");
    assert_eq!(pagerduty["payload"]["source"], "acta");
    assert!(pagerduty["payload"]["summary"].as_str().unwrap().contains("1 events matched view \"widgets\""));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_action_sends_a_test_notification_even_when_muted() {
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start_with_alerts(loopback_allowed()).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let until = acta_cadf::format_time(acta_server::now_ns() + 3_600_000_000_000);
    let alert = user
        .alert(json!({"view": view, "kind": "presence", "threshold": 5, "window": "5m",
                      "channels": [webhook(&receiver)], "muted_until": until}))
        .await;
    let (status, answer) = user.post(&format!("/v1/alerts/{alert}/test"), json!({})).await;
    assert_eq!(status, 202, "{answer}");
    let requests = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].json()["reason"], "test");
    let firings = user.history_when(&alert, Duration::from_secs(5), |f| !f.is_empty()).await;
    assert_eq!(firings[0]["reason"], "test");
    assert_eq!(firings[0]["id"], answer["firing"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_recounts_the_window_from_the_log_and_never_fires_it_twice() {
    let receiver = HttpReceiver::start().await;
    let mut server = TestServer::start_with_alerts(loopback_allowed()).await;
    let key = account_with_manager(&server, "acme").await.key.unwrap();
    let user = server.with_key(&key);
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let alert = user
        .alert(
            json!({"view": view, "kind": "presence", "threshold": 2, "window": "1h", "channels": [webhook(&receiver)]}),
        )
        .await;
    user.send(matching(1)).await;
    server.restart().await;
    let user = server.with_key(&key);
    user.send(matching(1)).await;
    let requests = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 1, "the event from before the restart was not counted");
    assert_eq!(requests[0].json()["matches"], 2);
    // Another restart replays both events again: the window has fired and does not fire again.
    server.restart().await;
    let user = server.with_key(&key);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(receiver.requests().len(), 1, "the window fired twice");
    assert_eq!(user.history_when(&alert, Duration::from_secs(1), |_| true).await.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_flooded_past_the_live_bus_counts_every_event_from_the_log() {
    // One request of more events than the live bus holds for a follower: the engine falls behind it.
    const FLOOD: usize = 12_000;
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start_with_alerts(loopback_allowed()).await;
    let user = account_with_manager(&server, "acme").await;
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let body = json!({"view": view, "kind": "presence", "threshold": FLOOD, "window": "1h", "immediate": true,
                      "channels": [webhook(&receiver)]});
    user.alert(body).await;
    user.send(matching(FLOOD)).await;
    let requests = receiver.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(requests.len(), 1, "the alert's window did not reach {FLOOD} matches");
    assert_eq!(requests[0].json()["matches"], FLOOD);
    server.stop().await;
}

/// Alerts whose windows last 2 s (1 minute divided by 30).
fn two_second_windows() -> AlertSettings {
    AlertSettings { window_divisor: 30, ..loopback_allowed() }
}

/// Sleeps until `windows` whole windows of 2 s after the alert's anchor (read from its creation answer time,
/// `created`) have ended, plus a margin past the engine's grace for late events (1 s on a cluster node).
async fn sleep_past_windows(created: Instant, windows: u32) {
    let until = created + Duration::from_secs(2) * windows + Duration::from_millis(1400);
    tokio::time::sleep_until(until.into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absence_window_that_passed_while_the_server_was_stopped_fires_once_after_restart_marked_late() {
    let receiver = HttpReceiver::start().await;
    let mut server = TestServer::start_with_alerts(two_second_windows()).await;
    let key = account_with_manager(&server, "acme").await.key.unwrap();
    let user = server.with_key(&key);
    let view = user.view("heartbeats", "action:svc.heartbeat.beat").await;
    let before = Instant::now();
    let alert = user
        .alert(json!({"view": view, "kind": "absence", "threshold": 1, "window": "1m",
                      "channels": [webhook(&receiver)]}))
        .await;
    server.running.take().unwrap().stop().await.expect("stop");
    assert!(before.elapsed() < Duration::from_millis(1800), "the first window ended before the stop");
    // Windows 1 and 2 end while the server is stopped; window 2 lies wholly inside the downtime.
    sleep_past_windows(before, 2).await;
    server.restart().await;
    let user = server.with_key(&key);
    let requests = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 1, "no late absence notification");
    let body = requests[0].json();
    assert_eq!(body["reason"], "absence", "{body}");
    assert_eq!(body["late"], true, "{body}");
    assert_eq!(body["matches"], 0, "{body}");
    assert!(body["evaluated_at"].is_string(), "{body}");
    assert_eq!(body["late_windows"]["count"], 2, "one notification stands for both windows: {body}");
    // Both windows are in the history, each late; only the last one was sent, the other names it.
    let firings = user.history_when(&alert, Duration::from_secs(2), |f| f.len() >= 2).await;
    let late: Vec<&Value> = firings.iter().filter(|f| f["late"] == true).collect();
    assert_eq!(late.len(), 2, "{firings:#?}");
    let starts: std::collections::BTreeSet<&str> =
        late.iter().map(|f| f["window"]["start"].as_str().unwrap()).collect();
    assert_eq!(starts.len(), 2, "two distinct windows: {firings:#?}");
    assert!(late.iter().any(|f| f["notified_in"].is_string() && f["deliveries"] == json!([])), "{firings:#?}");
    let late_sent = receiver.requests().iter().filter(|r| r.json()["late"] == true).count();
    assert_eq!(late_sent, 1, "one late notification per alert");
    server.stop().await;
}

/// An at-end presence alert (2 in a window) on 2-second windows, with `matching` events sent and the server
/// stopped at once: the receiver, the stopped server, the manager's key, the alert, and when it was made.
async fn presence_alert_stopped_after(matching_events: usize) -> (HttpReceiver, TestServer, String, String, Instant) {
    let receiver = HttpReceiver::start().await;
    let mut server = TestServer::start_with_alerts(two_second_windows()).await;
    let key = account_with_manager(&server, "acme").await.key.unwrap();
    let user = server.with_key(&key);
    let view = user.view("widgets", "action:svc.widget.delete").await;
    let before = Instant::now();
    let alert = user
        .alert(json!({"view": view, "kind": "presence", "threshold": 2, "window": "1m", "immediate": false,
                      "at_end": true, "channels": [webhook(&receiver)]}))
        .await;
    user.send(matching(matching_events)).await;
    server.running.take().unwrap().stop().await.expect("stop");
    (receiver, server, key, alert, before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_threshold_reached_before_a_stop_fires_once_after_restart_marked_late() {
    let (receiver, mut server, key, alert, before) = presence_alert_stopped_after(2).await;
    assert!(before.elapsed() < Duration::from_millis(1800), "the window ended before the stop");
    assert!(receiver.requests().is_empty(), "fired before its window ended");
    sleep_past_windows(before, 1).await;
    server.restart().await;
    let user = server.with_key(&key);
    let requests = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 1, "no late presence notification");
    let body = requests[0].json();
    assert_eq!(body["reason"], "at_end", "{body}");
    assert_eq!(body["matches"], 2, "{body}");
    assert_eq!(body["late"], true, "{body}");
    assert!(body["window_start"].is_string() && body["window_end"].is_string(), "{body}");
    let firings = user.history_when(&alert, Duration::from_secs(1), |f| !f.is_empty()).await;
    assert_eq!(firings.len(), 1, "{firings:#?}");
    assert_eq!(firings[0]["late"], true);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.requests().len(), 1, "fired again");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_twice_after_a_downtime_does_not_fire_a_window_twice() {
    let (receiver, mut server, key, alert, before) = presence_alert_stopped_after(3).await;
    sleep_past_windows(before, 1).await;
    server.restart().await;
    assert_eq!(receiver.wait_for(1, Duration::from_secs(5)).await.len(), 1, "no late notification");
    server.restart().await;
    server.restart().await;
    let user = server.with_key(&key);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.requests().len(), 1, "a window fired twice across restarts");
    let firings = user.history_when(&alert, Duration::from_secs(1), |_| true).await;
    assert_eq!(firings.len(), 1, "{firings:#?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_while_a_notification_is_being_sent_starts_again_on_its_directory() {
    // A receiver that takes the connection and never answers: the send is in progress when the server stops.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let (accepted, mut connected) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
            let _ = accepted.send(());
        }
    });
    let mut server = TestServer::start_with_alerts(loopback_allowed()).await;
    let key = account_with_manager(&server, "acme").await.key.unwrap();
    let user = server.with_key(&key);
    let view = user.view("widgets", "action:svc.widget.delete").await;
    user.alert(json!({"view": view, "kind": "presence", "threshold": 1, "window": "1h", "immediate": true,
                      "channels": [{"type": "webhook", "url": url}]}))
        .await;
    user.send(matching(1)).await;
    tokio::time::timeout(Duration::from_secs(10), connected.recv()).await.expect("the notification was never sent");

    // The stop ends the send; the store is free again, so the same process opens the directory at once.
    server.restart().await;
    let user = server.with_key(&key);
    assert_eq!(user.get("/v1/views").await.0, 200, "the restarted server answers");
    server.stop().await;
}
