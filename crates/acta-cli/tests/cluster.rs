//! Cluster mode with real processes: `acta serve --postgres` nodes on 127.0.0.1 sharing one real PostgreSQL
//! (Debian's package, started in a temporary directory; required in CI). What one node takes, every node holds,
//! finds and tails; a node killed with SIGKILL loses nothing it answered; PostgreSQL going away makes nodes answer
//! 503, never 200, and they resume by themselves. One test runs two nodes in its own process instead
//! (`ClockedServer::start_node`), for retention with a clock it holds.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../acta-store/tests/pg_util.rs"]
mod pg_util;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, XorShift};
use pg_util::PgServer;
use serde_json::Value;

/// The clients' events, without Acta's own (audit events of the nodes' start).
const CLIENT_EVENTS: &str = "NOT observer.id:acta";

/// A node of the cluster: its data directory (its copy of the log, its index) and its process.
struct Node {
    name: String,
    data: PathBuf,
    server: Server,
}

/// A node signing with the cluster's key, as every node of a cluster must.
fn start_node(postgres: &PgServer, root: &Path, name: &str) -> Node {
    let data = root.join(name);
    let key = cluster_key(root);
    let server = common::start_with(
        &data,
        &root.join("logs"),
        &[
            ("ACTA_POSTGRES_URL", &postgres.url),
            ("ACTA_NODE_NAME", name),
            ("ACTA_KEY_RATE_LIMIT", "0"),
            ("ACTA_SIGNING_KEY", key.to_str().unwrap()),
        ],
    );
    Node { name: name.to_owned(), data, server }
}

impl Node {
    fn restart(&mut self, postgres: &PgServer, root: &Path) {
        *self = start_node(postgres, root, &self.name.clone());
    }
}

/// Polls a node's count of the clients' events until it is `expected` (a node's copy follows the cluster's
/// log within moments); returns the last count.
fn caught_up(node: &Node, expected: u64) -> u64 {
    node.server.wait_count(CLIENT_EVENTS, expected, Duration::from_secs(60))
}

/// The ids of the clients' events a node finds, each with how many times.
fn found_ids(node: &Node) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for event in node.server.search_all(CLIENT_EVENTS) {
        *ids.entry(event["id"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    ids
}

#[test]
fn events_sent_to_one_node_are_found_on_every_node_and_tailed_on_another_within_a_second() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let node_a = start_node(&postgres, root.path(), "node-a");
    let node_b = start_node(&postgres, root.path(), "node-b");
    let tail = tail_of(&node_b, "action:cluster.tail.check");

    let mut latencies = Vec::new();
    for n in 0..20 {
        let id = format!("tail-{n}");
        let sent = Instant::now();
        let (status, answer) = node_a.server.ingest(&[common::event(&id, "cluster.tail.check", "success")]);
        assert_eq!(status, 200, "{answer}");
        loop {
            let (seen, at) = tail.recv_timeout(Duration::from_secs(10)).expect("node b's tail shows the event");
            if seen == id {
                latencies.push(at.duration_since(sent));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, answer) = node_b.server.ingest(&[common::event("from-b", "cluster.other", "success")]);
    assert_eq!(status, 200, "{answer}");

    latencies.sort();
    eprintln!("tail on node b after a send to node a: {latencies:?}");
    assert!(latencies[latencies.len() / 2] < Duration::from_secs(1), "median {:?}", latencies[latencies.len() / 2]);
    for node in [&node_a, &node_b] {
        assert_eq!(caught_up(node, 21), 21, "{} counts every event", node.name);
        assert_eq!(node.server.count("action:cluster.tail.check"), 20);
        let expected: BTreeMap<String, usize> =
            (0..20).map(|n| format!("tail-{n}")).chain(["from-b".to_owned()]).map(|id| (id, 1)).collect();
        assert_eq!(found_ids(node), expected, "{} finds each event once", node.name);
    }
}

#[test]
fn a_console_session_made_on_one_node_works_on_another_and_signing_out_there_ends_it_on_both() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let node_1 = start_node(&postgres, root.path(), "node-1");
    let node_2 = start_node(&postgres, root.path(), "node-2");
    // A browser, as far as the nodes can tell: no key, only the cookie (and the CSRF token from the sign-in).
    let browser = common::http_client();
    let signed_in = browser
        .post(format!("{}/v1/session", node_1.server.url))
        .json(&serde_json::json!({ "key": common::ADMIN_KEY }))
        .send()
        .unwrap();
    assert_eq!(signed_in.status(), 201);
    let set_cookie = signed_in.headers().get("set-cookie").expect("a session cookie").to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let answer: Value = signed_in.json().unwrap();
    let csrf = answer["session"]["csrf_token"].as_str().expect("a CSRF token").to_owned();
    let session_on = |node: &Node| {
        let response = browser.get(format!("{}/v1/session", node.server.url)).header("cookie", &cookie).send().unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };

    let (status, shown) = session_on(&node_2);
    assert_eq!(status, 200, "node 2 knows node 1's session: {shown}");
    assert_eq!(shown["session"]["csrf_token"], csrf.as_str());

    let signed_out = browser
        .delete(format!("{}/v1/session", node_2.server.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    for node in [&node_1, &node_2] {
        let (status, answer) = session_on(node);
        assert_eq!(status, 401, "{} after signing out on node 2: {answer}", node.name);
    }
}

/// Follows a node's `GET /v1/events/tail?q=`: each event's id with the moment it was read.
fn tail_of(node: &Node, query: &str) -> mpsc::Receiver<(String, Instant)> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).no_proxy().build().unwrap();
    let response = client
        .get(format!("{}/v1/events/tail", node.server.url))
        .query(&[("q", query)])
        .bearer_auth(common::ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(response).lines() {
            let Ok(line) = line else { return };
            let Some(data) = line.strip_prefix("data:") else { continue };
            let Ok(event) = serde_json::from_str::<Value>(data.trim()) else { continue };
            let id = event["id"].as_str().unwrap_or_default().to_owned();
            if sender.send((id, Instant::now())).is_err() {
                return;
            }
        }
    });
    receiver
}

/// What a client saw of one batch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fate {
    /// 200: every event stored; each must be found exactly once.
    Stored,
    /// No answer, or an error answer: each may be found at most once (a commit may land as its node dies).
    Unknown,
}

