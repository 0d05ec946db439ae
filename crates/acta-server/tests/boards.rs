//! `/v1/boards`: CRUD with audit, roles, tenant isolation, malformed and oversized requests, the predefined
//! boards, and graph data and drill-downs judged by `GET /v1/events/count` and by the events they list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{As, TestServer, account_with_manager, event, poll};
use serde_json::{Value, json};

impl As<'_> {
    async fn count(&self, q: &str, from: &str, to: &str) -> u64 {
        let (status, answer) = self.get_with("/v1/events/count", &[("q", q), ("from", from), ("to", to)]).await;
        assert_eq!(status, 200, "{answer}");
        answer["count"].as_u64().unwrap()
    }
    /// Every event `q` lists over `[from, to)`.
    async fn list(&self, q: &str, from: &str, to: &str) -> Vec<Value> {
        let (status, answer) =
            self.get_with("/v1/events", &[("q", q), ("from", from), ("to", to), ("limit", "1000")]).await;
        assert_eq!(status, 200, "{answer}");
        answer["events"].as_array().unwrap().clone()
    }
    /// The messages of the account's events matching `q`, once at least `expected` are searchable.
    async fn messages(&self, q: &str, expected: usize) -> Vec<String> {
        let events = poll(
            Duration::from_secs(15),
            Duration::from_millis(100),
            || self.list(q, "", ""),
            |events| events.len() >= expected,
        )
        .await;
        events.iter().map(|e| e["message"].as_str().unwrap_or_default().to_string()).collect()
    }
    /// Waits until `q` counts `expected` events (the index commits about once a second).
    async fn wait_for(&self, q: &str, expected: u64) {
        let count = poll(
            Duration::from_secs(20),
            Duration::from_millis(50),
            || self.count(q, "", ""),
            |count| *count >= expected,
        )
        .await;
        assert!(count >= expected, "only {count} of {expected} events match {q:?}");
        assert_eq!(count, expected, "more events than expected match {q:?}");
    }
}

