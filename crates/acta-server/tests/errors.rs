//! Malformed, oversized and unauthenticated requests of every endpoint get the right status and message, and
//! nothing already accepted is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, event};
use serde_json::{Value, json};

const READ_ENDPOINTS: [&str; 5] =
    ["/v1/events", "/v1/events/count", "/v1/events/tail", "/v1/events/export", "/v1/events/some-id"];

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_a_request_without_a_key() {
    let server = TestServer::start().await;
    for path in READ_ENDPOINTS {
        let (status, error) = error_of(server.http.get(format!("{}{path}", server.url)).send().await.unwrap()).await;
        assert_eq!((status, error["code"].as_str()), (401, Some("unauthorized")), "{path}");
        assert!(error["message"].as_str().unwrap().contains("Authorization"), "{path}: {error}");
    }
    let (status, _) = error_of(server.http.post(format!("{}/v1/events", server.url)).send().await.unwrap()).await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_a_wrong_key() {
    let server = TestServer::start().await;
    let wrong = "acta_0000000000000000_00000000000000000000000000000000_00000000";
    for path in READ_ENDPOINTS {
        let request = server.http.get(format!("{}{path}", server.url)).bearer_auth(wrong);
        let (status, error) = error_of(request.send().await.unwrap()).await;
        assert_eq!(status, 401, "{path}: {error}");
    }
    let request = server.http.post(format!("{}/v1/events", server.url)).bearer_auth("not the key");
    assert_eq!(error_of(request.send().await.unwrap()).await.0, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_needs_no_key() {
    let server = TestServer::start().await;
    let response = server.http.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_does_not_parse_is_400_with_its_column_on_every_reading_endpoint() {
    let server = TestServer::start().await;
    for path in ["/v1/events", "/v1/events/count", "/v1/events/tail", "/v1/events/export"] {
        let (status, error) =
            error_of(server.get(path).query(&[("q", "(action user-apikey")]).send().await.unwrap()).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(error["code"], "query_syntax", "{path}");
        assert_eq!(error["column"], 20, "{path}: {error}");
        assert!(error["message"].as_str().unwrap().contains("column 1"), "{error}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_time_names_the_parameter() {
    let server = TestServer::start().await;
    let (status, error) =
        error_of(server.get("/v1/events").query(&[("from", "yesterday")]).send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid_time")));
    assert!(error["message"].as_str().unwrap().starts_with("from:"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cursor_is_400() {
    let server = TestServer::start().await;
    let (status, error) =
        error_of(server.get("/v1/events").query(&[("cursor", "bm90IGEgY3Vyc29y")]).send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid_cursor")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_outside_1_to_1000_is_400() {
    let server = TestServer::start().await;
    for limit in ["0", "1001"] {
        let (status, error) = error_of(server.get("/v1/events").query(&[("limit", limit)]).send().await.unwrap()).await;
        assert_eq!((status, error["code"].as_str()), (400, Some("invalid_limit")), "{limit}");
    }
    let (status, _) = error_of(server.get("/v1/events").query(&[("limit", "many")]).send().await.unwrap()).await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_export_format_is_400() {
    let server = TestServer::start().await;
    let (status, error) =
        error_of(server.get("/v1/events/export").query(&[("format", "xml")]).send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid_format")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_event_is_404() {
    let server = TestServer::start().await;
    let (status, error) = error_of(server.get("/v1/events/no-such-event").send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (404, Some("not_found")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_400_and_names_the_problem() {
    let server = TestServer::start().await;
    let (status, answer) = server.send_raw("this is not json", "application/json").await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["code"], "invalid_body");
    assert!(answer["error"]["message"].as_str().unwrap().contains("not valid JSON"), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_10_mib_is_413_and_stores_nothing() {
    let server = TestServer::start().await;
    let line = format!("{}\n", event("svc.big.create", json!({})));
    let body = line.repeat(10 * 1024 * 1024 / line.len() + 10);
    let (status, _) = server.send_raw(body, "application/x-ndjson").await;
    assert_eq!(status, 413);
    assert_eq!(server.count("").await, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_event_is_rejected_alone_and_its_neighbours_are_stored() {
    let server = TestServer::start().await;
    let big = event("svc.big.create", json!({"message": "x".repeat(70 * 1024)}));
    let small = event("svc.small.create", json!({"id": "small"}));
    let (status, answer) = server.send(&[big, small]).await;
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["status"], "rejected");
    assert!(answer["results"][0]["errors"][0]["message"].as_str().unwrap().contains("65536"), "{answer}");
    assert_eq!(answer["results"][1]["status"], "stored");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_only_invalid_events_is_400_with_each_pointer() {
    let server = TestServer::start().await;
    let bad = json!([{"action": "svc.x.create", "outcome": "maybe", "eventTime": "yesterday",
                      "initiator": {"id": "u"}, "target": {"id": "t"}}]);
    let (status, answer) = server.send_raw(bad.to_string(), "application/json").await;
    assert_eq!(status, 400);
    let errors = &answer["results"][0]["errors"];
    let pointers: Vec<&str> = errors.as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, vec!["/outcome", "/eventTime"], "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_naming_a_member_twice_is_rejected_with_its_pointer_and_not_stored() {
    let server = TestServer::start().await;
    let twice = r#"{"id":"twice-1","action":"svc.x.delete","outcome":"success","eventTime":"2025-01-01T00:00:00Z",
                   "initiator":{"id":"u"},"target":{"id":"t"},"id":"twice-2"}"#;
    let (status, answer) = server.send_raw(format!("[{twice}]"), "application/json").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["results"][0]["errors"][0]["pointer"], "/id", "{answer}");
    for id in ["twice-1", "twice-2"] {
        assert_eq!(server.get(&format!("/v1/events/{id}")).send().await.unwrap().status().as_u16(), 404);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_answers_429_with_retry_after_when_the_index_is_behind() {
    let limits = acta_server::Limits { max_index_lag: 0, ..acta_server::Limits::default() };
    let server = TestServer::start_with(limits).await;
    let batch: Vec<Value> = (0..200).map(|i| event("svc.lag.create", json!({"id": format!("lag-{i}")}))).collect();
    let (status, _) = server.send(&batch).await;
    assert_eq!(status, 200);
    let response = server
        .post("/v1/events")
        .header("content-type", "application/x-ndjson")
        .body(format!("{}\n", event("svc.lag.create", json!({"id": "lag-late"}))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    server.wait_searchable(200).await;
    server.stop().await;
}