fn batch(client: usize, n: usize) -> (Vec<String>, Vec<Value>) {
    let ids: Vec<String> = (0..10).map(|e| format!("c{client}-b{n}-e{e}")).collect();
    let events = ids.iter().map(|id| common::event(id, "cluster.load", "success")).collect();
    (ids, events)
}

/// Sends one batch to `url`; `Stored` only for a 200 that stored every event.
fn send(http: &reqwest::blocking::Client, url: &str, events: &[Value]) -> (Fate, Option<u16>) {
    let response = http
        .post(format!("{url}/v1/events"))
        .bearer_auth(common::ADMIN_KEY)
        .header("content-type", "application/json")
        .body(Value::Array(events.to_vec()).to_string())
        .send();
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let answer: Value = response.json().unwrap_or(Value::Null);
            let all_stored = answer["results"]
                .as_array()
                .is_some_and(|results| results.iter().all(|result| result["status"] == "stored"));
            if status == 200 && all_stored { (Fate::Stored, Some(status)) } else { (Fate::Unknown, Some(status)) }
        }
        Err(_) => (Fate::Unknown, None),
    }
}

/// Every answered event exactly once, every other at most once, on every node; the same answers everywhere.
fn check_every_node(nodes: &[Node], batches: &[(Vec<String>, Fate)]) {
    let answered: BTreeSet<&String> =
        batches.iter().filter(|(_, fate)| *fate == Fate::Stored).flat_map(|(ids, _)| ids).collect();
    let mut first: Option<BTreeMap<String, usize>> = None;
    for node in nodes {
        let expected_at_least = answered.len() as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while node.server.count(CLIENT_EVENTS) < expected_at_least && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let found = found_ids(node);
        for id in &answered {
            assert_eq!(found.get(*id), Some(&1), "{} holds answered event {id} exactly once", node.name);
        }
        assert!(found.values().all(|times| *times == 1), "{} holds an event twice", node.name);
        assert_eq!(node.server.count(CLIENT_EVENTS), found.len() as u64, "{}: count and search agree", node.name);
        match &first {
            None => first = Some(found),
            Some(first) => assert_eq!(&found, first, "{} finds what the first node finds", node.name),
        }
    }
}

