//! Many accounts share each index partition; a key still reaches only its own account's events, whatever its
//! query says and whichever read it uses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestServer, event, poll};
use serde_json::{Value, json};

const ACCOUNTS: usize = 30;
const EVENTS_PER_ACCOUNT: usize = 6;

/// Queries that try to step outside the key's account.
const ESCAPES: [&str; 10] = [
    "",
    "_account:t-01",
    "_account:*",
    "_account:t*",
    "kms OR _account:t-01",
    "-_account:t-00",
    "NOT _account:t-00",
    "_instance:* OR -_instance:*",
    "secret OR NOT secret",
    "logSourceCRN:*",
];

/// An account with a reader key; returns the key.
async fn account_with_reader(server: &TestServer, id: &str) -> String {
    let admin = server.admin();
    admin.create_account(id).await;
    let body = json!({"account": id, "name": "reader", "role": "reader", "principal": format!("auditor@{id}")});
    admin.new_key(body).await.key.unwrap()
}

async fn get_as(server: &TestServer, key: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let response = server.with_key(key).request(reqwest::Method::GET, path).query(params).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The accounts, each with its events (`secret <account>` in the message, in its global and eu-de instances),
/// and their reader keys.
async fn tenants(server: &TestServer) -> Vec<(String, String)> {
    let mut tenants = Vec::new();
    for n in 0..ACCOUNTS {
        let id = format!("t-{n:02}");
        let key = account_with_reader(server, &id).await;
        let body = json!({"account": id, "name": "eu", "region": "eu-de"});
        server.admin().create_instance(body).await;
        let (status, answer) = server.send(&account_events(&id)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["accepted"], EVENTS_PER_ACCOUNT, "{answer}");
        tenants.push((id, key));
    }
    tenants
}

/// An account's events, half in its global instance and half in eu-de.
fn account_events(id: &str) -> Vec<Value> {
    (0..EVENTS_PER_ACCOUNT)
        .map(|i| {
            let region = if i % 2 == 0 { "eu-de" } else { "global" };
            event(
                "kms.secrets.read",
                json!({"id": format!("{id}-{i}"), "message": format!("secret {id}"),
                       "logSourceCRN": format!("crn:v1:bluemix:public:kms:{region}:a/{id}::")}),
            )
        })
        .collect()
}

/// Waits until every account's events are searchable with its own key, with the audit event of the key's
/// first use (its login, written before the first answer and indexed after it), so that no later read
/// finds an event an earlier one did not.
async fn wait_all_searchable(server: &TestServer, tenants: &[(String, String)]) {
    for (q, expected) in [("kms", EVENTS_PER_ACCOUNT), ("action:iam-identity.user-apikey.login", 1)] {
        for (id, key) in tenants {
            let count = || async move { get_as(server, key, "/v1/events/count", &[("q", q)]).await };
            let (_, body) = poll(Duration::from_secs(20), Duration::from_millis(50), count, |(_, body)| {
                serde_json::from_str::<Value>(body).unwrap()["count"] == expected
            })
            .await;
            let count: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(count["count"], expected, "{id}: {q}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_query_reaches_another_accounts_events_in_a_shared_partition() {
    let server = TestServer::start().await;
    let tenants = tenants(&server).await;
    wait_all_searchable(&server, &tenants).await;
    for (id, key) in &tenants {
        for q in ESCAPES {
            let (status, body) = get_as(&server, key, "/v1/events", &[("q", q), ("limit", "1000")]).await;
            assert_eq!(status, 200, "{q}: {body}");
            let answer: Value = serde_json::from_str(&body).unwrap();
            let events = answer["events"].as_array().unwrap();
            for found in events {
                assert_eq!(found["_acta"]["account"], id.as_str(), "{id} searched {q:?} and saw {found}");
            }
            let (_, body) = get_as(&server, key, "/v1/events/count", &[("q", q)]).await;
            let count: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(count["count"].as_u64(), Some(events.len() as u64), "{id}: count of {q:?}");
            let (_, body) = get_as(&server, key, "/v1/events/export", &[("q", q), ("format", "ndjson")]).await;
            for line in body.lines() {
                assert!(line.contains(&format!("secret {id}")) || !line.contains("secret t-"), "{id} exported {line}");
            }
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregations_by_account_and_instance_see_only_the_keys_account() {
    let server = TestServer::start().await;
    let tenants = tenants(&server).await;
    wait_all_searchable(&server, &tenants).await;
    for (id, key) in tenants.iter().take(5) {
        let (status, body) =
            get_as(&server, key, "/v1/events/terms", &[("field", "_account"), ("q", "_account:*"), ("from", "30d")])
                .await;
        assert_eq!(status, 200, "{body}");
        let terms: Value = serde_json::from_str(&body).unwrap();
        let values = terms["values"].as_array().unwrap();
        assert_eq!(values.len(), 1, "{id}: {terms}");
        assert_eq!(values[0]["value"], id.as_str(), "{id}: {terms}");

        let (status, body) =
            get_as(&server, key, "/v1/events/terms", &[("field", "_instance"), ("q", "kms"), ("from", "30d")]).await;
        assert_eq!(status, 200, "{body}");
        let terms: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(terms["values"].as_array().unwrap().len(), 2, "{id}: global and eu-de: {terms}");
        assert_eq!(terms["count"], EVENTS_PER_ACCOUNT, "{id}: {terms}");

        // Another account named in a top-level OR adds nothing.
        let params = [("q", "kms OR _account:t-29"), ("by", "_region"), ("from", "30d")];
        let (status, body) = get_as(&server, key, "/v1/events/histogram", &params).await;
        assert_eq!(status, 200, "{body}");
        let histogram: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(histogram["count"], EVENTS_PER_ACCOUNT, "{id}: {histogram}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_ids_are_per_account_in_a_shared_partition() {
    let server = TestServer::start().await;
    let tenants = tenants(&server).await;
    wait_all_searchable(&server, &tenants).await;
    // t-01's ids sent again for t-02: stored, since another account's ids are not duplicates.
    let events: Vec<Value> = (0..EVENTS_PER_ACCOUNT)
        .map(|i| {
            event(
                "kms.secrets.read",
                json!({"id": format!("t-01-{i}"), "logSourceCRN": "crn:v1:bluemix:public:kms:global:a/t-02::"}),
            )
        })
        .collect();
    let (status, answer) = server.send(&events).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], EVENTS_PER_ACCOUNT, "{answer}");
    // t-01's own events sent again for t-01: all duplicates.
    let again = account_events("t-01");
    let (status, answer) = server.send(&again).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["duplicates"], EVENTS_PER_ACCOUNT, "{answer}");
    server.stop().await;
}
