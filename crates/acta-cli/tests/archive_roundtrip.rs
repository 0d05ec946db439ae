//! The "done when" for archives, end to end with the real writer: a server archives an instance (the
//! archive configured through the API, retention run with a controllable clock), `acta verify` passes on the
//! archive, and `acta import` into a fresh instance of a fresh server gives back the same events, byte for byte
//! with the same ids; once for a directory archive, once for S3 (SeaweedFS on 127.0.0.1). Also the rule that
//! keeps S3 endpoints off the operator's own network, at configuration time and at connect time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::clocked::{ClockedServer, day_event, day_name};
use common::seaweed::{S3_ACCESS_KEY, S3_SECRET_KEY, Seaweed};
use common::{ADMIN_KEY, free_port, records_of, run_acta_async, stored};
use serde_json::{Value, json};

/// Sends events arriving on `day`: some with an id of their own, some to which Acta gives one.
async fn send_on_day(server: &ClockedServer, day: i64, count: usize) {
    let events: Vec<Value> = (0..count)
        .map(|i| {
            let mut event = day_event(day, i);
            if i % 2 == 0 {
                event["id"] = json!(format!("day{day}-event{i}"));
            }
            event
        })
        .collect();
    server.send_on_day(day, &events, None).await;
}

impl ClockedServer {
    /// Days 0, 1 and 2 receive events; "now" is day 2, so days 0 and 1 are sealed once the log rolled over.
    async fn fill_three_days(&self) {
        for day in 0..=2 {
            send_on_day(self, day, 3 + day as usize).await;
        }
        self.set_day(2);
        let log = self.dir.path().join("log/default");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !(log.join(format!("{}.seg", day_name(0))).exists() && log.join(format!("{}.seg", day_name(1))).exists())
        {
            assert!(std::time::Instant::now() < deadline, "days 0 and 1 were never sealed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs the `acta` binary; exit code and all output.
async fn acta(args: Vec<String>) -> (Option<i32>, String, String) {
    let output = run_acta_async(args, Duration::from_secs(120)).await;
    (output.status.code(), output.stdout, output.stderr)
}

/// Imports `source` (with `extra` options) into a new instance of a fresh server; returns the import's JSON
/// summary and what the instance's log holds afterwards.
async fn import_into_fresh_instance(source: &str, extra: &[String]) -> (Value, Vec<(String, Vec<u8>)>) {
    let fresh = ClockedServer::start("").await;
    // After the archived days, so that no event time lies in the fresh server's future.
    fresh.set_day(3);
    let body = json!({"name": "restored", "region": "eu-de", "retention_days": 30});
    let (status, created) = fresh.call(reqwest::Method::POST, "/v1/instances", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let instance = created["id"].as_str().unwrap().to_string();
    let mut args: Vec<String> = vec!["import".into(), source.into(), "--instance".into(), instance.clone()];
    args.extend(["--json", "--url", &fresh.url, "--api-key", ADMIN_KEY].map(String::from));
    args.extend(extra.iter().cloned());
    let (code, stdout, stderr) = acta(args).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("not JSON: {stdout}\n{stderr}"));
    let fresh = fresh.stop().await;
    let stored = stored(fresh.dir.path(), &instance);
    (summary, stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_archive_written_by_the_server_verifies_and_imports_the_same_events() {
    let server = ClockedServer::start("").await;
    let root = server.archive_root.path().canonicalize().unwrap().join("audit");
    let body = json!({"kind": "directory", "path": root.to_str().unwrap()});
    let (status, answer) = server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    server.fill_three_days().await;
    let report = server.run_retention().await;
    assert!(report.errors.is_empty(), "{report:?}");
    let archived: Vec<String> = report.archived.iter().map(|(_, day)| day.clone()).collect();
    assert_eq!(archived, vec![day_name(0), day_name(1)]);
    let key = server.verifier_key();
    let server = server.stop().await;

    let (code, stdout, stderr) = acta(vec!["verify".into(), root.display().to_string(), "--key".into(), key]).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 instance(s), 2 day(s)"), "{stdout}");

    let log = server.dir.path().join("log/default");
    let original = records_of(&[0, 1].map(|day| log.join(format!("{}.seg", day_name(day)))));
    // Days 0 and 1: 3 + 4 events sent and the audit event of setting the archive.
    assert_eq!(original.len(), 8);
    let (summary, stored) = import_into_fresh_instance(&root.display().to_string(), &[]).await;
    assert_eq!((summary["stored"].as_u64(), summary["failed"].as_u64()), (Some(8), Some(0)), "{summary}");
    assert_eq!(stored, original, "same ids and bytes, in the same order");
}

/// A stopped server whose days 0 and 1 were archived to SeaweedFS under `s3://acta/audit/archives`; its
/// verifier key; and the options that reach the store.
async fn archived_to_s3(s3_port: u16) -> (ClockedServer, String, Vec<String>) {
    let server = ClockedServer::start("127.0.0.0/8").await;
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let archive = json!({"kind": "s3", "endpoint": endpoint, "bucket": "acta", "prefix": "audit/archives",
                         "access_key_id": S3_ACCESS_KEY, "secret_access_key": S3_SECRET_KEY, "allow_http": true});
    let (status, answer) = server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(archive)).await;
    assert_eq!(status, 200, "{answer}");
    server.fill_three_days().await;
    let report = server.run_retention().await;
    assert!(report.errors.is_empty(), "{report:?}");
    let archived: Vec<String> = report.archived.iter().map(|(_, day)| day.clone()).collect();
    assert_eq!(archived, vec![day_name(0), day_name(1)]);
    let key = server.verifier_key();
    let connection: Vec<String> = [
        "--s3-endpoint",
        &endpoint,
        "--s3-allow-http",
        "--s3-access-key-id",
        S3_ACCESS_KEY,
        "--s3-secret-access-key",
        S3_SECRET_KEY,
    ]
    .map(String::from)
    .to_vec();
    (server.stop().await, key, connection)
}

const S3_ARCHIVE: &str = "s3://acta/audit/archives";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_archive_written_by_the_server_verifies_and_imports_the_same_events() {
    let Some(weed) = Seaweed::binary() else {
        return;
    };
    let s3_port = free_port();
    let _seaweed = Seaweed::start(&weed, s3_port).await;
    let (server, key, connection) = archived_to_s3(s3_port).await;

    let mut args: Vec<String> = vec!["verify".into(), S3_ARCHIVE.into(), "--key".into(), key];
    args.extend(connection.iter().cloned());
    let (code, stdout, stderr) = acta(args).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("verified the archive {S3_ARCHIVE}: 1 instance(s), 2 day(s)")), "{stdout}");

    let log = server.dir.path().join("log/default");
    let original = records_of(&[0, 1].map(|day| log.join(format!("{}.seg", day_name(day)))));
    assert_eq!(original.len(), 8);
    let (summary, stored) = import_into_fresh_instance(S3_ARCHIVE, &connection).await;
    assert_eq!((summary["stored"].as_u64(), summary["failed"].as_u64()), (Some(8), Some(0)), "{summary}");
    assert_eq!(stored, original, "same ids and bytes, in the same order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_object_of_an_s3_archive_fails_verification_and_is_not_imported_naming_its_url() {
    let Some(weed) = Seaweed::binary() else {
        return;
    };
    let s3_port = free_port();
    let _seaweed = Seaweed::start(&weed, s3_port).await;
    let (server, key, connection) = archived_to_s3(s3_port).await;
    // Someone with write access to the bucket flips a byte of day 0's segment.
    let store = common::seaweed::bucket(s3_port).build().unwrap();
    let day0 = format!("audit/archives/account=default/instance=default/year=2026/month=01/day=01/{}.seg", day_name(0));
    let location = object_store::path::Path::from(day0.as_str());
    let mut bytes = object_store::ObjectStore::get(&store, &location).await.unwrap().bytes().await.unwrap().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    object_store::ObjectStore::put(&store, &location, bytes.into()).await.unwrap();
    let url = format!("s3://acta/{day0}");

    let mut args: Vec<String> = vec!["verify".into(), S3_ARCHIVE.into(), "--key".into(), key];
    args.extend(connection.iter().cloned());
    let (code, stdout, stderr) = acta(args).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("{url}: SHA-256")) && stdout.contains("the file was changed"), "{stdout}");

    // Day 1 still imports; day 0 is refused as a whole.
    let day1 = records_of(&[server.dir.path().join("log/default").join(format!("{}.seg", day_name(1)))]);
    let fresh = ClockedServer::start("").await;
    fresh.set_day(3);
    let mut args: Vec<String> = vec!["import".into(), S3_ARCHIVE.into(), "--json".into()];
    args.extend(["--url", &fresh.url, "--api-key", ADMIN_KEY].map(String::from));
    args.extend(connection.iter().cloned());
    let (code, stdout, stderr) = acta(args).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((summary["stored"].as_u64(), summary["failed"].as_u64()), (Some(day1.len() as u64), Some(1)));
    let failure = summary["failures"][0].as_str().unwrap();
    assert!(failure.contains("not imported") && failure.contains(&url), "{failure}");
    fresh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_an_s3_prefix_without_objects_fails_naming_it() {
    let Some(weed) = Seaweed::binary() else {
        return;
    };
    let s3_port = free_port();
    let _seaweed = Seaweed::start(&weed, s3_port).await;
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let mut args: Vec<String> = ["import", "s3://acta/nothing-here", "--url", "http://127.0.0.1:9", "--api-key", "k"]
        .map(String::from)
        .to_vec();
    args.extend(
        ["--s3-endpoint", &endpoint, "--s3-allow-http", "--s3-access-key-id", S3_ACCESS_KEY].map(String::from).to_vec(),
    );
    args.extend(["--s3-secret-access-key".to_string(), S3_SECRET_KEY.to_string()]);
    let (code, stdout, stderr) = acta(args).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("s3://acta/nothing-here: no objects under this prefix"), "{stderr}");
}

fn loopback_archive() -> Value {
    json!({"kind": "s3", "endpoint": "http://127.0.0.1:9", "bucket": "acta", "access_key_id": "id",
           "secret_access_key": "secret", "allow_http": true})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_endpoint_on_loopback_is_refused_without_the_operators_allowlist() {
    let server = ClockedServer::start("").await;
    let (status, answer) =
        server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(loopback_archive())).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_field")), "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("127.0.0.1, a loopback address") && message.contains("--archive-endpoint-allow"),
        "{message}"
    );
    assert_eq!(answer["error"]["details"][0], json!({"field": "endpoint", "rule": "loopback"}), "{answer}");
    let (status, _) = server.call(reqwest::Method::GET, "/v1/instances/default/archive", None).await;
    assert_eq!(status, 404, "nothing was configured");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_endpoint_by_name_resolving_to_a_private_address_is_refused() {
    let server = ClockedServer::start("").await;
    let mut body = loopback_archive();
    body["endpoint"] = json!("http://localhost:9");
    let (status, answer) = server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("endpoint localhost resolves to"), "{answer}");
    let mut body = loopback_archive();
    body["endpoint"] = json!("http://169.254.169.254");
    let (status, answer) = server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(body)).await;
    assert_eq!((status, answer["error"]["details"][0]["rule"].as_str()), (400, Some("link-local (cloud metadata)")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_endpoint_on_loopback_is_accepted_when_the_operator_allows_it() {
    let server = ClockedServer::start("127.0.0.0/8").await;
    let (status, answer) =
        server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(loopback_archive())).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["archive"]["endpoint"], "http://127.0.0.1:9", "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_no_longer_allowed_is_refused_when_archiving_and_nothing_is_deleted() {
    let mut server = ClockedServer::start("127.0.0.0/8").await;
    let (status, _) = server
        .call(reqwest::Method::PATCH, "/v1/instances/default", Some(json!({"retention_days": 1, "confirm": true})))
        .await;
    assert_eq!(status, 200);
    let (status, answer) =
        server.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(loopback_archive())).await;
    assert_eq!(status, 200, "{answer}");
    server.fill_three_days().await;
    // The operator withdraws the network: the stored configuration must not reach it any more.
    server.restart("", None).await;
    let report = server.run_retention().await;
    assert!(report.archived.is_empty() && report.deleted.is_empty(), "{report:?}");
    assert!(report.errors.iter().any(|error| error.contains("a loopback address")), "{report:?}");
    assert!(server.dir.path().join("log/default").join(format!("{}.seg", day_name(0))).exists());
    let (_, shown) = server.call(reqwest::Method::GET, "/v1/instances/default/archive", None).await;
    assert_eq!(shown["failing"], true, "{shown}");
    assert!(shown["last_error"].as_str().is_some_and(|error| error.contains("--archive-endpoint-allow")), "{shown}");
    server.stop().await;
}
