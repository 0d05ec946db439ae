//! Retention end to end, with a controllable clock: events arrive on days 0..40, the plan is 30 days, and
//! "now" is day 40. The server runs in process (the clock is a test knob of `ServerConfig`); `acta verify` is
//! the real binary, run on the data directory afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::clocked::{ClockedServer, DAY_NS, DAY0_NS, day_event, day_name};
use common::seaweed::{S3_ACCESS_KEY, S3_SECRET_KEY, Seaweed};
use common::{ADMIN_KEY, free_port, run_acta_async};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The S3 test's store listens on 127.0.0.1, which archive endpoints reach only when allowed.
const LOOPBACK: &str = "127.0.0.0/8";

/// Sends `count` events arriving on `day` (the clock is set to that day first).
async fn send_on_day(server: &ClockedServer, day: i64, count: usize) {
    send_on_day_in(server, day, count, None).await;
}

/// Sends `count` events arriving on `day` to an instance (by default the routed one, the global instance); each
/// with an id of its own.
async fn send_on_day_in(server: &ClockedServer, day: i64, count: usize, instance: Option<&str>) {
    let prefix = instance.map_or(String::new(), |instance| format!("{instance}-"));
    let events: Vec<Value> = (0..count)
        .map(|i| {
            let mut event = json!({"id": format!("{prefix}day{day}-event{i}")});
            event.as_object_mut().unwrap().extend(day_event(day, i).as_object().unwrap().clone());
            event
        })
        .collect();
    server.send_on_day(day, &events, instance).await;
}

/// Events per arrival day of the global instance ("default"), from the log files on disk.
fn log_days(data: &Path) -> BTreeMap<String, usize> {
    common::segments(data, "default")
        .iter()
        .map(|path| {
            let day = path.file_stem().unwrap().to_str().unwrap().to_string();
            (day, acta_store::log::read_segment_file(path).unwrap().len())
        })
        .collect()
}

/// `acta verify` on a stopped server's data directory: whether it passed, and everything it printed.
fn verify(server: &ClockedServer) -> (bool, String) {
    let output = common::verify_with_key(server.dir.path(), &server.verifier_key(), &[]);
    (output.status.success(), format!("{}{}", output.stdout, output.stderr))
}

