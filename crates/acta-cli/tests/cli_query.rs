//! `acta events query` against a real server: a pipeline's table aligned, as CSV and as the server's JSON; a
//! stage error shown under the query with a caret.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use serde_json::Value;

#[test]
fn events_query_prints_the_pipelines_table() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let config = dir.path().join("config");
    std::fs::write(&config, "").unwrap();
    let server = common::start(&data, &logs);
    let events = [
        common::event_at("q-1", "iam-identity.user-apikey.update", "success", 600),
        common::event_at("q-2", "iam-identity.user-apikey.update", "failure", 500),
        common::event_at("q-3", "iam-identity.user-apikey.delete", "failure", 300),
        common::event_at("q-4", "kms.secrets.read", "success", 200),
    ];
    let (status, answer) = server.ingest(&events);
    assert_eq!(status, 200, "{answer}");
    server.wait_count("", 4, Duration::from_secs(20));

    let run = |args: &[&str]| {
        let all: Vec<&str> = ["events", "query"].iter().chain(args).copied().collect();
        common::acta_against(&server, common::ADMIN_KEY, Some(&config), &all, Duration::from_secs(30))
    };
    let table = run(&["action:user-apikey | stats count by action | sort -count", "--from", "1h"]);
    assert!(table.status.success(), "{}", table.stderr);
    assert_eq!(
        table.stdout,
        "action                           count\n\
         iam-identity.user-apikey.update      2\n\
         iam-identity.user-apikey.delete      1\n"
    );

    let csv = run(&["| stats count by outcome", "--from", "1h", "--csv"]);
    assert!(csv.status.success(), "{}", csv.stderr);
    assert_eq!(csv.stdout, "outcome,count\nfailure,2\nsuccess,2\n");

    let json = run(&["| top 1 action", "--from", "1h", "--json"]);
    assert!(json.status.success(), "{}", json.stderr);
    let answer: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(answer["rows"], serde_json::json!([["iam-identity.user-apikey.update", 2]]));
    assert_eq!(answer["columns"][1], serde_json::json!({"name": "count", "type": "number"}));

    let refused = run(&["kms | stats count by action | median x"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stderr.contains("unknown stage 'median'"), "{}", refused.stderr);
    assert!(refused.stderr.contains('^'), "the caret points at the stage: {}", refused.stderr);
}
