//! `acta boards` against a real server, and the views, alert and board `acta demo` creates.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn acta(server: &common::Server, config: &Path, args: &[&str]) -> common::Output {
    common::acta_against(server, common::ADMIN_KEY, Some(config), args, Duration::from_secs(30))
}

#[test]
fn boards_are_created_listed_shown_drawn_changed_and_deleted_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let config = dir.path().join("config");
    std::fs::write(&config, "").unwrap();
    let server = common::start(&data, &logs);
    let events = [
        common::event_at("b-1", "iam-identity.user-apikey.update", "success", 600),
        common::event_at("b-2", "iam-identity.user-apikey.update", "success", 600),
        common::event_at("b-3", "iam-identity.user-apikey.delete", "failure", 300),
        common::event_at("b-4", "kms.secrets.read", "success", 200),
    ];
    let (status, answer) = server.ingest(&events);
    assert_eq!(status, 200, "{answer}");
    server.wait_count("", 4, Duration::from_secs(20));

    let graph = r#"{"title": "Key actions", "query": "", "field": "action", "breakdown": {"field": "action"}, "range": "live"}"#;
    let created = acta(
        &server,
        &config,
        &[
            "boards",
            "create",
            "--name",
            "API keys",
            "--category",
            "IAM",
            "--filter",
            "iam-identity.user-apikey.",
            "--graph",
            graph,
            "--json",
        ],
    );
    assert!(created.status.success(), "{}", created.stderr);
    let board: Value = serde_json::from_str(&created.stdout).unwrap();
    let id = board["id"].as_str().unwrap().to_string();

    let listed = acta(&server, &config, &["boards", "list"]);
    assert!(listed.status.success(), "{}", listed.stderr);
    let header = listed.stdout.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("CATEGORY") && header.contains("GRAPHS"), "{}", listed.stdout);
    let row = listed.stdout.lines().find(|line| line.contains("API keys")).unwrap();
    assert!(row.starts_with(&id) && row.contains("IAM") && row.contains("iam-identity.user-apikey."), "{row}");
    assert!(listed.stdout.contains("Account activity"), "the predefined boards: {}", listed.stdout);

    let shown = acta(&server, &config, &["boards", "show", &id]);
    assert!(shown.status.success(), "{}", shown.stderr);
    assert!(
        shown.stdout.contains("graph 0: \"Key actions\": all events with action by action (top 5), live"),
        "{}",
        shown.stdout
    );

    let drawn = acta(&server, &config, &["boards", "graph", &id, "0", "--width", "10"]);
    assert!(drawn.status.success(), "{}", drawn.stderr);
    let lines: Vec<&str> = drawn.stdout.lines().collect();
    assert_eq!(lines[1], "query: iam-identity.user-apikey. action:*");
    assert!(lines[2].starts_with("3 events from "), "{}", drawn.stdout);
    assert_eq!(
        lines[3],
        "by action: █ iam-identity.user-apikey.update 2   ▓ iam-identity.user-apikey.delete 1   · other 0"
    );
    assert!(lines.iter().any(|line| line.ends_with(" 2 ██████████")), "{}", drawn.stdout);
    assert!(lines.iter().any(|line| line.ends_with(" 1 ▓▓▓▓▓")), "{}", drawn.stdout);

    let failures = r#"{"query": "outcome:failure", "range": "24h"}"#;
    let updated = acta(&server, &config, &["boards", "update", &id, "--filter", "", "--graph", failures, "--json"]);
    assert!(updated.status.success(), "{}", updated.stderr);
    let board: Value = serde_json::from_str(&updated.stdout).unwrap();
    assert_eq!((board["filter"].is_null(), board["graphs"][0]["query"].as_str()), (true, Some("outcome:failure")));
    let counted = acta(&server, &config, &["boards", "graph", &id, "0", "--json"]);
    let data: Value = serde_json::from_str(&counted.stdout).unwrap();
    assert_eq!(data["count"], 1, "{data}");

    let refused = acta(&server, &config, &["boards", "update", &id, "--graph", r#"{"query": "(", "range": "24h"}"#]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stderr.contains("400 query_syntax: /graphs/0/query: column "), "{}", refused.stderr);
    let not_json = acta(&server, &config, &["boards", "create", "--name", "X", "--graph", "{query"]);
    assert_eq!(not_json.status.code(), Some(1));
    assert!(not_json.stderr.contains("--graph number 1 is not JSON"), "{}", not_json.stderr);

    let deleted = acta(&server, &config, &["boards", "delete", &id]);
    assert!(deleted.status.success(), "{}", deleted.stderr);
    let gone = acta(&server, &config, &["boards", "show", &id]);
    assert!(gone.stderr.contains("404 not_found"), "{}", gone.stderr);
}

/// What `acta demo` printed and what it created in account `demo`: views, boards, alerts.
fn run_demo(smtp_url: Option<&str>) -> (String, Value, Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let port = common::free_port();
    let out = dir.path().join("demo.stdout");
    let mut command = Command::new(common::acta_bin());
    command
        .args(["demo", "--data"])
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--signing-key"])
        .arg(dir.path().join("signing-key"))
        .env("ACTA_BOOTSTRAP_KEY", common::ADMIN_KEY)
        // A PATH without the binary under test, as after `cargo run`: the demo must print its full path.
        .env("PATH", "/usr/bin:/bin")
        .env_remove("ACTA_SMTP_URL")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(dir.path().join("demo.stderr")).unwrap());
    if let Some(url) = smtp_url {
        command.env("ACTA_SMTP_URL", url);
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let printed = loop {
        let printed = std::fs::read_to_string(&out).unwrap_or_default();
        if printed.contains("Stop with Ctrl-C") || Instant::now() > deadline {
            break printed;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !printed.contains("Stop with Ctrl-C") {
        let _ = child.kill();
        let _ = child.wait();
        let stderr = std::fs::read_to_string(dir.path().join("demo.stderr")).unwrap_or_default();
        panic!("the demo did not start: {printed}\n{stderr}");
    }
    let http = reqwest::blocking::Client::builder().no_proxy().build().unwrap();
    let get = |path: &str| -> Value {
        let url = format!("http://127.0.0.1:{port}{path}");
        http.get(url).bearer_auth(common::ADMIN_KEY).send().unwrap().json().unwrap()
    };
    let (views, boards, alerts) =
        (get("/v1/views?account=demo"), get("/v1/boards?account=demo"), get("/v1/alerts?account=demo"));
    let _ = child.kill();
    let _ = child.wait();
    (printed, views, boards, alerts)
}

#[test]
fn demo_creates_seed_002s_views_and_board_and_skips_the_alert_without_smtp() {
    let (printed, views, boards, alerts) = run_demo(None);
    assert!(printed.contains("6 views of seed 002 in category IAM, and the board \"API keys\""), "{printed}");
    assert!(printed.contains("email alert skipped: the server has no SMTP relay"), "{printed}");
    let binary = std::fs::canonicalize(common::acta_bin()).unwrap();
    let binary = binary.display();
    assert!(printed.contains(&format!("`acta` is not on your PATH (install it with `cargo install --path crates/acta-cli --locked`);\nthis binary is {binary}.")), "{printed}");
    assert!(printed.contains(&format!("\n  {binary} views show \"User API key deletions\"\n")), "{printed}");
    let view_names: Vec<&str> =
        views["views"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert!(view_names.contains(&"User API key deletions"), "{views}");
    assert_eq!(view_names.len(), 6, "{views}");
    let board = boards["boards"].as_array().unwrap().iter().find(|b| b["name"] == "API keys").unwrap();
    assert_eq!(board["filter"], "iam-identity.user-apikey.");
    assert_eq!(
        (&board["graphs"][0]["field"], &board["graphs"][0]["breakdown"]["field"], &board["graphs"][0]["range"]),
        (&Value::from("action"), &Value::from("action"), &Value::from("live"))
    );
    assert_eq!(boards["boards"].as_array().unwrap().len(), 4, "with the three predefined boards: {boards}");
    assert_eq!(alerts["alerts"].as_array().map(Vec::len), Some(0), "{alerts}");
}

#[test]
fn demo_with_an_smtp_relay_attaches_an_email_alert_to_the_key_deletions_view() {
    // Nothing listens there: creating the alert sends nothing.
    let relay = format!("smtp://127.0.0.1:{}", common::free_port());
    let (printed, views, _, alerts) = run_demo(Some(&relay));
    let deletions = views["views"].as_array().unwrap().iter().find(|v| v["name"] == "User API key deletions").unwrap();
    let alerts = alerts["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["view"], deletions["id"]);
    assert_eq!((alerts[0]["threshold"].as_i64(), alerts[0]["immediate"].as_bool()), (Some(2), Some(true)));
    assert_eq!(alerts[0]["channels"][0]["type"], "email");
    assert!(printed.contains("email alert "), "{printed}");
}
