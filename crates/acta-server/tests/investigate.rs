//! `GET /v1/investigate/principal` and `GET /v1/investigate/resource`: a principal's actions grouped, failures
//! first, and a resource's history oldest first, each scoped to the key's account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestServer, event, poll};
use serde_json::{Value, json};

/// An event by `who` at 10:`minute` of 2026-11-20 in account `account` (routed by its logSourceCRN).
fn by(account: &str, who: (&str, &str), action: &str, minute: u32, outcome: &str, extra: Value) -> Value {
    let mut event = event(
        action,
        json!({
            "id": format!("{account}-{}-{action}-{minute}", who.0),
            "eventTime": format!("2026-11-20T10:{minute:02}:00Z"),
            "outcome": outcome,
            "logSourceCRN": format!("crn:v1:bluemix:public:kms:global:a/{account}::"),
            "initiator": {"id": who.0, "name": who.1, "typeURI": "service/security/account/user",
                          "host": {"address": "192.0.2.1", "agent": "curl/8"}},
        }),
    );
    if let (Value::Object(base), Value::Object(extra)) = (&mut event, extra) {
        base.extend(extra);
    }
    event
}

const ALICE: (&str, &str) = ("IBMid-alice", "alice@example.com");
const BOB: (&str, &str) = ("IBMid-bob", "bob@example.com");

/// Alice in account `acme`: 4 reads (none failed), 2 key creations (1 failed), 1 key deletion (failed), from
/// two addresses and two agents; Bob in `acme` and an impostor with Alice's id in account `other`.
fn alice_events() -> Vec<Value> {
    let other_host = json!({"host": {"address": "198.51.100.7", "agent": "acta-cli/1"}});
    let alice_from_elsewhere = || {
        let mut initiator = json!({"id": ALICE.0, "name": ALICE.1});
        initiator.as_object_mut().unwrap().extend(other_host.as_object().unwrap().clone());
        json!({"initiator": initiator})
    };
    vec![
        by("acme", ALICE, "kms.secrets.read", 1, "success", json!({})),
        by("acme", ALICE, "kms.secrets.read", 2, "success", json!({})),
        by("acme", ALICE, "kms.secrets.read", 9, "success", json!({})),
        by("acme", ALICE, "kms.secrets.read", 3, "success", alice_from_elsewhere()),
        by("acme", ALICE, "iam-identity.apikey.create", 4, "failure", json!({})),
        by("acme", ALICE, "iam-identity.apikey.create", 6, "success", json!({})),
        by("acme", ALICE, "iam-identity.apikey.delete", 5, "failure", alice_from_elsewhere()),
        by("acme", BOB, "kms.secrets.read", 7, "failure", json!({})),
        by("other", ALICE, "iam-identity.apikey.delete", 8, "failure", json!({})),
        by("other", ALICE, "kms.secrets.read", 0, "success", json!({})),
    ]
}

async fn server_with_accounts() -> (TestServer, String, String) {
    let server = TestServer::start().await;
    let mut readers = Vec::new();
    for account in ["acme", "other"] {
        let manager = server.admin().account_with_manager(account).await;
        let reader = manager.key("reader", None).await;
        readers.push(reader.key.clone().unwrap());
    }
    let events = alice_events();
    let (status, answer) = server.send(&events).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], events.len(), "{answer}");
    wait_count(&server, &readers[0], "initiator.id:===IBMid-bob", 1).await;
    wait_count(&server, &readers[1], "initiator.id:===IBMid-alice", 2).await;
    let acme = readers.remove(0);
    (server, acme, readers.remove(0))
}

/// Waits until `q` counts `expected` events for `key` (the index commits about once a second).
async fn wait_count(server: &TestServer, key: &str, q: &str, expected: u64) {
    let count =
        || async move { server.with_key(key).get_with("/v1/events/count", &[("q", q)]).await.1["count"].as_u64() };
    let count = poll(Duration::from_secs(20), Duration::from_millis(50), count, |count| *count == Some(expected)).await;
    assert_eq!(count, Some(expected), "{q}");
}

