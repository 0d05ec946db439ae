//! Ingest, then search over HTTP, with the reference evaluator as the judge of every answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{TestServer, event, expected_ids, ids};
use serde_json::{Value, json};

/// Events shaped like seed 002 (API keys from the console and the CLI, failures, logins) and seed 000 (KMS).
fn seed_events() -> Vec<Value> {
    let key_event = |id: &str, verb: &str, outcome: &str, agent: &str, minute: u32| {
        let suffix = if outcome == "failure" { " -failure" } else { "" };
        event(
            &format!("iam-identity.user-apikey.{verb}"),
            json!({
                "id": id,
                "eventTime": format!("2026-11-20T10:{minute:02}:00Z"),
                "outcome": outcome,
                "message": format!("IAM Identity Service: {verb} user-apikey demo-key{suffix}"),
                "initiator": {"id": "IBMid-1", "name": "user@example.com", "host": {"agent": agent, "address": "192.0.2.1"}},
                "target": {"id": "ApiKey-1", "name": "demo-key", "typeURI": "iam-identity/user-apikey"},
            }),
        )
    };
    vec![
        key_event("create-ui", "create", "success", "NotSet", 1),
        key_event("lock-ui", "update", "success", "NotSet", 2),
        key_event("update-cli-failed", "update", "failure", "IBM Cloud CLI", 3),
        key_event("delete-cli-failed", "delete", "failure", "IBM Cloud CLI", 4),
        key_event("unlock-cli", "update", "success", "IBM Cloud CLI", 5),
        key_event("delete-cli", "delete", "success", "IBM Cloud CLI", 6),
        key_event("login", "login", "success", "IBM Cloud CLI", 7),
        key_event("login-failed", "login", "failure", "IBM Cloud CLI", 8),
        key_event("create-console", "create", "success", "Acta web console", 9),
        key_event("delete-acta-cli", "delete", "success", "Acta CLI/0.1.0", 10),
        event(
            "kms.secrets.create",
            json!({"id": "kms-create", "eventTime": "2026-11-20T09:00:00Z", "message": "Key Protect: create secret",
                   "target": {"id": "crn:v1:bluemix:public:kms:us-south:a/1::key:1", "name": "root", "typeURI": "kms/secrets"}}),
        ),
        event(
            "kms.secrets.delete",
            json!({"id": "kms-delete", "eventTime": "2026-11-20T09:05:00Z", "outcome": "failure",
                   "target": {"id": "k2", "name": "root2", "typeURI": "kms/secrets/extra"}}),
        ),
    ]
}

