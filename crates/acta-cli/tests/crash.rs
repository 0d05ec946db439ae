//! Answered work survives `kill -9` of the server, round after round on one data directory: every answered
//! event exactly once, every answered key change (and its audit event), and every alert firing, once, with its
//! notification. Each round ingests from several clients, changes keys, and has an alert that fires on the
//! round's events, and is killed at a random moment.
//!
//! `ACTA_CRASH_ROUNDS` sets the number of rounds (20 by default, as CI runs it; 100 for the long variant).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, XorShift};
use serde_json::Value;

const DEFAULT_ROUNDS: u64 = 20;
const CLIENTS: usize = 4;
const BATCH: usize = 20;
/// The action of the events each round's alert fires on: the first event of every batch of client 0.
const ALERTED_ACTION: &str = "svc.widget.delete";
/// The clients' events, without Acta's own (the audit events of the key changes).
const CLIENT_EVENTS: &str = "NOT observer.id:acta";

fn rounds() -> u64 {
    match std::env::var("ACTA_CRASH_ROUNDS") {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("ACTA_CRASH_ROUNDS={text:?} is not a number of rounds")),
        Err(_) => DEFAULT_ROUNDS,
    }
}

/// What one client saw of one batch.
enum Fate {
    /// 200 with every event stored: each must be found exactly once from now on.
    Stored,
    /// An answer that stored nothing (429 when the index is behind): none may be found.
    Refused,
    /// No answer (the server died): each may be found at most once.
    Unknown,
}

struct Batch {
    round: u64,
    ids: Vec<String>,
    events: Vec<Value>,
    fate: Fate,
}

fn batch_events(round: u64, client: usize, batch: usize) -> Vec<Value> {
    (0..BATCH)
        .map(|n| {
            let id = format!("r{round}-c{client}-b{batch}-e{n}");
            let outcome = if n % 3 == 0 { "failure" } else { "success" };
            let action = if client == 0 && n == 0 { ALERTED_ACTION } else { "iam-identity.user-apikey.login" };
            common::event(&id, action, outcome)
        })
        .collect()
}

/// A client that gives up quickly on a killed server.
fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap()
}

/// Sends batches until the server stops answering or `stop` is set.
fn client_loop(url: String, round: u64, client: usize, stop: Arc<AtomicBool>) -> Vec<Batch> {
    let http = http_client();
    let mut batches = Vec::new();
    for batch in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let events = batch_events(round, client, batch);
        let ids: Vec<String> = events.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        let sent = http
            .post(format!("{url}/v1/events"))
            .bearer_auth(common::ADMIN_KEY)
            .header("content-type", "application/json")
            .body(Value::Array(events.clone()).to_string())
            .send()
            .and_then(|response| {
                let status = response.status().as_u16();
                response.json::<Value>().map(|answer| (status, answer))
            });
        let fate = match sent {
            Ok((200, answer)) => {
                let statuses: Vec<&str> = answer["results"]
                    .as_array()
                    .map(|results| results.iter().filter_map(|r| r["status"].as_str()).collect())
                    .unwrap_or_default();
                assert!(
                    answer["accepted"] == BATCH && statuses.len() == BATCH && statuses.iter().all(|s| *s == "stored"),
                    "a batch of new unique ids was not stored whole: {answer}"
                );
                Fate::Stored
            }
            Ok((429, _)) => Fate::Refused,
            Ok((status, answer)) => panic!("unexpected answer {status} to an ingest: {answer}"),
            Err(_) => Fate::Unknown,
        };
        let unknown = matches!(fate, Fate::Unknown);
        batches.push(Batch { round, ids, events, fate });
        if unknown {
            break;
        }
    }
    batches
}

