//! Routes forward an account's events out of Acta: to a real rsyslogd (RFC 5424 over TCP) that is stopped for a
//! while under load, to a webhook that fails before it accepts, to NDJSON files, and to another Acta's bulk API
//! as to Elasticsearch. Each test checks what the receiver finally holds: every event at least once, with the
//! same instance, seq and id each time, in order per instance, and nothing of another account.
//!
//! rsyslogd comes from Debian (`rsyslog`; `ACTA_RSYSLOGD` overrides); `./scripts/test` installs it. Without it
//! the syslog test is skipped, except in CI (`CI` set), where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
// The SeaweedFS S3 gateway the CLI's archive tests use; it takes `free_port` from this file.
#[path = "../../acta-cli/tests/common/seaweed.rs"]
#[allow(unreachable_pub)]
mod seaweed;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use acta_server::{AlertSettings, ForwardSettings, RetentionSettings};
use common::receivers::HttpReceiver;
use common::{As, TestServer, event, poll};
use futures::TryStreamExt;
use serde_json::{Value, json};

/// A server whose routes may reach 127.0.0.1 (the receivers and the S3 store of these tests) and write under
/// `forward_dir`, and that retries a failing destination every second at most (the default waits up to a minute).
async fn server(forward_dir: Option<&Path>) -> TestServer {
    let loopback = acta_server::parse_allowlist("127.0.0.0/8").unwrap();
    let alerts = AlertSettings { webhook_allow: loopback.clone(), ..Default::default() };
    let retention = RetentionSettings { archive_endpoint_allow: loopback, ..Default::default() };
    let forwarding = ForwardSettings {
        dir: forward_dir.map(Path::to_path_buf),
        max_backoff: Duration::from_secs(1),
        ..ForwardSettings::default()
    };
    TestServer::start_with_forwarding(alerts, retention, forwarding).await
}

/// A free TCP port on 127.0.0.1 (closed again for the program that takes it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An account with a manager and `instances` instances, each with a writer key narrowed to it; returns the
/// manager and `(instance id, writer key)` per instance.
async fn account<'a>(server: &'a TestServer, id: &str, instances: usize) -> (As<'a>, Vec<(String, String)>) {
    let manager = common::account_with_manager(server, id).await;
    let mut writers = Vec::new();
    for n in 0..instances {
        let body = json!({"name": format!("audit-{n}"), "region": "eu-de", "retention_days": 7});
        let instance = manager.create_instance(body).await["id"].as_str().unwrap().to_string();
        let body = json!({"name": format!("writer {n}"), "role": "writer", "instance": instance});
        let (status, key) = manager.post("/v1/keys", body).await;
        assert_eq!(status, 201, "{key}");
        writers.push((instance, key["secret"].as_str().unwrap().to_string()));
    }
    (manager, writers)
}

/// Sends `batches` batches of `size` events to each of `writers` in turn, `every` apart; event ids are
/// `<prefix>-<instance n>-<k>`. Returns the ids sent per instance, in the order sent.
async fn load(
    url: String,
    writers: Vec<(String, String)>,
    prefix: &'static str,
    batches: usize,
    size: usize,
    every: Duration,
) -> HashMap<String, Vec<String>> {
    let http = reqwest::Client::new();
    let mut sent: HashMap<String, Vec<String>> = HashMap::new();
    for batch in 0..batches {
        for (n, (instance, key)) in writers.iter().enumerate() {
            let events: Vec<Value> = (0..size)
                .map(|k| {
                    let id = format!("{prefix}-{n}-{}", batch * size + k);
                    let action = if k % 2 == 0 { "kms.secrets.rotate" } else { "iam.policy.update" };
                    event(action, json!({"id": id}))
                })
                .collect();
            let answer = http.post(format!("{url}/v1/events")).bearer_auth(key).json(&events).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
            sent.entry(instance.clone())
                .or_default()
                .extend(events.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        }
        tokio::time::sleep(every).await;
    }
    sent
}

async fn create_route(manager: &As<'_>, body: Value) -> Value {
    let (status, route) = manager.post("/v1/routes", body).await;
    assert_eq!(status, 201, "{route}");
    route
}

/// Waits until the route has delivered everything its account holds, and answers its status.
async fn wait_delivered(manager: &As<'_>, route: &str, timeout: Duration) -> Value {
    let path = format!("/v1/routes/{route}/status");
    let status = poll(
        timeout,
        Duration::from_millis(100),
        || manager.get(&path),
        |(_, status)| status["lag_events"] == 0 && status["state"] == "up_to_date",
    )
    .await
    .1;
    assert_eq!(status["lag_events"], 0, "the route did not catch up: {status}");
    status
}

/// What a receiver holds of one event: where Acta held it, and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Held {
    account: String,
    instance: String,
    seq: u64,
    id: String,
}

