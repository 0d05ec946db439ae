//! `POST /_bulk` and `POST /{index}/_bulk` (and `PUT`): the Elasticsearch bulk format, so log shippers and
//! clients that speak it (Fluent Bit, Vector, Logstash, Filebeat, rsyslog's omelasticsearch, elasticsearch-py,
//! opensearch-py) can send audit events to Acta unchanged.
//!
//! What those clients check of the server is answered too, as OpenSearch and Quickwit answer it: every answer
//! here carries `X-Elastic-Product: Elasticsearch` (elasticsearch-py 8 refuses an answer without it, after the
//! server has stored the events), and `GET /` asked by a program for JSON is an info document with the API
//! version spoken ([`info`]); asked by a browser it stays the console ([`asks_for_json`]).
//!
//! The body is NDJSON: an action line, then for `index` and `create` the document, which must be a CADF event.
//! Each document goes through the very path of `POST /v1/events` (validation, durability before the answer,
//! dedup by id), keeping its bytes exactly as sent. The index name (`_index`, or the path's) names an instance of
//! the key's account; without one, events are routed as `POST /v1/events` routes them. `_id` gives an event
//! that has no `id` of its own its id, so a shipper's retry is a duplicate, not a second copy.
//!
//! Acta never changes or deletes an accepted event, so `update` and `delete` actions fail per item. The
//! answer is Elasticsearch's: `{took, errors, items:[{<action>: {_index, _id, status, result | error}}]}`,
//! with 201 `created` for a stored event, and for one already there 409 for `create` (as Elasticsearch answers
//! a create of an existing id) and 200 `noop` for `index`.

use std::collections::BTreeMap;
use std::time::Instant;

use acta_cadf::{Event, Options, Problem};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::access::auth::Principal;
use crate::error::ApiError;
use crate::http::guard::IngestPermit;
use crate::http::ingest::{give_ids, ingest_events, refuse_when_index_behind, results_json};
use crate::state::AppState;

/// The index name of answers for events that named none (they were routed).
const ROUTED_INDEX: &str = "_routed";

/// One action line of the body and, for `index`/`create`, its document.
struct Action {
    /// `index`, `create`, `update` or `delete`, as the line named it.
    kind: String,
    index: Option<String>,
    id: Option<String>,
    document: Option<Result<Event, Vec<Problem>>>,
}

/// The header Elasticsearch clients require of the server's answers.
const PRODUCT_HEADER: &str = "x-elastic-product";

/// The version of the Elasticsearch API spoken here (the bulk API and the info document), which clients that
/// detect it (Vector's `api_version: auto`) read to choose their request format.
const API_VERSION: &str = "8.0.0";

/// An answer with the product header, whatever it is (errors too: clients check it before reading the body).
fn with_product_header(answer: impl IntoResponse) -> Response {
    let mut response = answer.into_response();
    response.headers_mut().insert(PRODUCT_HEADER, axum::http::HeaderValue::from_static("Elasticsearch"));
    response
}

/// `POST /_bulk`, `PUT /_bulk`.
pub(crate) async fn bulk(state: State<AppState>, principal: Principal, _budget: IngestPermit, body: Bytes) -> Response {
    with_product_header(run(state, principal, None, body).await)
}

/// `POST /{index}/_bulk`, `PUT /{index}/_bulk`: the path's index is the default of every action.
pub(crate) async fn bulk_into(
    state: State<AppState>,
    principal: Principal,
    _budget: IngestPermit,
    Path(index): Path<String>,
    body: Bytes,
) -> Response {
    with_product_header(run(state, principal, Some(index), body).await)
}

/// Whether a request to `GET /` is a program asking for JSON rather than a browser asking for the page: an
/// `Accept` naming JSON (elasticsearch-py: `application/vnd.elasticsearch+json`), a JSON `Content-Type`
/// (opensearch-py sends one on every request), or no `Accept` at all (browsers always send one, naming
/// `text/html`; `curl` sends `*/*` and gets the page).
pub(crate) fn asks_for_json(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers.get(name).and_then(|value: &axum::http::HeaderValue| value.to_str().ok()).map(str::to_ascii_lowercase)
    };
    let accept = text(ACCEPT);
    if accept.as_deref().is_some_and(|accept| accept.contains("text/html")) {
        return false;
    }
    let json_accept = accept.as_deref().is_none_or(|accept| accept.contains("json"));
    json_accept || text(CONTENT_TYPE).is_some_and(|content_type| content_type.contains("json"))
}