async fn timeline(server: &TestServer, key: &str, path: &str, params: &[(&str, &str)]) -> Value {
    let (status, answer) = server.with_key(key).get_with(path, params).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_timeline_groups_actions_failures_first_with_first_and_last_seen() {
    let (server, acme, _) = server_with_accounts().await;
    let answer = timeline(&server, &acme, "/v1/investigate/principal", &[("id", ALICE.0)]).await;
    assert_eq!((answer["total"].as_u64(), answer["failures"].as_u64()), (Some(7), Some(2)), "{answer}");
    assert_eq!(answer["first_seen"], "2026-11-20T10:01:00.000000000Z");
    assert_eq!(answer["last_seen"], "2026-11-20T10:09:00.000000000Z");
    let actions: Vec<(&str, &str, u64, u64, &str, &str)> = answer["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["service"].as_str().unwrap(),
                row["action"].as_str().unwrap(),
                row["count"].as_u64().unwrap(),
                row["failures"].as_u64().unwrap(),
                row["first_seen"].as_str().unwrap(),
                row["last_seen"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            (
                "iam-identity",
                "iam-identity.apikey.create",
                2,
                1,
                "2026-11-20T10:04:00.000000000Z",
                "2026-11-20T10:06:00.000000000Z"
            ),
            (
                "iam-identity",
                "iam-identity.apikey.delete",
                1,
                1,
                "2026-11-20T10:05:00.000000000Z",
                "2026-11-20T10:05:00.000000000Z"
            ),
            ("kms", "kms.secrets.read", 4, 0, "2026-11-20T10:01:00.000000000Z", "2026-11-20T10:09:00.000000000Z"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_named_by_name_lists_its_addresses_and_agents_with_search_queries() {
    let (server, acme, _) = server_with_accounts().await;
    let answer = timeline(&server, &acme, "/v1/investigate/principal", &[("id", ALICE.1)]).await;
    assert_eq!(answer["total"], 7, "{answer}");
    let values = |name: &str| -> Vec<(String, u64)> {
        answer[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| (row["value"].as_str().unwrap().to_string(), row["count"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(values("addresses"), [("192.0.2.1".to_string(), 5), ("198.51.100.7".to_string(), 2)]);
    assert_eq!(values("agents"), [("curl/8".to_string(), 5), ("acta-cli/1".to_string(), 2)]);
    // The answer's queries list exactly what it counted.
    let (status, count) =
        server.with_key(&acme).get_with("/v1/events/count", &[("q", answer["query"].as_str().unwrap())]).await;
    assert_eq!((status, count["count"].as_u64()), (200, Some(7)), "{count}");
    let failed = answer["failures_query"].as_str().unwrap();
    let (_, count) = server.with_key(&acme).get_with("/v1/events/count", &[("q", failed)]).await;
    assert_eq!(count["count"], 2, "{failed}");
    let read = answer["actions"][2]["query"].as_str().unwrap();
    let (_, count) = server.with_key(&acme).get_with("/v1/events/count", &[("q", read)]).await;
    assert_eq!(count["count"], 4, "{read}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_events_with_the_same_principal_are_never_counted() {
    let (server, acme, other) = server_with_accounts().await;
    let answer = timeline(&server, &other, "/v1/investigate/principal", &[("id", ALICE.0)]).await;
    assert_eq!((answer["total"].as_u64(), answer["failures"].as_u64()), (Some(2), Some(1)), "{answer}");
    assert_eq!(answer["first_seen"], "2026-11-20T10:00:00.000000000Z");
    let acme_answer = timeline(&server, &acme, "/v1/investigate/principal", &[("id", ALICE.0)]).await;
    assert_eq!(acme_answer["first_seen"], "2026-11-20T10:01:00.000000000Z", "{acme_answer}");
    // Naming the other account with acme's key is "not found", as for every read.
    let (status, _) =
        server.with_key(&acme).get_with("/v1/investigate/principal", &[("id", ALICE.0), ("account", "other")]).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_history_lists_who_did_what_oldest_first_a_page_at_a_time() {
    let (server, acme, _) = server_with_accounts().await;
    // Every event of alice_events has target t-1 (demo-key), named by its name here.
    let first = timeline(&server, &acme, "/v1/investigate/resource", &[("id", "demo-key"), ("limit", "5")]).await;
    assert_eq!(first["total"], 8, "{first}");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second =
        timeline(&server, &acme, "/v1/investigate/resource", &[("id", "demo-key"), ("limit", "5"), ("cursor", cursor)])
            .await;
    assert!(second["next_cursor"].is_null(), "{second}");
    let rows: Vec<Value> =
        first["events"].as_array().unwrap().iter().chain(second["events"].as_array().unwrap()).cloned().collect();
    let minutes: Vec<&str> = rows.iter().map(|row| &row["eventTime"].as_str().unwrap()[14..16]).collect();
    assert_eq!(minutes, ["01", "02", "03", "04", "05", "06", "07", "09"]);
    assert_eq!(rows[3]["initiator"], json!({"id": ALICE.0, "name": ALICE.1}));
    assert_eq!(
        (rows[3]["action"].as_str(), rows[3]["outcome"].as_str()),
        (Some("iam-identity.apikey.create"), Some("failure"))
    );
    assert_eq!(rows[6]["initiator"]["id"], BOB.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeline_without_an_id_or_with_a_bad_limit_is_refused_by_name() {
    let server = TestServer::start().await;
    for (path, params, code) in [
        ("/v1/investigate/principal", vec![], "invalid_id"),
        ("/v1/investigate/resource", vec![("id", " ")], "invalid_id"),
        ("/v1/investigate/resource", vec![("id", "x"), ("limit", "0")], "invalid_limit"),
        ("/v1/investigate/resource", vec![("id", "x"), ("cursor", "nonsense")], "invalid_cursor"),
        ("/v1/investigate/principal", vec![("id", "x"), ("from", "yesterday-ish")], "invalid_time"),
    ] {
        let (status, answer) = server.admin().get_with(path, &params).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some(code)), "{path} {params:?}: {answer}");
    }
}
