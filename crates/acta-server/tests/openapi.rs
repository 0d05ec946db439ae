//! The OpenAPI document at `/v1/openapi.json` stays true: it is valid OpenAPI 3.1, it has exactly the router's
//! routes, each of its operations reaches a handler, and real answers validate against its schemas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{TestServer, event};
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn document() -> Value {
    serde_json::from_str(acta_server::openapi::DOCUMENT).expect("the document is JSON")
}

/// `(method, path)` of every route of `acta_server::router`, read from its source: a route added there without
/// its place in the document fails `every_route_of_the_router_is_in_the_document`.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/http/mod.rs");
    let start = source.find("pub fn router(").expect("http/mod.rs has the router");
    let end = start + source[start..].find(".fallback(").expect("the router has a fallback");
    let mut routes = BTreeSet::new();
    for chunk in source[start..end].split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).expect("a route's path is a string literal");
        // axum's catch-all `{*path}` is OpenAPI's `{path}`.
        let path = path.replace("{*", "{");
        let mut methods = 0;
        for method in METHODS {
            let call = format!("{method}(");
            for (at, _) in chunk.match_indices(&call) {
                let before = chunk[..at].chars().next_back();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                    routes.insert((method.to_string(), path.clone()));
                    methods += 1;
                }
            }
        }
        assert!(methods > 0, "no method found for the route {path}");
    }
    routes
}

fn document_operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) {
                operations.insert((method.clone(), path.clone()));
            }
        }
    }
    operations
}

/// Every `$ref` of the document, with where it stands.
fn references(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            for (key, member) in object {
                match (key.as_str(), member) {
                    ("$ref", Value::String(target)) => out.push((at.to_string(), target.clone())),
                    _ => references(member, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                references(item, &format!("{at}/{index}"), out);
            }
        }
        _ => {}
    }
}

/// Follows a reference to a component (a response, a parameter) to the component itself.
fn resolved<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(target) => document.pointer(target.trim_start_matches('#')).expect("the reference resolves"),
        None => value,
    }
}

/// Validates an answer against the schema the document gives for that operation and status.
fn assert_documented(document: &Value, method: &str, path: &str, status: u16, answer: &Value) {
    let operation = &document["paths"][path][method];
    let response = resolved(document, &operation["responses"][status.to_string()]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} documents no JSON answer for {status}");
    // The schema's references point into the document's components: validate within a root that holds them.
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root).expect("the documented schema compiles");
    let problems: Vec<String> =
        validator.iter_errors(answer).map(|error| format!("{}: {error}", error.instance_path())).collect();
    assert!(problems.is_empty(), "{method} {path} {status} answered outside its schema: {problems:#?}\n{answer:#}");
}

#[test]
fn the_document_is_openapi_3_1() {
    let spec = oas3::from_json(acta_server::openapi::DOCUMENT).expect("oas3 parses the document");
    let version = spec.validate_version().expect("a supported OpenAPI version");
    assert_eq!((version.major, version.minor), (3, 1));
    assert!(spec.operations().count() > 0);
}

#[test]
fn every_reference_of_the_document_resolves() {
    let document = document();
    let mut found = Vec::new();
    references(&document, "", &mut found);
    assert!(!found.is_empty());
    let broken: Vec<&(String, String)> = found
        .iter()
        .filter(|(_, target)| !target.starts_with("#/") || document.pointer(target.trim_start_matches('#')).is_none())
        .collect();
    assert!(broken.is_empty(), "references that lead nowhere: {broken:?}");
}

#[test]
fn every_component_schema_is_a_valid_json_schema() {
    let document = document();
    for (name, schema) in document["components"]["schemas"].as_object().expect("component schemas") {
        let mut schema = schema.clone();
        if let Value::Object(object) = &mut schema {
            object.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
        }
        if let Err(error) = jsonschema::meta::validate(&schema) {
            panic!("the schema {name} is not valid JSON Schema 2020-12: {error}");
        }
    }
}

#[test]
fn the_error_shape_and_the_named_components_are_documented() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    for name in [
        "Account",
        "Instance",
        "Key",
        "Event",
        "IngestResult",
        "Histogram",
        "Terms",
        "View",
        "Alert",
        "Channel",
        "Board",
        "Graph",
        "Checkpoint",
        "Proof",
        "Error",
    ] {
        assert!(schemas[name].is_object(), "no component {name}");
    }
    assert_eq!(schemas["Error"]["properties"]["error"]["required"], json!(["code", "message", "details"]));
    assert_eq!(schemas["Event"]["required"], json!(["_acta"]));
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["basic"]["scheme"], "basic");
}

