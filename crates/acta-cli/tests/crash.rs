//! An answered ingest survives `kill -9` of the server, exactly once, round after round on one data directory.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Server, XorShift};
use serde_json::Value;

const ROUNDS: u64 = 20;
const CLIENTS: usize = 4;
const BATCH: usize = 20;

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
            common::event(&id, "iam-identity.user-apikey.login", outcome)
        })
        .collect()
}

/// Sends batches until the server stops answering or `stop` is set.
fn client_loop(url: String, round: u64, client: usize, stop: Arc<AtomicBool>) -> Vec<Batch> {
    let http = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap();
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
        let count = server.count("");
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
    let query = round.map(|r| format!("id:\"r{r}\"")).unwrap_or_default();
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

#[test]
fn answered_events_survive_kill_9_exactly_once() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    let mut batches: Vec<Batch> = Vec::new();
    let mut kills_with_batches_in_flight = 0;
    for round in 0..ROUNDS {
        let mut server = common::start(&data, &logs);
        if round > 0 {
            // Every fifth start checks every event; the others check the round just killed.
            let only = (round % 5 != 0).then_some(round - 1);
            check(&server, &batches, only, &format!("start of round {round}"));
        }
        let mut rng = XorShift::new(round);
        let delay = Duration::from_millis(rng.between(50, 400));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (url, stop) = (server.url.clone(), stop.clone());
                std::thread::spawn(move || client_loop(url, round, client, stop))
            })
            .collect();
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
        let stderr = server.stderr();
        assert!(
            !stderr.contains("ERROR") && !stderr.contains("panicked"),
            "round {round}: the server logged errors:\n{stderr}"
        );
    }

    let server = common::start(&data, &logs);
    check(&server, &batches, None, "after the last round");
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
    eprintln!(
        "{ROUNDS} rounds, {stored} batches answered, {kills_with_batches_in_flight} kills with a batch in flight, \
         {unanswered_but_stored} unanswered events were stored, {torn_tails_cut} starts cut a torn tail, {:?}",
        started.elapsed()
    );
    assert!(kills_with_batches_in_flight > 0, "no kill ever hit a batch in flight: the test does not test anything");

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
