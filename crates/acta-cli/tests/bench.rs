//! `acta bench` against a real server on 127.0.0.1: its reports count what was sent. No timing is asserted.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::json_of;
use serde_json::Value;

fn acta(args: &[&str]) -> common::Output {
    common::run_acta_args(args, &[], Duration::from_secs(120))
}

#[test]
fn bench_ingest_reports_what_it_sent_and_bench_query_runs_every_query() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let server = common::start(&data, &logs);
    let pid = server.pid().to_string();

    // 300 generated events in 7 batches (the last one short) from 3 clients, closed loop.
    let ingest = acta(&[
        "bench",
        "ingest",
        "--url",
        &server.url,
        "--api-key",
        common::ADMIN_KEY,
        "--events",
        "300",
        "--batch",
        "45",
        "--clients",
        "3",
        "--seed",
        "5",
        "--account",
        "default",
        "--pid",
        &pid,
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(ingest.status.success(), "bench ingest failed\n{}\n{}", ingest.stdout, ingest.stderr);
    let report = json_of(&ingest);
    assert_eq!(report["mode"], "closed");
    assert_eq!(report["events_sent"], 300);
    assert_eq!(report["batches"], 7);
    assert_eq!(report["accepted"], 300);
    assert_eq!((report["rejected"].as_u64(), report["duplicates"].as_u64()), (Some(0), Some(0)));
    assert_eq!(report["failed_events"], 0);
    assert_eq!(report["ack_latency"]["samples"], 7);
    assert_eq!(report["searchable"]["before"], 0);
    assert_eq!(report["searchable"]["counted"], 300, "the tool waited until all were searchable");
    assert!(report["searchable"]["after_s"].is_number());
    assert_eq!(report["storage"]["events"], 300);
    assert!(report["storage"]["total_bytes"].as_u64().unwrap() > 300 * 800);
    assert!(report["storage"]["disk_per_raw_byte"].is_number());
    assert!(report["server_memory"]["peak_rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(server.count(""), 300);

    // The same events again from a file, plus two broken lines, open loop: duplicates and rejections counted.
    let file = dir.path().join("events.ndjson");
    let generated = acta(&["bench", "generate", "300", "--seed", "5", "--output", file.to_str().unwrap()]);
    assert!(generated.status.success(), "{}", generated.stderr);
    let mut text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 300);
    text.push_str("{\"action\": \"broken\n{\"action\":\"x\",\"outcome\":\"maybe\"}\n");
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    let send_file = || {
        acta(&[
            "bench",
            "ingest",
            "--url",
            &server.url,
            "--api-key",
            common::ADMIN_KEY,
            "--events",
            path,
            "--batch",
            "100",
            "--clients",
            "2",
            "--rate",
            "5000",
            "--account",
            "default",
            "--json",
        ])
    };
    let again = send_file();
    assert_eq!(again.status.code(), Some(1), "rejections make the exit status 1\n{}", again.stderr);
    let report = json_of(&again);
    assert_eq!(report["mode"], "open");
    assert_eq!(report["events_sent"], 302);
    assert_eq!(report["batches"], 4);
    // Generated at another time, the file's events have other times, hence other ids: stored.
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(300), Some(2)));
    // The file sent again: its events are duplicates.
    let third = send_file();
    let report = json_of(&third);
    assert_eq!(report["accepted"], 0);
    assert_eq!(report["duplicates"], 300);
    assert_eq!(report["rejected"], 2);
    assert_eq!(report["searchable"]["counted"], 600);

    let query =
        acta(&["bench", "query", "--url", &server.url, "--api-key", common::ADMIN_KEY, "--runs", "2", "--json"]);
    assert!(query.status.success(), "bench query failed\n{}\n{}", query.stdout, query.stderr);
    let report = json_of(&query);
    assert_eq!(report["server_memory"]["pid"], Value::Null, "without --pid: {report}");
    assert!(report["server_memory"]["peak_rss_bytes"].as_u64().unwrap() > 0, "from /metrics: {report}");
    let queries = report["queries"].as_array().unwrap();
    let names: Vec<&str> = queries.iter().map(|entry| entry["name"].as_str().unwrap()).collect();
    for name in ["free_text", "free_text_two_tokens", "phrase_in_field", "negation", "negation_count"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(queries.len(), 10);
    for entry in queries {
        assert_eq!(entry["available"], true, "{entry}");
        assert_eq!(entry["latency"]["samples"], 2, "{entry}");
    }
    let histogram = queries.iter().find(|entry| entry["name"] == "histogram_24h_by_action_top5").unwrap();
    let in_buckets = histogram["result"].as_u64().unwrap();
    assert!(in_buckets > 0 && in_buckets < 600, "the last 24 h of 7 days of events: {histogram}");
    let needle = queries.iter().find(|entry| entry["name"] == "needle_target_name").unwrap();
    assert_eq!(needle["result"], 2, "one needle in each of the two generated sets stored: {needle}");
    let recent = queries.iter().find(|entry| entry["name"] == "time_range_count_24h").unwrap();
    let recent = recent["result"].as_u64().unwrap();
    assert!(recent > 0 && recent < 600, "7 days of events, some in the last 24 h: {recent}");
}

fn bench_alert(server: &common::Server, events: &str) -> common::Output {
    bench_alert_waiting(server, events, "15")
}

fn bench_alert_waiting(server: &common::Server, events: &str, wait_s: &str) -> common::Output {
    acta(&[
        "bench",
        "alert",
        "--url",
        &server.url,
        "--api-key",
        common::ADMIN_KEY,
        "--alert-events",
        events,
        "--alert-interval-ms",
        "20",
        "--alert-wait",
        wait_s,
        "--json",
    ])
}

#[test]
fn bench_alert_receives_one_webhook_per_probe_and_removes_its_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let server = common::start_with(&data, &logs, &[("ACTA_WEBHOOK_ALLOW", "127.0.0.1/32")]);

    let output = bench_alert(&server, "12");
    assert!(output.status.success(), "bench alert failed\n{}\n{}", output.stdout, output.stderr);
    let report = json_of(&output);
    assert_eq!(report["events"], 12);
    assert_eq!(report["accepted"], 12);
    assert_eq!(report["alerts"], 12, "20 ms apart, each probe needs its own 30 s window");
    assert_eq!((report["lost"].as_u64(), report["unexpected"].as_u64()), (Some(0), Some(0)), "{report}");
    assert_eq!(report["answer_to_webhook"]["samples"], 12);
    assert_eq!(report["send_to_webhook"]["samples"], 12);

    let alerts: Value = server.get("/v1/alerts").send().unwrap().json().unwrap();
    assert_eq!(alerts["alerts"].as_array().map(Vec::len), Some(0), "{alerts}");
    let views: Value = server.get("/v1/views").send().unwrap().json().unwrap();
    assert_eq!(views["views"].as_array().map(Vec::len), Some(0), "{views}");
    let stored = server.wait_count("target.name:acta-bench-probe", 12, Duration::from_secs(20));
    assert_eq!(stored, 12, "the probes are stored events");
}

#[test]
fn bench_alert_stops_before_probing_and_names_the_allowlist_when_the_server_refuses_loopback_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let server = common::start(&data, &logs);

    let output = bench_alert_waiting(&server, "3", "2");
    assert_eq!(output.status.code(), Some(1), "a refused alert makes the exit status 1\n{}", output.stderr);
    assert!(output.stderr.contains("--webhook-allow 127.0.0.1/32"), "{}", output.stderr);
    assert!(output.stderr.contains("loopback"), "the server's refusal is shown: {}", output.stderr);
    let views: Value = server.get("/v1/views").send().unwrap().json().unwrap();
    assert_eq!(views["views"].as_array().map(Vec::len), Some(0), "{views}");
    let alerts: Value = server.get("/v1/alerts").send().unwrap().json().unwrap();
    assert_eq!(alerts["alerts"].as_array().map(Vec::len), Some(0), "{alerts}");
}
