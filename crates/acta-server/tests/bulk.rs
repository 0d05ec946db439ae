//! `POST /_bulk` and `POST /{index}/_bulk`: the Elasticsearch bulk format that log shippers speak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine;
use common::{TestServer, event};
use serde_json::{Value, json};

/// Sends an NDJSON bulk body with a key; returns the status and the answer.
async fn bulk(server: &TestServer, key: &str, path: &str, lines: &[Value]) -> (u16, Value) {
    server.with_key(key).ndjson(path, lines).await
}

async fn bulk_raw(server: &TestServer, key: &str, path: &str, body: String) -> (u16, Value) {
    server.with_key(key).send_raw(path, body, "application/x-ndjson").await
}

/// An account with a writer key and a `us` instance; returns the key and the instance id.
async fn account(server: &TestServer, id: &str) -> (String, String) {
    let admin = server.admin();
    admin.create_account(id).await;
    let body = json!({"account": id, "name": "writer", "role": "writer", "principal": format!("w@{id}")});
    let key = admin.new_key(body).await.key.unwrap();
    let instance = json!({"account": id, "name": "us", "region": "us-south", "retention_days": 7});
    let us = admin.create_instance(instance).await["id"].as_str().unwrap().to_string();
    (key, us)
}

fn kms(id: Option<&str>) -> Value {
    let mut extra = json!({"logSourceCRN": "crn:v1:bluemix:public:kms:us-south:a/acme::"});
    if let Some(id) = id {
        extra["id"] = json!(id);
    }
    event("kms.secrets.create", extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_index_actions_store_each_event_and_answer_in_elasticsearch_shape() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let lines = [json!({"index": {}}), kms(Some("b-1")), json!({"create": {}}), kms(Some("b-2"))];
    let (status, answer) = bulk(&server, &key, "/_bulk", &lines).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"], json!(false), "{answer}");
    assert_eq!(answer["items"][0]["index"]["status"], json!(201));
    assert_eq!(answer["items"][0]["index"]["result"], json!("created"));
    assert_eq!(answer["items"][1]["create"]["_id"], json!("b-2"));
    assert_eq!(server.with_key(&key).event("b-1").await["action"], json!("kms.secrets.create"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_document_keeps_its_bytes_exactly() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    // Members in an unusual order and spacing: a re-serialized event would differ.
    let document = r#"{"outcome": "success","id":"exact-1",  "action":"kms.secrets.read","eventTime":"2026-11-20T10:00:00Z","initiator":{"id":"u"},"target":{"id":"t"}}"#;
    let body = format!("{{\"create\":{{}}}}\n{document}\n");
    let (status, answer) = bulk_raw(&server, &key, "/_bulk", body).await;
    assert_eq!((status, answer["errors"].clone()), (200, json!(false)), "{answer}");
    server.with_key(&key).event("exact-1").await;
    // The proof carries the log record, whose payload ends with the event's bytes as received.
    let (status, proof) = server.with_key(&key).get("/v1/events/exact-1/proof").await;
    assert_eq!(status, 200, "{proof}");
    let record = base64::engine::general_purpose::STANDARD.decode(proof["record"].as_str().unwrap()).unwrap();
    assert!(record.ends_with(document.as_bytes()), "the record ends with the document's exact bytes");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_bulk_is_a_conflict_for_create_and_a_noop_for_index() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let lines = [json!({"create": {}}), kms(Some("again-1")), json!({"index": {}}), kms(Some("again-2"))];
    assert_eq!(bulk(&server, &key, "/_bulk", &lines).await.1["errors"], json!(false));
    let (status, answer) = bulk(&server, &key, "/_bulk", &lines).await;
    assert_eq!(status, 200);
    assert_eq!(answer["errors"], json!(true), "a create of a stored id is an error, as in Elasticsearch");
    assert_eq!(answer["items"][0]["create"]["status"], json!(409));
    assert_eq!(answer["items"][0]["create"]["error"]["type"], json!("version_conflict_engine_exception"));
    assert_eq!(answer["items"][1]["index"]["status"], json!(200));
    assert_eq!(answer["items"][1]["index"]["result"], json!("noop"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_id_names_an_event_without_one_so_a_retry_is_not_a_second_copy() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let lines = [json!({"index": {"_id": "shipper-7"}}), kms(None)];
    let (_, first) = bulk(&server, &key, "/_bulk", &lines).await;
    assert_eq!(first["items"][0]["index"]["_id"], json!("shipper-7"), "{first}");
    let (_, retry) = bulk(&server, &key, "/_bulk", &lines).await;
    assert_eq!(retry["items"][0]["index"]["result"], json!("noop"), "{retry}");
    // Wait until the index has the event, then there must be exactly one.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let count = loop {
        let (_, answer) = server.with_key(&key).get("/v1/events/count?q=kms.secrets.create").await;
        let count = answer["count"].as_u64().unwrap();
        if count > 0 || std::time::Instant::now() > deadline {
            break count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(count, 1, "one copy");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_names_the_instance_events_go_to() {
    let server = TestServer::start().await;
    let (key, us) = account(&server, "acme").await;
    // The CRN says eu-de: routing alone would not pick `us`.
    let eu =
        event("kms.secrets.create", json!({"id": "to-us", "logSourceCRN": "crn:v1:bluemix:public:kms:eu-de:a/acme::"}));
    let (_, answer) = bulk(&server, &key, "/us/_bulk", &[json!({"index": {}}), eu]).await;
    assert_eq!(answer["items"][0]["index"]["_index"], json!("us"), "{answer}");
    assert_eq!(server.with_key(&key).event("to-us").await["_acta"]["instance"], json!(us));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_index_fails_its_items_and_stores_nothing_of_them() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let lines = [json!({"index": {"_index": "nowhere"}}), kms(Some("lost")), json!({"index": {}}), kms(Some("kept"))];
    let (status, answer) = bulk(&server, &key, "/_bulk", &lines).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["items"][0]["index"]["status"], json!(404));
    assert_eq!(answer["items"][0]["index"]["error"]["type"], json!("index_not_found_exception"));
    assert_eq!(answer["items"][1]["index"]["status"], json!(201));
    server.with_key(&key).event("kept").await;
    assert_eq!(server.with_key(&key).get("/v1/events/lost").await.0, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_instance_is_not_found_through_bulk() {
    let server = TestServer::start().await;
    let (acme, _) = account(&server, "acme").await;
    let (globex, globex_us) = account(&server, "globex").await;
    let (_, answer) =
        bulk(&server, &acme, &format!("/{globex_us}/_bulk"), &[json!({"index": {}}), kms(Some("x"))]).await;
    assert_eq!(answer["items"][0]["index"]["status"], json!(404), "{answer}");
    assert_eq!(server.with_key(&globex).get("/v1/events/x").await.0, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_document_fails_alone_with_its_reason() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let lines = [json!({"index": {}}), json!({"action": "x"}), json!({"index": {}}), kms(Some("good"))];
    let (status, answer) = bulk(&server, &key, "/_bulk", &lines).await;
    assert_eq!((status, answer["errors"].clone()), (200, json!(true)), "{answer}");
    assert_eq!(answer["items"][0]["index"]["status"], json!(400));
    let reason = answer["items"][0]["index"]["error"]["reason"].as_str().unwrap();
    assert!(reason.contains("/outcome"), "the reason names the missing member: {reason}");
    assert_eq!(answer["items"][1]["index"]["status"], json!(201));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_and_delete_actions_are_refused_because_events_never_change() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    assert_eq!(bulk(&server, &key, "/_bulk", &[json!({"create": {}}), kms(Some("keep-me"))]).await.0, 200);
    let lines = [
        json!({"update": {"_id": "keep-me"}}),
        json!({"doc": {"outcome": "failure"}}),
        json!({"delete": {"_id": "keep-me"}}),
    ];
    let (status, answer) = bulk(&server, &key, "/_bulk", &lines).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["items"][0]["update"]["status"], json!(400));
    assert_eq!(answer["items"][1]["delete"]["status"], json!(400));
    assert_eq!(server.with_key(&key).event("keep-me").await["outcome"], json!("success"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_action_line_refuses_the_whole_request() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let body = format!("{{\"create\":{{}}}}\n{}\nnot json\n", kms(Some("first")));
    let (status, answer) = bulk_raw(&server, &key, "/_bulk", body).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!("invalid_bulk")), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().starts_with("line 3:"), "{answer}");
    let (status, answer) = bulk(&server, &key, "/_bulk", &[json!({"create": {}})]).await;
    assert_eq!(status, 400, "an action without its document: {answer}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.with_key(&key).get("/v1/events/first").await.0, 404, "nothing of a refused request is stored");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_bulk_body_is_refused() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let (status, answer) = bulk_raw(&server, &key, "/_bulk", "\n\n".into()).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!("invalid_bulk")), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_needs_a_key_that_may_ingest() {
    let server = TestServer::start().await;
    let (_, _) = account(&server, "acme").await;
    let lines = [json!({"create": {}}), kms(Some("nope"))];
    assert_eq!(
        bulk(&server, "acta_0000000000000000_00000000000000000000000000000000_00000000", "/_bulk", &lines).await.0,
        401
    );
    let body = json!({"account": "acme", "name": "reader", "role": "reader", "principal": "r@acme"});
    let reader = server.admin().new_key(body).await.key.unwrap();
    assert_eq!(bulk(&server, &reader, "/_bulk", &lines).await.0, 403);
    let response = server.http.post(format!("{}/_bulk", server.url)).body("{}").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_bulk_body_is_refused_whole() {
    let server = TestServer::start_with(acta_server::Limits { max_body_bytes: 4096, ..Default::default() }).await;
    let (key, _) = account(&server, "acme").await;
    let mut lines = Vec::new();
    for n in 0..40 {
        lines.push(json!({"create": {}}));
        lines.push(kms(Some(&format!("big-{n}"))));
    }
    let (status, _) = bulk(&server, &key, "/_bulk", &lines).await;
    assert_eq!(status, 413);
    assert_eq!(server.with_key(&key).get("/v1/events/big-0").await.0, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shipper_may_send_the_key_as_the_basic_auth_password() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let body = format!("{{\"create\":{{}}}}\n{}\n", kms(Some("basic-1")));
    let send = |user: &str, password: &str| {
        server
            .http
            .post(format!("{}/_bulk", server.url))
            .basic_auth(user, Some(password))
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
    };
    assert_eq!(send("fluent-bit", "not-a-key").await.unwrap().status().as_u16(), 401);
    let answer: Value = send("fluent-bit", &key).await.unwrap().json().await.unwrap();
    assert_eq!(answer["items"][0]["create"]["status"], json!(201), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_sent_with_put_is_taken_as_with_post() {
    let server = TestServer::start().await;
    let (key, us) = account(&server, "acme").await;
    for (path, id) in [("/_bulk".to_string(), "put-1"), (format!("/{us}/_bulk"), "put-2")] {
        let body = format!("{{\"create\":{{}}}}\n{}\n", kms(Some(id)));
        let request = server.with_key(&key).request(reqwest::Method::PUT, &path);
        let response = request.header("content-type", "application/x-ndjson").body(body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["items"][0]["create"]["status"], json!(201), "{path}: {answer}");
    }
    server.with_key(&key).event("put-2").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_answers_name_the_product_elasticsearch_clients_require() {
    let server = TestServer::start().await;
    let (key, _) = account(&server, "acme").await;
    let send = |body: String| {
        server
            .with_key(&key)
            .request(reqwest::Method::POST, "/_bulk")
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
    };
    let stored = send(format!("{{\"index\":{{}}}}\n{}\n", kms(Some("p-1")))).await.unwrap();
    let malformed = send("not an action\n".to_string()).await.unwrap();
    assert_eq!((stored.status().as_u16(), malformed.status().as_u16()), (200, 400));
    for response in [stored, malformed] {
        assert_eq!(response.headers()["x-elastic-product"], "Elasticsearch");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_asked_for_json_is_the_info_document_elasticsearch_clients_read() {
    let server = TestServer::start().await;
    let asks: [&[(&str, &str)]; 3] = [
        &[("accept", "application/json")],
        &[("accept", "application/vnd.elasticsearch+json; compatible-with=8")],
        &[("content-type", "application/json")],
    ];
    for headers in asks {
        let mut request = server.http.get(format!("{}/", server.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["x-elastic-product"], "Elasticsearch", "{headers:?}");
        let info: Value = response.json().await.unwrap();
        assert_eq!(info["version"]["number"], json!("8.0.0"), "{info}");
        assert_eq!(info["version"]["acta"], json!(env!("CARGO_PKG_VERSION")), "{info}");
    }
    // A request without Accept (HTTP clients of shippers; reqwest always sends one, so this one is written out).
    let address = server.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = "GET / HTTP/1.1\r\nHost: acta\r\nConnection: close\r\n\r\n";
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await.unwrap();
    assert!(answer.to_ascii_lowercase().contains("x-elastic-product: elasticsearch"), "{answer}");
    assert!(answer.contains("\"number\":\"8.0.0\""), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_asked_for_by_a_browser_or_curl_is_still_the_console() {
    let server = TestServer::start().await;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for accept in [browser, "*/*"] {
        let response = server.http.get(format!("{}/", server.url)).header("accept", accept).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8", "{accept:?}");
        assert!(response.text().await.unwrap().contains("<!doctype html>"), "{accept:?}");
    }
    server.stop().await;
}
