//! The `/v1/views` and `/v1/alerts` endpoints: CRUD with audit, tenant isolation, roles, malformed requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{As, TestServer, account_with_manager, poll};
use serde_json::{Value, json};

impl As<'_> {
    /// The messages of the account's events matching `q`, once at least `expected` are searchable.
    async fn messages(&self, q: &str, expected: usize) -> Vec<String> {
        let messages = |answer: &Value| -> Vec<String> {
            answer["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                .collect()
        };
        let params = [("q", q), ("limit", "100")];
        let search = || self.get_with("/v1/events", &params);
        let (status, answer) = poll(Duration::from_secs(15), Duration::from_millis(100), search, |(status, answer)| {
            *status != 200 || messages(answer).len() >= expected
        })
        .await;
        assert_eq!(status, 200, "{answer}");
        messages(&answer)
    }
}

/// An alert whose webhook host does not resolve here: saved (it is not internal), never delivered.
fn webhook_alert(view: &str) -> Value {
    json!({"view": view, "kind": "presence", "threshold": 2, "window": "5m",
           "channels": [{"type": "webhook", "url": "https://hooks.example.com/acta"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_saved_listed_by_category_changed_and_deleted_and_audited() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let body = json!({"name": "Deleted keys", "query": "(action user-apikey.delete) -login", "category": "IAM",
                      "from": "24h"});
    let (status, view) = user.post("/v1/views", body).await;
    assert_eq!(status, 201, "{view}");
    let id = view["id"].as_str().unwrap().to_string();
    assert_eq!(
        user.post("/v1/views", json!({"name": "Logins", "query": "action:login", "category": "IAM"})).await.0,
        201
    );
    assert_eq!(user.post("/v1/views", json!({"name": "Everything", "query": ""})).await.0, 201);
    assert_eq!(user.post("/v1/views", json!({"name": "Logins", "query": "x"})).await.0, 409, "names are unique");

    let (_, categories) = user.get("/v1/views/categories").await;
    assert_eq!(categories["categories"], json!([{"name": "IAM", "views": 2}]));
    let (_, iam) = user.get("/v1/views?category=IAM").await;
    assert_eq!(iam["views"].as_array().unwrap().len(), 2);
    let (_, all) = user.get("/v1/views").await;
    assert_eq!(all["views"].as_array().unwrap().len(), 3);
    assert_eq!(all["categories"][0]["name"], "IAM");

    let (status, changed) =
        user.patch(&format!("/v1/views/{id}"), json!({"name": "Key deletions", "category": "", "to": "now"})).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["name"].as_str(), changed["category"].as_str(), changed["to"].as_str()),
        (Some("Key deletions"), None, Some("now"))
    );
    let (_, shown) = user.get(&format!("/v1/views/{id}")).await;
    assert_eq!(shown["query"], "(action user-apikey.delete) -login");
    assert_eq!(shown["from"], "24h");

    let (_, alert) = user.post("/v1/alerts", webhook_alert(&id)).await;
    let alert = alert["id"].as_str().unwrap().to_string();
    assert_eq!(user.delete(&format!("/v1/views/{id}")).await.0, 409, "a view with alerts stays");
    assert_eq!(user.delete(&format!("/v1/alerts/{alert}")).await.0, 204);
    assert_eq!(user.delete(&format!("/v1/views/{id}")).await.0, 204);
    assert_eq!(user.get(&format!("/v1/views/{id}")).await.0, 404);

    let audited = user.messages("action:acta.view", 6).await;
    for expected in [
        "Acta: create view Deleted keys",
        "Acta: update view Key deletions",
        "Acta: delete view Key deletions -failure",
        "Acta: delete view Key deletions",
    ] {
        assert!(audited.iter().any(|m| m == expected), "{expected:?} not in {audited:#?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_created_shown_changed_and_deleted_and_audited() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let (_, view) = user.post("/v1/views", json!({"name": "Deleted keys", "query": "action:delete"})).await;
    let view = view["id"].as_str().unwrap().to_string();
    let body = json!({"view": view, "kind": "presence", "threshold": 2, "window": "30m", "immediate": true,
                      "at_end": true, "timezone": "Europe/Paris",
                      "channels": [{"type": "webhook", "url": "https://hooks.example.com/x", "secret": "s3cret"},
                                   {"type": "pagerduty", "routing_key": "pd-key"}]});
    let (status, alert) = user.post("/v1/alerts", body).await;
    assert_eq!(status, 201, "{alert}");
    let id = alert["id"].as_str().unwrap().to_string();
    assert_eq!(alert["name"], "Deleted keys", "the name defaults to the view's");
    assert_eq!(alert["window"], "30m");
    assert!(!alert.to_string().contains("s3cret") && !alert.to_string().contains("pd-key"), "{alert}");
    assert_eq!(alert["channels"][1]["url"], Value::Null, "PagerDuty's own endpoint by default");

    // Sending the redacted channels back keeps the secrets; muting keeps the condition.
    let (status, changed) = user
        .patch(
            &format!("/v1/alerts/{id}"),
            json!({"channels": alert["channels"], "muted_until": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["muted_until"], "2030-01-01T00:00:00.000000000Z");
    let (_, listed) = user.get("/v1/alerts").await;
    assert_eq!(listed["alerts"].as_array().unwrap().len(), 1);
    let (status, unmuted) = user.patch(&format!("/v1/alerts/{id}"), json!({"muted_until": "", "threshold": 3})).await;
    assert_eq!(status, 200, "{unmuted}");
    assert_eq!((unmuted["muted_until"].clone(), unmuted["threshold"].clone()), (Value::Null, json!(3)));
    let (status, history) = user.get(&format!("/v1/alerts/{id}/history")).await;
    assert_eq!((status, history["firings"].clone()), (200, json!([])));

    assert_eq!(user.delete(&format!("/v1/alerts/{id}")).await.0, 204);
    assert_eq!(user.get(&format!("/v1/alerts/{id}")).await.0, 404);
    assert_eq!(user.get(&format!("/v1/alerts/{id}/history")).await.0, 404);
    let audited = user.messages("action:acta.alert", 4).await;
    assert_eq!(
        audited,
        vec![
            "Acta: delete alert Deleted keys",
            "Acta: update alert Deleted keys",
            "Acta: update alert Deleted keys",
            "Acta: create alert Deleted keys"
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_views_and_alerts_answer_404() {
    let server = TestServer::start().await;
    let alice = account_with_manager(&server, "alice").await;
    let bob = account_with_manager(&server, "bob").await;
    let (_, view) = bob.post("/v1/views", json!({"name": "bob's", "query": "secret", "category": "Bob"})).await;
    let view = view["id"].as_str().unwrap().to_string();
    let (_, alert) = bob.post("/v1/alerts", webhook_alert(&view)).await;
    let alert = alert["id"].as_str().unwrap().to_string();

    for path in [
        format!("/v1/views/{view}"),
        format!("/v1/alerts/{alert}"),
        format!("/v1/alerts/{alert}/history"),
        "/v1/views?account=bob".to_string(),
        "/v1/views/categories?account=bob".to_string(),
        "/v1/alerts?account=bob".to_string(),
    ] {
        assert_eq!(alice.get(&path).await.0, 404, "GET {path}");
    }
    assert_eq!(alice.patch(&format!("/v1/views/{view}"), json!({"name": "mine"})).await.0, 404);
    assert_eq!(alice.delete(&format!("/v1/views/{view}")).await.0, 404);
    assert_eq!(alice.patch(&format!("/v1/alerts/{alert}"), json!({"threshold": 9})).await.0, 404);
    assert_eq!(alice.post(&format!("/v1/alerts/{alert}/test"), json!({})).await.0, 404);
    assert_eq!(alice.delete(&format!("/v1/alerts/{alert}")).await.0, 404);
    // Alice cannot attach her alert to Bob's view, nor move hers there.
    assert_eq!(alice.post("/v1/alerts", webhook_alert(&view)).await.0, 404);
    let (_, own) = alice.post("/v1/views", json!({"name": "alice's", "query": "x"})).await;
    let (_, own_alert) = alice.post("/v1/alerts", webhook_alert(own["id"].as_str().unwrap())).await;
    let own_alert = own_alert["id"].as_str().unwrap();
    assert_eq!(alice.patch(&format!("/v1/alerts/{own_alert}"), json!({"view": view})).await.0, 404);
    assert_eq!(alice.post("/v1/views", json!({"name": "x", "query": "x", "account": "bob"})).await.0, 404);

    // Nothing of Bob's shows in Alice's lists; Bob's objects are untouched.
    let (_, views) = alice.get("/v1/views").await;
    assert!(!views.to_string().contains("bob's") && !views.to_string().contains("Bob"), "{views}");
    let (_, alerts) = alice.get("/v1/alerts").await;
    assert!(!alerts.to_string().contains(&alert), "{alerts}");
    assert_eq!(bob.get(&format!("/v1/alerts/{alert}")).await.1["threshold"], 2);
    assert_eq!(bob.get(&format!("/v1/views/{view}")).await.1["name"], "bob's");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_view_and_alert_requests_name_the_problem() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let (status, error) = user.post("/v1/views", json!({"name": "bad", "query": "(action delete"})).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "query_syntax");
    assert_eq!(error["error"]["column"], 15);
    for (body, code) in [
        (json!({"name": "", "query": "x"}), "invalid_field"),
        (json!({"name": "n", "query": "x", "from": "yesterday"}), "invalid_time"),
        (json!({"name": "n", "query": "x", "colour": "red"}), "invalid_body"),
        (json!({"name": "n"}), "invalid_body"),
    ] {
        let (status, error) = user.post("/v1/views", body.clone()).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (if code == "invalid_body" { 422 } else { 400 }, Some(code)),
            "{body}: {error}"
        );
    }
    let (status, _) = user.raw(reqwest::Method::POST, "/v1/views", Some("{not json")).await;
    assert_eq!(status, 400);
    let (_, view) = user.post("/v1/views", json!({"name": "v", "query": "x"})).await;
    let view = view["id"].as_str().unwrap().to_string();
    assert_eq!(user.patch(&format!("/v1/views/{view}"), json!({"query": "a:("})).await.0, 400);

    let webhook = json!([{"type": "webhook", "url": "https://hooks.example.com/acta"}]);
    let cases = [
        (json!({"kind": "sometimes"}), "kind"),
        (json!({"threshold": 0}), "threshold"),
        (json!({"window": "2m"}), "window"),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"muted_until": "tomorrow"}), "muted_until"),
        (json!({"channels": []}), "channels"),
        (json!({"channels": [{"type": "email", "to": ["nobody"]}]}), "recipient"),
        (json!({"channels": [{"type": "webhook", "url": "file:///etc/passwd"}]}), "http or https"),
        (json!({"channels": [{"type": "pigeon"}]}), "pigeon"),
        (json!({"kind": "absence", "immediate": true}), "immediate"),
        (json!({"immediate": false, "at_end": false}), "at_end"),
    ];
    for (change, expected) in cases {
        let mut body = json!({"view": view, "kind": "presence", "threshold": 2, "window": "1m", "channels": webhook});
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, error) = user.post("/v1/alerts", body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message:?} does not mention {expected:?}");
    }
    let (status, _) = user.post("/v1/alerts", json!({"view": view, "kind": "presence"})).await;
    assert_eq!(status, 422, "missing members");
    assert_eq!(
        user.post(
            "/v1/alerts",
            json!({"view": "nope", "kind": "presence", "threshold": 1, "window": "1m",
                                              "channels": webhook})
        )
        .await
        .0,
        404
    );
    let (_, alert) = user
        .post(
            "/v1/alerts",
            json!({"view": view, "kind": "presence", "threshold": 1, "window": "1m",
                                                     "channels": webhook}),
        )
        .await;
    let alert = alert["id"].as_str().unwrap().to_string();
    assert_eq!(user.patch(&format!("/v1/alerts/{alert}"), json!({"window": "7m"})).await.0, 400);
    assert_eq!(user.patch(&format!("/v1/alerts/{alert}"), json!({"unknown": 1})).await.0, 422);
    assert_eq!(user.get(&format!("/v1/alerts/{alert}/history?limit=0")).await.0, 400);
    assert_eq!(user.get(&format!("/v1/alerts/{alert}/history?limit=x")).await.0, 400);
    assert_eq!(user.post("/v1/alerts/nope/test", json!({})).await.0, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_alert_is_refused_when_the_server_has_no_smtp_relay() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let (_, view) = user.post("/v1/views", json!({"name": "Deleted keys", "query": "action:delete"})).await;
    let view = view["id"].as_str().unwrap().to_string();
    let (_, listed) = user.get("/v1/alerts").await;
    assert_eq!(listed["email_relay"], false, "the list says email cannot be sent: {listed}");

    let email = json!({"type": "email", "to": ["ops@example.com"]});
    let body = json!({"view": view, "kind": "presence", "threshold": 1, "window": "1m",
                      "channels": [{"type": "slack", "url": "https://hooks.example.com/slack"}, email]});
    let (status, error) = user.post("/v1/alerts", body).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("no_smtp_relay")), "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("channels[1]: this server has no SMTP relay"), "{message}");
    assert!(message.contains("--smtp-url"), "the message says how to get one: {message}");
    assert_eq!(error["error"]["details"][0]["field"], "channels[1].type");
    let (_, listed) = user.get("/v1/alerts").await;
    assert_eq!(listed["alerts"], json!([]), "nothing was saved");

    let (status, alert) = user.post("/v1/alerts", webhook_alert(&view)).await;
    assert_eq!(status, 201, "{alert}");
    let id = alert["id"].as_str().unwrap();
    let (status, error) = user.patch(&format!("/v1/alerts/{id}"), json!({"channels": [email]})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("no_smtp_relay")), "{error}");
    let (_, shown) = user.get(&format!("/v1/alerts/{id}")).await;
    assert_eq!(shown["channels"][0]["type"], "webhook", "the alert keeps its channels");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_but_cannot_change_views_and_alerts_and_refusals_are_audited() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, view) = manager.post("/v1/views", json!({"name": "v", "query": "x"})).await;
    let view = view["id"].as_str().unwrap().to_string();
    let (_, alert) = manager.post("/v1/alerts", webhook_alert(&view)).await;
    let alert = alert["id"].as_str().unwrap().to_string();

    let reader = manager.key("reader", None).await;
    assert_eq!(reader.get("/v1/views").await.0, 200);
    assert_eq!(reader.get(&format!("/v1/views/{view}")).await.0, 200);
    assert_eq!(reader.get("/v1/alerts").await.0, 200);
    assert_eq!(reader.get(&format!("/v1/alerts/{alert}/history")).await.0, 200);
    assert_eq!(reader.post("/v1/views", json!({"name": "r", "query": "x"})).await.0, 403);
    assert_eq!(reader.patch(&format!("/v1/views/{view}"), json!({"name": "r"})).await.0, 403);
    assert_eq!(reader.delete(&format!("/v1/views/{view}")).await.0, 403);
    assert_eq!(reader.post("/v1/alerts", webhook_alert(&view)).await.0, 403);
    assert_eq!(reader.patch(&format!("/v1/alerts/{alert}"), json!({"threshold": 5})).await.0, 403);
    assert_eq!(reader.post(&format!("/v1/alerts/{alert}/test"), json!({})).await.0, 403);
    assert_eq!(reader.delete(&format!("/v1/alerts/{alert}")).await.0, 403);

    let writer = manager.key("writer", None).await;
    assert_eq!(writer.patch(&format!("/v1/alerts/{alert}"), json!({"threshold": 5})).await.0, 200);
    let ingest = manager.key("ingest", None).await;
    assert_eq!(ingest.get("/v1/views").await.0, 403);
    assert_eq!(ingest.get("/v1/alerts").await.0, 403);
    let (_, instance) = manager.post("/v1/instances", json!({"name": "us", "region": "us-south"})).await;
    let narrowed = manager.key("writer", instance["id"].as_str()).await;
    assert_eq!(narrowed.get("/v1/views").await.0, 200, "views are only saved queries");
    let (status, error) = narrowed.get("/v1/alerts").await;
    assert_eq!(status, 403, "alerts watch every instance: {error}");
    assert_eq!(narrowed.post("/v1/alerts", webhook_alert(&view)).await.0, 403);

    let anonymous = server.with_key("");
    for path in ["/v1/views", "/v1/views/categories", "/v1/alerts", &format!("/v1/alerts/{alert}/history")] {
        let response = server.http.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
    assert_eq!(anonymous.post("/v1/alerts", webhook_alert(&view)).await.0, 401);

    let refusals = manager.messages("action:acta outcome:failure", 8).await;
    assert_eq!(refusals.len(), 8, "{refusals:#?}");
    assert!(refusals.iter().all(|m| m.ends_with(" -failure")), "{refusals:#?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_header_values_and_slack_urls_are_never_shown_and_kept_when_sent_back() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let (_, view) = user.post("/v1/views", json!({"name": "Deleted keys", "query": "action:delete"})).await;
    let slack = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
    let body = json!({"view": view["id"], "kind": "presence", "threshold": 1, "window": "1h",
                      "channels": [{"type": "webhook", "url": "https://hooks.example.com/x",
                                    "headers": {"Authorization": "Bearer tok-123"}},
                                   {"type": "slack", "url": slack}]});
    let (status, alert) = user.post("/v1/alerts", body).await;
    assert_eq!(status, 201, "{alert}");
    let shown = alert.to_string();
    assert!(!shown.contains("tok-123") && !shown.contains("XXXXSECRET"), "a credential is shown: {shown}");
    assert_eq!(alert["channels"][0]["headers"]["Authorization"], "********");
    assert_eq!(alert["channels"][0]["url"], "https://hooks.example.com/x", "a webhook URL is not a credential");

    let id = alert["id"].as_str().unwrap();
    let (status, changed) = user.patch(&format!("/v1/alerts/{id}"), json!({"channels": alert["channels"]})).await;
    assert_eq!(status, 200, "sending the redacted channels back keeps them: {changed}");
    let id = id.to_string();
    let postgres = server.postgres.clone();
    let dir = server.stop_and_keep().await;
    let meta = common::meta_of(dir.path(), postgres.as_deref()).await;
    let kept = meta.alert("acme", &id).await.unwrap().unwrap().channels;
    assert_eq!(kept[0]["headers"]["Authorization"], "Bearer tok-123");
    assert_eq!(kept[1]["url"], slack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_credential_moved_to_another_channel_is_refused() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let (_, view) = user.post("/v1/views", json!({"name": "Deleted keys", "query": "action:delete"})).await;
    let body = json!({"view": view["id"], "kind": "presence", "threshold": 1, "window": "1h",
                      "channels": [{"type": "slack", "url": "https://hooks.slack.com/services/T/B/SECRET"}]});
    let (_, alert) = user.post("/v1/alerts", body).await;
    let id = alert["id"].as_str().unwrap();
    // The Slack channel's redacted URL sent as a webhook header at its place: no stored value of that kind.
    let moved = json!([{"type": "webhook", "url": "https://hooks.example.com/x", "headers": {"X-Key": "********"}}]);
    let (status, answer) = user.patch(&format!("/v1/alerts/{id}"), json!({"channels": moved})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("channels[0]/headers/X-Key"), "{answer}");
    server.stop().await;
}
