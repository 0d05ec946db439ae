//! `acta events ...` against a real server: send, search (table and JSON), count, export.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

const CSV_HEADER: &str = "eventTime,action,outcome,severity,initiator.id,initiator.name,initiator.host.agent,target.id,\
target.name,target.typeURI,reason.reasonCode,message,_acta.id,_acta.instance";

/// Runs `acta events <args>` against the server, with the URL and key from the environment only.
fn acta_events(server: &common::Server, config: &Path, args: &[&str]) -> common::Output {
    let all: Vec<&str> = ["events"].iter().chain(args).copied().collect();
    common::acta_against(server, common::ADMIN_KEY, Some(config), &all, Duration::from_secs(30))
}

#[test]
fn events_send_reports_rejections_and_search_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let config = dir.path().join("config");
    std::fs::write(&config, "# empty: everything comes from ACTA_URL and ACTA_API_KEY\n").unwrap();
    let server = common::start(&data, &logs);

    let a = common::event_at("cli-a", "iam-identity.user-apikey.login", "failure", 300);
    let b = common::event_at("cli-b", "kms.secrets.read", "success", 250);
    let c = common::event_at("cli-c", "kms.secrets.delete", "failure", 100);
    let d = common::event_at("cli-d", "iam-identity.user-apikey.delete", "success", 50);
    let mut no_action = common::event_at("bad-1", "x", "success", 10);
    no_action.as_object_mut().unwrap().remove("action");
    let mut bad_outcome = common::event_at("bad-2", "kms.secrets.read", "maybe", 10);
    bad_outcome["outcome"] = Value::from("maybe");
    let lines = [
        a.to_string(),
        b.to_string(),
        no_action.to_string(),
        bad_outcome.to_string(),
        c.to_string(),
        "{\"action\": \"broken".to_string(),
        d.to_string(),
    ];
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let file_arg = file.to_str().unwrap();

    // Batches of 2: lines 3 and 4 make a request whose every event is rejected (answered 400).
    let sent = acta_events(&server, &config, &["send", file_arg, "--batch", "2"]);
    assert_eq!(sent.status.code(), Some(1), "exit status of a send with rejections\n{}", sent.stderr);
    assert_eq!(sent.stdout.trim(), "4 stored, 0 duplicates, 3 rejected", "stderr:\n{}", sent.stderr);
    let rejections: Vec<&str> = sent.stderr.lines().filter(|line| line.starts_with("event ")).collect();
    assert_eq!(rejections.len(), 3, "one line per problem expected:\n{}", sent.stderr);
    assert_eq!(rejections[0], "event 3 rejected: /action: is required", "{}", sent.stderr);
    assert!(
        rejections[1].starts_with("event 4 rejected: /outcome: \"maybe\" is not a CADF outcome"),
        "{}",
        sent.stderr
    );
    assert!(rejections[2].starts_with("event 6 rejected: "), "{}", sent.stderr);

    // Sending the same file again: the stored ones are duplicates, the same ones are rejected.
    let again = acta_events(&server, &config, &["send", file_arg]);
    assert_eq!(again.status.code(), Some(1), "{}", again.stderr);
    assert_eq!(again.stdout.trim(), "0 stored, 4 duplicates, 3 rejected", "stderr:\n{}", again.stderr);

    assert_eq!(server.wait_count("", 4, Duration::from_secs(10)), 4, "the stored events did not become searchable");

    // The table: a header, then one row per matching event, newest eventTime first.
    let table = acta_events(&server, &config, &["search", "outcome:failure", "--utc"]);
    assert!(table.status.success(), "{}", table.stderr);
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "header and two rows expected:\n{}", table.stdout);
    assert!(rows[0].starts_with("TIME (UTC)  "), "{}", table.stdout);
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["TIME", "(UTC)", "ACTION", "OUTCOME", "INITIATOR", "TARGET", "MESSAGE"],
        "{}",
        table.stdout
    );
    for (row, event) in rows[1..].iter().zip([&c, &a]) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        // `2026-11-20T10:00:00.123456789Z` is shown as `2026-11-20 10:00:00`.
        let time = event["eventTime"].as_str().unwrap();
        let expected = [
            &time[..10],
            &time[11..19],
            event["action"].as_str().unwrap(),
            "failure",
            "alice@example.com",
            "key-1",
            "test",
            "event",
            event["id"].as_str().unwrap(),
        ];
        assert_eq!(cells, expected, "row {row:?} in\n{}", table.stdout);
    }
    // Columns line up: ACTION starts where each row's action starts.
    let action_column = rows[0].find("ACTION").unwrap();
    assert_eq!(rows[1].find("kms.secrets.delete"), Some(action_column), "{}", table.stdout);

    // --json: one event per line, with what Acta adds.
    let json = acta_events(&server, &config, &["search", "outcome:failure", "--json"]);
    assert!(json.status.success(), "{}", json.stderr);
    let events: Vec<Value> = json.stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let ids: Vec<String> = events.iter().map(common::acta_id).collect();
    assert_eq!(ids, ["cli-c", "cli-a"], "{}", json.stdout);
    assert_eq!(events[0]["action"], "kms.secrets.delete");
    assert_eq!(events[0]["_acta"]["instance"], "default");

    let count = acta_events(&server, &config, &["count", "outcome:failure"]);
    assert!(count.status.success(), "{}", count.stderr);
    assert_eq!(count.stdout.trim(), "2");
    let count_all = acta_events(&server, &config, &["count"]);
    assert_eq!(count_all.stdout.trim(), "4", "{}", count_all.stderr);

    // Export: a header and one row per event.
    let csv = dir.path().join("export.csv");
    let export = acta_events(&server, &config, &["export", "--format", "csv", "-o", csv.to_str().unwrap()]);
    assert!(export.status.success(), "{}", export.stderr);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first().copied(), Some(CSV_HEADER), "{text}");
    assert_eq!(lines.len(), 5, "header and four rows expected:\n{text}");
    let mut exported: Vec<(String, String, String)> = lines[1..]
        .iter()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 14, "{line}");
            (cells[12].to_string(), cells[1].to_string(), cells[13].to_string())
        })
        .collect();
    exported.sort();
    let expected: Vec<(String, String, String)> = [&a, &b, &c, &d]
        .iter()
        .map(|e| (e["id"].as_str().unwrap().into(), e["action"].as_str().unwrap().into(), "default".into()))
        .collect();
    assert_eq!(exported, expected, "{text}");
    assert!(export.stderr.contains(&format!("5 lines written to {}", csv.display())), "{}", export.stderr);
}