/// Seed 002's board: field `action`, filter `iam-identity.user-apikey.`, Live, broken down by `action`.
fn seed_002_board() -> Value {
    json!({"name": "API keys", "category": "IAM", "filter": "iam-identity.user-apikey.",
           "graphs": [{"title": "Key actions", "query": "", "field": "action",
                       "breakdown": {"field": "action"}, "range": "live"}]})
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        list["boards"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_are_created_listed_by_category_changed_and_deleted_and_audited() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let (status, board) = user.post("/v1/boards", seed_002_board()).await;
    assert_eq!(status, 201, "{board}");
    let id = board["id"].as_str().unwrap().to_string();
    assert_eq!(board["account"], "acme");
    assert_eq!(board["category"], "IAM");
    assert_eq!(board["predefined"], false);
    assert_eq!(
        board["graphs"],
        json!([{"title": "Key actions", "query": "", "field": "action", "breakdown": {"field": "action", "top": 5},
                "range": "live"}])
    );
    assert!(board["created"].as_str().unwrap().ends_with('Z'));
    let (status, plain) = user.post("/v1/boards", json!({"name": "Scratch", "graphs": []})).await;
    assert_eq!(status, 201, "{plain}");
    assert_eq!(plain["category"], "General", "the default category");
    assert_eq!(plain["filter"], Value::Null);
    assert_eq!(user.post("/v1/boards", json!({"name": "Scratch", "graphs": []})).await.0, 409, "names are unique");

    let (_, categories) = user.get("/v1/boards/categories").await;
    assert_eq!(
        categories["categories"],
        json!([{"name": "General", "boards": 1}, {"name": "IAM", "boards": 1}, {"name": "Predefined", "boards": 3}])
    );
    let (_, iam) = user.get("/v1/boards?category=IAM").await;
    assert_eq!(names(&iam), ["API keys"]);
    let (_, all) = user.get("/v1/boards").await;
    assert_eq!(all["boards"].as_array().unwrap().len(), 5);
    assert_eq!(all["categories"], categories["categories"]);

    let custom = json!({"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T12:00:00Z"});
    let change = json!({"name": "Key activity", "filter": null,
                        "graphs": [{"query": "outcome:failure", "range": custom}, {"query": "action:delete", "range": "7d"}]});
    let (status, changed) = user.patch(&format!("/v1/boards/{id}"), change).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "Key activity");
    assert_eq!(changed["filter"], Value::Null);
    assert_eq!(changed["category"], "IAM", "absent members stay");
    assert_eq!(changed["graphs"].as_array().unwrap().len(), 2, "graphs replace the list");
    assert_eq!(changed["graphs"][0]["range"]["from"], "2026-11-20T10:00:00.000000000Z");
    let (_, shown) = user.get(&format!("/v1/boards/{id}")).await;
    assert_eq!(shown, changed);
    let (status, recategorized) = user.patch(&format!("/v1/boards/{id}"), json!({"category": ""})).await;
    assert_eq!((status, recategorized["category"].as_str()), (200, Some("General")));

    assert_eq!(user.delete(&format!("/v1/boards/{id}")).await.0, 204);
    assert_eq!(user.get(&format!("/v1/boards/{id}")).await.0, 404);
    assert_eq!(user.delete(&format!("/v1/boards/{id}")).await.0, 404);

    let audited = user.messages("action:acta.board", 5).await;
    for expected in [
        "Acta: create board API keys",
        "Acta: create board Scratch",
        "Acta: create board Scratch -failure",
        "Acta: update board Key activity",
        "Acta: delete board Key activity",
    ] {
        assert!(audited.iter().any(|m| m == expected), "{expected:?} not in {audited:#?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_read_boards_but_cannot_change_them_and_ingest_keys_cannot_read_them() {
    let server = TestServer::start().await;
    let manager = account_with_manager(&server, "acme").await;
    let (_, board) = manager.post("/v1/boards", seed_002_board()).await;
    let id = board["id"].as_str().unwrap().to_string();
    let reader = manager.key("reader", None).await;
    let writer = manager.key("writer", None).await;
    let ingest = manager.key("ingest", None).await;

    for who in [&reader, &writer, &manager] {
        assert_eq!(who.get("/v1/boards").await.0, 200);
        assert_eq!(who.get("/v1/boards/categories").await.0, 200);
        assert_eq!(who.get(&format!("/v1/boards/{id}")).await.0, 200);
        assert_eq!(who.get(&format!("/v1/boards/{id}/graphs/0/data")).await.0, 200);
    }
    assert_eq!(reader.post("/v1/boards", json!({"name": "Mine", "graphs": []})).await.0, 403);
    assert_eq!(reader.patch(&format!("/v1/boards/{id}"), json!({"name": "Renamed"})).await.0, 403);
    assert_eq!(reader.delete(&format!("/v1/boards/{id}")).await.0, 403);
    let (status, created) = writer.post("/v1/boards", json!({"name": "Writer's", "graphs": []})).await;
    assert_eq!(status, 201, "{created}");
    let writers = created["id"].as_str().unwrap();
    assert_eq!(writer.patch(&format!("/v1/boards/{writers}"), json!({"category": "Mine"})).await.0, 200);
    assert_eq!(writer.delete(&format!("/v1/boards/{writers}")).await.0, 204);

    for path in [
        "/v1/boards".to_string(),
        "/v1/boards/categories".to_string(),
        format!("/v1/boards/{id}"),
        format!("/v1/boards/{id}/graphs/0/data"),
        format!("/v1/boards/{id}/graphs/0/drilldown?bucket=2026-11-20T10:00:00Z"),
    ] {
        assert_eq!(ingest.get(&path).await.0, 403, "an ingest key read {path}");
    }
    assert_eq!(ingest.post("/v1/boards", json!({"name": "Ingested", "graphs": []})).await.0, 403);

    let audited = manager.messages("action:acta.board outcome:failure", 4).await;
    for expected in [
        "Acta: create board Mine -failure",
        "Acta: update board API keys -failure",
        "Acta: delete board API keys -failure",
        "Acta: create board Ingested -failure",
    ] {
        assert!(audited.iter().any(|m| m == expected), "{expected:?} not in {audited:#?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_key_are_unauthorized() {
    let server = TestServer::start().await;
    let nobody = server.with_key("acta_nope_nope_nope");
    assert_eq!(nobody.get("/v1/boards").await.0, 401);
    assert_eq!(nobody.post("/v1/boards", seed_002_board()).await.0, 401);
    let response = server.http.get(format!("{}/v1/boards", server.url)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_board_is_not_found_on_every_route() {
    let server = TestServer::start().await;
    let acme = account_with_manager(&server, "acme").await;
    let globex = account_with_manager(&server, "globex").await;
    let (_, board) = acme.post("/v1/boards", seed_002_board()).await;
    let id = board["id"].as_str().unwrap().to_string();

    assert_eq!(globex.get(&format!("/v1/boards/{id}")).await.0, 404);
    assert_eq!(globex.patch(&format!("/v1/boards/{id}"), json!({"name": "Taken over"})).await.0, 404);
    assert_eq!(globex.delete(&format!("/v1/boards/{id}")).await.0, 404);
    assert_eq!(globex.get(&format!("/v1/boards/{id}/graphs/0/data")).await.0, 404);
    let drilldown = format!("/v1/boards/{id}/graphs/0/drilldown?bucket=2026-11-20T10:00:00Z");
    assert_eq!(globex.get(&drilldown).await.0, 404);
    assert_eq!(globex.get("/v1/boards?account=acme").await.0, 404, "naming another account");
    let (_, listed) = globex.get("/v1/boards").await;
    assert!(!names(&listed).contains(&"API keys".to_string()), "{listed}");
    let (status, _) = acme.get(&format!("/v1/boards/{id}")).await;
    assert_eq!(status, 200, "the board is intact");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_boards_are_refused_naming_the_problem() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let (status, answer) = user.raw(reqwest::Method::POST, "/v1/boards", Some("{\"name\": ")).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_body")), "{answer}");

    let bad_query = json!({"name": "B", "graphs": [{"query": "", "range": "24h"},
                                                   {"query": "action:(a OR", "range": "24h"}]});
    let (status, answer) = user.post("/v1/boards", bad_query).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "query_syntax");
    assert_eq!(answer["error"]["details"][0]["pointer"], "/graphs/1/query");
    let message = answer["error"]["details"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("column "), "{message}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("/graphs/1/query: column "), "{answer}");

    let (status, answer) = user.post("/v1/boards", json!({"name": "B", "filter": "(", "graphs": []})).await;
    assert_eq!((status, answer["error"]["details"][0]["pointer"].as_str()), (400, Some("/filter")), "{answer}");

    let bad_range = json!({"name": "B", "graphs": [{"query": "", "range": "2d"}]});
    let (status, answer) = user.post("/v1/boards", bad_range).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["details"][0]["pointer"], "/graphs/0/range");
    let backwards = json!({"from": "2026-11-20T12:00:00Z", "to": "2026-11-20T10:00:00Z"});
    let (status, answer) =
        user.post("/v1/boards", json!({"name": "B", "graphs": [{"query": "", "range": backwards}]})).await;
    assert_eq!((status, answer["error"]["details"][0]["pointer"].as_str()), (400, Some("/graphs/0/range")));

    let graphs: Vec<Value> = (0..21).map(|_| json!({"query": "", "range": "24h"})).collect();
    let (status, answer) = user.post("/v1/boards", json!({"name": "B", "graphs": graphs})).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["details"][0]["pointer"], "/graphs");
    assert!(answer["error"]["message"].as_str().unwrap().contains("at most 20 graphs"), "{answer}");

    for (graph, pointer) in [
        (json!({"query": "", "range": "24h", "breakdown": {"field": "action", "top": 51}}), "/graphs/0/breakdown/top"),
        (json!({"query": "", "range": "24h", "breakdown": {"field": "a b"}}), "/graphs/0/breakdown/field"),
        (json!({"query": "", "range": "24h", "field": "(x"}), "/graphs/0/field"),
        (json!({"query": "", "range": "24h", "colour": "red"}), "/graphs/0"),
        (json!("not a graph"), "/graphs/0"),
    ] {
        let (status, answer) = user.post("/v1/boards", json!({"name": "B", "graphs": [graph]})).await;
        assert_eq!((status, answer["error"]["details"][0]["pointer"].as_str()), (400, Some(pointer)), "{answer}");
    }
    let (status, _) = user.post("/v1/boards", json!({"name": "", "graphs": []})).await;
    assert_eq!(status, 400, "an empty name");
    let (status, _) = user.post("/v1/boards", json!({"name": "x".repeat(201), "graphs": []})).await;
    assert_eq!(status, 400, "a name over 200 characters");
    let (status, _) = user.post("/v1/boards", json!({"name": "B", "graphs": [], "owner": "me"})).await;
    assert_eq!(status, 422, "an unknown member (a body of the wrong shape, as everywhere in the API)");

    let (_, board) = user.post("/v1/boards", seed_002_board()).await;
    let id = board["id"].as_str().unwrap();
    let (status, answer) =
        user.patch(&format!("/v1/boards/{id}"), json!({"graphs": [{"query": "\"open", "range": "live"}]})).await;
    assert_eq!((status, answer["error"]["details"][0]["pointer"].as_str()), (400, Some("/graphs/0/query")));
    let (_, unchanged) = user.get(&format!("/v1/boards/{id}")).await;
    assert_eq!(unchanged["graphs"], board["graphs"], "a refused change changes nothing");
    assert_eq!(user.get(&format!("/v1/boards/{id}/graphs/1/data")).await.0, 404, "no graph 1");
    assert_eq!(user.get(&format!("/v1/boards/{id}/graphs/x/data")).await.0, 404);
    let (status, answer) = user.get(&format!("/v1/boards/{id}/graphs/0/drilldown?bucket=yesterday")).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_bucket")));
    let (status, answer) = user.get(&format!("/v1/boards/{id}/graphs/0/data?tz=Mars/Olympus")).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_timezone")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_board_bodies_are_refused() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    let body = json!({"name": "Big", "graphs": [{"title": "x".repeat(300 * 1024), "query": "", "range": "24h"}]});
    let (status, answer) = user.post("/v1/boards", body.clone()).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "body_too_large");
    let (_, board) = user.post("/v1/boards", seed_002_board()).await;
    let id = board["id"].as_str().unwrap();
    assert_eq!(user.patch(&format!("/v1/boards/{id}"), body).await.0, 413);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predefined_boards_come_with_every_account_and_do_not_return_once_deleted() {
    let mut server = TestServer::start().await;
    let (_, default) = server.admin().get("/v1/boards").await;
    assert_eq!(names(&default), ["API key activity", "Account activity", "Failures"], "the default account");
    let user_key = account_with_manager(&server, "acme").await.key.unwrap();
    let user = server.with_key(&user_key);
    let (_, boards) = user.get("/v1/boards?category=Predefined").await;
    assert_eq!(names(&boards), ["API key activity", "Account activity", "Failures"]);
    let by_name = |name: &str| boards["boards"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap().clone();
    assert!(boards["boards"].as_array().unwrap().iter().all(|b| b["predefined"] == true));
    let activity = by_name("Account activity");
    assert_eq!(activity["graphs"][0]["breakdown"]["field"], "_platform");
    assert_eq!(activity["graphs"][0]["range"], "24h");
    let keys = by_name("API key activity");
    assert_eq!(
        (&keys["graphs"][0]["query"], &keys["graphs"][0]["field"], &keys["graphs"][0]["range"]),
        (&json!("iam-identity.user-apikey."), &json!("action"), &json!("live"))
    );
    let failures = by_name("Failures");
    let breakdowns: Vec<&Value> =
        failures["graphs"].as_array().unwrap().iter().map(|g| &g["breakdown"]["field"]).collect();
    assert_eq!(breakdowns, [&json!("action"), &json!("initiator.name")]);
    assert!(
        failures["graphs"].as_array().unwrap().iter().all(|g| g["query"] == "outcome:failure" && g["range"] == "24h")
    );

    // Editable and deletable like any board; deleted ones stay deleted across restarts.
    let failures_id = failures["id"].as_str().unwrap();
    assert_eq!(user.patch(&format!("/v1/boards/{failures_id}"), json!({"name": "Our failures"})).await.0, 200);
    let keys_id = keys["id"].as_str().unwrap();
    assert_eq!(user.delete(&format!("/v1/boards/{keys_id}")).await.0, 204);
    drop(user);
    server.restart().await;
    let user = server.with_key(&user_key);
    let (_, after) = user.get("/v1/boards").await;
    assert_eq!(names(&after), ["Account activity", "Our failures"]);
    server.stop().await;
}

/// The data of graph 0 of a board, with its bucket checks: every bucket's count is the count of its query over
/// its range, and the breakdown (values, other, missing) adds up to it for a field every event has once.
async fn checked_data(user: &As<'_>, board: &str, params: &[(&str, &str)]) -> Value {
    let (status, data) = user.get_with(&format!("/v1/boards/{board}/graphs/0/data"), params).await;
    assert_eq!(status, 200, "{data}");
    let other_key = data["other_key"].as_str().unwrap_or("other").to_string();
    for bucket in data["buckets"].as_array().unwrap() {
        let (from, to) = (bucket["from"].as_str().unwrap(), bucket["to"].as_str().unwrap());
        let count = bucket["count"].as_u64().unwrap();
        assert_eq!(count, user.count(bucket["query"].as_str().unwrap(), from, to).await, "{bucket}");
        if let Some(by) = bucket["by"].as_object() {
            let sum: u64 = by.values().map(|n| n.as_u64().unwrap()).sum::<u64>() + bucket["missing"].as_u64().unwrap();
            assert_eq!(sum, count, "breakdown of {bucket}");
            assert!(by.contains_key(&other_key));
        }
    }
    data
}

/// Drills into every non-empty bucket and every key of its breakdown (and `missing`): the answer's count is
/// `/v1/events/count` of its query and range, and its query lists exactly `expected(bucket, key)`'s events.
async fn check_drilldowns(
    user: &As<'_>,
    board: &str,
    data: &Value,
    params: &[(&str, &str)],
    expected: impl Fn(&Value, &str, &str) -> bool,
    all: &[Value],
) {
    let mut keys: Vec<String> =
        data["series"].as_array().unwrap().iter().map(|s| s["value"].as_str().unwrap().to_string()).collect();
    keys.push(data["other_key"].as_str().unwrap().to_string());
    keys.push("missing".to_string());
    let mut drilled = 0;
    for bucket in data["buckets"].as_array().unwrap().iter().filter(|b| b["count"].as_u64().unwrap() > 0) {
        let start = bucket["start"].as_str().unwrap();
        for key in &keys {
            let path = format!("/v1/boards/{board}/graphs/0/drilldown");
            let mut query = vec![("bucket", start), ("value", key.as_str())];
            query.extend_from_slice(params);
            let (status, answer) = user.get_with(&path, &query).await;
            assert_eq!(status, 200, "{answer}");
            let (q, from, to) =
                (answer["query"].as_str().unwrap(), answer["from"].as_str().unwrap(), answer["to"].as_str().unwrap());
            // A Live graph's range moves on between the two requests: its last bucket may end later.
            assert_eq!(from, bucket["from"].as_str().unwrap());
            assert!(to >= bucket["to"].as_str().unwrap(), "{answer} {bucket}");
            let listed = user.list(q, from, to).await;
            assert_eq!(answer["count"].as_u64().unwrap(), listed.len() as u64, "{answer}");
            assert_eq!(answer["count"].as_u64().unwrap(), user.count(q, from, to).await);
            let expected_count = if key == "missing" {
                bucket["missing"].as_u64().unwrap()
            } else {
                bucket["by"][key].as_u64().unwrap()
            };
            assert_eq!(listed.len() as u64, expected_count, "{key} in {bucket}: {answer}");
            let mut got: Vec<&str> = listed.iter().map(|e| e["_acta"]["id"].as_str().unwrap()).collect();
            got.sort_unstable();
            let mut want: Vec<&str> = all
                .iter()
                .filter(|e| expected(e, key, from) && time_in(e, from, to))
                .map(|e| e["_acta"]["id"].as_str().unwrap())
                .collect();
            want.sort_unstable();
            assert_eq!(got, want, "{key} in {bucket}");
            drilled += 1;
        }
        let mut query = vec![("bucket", start)];
        query.extend_from_slice(params);
        let (status, whole) = user.get_with(&format!("/v1/boards/{board}/graphs/0/drilldown"), &query).await;
        assert_eq!(status, 200, "{whole}");
        assert_eq!(whole["count"], bucket["count"]);
        assert_eq!(whole["query"], bucket["query"]);
    }
    assert!(drilled > 0, "no bucket had events");
}

fn time_in(event: &Value, from: &str, to: &str) -> bool {
    let ns = |text: &str| acta_cadf::parse_time(text).unwrap();
    let at = ns(event["eventTime"].as_str().unwrap());
    ns(from) <= at && at < ns(to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_board_shows_one_series_per_key_action_with_its_count() {
    let server = TestServer::start().await;
    let user = account_with_manager(&server, "acme").await;
    // Seed 002 step 2, through Acta's own key API, which audits each action in IAM Identity's shape.
    let (status, demo) = user.post("/v1/keys", json!({"name": "demo-key", "role": "reader"})).await;
    assert_eq!(status, 201, "{demo}");
    let path = format!("/v1/keys/{}", demo["id"].as_str().unwrap());
    for description in ["first", "second", "third"] {
        assert_eq!(user.patch(&path, json!({"description": description})).await.0, 200);
    }
    assert_eq!(user.post(&format!("{path}/lock"), json!({})).await.0, 200);
    assert_eq!(user.post(&format!("{path}/unlock"), json!({})).await.0, 200);
    assert_eq!(user.delete(&path).await.0, 204);
    let (status, board) = user.post("/v1/boards", seed_002_board()).await;
    assert_eq!(status, 201, "{board}");
    let id = board["id"].as_str().unwrap();
    // The manager key's creation (by the admin), the demo key's create, 3 updates, lock and unlock (updates
    // saying which), its delete, and the manager key's login.
    user.wait_for("iam-identity.user-apikey.", 9).await;
    let logins = user.count("action:===iam-identity.user-apikey.login", "", "").await;

    let data = checked_data(&user, id, &[]).await;
    assert_eq!(data["range"], "live");
    assert_eq!(data["graph"], board["graphs"][0]);
    assert_eq!(data["interval"], "1m", "Live: the last 60 minutes by the minute");
    assert_eq!(data["query"], "iam-identity.user-apikey. action:*");
    let series: BTreeMap<String, u64> = data["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["value"].as_str().unwrap().to_string(), s["count"].as_u64().unwrap()))
        .collect();
    let expected: BTreeMap<String, u64> = [("create", 2), ("update", 5), ("delete", 1), ("login", logins)]
        .into_iter()
        .map(|(verb, n)| (format!("iam-identity.user-apikey.{verb}"), n))
        .collect();
    assert_eq!(series, expected);
    assert_eq!(logins, 1, "one login of the manager key in this short test");
    assert_eq!((data["other"].as_u64(), data["missing"].as_u64()), (Some(0), Some(0)));
    assert_eq!(data["count"].as_u64(), Some(9));

    let all = user.list("iam-identity.user-apikey.", "live", "").await;
    check_drilldowns(&user, id, &data, &[], |event, key, _| event["action"] == key, &all).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drilldowns_of_other_values_and_missing_list_exactly_those_events() {
    let server = TestServer::start().await;
    let admin = server.admin();
    // Failures of three initiators and two without a name, over 40 minutes; successes that the query excludes.
    let mut events = Vec::new();
    let names = ["alice", "alice", "alice", "bob", "bob", "carol", "", ""];
    for (n, name) in names.iter().enumerate() {
        let initiator = if name.is_empty() {
            json!({"id": format!("svc-{n}"), "typeURI": "service"})
        } else {
            json!({"id": format!("IBMid-{name}"), "name": name, "typeURI": "service/security/account/user"})
        };
        for outcome in ["failure", "success"] {
            events.push(event(
                "iam-identity.user-apikey.delete",
                json!({"id": format!("{outcome}-{n}"), "outcome": outcome, "initiator": initiator,
                       "eventTime": format!("2026-11-20T10:{:02}:30Z", n * 5)}),
            ));
        }
    }
    let (status, answer) = server.send(&events).await;
    assert_eq!(status, 200, "{answer}");
    server.wait_searchable(events.len() as u64).await;
    let range = json!({"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T10:40:00Z"});
    let board = json!({"name": "Who fails", "filter": "outcome:failure",
                       "graphs": [{"query": "", "breakdown": {"field": "initiator.name", "top": 1}, "range": range}]});
    let (status, board) = admin.post("/v1/boards", board).await;
    assert_eq!(status, 201, "{board}");
    let id = board["id"].as_str().unwrap();

    let data = checked_data(&admin, id, &[("interval", "10m")]).await;
    assert_eq!(data["buckets"].as_array().unwrap().len(), 4);
    assert_eq!(data["series"][0]["value"], "alice");
    assert_eq!(
        (data["series"][0]["count"].as_u64(), data["other"].as_u64(), data["missing"].as_u64()),
        (Some(3), Some(3), Some(2))
    );

    let all = admin.list("outcome:failure", "2026-11-20T10:00:00Z", "2026-11-20T10:40:00Z").await;
    assert_eq!(all.len(), 8);
    let expected = |event: &Value, key: &str, _: &str| match (event["initiator"]["name"].as_str(), key) {
        (None, "missing") => true,
        (Some(name), "other") => name != "alice",
        (Some(name), key) => name == key,
        (None, _) => false,
    };
    // Drill-downs take the interval the data was asked with, to find the same buckets.
    let path = format!("/v1/boards/{id}/graphs/0/drilldown");
    let (status, answer) =
        admin.get_with(&path, &[("bucket", "2026-11-20T10:30:00Z"), ("value", "missing"), ("interval", "10m")]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["query"], "outcome:failure -initiator.name:*");
    assert_eq!(answer["count"], 2);
    let (_, other) =
        admin.get_with(&path, &[("bucket", "2026-11-20T10:10:00Z"), ("value", "other"), ("interval", "10m")]).await;
    assert_eq!(other["query"], "outcome:failure initiator.name:(* -===alice)", "{other}");
    check_drilldowns(&admin, id, &data, &[("interval", "10m")], expected, &all).await;
    server.stop().await;
}
