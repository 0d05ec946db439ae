//! Real shippers send audit events to `/_bulk` unchanged: the Python `elasticsearch` 8 client's `helpers.bulk`,
//! `opensearch-py`'s, and rsyslog's `omelasticsearch` (docs/sources/). Each sends events of a test account; the
//! test then counts them in Acta, exactly, through the API.
//!
//! The clients come from `.venv-test` (pinned in scripts/test-requirements.txt, `ACTA_PYTHON` overrides) and
//! rsyslogd from Debian (`rsyslog`, `rsyslog-elasticsearch`; `ACTA_RSYSLOGD` overrides); `./scripts/test`
//! installs them all. Without them a test is skipped, except in CI (`CI` set), where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{TestServer, event, poll};
use serde_json::{Value, json};

/// Events each shipper sends.
const EVENTS: usize = 300;

/// A tool a test needs: its path, or `None` to skip (never in CI, where a missing tool fails the test).
fn required(what: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    if path.is_some() {
        return path;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing; ./scripts/test installs it");
    }
    eprintln!("SKIPPED: {what} is missing (./scripts/test installs it)");
    None
}

/// The Python of `.venv-test` when it can import `module`.
fn python_with(module: &str) -> Option<PathBuf> {
    let python = std::env::var_os("ACTA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-test/bin/python"));
    let imports = Command::new(&python).args(["-c", &format!("import {module}")]).status().is_ok_and(|s| s.success());
    required(&format!("Python module {module} in .venv-test"), imports.then_some(python))
}

/// An account with a writer key and an instance named `audit`; returns the key and the instance id.
async fn account(server: &TestServer, id: &str) -> (String, String) {
    let admin = server.admin();
    admin.create_account(id).await;
    let body = json!({"account": id, "name": "shipper", "role": "writer", "principal": format!("shipper@{id}")});
    let key = admin.new_key(body).await.key.unwrap();
    let instance = json!({"account": id, "name": "audit", "region": "us-south", "retention_days": 7});
    let instance = admin.create_instance(instance).await["id"].as_str().unwrap().to_string();
    (key, instance)
}

/// `EVENTS` CADF events with ids `<prefix>-<n>`.
fn events(prefix: &str) -> Vec<Value> {
    (0..EVENTS)
        .map(|n| event("kms.secrets.rotate", json!({"id": format!("{prefix}-{n}"), "requestData": {"n": n}})))
        .collect()
}

/// How many events of the key's account have an id starting with `prefix`, once `EVENTS` of them are
/// searchable or 30 s have passed.
async fn count_arrived(server: &TestServer, key: &str, prefix: &str) -> u64 {
    let q = format!("id:{prefix}-*");
    let count = || async {
        let (_, answer) = server.with_key(key).get_with("/v1/events/count", &[("q", q.as_str())]).await;
        answer["count"].as_u64().unwrap_or(0)
    };
    poll(Duration::from_secs(30), Duration::from_millis(200), count, |n| *n >= EVENTS as u64).await
}

/// Runs a Python script with arguments; returns what it printed as JSON.
fn run_python(python: &Path, script: &str, args: &[String]) -> Value {
    let output = Command::new(python).arg("-c").arg(script).args(args).output().expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
}

/// Sends the events of an NDJSON file with a client's `helpers.bulk` as `create` actions into an index (Acta's
/// instance), twice: the first time stores them, the second finds each already stored (a shipper's retry).
const PYTHON_BULK: &str = r#"
import json, sys
kind, url, key, index, path = sys.argv[1:6]
if kind == "elasticsearch":
    from elasticsearch import Elasticsearch, helpers
    client = Elasticsearch(url, basic_auth=("shipper", key), request_timeout=30)
else:
    from opensearchpy import OpenSearch, helpers
    client = OpenSearch(hosts=[url], http_auth=("shipper", key), timeout=30)
info = client.info()
with open(path) as lines:
    events = [json.loads(line) for line in lines]
def actions():
    for event in events:
        yield {"_op_type": "create", "_index": index, "_source": event}
stored, errors = helpers.bulk(client, actions(), chunk_size=100, raise_on_error=False)
again, conflicts = helpers.bulk(client, actions(), chunk_size=100, raise_on_error=False)
print(json.dumps({"version": info["version"]["number"], "stored": stored, "errors": errors,
                  "again": again, "conflicts": [next(iter(c.values()))["status"] for c in conflicts]}))
"#;

