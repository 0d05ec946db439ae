//! Accounts, instances, roles and keys, and Acta's audit of its own identity service (seed 002).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ADMIN_KEY, As, TestServer, event};
use serde_json::{Value, json};

/// The User-Agent of the CLI: the audit records it.
const CLI: &str = "Acta CLI/0.1.0";

fn admin(server: &TestServer) -> As<'_> {
    server.admin().agent(CLI)
}

/// An account with a manager key; returns the manager.
async fn account_with_manager<'a>(server: &'a TestServer, id: &str) -> As<'a> {
    admin(server).account_with_manager(id).await
}

fn messages(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["message"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_key_journey_is_audited_and_the_seed_queries_find_it() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let console = manager.clone().agent("Acta web console");
    let (status, key) = console.post("/v1/keys", json!({"name": "demo-key", "role": "reader"})).await;
    assert_eq!(status, 201, "{key}");
    let path = format!("/v1/keys/{}", key["id"].as_str().unwrap());
    assert_eq!(console.patch(&path, json!({"description": "tutorial"})).await.0, 200);
    assert_eq!(manager.post(&format!("{path}/lock"), json!({})).await.0, 200);
    assert_eq!(manager.patch(&path, json!({"name": "other"})).await.0, 409);
    assert_eq!(manager.delete(&path).await.0, 409);
    assert_eq!(manager.post(&format!("{path}/unlock"), json!({})).await.0, 200);
    assert_eq!(manager.delete(&path).await.0, 204);

    // The manager's own key creation (by the admin) and the journey: 1 + 7 key events, not counting logins.
    let all = manager.search("(action user-apikey) -login", 8).await;
    assert_eq!(all.len(), 8, "{:#?}", messages(&all));
    let failures = manager.search("(action user-apikey) -login failure", 2).await;
    assert_eq!(
        messages(&failures),
        vec![
            "IAM Identity Service: delete user-apikey demo-key -failure",
            "IAM Identity Service: update user-apikey demo-key -failure"
        ],
        "newest first"
    );
    assert!(failures.iter().all(|e| e["outcome"] == "failure" && e["reason"]["reasonCode"] == 409));
    let deletes = manager.search("(action user-apikey.delete) -login", 2).await;
    assert_eq!(deletes.len(), 2);
    let updates = manager.search("(action user-apikey.update) -login", 5).await;
    let operations: Vec<&str> = updates.iter().filter_map(|e| e["requestData"]["operation"].as_str()).collect();
    assert_eq!(operations, vec!["unlock", "rename", "lock", "rename"]);
    let from_console = manager.search("initiator.host.agent:\"Acta web console\" (action user-apikey) -login", 2).await;
    assert_eq!(messages(&from_console).len(), 2);
    assert!(from_console.iter().all(|e| e["initiator"]["host"]["agent"] == "Acta web console"));
    let logins = manager.search("iam-identity.user-apikey.login", 1).await;
    assert_eq!(logins.len(), 1, "a key's logins are audited at most once a minute");
    let board = manager.search("iam-identity.user-apikey.", 9).await;
    assert_eq!(board.len(), 9);
    server.stop().await;
}

/// The dotted paths of a value's scalars (`initiator.host.agent`).
fn leaf_paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                leaf_paths(member, &path, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_of_acta_s_own_key_events_is_explained_in_the_query_docs() {
    const QUERY_DOCS: &str = include_str!("../../../docs/query.md");
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, key) = manager.post("/v1/keys", json!({"name": "demo-key", "role": "reader"})).await;
    manager.post(&format!("/v1/keys/{}/lock", key["id"].as_str().unwrap()), json!({})).await;
    let events = manager.search("(action user-apikey) -login", 3).await;
    assert_eq!(events.len(), 3, "{:#?}", messages(&events));
    let mut paths = Vec::new();
    for event in &events {
        // `_acta` is where the answer says the event is stored, not part of the event.
        let mut event = event.clone();
        event.as_object_mut().unwrap().remove("_acta");
        leaf_paths(&event, "", &mut paths);
    }
    paths.sort();
    paths.dedup();
    assert!(paths.contains(&"requestData.operation".to_string()), "{paths:?}");
    let missing: Vec<&String> = paths.iter().filter(|path| !QUERY_DOCS.contains(&format!("`{path}`"))).collect();
    assert!(missing.is_empty(), "docs/query.md does not list these fields of Acta's own events: {missing:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_key_cannot_be_updated_or_deleted() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, key) = manager.post("/v1/keys", json!({"name": "k", "role": "reader"})).await;
    let path = format!("/v1/keys/{}", key["id"].as_str().unwrap());
    manager.post(&format!("{path}/lock"), json!({})).await;
    let (status, answer) = manager.delete(&path).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (409, Some("key_locked")));
    let (status, _) = manager.patch(&path, json!({"description": "x"})).await;
    assert_eq!(status, 409);
    assert_eq!(manager.get(&path).await.1["locked"], true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_key_stops_working_at_once() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, key) = manager.post("/v1/keys", json!({"name": "temp", "role": "reader"})).await;
    let temp = server.with_key(key["secret"].as_str().unwrap()).agent("test");
    assert_eq!(temp.get("/v1/events").await.0, 200);
    assert_eq!(manager.delete(&format!("/v1/keys/{}", key["id"].as_str().unwrap())).await.0, 204);
    assert_eq!(temp.get("/v1/events").await.0, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_key_is_refused() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let body = json!({"name": "old", "role": "reader", "expires_at": "2020-01-01T00:00:00Z"});
    let (_, key) = manager.post("/v1/keys", body).await;
    let old = server.with_key(key["secret"].as_str().unwrap()).agent("test");
    let (status, answer) = old.get("/v1/events").await;
    assert_eq!(status, 401);
    assert!(answer["error"]["message"].as_str().unwrap().contains("expired"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_secret_is_shown_once_and_never_listed() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, key) = manager.post("/v1/keys", json!({"name": "k", "role": "reader"})).await;
    assert!(key["secret"].as_str().unwrap().starts_with("acta_"));
    let (_, listed) = manager.get("/v1/keys").await;
    assert!(
        listed["keys"].as_array().unwrap().iter().all(|k| k.get("secret").is_none() && k.get("secret_hash").is_none())
    );
    let (_, shown) = manager.get(&format!("/v1/keys/{}", key["id"].as_str().unwrap())).await;
    assert!(shown.get("secret").is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_never_stored_in_clear() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, key) = manager.post("/v1/keys", json!({"name": "k", "role": "writer"})).await;
    let secret = key["secret"].as_str().unwrap().to_string();
    let writer = server.with_key(&secret).agent("test");
    writer.post("/v1/events", json!([event("svc.thing.create", json!({}))])).await;
    let kept = server.stop_and_keep().await;
    let dir = kept.path().to_path_buf();
    let secret_part = secret.split('_').nth(2).unwrap().to_string();
    for file in walk(&dir) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in [ADMIN_KEY, &secret, &secret_part] {
            assert!(
                !bytes.windows(needle.len()).any(|window| window == needle.as_bytes()),
                "{} holds a secret",
                file.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_can_do_only_its_part() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let mut keys = std::collections::HashMap::new();
    for role in ["reader", "writer", "ingest"] {
        let (status, key) =
            manager.post("/v1/keys", json!({"name": role, "role": role, "principal": format!("{role}@acme")})).await;
        assert_eq!(status, 201, "{key}");
        keys.insert(role, server.with_key(key["secret"].as_str().unwrap()).agent("test"));
    }
    let batch = json!([event("svc.thing.create", json!({}))]);
    // A reader cannot write.
    assert_eq!(keys["reader"].post("/v1/events", batch.clone()).await.0, 403);
    assert_eq!(keys["reader"].post("/v1/keys", json!({"name": "x", "role": "reader"})).await.0, 403);
    // A writer sends events but cannot manage others' keys or mint a manager.
    assert_eq!(keys["writer"].post("/v1/events", batch.clone()).await.0, 200);
    let others: Vec<Value> = keys["writer"].get("/v1/keys").await.1["keys"].as_array().unwrap().clone();
    assert_eq!(others.len(), 1, "a writer sees only its own keys");
    let (_, reader_key) = manager.get("/v1/keys").await;
    let reader_id =
        reader_key["keys"].as_array().unwrap().iter().find(|k| k["name"] == "reader").unwrap()["id"].clone();
    assert_eq!(keys["writer"].delete(&format!("/v1/keys/{}", reader_id.as_str().unwrap())).await.0, 404);
    assert_eq!(keys["writer"].post("/v1/keys", json!({"name": "up", "role": "manager"})).await.0, 403);
    assert_eq!(keys["writer"].post("/v1/keys", json!({"name": "own", "role": "reader"})).await.0, 201);
    // An ingest key only sends events.
    assert_eq!(keys["ingest"].post("/v1/events", batch).await.0, 200);
    assert_eq!(keys["ingest"].get("/v1/events").await.0, 403);
    assert_eq!(keys["ingest"].get("/v1/events/count").await.0, 403);
    // A manager cannot mint an admin key nor create accounts.
    assert_eq!(manager.post("/v1/keys", json!({"name": "root", "role": "admin"})).await.0, 403);
    assert_eq!(manager.post("/v1/accounts", json!({"name": "mine"})).await.0, 403);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_key_creation_is_audited_as_a_failure() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, writer) = manager.post("/v1/keys", json!({"name": "w", "role": "writer", "principal": "w@acme"})).await;
    let writer = server.with_key(writer["secret"].as_str().unwrap()).agent("test");
    assert_eq!(writer.post("/v1/keys", json!({"name": "escalate", "role": "manager"})).await.0, 403);
    let failures = manager.search("action:user-apikey.create outcome:failure", 1).await;
    assert_eq!(messages(&failures), vec!["IAM Identity Service: create user-apikey escalate -failure"]);
    assert_eq!(failures[0]["reason"]["reasonCode"], 403);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_to_the_instance_of_their_region_else_the_global_one() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (status, us) =
        manager.post("/v1/instances", json!({"name": "us", "region": "us-south", "retention_days": 7})).await;
    assert_eq!(status, 201, "{us}");
    let in_us = event(
        "kms.secrets.create",
        json!({"id": "in-us", "logSourceCRN": "crn:v1:bluemix:public:kms:us-south:a/other::"}),
    );
    let in_eu =
        event("kms.secrets.create", json!({"id": "in-eu", "logSourceCRN": "crn:v1:bluemix:public:kms:eu-de:a/acme::"}));
    let global = event(
        "iam-groups.group.read",
        json!({"id": "global", "logSourceCRN": "crn:v1:bluemix:public:iam-groups:global:a/acme::"}),
    );
    let (status, answer) = manager.post("/v1/events", json!([in_us, in_eu, global])).await;
    assert_eq!(status, 200, "{answer}");
    let found = manager.search("action:kms OR action:iam-groups", 3).await;
    let instance_of = |id: &str| found.iter().find(|e| e["id"] == id).unwrap()["_acta"]["instance"].clone();
    assert_eq!(instance_of("in-us"), us["id"], "the account's key stores in its account; the CRN's region picks");
    assert_ne!(instance_of("in-eu"), us["id"]);
    assert_eq!(instance_of("in-eu"), instance_of("global"), "no eu-de instance: the global one");
    assert!(found.iter().all(|e| e["_acta"]["account"] == "acme"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ingest_routes_by_the_crn_account_and_rejects_unknown_accounts() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let known = event(
        "kms.secrets.create",
        json!({"id": "for-acme", "logSourceCRN": "crn:v1:bluemix:public:kms:us-south:a/acme::"}),
    );
    let unknown = event(
        "kms.secrets.create",
        json!({"id": "for-nobody", "logSourceCRN": "crn:v1:bluemix:public:kms:us-south:a/nobody::"}),
    );
    let (status, answer) = admin(&server).post("/v1/events", json!([known, unknown])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["status"], "stored");
    assert_eq!(answer["results"][1]["status"], "rejected");
    let reason = answer["results"][1]["errors"][0].clone();
    assert_eq!(reason["pointer"], "/logSourceCRN");
    assert!(reason["message"].as_str().unwrap().contains("nobody"), "{reason}");
    assert_eq!(manager.search("id:for-acme", 1).await.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_one_account_never_reaches_another() {
    let server = TestServer::start().await;
    let alice = account_with_manager(&server, "alice").await;
    let bob = account_with_manager(&server, "bob").await;
    // Bob's objects.
    let (_, bob_instance) = bob.post("/v1/instances", json!({"name": "b", "region": "eu-de"})).await;
    let bob_instance = bob_instance["id"].as_str().unwrap().to_string();
    let (_, bob_key) = bob.post("/v1/keys", json!({"name": "bobs", "role": "reader"})).await;
    let bob_key = bob_key["id"].as_str().unwrap().to_string();
    bob.post("/v1/events", json!([event("svc.secret.read", json!({"id": "bob-event", "message": "bob only"}))])).await;
    // Alice sends an event claiming Bob's account in its CRN: it is stored in Alice's account.
    let claim =
        event("svc.claim.create", json!({"id": "claim", "logSourceCRN": "crn:v1:bluemix:public:svc:eu-de:a/bob::"}));
    assert_eq!(alice.post("/v1/events", json!([claim])).await.0, 200);
    assert_eq!(bob.search("bob only", 1).await.len(), 1);
    assert_eq!(alice.search("claim", 1).await.len(), 1);

    for path in [
        "/v1/events/bob-event".to_string(),
        format!("/v1/instances/{bob_instance}"),
        format!("/v1/keys/{bob_key}"),
        "/v1/events?account=bob".to_string(),
        "/v1/events/count?account=bob".to_string(),
        "/v1/events/export?account=bob".to_string(),
        "/v1/events/tail?account=bob".to_string(),
        "/v1/instances?account=bob".to_string(),
        format!("/v1/events?instance={bob_instance}"),
    ] {
        assert_eq!(alice.get(&path).await.0, 404, "GET {path}");
    }
    assert_eq!(alice.patch(&format!("/v1/instances/{bob_instance}"), json!({"name": "mine"})).await.0, 404);
    assert_eq!(alice.delete(&format!("/v1/instances/{bob_instance}")).await.0, 404);
    assert_eq!(alice.patch(&format!("/v1/keys/{bob_key}"), json!({"name": "mine"})).await.0, 404);
    assert_eq!(alice.post(&format!("/v1/keys/{bob_key}/lock"), json!({})).await.0, 404);
    assert_eq!(alice.delete(&format!("/v1/keys/{bob_key}")).await.0, 404);
    assert_eq!(alice.post("/v1/keys", json!({"name": "x", "role": "reader", "account": "bob"})).await.0, 404);
    assert_eq!(alice.post("/v1/events?account=bob", json!([event("svc.x.create", json!({}))])).await.0, 404);

    // Nothing of Bob's shows in Alice's answers, and Bob's key still works.
    let everything = alice.search("", 1).await;
    assert!(everything.iter().all(|e| e["_acta"]["account"] == "alice"), "{everything:#?}");
    assert!(!alice.get("/v1/keys").await.1.to_string().contains(&bob_key));
    assert_eq!(bob.get(&format!("/v1/keys/{bob_key}")).await.0, 200);
    assert_eq!(alice.get("/v1/accounts").await.1["accounts"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_with_events_or_the_global_one_cannot_be_deleted() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, instances) = manager.get("/v1/instances").await;
    let global = instances["instances"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(manager.delete(&format!("/v1/instances/{global}")).await.0, 409);
    let (_, empty) = manager.post("/v1/instances", json!({"name": "spare", "region": "eu-de"})).await;
    assert_eq!(manager.delete(&format!("/v1/instances/{}", empty["id"].as_str().unwrap())).await.0, 204);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_admin_requests_name_the_problem() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (status, answer) = manager.post("/v1/keys", json!({"name": "k", "role": "superuser"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_field")));
    assert!(answer["error"]["message"].as_str().unwrap().contains("superuser"));
    let (status, answer) = manager.post("/v1/instances", json!({"name": "x", "region": "US South"})).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) =
        manager.post("/v1/instances", json!({"name": "x", "region": "eu-de", "retention_days": 0})).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = manager.post("/v1/keys", json!({"role": "reader"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_body")), "{answer}");
    let unauthenticated = server.http.get(format!("{}/v1/keys", server.url)).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    server.stop().await;
}
