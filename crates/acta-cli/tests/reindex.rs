//! The index is derived from the log: a lost partition, or `acta reindex`, gives back the same answers.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

const EVENTS: usize = 60;

const QUERIES: [&str; 6] = [
    "",
    "outcome:failure",
    "(action user-apikey) -login",
    "kms delete",
    "target.typeURI_str:kms/secrets initiator.name:alice",
    "message:\"test event\" -outcome:success",
];

/// Every query's full answer and count.
type Answers = Vec<(String, u64, Vec<Value>)>;

fn answers(server: &common::Server) -> Answers {
    QUERIES.iter().map(|q| (q.to_string(), server.count(q), server.search_all(q))).collect()
}

/// A directory with `EVENTS` varied events, searchable, and the answers the server gave; the server is killed.
fn populate(data: &Path, logs: &Path) -> Answers {
    let mut server = common::start(data, logs);
    let actions =
        ["iam-identity.user-apikey.login", "iam-identity.user-apikey.delete", "kms.secrets.read", "kms.secrets.delete"];
    let events: Vec<Value> = (0..EVENTS)
        .map(|n| {
            let outcome = if n % 4 == 1 { "failure" } else { "success" };
            common::event_at(&format!("evt-{n:03}"), actions[n % actions.len()], outcome, 600 - (n as i64 % 7) * 60)
        })
        .collect();
    for chunk in events.chunks(25) {
        let (status, answer) = server.ingest(chunk);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["accepted"], chunk.len(), "{answer}");
    }
    assert_eq!(server.wait_count("", EVENTS as u64, Duration::from_secs(10)), EVENTS as u64);
    let before = answers(&server);
    for (query, count, events) in &before {
        assert_eq!(*count, events.len() as u64, "count and search of {query:?} disagree");
    }
    assert!(before.iter().all(|(_, count, _)| *count > 0), "every query should match something: {before:?}");
    server.kill();
    before
}

/// `DIR/index/days/<day>` for the day of the only log segment.
fn partition_dir(data: &Path) -> PathBuf {
    let segment = common::only_segment(data);
    let day = segment.file_stem().unwrap().to_str().unwrap().to_string();
    data.join("index").join("days").join(day)
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

fn assert_same_answers(before: &Answers, after: &Answers) {
    for ((query, count_before, events_before), (_, count_after, events_after)) in before.iter().zip(after) {
        assert_eq!(count_before, count_after, "count of {query:?} changed");
        assert!(
            events_before == events_after,
            "the answer to {query:?} changed:\nbefore {events_before:?}\nafter  {events_after:?}"
        );
    }
}

#[test]
fn deleted_index_partition_is_rebuilt_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let before = populate(&data, &logs);
    let partition = partition_dir(&data);
    assert!(partition.is_dir(), "no partition at {}", partition.display());
    std::fs::remove_dir_all(&partition).unwrap();

    let server = common::start(&data, &logs);
    assert_eq!(server.wait_count("", EVENTS as u64, Duration::from_secs(10)), EVENTS as u64);
    assert_same_answers(&before, &answers(&server));
    assert!(partition.is_dir(), "the partition was not recreated at {}", partition.display());
    assert_eq!(server.one("evt-007").0, 200);
}

#[test]
fn an_index_of_the_earlier_per_instance_layout_is_rebuilt_from_the_log_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let before = populate(&data, &logs);
    // Where earlier versions kept the partition of the instance `default`: `index/<instance>/<day>`.
    let partition = partition_dir(&data);
    let day = partition.file_name().unwrap().to_owned();
    let earlier = data.join("index").join("default").join(&day);
    std::fs::create_dir_all(earlier.parent().unwrap()).unwrap();
    std::fs::rename(&partition, &earlier).unwrap();

    let server = common::start(&data, &logs);
    assert_eq!(server.wait_count("", EVENTS as u64, Duration::from_secs(10)), EVENTS as u64);
    assert_same_answers(&before, &answers(&server));
    assert!(!data.join("index").join("default").exists(), "the earlier layout is still there");
    assert!(partition.is_dir(), "no shared partition at {}", partition.display());
    let said: String = std::fs::read_dir(&logs)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(said.contains("written by an earlier version"), "the server did not say so:\n{said}");
    assert!(said.contains("index caught up with the log"), "the server did not report the rebuild:\n{said}");
}

#[test]
fn acta_reindex_rebuilds_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let before = populate(&data, &logs);
    let partition = partition_dir(&data);
    let files_before = file_names(&partition);
    let log_before = common::snapshot(&data.join("log"));

    let output =
        common::run_acta(&["reindex".as_ref(), "--data".as_ref(), data.as_os_str()], &[], Duration::from_secs(60));
    let (status, stdout, stderr) = (output.status, output.stdout, output.stderr);
    assert!(status.success(), "acta reindex failed: {status}\n{stderr}");
    let day = partition.file_name().unwrap().to_str().unwrap();
    assert!(stdout.contains(&format!("rebuilt default/{day} ({EVENTS} events)")), "stdout:\n{stdout}");
    assert!(stdout.lines().any(|line| line == "1 partitions rebuilt"), "stdout:\n{stdout}");
    // A rebuild writes new index files; the log is only read.
    assert_ne!(file_names(&partition), files_before, "the partition's files did not change");
    assert!(common::snapshot(&data.join("log")) == log_before, "acta reindex modified the log");

    let server = common::start(&data, &logs);
    assert_eq!(server.wait_count("", EVENTS as u64, Duration::from_secs(10)), EVENTS as u64);
    assert_same_answers(&before, &answers(&server));
}

#[test]
fn acta_reindex_refuses_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let server = common::start(&data, &logs);
    let (status, answer) = server.ingest(&[common::event("only", "kms.secrets.read", "success")]);
    assert_eq!(status, 200, "{answer}");
    let output =
        common::run_acta(&["reindex".as_ref(), "--data".as_ref(), data.as_os_str()], &[], Duration::from_secs(30));
    let (status, stderr) = (output.status, output.stderr);
    assert!(!status.success(), "acta reindex ran next to a running server");
    assert!(stderr.contains("already open"), "stderr:\n{stderr}");
    assert_eq!(server.wait_count("", 1, Duration::from_secs(10)), 1);
}
