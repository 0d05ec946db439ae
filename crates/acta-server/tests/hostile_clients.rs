//! Hostile clients meet the server's limits (docs/limits.md): each test is one behaviour, on 127.0.0.1 only,
//! bounded in time by the limits it sets (seconds), never asserting how fast anything is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use acta_server::Limits;
use common::{TestServer, account_with_manager, event};
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn address(server: &TestServer) -> std::net::SocketAddr {
    server.running.as_ref().expect("running").addr
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let server =
        TestServer::start_with(Limits { header_read_timeout: Duration::from_secs(1), ..Limits::default() }).await;
    let mut slow = tokio::net::TcpStream::connect(address(&server)).await.unwrap();
    // A request head without its final empty line, then nothing more.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n").await.unwrap();
    let mut buffer = [0u8; 256];
    // Generous bound: the server closes after 1 s; the test only must not hang if it did not.
    let read = tokio::time::timeout(Duration::from_secs(30), slow.read(&mut buffer))
        .await
        .expect("the server kept a connection whose headers never ended");
    assert!(matches!(read, Ok(0) | Err(_)), "the server answered instead of closing: {read:?}");
    // The server still serves others.
    let (status, _) = server.anonymous().get("/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_another_key_is_unaffected() {
    let server =
        TestServer::start_with(Limits { key_rate_per_second: 1, key_rate_burst: 10, ..Limits::default() }).await;
    let manager = account_with_manager(&server, "acme").await;
    let reader = manager.key("reader", None).await;
    let mut refused = None;
    for _ in 0..30 {
        let response = manager.request(Method::GET, "/v1/instances").send().await.unwrap();
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), 200);
    }
    let refused = refused.expect("30 requests at once, a burst of 10 and 1 a second: some must be refused");
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // The other key of the same account has its own bucket.
    let (status, answer) = reader.get("/v1/instances").await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_body_larger_than_the_in_flight_bound_is_refused_while_others_proceed() {
    let budget = 64 * 1024;
    let server = TestServer::start_with(Limits { max_ingest_bytes_in_flight: budget, ..Limits::default() }).await;
    let admin = server.admin();
    let small =
        |n: usize| format!("{}\n", event("kms.secrets.create", serde_json::json!({"id": format!("small-{n}")})));

    // A body larger than the whole budget can never be taken in: 413, whatever else is going on.
    let large: String = (0..2000).map(small).collect();
    assert!(large.len() > budget);
    let (status, answer) = admin.send_raw("/v1/events", large, "application/x-ndjson").await;
    assert_eq!((status, answer["error"]["code"].as_str()), (413, Some("payload_too_large")), "{answer}");

    // A client that declares 60,000 bytes and sends one holds that much of the budget, so a body of about 15,000
    // bytes is refused for now. Its share is taken when its head has been read and its key checked: should the
    // 15,000 bytes come first, the slow client is the one refused, and the round starts again.
    let medium: String = (0..60).map(|n| small(1000 + n)).collect();
    assert!(medium.len() > budget - 60_000);
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 60000\r\n\r\n{{",
        common::ADMIN_KEY
    );
    let send_medium = || async {
        let response = admin
            .request(Method::POST, "/v1/events")
            .header("content-type", "application/x-ndjson")
            .body(medium.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, retry_after, response.json::<Value>().await.unwrap_or(Value::Null))
    };
    let mut refused = None;
    let mut slow = None;
    for _ in 0..50 {
        let mut stream = tokio::net::TcpStream::connect(address(&server)).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let answer = send_medium().await;
        if answer.0 == 503 {
            refused = Some(answer);
            slow = Some(stream);
            break;
        }
    }
    let (_, retry_after, body) = refused.expect("in 50 rounds the slow request never held its share of the budget");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(body["error"]["code"], "ingest_busy", "{body}");
    // ...while a small one proceeds.
    let (status, answer) = admin.send_raw("/v1/events", small(1), "application/x-ndjson").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");

    // Once the slow client goes, its share comes back.
    drop(slow);
    let (status, _, stored) =
        common::poll(Duration::from_secs(10), Duration::from_millis(20), send_medium, |answer| answer.0 == 200).await;
    assert_eq!(status, 200, "the share of a client that went away never came back: {stored}");
    // Stored now, or by an earlier round that came before the slow client's head.
    let taken = stored["accepted"].as_u64().unwrap_or(0) + stored["duplicates"].as_u64().unwrap_or(0);
    assert_eq!(taken, 60, "{stored}");
}

#[tokio::test]
async fn the_two_thousand_star_wildcard_query_is_refused_with_a_clear_error() {
    let server = TestServer::start().await;
    let hostile = format!("{}*b", "*a".repeat(1999));
    for path in ["/v1/events/count", "/v1/events"] {
        let (status, answer) = server.admin().get_with(path, &[("q", hostile.as_str())]).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "query_syntax", "{answer}");
        assert_eq!(answer["error"]["column"], 1, "{answer}");
        assert_eq!(
            answer["error"]["message"], "a wildcard pattern may hold at most 8 '*', this one has 2000",
            "{answer}"
        );
    }
}

#[tokio::test]
async fn a_punctuation_only_query_is_refused() {
    let server = TestServer::start().await;
    for q in ["...", "🔥", "\"--\"", "action:x ?!"] {
        let (status, answer) = server.admin().get_with("/v1/events/count", &[("q", q)]).await;
        assert_eq!(status, 400, "{q}: {answer}");
        assert_eq!(answer["error"]["code"], "query_syntax", "{q}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("has no letter or digit to search for"), "{q}: {answer}");
    }
}
