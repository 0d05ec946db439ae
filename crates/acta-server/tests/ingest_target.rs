//! `POST /v1/events?instance=` (every event of the request into one instance) and the `X-Acta-Event-Ids`
//! header (ids for events whose bytes carry none), which `acta import` uses to put archived events back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{As, TestServer, account_with_manager, answer, event};
use serde_json::{Value, json};

impl As<'_> {
    /// A POST of JSON with the `X-Acta-Event-Ids` header when `ids` are given.
    async fn send(&self, path: &str, body: Value, ids: Option<&str>) -> (u16, Value) {
        let mut request = self.request(reqwest::Method::POST, path);
        if let Some(ids) = ids {
            request = request.header("x-acta-event-ids", ids);
        }
        answer(request.json(&body)).await
    }
}

/// An account with a manager key and a `us` instance in us-south; returns the manager and the instance.
async fn account<'a>(server: &'a TestServer, id: &str) -> (As<'a>, Value) {
    let manager = account_with_manager(server, id).await;
    let us = manager.create_instance(json!({"name": "us", "region": "us-south", "retention_days": 7})).await;
    (manager, us)
}

/// An event whose CRN names eu-de: routing alone would put it in the global instance.
fn eu_event(id: &str) -> Value {
    event("kms.secrets.create", json!({"id": id, "logSourceCRN": "crn:v1:bluemix:public:kms:eu-de:a/acme::"}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_parameter_stores_every_event_in_that_instance_whatever_its_region() {
    let server = TestServer::start().await;
    let (manager, us) = account(&server, "acme").await;
    let us_id = us["id"].as_str().unwrap();
    let (status, answer) = manager.post(&format!("/v1/events?instance={us_id}"), json!([eu_event("by-id")])).await;
    assert_eq!((status, answer["accepted"].clone()), (200, json!(1)), "{answer}");
    let (status, answer) = manager.post("/v1/events?instance=us", json!([eu_event("by-name")])).await;
    assert_eq!((status, answer["accepted"].clone()), (200, json!(1)), "{answer}");
    let (status, answer) = manager.post("/v1/events", json!([eu_event("routed")])).await;
    assert_eq!((status, answer["accepted"].clone()), (200, json!(1)), "{answer}");
    assert_eq!(manager.event("by-id").await["_acta"]["instance"], us["id"]);
    assert_eq!(manager.event("by-name").await["_acta"]["instance"], us["id"], "an instance is named by id or name");
    assert_ne!(manager.event("routed").await["_acta"]["instance"], us["id"], "without it, the region routes");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_admin_names_an_instance_of_any_account() {
    let server = TestServer::start().await;
    let (manager, us) = account(&server, "acme").await;
    let us_id = us["id"].as_str().unwrap();
    let (status, answer) = server.admin().post(&format!("/v1/events?instance={us_id}"), json!([eu_event("a1")])).await;
    assert_eq!((status, answer["accepted"].clone()), (200, json!(1)), "{answer}");
    let stored = manager.event("a1").await;
    assert_eq!(
        (stored["_acta"]["instance"].clone(), stored["_acta"]["account"].clone()),
        (us["id"].clone(), json!("acme"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_instance_is_not_found_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let (manager, _) = account(&server, "acme").await;
    let (status, answer) = manager.post("/v1/events?instance=nowhere", json!([eu_event("lost")])).await;
    assert_eq!((status, answer["error"]["code"].clone()), (404, json!("not_found")), "{answer}");
    let (status, answer) = server.admin().post("/v1/events?instance=nowhere", json!([eu_event("lost")])).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(manager.get("/v1/events/lost").await.0, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_instance_is_not_found() {
    let server = TestServer::start().await;
    let (acme, _) = account(&server, "acme").await;
    let (globex, globex_us) = account(&server, "globex").await;
    let path = format!("/v1/events?instance={}", globex_us["id"].as_str().unwrap());
    let (status, answer) = acme.post(&path, json!([eu_event("crossing")])).await;
    assert_eq!((status, answer["error"]["code"].clone()), (404, json!("not_found")), "{answer}");
    let (status, answer) = acme.post(&format!("{path}&account=globex"), json!([eu_event("crossing")])).await;
    assert_eq!(status, 404, "naming the other account does not help: {answer}");
    assert_eq!(globex.get("/v1/events/crossing").await.0, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_key_narrowed_to_another_instance_is_refused() {
    let server = TestServer::start().await;
    let (manager, us) = account(&server, "acme").await;
    let us_id = us["id"].as_str().unwrap();
    let (_, instances) = manager.get("/v1/instances").await;
    let global = instances["instances"]
        .as_array()
        .or(instances.as_array())
        .unwrap()
        .iter()
        .find(|instance| instance["global"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let narrowed = manager.key("ingest", Some(us_id)).await;
    let (status, answer) = narrowed.post(&format!("/v1/events?instance={global}"), json!([eu_event("n1")])).await;
    assert_eq!((status, answer["error"]["code"].clone()), (403, json!("forbidden")), "{answer}");
    let (status, answer) = narrowed.post(&format!("/v1/events?instance={us_id}"), json!([eu_event("n2")])).await;
    assert_eq!((status, answer["accepted"].clone()), (200, json!(1)), "its own instance: {answer}");
    assert_eq!(manager.get("/v1/events/n1").await.0, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_into_an_instance_needs_a_valid_key_with_the_ingest_role() {
    let server = TestServer::start().await;
    let (manager, us) = account(&server, "acme").await;
    let path = format!("/v1/events?instance={}", us["id"].as_str().unwrap());
    let nobody = server.with_key("not-a-key");
    let (status, answer) = nobody.post(&path, json!([eu_event("x1")])).await;
    assert_eq!(status, 401, "{answer}");
    let reader = manager.key("reader", None).await;
    let (status, answer) = reader.post(&path, json!([eu_event("x2")])).await;
    assert_eq!((status, answer["error"]["code"].clone()), (403, json!("forbidden")), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_ids_name_only_the_events_without_an_id_of_their_own() {
    let server = TestServer::start().await;
    let (manager, _) = account(&server, "acme").await;
    let mut anonymous = eu_event("");
    anonymous.as_object_mut().unwrap().remove("id");
    let body = json!([anonymous, eu_event("own"), anonymous]);
    let (status, answer) = manager.send("/v1/events", body.clone(), Some("given-1,given-2,")).await;
    assert_eq!(status, 200, "{answer}");
    let ids: Vec<Value> = answer["results"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids[..2], [json!("given-1"), json!("own")], "an event's own id wins: {answer}");
    assert!(ids[2].as_str().is_some_and(|id| id.len() == 36), "an empty entry gives none: Acta assigns one");
    let stored = manager.event("given-1").await;
    assert!(stored.get("id").is_none(), "the bytes are unchanged: no id was written into the event: {stored}");
    let (status, again) = manager.send("/v1/events", json!([anonymous]), Some("given-1")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["results"][0]["status"], "duplicate", "the same given id is a duplicate: {again}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_event_ids_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let (manager, _) = account(&server, "acme").await;
    let two = json!([eu_event("m1"), eu_event("m2")]);
    let long = "x".repeat(129);
    for ids in ["only-one", "a,b,c", &format!("a,{long}"), "a,b c"] {
        let (status, answer) = manager.send("/v1/events", two.clone(), Some(ids)).await;
        assert_eq!((status, answer["error"]["code"].clone()), (400, json!("invalid_event_ids")), "{ids}: {answer}");
    }
    assert_eq!(manager.get("/v1/events/m1").await.0, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_admin_names_an_instance_shared_by_several_accounts_by_id_or_with_its_account() {
    let server = TestServer::start().await;
    let (acme, acme_us) = account(&server, "acme").await;
    account(&server, "globex").await;
    let (status, answer) = server.admin().post("/v1/events?instance=us", json!([eu_event("amb")])).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!("ambiguous_instance")), "{answer}");
    let (status, answer) = server.admin().post("/v1/events?instance=us&account=acme", json!([eu_event("amb")])).await;
    assert_eq!((status, answer["accepted"].clone()), (200, json!(1)), "{answer}");
    assert_eq!(acme.event("amb").await["_acta"]["instance"], acme_us["id"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_searchable_answers_once_a_search_finds_the_stored_events() {
    let server = TestServer::start().await;
    let (manager, _) = account(&server, "acme").await;
    // The index commits about once a second: without the wait, a count right after the answer finds nothing.
    for round in 0..3 {
        let id = format!("waited-{round}");
        let (status, answer) = manager.post("/v1/events?wait=searchable", json!([eu_event(&id)])).await;
        assert_eq!((status, answer["searchable"].clone()), (200, json!(true)), "{answer}");
        let (status, count) = manager.get(&format!("/v1/events/count?q=id:=={id}")).await;
        assert_eq!((status, count["count"].clone()), (200, json!(1)), "round {round}: {count}");
    }
    let (_, plain) = manager.post("/v1/events", json!([eu_event("not-waited")])).await;
    assert_eq!(plain.get("searchable"), None, "only a waiting request says whether it is searchable: {plain}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_wait_or_a_timeout_out_of_range_is_refused_before_anything_is_stored() {
    let server = TestServer::start().await;
    let (manager, _) = account(&server, "acme").await;
    for (query, message) in [
        ("wait=indexed", "wait takes one value: searchable"),
        ("wait=searchable&wait_timeout=0", "wait_timeout is a number of seconds from 1 to 60"),
        ("wait=searchable&wait_timeout=61", "wait_timeout is a number of seconds from 1 to 60"),
        ("wait_timeout=5", "wait_timeout is for wait=searchable; give both or neither"),
    ] {
        let (status, answer) = manager.post(&format!("/v1/events?{query}"), json!([eu_event("refused")])).await;
        assert_eq!(
            (status, answer["error"]["code"].clone(), answer["error"]["message"].clone()),
            (400, json!("invalid_wait"), json!(message)),
            "{query}: {answer}"
        );
    }
    let (_, waited) = manager.post("/v1/events?wait=searchable", json!([eu_event("accepted")])).await;
    assert_eq!(waited["searchable"], true, "{waited}");
    let stored = manager.search("action:kms.secrets.create", 0).await;
    assert_eq!(common::ids(&stored), ["accepted"], "nothing of a refused request is stored");
    server.stop().await;
}