#[test]
fn three_nodes_with_one_killed_at_random_moments_keep_every_answered_event_exactly_once() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let mut nodes: Vec<Node> =
        ["node-a", "node-b", "node-c"].iter().map(|name| start_node(&postgres, root.path(), name)).collect();
    let seed = std::env::var("ACTA_CLUSTER_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
    });
    eprintln!("seed {seed} (ACTA_CLUSTER_SEED to repeat)");
    let mut random = XorShift::new(seed);
    let http = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(15))
        .no_proxy()
        .build()
        .unwrap();
    let mut batches: Vec<(Vec<String>, Fate)> = Vec::new();
    let mut unanswered = 0;
    for round in 0..6 {
        let urls: Vec<String> = nodes.iter().map(|node| node.server.url.clone()).collect();
        let victim = random.between(0, 2) as usize;
        let kill_after = Duration::from_millis(random.between(100, 1500));
        // Three clients, one per node, send until the round ends; the victim is killed meanwhile.
        let (results_sender, results) = mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for (client, url) in urls.into_iter().enumerate() {
            let (http, sender, stop) = (http.clone(), results_sender.clone(), stop.clone());
            clients.push(std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let (ids, events) = batch(client + 10 * round, n);
                    let (fate, status) = send(&http, &url, &events);
                    sender.send((ids, fate, status)).unwrap();
                    n += 1;
                    if status.is_none() {
                        // Its node is down: wait for the round's end rather than spin on refused connections.
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }));
        }
        drop(results_sender);
        std::thread::sleep(kill_after);
        nodes[victim].server.kill();
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for client in clients {
            client.join().unwrap();
        }
        for (ids, fate, status) in results {
            if status.is_none() {
                unanswered += 1;
            }
            batches.push((ids, fate));
        }
        let root_path = root.path().to_path_buf();
        nodes[victim].restart(&postgres, &root_path);
    }
    let answered = batches.iter().filter(|(_, fate)| *fate == Fate::Stored).count();
    eprintln!("{} batches sent, {answered} answered 200, {unanswered} unanswered", batches.len());
    assert!(answered > 0, "no batch was ever answered: the test tests nothing");

    check_every_node(&nodes, &batches);

    // Each node's copy is whole and signed: gapless seqs, and its checkpoints verify.
    let key = acta_ledger::SigningKey::load(&cluster_key(root.path())).unwrap().verifier().to_text();
    for node in &mut nodes {
        assert!(node.server.terminate().success(), "{} did not stop cleanly:\n{}", node.name, node.server.stderr());
        let seqs: Vec<u64> = instance_seqs(&node.data, "default");
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "{}: gapless seqs", node.name);
        let output = common::run_acta(
            &[OsStr::new("verify"), node.data.as_os_str(), OsStr::new("--key"), OsStr::new(&key)],
            &[],
            Duration::from_secs(120),
        );
        assert_eq!(output.status.code(), Some(0), "acta verify {}:\n{}{}", node.name, output.stdout, output.stderr);
    }
    assert_one_history(&nodes);
}

/// The cluster signed one history per segment, whichever node signed when: across the nodes' checkpoint files,
/// one origin per segment and one checkpoint per tree size.
fn assert_one_history(nodes: &[Node]) {
    // (segment file, tree size) -> the line; segment file -> its origin
    let mut lines: BTreeMap<(String, u64), String> = BTreeMap::new();
    let mut origins: BTreeMap<String, String> = BTreeMap::new();
    for node in nodes {
        let dir = node.data.join("checkpoints/default");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|extension| extension != "notes") {
                continue;
            }
            let segment = path.file_name().unwrap().to_string_lossy().into_owned();
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let note = acta_store::integrity::files::NoteEntry::parse(line).unwrap().note;
                let mut text = note.lines();
                let (origin, size) = (text.next().unwrap().to_owned(), text.next().unwrap().parse().unwrap());
                let known = origins.entry(segment.clone()).or_insert_with(|| origin.clone());
                assert_eq!(*known, origin, "{}: one origin for {segment}", node.name);
                let known = lines.entry((segment.clone(), size)).or_insert_with(|| line.to_owned());
                assert_eq!(known, line, "{}: one checkpoint of size {size} of {segment}", node.name);
            }
        }
    }
    assert!(!lines.is_empty(), "the nodes hold checkpoints");
}