const SEED_QUERIES: [&str; 8] = [
    "(action user-apikey) -login",
    "(action user-apikey) -login failure",
    "(action user-apikey.delete) -login",
    "(action user-apikey.update) -login",
    "initiator.host.agent:\"NotSet\" (action user-apikey) -login",
    "initiator.host.agent:\"IBM Cloud CLI\" (action user-apikey) -login",
    "target.typeURI_str:kms/secrets",
    "iam-identity.user-apikey.",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_queries_find_exactly_what_the_reference_evaluator_selects() {
    let server = TestServer::start().await;
    let events = seed_events();
    let (status, answer) = server.send(&events).await;
    assert_eq!(status, 200, "{answer}");
    server.wait_searchable(events.len() as u64).await;
    for q in SEED_QUERIES {
        let found: Vec<String> = {
            let mut found: Vec<String> =
                server.search_all(q).await.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
            found.sort();
            found
        };
        assert_eq!(found, expected_ids(q, &events), "query {q}");
        assert_eq!(server.count(q).await, found.len() as u64, "count of {q}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_failure_query_finds_the_failed_key_actions_only() {
    let server = TestServer::start().await;
    let events = seed_events();
    server.send(&events).await;
    server.wait_searchable(events.len() as u64).await;
    let mut found: Vec<String> = server
        .search_all("(action user-apikey) -login failure")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    found.sort();
    assert_eq!(found, vec!["delete-cli-failed", "update-cli-failed"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_newest_event_time_first() {
    let server = TestServer::start().await;
    let events = seed_events();
    server.send(&events).await;
    server.wait_searchable(events.len() as u64).await;
    let found = server.search_all("").await;
    let times: Vec<i64> =
        found.iter().map(|e| acta_cadf::parse_time(e["eventTime"].as_str().unwrap()).unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_range_includes_from_and_excludes_to() {
    let server = TestServer::start().await;
    let events = seed_events();
    server.send(&events).await;
    server.wait_searchable(events.len() as u64).await;
    let answer: Value = server
        .get("/v1/events")
        .query(&[("from", "2026-11-20T10:02:00Z"), ("to", "2026-11-20T10:04:00+00:00")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found: Vec<&str> = answer["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(found, vec!["update-cli-failed", "lock-ui"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_with_a_known_id_is_stored_once() {
    let server = TestServer::start().await;
    let first = event("svc.thing.create", json!({"id": "same-id"}));
    let (_, answer) = server.send(std::slice::from_ref(&first)).await;
    assert_eq!(answer["results"][0]["status"], "stored");
    let (status, answer) = server.send(&[first.clone(), first]).await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["status"], "duplicate", "{answer}");
    assert_eq!(answer["results"][1]["status"], "duplicate", "{answer}");
    server.wait_searchable(1).await;
    // After the index has it too, it is still recognized.
    let (_, answer) = server.send(&[event("svc.thing.create", json!({"id": "same-id"}))]).await;
    assert_eq!(answer["results"][0]["status"], "duplicate");
    assert_eq!(server.count("").await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_id_within_one_batch_is_stored_once() {
    let server = TestServer::start().await;
    let twice = event("svc.thing.create", json!({"id": "dup-in-batch"}));
    let (_, answer) = server.send(&[twice.clone(), twice]).await;
    let statuses: Vec<&str> =
        answer["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["stored", "duplicate"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_is_found_by_id_with_what_acta_added() {
    let server = TestServer::start().await;
    let sent = event("svc.thing.create", json!({"id": "find-me"}));
    server.send(&[sent]).await;
    let answer: Value = server.get("/v1/events/find-me").send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["action"], "svc.thing.create");
    assert_eq!(answer["_acta"]["id"], "find-me");
    assert_eq!(answer["_acta"]["instance"], "default");
    assert_eq!(answer["_acta"]["seq"], 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_without_id_get_one() {
    let server = TestServer::start().await;
    let (_, answer) = server.send(&[event("svc.thing.create", json!({}))]).await;
    let id = answer["results"][0]["id"].as_str().unwrap().to_string();
    assert!(!id.is_empty());
    let found = server.get(&format!("/v1/events/{id}")).send().await.unwrap();
    assert_eq!(found.status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_never_repeats_or_skips_while_events_keep_arriving() {
    let server = TestServer::start().await;
    let originals: Vec<Value> = (0..300)
        .map(|i| {
            // Many share one eventTime, so ties are ordered by arrival.
            event(
                "svc.page.read",
                json!({"id": format!("orig-{i}"), "eventTime": format!("2026-11-20T10:{:02}:00Z", i % 7)}),
            )
        })
        .collect();
    server.send(&originals).await;
    server.wait_searchable(300).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut page_number = 0;
    loop {
        // Newer and older (backfilled) events arrive between pages.
        let arriving = vec![
            event("svc.page.read", json!({"id": format!("new-{page_number}"), "eventTime": "2026-11-20T11:00:00Z"})),
            event("svc.page.read", json!({"id": format!("old-{page_number}"), "eventTime": "2026-11-20T08:00:00Z"})),
        ];
        server.send(&arriving).await;
        let mut params = vec![("q", "action:svc.page".to_string()), ("limit", "25".to_string())];
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor.clone()));
        }
        let answer: Value = server.get("/v1/events").query(&params).send().await.unwrap().json().await.unwrap();
        seen.extend(answer["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
        page_number += 1;
        match answer["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an event was repeated");
    for i in 0..300 {
        assert!(unique.contains(&format!("orig-{i}")), "orig-{i} was skipped");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_receives_matching_events_sent_after_it_opened() {
    let server = TestServer::start().await;
    let mut stream = server.get("/v1/events/tail").query(&[("q", "action:kms.secrets")]).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    server
        .send(&[
            event("iam-identity.user-apikey.create", json!({"id": "not-for-tail"})),
            event("kms.secrets.create", json!({"id": "for-tail"})),
        ])
        .await;
    let mut text = String::new();
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("for-tail\"") && text.contains("\n\n") {
                return;
            }
        }
    })
    .await;
    assert!(received.is_ok(), "tail delivered nothing: {text}");
    assert!(text.contains("\"id\":\"for-tail\""), "{text}");
    assert!(!text.contains("not-for-tail"), "{text}");
    // Stopping ends open tails instead of waiting for their clients.
    tokio::time::timeout(Duration::from_secs(10), server.stop()).await.expect("server stops with a tail open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_restart_and_stay_searchable() {
    let mut server = TestServer::start().await;
    let events = seed_events();
    server.send(&events).await;
    server.restart().await;
    server.wait_searchable(events.len() as u64).await;
    assert_eq!(ids(&server.search_all("").await).len(), events.len());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_100k_events_matches_search() {
    let server = TestServer::start().await;
    let total = 100_000u64;
    for batch in 0..100 {
        let body: String = (0..1000)
            .map(|i| {
                let n = batch * 1000 + i;
                let outcome = if n % 10 == 0 { "failure" } else { "success" };
                format!(
                    "{{\"id\":\"e{n}\",\"eventTime\":\"2026-11-20T{:02}:{:02}:{:02}Z\",\"action\":\"svc{}.thing.read\",\"outcome\":\"{outcome}\",\"initiator\":{{\"id\":\"u{}\"}},\"target\":{{\"id\":\"t{n}\"}},\"message\":\"read thing {n}\"}}\n",
                    n / 3600 % 24, n / 60 % 60, n % 60, n % 5, n % 17
                )
            })
            .collect();
        let (status, answer) = server.send_raw(body, "application/x-ndjson").await;
        assert_eq!(status, 200, "{}", answer["error"]);
        assert_eq!(answer["accepted"], 1000);
    }
    server.wait_searchable(total).await;
    for (q, format) in [("", "ndjson"), ("outcome:failure", "ndjson"), ("outcome:failure", "csv")] {
        let body = server
            .get("/v1/events/export")
            .query(&[("q", q), ("format", format)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let searched = server.search_all(q).await;
        if format == "csv" {
            assert_eq!(body.lines().count() as u64, searched.len() as u64 + 1, "a header and a row per event");
            continue;
        }
        let mut exported: Vec<String> = body
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["_acta"]["id"].as_str().unwrap().to_string())
            .collect();
        exported.sort();
        assert_eq!(exported, ids(&searched), "export and search of {q:?} differ");
    }
    assert_eq!(server.count("outcome:failure").await, total / 10);
    server.stop().await;
}
