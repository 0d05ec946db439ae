//! `acta routes` against a real `acta serve` started with `ACTA_FORWARD_DIR`: a route to NDJSON files is
//! created, delivers the events held before it (`--from-oldest`), shows its status, pauses and goes.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

fn acta(server: &common::Server, config: &Path, args: &[&str]) -> common::Output {
    common::acta_against(server, common::ADMIN_KEY, Some(config), args, Duration::from_secs(30))
}

/// Every line of every file under `dir`, as JSON.
fn lines_under(dir: &Path) -> Vec<Value> {
    let mut lines = Vec::new();
    for instance in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(instance.path()).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(file.path()).unwrap();
            lines.extend(text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()));
        }
    }
    lines
}

#[test]
fn a_route_to_files_is_created_delivers_pauses_and_is_deleted_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs, forward) = (dir.path().join("data"), dir.path().join("logs"), dir.path().join("forward"));
    let config = dir.path().join("config");
    std::fs::write(&config, "").unwrap();
    let server = common::start_with(&data, &logs, &[("ACTA_FORWARD_DIR", forward.to_str().unwrap())]);
    let events = [
        common::event("r-1", "kms.secrets.rotate", "success"),
        common::event("r-2", "kms.secrets.read", "failure"),
        common::event("r-3", "iam-identity.user-apikey.delete", "success"),
    ];
    let (status, answer) = server.ingest(&events);
    assert_eq!(status, 200, "{answer}");

    let destination = r#"{"type": "directory", "path": "siem/default"}"#;
    let created = acta(
        &server,
        &config,
        &[
            "routes",
            "create",
            "--name",
            "files",
            "--query",
            "action:kms.*",
            "--destination",
            destination,
            "--from-oldest",
        ],
    );
    assert!(created.status.success(), "{}", created.stderr);
    assert!(created.stdout.contains("directory siem/default"), "{}", created.stdout);
    assert!(created.stdout.contains("query: action:kms.*"), "{}", created.stdout);

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let shown = acta(&server, &config, &["routes", "status", "files", "--json"]);
        assert!(shown.status.success(), "{}", shown.stderr);
        let status: Value = serde_json::from_str(&shown.stdout).unwrap();
        if status["lag_events"] == 0 || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status["state"], "up_to_date", "{status}");
    let ids: Vec<String> = lines_under(&forward.join("siem/default"))
        .iter()
        .map(|line| line["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["r-1", "r-2"], "the matching events, in order");

    let listed = acta(&server, &config, &["routes", "list"]);
    assert!(listed.status.success(), "{}", listed.stderr);
    let header = listed.stdout.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("STATE") && header.contains("LAG"), "{}", listed.stdout);
    assert!(listed.stdout.contains("up_to_date"), "{}", listed.stdout);

    let paused = acta(&server, &config, &["routes", "update", "files", "--disable", "--json"]);
    assert!(paused.status.success(), "{}", paused.stderr);
    let paused: Value = serde_json::from_str(&paused.stdout).unwrap();
    assert_eq!(paused["status"]["state"], "disabled", "{paused}");

    let refused = acta(&server, &config, &["routes", "create", "--name", "x", "--destination", "{\"type\": \"ftp\"}"]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("\"ftp\" is not one of"), "{}", refused.stderr);

    let deleted = acta(&server, &config, &["routes", "delete", "files"]);
    assert!(deleted.status.success(), "{}", deleted.stderr);
    let listed = acta(&server, &config, &["routes", "list", "--json"]);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed["routes"], serde_json::json!([]));
}