/// Checks what a receiver got, in the order it got it, against what was sent: every event at least once, each
/// seq always with the same id, the first sightings in seq order per instance, no seq missing, nothing of
/// another account. Returns how many were received twice or more.
fn check_received(received: &[Held], account: &str, sent: &HashMap<String, Vec<String>>) -> usize {
    let mut first: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut ids: HashMap<(String, u64), String> = HashMap::new();
    let mut seen = HashSet::new();
    let mut repeated = 0;
    for held in received {
        assert_eq!(held.account, account, "another account's event was forwarded: {held:?}");
        let known = ids.entry((held.instance.clone(), held.seq)).or_insert_with(|| held.id.clone());
        assert_eq!(*known, held.id, "seq {} of {} came with two ids", held.seq, held.instance);
        if seen.insert((held.instance.clone(), held.seq)) {
            first.entry(held.instance.clone()).or_default().push(held.seq);
        } else {
            repeated += 1;
        }
    }
    for (instance, ids_sent) in sent {
        let seqs = first.get(instance).cloned().unwrap_or_default();
        let expected: Vec<u64> = (1..=ids_sent.len() as u64).collect();
        assert_eq!(
            seqs.len(),
            expected.len(),
            "instance {instance}: {} of {} events arrived",
            seqs.len(),
            expected.len()
        );
        assert_eq!(seqs, expected, "instance {instance}: events arrived out of order or with gaps");
        let arrived: HashSet<&String> =
            received.iter().filter(|held| held.instance == *instance).map(|held| &held.id).collect();
        for id in ids_sent {
            assert!(arrived.contains(id), "event {id} never arrived");
        }
    }
    repeated
}

// --- syslog --------------------------------------------------------------------------------------------------

/// rsyslogd in the foreground receiving syslog over TCP (or TLS) and writing each message's structured data and text to
/// a file. Killed when dropped.
struct Rsyslogd {
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    /// Serves TLS (rsyslog's GnuTLS driver) with the `ca.pem`, `server.pem` and `server.key` of this directory.
    tls: Option<PathBuf>,
    child: Option<std::process::Child>,
}

impl Rsyslogd {
    fn start(binary: &Path) -> Rsyslogd {
        Rsyslogd::start_with(binary, None)
    }

    fn start_with(binary: &Path, tls: Option<PathBuf>) -> Rsyslogd {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut daemon = Rsyslogd { binary: binary.to_path_buf(), port, dir, tls, child: None };
        daemon.launch();
        daemon
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("received.log")
    }