/// Checks the data directory as the freshly started server shows it against everything sent so far: the
/// total count, and event by event either everything (`round: None`) or one round's events (their ids start
/// with the token `r<round>`), which keeps the rounds' checks from growing with the data.
fn check(server: &Server, batches: &[Batch], round: Option<u64>, label: &str) {
    let ids_of = |wanted: fn(&Fate) -> bool, only_round: Option<u64>| -> BTreeSet<&str> {
        batches
            .iter()
            .filter(|b| wanted(&b.fate) && only_round.is_none_or(|r| b.round == r))
            .flat_map(|b| b.ids.iter().map(String::as_str))
            .collect()
    };
    let (must_all, may_all) =
        (ids_of(|f| matches!(f, Fate::Stored), None), ids_of(|f| matches!(f, Fate::Unknown), None));
    // Indexing is asynchronous: wait until the count stops moving (and reaches what must be there).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = u64::MAX;
    let total = loop {
        let count = server.count(CLIENT_EVENTS);
        if count == last && count >= must_all.len() as u64 {
            break count;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: the count did not settle (last {count}, {} answered)",
            must_all.len()
        );
        last = count;
        std::thread::sleep(Duration::from_millis(200));
    };
    let at_most = must_all.union(&may_all).count() as u64;
    assert!(total <= at_most, "{label}: {total} events stored, but only {at_most} were ever sent without refusal");

    let (must, may) = (ids_of(|f| matches!(f, Fate::Stored), round), ids_of(|f| matches!(f, Fate::Unknown), round));
    let query = round.map_or_else(|| CLIENT_EVENTS.to_string(), |r| format!("id:\"r{r}\""));
    let events = server.search_all(&query);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for event in &events {
        let id = common::acta_id(event);
        assert_eq!(event["id"].as_str(), Some(id.as_str()), "{label}: _acta.id differs from the event's id");
        *seen.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{label}: events stored more than once: {twice:?}");
    let missing: Vec<_> = must.iter().filter(|id| !seen.contains_key(**id)).collect();
    assert!(
        missing.is_empty(),
        "{label}: {} answered events are lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let unexpected: Vec<_> =
        seen.keys().filter(|id| !must.contains(id.as_str()) && !may.contains(id.as_str())).collect();
    assert!(unexpected.is_empty(), "{label}: events that were refused or never sent: {unexpected:?}");
    assert_eq!(server.count(&query), events.len() as u64, "{label}: count and search of {query:?} disagree");
    if round.is_none() {
        assert_eq!(total, events.len() as u64, "{label}: count and search disagree");
    }
}

/// A key's state as the API shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyState {
    Absent,
    Active,
    Locked,
}

/// One change to a key, in the order a round's key client made them, and whether it was answered.
struct KeyChange {
    name: String,
    verb: &'static str,
    after: KeyState,
    answered: bool,
}

/// Creates, locks, unlocks and deletes keys (`r<round>-k<n>`) one change at a time until the server stops
/// answering or `stop` is set. Every answered change must be there after a restart, with its audit event.
fn key_loop(url: String, round: u64, stop: Arc<AtomicBool>) -> Vec<KeyChange> {
    let http = http_client();
    let mut changes = Vec::new();
    for n in 0.. {
        let name = format!("r{round}-k{n}");
        let mut id = String::new();
        let steps = [("create", KeyState::Active), ("lock", KeyState::Locked), ("unlock", KeyState::Active)];
        for (verb, after) in steps.into_iter().chain([("delete", KeyState::Absent)]) {
            if stop.load(Ordering::SeqCst) {
                return changes;
            }
            let request = match verb {
                "create" => {
                    http.post(format!("{url}/v1/keys")).json(&serde_json::json!({"name": name, "role": "reader"}))
                }
                "delete" => http.delete(format!("{url}/v1/keys/{id}")),
                _ => http.post(format!("{url}/v1/keys/{id}/{verb}")),
            };
            let sent = request.bearer_auth(common::ADMIN_KEY).send().map(|response| {
                let status = response.status().as_u16();
                (status, response.json::<Value>().unwrap_or(Value::Null))
            });
            let answered = match sent {
                Ok((status, answer)) if (200..300).contains(&status) => {
                    if verb == "create" {
                        id = answer["id"].as_str().expect("a created key has an id").to_string();
                    }
                    true
                }
                Ok((status, answer)) => panic!("unexpected answer {status} to a key {verb}: {answer}"),
                Err(_) => false,
            };
            changes.push(KeyChange { name: name.clone(), verb, after, answered });
            if !answered {
                return changes;
            }
        }
    }
    changes
}

/// The audit verb of a key change: lock and unlock are updates.
fn audit_verb(verb: &str) -> &str {
    match verb {
        "lock" | "unlock" => "update",
        verb => verb,
    }
}

/// Checks every key the rounds touched against the key changes: its state is the one after its last answered
/// change (or after an unanswered one that followed it), and each answered change has exactly one audit event
/// (an unanswered one at most one).
fn check_keys(server: &Server, changes: &[KeyChange], label: &str) {
    let listed: Value = server.get("/v1/keys").send().unwrap().json().unwrap();
    let actual: BTreeMap<&str, KeyState> = listed["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("{label}: GET /v1/keys answered {listed}"))
        .iter()
        .filter_map(|key| {
            let state = if key["locked"] == true { KeyState::Locked } else { KeyState::Active };
            Some((key["name"].as_str()?, state))
        })
        .collect();
    let mut audited: BTreeMap<(String, String), usize> = BTreeMap::new();
    let query = "action:\"iam-identity.user-apikey.create\" OR action:\"iam-identity.user-apikey.update\" \
                 OR action:\"iam-identity.user-apikey.delete\"";
    for event in server.search_all(query) {
        assert_eq!(event["outcome"], "success", "{label}: a key change was refused: {event}");
        let verb = event["action"].as_str().unwrap().rsplit('.').next().unwrap().to_string();
        *audited.entry((event["target"]["name"].as_str().unwrap().to_string(), verb)).or_default() += 1;
    }

    let mut by_key: BTreeMap<&str, Vec<&KeyChange>> = BTreeMap::new();
    for change in changes {
        by_key.entry(change.name.as_str()).or_default().push(change);
    }
    for (name, changes) in by_key {
        let last_answered = changes.iter().rev().find(|c| c.answered).map_or(KeyState::Absent, |c| c.after);
        let unanswered = changes.last().filter(|c| !c.answered).map(|c| c.after);
        let state = actual.get(name).copied().unwrap_or(KeyState::Absent);
        assert!(
            state == last_answered || Some(state) == unanswered,
            "{label}: key {name} is {state:?}, but its last answered change left it {last_answered:?} \
             (unanswered after it: {unanswered:?})"
        );
        for verb in ["create", "update", "delete"] {
            let answered = changes.iter().filter(|c| c.answered && audit_verb(c.verb) == verb).count();
            let unanswered = changes.iter().filter(|c| !c.answered && audit_verb(c.verb) == verb).count();
            let events = audited.get(&(name.to_string(), verb.to_string())).copied().unwrap_or(0);
            assert!(
                (answered..=answered + unanswered).contains(&events),
                "{label}: key {name} has {events} {verb} audit events for {answered} answered changes \
                 ({unanswered} unanswered)"
            );
        }
    }
}

/// Makes the round's view and alert: a webhook the moment one of the round's alerted events arrives.
fn create_round_alert(server: &Server, round: u64, hook: &str) -> String {
    let view: Value = server
        .post("/v1/views")
        .json(&serde_json::json!({
            "name": format!("round {round} widget deletions"),
            "query": format!("action:\"{ALERTED_ACTION}\" AND id:\"r{round}\""),
        }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let view = view["id"].as_str().unwrap_or_else(|| panic!("round {round}: no view: {view}"));
    let alert: Value = server
        .post("/v1/alerts")
        .json(&serde_json::json!({
            "view": view,
            "name": format!("round {round} widget deletions"),
            "kind": "presence",
            "threshold": 1,
            "window": "1h",
            "immediate": true,
            "channels": [{"type": "webhook", "url": hook}],
        }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    alert["id"].as_str().unwrap_or_else(|| panic!("round {round}: no alert: {alert}")).to_string()
}

/// A webhook receiver on 127.0.0.1 that outlives every kill: records the alert of each notification.
fn receive_notifications() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let alerts = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            if let Ok(message) = serde_json::from_slice::<Value>(&body) {
                alerts.lock().unwrap().push(message["alert_id"].as_str().unwrap_or_default().to_string());
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (hook, got)
}

/// Every round's alert fired exactly when one of its events was stored, once, and the notification of each
/// firing reached the receiver (at least once: a kill between sending and recording the delivery sends it
/// again; `X-Acta-Delivery` lets a receiver tell). Returns how many notifications arrived more than once.
fn check_alerts(server: &Server, alerts: &[(u64, String)], received: &Mutex<Vec<String>>) -> usize {
    let mut fired = Vec::new();
    for (round, alert) in alerts {
        let stored = server.count(&format!("action:\"{ALERTED_ACTION}\" AND id:\"r{round}\""));
        let deadline = Instant::now() + Duration::from_secs(20);
        let firings = loop {
            let history: Value = server.get(&format!("/v1/alerts/{alert}/history")).send().unwrap().json().unwrap();
            let firings = history["firings"].as_array().cloned().unwrap_or_default();
            let delivered = firings
                .iter()
                .all(|f| f["deliveries"].as_array().is_some_and(|d| d.iter().all(|d| d["state"] == "delivered")));
            if (firings.len() == usize::from(stored > 0) && delivered) || Instant::now() > deadline {
                break firings;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(
            firings.len(),
            usize::from(stored > 0),
            "round {round}: {stored} alerted events stored, but the alert fired {} times: {firings:?}\n{}",
            firings.len(),
            server.stderr()
        );
        if !firings.is_empty() {
            assert_eq!(firings[0]["deliveries"][0]["state"], "delivered", "round {round}: {}", firings[0]);
            fired.push(alert.as_str());
        }
    }
    let received = received.lock().unwrap();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for alert in received.iter() {
        *times.entry(alert.as_str()).or_default() += 1;
    }
    for alert in &fired {
        assert!(times.contains_key(alert), "the notification of alert {alert}'s firing never arrived");
    }
    let unknown: Vec<_> = times.keys().filter(|alert| !fired.contains(alert)).collect();
    assert!(unknown.is_empty(), "notifications from alerts whose history has no firing: {unknown:?}");
    times.values().filter(|n| **n > 1).count()
}

#[test]
fn answered_work_survives_kill_9_exactly_once() {
    let started = Instant::now();
    let rounds = rounds();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    let (hook, notifications) = receive_notifications();
    let envs = [("ACTA_WEBHOOK_ALLOW", "127.0.0.0/8")];
    let mut batches: Vec<Batch> = Vec::new();
    let mut key_changes: Vec<KeyChange> = Vec::new();
    let mut alerts: Vec<(u64, String)> = Vec::new();
    let mut kills_with_batches_in_flight = 0;
    let mut kills_with_a_key_change_in_flight = 0;
    for round in 0..rounds {
        let mut server = common::start_with(&data, &logs, &envs);
        if round > 0 {
            // Every fifth start checks every event and key; the others check the round just killed.
            let only = (round % 5 != 0).then_some(round - 1);
            let label = format!("start of round {round}");
            check(&server, &batches, only, &label);
            if only.is_none() {
                check_keys(&server, &key_changes, &label);
            }
        }
        alerts.push((round, create_round_alert(&server, round, &hook)));
        let mut rng = XorShift::new(round);
        let delay = Duration::from_millis(rng.between(50, 400));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (url, stop) = (server.url.clone(), stop.clone());
                std::thread::spawn(move || client_loop(url, round, client, stop))
            })
            .collect();
        let keys = {
            let (url, stop) = (server.url.clone(), stop.clone());
            std::thread::spawn(move || key_loop(url, round, stop))
        };
        std::thread::sleep(delay);
        assert!(server.is_running(), "round {round}: the server died by itself:\n{}", server.stderr());
        server.kill();
        stop.store(true, Ordering::SeqCst);
        let mut in_flight = false;
        for client in clients {
            let sent = client.join().expect("a client thread panicked");
            in_flight |= sent.iter().any(|b| matches!(b.fate, Fate::Unknown));
            batches.extend(sent);
        }
        kills_with_batches_in_flight += usize::from(in_flight);
        let changes = keys.join().expect("the key client panicked");
        kills_with_a_key_change_in_flight += usize::from(changes.last().is_some_and(|c| !c.answered));
        key_changes.extend(changes);
        let stderr = server.stderr();
        assert!(
            !stderr.contains("ERROR") && !stderr.contains("panicked"),
            "round {round}: the server logged errors:\n{stderr}"
        );
    }

    let server = common::start_with(&data, &logs, &envs);
    check(&server, &batches, None, "after the last round");
    check_keys(&server, &key_changes, "after the last round");
    let notified_twice = check_alerts(&server, &alerts, &notifications);
    let stderr = server.stderr();
    assert!(!stderr.contains("ERROR") && !stderr.contains("panicked"), "the last start logged errors:\n{stderr}");

    // A client that got an answer and sends the batch again gets every event back as a duplicate: the oldest
    // answered batch and the newest (answered just before a kill).
    let answered: Vec<&Batch> = batches.iter().filter(|b| matches!(b.fate, Fate::Stored)).collect();
    assert!(!answered.is_empty(), "no batch was ever answered");
    for batch in [answered[0], answered[answered.len() - 1]] {
        let (status, answer) = server.ingest(&batch.events);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
            (Some(0), Some(BATCH as u64)),
            "re-sending {}: {answer}",
            batch.ids[0]
        );
        for (index, result) in answer["results"].as_array().unwrap().iter().enumerate() {
            assert_eq!(result["status"], "duplicate", "{result}");
            assert_eq!(result["id"].as_str(), Some(batch.ids[index].as_str()), "{result}");
        }
    }
    // A client that got no answer retries: afterwards each of those events is stored exactly once.
    let mut retried: Vec<Batch> = Vec::new();
    let mut unanswered_but_stored = 0;
    for batch in batches.iter().filter(|b| matches!(b.fate, Fate::Unknown)) {
        let (status, answer) = server.ingest(&batch.events);
        assert_eq!(status, 200, "{answer}");
        let duplicates = answer["duplicates"].as_u64().unwrap_or(0);
        let settled = answer["accepted"].as_u64().unwrap_or(0) + duplicates;
        unanswered_but_stored += duplicates;
        assert_eq!(settled, BATCH as u64, "a retried batch was not settled: {answer}");
        retried.push(Batch { round: batch.round, ids: batch.ids.clone(), events: Vec::new(), fate: Fate::Stored });
    }
    batches.extend(retried);
    check(&server, &batches, None, "after retrying the unanswered batches");

    let stored = batches.iter().filter(|b| matches!(b.fate, Fate::Stored)).count();
    let torn_tails_cut = std::fs::read_dir(&logs)
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.unwrap().path()).ok())
        .filter(|stderr| stderr.contains("torn tail") || stderr.contains("zero-filled tail"))
        .count();
    let answered_key_changes = key_changes.iter().filter(|c| c.answered).count();
    eprintln!(
        "{rounds} rounds, {stored} batches answered, {kills_with_batches_in_flight} kills with a batch in flight, \
         {unanswered_but_stored} unanswered events were stored, {torn_tails_cut} starts cut a torn tail, \
         {answered_key_changes} key changes answered, {kills_with_a_key_change_in_flight} kills with a key change \
         in flight, {} alerts fired, {notified_twice} notifications arrived twice, {:?}",
        alerts.len(),
        started.elapsed()
    );
    assert!(kills_with_batches_in_flight > 0, "no kill ever hit a batch in flight: the test does not test anything");
    assert!(answered_key_changes > 0, "no key change was ever answered: the test does not test keys");

    // Checkpoints survived the kills too: after a clean stop, every event is signed and verifies.
    let mut server = server;
    assert!(server.terminate().success(), "the server did not stop cleanly:\n{}", server.stderr());
    let key = acta_ledger::SigningKey::load(&common::signing_key_path(&data)).unwrap().verifier().to_text();
    let output = common::run_acta(
        &[OsStr::new("verify"), data.as_os_str(), OsStr::new("--key"), OsStr::new(&key)],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(output.status.code(), Some(0), "acta verify after the crashes:\n{}{}", output.stdout, output.stderr);
    let summary = output.stdout.lines().last().unwrap_or_default().to_owned();
    let counts: Vec<&str> = summary.split(", ").map(|part| part.split(' ').next().unwrap_or_default()).collect();
    for count in counts {
        let (valid, total) = count.split_once('/').unwrap();
        assert_eq!(valid, total, "not everything verified: {summary}");
    }
}