/// The seqs a stopped node's log holds for an instance, in order.
fn instance_seqs(data: &Path, instance: &str) -> Vec<u64> {
    let mut seqs: Vec<u64> = common::segments(data, instance)
        .iter()
        .flat_map(|path| acta_store::log::read_segment_file(path).unwrap())
        .map(|record| record.seq)
        .collect();
    seqs.sort_unstable();
    seqs
}

#[test]
fn nodes_answer_503_while_postgresql_is_down_and_accept_again_by_themselves() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let nodes = vec![start_node(&postgres, root.path(), "node-a"), start_node(&postgres, root.path(), "node-b")];
    let http = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .unwrap();
    let mut batches = Vec::new();
    let mut statuses_while_down = BTreeMap::new();
    let mut n = 0;
    let sent = |batches: &mut Vec<(Vec<String>, Fate)>, n: &mut usize| -> Option<u16> {
        let node = &nodes[*n % 2];
        let (ids, events) = batch(*n % 2, *n);
        *n += 1;
        let (fate, status) = send(&http, &node.server.url, &events);
        batches.push((ids, fate));
        status
    };
    for _ in 0..20 {
        assert_eq!(sent(&mut batches, &mut n), Some(200));
    }

    postgres.stop();
    for _ in 0..6 {
        let status = sent(&mut batches, &mut n);
        *statuses_while_down.entry(status).or_insert(0) += 1;
    }
    postgres.start_again();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut back = 0;
    while back < 20 {
        if sent(&mut batches, &mut n) == Some(200) {
            back += 1;
        } else {
            assert!(Instant::now() < deadline, "the nodes did not accept again after PostgreSQL came back");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    assert_eq!(statuses_while_down, BTreeMap::from([(Some(503), 6)]), "only 503 while PostgreSQL is down");
    check_every_node(&nodes, &batches);
}

/// Waits until a node's standard error says it runs the cluster's jobs.
fn wait_leading(node: &Node) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !node.server.stderr().contains("runs the cluster's jobs") {
        assert!(Instant::now() < deadline, "{} never took the jobs' lease:\n{}", node.name, node.server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `POST` a JSON body with the admin key; the answer, which must be a success.
fn create(node: &Node, path: &str, body: Value) -> Value {
    let response = node.server.post(path).json(&body).send().unwrap();
    let status = response.status();
    let answer: Value = response.json().unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {path}: {status} {answer}");
    answer
}

#[test]
fn an_alert_fires_exactly_once_when_the_node_evaluating_it_is_killed_mid_window() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let received: std::sync::Arc<std::sync::Mutex<Vec<common::Request>>> = std::sync::Arc::default();
    common::receive_http(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(), received.clone());
    let start = |name: &str| {
        let data = root.path().join(name);
        let envs = [
            ("ACTA_POSTGRES_URL", postgres.url.as_str()),
            ("ACTA_NODE_NAME", name),
            ("ACTA_WEBHOOK_ALLOW", "127.0.0.0/8"),
        ];
        Node {
            name: name.to_owned(),
            data: data.clone(),
            server: common::start_with(&data, &root.path().join("logs"), &envs),
        }
    };
    let mut node_a = start("node-a");
    wait_leading(&node_a);
    let node_b = start("node-b");
    let view = create(
        &node_a,
        "/v1/views",
        serde_json::json!({"name": "widget deletions", "query": "action:svc.widget.delete"}),
    );
    // At the end of each 30 s window, fire if at least 3 deletions arrived in it.
    let alert = create(
        &node_b,
        "/v1/alerts",
        serde_json::json!({"name": "deletions", "view": view["id"], "kind": "presence", "threshold": 3,
            "window": "30s", "immediate": false, "at_end": true,
            "channels": [{"type": "webhook", "url": format!("http://127.0.0.1:{port}/hook")}]}),
    );
    let alert_id = alert["id"].as_str().unwrap().to_owned();
    for (n, node) in [&node_a, &node_b, &node_a].into_iter().enumerate() {
        let (status, answer) =
            node.server.ingest(&[common::event(&format!("delete-{n}"), "svc.widget.delete", "success")]);
        assert_eq!(status, 200, "{answer}");
    }

    // Mid-window: the node that evaluates the alert dies with its counts.
    std::thread::sleep(Duration::from_secs(2));
    node_a.server.kill();
    wait_leading(&node_b);
    let (status, answer) = node_b.server.ingest(&[common::event("delete-3", "svc.widget.delete", "success")]);
    assert_eq!(status, 200, "{answer}");

    let deadline = Instant::now() + Duration::from_secs(60);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the alert never fired:\n{}", node_b.server.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Node a comes back (without the lease now); nothing may fire twice meanwhile.
    node_a.restart(&postgres, root.path());
    std::thread::sleep(Duration::from_secs(5));
    let requests = received.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "notified {} times", requests.len());
    let body: Value = serde_json::from_slice(&requests[0].1).unwrap();
    assert_eq!(body["matches"], 4, "the window's count, recounted from the log after the takeover: {body}");
    for node in [&node_a, &node_b] {
        let history: Value = node.server.get(&format!("/v1/alerts/{alert_id}/history")).send().unwrap().json().unwrap();
        assert_eq!(history["firings"].as_array().map(Vec::len), Some(1), "{}: {history}", node.name);
    }
}

/// A node of a cluster whose sealed days go to SeaweedFS's S3 gateway, signing with the cluster's key, its clock
/// `days` ahead (a debug build's test knob).
fn start_node_with_objects(postgres: &PgServer, root: &Path, name: &str, s3_port: u16, days: i64) -> Node {
    let data = root.join(name);
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let key = cluster_key(root);
    let server = common::start_with(
        &data,
        &root.join("logs"),
        &[
            ("ACTA_POSTGRES_URL", &postgres.url),
            ("ACTA_NODE_NAME", name),
            ("ACTA_OBJECT_STORE", "s3://acta/cluster"),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_ACCESS_KEY_ID", common::seaweed::S3_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", common::seaweed::S3_SECRET_KEY),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ALLOW_HTTP", "true"),
            ("ACTA_SIGNING_KEY", key.to_str().unwrap()),
            ("ACTA_TEST_CLOCK_OFFSET_DAYS", &days.to_string()),
        ],
    );
    Node { name: name.to_owned(), data, server }
}