#[test]
fn every_operation_has_an_id_a_role_its_path_parameters_and_an_error_answer() {
    let document = document();
    let mut ids = BTreeSet::new();
    for (method, path) in document_operations(&document) {
        let operation = &document["paths"][&path][&method];
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
        let description = operation["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("Role") || description.contains("No key needed"),
            "{method} {path} does not say which role it needs"
        );
        let declared: BTreeSet<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|parameter| resolved(&document, parameter))
            .filter(|parameter| parameter["in"] == "path")
            .map(|parameter| parameter["name"].as_str().unwrap_or_default().to_string())
            .collect();
        let templated: BTreeSet<String> =
            path.split('{').skip(1).map(|rest| rest.split('}').next().unwrap_or_default().to_string()).collect();
        assert_eq!(declared, templated, "{method} {path}: path parameters");
        let responses = operation["responses"].as_object().expect("responses");
        assert!(responses.keys().any(|status| status.starts_with('2')), "{method} {path} has no success answer");
        assert!(responses.contains_key("500"), "{method} {path} does not document 500");
        let secured = operation.get("security").is_none_or(|security| security != &json!([]));
        if secured {
            assert!(responses.contains_key("401"), "{method} {path} needs a key but does not document 401");
        }
    }
}

#[test]
fn every_route_of_the_router_is_in_the_document() {
    let documented = document_operations(&document());
    let missing: Vec<_> = router_routes().difference(&documented).cloned().collect();
    assert!(missing.is_empty(), "routes the document does not describe: {missing:?}");
}

#[test]
fn every_operation_of_the_document_is_a_route_of_the_router() {
    let routed = router_routes();
    let extra: Vec<_> = document_operations(&document()).difference(&routed).cloned().collect();
    assert!(extra.is_empty(), "operations the router does not have: {extra:?}");
}

/// The router's fallback answer for a path no route matches: told apart from a handler's 404 by its message.
fn is_fallback(status: u16, body: &Value) -> bool {
    status == 404 && body["error"]["code"] == "not_found" && body["error"]["message"] == "route not found"
}

async fn answer(server: &TestServer, method: &str, path: &str) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let request = server.admin().request(method, path);
    // Streams (tail, export) answer their status at once; the body is read only when it is JSON.
    let response = tokio::time::timeout(Duration::from_secs(10), request.send()).await.expect("an answer").unwrap();
    let status = response.status().as_u16();
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let body = if is_json {
        tokio::time::timeout(Duration::from_secs(10), response.json()).await.expect("a body").unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    (status, body)
}

#[tokio::test]
async fn an_unknown_route_gets_the_fallback_answer() {
    let server = TestServer::start().await;
    let (status, body) = answer(&server, "get", "/v1/no-such-route").await;
    assert!(is_fallback(status, &body), "{status} {body}");
    let (status, body) = answer(&server, "get", "/v1/views/no-such-view").await;
    assert_eq!(status, 404);
    assert!(!is_fallback(status, &body), "a handler's 404 looks like the fallback: {body}");
    server.stop().await;
}

