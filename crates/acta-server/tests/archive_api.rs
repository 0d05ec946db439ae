//! `/v1/instances/{id}/archive` and retention changes of `PATCH /v1/instances/{id}`: who may, what is refused,
//! what is audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use acta_server::Limits;
use common::{As, TestServer};
use serde_json::{Value, json};

/// An account with an instance in us-south and keys of every role; returns the instance id and the keys.
struct Account<'a> {
    instance: String,
    manager: As<'a>,
    writer: As<'a>,
    reader: As<'a>,
    narrowed_manager: As<'a>,
}

async fn account<'a>(server: &'a TestServer, id: &str) -> Account<'a> {
    let admin = server.admin();
    admin.create_account(id).await;
    let instance = admin.create_instance(json!({"account": id, "name": "us-south", "region": "us-south"})).await;
    let instance = instance["id"].as_str().unwrap().to_string();
    let key = |role: &str, narrowed: bool| {
        let mut body = json!({"account": id, "name": role, "role": role, "principal": format!("{role}@{id}")});
        if narrowed {
            body["instance"] = json!(instance);
        }
        admin.new_key(body)
    };
    Account {
        manager: key("manager", false).await,
        writer: key("writer", false).await,
        reader: key("reader", false).await,
        narrowed_manager: key("manager", true).await,
        instance,
    }
}