/// `GET /`: the console's page for a browser, the info document for a program asking for JSON.
pub(crate) async fn root(headers: HeaderMap) -> Response {
    if asks_for_json(&headers) { info() } else { crate::http::console::index(&headers) }
}

/// `GET /` asked for JSON: what an Elasticsearch client reads of a server (its name and the API version), and
/// that this is Acta. No key needed, as for the console's page: it holds no data.
fn info() -> Response {
    with_product_header(Json(json!({
        "name": "acta",
        "cluster_name": "acta",
        "version": {
            "number": API_VERSION,
            "build_flavor": "acta",
            "acta": env!("CARGO_PKG_VERSION"),
            "minimum_wire_compatibility_version": API_VERSION,
            "minimum_index_compatibility_version": API_VERSION,
        },
        "tagline": "Acta keeps audit events; it speaks the Elasticsearch bulk API for the shippers that send them",
    })))
}

async fn run(
    State(state): State<AppState>,
    principal: Principal,
    default_index: Option<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    principal.require("ingest")?;
    refuse_when_index_behind(&state)?;
    let now = crate::clock::now_ns();
    let actions = parse_body(&body, default_index.as_deref(), now)?;
    let mut items: Vec<Value> = actions
        .iter()
        .map(|action| {
            refusal(
                action,
                400,
                "illegal_argument_exception",
                "Acta never changes or deletes an accepted event: only index and create actions are accepted",
            )
        })
        .collect();

    // Documents grouped by the instance they name, each group through the ingest path in one call.
    let mut groups: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (position, action) in actions.iter().enumerate() {
        if action.document.is_some() {
            groups.entry(action.index.clone()).or_default().push(position);
        }
    }
    let mut actions = actions;
    for (index, positions) in groups {
        let mut parsed = Vec::with_capacity(positions.len());
        let mut ids = Vec::with_capacity(positions.len());
        for &position in &positions {
            if let Some(action) = actions.get_mut(position) {
                ids.push(action.id.clone());
                parsed.push(action.document.take().unwrap_or_else(|| Err(Vec::new())));
            }
        }
        give_ids(&mut parsed, ids);
        match ingest_events(&state, &principal, None, index.as_deref(), parsed, now).await {
            Ok(outcome) => {
                for (&position, result) in positions.iter().zip(results_json(&outcome)) {
                    if let (Some(item), Some(action)) = (items.get_mut(position), actions.get(position)) {
                        *item = answer(action, &result);
                    }
                }
            }
            // A whole group refused (no such instance, a key narrowed to another): each of its items says why.
            Err(error) if error.status.is_client_error() => {
                let kind =
                    if error.status.as_u16() == 404 { "index_not_found_exception" } else { "security_exception" };
                for &position in &positions {
                    if let (Some(item), Some(action)) = (items.get_mut(position), actions.get(position)) {
                        *item = refusal(action, error.status.as_u16(), kind, &error.message);
                    }
                }
            }
            Err(error) => return Err(error),
        }
    }
    let errors = items.iter().any(|item| {
        item.as_object().and_then(|object| object.values().next()).is_some_and(|inner| inner.get("error").is_some())
    });
    let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(Json(json!({"took": took, "errors": errors, "items": items})))
}

/// Splits the body into actions. A line that is not an action, or an action without its document, makes the
/// whole request malformed (as in Elasticsearch): nothing of it is stored.
fn parse_body(body: &[u8], default_index: Option<&str>, now: i64) -> Result<Vec<Action>, ApiError> {
    let malformed =
        |line: usize, message: String| ApiError::bad_request("invalid_bulk", format!("line {line}: {message}"));
    let mut lines = body
        .split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(number, line)| (number + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace));
    let options = Options::default();
    let mut actions = Vec::new();
    while let Some((number, line)) = lines.next() {
        let value: Value = serde_json::from_slice(line)
            .map_err(|error| malformed(number, format!("the action line is not JSON: {error}")))?;
        let Some((kind, meta)) = value.as_object().filter(|object| object.len() == 1).and_then(|o| o.iter().next())
        else {
            return Err(malformed(
                number,
                "an action line is one object with one member: index, create, update or \
                delete"
                    .into(),
            ));
        };
        let text = |name: &str| meta.get(name).and_then(Value::as_str).filter(|text| !text.is_empty());
        let index = text("_index").or(default_index).map(str::to_owned);
        let id = text("_id").map(str::to_owned);
        let document = match kind.as_str() {
            "index" | "create" | "update" => {
                let (_, document) =
                    lines.next().ok_or_else(|| malformed(number, format!("the {kind} action has no document line")))?;
                (kind != "update").then(|| acta_cadf::parse_event(document, &options, now))
            }
            "delete" => None,
            other => return Err(malformed(number, format!("unknown action {other:?}"))),
        };
        actions.push(Action { kind: kind.clone(), index, id, document });
    }
    if actions.is_empty() {
        return Err(ApiError::bad_request("invalid_bulk", "the request body holds no action"));
    }
    Ok(actions)
}

