//! A notification written to the outbox survives `kill -9` of the server between the firing and the delivery,
//! and arrives exactly once after the restart. Views and alerts are made with the `acta` CLI.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

fn acta(server: &common::Server, args: &[&str]) -> Value {
    let output = common::acta_against(server, common::ADMIN_KEY, None, args, Duration::from_secs(20));
    assert!(output.status.success(), "acta {args:?} failed: {}", output.stderr);
    serde_json::from_str(&output.stdout).unwrap_or(Value::Null)
}

/// The alert's firings once `done` holds (or after `timeout`).
fn firings_when(
    server: &common::Server,
    alert: &str,
    timeout: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let answer: Value = server.get(&format!("/v1/alerts/{alert}/history")).send().unwrap().json().unwrap();
        let firings = answer["firings"].as_array().cloned().unwrap_or_default();
        if done(&firings) || Instant::now() > deadline {
            return firings;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_notification_survives_kill_9_between_firing_and_delivery_and_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    // The receiver's port, with nothing listening on it yet: every delivery attempt fails until it is up.
    let port = common::free_port();
    let hook = format!("http://127.0.0.1:{port}/hook");
    let envs = [("ACTA_WEBHOOK_ALLOW", "127.0.0.0/8")];
    let mut server = common::start_with(&data, &logs, &envs);

    let view = acta(&server, &["views", "create", "widget deletions", "--query", "action:svc.widget.delete", "--json"]);
    let view = view["id"].as_str().unwrap().to_string();
    let alert = acta(
        &server,
        &[
            "alerts",
            "create",
            "--view",
            &view,
            "--kind",
            "presence",
            "--threshold",
            "1",
            "--window",
            "1h",
            "--webhook",
            &hook,
            "--json",
        ],
    );
    let alert = alert["id"].as_str().unwrap().to_string();
    let (status, answer) = server.ingest(&[common::event("widget-1", "svc.widget.delete", "success")]);
    assert_eq!(status, 200, "{answer}");

    // Fired, tried, not delivered: the notification is only in the outbox now.
    let firings = firings_when(&server, &alert, Duration::from_secs(10), |f| {
        f.first().is_some_and(|f| f["deliveries"][0]["attempts"].as_i64().unwrap_or(0) >= 1)
    });
    assert_eq!(firings.len(), 1, "no firing: {firings:?}\n{}", server.stderr());
    assert_eq!(firings[0]["deliveries"][0]["state"], "pending", "{}", firings[0]);
    server.kill();

    let got: Arc<Mutex<Vec<common::Request>>> = Arc::default();
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the receiver's port was taken meanwhile");
    common::receive_http(listener, got.clone());
    let server = common::start_with(&data, &logs, &envs);
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Time for a duplicate to show up, if there were one.
    std::thread::sleep(Duration::from_secs(2));
    let requests = got.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "the notification arrived {} times\n{}", requests.len(), server.stderr());
    let body: Value = serde_json::from_slice(&requests[0].1).unwrap();
    assert_eq!(body["reason"], "immediate");
    assert_eq!(body["first_line_object"]["id"], "widget-1");

    let firings =
        firings_when(&server, &alert, Duration::from_secs(5), |f| f[0]["deliveries"][0]["state"] == "delivered");
    assert_eq!(firings.len(), 1, "the recount after the restart fired the window again: {firings:?}");
    let delivery = &firings[0]["deliveries"][0];
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    let attempts = delivery["history"].as_array().unwrap();
    assert!(attempts.len() >= 2 && attempts[0]["ok"] == false && attempts.last().unwrap()["ok"] == true, "{delivery}");

    let words = ["alerts", "history", alert.as_str()];
    let args: Vec<&std::ffi::OsStr> = words.iter().map(std::ffi::OsStr::new).collect();
    let envs =
        [("ACTA_URL", std::ffi::OsStr::new(&server.url)), ("ACTA_API_KEY", std::ffi::OsStr::new(common::ADMIN_KEY))];
    let output = common::run_acta(&args, &envs, Duration::from_secs(20));
    assert!(output.stdout.contains("immediate") && output.stdout.contains("delivered"), "{}", output.stdout);
    let stderr = server.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
}
