//! Insights end to end (docs/insights.md): a generated week of an account's normal activity, then a burst of
//! one action in the current hour. The job is run explicitly (`Running::run_insights`); its background period
//! is set long so it does not run on its own in between.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use acta_server::AlertSettings;
use common::receivers::HttpReceiver;
use common::{TestServer, account_with_manager, event, poll};
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000_000_000;
const STEADY: [&str; 3] = ["svc.bucket.read", "svc.bucket.list", "iam-identity.user-apikey.login"];
const DELETIONS: &str = "iam-identity.user-apikey.delete";
const QUIET: &str = "svc.bucket.policy-update";
const PRINCIPALS: [&str; 3] = ["IBMid-alice", "IBMid-bob", "IBMid-carol"];
/// The deletions of the burst, on top of the current hour's usual ones.
const BURST: usize = 40;

/// A small deterministic generator: the week is the same at every run, so the test cannot flap.
struct Noise(u64);

impl Noise {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) % n.max(1)
    }
}

fn at(action: &str, time: i64, noise: &mut Noise, failure: bool) -> Value {
    let principal = PRINCIPALS[noise.below(3) as usize];
    event(
        action,
        json!({
            "eventTime": acta_cadf::format_time(time),
            "outcome": if failure { "failure" } else { "success" },
            "initiator": {"id": principal, "name": principal, "typeURI": "service/security/account/user"},
        }),
    )
}

/// A week of normal activity up to `now`, the current hour included: each steady action about 20 an hour (a
/// tenth of them failures), deletions about 3 an hour, the quiet action 0 to 2, spread over 3 principals.
fn normal_week(now: i64) -> Vec<Value> {
    let now_hour = now.div_euclid(HOUR);
    let mut noise = Noise(22);
    let mut events = Vec::new();
    for hour in now_hour - 7 * 24..=now_hour {
        let span = if hour == now_hour { (now - hour * HOUR).max(1) } else { HOUR };
        let times = |n: u64, noise: &mut Noise| -> Vec<i64> {
            (0..n).map(|_| hour * HOUR + i64::try_from(noise.below(span as u64)).unwrap()).collect()
        };
        for action in STEADY {
            let n = 17 + noise.below(7);
            for time in times(n, &mut noise) {
                let failure = noise.below(10) == 0;
                events.push(at(action, time, &mut noise, failure));
            }
        }
        let n = 2 + noise.below(3);
        for time in times(n, &mut noise) {
            events.push(at(DELETIONS, time, &mut noise, false));
        }
        let n = noise.below(3);
        for time in times(n, &mut noise) {
            events.push(at(QUIET, time, &mut noise, false));
        }
    }
    events
}

fn burst(now: i64) -> Vec<Value> {
    let start = now.div_euclid(HOUR) * HOUR;
    let mut noise = Noise(7);
    (0..BURST).map(|_| at(DELETIONS, start + (now - start) * 9 / 10, &mut noise, false)).collect()
}

async fn server(alerts: AlertSettings) -> TestServer {
    TestServer::start_with_alerts(AlertSettings { insight_period: Duration::from_secs(3600), ..alerts }).await
}

/// Sends the week and the burst to the default account, which holds `before` events, waits until they are
/// searchable, and runs the job.
async fn week_then_burst(server: &TestServer, before: u64) -> (i64, usize) {
    let now = acta_server::now_ns();
    let mut events = normal_week(now);
    events.extend(burst(now));
    for chunk in events.chunks(2000) {
        let (status, answer) = server.send(chunk).await;
        assert_eq!(status, 200, "{answer}");
    }
    server.wait_searchable(before + events.len() as u64).await;
    let run = server.running.as_ref().unwrap().run_insights().await;
    (now, run.insights.len())
}