#[tokio::test]
async fn every_operation_of_the_document_reaches_a_handler() {
    let server = TestServer::start().await;
    let document = document();
    for (method, path) in document_operations(&document) {
        let filled = path
            .replace("{path}", "js/app.js")
            .replace("{index}", "default")
            .replace("{id}", "no-such-object")
            .replace("{n}", "0");
        let (status, body) = answer(&server, &method, &filled).await;
        assert!(!is_fallback(status, &body), "{method} {path} ({filled}) reached no route");
        assert_ne!(status, 405, "{method} {path} ({filled}): the path is routed, not this method");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_document_is_served_without_a_key_with_the_security_headers() {
    let server = TestServer::start().await;
    let response = server.http.get(format!("{}/v1/openapi.json", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("content-security-policy"));
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, document());
    server.stop().await;
}

#[tokio::test]
async fn the_document_is_served_whatever_key_is_sent() {
    let server = TestServer::start().await;
    let url = format!("{}/v1/openapi.json", server.url);
    let response = server.http.get(&url).bearer_auth("acta_not_a_key").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = server.http.post(&url).send().await.unwrap();
    assert_eq!(response.status(), 405, "the document is only read");
    server.stop().await;
}

#[tokio::test]
async fn ingest_search_count_and_aggregations_answer_as_documented() {
    let server = TestServer::start().await;
    let document = document();
    let stored = event("iam-identity.apikey.create", json!({"id": "openapi-1"}));
    let broken = json!({"action": "no.time"});
    let response = server.post("/v1/events").json(&json!([stored, stored, broken])).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let ingest: Value = response.json().await.unwrap();
    assert_eq!((ingest["accepted"].as_u64(), ingest["rejected"].as_u64()), (Some(1), Some(1)));
    assert_documented(&document, "post", "/v1/events", 200, &ingest);
    server.wait_searchable(1).await;

    let search: Value = server.get("/v1/events?q=&limit=1").send().await.unwrap().json().await.unwrap();
    assert_eq!(search["events"].as_array().map(Vec::len), Some(1));
    assert_documented(&document, "get", "/v1/events", 200, &search);

    let count: Value = server.get("/v1/events/count").send().await.unwrap().json().await.unwrap();
    assert_documented(&document, "get", "/v1/events/count", 200, &count);

    let histogram: Value =
        server.get("/v1/events/histogram?from=7d&by=action").send().await.unwrap().json().await.unwrap();
    assert!(histogram["series"].is_array(), "{histogram}");
    assert_documented(&document, "get", "/v1/events/histogram", 200, &histogram);

    let terms: Value = server.get("/v1/events/terms?field=action").send().await.unwrap().json().await.unwrap();
    assert_documented(&document, "get", "/v1/events/terms", 200, &terms);
    server.stop().await;
}

#[tokio::test]
async fn a_created_board_and_key_answer_as_documented() {
    let server = TestServer::start().await;
    let document = document();
    let board = json!({"name": "Keys", "graphs": [
        {"title": "By action", "query": "action:iam*", "breakdown": {"field": "action"}, "range": "24h"},
        {"query": "", "range": {"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T11:00:00Z"}},
    ]});
    let response = server.post("/v1/boards").json(&board).send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_documented(&document, "post", "/v1/boards", 201, &response.json().await.unwrap());

    let response = server.post("/v1/keys").json(&json!({"name": "ci", "role": "reader"})).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let key: Value = response.json().await.unwrap();
    assert!(key["secret"].is_string());
    assert_documented(&document, "post", "/v1/keys", 201, &key);
    server.stop().await;
}

#[test]
fn every_operation_documents_the_answers_of_the_limits() {
    let document = document();
    for (method, path) in document_operations(&document) {
        let operation = &document["paths"][&path][&method];
        let responses = operation["responses"].as_object().expect("responses");
        assert!(responses.contains_key("408"), "{method} {path} does not document the request timeout (408)");
        let keyed = operation.get("security").is_none_or(|security| security != &json!([]));
        if keyed {
            assert!(responses.contains_key("429"), "{method} {path} needs a key but does not document its rate (429)");
        }
        if method != "get" {
            assert!(responses.contains_key("507"), "{method} {path} writes but does not document a full disk (507)");
        }
        for status in ["429", "507"] {
            if let Some(response) = responses.get(status) {
                let response = resolved(&document, response);
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{method} {path} {status} does not document Retry-After"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_key_over_its_rate_answers_as_documented() {
    let limits = acta_server::Limits { key_rate_per_second: 1, key_rate_burst: 2, ..acta_server::Limits::default() };
    let server = TestServer::start_with(limits).await;
    let document = document();
    let mut refused = None;
    for _ in 0..10 {
        let response = server.get("/v1/views").send().await.unwrap();
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
    }
    let response = refused.expect("ten requests at once never went over a rate of 1/s with a burst of 2");
    let retry_after = response.headers().get("retry-after").and_then(|value| value.to_str().ok()).map(str::to_owned);
    assert!(retry_after.is_some_and(|value| value.parse::<u64>().is_ok()), "no Retry-After in seconds");
    assert_documented(&document, "get", "/v1/views", 429, &response.json().await.unwrap());
    server.stop().await;
}

#[tokio::test]
async fn refusals_answer_the_documented_error_shape() {
    let server = TestServer::start().await;
    let document = document();
    let response = server.http.get(format!("{}/v1/views", server.url)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_documented(&document, "get", "/v1/views", 401, &response.json().await.unwrap());

    let response = server.get("/v1/events/count?q=action:(").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "query_syntax");
    assert_documented(&document, "get", "/v1/events/count", 400, &error);

    let response = server.post("/v1/views").json(&json!({"name": 5, "query": ""})).send().await.unwrap();
    assert_eq!(response.status(), 422);
    assert_documented(&document, "post", "/v1/views", 422, &response.json().await.unwrap());

    let response = server.post("/v1/views").body(r#"{"name": "x", "query": ""}"#).send().await.unwrap();
    assert_eq!(response.status(), 415);
    assert_documented(&document, "post", "/v1/views", 415, &response.json().await.unwrap());

    let response = server.get("/v1/boards/no-such-board").send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_documented(&document, "get", "/v1/boards/{id}", 404, &response.json().await.unwrap());
    server.stop().await;
}

#[test]
fn every_request_body_is_required_and_refuses_unknown_members() {
    let document = document();
    for (method, path) in document_operations(&document) {
        let body = &document["paths"][&path][&method]["requestBody"];
        if body.is_null() {
            continue;
        }
        assert_eq!(body["required"], true, "{method} {path}: the body is not marked required");
        let Some(schema) = body["content"]["application/json"]["schema"].as_object() else { continue };
        let schema = match schema.get("$ref").and_then(Value::as_str) {
            Some(target) => document.pointer(target.trim_start_matches('#')).expect("the reference resolves"),
            None => &body["content"]["application/json"]["schema"],
        };
        let variants: Vec<&Value> = match schema["oneOf"].as_array() {
            Some(variants) => variants.iter().collect(),
            None => vec![schema],
        };
        for variant in variants {
            if variant["type"] == "object" {
                assert_eq!(variant["additionalProperties"], false, "{method} {path}: unknown members are refused");
            }
        }
    }
}