/// Days 0..=40 with `3 + day % 4` events each (so counts tell days apart).
async fn forty_days(server: &ClockedServer) -> u64 {
    let mut total = 0;
    for day in 0..=40 {
        let count = 3 + (day % 4) as usize;
        send_on_day(server, day, count).await;
        total += count as u64;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_older_than_the_plan_are_deleted_and_the_rest_kept() {
    let server = ClockedServer::start(LOOPBACK).await;
    let total = forty_days(&server).await;
    server.wait_count("action:iam-identity.user-apikey.create", total).await;
    let before = log_days(server.dir.path());
    server.set_day(40);

    let report = server.run_retention().await;
    assert!(report.errors.is_empty(), "{report:?}");

    // Day d ends at d+1; it goes when d + 1 + 30 <= 40 + 1h, so days 0..=9.
    let gone: Vec<String> = (0..=9).map(day_name).collect();
    let deleted: Vec<String> = report.deleted.iter().map(|(_, day)| day.clone()).collect();
    assert_eq!(deleted, gone);
    let after = log_days(server.dir.path());
    for day in 0..=40 {
        let name = day_name(day);
        if day <= 9 {
            assert!(!after.contains_key(&name), "{name} is still in the log");
        } else if day == 40 {
            // Today's segment also received the ten deletion events.
            assert_eq!(after.get(&name).copied(), before.get(&name).map(|count| count + 10), "events of {name}");
        } else {
            assert_eq!(after.get(&name), before.get(&name), "events of {name} changed");
        }
    }
    let kept: u64 = (10..=40).map(|day| 3 + (day % 4) as u64).sum();
    server.wait_count("action:iam-identity.user-apikey.create", kept).await;

    // One deletion event per partition, with its range, count and final checkpoint.
    server.wait_count("action:acta.retention.delete", 10).await;
    let events = server.search("action:acta.retention.delete").await;
    let mut described: Vec<(String, u64)> = events
        .iter()
        .map(|event| {
            let data = &event["requestData"];
            assert!(data["final_checkpoint"].as_str().is_some_and(|note| note.contains("/default/")), "{event}");
            assert!(data["first_seq"].as_u64() <= data["last_seq"].as_u64(), "{event}");
            assert!(data["first_received"].is_string() && data["last_received"].is_string(), "{event}");
            (data["day"].as_str().unwrap().to_string(), data["events"].as_u64().unwrap())
        })
        .collect();
    described.sort();
    let expected: Vec<(String, u64)> = (0..=9).map(|day| (day_name(day), 3 + (day % 4) as u64)).collect();
    assert_eq!(described, expected);

    // Notes stay, leaves go.
    let checkpoints = server.dir.path().join("checkpoints").join("default");
    assert!(checkpoints.join(format!("{}.notes", day_name(0))).exists());
    assert!(!checkpoints.join(format!("{}.leaves", day_name(0))).exists());

    // Running again deletes nothing more.
    let again = server.run_retention().await;
    assert!(again.deleted.is_empty(), "{again:?}");

    let server = server.stop().await;
    let (valid, output) = verify(&server);
    assert!(valid, "acta verify failed after retention:\n{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_day_leaves_search_for_its_instance_only_when_instances_share_the_index() {
    let server = ClockedServer::start(LOOPBACK).await;
    let body = json!({"account": "default", "name": "long", "region": "eu-de", "retention_days": 60});
    let (status, long) = server.call(reqwest::Method::POST, "/v1/instances", Some(body)).await;
    assert_eq!(status, 201, "{long}");
    let long_id = long["id"].as_str().unwrap().to_string();
    let total = forty_days(&server).await;
    for day in 0..=40 {
        send_on_day_in(&server, day, 2, Some("long")).await;
    }
    let created = "action:iam-identity.user-apikey.create";
    server.wait_count(created, total + 82).await;
    server.set_day(40);

    let report = server.run_retention().await;
    assert!(report.errors.is_empty(), "{report:?}");
    let deleted: Vec<(String, String)> = report.deleted.clone();
    assert!(deleted.iter().all(|(instance, _)| instance == "default"), "{deleted:?}");
    assert_eq!(deleted.len(), 10, "{deleted:?}");

    // The global instance's days 0..=9 left search; the same days of the 60-day instance, in the same index
    // partitions, did not.
    let kept: u64 = (10..=40).map(|day| 3 + (day % 4) as u64).sum();
    server.wait_count(&format!("{created} _instance:==default"), kept).await;
    assert_eq!(server.count(&format!("{created} _instance:=={long_id}")).await, 82);
    assert_eq!(server.count(&format!("{created} \"day 0\"")).await, 2, "day 0 of the long instance");
    assert!(server.dir.path().join("index").join("days").join(day_name(0)).is_dir());

    let server = server.stop().await;
    let (valid, output) = verify(&server);
    assert!(valid, "acta verify failed after retention:\n{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shortened_plan_without_confirm_deletes_nothing() {
    let server = ClockedServer::start(LOOPBACK).await;
    for day in 0..=10 {
        send_on_day(&server, day, 2).await;
    }
    server.wait_count("action:iam-identity.user-apikey.create", 22).await;
    server.set_day(10);

    let (status, answer) =
        server.call(reqwest::Method::PATCH, "/v1/instances/default", Some(json!({"retention_days": 5}))).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("confirm_required")), "{answer}");
    let before = log_days(server.dir.path());
    // Days 0..=4 end at least 5 days before day 10 + 1h.
    let listed: Vec<String> =
        answer["error"]["details"].as_array().unwrap().iter().map(|p| p["day"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed, (0..=4).map(day_name).collect::<Vec<_>>());

    let report = server.run_retention().await;
    assert!(report.deleted.is_empty(), "{report:?}");
    assert_eq!(log_days(server.dir.path()), before);
    let (_, instance) = server.call(reqwest::Method::GET, "/v1/instances/default", None).await;
    assert_eq!(instance["retention_days"], 30, "{instance}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_what_would_go_and_confirm_deletes_it() {
    let server = ClockedServer::start(LOOPBACK).await;
    for day in 0..=10 {
        send_on_day(&server, day, 1 + day as usize).await;
    }
    server.wait_count("action:iam-identity.user-apikey.create", 66).await;
    server.set_day(10);

    let body = json!({"retention_days": 7, "dry_run": true});
    let (status, answer) = server.call(reqwest::Method::PATCH, "/v1/instances/default", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    // Days 0..=2 end at least 7 days before day 10 + 1h.
    let expected = json!([{"day": day_name(0), "events": 1}, {"day": day_name(1), "events": 2},
                          {"day": day_name(2), "events": 3}]);
    assert_eq!(answer["partitions"], expected);
    assert_eq!(answer["events"], 6);
    let (_, instance) = server.call(reqwest::Method::GET, "/v1/instances/default", None).await;
    assert_eq!(instance["retention_days"], 30, "a dry run changes nothing");

    let body = json!({"retention_days": 7, "confirm": true});
    let (status, answer) = server.call(reqwest::Method::PATCH, "/v1/instances/default", Some(body)).await;
    assert_eq!((status, answer["retention_days"].as_i64()), (200, Some(7)), "{answer}");
    server.run_retention().await;
    let days = log_days(server.dir.path());
    assert!(!days.contains_key(&day_name(2)) && days.contains_key(&day_name(3)), "{days:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lengthened_plan_applies_at_once() {
    let server = ClockedServer::start(LOOPBACK).await;
    let (status, answer) =
        server.call(reqwest::Method::PATCH, "/v1/instances/default", Some(json!({"retention_days": 90}))).await;
    assert_eq!((status, answer["retention_days"].as_i64()), (200, Some(90)), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_interrupted_at_any_step_is_finished_after_restart() {
    for step in 1..=5u8 {
        let mut server = ClockedServer::start(LOOPBACK).await;
        keep_one_day(&server).await;
        for day in 0..=3 {
            send_on_day(&server, day, 2).await;
        }
        server.wait_count("action:iam-identity.user-apikey.create", 8).await;
        server.restart(LOOPBACK, Some(step)).await;
        server.set_day(3);
        let report = server.run_retention().await;
        assert!(report.errors.iter().any(|error| error.contains("simulated crash")), "step {step}: {report:?}");
        server.restart(LOOPBACK, None).await;
        let report = server.run_retention().await;
        assert!(report.errors.is_empty(), "step {step}: {report:?}");
        let days = log_days(server.dir.path());
        assert_eq!(days.keys().cloned().collect::<Vec<_>>(), vec![day_name(2), day_name(3)], "step {step}");
        // Exactly one deletion event per partition, even when the first attempt wrote it.
        server.wait_count("action:acta.retention.delete", 2).await;
        let checkpoints = server.dir.path().join("checkpoints").join("default");
        assert!(!checkpoints.join(format!("{}.leaves", day_name(0))).exists(), "step {step}");
        let server = server.stop().await;
        let (valid, output) = verify(&server);
        assert!(valid, "step {step}: acta verify failed:\n{output}");
    }
}

/// Sets the default instance's plan to one day, confirmed.
async fn keep_one_day(server: &ClockedServer) {
    let (status, answer) = server
        .call(reqwest::Method::PATCH, "/v1/instances/default", Some(json!({"retention_days": 1, "confirm": true})))
        .await;
    assert_eq!(status, 200, "{answer}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_archive_is_written_in_the_layout_before_deletion() {
    let server = ClockedServer::start(LOOPBACK).await;
    let root = server.archive_root.path().canonicalize().unwrap().join("acme");
    let body = json!({"kind": "directory", "path": root.to_str().unwrap(), "ndjson": true});
    let (status, answer) = server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    keep_one_day(&server).await;
    for day in 0..=2 {
        send_on_day(&server, day, 2 + day as usize).await;
    }
    server.wait_count("action:iam-identity.user-apikey.create", 9).await;
    server.set_day(2);
    let data = server.dir.path().to_path_buf();
    // Sealed in the background when day 1 began; read once sealing is done.
    let seg_path = data.join("log/default").join(format!("{}.seg", day_name(0)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seg_path.exists() {
        assert!(std::time::Instant::now() < deadline, "day 0 was never sealed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seg0 = std::fs::read(&seg_path).unwrap();
    let report = server.run_retention().await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(report.archived.iter().any(|(_, day)| *day == day_name(0)), "{report:?}");
    assert_eq!(report.deleted.iter().map(|(_, day)| day.clone()).collect::<Vec<_>>(), vec![day_name(0)]);

    let day0 = root.join("account=default/instance=default/year=2026/month=01/day=01");
    let names: Vec<String> =
        common::snapshot(&day0).keys().map(|p| p.file_name().unwrap().to_str().unwrap().to_string()).collect();
    let mut expected =
        vec!["2026-01-01.leaves", "2026-01-01.notes", "2026-01-01.seg", "MANIFEST.json", "events.ndjson.zst", "keys"];
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(std::fs::read(day0.join("2026-01-01.seg")).unwrap(), seg0, "the segment byte for byte");
    let manifest: Value = serde_json::from_slice(&std::fs::read(day0.join("MANIFEST.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "acta-archive 1");
    assert_eq!((manifest["account"].as_str(), manifest["instance"].as_str()), (Some("default"), Some("default")));
    // Day 0 holds the two events sent and the audit events of setting the archive and the plan.
    let records = acta_store::log::read_segment_file(&day0.join("2026-01-01.seg")).unwrap();
    assert_eq!(records.len(), 4);
    assert_eq!((manifest["day"].as_str(), manifest["events"].as_u64()), (Some("2026-01-01"), Some(4)));
    assert_eq!((manifest["first_seq"].as_u64(), manifest["last_seq"].as_u64()), (Some(1), Some(4)));
    let notes = std::fs::read_to_string(day0.join("2026-01-01.notes")).unwrap();
    let final_line: Value = serde_json::from_str(notes.lines().last().unwrap()).unwrap();
    assert_eq!(manifest["final_checkpoint"], final_line["note"]);
    for (name, file) in manifest["files"].as_object().unwrap() {
        let bytes = std::fs::read(day0.join(name)).unwrap();
        assert_eq!(file["bytes"].as_u64(), Some(bytes.len() as u64), "{name}");
        assert_eq!(file["sha256"].as_str(), Some(sha256_hex(&bytes).as_str()), "{name}");
    }
    let ndjson = zstd::decode_all(&std::fs::read(day0.join("events.ndjson.zst")).unwrap()[..]).unwrap();
    let sent: Vec<Vec<u8>> = records.iter().map(|record| record.event.clone()).collect();
    let written: Vec<Vec<u8>> =
        ndjson.split(|b| *b == b'\n').filter(|line| !line.is_empty()).map(<[u8]>::to_vec).collect();
    assert_eq!(written, sent, "the NDJSON holds each event's bytes as received");
    let ids: Vec<String> =
        written.iter().map(|line| serde_json::from_slice::<Value>(line).unwrap()["id"].to_string()).collect();
    assert!(ids.contains(&"\"day0-event0\"".to_string()) && ids.contains(&"\"day0-event1\"".to_string()), "{ids:?}");

    // Day 1 is archived once sealed, although it is not due; day 2 still receives events.
    assert!(root.join("account=default/instance=default/year=2026/month=01/day=02/MANIFEST.json").exists());
    let (_, instance) = server.call(reqwest::Method::GET, "/v1/instances/default", None).await;
    assert_eq!(instance["storage"]["archived_through"], "2026-01-02", "{instance}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_copy_cut_by_a_crash_is_written_again_whole_before_anything_is_deleted() {
    let server = ClockedServer::start(LOOPBACK).await;
    let root = server.archive_root.path().canonicalize().unwrap().join("acme");
    let body = json!({"kind": "directory", "path": root.to_str().unwrap()});
    let (status, answer) = server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    keep_one_day(&server).await;
    for day in 0..=2 {
        send_on_day(&server, day, 2).await;
    }
    server.wait_count("action:iam-identity.user-apikey.create", 6).await;
    // What a process killed while copying day 0 leaves: the segment cut short, the other files and the
    // manifest never written (the manifest goes last). Day 1 was cut after its manifest, before its record.
    let day_dir = |day: u32| root.join(format!("account=default/instance=default/year=2026/month=01/day=0{}", day + 1));
    std::fs::create_dir_all(day_dir(0)).unwrap();
    std::fs::write(day_dir(0).join(format!("{}.seg", day_name(0))), b"ACTA partial").unwrap();
    std::fs::create_dir_all(day_dir(1)).unwrap();
    std::fs::write(day_dir(1).join("MANIFEST.json"), b"{\"format\": \"acta-archive 1\", \"cut\": true}").unwrap();
    server.set_day(2);
    let sealed = server.dir.path().join("log/default").join(format!("{}.seg", day_name(1)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !sealed.exists() {
        assert!(std::time::Instant::now() < deadline, "day 1 was never sealed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let report = server.run_retention().await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.deleted.iter().map(|(_, day)| day.clone()).collect::<Vec<_>>(), vec![day_name(0)]);
    let segment = std::fs::read(day_dir(0).join(format!("{}.seg", day_name(0)))).unwrap();
    assert_ne!(segment, b"ACTA partial", "the cut segment was written again");
    let key = server.verifier_key();
    // The stopped server keeps its directories (the archive root among them) until it is dropped.
    let _stopped = server.stop().await;
    let output = common::verify_with_key(&root, &key, &[]);
    assert!(output.status.success(), "the archive does not verify:\n{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("1 instance(s), 2 day(s)"), "{}", output.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_figures_count_live_events_and_their_arrival_range() {
    let server = ClockedServer::start(LOOPBACK).await;
    send_on_day(&server, 0, 3).await;
    send_on_day(&server, 1, 4).await;
    let (status, instance) = server.call(reqwest::Method::GET, "/v1/instances/default", None).await;
    assert_eq!(status, 200);
    let storage = &instance["storage"];
    assert_eq!((storage["events"].as_u64(), storage["segments"].as_u64()), (Some(7), Some(2)), "{instance}");
    assert!(storage["bytes"].as_u64().unwrap() > 0);
    assert_eq!(storage["oldest"], acta_cadf::format_time(DAY0_NS + 3_600_000_000_000));
    assert_eq!(storage["newest"], acta_cadf::format_time(DAY0_NS + DAY_NS + 3_600_000_000_000));
    let (_, list) = server.call(reqwest::Method::GET, "/v1/instances", None).await;
    assert_eq!(list["instances"][0]["storage"]["events"], 7, "{list}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_archive_down_at_first_blocks_deletion_alerts_once_and_recovers() {
    let Some(weed) = Seaweed::binary() else {
        return;
    };
    let server = ClockedServer::start(LOOPBACK).await;
    let s3_port = free_port();
    keep_one_day(&server).await;
    let archive = json!({"kind": "s3", "endpoint": format!("http://127.0.0.1:{s3_port}"), "bucket": "acta",
                         "prefix": "audit/archives", "access_key_id": S3_ACCESS_KEY,
                         "secret_access_key": S3_SECRET_KEY, "allow_http": true, "ndjson": true});
    let (status, answer) = server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(archive)).await;
    assert_eq!(status, 200, "{answer}");
    for day in 0..=2 {
        send_on_day(&server, day, 3).await;
    }
    server.wait_count("action:iam-identity.user-apikey.create", 9).await;
    server.set_day(2);

    // The store is down: nothing is deleted, and the managers' alert event is written once per streak.
    for _ in 0..2 {
        let report = server.run_retention().await;
        assert!(report.deleted.is_empty() && report.archived.is_empty(), "{report:?}");
        assert!(report.errors.iter().any(|error| error.contains("waits for a confirmed archive")), "{report:?}");
    }
    assert!(log_days(server.dir.path()).contains_key(&day_name(0)));
    server.wait_count("action:acta.archive.failure AND outcome:failure", 1).await;
    let (_, shown) = server.call(reqwest::Method::GET, "/v1/instances/default/archive", None).await;
    assert_eq!(shown["failing"], true, "{shown}");
    assert_eq!(shown["archive"]["secret_access_key"], "(redacted)", "{shown}");

    let _seaweed = Seaweed::start(&weed, s3_port).await;
    let report = server.run_retention().await;
    assert!(report.errors.is_empty(), "{report:?}");
    let archived: Vec<String> = report.archived.iter().map(|(_, day)| day.clone()).collect();
    assert_eq!(archived, vec![day_name(0), day_name(1)]);
    assert_eq!(report.deleted.iter().map(|(_, day)| day.clone()).collect::<Vec<_>>(), vec![day_name(0)]);
    server.wait_count("action:acta.archive.success", 1).await;
    assert_eq!(server.count("action:acta.archive.failure").await, 1);
    let (_, instance) = server.call(reqwest::Method::GET, "/v1/instances/default", None).await;
    assert_eq!(instance["storage"]["archived_through"], day_name(1), "{instance}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_archive_outside_the_allowed_roots_is_refused() {
    let server = ClockedServer::start(LOOPBACK).await;
    let root = server.archive_root.path().canonicalize().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), root.join("link")).unwrap();
    let cases = [
        (elsewhere.path().join("archive"), "not under an archive root"),
        (root.join("..").join("escape"), "without `..`"),
        (PathBuf::from("relative/archive"), "absolute"),
        (root.join("link").join("inside"), "leads outside"),
    ];
    for (path, mentions) in cases {
        let body = json!({"kind": "directory", "path": path.to_str().unwrap()});
        let (status, answer) = server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(body)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_field")), "{path:?}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{path:?}: {message:?} should mention {mentions:?}");
    }
    assert!(!elsewhere.path().join("archive").exists(), "nothing was created outside the root");
    assert!(!elsewhere.path().join("inside").exists(), "nothing was created through the link");
    server.stop().await;
}

/// Runs the `acta` binary against the server; its exit code and all it printed.
async fn acta(server: &ClockedServer, args: &[&str]) -> (Option<i32>, String) {
    let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_string()).collect();
    args.extend(["--url", &server.url, "--api-key", ADMIN_KEY].map(String::from));
    let output = run_acta_async(args, std::time::Duration::from_secs(60)).await;
    (output.status.code(), format!("{}{}", output.stdout, output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_prints_the_partitions_a_shorter_plan_deletes_and_needs_confirm() {
    let server = ClockedServer::start(LOOPBACK).await;
    for day in 0..=4 {
        send_on_day(&server, day, 2 + day as usize).await;
    }
    server.wait_count("action:iam-identity.user-apikey.create", 20).await;
    let (code, text) = acta(&server, &["instances", "update", "default", "--retention-days", "2", "--dry-run"]).await;
    assert_eq!(code, Some(0), "{text}");
    // Days 0 and 1 end at least 2 days before day 4 + 1h: 2 + 3 events.
    assert!(text.contains(&day_name(0)) && text.contains(&day_name(1)) && !text.contains(&day_name(2)), "{text}");
    assert!(text.contains("2 partitions, 5 events"), "{text}");

    let (code, text) = acta(&server, &["instances", "update", "default", "--retention-days", "2"]).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("--confirm") && text.contains("2 partitions, 5 events"), "{text}");
    let (_, instance) = server.call(reqwest::Method::GET, "/v1/instances/default", None).await;
    assert_eq!(instance["retention_days"], 30);

    let (code, text) = acta(&server, &["instances", "show", "default"]).await;
    assert_eq!(code, Some(0), "{text}");
    // The 20 events sent and the audit event of the refused change.
    assert!(text.contains("events:    21") && text.contains("days kept: 5"), "{text}");
    server.stop().await;
}