/// An item of the answer from an event's result in the `POST /v1/events` shape.
fn answer(action: &Action, result: &Value) -> Value {
    let id = result.get("id").and_then(Value::as_str).map(str::to_owned).or_else(|| action.id.clone());
    let index = action.index.as_deref().unwrap_or(ROUTED_INDEX);
    let inner = match result.get("status").and_then(Value::as_str) {
        Some("stored") => json!({"_index": index, "_id": id, "status": 201, "result": "created", "_version": 1}),
        Some("duplicate") if action.kind == "create" => json!({"_index": index, "_id": id, "status": 409,
            "error": {"type": "version_conflict_engine_exception",
                      "reason": format!("[{}]: the event is already stored", id.as_deref().unwrap_or(""))}}),
        Some("duplicate") => json!({"_index": index, "_id": id, "status": 200, "result": "noop", "_version": 1}),
        _ => {
            let reasons: Vec<String> = result
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|error| {
                    let pointer = error.get("pointer").and_then(Value::as_str).unwrap_or("");
                    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
                    format!("{pointer}: {message}")
                })
                .collect();
            json!({"_index": index, "_id": id, "status": 400,
                   "error": {"type": "mapper_parsing_exception", "reason": reasons.join("; ")}})
        }
    };
    json!({ action.kind.as_str(): inner })
}

/// An item refused as a whole.
fn refusal(action: &Action, status: u16, kind: &str, reason: &str) -> Value {
    let index = action.index.as_deref().unwrap_or(ROUTED_INDEX);
    json!({ action.kind.as_str(): {"_index": index, "_id": action.id, "status": status,
                                   "error": {"type": kind, "reason": reason}} })
}

#[cfg(test)]
mod fuzz {
    //! Fuzz-style properties of the bulk parser: arbitrary bytes and mutated bulk bodies get actions or an error,
    //! never a panic. Bodies are a few KiB at most, so each property runs in about a second.

    use proptest::prelude::*;

    use super::parse_body;

    const NOW: i64 = 1_800_000_000_000_000_000;

    const LINES: &[&str] = &[
        r#"{"index":{}}"#,
        r#"{"create":{"_index":"us-south","_id":"a1"}}"#,
        r#"{"index":{"_id":""}}"#,
        r#"{"update":{"_id":"x"}}"#,
        r#"{"delete":{"_id":"x"}}"#,
        r#"{"explode":{}}"#,
        r#"{"index":{},"create":{}}"#,
        r#"{"index":{"_index":null,"_id":7}}"#,
        r#"{"id":"e1","eventTime":"2026-11-20T10:00:00Z","action":"kms.secrets.create","outcome":"success","initiator":{"id":"u"},"target":{"id":"t"}}"#,
        r#"{"action":"x","action":"y"}"#,
        r#"[1,2,3]"#,
        r#""text""#,
        "",
        "   ",
        "\r",
        "{",
        "\u{0}",
    ];

    fn body() -> impl Strategy<Value = Vec<u8>> {
        let line = prop_oneof![
            4 => prop::sample::select(LINES).prop_map(|line| line.as_bytes().to_vec()),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ];
        (prop::collection::vec(line, 0..40), prop::collection::vec((any::<usize>(), any::<u8>()), 0..4)).prop_map(
            |(lines, flips)| {
                let mut body = lines.join(&b'\n');
                for (at, byte) in flips {
                    if !body.is_empty() {
                        let at = at % body.len();
                        body[at] = byte;
                    }
                }
                body
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_get_actions_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let _ = parse_body(&bytes, None, NOW);
        }

        #[test]
        fn mutated_bulk_bodies_get_actions_or_an_error(body in body(), index in prop::option::of("[a-z-]{0,8}")) {
            if let Ok(actions) = parse_body(&body, index.as_deref(), NOW) {
                prop_assert!(!actions.is_empty());
                for action in &actions {
                    prop_assert!(["index", "create", "update", "delete"].contains(&action.kind.as_str()));
                    prop_assert_eq!(action.document.is_some(), action.kind == "index" || action.kind == "create");
                }
            }
        }
    }
}