/// The signing key every node of the cluster in `root` is given.
fn cluster_key(root: &Path) -> std::path::PathBuf {
    root.join("cluster.signing-key")
}

/// The names of the objects under `prefix` in the gateway's bucket, relative to it.
fn object_names(s3_port: u16, prefix: &str) -> BTreeSet<String> {
    use futures::TryStreamExt as _;
    use object_store::ObjectStore as _;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let bucket = common::seaweed::bucket(s3_port).build().unwrap();
        let listed: Vec<object_store::ObjectMeta> =
            bucket.list(Some(&object_store::path::Path::from(prefix))).try_collect().await.unwrap();
        listed
            .into_iter()
            .map(|object| object.location.as_ref().strip_prefix(prefix).unwrap().trim_start_matches('/').to_owned())
            .collect()
    })
}

#[test]
fn a_sealed_day_is_searchable_from_object_storage_on_a_node_that_never_indexed_it() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let Some(weed) = common::seaweed::Seaweed::binary() else {
        return;
    };
    let s3_port = common::free_port();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let _seaweed = runtime.block_on(common::seaweed::Seaweed::start(&weed, s3_port));
    let root = tempfile::tempdir().unwrap();
    let mut first = start_node_with_objects(&postgres, root.path(), "node-1", s3_port, 0);
    let mut ids = Vec::new();
    for n in 0..4 {
        let (batch_ids, events) = batch(0, n);
        let (status, body) = first.server.ingest(&events);
        assert_eq!(status, 200, "{body}");
        ids.extend(batch_ids);
    }
    assert_eq!(caught_up(&first, 40), 40);
    let day = time::OffsetDateTime::now_utc().date().to_string();

    // Three days on (the node's copy closes a day a day late), the node that runs the cluster's jobs writes the
    // day to object storage and drops it from PostgreSQL.
    assert!(first.server.terminate().success());
    first = start_node_with_objects(&postgres, root.path(), "node-1", s3_port, 3);
    let deadline = Instant::now() + Duration::from_secs(120);
    let write = loop {
        // `<write>/MANIFEST.json`, the last object of a write.
        let manifest = object_names(s3_port, &format!("cluster/days/{day}"))
            .into_iter()
            .find_map(|name| name.strip_suffix("/MANIFEST.json").map(str::to_owned));
        if let Some(write) = manifest {
            break write;
        }
        assert!(Instant::now() < deadline, "no manifest of {day} written:\n{}", first.server.stderr());
        std::thread::sleep(Duration::from_millis(500));
    };
    let partition_rows = postgres
        .query_one(&format!("SELECT count(*) FROM pg_class WHERE relname = 'log_records_{}'", day.replace('-', "_")));
    assert_eq!(partition_rows, "0", "the day's partition is dropped from PostgreSQL");

    let mut second = start_node_with_objects(&postgres, root.path(), "node-2", s3_port, 3);

    assert_eq!(caught_up(&second, 40), 40, "{}", second.server.stderr());
    let found: BTreeSet<String> = found_ids(&second).into_keys().collect();
    assert_eq!(found, ids.into_iter().collect::<BTreeSet<_>>());
    let written = object_names(s3_port, &format!("cluster/days/{day}/{write}/index/days/{day}"));
    let opened: BTreeSet<String> = std::fs::read_dir(second.data.join(format!("index/days/{day}")))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".lock"))
        .collect();
    assert_eq!(opened, written, "node-2 searches the partition node-1 wrote, not one it built");
    assert!(second.server.terminate().success());
    let key = acta_ledger::SigningKey::load(&cluster_key(root.path())).unwrap().verifier().to_text();
    let output = common::run_acta(
        &[OsStr::new("verify"), second.data.as_os_str(), OsStr::new("--key"), OsStr::new(&key)],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(output.status.code(), Some(0), "acta verify node-2:\n{}{}", output.stdout, output.stderr);
    assert!(first.server.terminate().success());

    // The cluster's own data, checked from PostgreSQL and object storage rather than from a node's copy.
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let s3: Vec<(&str, &OsStr)> = vec![
        ("AWS_ENDPOINT_URL", OsStr::new(&endpoint)),
        ("AWS_ACCESS_KEY_ID", OsStr::new(common::seaweed::S3_ACCESS_KEY)),
        ("AWS_SECRET_ACCESS_KEY", OsStr::new(common::seaweed::S3_SECRET_KEY)),
        ("AWS_REGION", OsStr::new("us-east-1")),
        ("AWS_ALLOW_HTTP", OsStr::new("true")),
    ];
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", postgres.url.as_str(), "--key", key.as_str()];
        args.extend_from_slice(extra);
        common::run_acta_args(&args, &s3, Duration::from_secs(120))
    };
    let output = verify(&["--object-store", "s3://acta/cluster"]);
    assert_eq!(output.status.code(), Some(0), "acta verify postgres://:\n{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("40/40 events valid"), "{}", output.stdout);
    assert!(output.stderr.contains("and 1 sealed days from object storage"), "{}", output.stderr);
    let output = verify(&[]);
    assert_eq!(output.status.code(), Some(0), "acta verify postgres://:\n{}{}", output.stdout, output.stderr);
    assert!(output.stderr.contains("1 sealed days are in object storage and their records are not checked"));
}