async fn insights(server: &TestServer, expected: usize) -> Vec<Value> {
    let admin = server.admin();
    let (status, answer) = poll(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || admin.get("/v1/insights"),
        |(status, answer)| *status != 200 || answer["insights"].as_array().is_some_and(|list| list.len() >= expected),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer["insights"].as_array().cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_deletions_is_one_insight_and_steady_or_quiet_actions_none() {
    let server = server(AlertSettings::default()).await;
    let (now, found) = week_then_burst(&server, 0).await;
    let listed = insights(&server, 1).await;
    assert_eq!(found, 1, "one insight expected from the first run: {listed:#?}");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let insight = &listed[0];
    assert_eq!(insight["action"], "acta.insight.rate", "{insight}");
    assert_eq!(insight["dimension"], "action", "{insight}");
    assert_eq!(insight["key"], DELETIONS, "{insight}");
    assert_eq!(insight["hour"], acta_cadf::format_time(now.div_euclid(HOUR) * HOUR), "{insight}");
    let usual = insight["median"].as_f64().unwrap();
    assert!((2.0..=4.0).contains(&usual), "{insight}");
    assert!(insight["count"].as_i64().unwrap() >= BURST as i64, "{insight}");
    assert_eq!(insight["baseline"].as_array().map(Vec::len), Some(7), "{insight}");
    let message = insight["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{DELETIONS} is ")) && message.contains("x its usual rate"), "{message}");
    // Its query over its hour lists the events it counted.
    let range = [("q", &insight["query"]), ("from", &insight["hour"]), ("to", &insight["hour_end"])];
    let range: Vec<(&str, &str)> = range.iter().map(|(name, value)| (*name, value.as_str().unwrap())).collect();
    let (status, count) = server.admin().get_with("/v1/events/count", &range).await;
    assert_eq!((status, &count["count"]), (200, &insight["count"]), "{count}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_accounts_first_busy_hour_is_no_insight_without_a_history() {
    let server = server(AlertSettings::default()).await;
    let now = acta_server::now_ns();
    let events = burst(now);
    let (status, answer) = server.send(&events).await;
    assert_eq!(status, 200, "{answer}");
    server.wait_searchable(events.len() as u64).await;
    let run = server.running.as_ref().unwrap().run_insights().await;
    assert!(run.insights.is_empty(), "{run:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_week_loaded_after_a_first_count_is_no_insight() {
    let server = server(AlertSettings::default()).await;
    let now = acta_server::now_ns();
    let week = normal_week(now);
    // A tenth of the week first (every hour a little), then the rest, as an import or a catching-up shipper
    // delivers it: the second run must not judge today's full hours against baselines counted from a tenth.
    let first: Vec<Value> = week.iter().step_by(10).cloned().collect();
    let rest: Vec<Value> =
        week.iter().enumerate().filter(|(n, _)| n % 10 != 0).map(|(_, event)| event.clone()).collect();
    let mut sent = 0;
    for events in [first, rest] {
        for chunk in events.chunks(2000) {
            let (status, answer) = server.send(chunk).await;
            assert_eq!(status, 200, "{answer}");
        }
        sent += events.len() as u64;
        server.wait_searchable(sent).await;
        let run = server.running.as_ref().unwrap().run_insights().await;
        assert!(run.insights.is_empty(), "after {sent} events: {run:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_the_job_again_adds_no_insight_even_after_a_restart() {
    let mut server = server(AlertSettings::default()).await;
    let (_, found) = week_then_burst(&server, 0).await;
    assert_eq!(found, 1);
    let again = server.running.as_ref().unwrap().run_insights().await;
    assert!(again.insights.is_empty(), "{again:?}");
    server.restart().await;
    server.running.as_ref().unwrap().run_insights().await;
    // Whatever the restarted job sent is a duplicate of the stored insight.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.count("action:acta.insight").await, 1);
    assert_eq!(insights(&server, 1).await.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_does_not_see_the_insight() {
    let server = server(AlertSettings::default()).await;
    let other = account_with_manager(&server, "acme").await;
    week_then_burst(&server, 0).await;
    assert_eq!(insights(&server, 1).await.len(), 1);
    let (status, answer) = other.get("/v1/insights").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["insights"], json!([]), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insight_alert_notifies_the_burst() {
    let receiver = HttpReceiver::start().await;
    let server =
        server(AlertSettings { webhook_allow: vec!["127.0.0.0/8".parse().unwrap()], ..AlertSettings::default() }).await;
    let admin = server.admin();
    let (status, view) = admin.post("/v1/views", json!({"name": "insights", "query": "action:acta.insight"})).await;
    assert_eq!(status, 201, "{view}");
    let channel = json!({"type": "webhook", "url": format!("{}/hook", receiver.url)});
    let (status, alert) =
        admin.post("/v1/alerts", json!({"view": view["id"], "kind": "insight", "channels": [channel]})).await;
    assert_eq!(status, 201, "{alert}");
    // The view's and the alert's audit events are in the account too.
    week_then_burst(&server, 2).await;
    let requests = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests.len(), 1, "no notification of the insight");
    let body = requests[0].json();
    assert_eq!(body["reason"], "insight", "{body}");
    assert!(body.to_string().contains(&format!("{DELETIONS} is ")), "{body}");
    // One insight, one notification.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.requests().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insight_alert_needs_no_threshold_but_a_presence_alert_does() {
    let receiver = HttpReceiver::start().await;
    let server =
        server(AlertSettings { webhook_allow: vec!["127.0.0.0/8".parse().unwrap()], ..AlertSettings::default() }).await;
    let admin = server.admin();
    let (_, view) = admin.post("/v1/views", json!({"name": "insights", "query": "action:acta.insight"})).await;
    let channels = json!([{"type": "webhook", "url": format!("{}/hook", receiver.url)}]);
    let (status, answer) =
        admin.post("/v1/alerts", json!({"view": view["id"], "kind": "presence", "channels": channels})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("threshold is required for a presence alert"), "{answer}");
    let (status, answer) =
        admin.post("/v1/alerts", json!({"view": view["id"], "kind": "insight", "channels": channels})).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["kind"], "insight", "{answer}");
    server.stop().await;
}