fn s3_archive() -> Value {
    json!({"kind": "s3", "endpoint": "https://s3.example.com", "bucket": "audit-archive", "prefix": "acta",
           "access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_is_shown_without_its_secret_and_can_be_removed() {
    let server = TestServer::start().await;
    let acme = account(&server, "acme").await;
    let path = format!("/v1/instances/{}/archive", acme.instance);
    let (status, answer) = acme.manager.get(&path).await;
    assert_eq!(status, 404, "no archive yet: {answer}");

    let (status, answer) = acme.manager.put(&path, s3_archive()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["archive"]["secret_access_key"], "(redacted)");
    assert_eq!(answer["archive"]["bucket"], "audit-archive");
    let (status, shown) = acme.manager.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(shown["archive"]["secret_access_key"], "(redacted)");
    assert!(!shown.to_string().contains("wJalrXUtnFEMI"), "{shown}");

    let (status, _) = acme.manager.delete(&path).await;
    assert_eq!(status, 204);
    assert_eq!(acme.manager.get(&path).await.0, 404);
    assert_eq!(acme.manager.delete(&path).await.0, 404);

    let events = acme.manager.search("action:acta.archive.update OR action:acta.archive.delete", 2).await;
    let mut actions: Vec<(String, String)> = events
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_string(), e["outcome"].as_str().unwrap().to_string()))
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [("acta.archive.delete".to_string(), "success".to_string()), ("acta.archive.update".into(), "success".into())]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_needs_a_manager_of_the_whole_account() {
    let server = TestServer::start().await;
    let acme = account(&server, "acme").await;
    let path = format!("/v1/instances/{}/archive", acme.instance);
    let anonymous = server.anonymous();
    assert_eq!(anonymous.put(&path, s3_archive()).await.0, 401);
    assert_eq!(anonymous.get(&path).await.0, 401);
    assert_eq!(anonymous.delete(&path).await.0, 401);
    for (who, key) in [("reader", &acme.reader), ("writer", &acme.writer), ("narrowed manager", &acme.narrowed_manager)]
    {
        assert_eq!(key.put(&path, s3_archive()).await.0, 403, "{who} PUT");
        assert_eq!(key.get(&path).await.0, 403, "{who} GET");
        assert_eq!(key.delete(&path).await.0, 403, "{who} DELETE");
    }
    let refusals = acme.manager.search("action:acta.archive.update AND outcome:failure", 3).await;
    assert_eq!(refusals.len(), 3, "each refused PUT is audited");
    assert_eq!(acme.manager.get(&path).await.0, 404, "nothing was set");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_instance_archive_is_not_found() {
    let server = TestServer::start().await;
    let acme = account(&server, "acme").await;
    let other = account(&server, "other").await;
    let path = format!("/v1/instances/{}/archive", acme.instance);
    assert_eq!(acme.manager.put(&path, s3_archive()).await.0, 200);
    assert_eq!(other.manager.get(&path).await.0, 404);
    assert_eq!(other.manager.put(&path, s3_archive()).await.0, 404);
    assert_eq!(other.manager.delete(&path).await.0, 404);
    assert_eq!(
        other.manager.patch(&format!("/v1/instances/{}", acme.instance), json!({"retention_days": 7})).await.0,
        404
    );
    let (status, shown) = acme.manager.get(&path).await;
    assert_eq!((status, shown["archive"]["bucket"].as_str()), (200, Some("audit-archive")), "untouched");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_archive_configurations_name_the_problem() {
    let server = TestServer::start().await;
    let acme = account(&server, "acme").await;
    let path = format!("/v1/instances/{}/archive", acme.instance);
    let with = |change: Value| {
        let mut body = s3_archive();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let cases = [
        (json!({"kind": "tape"}), 422, "invalid_body", "tape"),
        (json!({"kind": "s3", "bucket": "b"}), 422, "invalid_body", "endpoint"),
        (with(json!({"color": "red"})), 422, "invalid_body", "color"),
        (with(json!({"endpoint": "http://s3.example.com"})), 400, "invalid_field", "allow_http"),
        (with(json!({"endpoint": "ftp://s3.example.com"})), 400, "invalid_field", "scheme"),
        (with(json!({"endpoint": "not a url"})), 400, "invalid_field", "endpoint"),
        (with(json!({"bucket": "Has Spaces"})), 400, "invalid_field", "bucket"),
        (with(json!({"prefix": "a/../b"})), 400, "invalid_field", "prefix"),
        (with(json!({"secret_access_key": ""})), 400, "invalid_field", "secret_access_key"),
        (json!({"kind": "directory", "path": "/tmp/acta-archive"}), 400, "invalid_field", "--archive-root"),
    ];
    for (body, status, code, mentions) in cases {
        let (got, answer) = acme.manager.put(&path, body.clone()).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message:?} should mention {mentions}");
    }
    let response = server
        .http
        .put(format!("{}{path}", server.url))
        .bearer_auth(acme.manager.key.as_deref().unwrap())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(acme.manager.get(&path).await.0, 404, "nothing was set");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_archive_configuration_is_refused() {
    let server = TestServer::start_with(Limits { max_body_bytes: 4096, ..Limits::default() }).await;
    let acme = account(&server, "acme").await;
    let path = format!("/v1/instances/{}/archive", acme.instance);
    let mut body = s3_archive();
    body["prefix"] = json!("p".repeat(8192));
    assert_eq!(acme.manager.put(&path, body).await.0, 413);
    let mut body = s3_archive();
    body["prefix"] = json!("p".repeat(1000));
    let (status, answer) = acme.manager.put(&path, body).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_field")), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_changes_need_a_manager_and_valid_values() {
    let server = TestServer::start().await;
    let acme = account(&server, "acme").await;
    let path = format!("/v1/instances/{}", acme.instance);
    for key in [&acme.reader, &acme.writer, &acme.narrowed_manager] {
        assert_eq!(key.patch(&path, json!({"retention_days": 7, "dry_run": true})).await.0, 403);
    }
    let (status, answer) = acme.manager.patch(&path, json!({"retention_days": 0})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_field")), "{answer}");
    assert_eq!(acme.manager.patch(&path, json!({"retention_days": 7, "dry_run": "yes"})).await.0, 422);
    // Shortening an empty instance still asks for confirmation, listing nothing.
    let (status, answer) = acme.manager.patch(&path, json!({"retention_days": 7})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("confirm_required")), "{answer}");
    assert_eq!(answer["error"]["details"], json!([]));
    let (status, answer) = acme.manager.patch(&path, json!({"retention_days": 7, "confirm": true})).await;
    assert_eq!((status, answer["retention_days"].as_i64()), (200, Some(7)), "{answer}");
    assert_eq!(answer["storage"]["events"], 0, "{answer}");
    let refused = acme.manager.search("action:acta.instance.update AND outcome:failure", 4).await;
    assert_eq!(refused.len(), 4, "403s and the unconfirmed change are audited");
    server.stop().await;
}