    /// Messages are handled on the input's thread (a direct queue) and written at once, so what rsyslogd read
    /// is in the file when it exits.
    fn launch(&mut self) {
        let (tls_global, tls_module) = match &self.tls {
            None => (String::new(), String::new()),
            Some(certs) => (
                format!(
                    " DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{0}/ca.pem\" \
                     DefaultNetstreamDriverCertFile=\"{0}/server.pem\" DefaultNetstreamDriverKeyFile=\"{0}/server.key\"",
                    certs.display()
                ),
                " StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\"".to_string(),
            ),
        };
        let config = format!(
            r#"global(workDirectory="{work}" maxMessageSize="64k"{tls_global})
main_queue(queue.type="Direct")
module(load="imtcp"{tls_module})
template(name="line" type="string" string="%structured-data% %msg%\n")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="to-file")
ruleset(name="to-file" queue.type="Direct") {{
  action(type="omfile" file="{out}" template="line" asyncWriting="off" flushOnTXEnd="on")
}}
"#,
            work = self.dir.path().display(),
            port = self.port,
            out = self.output().display(),
        );
        let config_path = self.dir.path().join("rsyslog.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(&self.binary)
            .arg("-n")
            .arg("-f")
            .arg(&config_path)
            .arg("-i")
            .arg(self.dir.path().join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd starts");
        self.child = Some(child);
    }

    async fn listening(&self) {
        let connect = || async { tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.ok() };
        let stream = poll(Duration::from_secs(10), Duration::from_millis(50), connect, Option::is_some).await;
        assert!(stream.is_some(), "rsyslogd does not listen on {}", self.port);
    }

    /// Stops it as an operator does (SIGTERM) and waits for it to exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// The messages received, in order.
    fn received(&self) -> Vec<Held> {
        let text = std::fs::read_to_string(self.output()).unwrap_or_default();
        text.lines().filter(|line| !line.trim().is_empty()).map(parse_syslog_line).collect()
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `[acta@32473 account="a" instance="i" seq="7" id="x"] {event}`: the structured data, and the event's id
/// checked against the one named there.
fn parse_syslog_line(line: &str) -> Held {
    let param = |name: &str| {
        let start = line.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} in {line}")) + name.len() + 3;
        let end = start + line[start..].find('"').unwrap();
        line[start..end].to_string()
    };
    let event: Value =
        serde_json::from_str(&line[line.find("] {").unwrap() + 2..]).unwrap_or_else(|e| panic!("{e}: {line}"));
    let held = Held {
        account: param("account"),
        instance: param("instance"),
        seq: param("seq").parse().unwrap(),
        id: param("id"),
    };
    assert_eq!(event["id"], json!(held.id), "the message's event is the one its structured data names: {line}");
    held
}

fn rsyslogd() -> Option<PathBuf> {
    let binary = std::env::var_os("ACTA_RSYSLOGD").map(PathBuf::from).unwrap_or_else(|| "/usr/sbin/rsyslogd".into());
    if binary.exists() {
        return Some(binary);
    }
    if std::env::var_os("CI").is_some() {
        panic!("rsyslogd is missing; ./scripts/test installs it");
    }
    eprintln!("SKIPPED: rsyslogd is missing (./scripts/test installs it)");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syslog_receiver_stopped_under_load_finally_has_every_event_in_order() {
    let Some(binary) = rsyslogd() else { return };
    let mut receiver = Rsyslogd::start(&binary);
    receiver.listening().await;
    let server = server(None).await;
    let (manager, writers) = account(&server, "acme", 2).await;
    let (_, others) = account(&server, "other", 1).await;
    let route = create_route(
        &manager,
        json!({"name": "siem", "destination": {"type": "syslog", "host": "127.0.0.1", "port": receiver.port}}),
    )
    .await;
    let route_id = route["id"].as_str().unwrap().to_string();

    // About 12 s of load on two instances, and another account's events beside them.
    let load_task = tokio::spawn(load(server.url.clone(), writers, "syslog", 60, 20, Duration::from_millis(200)));
    let other_task = tokio::spawn(load(server.url.clone(), others, "other", 20, 20, Duration::from_millis(500)));
    tokio::time::sleep(Duration::from_secs(3)).await;
    receiver.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, down) = manager.get(&format!("/v1/routes/{route_id}/status")).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    receiver.launch();
    let sent = load_task.await.unwrap();
    other_task.await.unwrap();

    let status = wait_delivered(&manager, &route_id, Duration::from_secs(60)).await;
    // A batch counts as delivered once the connection stayed up after it: wait that out, then read the file.
    tokio::time::sleep(Duration::from_secs(3)).await;
    receiver.stop();
    let received = receiver.received();
    let repeated = check_received(&received, "acme", &sent);
    eprintln!("{} messages, {repeated} received again after the outage", received.len());
    assert!(down["failures"].as_u64().unwrap_or(0) > 0 || down["lag_events"].as_u64().unwrap_or(0) > 0, "{down}");
    assert!(status["failures"].as_u64().unwrap() > 0, "the outage was seen: {status}");
    server.stop().await;
}

/// A certificate authority and a server certificate for 127.0.0.1 signed by it, made with openssl.
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    let extensions = dir.join("server.ext");
    std::fs::write(
        &extensions,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=Acta test CA",
        "-days",
        "2",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syslog_route_over_tls_sends_only_to_a_receiver_it_trusts() {
    let Some(binary) = rsyslogd() else { return };
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let mut receiver = Rsyslogd::start_with(&binary, Some(certs.path().to_path_buf()));
    receiver.listening().await;
    let server = server(None).await;
    let (manager, writers) = account(&server, "acme", 1).await;
    let ca_pem = std::fs::read_to_string(certs.path().join("ca.pem")).unwrap();
    let trusted = create_route(
        &manager,
        json!({"name": "tls", "destination": {"type": "syslog", "host": "127.0.0.1", "port": receiver.port, "tls": true, "ca_pem": ca_pem}}),
    )
    .await;
    // Without the CA, the receiver's certificate is not trusted (the public roots do not know it).
    let untrusted = create_route(
        &manager,
        json!({"name": "public roots", "destination": {"type": "syslog", "host": "127.0.0.1", "port": receiver.port, "tls": true}}),
    )
    .await;
    let sent = load(server.url.clone(), writers, "tls", 4, 25, Duration::ZERO).await;
    wait_delivered(&manager, trusted["id"].as_str().unwrap(), Duration::from_secs(30)).await;
    let path = format!("/v1/routes/{}/status", untrusted["id"].as_str().unwrap());
    let (_, refused) = poll(
        Duration::from_secs(20),
        Duration::from_millis(100),
        || manager.get(&path),
        |(_, s)| s["state"] == "failing",
    )
    .await;
    assert!(refused["last_error"].as_str().unwrap_or_default().contains("certificate"), "{refused}");
    assert_eq!(refused["delivered_events"], 0, "{refused}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    receiver.stop();
    let received = receiver.received();
    assert_eq!(check_received(&received, "acme", &sent), 0);
    server.stop().await;
}

// --- webhook -------------------------------------------------------------------------------------------------

fn webhook_lines(received: &[common::receivers::Received]) -> Vec<Value> {
    received
        .iter()
        .flat_map(|request| {
            String::from_utf8_lossy(&request.body)
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

fn held(line: &Value) -> Held {
    assert_eq!(line["event"]["id"], line["id"], "{line}");
    Held {
        account: line["account"].as_str().unwrap().to_string(),
        instance: line["instance"].as_str().unwrap().to_string(),
        seq: line["seq"].as_u64().unwrap(),
        id: line["id"].as_str().unwrap().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_gets_every_batch_signed_once_it_accepts() {
    let receiver = HttpReceiver::start().await;
    receiver.answer_next(&[503, 503, 500]);
    let server = server(None).await;
    let (manager, writers) = account(&server, "acme", 2).await;
    let route = create_route(
        &manager,
        json!({"name": "hook", "destination": {"type": "webhook", "url": format!("{}/audit", receiver.url)}}),
    )
    .await;
    let secret = route["secret"].as_str().expect("a generated secret, answered once").to_string();
    assert_eq!(route["destination"]["secrets_set"], json!(["secret"]), "{route}");
    assert!(route["destination"].get("secret").is_none(), "{route}");

    let sent = load(server.url.clone(), writers, "hook", 5, 30, Duration::from_millis(100)).await;
    let status = wait_delivered(&manager, route["id"].as_str().unwrap(), Duration::from_secs(30)).await;
    assert_eq!(status["failures"], 3, "{status}");
    assert!(status["last_error"].as_str().unwrap().contains("500"), "{status}");

    let requests = receiver.requests();
    for request in &requests {
        let signature = request.headers.get("x-acta-signature").expect("signed");
        assert_eq!(*signature, format!("sha256={}", hmac_hex(&secret, &request.body)), "the signature covers the body");
        assert_eq!(request.headers.get("content-type").map(String::as_str), Some("application/x-ndjson"));
    }
    let accepted: Vec<_> = requests.iter().skip(3).cloned().collect();
    let lines = webhook_lines(&accepted);
    let received: Vec<Held> = lines.iter().map(held).collect();
    assert_eq!(check_received(&received, "acme", &sent), 0, "an accepted batch is not sent again");
    let (_, shown) = manager.get(&format!("/v1/routes/{}", route["id"].as_str().unwrap())).await;
    assert!(shown["destination"].get("secret").is_none(), "{shown}");
    server.stop().await;
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_with_a_query_sends_only_the_matching_events() {
    let receiver = HttpReceiver::start().await;
    let server = server(None).await;
    let (manager, writers) = account(&server, "acme", 1).await;
    let route = create_route(
        &manager,
        json!({"name": "kms only", "query": "action:kms.*", "destination": {"type": "webhook", "url": receiver.url}}),
    )
    .await;
    let sent = load(server.url.clone(), writers, "query", 2, 10, Duration::ZERO).await;
    wait_delivered(&manager, route["id"].as_str().unwrap(), Duration::from_secs(30)).await;
    let lines = webhook_lines(&receiver.requests());
    let actions: HashSet<&str> = lines.iter().map(|line| line["event"]["action"].as_str().unwrap()).collect();
    assert_eq!(actions, HashSet::from(["kms.secrets.rotate"]));
    let ids: Vec<&str> = lines.iter().map(|line| line["id"].as_str().unwrap()).collect();
    let expected: Vec<&str> = sent.values().next().unwrap().iter().step_by(2).map(String::as_str).collect();
    assert_eq!(ids, expected, "every matching event, in order");
    server.stop().await;
}

// --- files ---------------------------------------------------------------------------------------------------

fn files_received(root: &Path) -> Vec<Held> {
    let mut files: Vec<PathBuf> = Vec::new();
    for instance in std::fs::read_dir(root).unwrap().flatten() {
        for file in std::fs::read_dir(instance.path()).unwrap().flatten() {
            files.push(file.path());
        }
    }
    files.sort();
    files
        .iter()
        .flat_map(|file| {
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .map(|line| held(&serde_json::from_str(line).unwrap()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_route_from_the_oldest_event_goes_on_after_a_restart_without_repeating() {
    let forward_dir = tempfile::tempdir().unwrap();
    let mut server = server(Some(forward_dir.path())).await;
    let (manager, writers) = account(&server, "acme", 1).await;
    // Events before the route: `start: oldest` sends them too.
    let mut sent = load(server.url.clone(), writers.clone(), "files", 2, 25, Duration::ZERO).await;
    let route = create_route(
        &manager,
        json!({"name": "files", "start": "oldest", "destination": {"type": "directory", "path": "acme/audit"}}),
    )
    .await;
    let id = route["id"].as_str().unwrap().to_string();
    wait_delivered(&manager, &id, Duration::from_secs(30)).await;
    server.restart().await;
    let manager = manager_of(&server, "acme").await;
    // The same writer key still holds after the restart.
    let later = load(server.url.clone(), writers, "later", 2, 25, Duration::ZERO).await;
    for (instance, ids) in later {
        sent.entry(instance).or_default().extend(ids);
    }
    wait_delivered(&manager, &id, Duration::from_secs(30)).await;
    let received = files_received(&forward_dir.path().join("acme/audit"));
    assert_eq!(check_received(&received, "acme", &sent), 0, "nothing written twice");
    server.stop().await;
}

/// A new manager key of an account (keys made before a restart hold, but the test's client is rebuilt).
async fn manager_of<'a>(server: &'a TestServer, account: &str) -> As<'a> {
    let body =
        json!({"account": account, "name": "officer 2", "role": "manager", "principal": format!("officer2@{account}")});
    server.admin().new_key(body).await
}

// --- S3 (SeaweedFS) ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_route_writes_ndjson_objects_in_log_order() {
    let Some(weed) = seaweed::Seaweed::binary() else { return };
    let s3_port = free_port();
    let _store = seaweed::Seaweed::start(&weed, s3_port).await;
    let server = server(None).await;
    let (manager, writers) = account(&server, "acme", 2).await;
    let route = create_route(
        &manager,
        json!({"name": "bucket", "destination": {"type": "s3", "endpoint": format!("http://127.0.0.1:{s3_port}"),
               "bucket": "acta", "prefix": "siem/acme", "access_key_id": seaweed::S3_ACCESS_KEY,
               "secret_access_key": seaweed::S3_SECRET_KEY, "allow_http": true}}),
    )
    .await;
    assert_eq!(route["destination"]["secrets_set"], json!(["secret_access_key"]), "{route}");
    let sent = load(server.url.clone(), writers, "s3", 3, 30, Duration::from_millis(100)).await;
    wait_delivered(&manager, route["id"].as_str().unwrap(), Duration::from_secs(30)).await;

    let store = seaweed::bucket(s3_port).build().unwrap();
    let store: &dyn object_store::ObjectStore = &store;
    let mut names: Vec<object_store::path::Path> =
        store.list(Some(&"siem/acme".into())).map_ok(|meta| meta.location).try_collect().await.unwrap();
    names.sort();
    let mut received = Vec::new();
    for name in &names {
        assert!(name.as_ref().ends_with(".ndjson"), "{name}");
        let bytes = store.get(name).await.unwrap().bytes().await.unwrap();
        for line in String::from_utf8(bytes.to_vec()).unwrap().lines() {
            received.push(held(&serde_json::from_str(line).unwrap()));
        }
    }
    assert_eq!(check_received(&received, "acme", &sent), 0, "each event once, in log order: {names:?}");
    server.stop().await;
}

// --- Elasticsearch bulk API (another Acta) --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elasticsearch_route_creates_each_event_once_in_another_acta() {
    let sink = TestServer::start().await;
    let (sink_manager, sink_writers) = account(&sink, "archive", 1).await;
    let (sink_instance, sink_key) = sink_writers[0].clone();
    let server = server(None).await;
    let (manager, writers) = account(&server, "acme", 1).await;
    let route = create_route(
        &manager,
        json!({"name": "es", "destination": {"type": "elasticsearch", "url": sink.url, "index": sink_instance,
               "username": "acta", "password": sink_key}}),
    )
    .await;
    assert_eq!(route["destination"]["secrets_set"], json!(["password"]), "{route}");
    let sent = load(server.url.clone(), writers, "es", 3, 20, Duration::ZERO).await;
    wait_delivered(&manager, route["id"].as_str().unwrap(), Duration::from_secs(30)).await;
    let ids: Vec<String> = sent.values().next().unwrap().clone();
    let found = sink_manager.search("id:es-*", ids.len()).await;
    let mut found: Vec<String> = found.iter().map(|event| event["id"].as_str().unwrap().to_string()).collect();
    found.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(found, expected, "each event once, under its own id");
    sink.stop().await;
    server.stop().await;
}

// --- the API's rules -----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_are_managed_by_managers_and_refuse_what_cannot_work() {
    let server = TestServer::start().await;
    let manager = common::account_with_manager(&server, "acme").await;
    let reader = manager.key("reader", None).await;
    let hook = json!({"type": "webhook", "url": "https://siem.example/audit", "secret": "0123456789abcdef"});

    let (status, answer) = reader.post("/v1/routes", json!({"name": "r", "destination": hook})).await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = manager.post("/v1/routes", json!({"name": "r", "destination": {"type": "kafka"}})).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!("invalid_destination")), "{answer}");
    assert!(
        answer["error"]["message"].as_str().unwrap().contains("\"kafka\" is not one of syslog, webhook"),
        "{answer}"
    );
    let (status, answer) =
        manager.post("/v1/routes", json!({"name": "r", "destination": {"type": "directory", "path": "x"}})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("--forward-dir"), "{answer}");
    let (status, answer) = manager
        .post("/v1/routes", json!({"name": "r", "destination": {"type": "syslog", "host": "siem", "prot": 514}}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("destination.prot is not a member"), "{answer}");
    let (status, answer) =
        manager.post("/v1/routes", json!({"name": "r", "query": "action:(", "destination": hook})).await;
    assert_eq!(status, 400, "{answer}");

    let route = create_route(&manager, json!({"name": "r", "destination": hook})).await;
    assert!(route.get("secret").is_none(), "a secret given is not answered back: {route}");
    let path = format!("/v1/routes/{}", route["id"].as_str().unwrap());
    let (status, listed) = reader.get("/v1/routes").await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["routes"][0]["destination"],
        json!({"type": "webhook", "url": "https://siem.example/audit", "secrets_set": ["secret"]})
    );
    let other = common::account_with_manager(&server, "other").await;
    assert_eq!(other.get(&path).await.0, 404, "another account's route is not found");
    assert_eq!(reader.delete(&path).await.0, 403);
    let (status, changed) =
        manager.patch(&path, json!({"destination": {"type": "webhook", "url": "https://siem.example/v2"}})).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["destination"]["secrets_set"], json!(["secret"]), "a changed URL keeps its secret: {changed}");
    assert_eq!(manager.delete(&path).await.0, 204);
    assert_eq!(manager.get(&path).await.0, 404);
    let audit = manager.search("action:acta.route.*", 3).await;
    let actions: Vec<&str> = audit.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"acta.route.create") && actions.contains(&"acta.route.delete"), "{actions:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_to_a_private_address_fails_visibly_unless_the_operator_allows_it() {
    let receiver = HttpReceiver::start().await;
    let server = TestServer::start().await;
    let (manager, writers) = account(&server, "acme", 1).await;
    let route =
        create_route(&manager, json!({"name": "inside", "destination": {"type": "webhook", "url": receiver.url}}))
            .await;
    load(server.url.clone(), writers, "ssrf", 1, 5, Duration::ZERO).await;
    let path = format!("/v1/routes/{}/status", route["id"].as_str().unwrap());
    let (_, status) = poll(
        Duration::from_secs(20),
        Duration::from_millis(100),
        || manager.get(&path),
        |(_, status)| status["state"] == "failing",
    )
    .await;
    assert_eq!(status["state"], "failing", "{status}");
    // The five events, and Acta's own audit events of the account since the route was made.
    assert!(status["lag_events"].as_u64().unwrap() >= 5, "{status}");
    assert!(status["last_error"].as_str().unwrap().contains("loopback"), "{status}");
    assert!(receiver.requests().is_empty(), "nothing reached the private address");
    let text = server.get("/metrics").send().await.unwrap().text().await.unwrap();
    let route_id = route["id"].as_str().unwrap();
    assert!(
        text.contains(&format!("acta_route_lag_events{{route=\"{route_id}\"}} {}", status["lag_events"])),
        "{text}"
    );
    assert!(text.contains(&format!("acta_route_failures_total{{route=\"{route_id}\"}}")), "{text}");
    server.stop().await;
}
