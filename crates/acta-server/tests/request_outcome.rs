//! An id names one event, unless its content differs: keystonemiddleware sends an API call's request
//! (`outcome: pending`) and its response with the same CADF `id`, and both must be kept, or the outcome of every
//! audited OpenStack call is lost. The samples are the request and response published in OpenStack Octavia's
//! audit documentation (`crates/acta-cadf/tests/samples/keystonemiddleware/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use serde_json::{Value, json};

const REQUEST: &str = include_str!("../../acta-cadf/tests/samples/keystonemiddleware/octavia-request.json");
const RESPONSE: &str = include_str!("../../acta-cadf/tests/samples/keystonemiddleware/octavia-response.json");
const CALL_ID: &str = "8cf14af5-246e-5739-a11e-513ca13b7d36";

/// An account with a writer key; returns the key.
async fn writer(server: &TestServer, account: &str) -> String {
    let admin = server.admin();
    admin.create_account(account).await;
    let body = json!({"account": account, "name": "writer", "role": "writer", "principal": format!("w@{account}")});
    admin.new_key(body).await.key.unwrap()
}

async fn send(server: &TestServer, key: &str, body: &str) -> Value {
    let (status, answer) = server.with_key(key).send_raw("/v1/events", body.to_string(), "application/json").await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_sharing_its_requests_id_is_stored_and_says_its_id_is_reused() {
    let server = TestServer::start().await;
    let key = writer(&server, "openstack").await;
    let request = send(&server, &key, REQUEST).await;
    assert_eq!(request["results"][0], json!({"index": 0, "status": "stored", "id": CALL_ID}));
    let response = send(&server, &key, RESPONSE).await;
    assert_eq!(response["results"][0], json!({"index": 0, "status": "stored", "id": CALL_ID, "id_reused": true}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outcome_of_an_audited_openstack_call_is_searchable() {
    let server = TestServer::start().await;
    let key = writer(&server, "openstack").await;
    send(&server, &key, REQUEST).await;
    send(&server, &key, RESPONSE).await;
    let reader = server.with_key(&key);
    let found = reader.search(r#"outcome:success requestPath:"/load-balancer/v2.0/lbaas/loadbalancers""#, 1).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["reason"]["reasonCode"], json!("200"));
    let pair = reader.search(&format!(r#"id:"{CALL_ID}""#), 2).await;
    let outcomes: Vec<&Value> = pair.iter().map(|event| &event["outcome"]).collect();
    assert_eq!(outcomes, [&json!("success"), &json!("pending")], "the request and its outcome, newest first");
    assert!(pair.iter().all(|event| event["_acta"]["id_reused"] == json!(true)), "{pair:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_by_id_is_the_newest_of_those_sharing_it() {
    let server = TestServer::start().await;
    let key = writer(&server, "openstack").await;
    send(&server, &key, REQUEST).await;
    send(&server, &key, RESPONSE).await;
    let reader = server.with_key(&key);
    reader.search(&format!(r#"id:"{CALL_ID}""#), 2).await;
    let event = reader.event(CALL_ID).await;
    assert_eq!(event["outcome"], json!("success"));
    assert_eq!(event["_acta"]["id_reused"], json!(true));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pair_sent_again_is_two_duplicates_and_nothing_more_is_stored() {
    let server = TestServer::start().await;
    let key = writer(&server, "openstack").await;
    send(&server, &key, REQUEST).await;
    send(&server, &key, RESPONSE).await;
    server.with_key(&key).search(&format!(r#"id:"{CALL_ID}""#), 2).await;
    for body in [REQUEST, RESPONSE] {
        let again = send(&server, &key, body).await;
        assert_eq!(again["results"][0], json!({"index": 0, "status": "duplicate", "id": CALL_ID}));
    }
    let (_, count) = server.with_key(&key).get_with("/v1/events/count", &[("q", &format!(r#"id:"{CALL_ID}""#))]).await;
    assert_eq!(count["count"], json!(2));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_alone_with_its_id_says_nothing_of_reuse() {
    let server = TestServer::start().await;
    let key = writer(&server, "openstack").await;
    let answer = send(&server, &key, REQUEST).await;
    assert!(answer["results"][0].get("id_reused").is_none(), "{answer}");
    let event = server.with_key(&key).event(CALL_ID).await;
    assert!(event["_acta"].get("id_reused").is_none(), "{event}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_id_in_another_account_is_not_a_reuse() {
    let server = TestServer::start().await;
    let first = writer(&server, "openstack").await;
    let second = writer(&server, "other").await;
    send(&server, &first, REQUEST).await;
    let answer = send(&server, &second, RESPONSE).await;
    assert_eq!(answer["results"][0], json!({"index": 0, "status": "stored", "id": CALL_ID}));
    let event = server.with_key(&second).event(CALL_ID).await;
    assert!(event["_acta"].get("id_reused").is_none(), "{event}");
    server.stop().await;
}
