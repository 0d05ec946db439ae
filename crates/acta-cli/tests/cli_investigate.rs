//! `acta investigate principal|resource` against a real server: the timeline and the history as people read
//! them (times in UTC with `--utc`), and as JSON.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use serde_json::Value;

fn event(id: &str, action: &str, outcome: &str, minute: u32) -> Value {
    let mut event = common::event(id, action, outcome);
    event["eventTime"] = Value::from(format!("2026-11-20T10:{minute:02}:00Z"));
    event
}

#[test]
fn investigate_prints_a_principal_timeline_failures_first_and_a_resource_history_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let config = dir.path().join("config");
    std::fs::write(&config, "").unwrap();
    let server = common::start(&data, &logs);
    // Every event is by alice@example.com (user-1) on key-1.
    let events = [
        event("i-1", "kms.secrets.read", "success", 1),
        event("i-2", "kms.secrets.read", "success", 2),
        event("i-3", "kms.secrets.delete", "failure", 3),
        event("i-4", "kms.secrets.read", "success", 4),
    ];
    let (status, answer) = server.ingest(&events);
    assert_eq!(status, 200, "{answer}");
    server.wait_count("kms.secrets", 4, Duration::from_secs(20));
    let run = |args: &[&str]| {
        let all: Vec<&str> = ["investigate"].iter().chain(args).copied().collect();
        let output = common::acta_against(&server, common::ADMIN_KEY, Some(&config), &all, Duration::from_secs(30));
        assert!(output.status.success(), "{}", output.stderr);
        output.stdout
    };

    let timeline = run(&["principal", "alice@example.com", "--utc"]);
    let lines: Vec<&str> = timeline.lines().collect();
    assert_eq!(
        lines[0],
        "alice@example.com: 4 events, 1 failed; first seen 2026-11-20 10:01:00, last seen 2026-11-20 10:04:00 (UTC)",
        "{timeline}"
    );
    assert_eq!(lines[1], "search: initiator.id:===alice@example.com OR initiator.name:===alice@example.com");
    let rows: Vec<Vec<&str>> = lines[3..6].iter().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["SERVICE", "ACTION", "EVENTS", "FAILED", "FIRST", "SEEN", "LAST", "SEEN"]);
    assert_eq!(rows[1][..4], ["kms", "kms.secrets.delete", "1", "1"], "{timeline}");
    assert_eq!(rows[2][..4], ["kms", "kms.secrets.read", "3", "0"], "{timeline}");

    let history = run(&["resource", "key-1", "--utc", "--limit", "3"]);
    let rows: Vec<&str> = history.lines().skip(4).collect();
    assert_eq!(rows.len(), 4, "{history}");
    assert!(rows[0].starts_with("2026-11-20 10:01:00  alice@example.com  kms.secrets.read"), "{history}");
    assert!(rows[2].starts_with("2026-11-20 10:03:00  alice@example.com  kms.secrets.delete  failure"), "{history}");
    assert_eq!(rows[3], "showing the first 3 of 4 (use --limit)");

    let json: Value = serde_json::from_str(&run(&["resource", "key-1", "--json"])).unwrap();
    let ids: Vec<&str> = json["events"].as_array().unwrap().iter().map(|row| row["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["i-1", "i-2", "i-3", "i-4"]);
}
