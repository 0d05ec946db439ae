//! `acta events histogram` against a real server: bars in the terminal, and the JSON answer.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use serde_json::Value;

#[test]
fn events_histogram_draws_a_bar_per_bucket_split_by_the_top_values() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let config = dir.path().join("config");
    std::fs::write(&config, "").unwrap();
    let server = common::start(&data, &logs);
    let events = [
        common::event_at("h-1", "iam-identity.user-apikey.update", "success", 600),
        common::event_at("h-2", "iam-identity.user-apikey.update", "success", 600),
        common::event_at("h-3", "iam-identity.user-apikey.delete", "failure", 300),
        common::event_at("h-4", "kms.secrets.read", "success", 200),
    ];
    let (status, answer) = server.ingest(&events);
    assert_eq!(status, 200, "{answer}");
    server.wait_count("", 4, Duration::from_secs(20));

    let run = |args: &[&str]| {
        let all: Vec<&str> = ["events", "histogram"].iter().chain(args).copied().collect();
        common::acta_against(&server, common::ADMIN_KEY, Some(&config), &all, Duration::from_secs(30))
    };
    let drawn = run(&["action:user-apikey", "--from", "live", "--by", "action", "--top", "5", "--width", "10"]);
    assert!(drawn.status.success(), "{}", drawn.stderr);
    let lines: Vec<&str> = drawn.stdout.lines().collect();
    assert!(lines[0].starts_with("3 events from "), "{}", drawn.stdout);
    assert!(lines[0].ends_with("buckets of 1m"), "{}", drawn.stdout);
    assert_eq!(
        lines[1],
        "by action: █ iam-identity.user-apikey.update 2   ▓ iam-identity.user-apikey.delete 1   · other 0"
    );
    let bars: Vec<&str> =
        lines[2..].iter().filter_map(|line| line.split_once("  ").map(|(_, bar)| bar.trim())).collect();
    assert!(bars.len() >= 60, "one line per minute of the last hour: {}", drawn.stdout);
    assert!(bars.contains(&"2 ██████████"), "{}", drawn.stdout);
    assert!(bars.contains(&"1 ▓▓▓▓▓"), "{}", drawn.stdout);

    let json = run(&["--from", "live", "--interval", "5m", "--json"]);
    assert!(json.status.success(), "{}", json.stderr);
    let answer: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((answer["interval"].as_str(), answer["count"].as_u64()), (Some("5m"), Some(4)));

    let refused = run(&["--by", "a..b"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stderr.contains("400 invalid_field"), "{}", refused.stderr);
}