async fn python_client_sends_every_event_once(kind: &str, module: &str) {
    let Some(python) = python_with(module) else { return };
    let server = TestServer::start().await;
    let (key, instance) = account(&server, "acme").await;
    let file = tempfile::NamedTempFile::new().unwrap();
    for event in events(kind) {
        writeln!(file.as_file(), "{event}").unwrap();
    }
    let path = file.path().to_str().unwrap();
    let args: Vec<String> = [kind, &server.url, &key, &instance, path].map(str::to_string).to_vec();
    let answer = tokio::task::spawn_blocking(move || run_python(&python, PYTHON_BULK, &args)).await.unwrap();
    assert_eq!(answer["stored"], json!(EVENTS), "{answer}");
    assert_eq!(answer["errors"], json!([]), "{answer}");
    assert_eq!(answer["again"], json!(0), "a retry stores nothing: {answer}");
    assert_eq!(answer["conflicts"], json!(vec![409; EVENTS]), "{answer}");
    assert_eq!(count_arrived(&server, &key, kind).await, EVENTS as u64);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_elasticsearch_python_client_bulk_helper_stores_every_event_once() {
    python_client_sends_every_event_once("elasticsearch", "elasticsearch").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opensearch_python_client_bulk_helper_stores_every_event_once() {
    python_client_sends_every_event_once("opensearch", "opensearchpy").await;
}

/// A free TCP port on 127.0.0.1 (closed again for rsyslogd to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// rsyslogd in the foreground: syslog over TCP in, each message's text (a CADF event) to Acta's `/_bulk` with
/// omelasticsearch, as docs/sources/rsyslog.md configures it. Killed when dropped.
struct Rsyslogd {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rsyslogd {
    fn start(binary: &Path, listen: u16, acta: &str, key: &str, instance: &str) -> Rsyslogd {
        let dir = tempfile::tempdir().unwrap();
        let port = acta.rsplit(':').next().unwrap();
        let config = format!(
            r#"global(workDirectory="{work}")
module(load="imtcp")
module(load="omelasticsearch")
template(name="cadf" type="list") {{ property(name="msg" position.from="2") }}
input(type="imtcp" address="127.0.0.1" port="{listen}" ruleset="to-acta")
ruleset(name="to-acta") {{
  action(type="omelasticsearch" server="127.0.0.1" serverport="{port}" usehttps="off"
         searchIndex="{instance}" bulkmode="on" template="cadf" uid="rsyslog" pwd="{key}"
         errorfile="{work}/errors.json" action.resumeRetryCount="-1")
}}
"#,
            work = dir.path().display(),
        );
        let config_path = dir.path().join("rsyslog.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(binary)
            .arg("-n")
            .arg("-f")
            .arg(&config_path)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rsyslogd starts");
        Rsyslogd { child, dir }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_omelasticsearch_forwards_every_syslog_event_once() {
    let rsyslogd = std::env::var_os("ACTA_RSYSLOGD").map(PathBuf::from).unwrap_or_else(|| "/usr/sbin/rsyslogd".into());
    // Debian puts rsyslog's modules under /usr/lib/<multiarch triple>/rsyslog/.
    let has_module = std::env::var_os("ACTA_RSYSLOGD").is_some()
        || std::fs::read_dir("/usr/lib")
            .into_iter()
            .flatten()
            .flatten()
            .any(|dir| dir.path().join("rsyslog/omelasticsearch.so").exists());
    let Some(rsyslogd) = required(
        "rsyslogd with omelasticsearch (rsyslog-elasticsearch)",
        (rsyslogd.exists() && has_module).then_some(rsyslogd),
    ) else {
        return;
    };
    let server = TestServer::start().await;
    let (key, instance) = account(&server, "acme").await;
    let listen = free_port();
    let daemon = Rsyslogd::start(&rsyslogd, listen, &server.url, &key, &instance);
    let connect = || async { tokio::net::TcpStream::connect(("127.0.0.1", listen)).await.ok() };
    let mut stream = poll(Duration::from_secs(10), Duration::from_millis(50), connect, Option::is_some)
        .await
        .expect("rsyslogd listens");
    let mut lines = String::new();
    for event in events("rsyslog") {
        lines.push_str(&format!("<110>Dec  6 10:00:00 kms-host kms-audit: {event}\n"));
    }
    tokio::io::AsyncWriteExt::write_all(&mut stream, lines.as_bytes()).await.unwrap();
    drop(stream);
    let arrived = count_arrived(&server, &key, "rsyslog").await;
    let errors = std::fs::read_to_string(daemon.dir.path().join("errors.json")).unwrap_or_default();
    assert_eq!(arrived, EVENTS as u64, "rsyslog's errors: {errors}");
    let one = server.with_key(&key).event("rsyslog-7").await;
    assert_eq!(one["requestData"], json!({"n": 7}), "the event as the service wrote it: {one}");
    assert_eq!(one["_acta"]["instance"], json!(instance));
    drop(daemon);
    server.stop().await;
}