#[test]
fn acta_verify_checks_the_clusters_postgresql_and_fails_when_a_record_was_changed_there() {
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let mut node = start_node(&postgres, root.path(), "node-a");
    for n in 0..2 {
        let (status, body) = node.server.ingest(&batch(0, n).1);
        assert_eq!(status, 200, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while postgres.query_one("SELECT coalesce(max(size), 0) FROM log_checkpoints") != "21" {
        assert!(Instant::now() < deadline, "no checkpoint of the 20 events published");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(node.server.terminate().success());
    let key = acta_ledger::SigningKey::load(&cluster_key(root.path())).unwrap().verifier().to_text();
    let verify = || common::run_acta_args(&["verify", &postgres.url, "--key", &key], &[], Duration::from_secs(60));
    let output = verify();
    assert_eq!(output.status.code(), Some(0), "{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("1/1 checkpoints valid, 20/20 events valid"), "{}", output.stdout);

    postgres.query_one("UPDATE log_records SET event = convert_to('{\"id\":\"forged\"}', 'UTF8') WHERE seq = 7");
    let output = verify();

    assert_eq!(output.status.code(), Some(1), "{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("one of the records seq 1 to 20 was changed"), "{}", output.stdout);
    assert!(output.stdout.contains("0/1 checkpoints valid, 0/20 events valid"), "{}", output.stdout);
}

/// Each node's retention archives (its periodic run, or a manager's explicit one), and two may run at once: each
/// sealed day is written to the instance's archive by one node only, and the other finds it archived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_running_retention_at_once_archive_each_sealed_day_once() {
    use common::clocked::{ClockedServer, day_event, day_name};
    let Some(postgres) = PgServer::start() else {
        return;
    };
    let first = ClockedServer::start_node(&postgres.url, "node-1", None).await;
    let second = ClockedServer::start_node(&postgres.url, "node-2", Some(&first)).await;
    for day in 0..=2 {
        first.send_on_day(day, &[day_event(day, 0), day_event(day, 1)], None).await;
    }
    // A node's copy closes a day a day late: on day 4, days 0 to 2 are closed on both.
    for node in [&first, &second] {
        node.set_day(4);
        node.wait_count(CLIENT_EVENTS, 6).await;
    }
    let root = first.archive_root.path().canonicalize().unwrap().join("audit");
    let archive = serde_json::json!({"kind": "directory", "path": root.to_str().unwrap()});
    let (status, answer) = second.call(reqwest::Method::PUT, "/v1/instances/default/archive", Some(archive)).await;
    assert_eq!(status, 200, "{answer}");

    let mut archived: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while archived.len() < 3 {
        assert!(Instant::now() < deadline, "archived so far: {archived:?}");
        let (one, other) = tokio::join!(first.run_retention(), second.run_retention());
        archived.extend(one.archived.into_iter().chain(other.archived).map(|(_, day)| day));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    archived.sort();
    assert_eq!(archived, (0..=2).map(day_name).collect::<Vec<_>>(), "each day archived once, by one node");
    for node in [first, second] {
        node.stop().await;
    }
}

/// The README's `acta demo --cluster N` as written: run from a working directory, its data directory
/// (`acta-demo`) relative to it, holding the demo's PostgreSQL; the demo data loaded through node 1 is shown by
/// node 2, and stopping the demo stops its PostgreSQL.
#[test]
fn acta_demo_cluster_runs_in_a_data_directory_relative_to_the_working_directory() {
    if acta_store::cluster::local::newest_server_programs().is_none() {
        assert!(std::env::var_os("CI").is_none(), "the cluster tests need PostgreSQL: apt-get install postgresql");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // As root the demo runs PostgreSQL as the postgres user, which must be able to enter the directory.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = common::free_port();
    let out = dir.path().join("demo.stdout");
    let child = std::process::Command::new(common::acta_bin())
        .args(["demo", "--cluster", "2", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env("ACTA_BOOTSTRAP_KEY", common::ADMIN_KEY)
        .env_remove("ACTA_SMTP_URL")
        .env_remove("ACTA_DATA")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(dir.path().join("demo.stderr")).unwrap())
        .spawn()
        .unwrap();
    let mut demo = Demo(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    let printed = loop {
        let printed = std::fs::read_to_string(&out).unwrap_or_default();
        let exited = demo.0.try_wait().unwrap().is_some();
        if printed.contains("Stop with Ctrl-C") || exited || Instant::now() > deadline {
            break printed;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = || std::fs::read_to_string(dir.path().join("demo.stderr")).unwrap_or_default();
    assert!(printed.contains("Stop with Ctrl-C"), "the demo did not start:\n{printed}\n{}", stderr());
    assert!(dir.path().join("acta-demo/postgres/PG_VERSION").is_file(), "{printed}");
    let views: Value = reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/views?account=demo", port + 1))
        .bearer_auth(common::ADMIN_KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(views["views"].as_array().map(Vec::len), Some(6), "node-2 shows the demo's views: {views}");
    let status = demo.stop();
    assert!(status.success(), "{}", stderr());
    assert!(!dir.path().join("acta-demo/postgres/postmaster.pid").exists(), "the demo's PostgreSQL is stopped");
}

/// A running `acta demo`, stopped as Ctrl-C would (so it stops its PostgreSQL) even when the test fails.
struct Demo(std::process::Child);

impl Demo {
    fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        common::wait_with_timeout(&mut self.0, Duration::from_secs(60))
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}
