//! Malformed, oversized and unauthenticated requests of every endpoint get the right status and message, and
//! nothing already accepted is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ADMIN_KEY, TestServer, event};
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

/// An error answer in the JSON error shape: `{"error": {"code", "message", "details"}}` with a JSON content type.
async fn json_error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|value| value.to_str().ok()).unwrap_or("").to_string();
    assert!(content_type.starts_with("application/json"), "{status} answered {content_type:?}, not JSON");
    let body: Value = response.json().await.expect("a JSON body");
    let error = body["error"].clone();
    assert!(error["code"].is_string() && error["message"].is_string() && error["details"].is_array(), "{body}");
    (status, error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413_in_the_json_error_shape() {
    let limits = acta_server::Limits { max_body_bytes: 1024, ..acta_server::Limits::default() };
    let server = TestServer::start_with(limits).await;
    let line = format!("{}\n", event("svc.big.create", json!({})));
    let request = server.post("/v1/events").header("content-type", "application/x-ndjson").body(line.repeat(20));
    let (status, error) = json_error_of(request.send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (413, Some("body_too_large")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("larger than this endpoint accepts"), "{error}");
    let request = server.post("/v1/views").json(&json!({"name": "big", "query": "x".repeat(2000)}));
    let (status, error) = json_error_of(request.send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (413, Some("body_too_large")), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_query_parameter_is_400_in_the_json_error_shape_naming_it() {
    let server = TestServer::start().await;
    for path in [
        "/v1/events/histogram?from=1h&from=2h",
        "/v1/events/terms?field=action&field=outcome",
        "/v1/integrity/checkpoints?day=2026-01-01&day=2026-01-02",
        "/v1/events?q=a&q=b",
    ] {
        let (status, error) = json_error_of(server.get(path).send().await.unwrap()).await;
        assert_eq!((status, error["code"].as_str()), (400, Some("invalid_parameter")), "{path}: {error}");
        assert!(error["message"].as_str().unwrap().contains("duplicate field"), "{path}: {error}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_query_parameter_is_400_in_the_json_error_shape() {
    let server = TestServer::start().await;
    let (status, error) =
        json_error_of(server.get("/v1/alerts/some-alert/history?limit=many").send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid_parameter")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("limit"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_the_route_does_not_have_is_405_in_the_json_error_shape_with_allow() {
    let server = TestServer::start().await;
    let response = server.http.delete(format!("{}/v1/events/count", server.url)).bearer_auth(ADMIN_KEY).send().await;
    let response = response.unwrap();
    let allow = response.headers().get("allow").and_then(|value| value.to_str().ok()).unwrap_or("").to_string();
    assert!(allow.contains("GET"), "allow: {allow:?}");
    let (status, error) = json_error_of(response).await;
    assert_eq!((status, error["code"].as_str()), (405, Some("method_not_allowed")));
    assert!(error["message"].as_str().unwrap().contains("DELETE"), "{error}");
    assert!(error["message"].as_str().unwrap().contains("Allow"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_route_under_v1_is_404_in_the_json_error_shape() {
    let server = TestServer::start().await;
    let (status, error) = json_error_of(server.get("/v1/no/such/route").send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (404, Some("not_found")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_the_json_content_type_is_415_in_the_json_error_shape() {
    let server = TestServer::start().await;
    let request = server.post("/v1/views").header("content-type", "text/plain").body(r#"{"name":"n","query":""}"#);
    let (status, error) = json_error_of(request.send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (415, Some("unsupported_media_type")));
    assert!(error["message"].as_str().unwrap().contains("application/json"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_syntax_error_in_a_body_is_400_in_the_json_error_shape_with_its_position() {
    let server = TestServer::start().await;
    let request = server.post("/v1/views").header("content-type", "application/json").body(r#"{"name": "n",}"#);
    let (status, error) = json_error_of(request.send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid_body")));
    assert!(error["message"].as_str().unwrap().contains("line 1 column"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_member_of_a_request_body_is_422_naming_it_on_every_resource() {
    let server = TestServer::start().await;
    let bodies = [
        ("/v1/accounts", json!({"name": "Acme", "colour": "red"})),
        ("/v1/instances", json!({"account": "default", "name": "eu", "region": "eu", "colour": "red"})),
        ("/v1/keys", json!({"name": "ci", "role": "reader", "colour": "red"})),
        ("/v1/views", json!({"name": "n", "query": "", "colour": "red"})),
        ("/v1/boards", json!({"name": "n", "colour": "red"})),
        ("/v1/session", json!({"key": ADMIN_KEY, "colour": "red"})),
    ];
    for (path, body) in bodies {
        let (status, error) = json_error_of(server.post(path).json(&body).send().await.unwrap()).await;
        assert_eq!((status, error["code"].as_str()), (422, Some("invalid_body")), "{path}: {error}");
        assert!(error["message"].as_str().unwrap().contains("unknown field `colour`"), "{path}: {error}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_account_is_refused_on_instance_creation() {
    let server = TestServer::start().await;
    let body = json!({"account": null, "name": "eu", "region": "eu"});
    let (status, error) = json_error_of(server.post("/v1/instances").json(&body).send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (422, Some("invalid_body")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("account"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_day_is_400_on_the_checkpoint_listing() {
    let server = TestServer::start().await;
    let (status, error) = json_error_of(server.get("/v1/integrity/checkpoints?day=").send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid_day")), "{error}");
    server.stop().await;
}
