//! Boards: a name, a category, an optional filter, and up to 20 graphs, each a histogram of a query over a range
//! (`live`, `1h`, `24h`, `7d`, `30d` or custom), optionally counting only events that have a field and broken
//! down by a field's top values. Readers list, show and evaluate them; writers create, change and delete them;
//! every change (and refusal) is audited as `acta.board.<verb>`.
//!
//! A graph's data is the answer of `GET /v1/events/histogram` for its effective query, the board's filter AND
//! the graph's query AND `field:*`, over its range resolved at the time of the request: the same code answers
//! both, so a board shows exactly what a search counts. The drill-down gives the query and range listing one
//! bucket's events (of one value, of the other values, or without the field).
//!
//! Every account gets the predefined boards once ([`give_predefined`]): when it is created, or at the first
//! start after an upgrade for accounts that existed before boards did.

use std::time::Instant;

use acta_query::{Field, FieldCond, Query};
use acta_store::{Board, Meta, MetaError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

use crate::access::audit;
use crate::access::audit::refuse;
use crate::access::auth::Principal;
use crate::access::scope::{account_of, instances_in_scope, scopes};
use crate::clock::now_text;
use crate::error::{ApiError, JsonBody, QueryParams};
use crate::http::aggregate::{self, HistogramRequest};
use crate::http::input::{check_name, new_id, not_null};
use crate::state::AppState;

/// The most graphs a board holds.
pub(crate) const MAX_GRAPHS: usize = 20;
/// The largest body of a board request: 20 graphs of the longest queries fit many times over.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;
/// Breakdown values unless `top` says otherwise, and the range it may say.
const BREAKDOWN_TOP: (u64, u64, u64) = (5, 1, 50);
/// The category of a board created without one.
const DEFAULT_CATEGORY: &str = "General";
/// The category of the boards Acta creates with an account.
const PREDEFINED_CATEGORY: &str = "Predefined";
/// Named ranges and how far back they reach; `live` is the last 60 minutes, moving.
const RANGES: [(&str, i64); 5] =
    [("live", 3_600), ("1h", 3_600), ("24h", 86_400), ("7d", 7 * 86_400), ("30d", 30 * 86_400)];
const SECOND: i64 = 1_000_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewBoard {
    name: String,
    category: Option<String>,
    filter: Option<String>,
    #[serde(default)]
    graphs: Vec<Value>,
    #[serde(default, deserialize_with = "not_null")]
    account: Option<String>,
}

/// A change: absent members stay; `graphs` replaces the list; a null or empty `filter` removes it, a null or
/// empty `category` is the default one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BoardChange {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    category: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    filter: Option<Option<String>>,
    graphs: Option<Vec<Value>>,
}

/// A member that is present, even as null: `Some(None)`, so that null can clear it.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
pub(crate) struct BoardParams {
    account: Option<String>,
    category: Option<String>,
}

/// Parameters of a graph's data and drill-down.
#[derive(Deserialize)]
pub(crate) struct GraphParams {
    tz: Option<String>,
    interval: Option<String>,
    instance: Option<String>,
    account: Option<String>,
    bucket: Option<String>,
    value: Option<String>,
    missing: Option<String>,
}

/// A graph as sent; checked by [`check_graph`] into its stored form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphIn {
    title: Option<String>,
    #[serde(default)]
    query: String,
    field: Option<String>,
    breakdown: Option<BreakdownIn>,
    range: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakdownIn {
    field: String,
    top: Option<Value>,
}

/// A stored graph, read back from its JSON (which [`check_graph`] wrote).
struct Graph {
    query: String,
    field: Option<String>,
    breakdown: Option<(String, u64)>,
    range: Value,
}

impl Graph {
    fn from_json(graph: &Value) -> Graph {
        let text = |value: &Value| value.as_str().map(str::to_string);
        Graph {
            query: text(&graph["query"]).unwrap_or_default(),
            field: text(&graph["field"]),
            breakdown: text(&graph["breakdown"]["field"])
                .map(|field| (field, graph["breakdown"]["top"].as_u64().unwrap_or(BREAKDOWN_TOP.0))),
            range: graph["range"].clone(),
        }
    }
}

/// What is wrong with a board: one entry per problem, each with its JSON pointer.
#[derive(Default)]
struct Problems {
    details: Vec<Value>,
    first_column: Option<usize>,
    syntax_first: bool,
}

impl Problems {
    fn add(&mut self, pointer: String, message: String) {
        self.details.push(json!({"pointer": pointer, "message": message}));
    }

    fn query(&mut self, pointer: String, error: &acta_query::QueryError) {
        if self.details.is_empty() {
            self.syntax_first = true;
            self.first_column = Some(error.column);
        }
        self.details.push(json!({"pointer": pointer, "message": format!("column {}: {}", error.column, error.message),
                                 "column": error.column}));
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.details.is_empty() {
            return Ok(());
        }
        let message = self
            .details
            .iter()
            .map(|detail| {
                format!("{}: {}", detail["pointer"].as_str().unwrap_or(""), detail["message"].as_str().unwrap_or(""))
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut error =
            ApiError::bad_request(if self.syntax_first { "query_syntax" } else { "invalid_board" }, message);
        error.column = self.first_column;
        error.details = self.details;
        Err(error)
    }
}

fn blank_to_none(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_string()).filter(|text| !text.is_empty())
}

/// Checks the graphs as sent and gives their stored form.
fn check_graphs(graphs: &[Value], filter: Option<&str>, problems: &mut Problems) -> Value {
    if graphs.len() > MAX_GRAPHS {
        problems.add("/graphs".into(), format!("a board holds at most {MAX_GRAPHS} graphs, not {}", graphs.len()));
        return Value::Array(Vec::new());
    }
    Value::Array(graphs.iter().enumerate().filter_map(|(i, graph)| check_graph(i, graph, filter, problems)).collect())
}

fn check_graph(i: usize, graph: &Value, filter: Option<&str>, problems: &mut Problems) -> Option<Value> {
    let at = |member: &str| format!("/graphs/{i}{member}");
    let graph: GraphIn = match serde_json::from_value(graph.clone()) {
        Ok(graph) => graph,
        Err(error) => {
            problems.add(at(""), format!("not a graph ({{title?, query, field?, breakdown?, range}}): {error}"));
            return None;
        }
    };
    let before = problems.details.len();
    let title = blank_to_none(graph.title);
    if let Some(title) = &title
        && let Err(error) = check_name("title", title)
    {
        problems.add(at("/title"), error.message);
    }
    let query = match acta_query::parse(&graph.query) {
        Ok(query) => Some(query),
        Err(error) => {
            problems.query(at("/query"), &error);
            None
        }
    };
    let field = blank_to_none(graph.field);
    let field_ast = match field.as_deref().map(aggregate::field).transpose() {
        Ok(field) => field,
        Err(error) => {
            problems.add(at("/field"), error.message);
            None
        }
    };
    let breakdown = match graph.breakdown {
        None => None,
        Some(breakdown) => {
            if let Err(error) = aggregate::field(&breakdown.field) {
                problems.add(at("/breakdown/field"), error.message);
            }
            let top = match &breakdown.top {
                None | Some(Value::Null) => Some(BREAKDOWN_TOP.0),
                Some(top) => top.as_u64().filter(|top| (BREAKDOWN_TOP.1..=BREAKDOWN_TOP.2).contains(top)),
            };
            if top.is_none() {
                problems.add(
                    at("/breakdown/top"),
                    format!("top must be a whole number from {} to {}", BREAKDOWN_TOP.1, BREAKDOWN_TOP.2),
                );
            }
            Some(json!({"field": breakdown.field.trim(), "top": top.unwrap_or(BREAKDOWN_TOP.0)}))
        }
    };
    let range = match check_range(graph.range.unwrap_or_else(|| json!("24h"))) {
        Ok(range) => range,
        Err(message) => {
            problems.add(at("/range"), message);
            Value::Null
        }
    };
    if query.is_some() {
        // The graph is evaluated with the board's filter: the combination must be a query the language takes.
        let effective = effective_text(filter, &graph.query, field_ast.as_ref());
        if let Err(error) = acta_query::parse(&effective) {
            problems.add(
                at("/query"),
                format!("with the board's filter and field the query is not valid: {}", error.message),
            );
        }
    }
    (problems.details.len() == before)
        .then(|| json!({"title": title, "query": graph.query, "field": field, "breakdown": breakdown, "range": range}))
}

/// A range as sent: a name of [`RANGES`], or `{from, to}` in RFC 3339 with `from` before `to`.
fn check_range(range: Value) -> Result<Value, String> {
    let names = RANGES.iter().map(|(name, _)| format!("\"{name}\"")).collect::<Vec<_>>().join(", ");
    let bad = || format!("range must be one of {names}, or {{\"from\": RFC 3339, \"to\": RFC 3339}}");
    match range {
        Value::String(name) if RANGES.iter().any(|(known, _)| *known == name.trim()) => Ok(json!(name.trim())),
        Value::Object(members) => {
            if members.len() != 2 {
                return Err(bad());
            }
            let time = |name: &str| {
                members
                    .get(name)
                    .and_then(Value::as_str)
                    .and_then(|text| acta_cadf::parse_time(text.trim()).ok())
                    .ok_or_else(|| format!("range.{name} must be an RFC 3339 time"))
            };
            let (from, to) = (time("from")?, time("to")?);
            if from >= to {
                return Err("range.from must be before range.to".to_string());
            }
            Ok(json!({"from": acta_cadf::format_time(from), "to": acta_cadf::format_time(to)}))
        }
        _ => Err(bad()),
    }
}

/// The range of a stored graph at `now`: `[from, to)` in unix ns.
fn resolve_range(range: &Value, now: i64) -> Result<(i64, i64), ApiError> {
    if let Some(name) = range.as_str()
        && let Some((_, seconds)) = RANGES.iter().find(|(known, _)| *known == name)
    {
        return Ok((now - seconds * SECOND, now));
    }
    let time = |name: &str| range[name].as_str().and_then(|text| acta_cadf::parse_time(text).ok());
    match (time("from"), time("to")) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(ApiError::internal(format!("a stored graph has the range {range}"))),
    }
}

/// `(<filter>) (<query>) <field>:*`, with only the parts that are set ("" for all). The filter and query keep
/// the words their author typed (a user who drills into a graph sees their own query in the search bar); only
/// when that text is not a query the language takes (beyond its length limit) is the canonical form printed.
fn effective_text(filter: Option<&str>, query: &str, field: Option<&Field>) -> String {
    let typed: Vec<(&str, Query)> = filter
        .into_iter()
        .chain([query])
        .filter_map(|text| acta_query::parse(text).ok().map(|parsed| (text.trim(), parsed)))
        .filter(|(_, parsed)| !matches!(parsed, Query::All))
        .collect();
    let exists = field.map(|field| Query::Field(field.clone(), FieldCond::Exists));
    let mut texts: Vec<String> = typed.iter().map(|(text, _)| (*text).to_string()).collect();
    texts.extend(exists.iter().map(Query::to_string));
    let text = match texts.as_slice() {
        [one] => one.clone(),
        // A part without spaces is one term (it parsed alone), so it needs no parentheses to keep its meaning.
        several => several
            .iter()
            .map(|text| if text.contains(char::is_whitespace) { format!("({text})") } else { text.clone() })
            .collect::<Vec<_>>()
            .join(" "),
    };
    if acta_query::parse(&text).is_ok() {
        return text;
    }
    let parts: Vec<&Query> = typed.iter().map(|(_, parsed)| parsed).chain(exists.as_ref()).collect();
    conjunction(parts).map(|query| query.to_string()).unwrap_or_default()
}

/// The AND of queries, flattened as the parser flattens it (so that the printed text parses back to it);
/// `None` when every part matches everything.
fn conjunction<'a>(parts: impl IntoIterator<Item = &'a Query>) -> Option<Query> {
    let mut children = Vec::new();
    for part in parts {
        match part {
            Query::All => {}
            Query::And(inner) => children.extend(inner.iter().cloned()),
            other => children.push(other.clone()),
        }
    }
    match children.len() {
        0 => None,
        1 => children.pop(),
        _ => Some(Query::And(children)),
    }
}

fn board_json(board: &Board) -> Value {
    json!({
        "id": board.id,
        "account": board.account,
        "name": board.name,
        "category": board.category,
        "filter": board.filter,
        "graphs": board.graphs,
        "predefined": board.predefined,
        "created": board.created_at,
        "updated": board.updated_at,
    })
}

/// Checks a board's name, category and filter, and its graphs into their stored form.
fn check_board(board: &mut Board, graphs: Option<&[Value]>) -> Result<(), ApiError> {
    let mut problems = Problems::default();
    if let Err(error) = check_name("name", &board.name) {
        problems.add("/name".into(), error.message);
    }
    if let Err(error) = check_name("category", &board.category) {
        problems.add("/category".into(), error.message);
    }
    if let Some(filter) = &board.filter
        && let Err(error) = acta_query::parse(filter)
    {
        problems.query("/filter".into(), &error);
    }
    let stored: Vec<Value>;
    let graphs = match graphs {
        Some(graphs) => graphs,
        None => {
            stored = board.graphs.as_array().cloned().unwrap_or_default();
            &stored
        }
    };
    board.graphs = check_graphs(graphs, board.filter.as_deref(), &mut problems);
    problems.into_result()
}

async fn board_of(state: &AppState, account: &str, id: &str) -> Result<Board, ApiError> {
    state.store.meta().board(account, id).await?.ok_or_else(|| ApiError::not_found("board"))
}

/// `POST /v1/boards`.
pub(crate) async fn create_board(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewBoard>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = account_of(&principal, body.account.as_deref())?;
    if let Err(error) = principal.require("writer") {
        let audit = audit::object_action(&account, "board", "create", "", &body.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if state.store.meta().account(&account).await?.is_none() {
        return Err(ApiError::not_found("account"));
    }
    let now = now_text();
    let mut board = Board {
        id: new_id(),
        account: account.clone(),
        name: body.name.trim().to_string(),
        category: blank_to_none(body.category).unwrap_or_else(|| DEFAULT_CATEGORY.to_string()),
        filter: blank_to_none(body.filter),
        graphs: Value::Array(Vec::new()),
        predefined: false,
        created_at: now.clone(),
        updated_at: now,
    };
    check_board(&mut board, Some(&body.graphs))?;
    if let Err(error) = state.store.meta().create_board(&board).await {
        let error = ApiError::from(error);
        let audit = audit::object_action(&account, "board", "create", "", &board.name, error.status.as_u16());
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    audit::record(
        &state.store,
        &principal,
        audit::object_action(&account, "board", "create", &board.id, &board.name, 201),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(board_json(&board))))
}

/// `GET /v1/boards` (`category=` narrows).
pub(crate) async fn list_boards(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<BoardParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    let boards = state.store.meta().boards(&account, params.category.as_deref()).await?;
    let categories = categories(&state, &account).await?;
    Ok(Json(json!({"boards": boards.iter().map(board_json).collect::<Vec<_>>(), "categories": categories})))
}

async fn categories(state: &AppState, account: &str) -> Result<Vec<Value>, ApiError> {
    let categories = state.store.meta().board_categories(account).await?;
    Ok(categories.into_iter().map(|(name, boards)| json!({"name": name, "boards": boards})).collect())
}

/// `GET /v1/boards/categories`.
pub(crate) async fn list_categories(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<BoardParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    Ok(Json(json!({"categories": categories(&state, &account).await?})))
}

/// `GET /v1/boards/{id}`.
pub(crate) async fn show_board(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<BoardParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    Ok(Json(board_json(&board_of(&state, &account, &id).await?)))
}

/// `PATCH /v1/boards/{id}`.
pub(crate) async fn update_board(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<BoardParams>,
    JsonBody(body): JsonBody<BoardChange>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let mut board = board_of(&state, &account, &id).await?;
    if let Err(error) = principal.require("writer") {
        let audit = audit::object_action(&account, "board", "update", &board.id, &board.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if let Some(name) = body.name {
        board.name = name.trim().to_string();
    }
    if let Some(category) = body.category {
        board.category = blank_to_none(category).unwrap_or_else(|| DEFAULT_CATEGORY.to_string());
    }
    if let Some(filter) = body.filter {
        board.filter = blank_to_none(filter);
    }
    board.updated_at = now_text();
    // The stored graphs are checked again too: a new filter must combine with each of them.
    check_board(&mut board, body.graphs.as_deref())?;
    if let Err(error) = state.store.meta().update_board(&board).await {
        let error = ApiError::from(error);
        let audit = audit::object_action(&account, "board", "update", &board.id, &board.name, error.status.as_u16());
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    audit::record(
        &state.store,
        &principal,
        audit::object_action(&account, "board", "update", &board.id, &board.name, 200),
    )
    .await?;
    Ok(Json(board_json(&board)))
}

/// `DELETE /v1/boards/{id}`.
pub(crate) async fn delete_board(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<BoardParams>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let board = board_of(&state, &account, &id).await?;
    if let Err(error) = principal.require("writer") {
        let audit = audit::object_action(&account, "board", "delete", &board.id, &board.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if !state.store.meta().delete_board(&account, &id).await? {
        return Err(ApiError::not_found("board"));
    }
    audit::record(
        &state.store,
        &principal,
        audit::object_action(&account, "board", "delete", &board.id, &board.name, 204),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A graph of a board with its effective query, for data and drill-down.
struct Resolved {
    graph_json: Value,
    graph: Graph,
    q: String,
    from: i64,
    to: i64,
}

async fn resolve_graph(
    state: &AppState,
    principal: &Principal,
    id: &str,
    n: &str,
    params: &GraphParams,
) -> Result<Resolved, ApiError> {
    principal.require("reader")?;
    let account = account_of(principal, params.account.as_deref())?;
    let board = board_of(state, &account, id).await?;
    let graph_json = n
        .parse::<usize>()
        .ok()
        .and_then(|n| board.graphs.as_array().and_then(|graphs| graphs.get(n)).cloned())
        .ok_or_else(|| ApiError::not_found("graph"))?;
    let graph = Graph::from_json(&graph_json);
    let parse = |text: &str| acta_query::parse(text).map_err(|error| ApiError::query(&error));
    if let Some(filter) = board.filter.as_deref() {
        parse(filter)?;
    }
    parse(&graph.query)?;
    let field = graph.field.as_deref().map(aggregate::field).transpose()?;
    let q = effective_text(board.filter.as_deref(), &graph.query, field.as_ref());
    let (from, to) = resolve_range(&graph.range, crate::clock::now_ns())?;
    Ok(Resolved { graph_json, graph, q, from, to })
}

fn histogram_request<'a>(resolved: &'a Resolved, params: &'a GraphParams, top: &'a str) -> HistogramRequest<'a> {
    HistogramRequest {
        q: &resolved.q,
        from: resolved.from,
        to: resolved.to,
        interval: params.interval.as_deref(),
        tz: params.tz.as_deref(),
        by: resolved.graph.breakdown.as_ref().map(|(field, _)| field.as_str()),
        top: Some(top),
        instance: params.instance.as_deref(),
        account: params.account.as_deref(),
    }
}

/// `GET /v1/boards/{id}/graphs/{n}/data`: the histogram answer of graph `n` (from 0) with `graph` and `range`.
pub(crate) async fn graph_data(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, n)): Path<(String, String)>,
    QueryParams(params): QueryParams<GraphParams>,
) -> Result<Json<Value>, ApiError> {
    let resolved = resolve_graph(&state, &principal, &id, &n, &params).await?;
    let top = resolved.graph.breakdown.as_ref().map_or(BREAKDOWN_TOP.0, |(_, top)| *top).to_string();
    let mut answer =
        aggregate::histogram_answer(&state, &principal, &histogram_request(&resolved, &params, &top)).await?;
    if let Some(object) = answer.as_object_mut() {
        object.insert("graph".into(), resolved.graph_json.clone());
        object.insert("range".into(), resolved.graph.range.clone());
    }
    Ok(Json(answer))
}

/// `GET /v1/boards/{id}/graphs/{n}/drilldown?bucket=&value=`: the query and range that list the events of one
/// bucket of graph `n`, of one of its values (a value, the answer's `other_key`, or `missing`, also said by
/// `missing=true`, for events without the field), and how many there are.
pub(crate) async fn graph_drilldown(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, n)): Path<(String, String)>,
    QueryParams(params): QueryParams<GraphParams>,
) -> Result<Json<Value>, ApiError> {
    let resolved = resolve_graph(&state, &principal, &id, &n, &params).await?;
    let bucket_text = params.bucket.as_deref().map(str::trim).filter(|text| !text.is_empty());
    let bucket_text = bucket_text.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_bucket",
            "bucket is required: the start of a bucket of the graph's data (RFC 3339)",
        )
    })?;
    let bucket = acta_cadf::parse_time(bucket_text).map_err(|_| {
        ApiError::bad_request("invalid_bucket", format!("bucket {bucket_text:?} is not an RFC 3339 time"))
    })?;
    let (_, layout) =
        aggregate::bucket_layout(resolved.from, resolved.to, params.interval.as_deref(), params.tz.as_deref())?;
    let i = (0..layout.starts.len())
        .find(|&i| layout.starts.get(i) == Some(&bucket) || layout.bounds.get(i) == Some(&bucket))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_bucket",
                format!(
                    "{bucket_text} is not the start of a bucket of this graph now ({} buckets of {} from {} to {})",
                    layout.starts.len(),
                    layout.interval.name(),
                    acta_cadf::format_time(resolved.from),
                    acta_cadf::format_time(resolved.to)
                ),
            )
        })?;
    let (Some(&from), Some(&to), Some(&start)) = (layout.bounds.get(i), layout.bounds.get(i + 1), layout.starts.get(i))
    else {
        return Err(ApiError::internal("a bucket layout without bounds"));
    };
    let query = acta_query::parse(&resolved.q).map_err(|error| ApiError::query(&error))?;
    let missing = matches!(params.missing.as_deref().map(str::trim), Some("true" | "1"));
    let value = params.value.as_deref().filter(|value| !value.is_empty());
    let mut out = Map::new();
    let drilled = match (&resolved.graph.breakdown, value, missing) {
        (_, None, false) => resolved.q.clone(),
        (None, _, _) => {
            return Err(ApiError::bad_request("invalid_value", "this graph has no breakdown: give only the bucket"));
        }
        (Some((field_name, top)), value, missing) => {
            let field = aggregate::field(field_name)?;
            // The top values are those of the graph's whole range, as its data gives them.
            let top = top.to_string();
            let answer =
                aggregate::histogram_answer(&state, &principal, &histogram_request(&resolved, &params, &top)).await?;
            let series: Vec<String> = answer["series"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|series| series["value"].as_str().map(str::to_string))
                .collect();
            let other_key = answer["other_key"].as_str().unwrap_or("other").to_string();
            let value = value.unwrap_or("");
            let exists = Query::Field(field.clone(), FieldCond::Exists);
            let equals = |value: &str| {
                Query::Field(field.clone(), FieldCond::Equals { value: value.to_string(), case_sensitive: true })
            };
            let condition = if missing || (value == "missing" && !series.iter().any(|known| known == value)) {
                out.insert("value".into(), json!(null));
                out.insert("missing".into(), json!(true));
                Query::Not(Box::new(exists))
            } else if value == other_key && !series.iter().any(|known| known == value) {
                out.insert("value".into(), json!(other_key));
                out.insert("other".into(), json!(true));
                let mut conditions = vec![exists];
                conditions.extend(series.iter().map(|known| Query::Not(Box::new(equals(known)))));
                Query::And(conditions)
            } else {
                out.insert("value".into(), json!(value));
                equals(value)
            };
            // The graph's own text, then the value's condition: what the user typed stays recognisable.
            let text = match query {
                Query::All => condition.to_string(),
                _ if resolved.q.contains(char::is_whitespace) => format!("({}) {condition}", resolved.q),
                _ => format!("{} {condition}", resolved.q),
            };
            if acta_query::parse(&text).is_err() {
                return Err(ApiError::bad_request(
                    "invalid_value",
                    "the query listing this value's events is beyond the query language's limits",
                ));
            }
            text
        }
    };
    let parsed = acta_query::parse(&drilled).map_err(|error| ApiError::query(&error))?;
    let account = account_of(&principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, &principal, &account, params.instance.as_deref()).await?;
    let index = state.store.index().clone();
    let scopes = scopes(&instances);
    let place = crate::http::guard::search_place(&state).await?;
    let deadline = Instant::now() + state.limits.query_deadline;
    let count = tokio::task::spawn_blocking(move || {
        let _place = place;
        index.count(&scopes, &parsed, Some(from), Some(to), Some(deadline))
    })
    .await
    .map_err(ApiError::internal)??;
    out.insert("query".into(), json!(drilled));
    out.insert("from".into(), json!(acta_cadf::format_time(from)));
    out.insert("to".into(), json!(acta_cadf::format_time(to)));
    out.insert("count".into(), json!(count));
    out.insert("bucket".into(), json!(acta_cadf::format_time(start)));
    Ok(Json(Value::Object(out)))
}

/// The boards Acta gives every account: 24 hours of activity by service (`_platform`), API key activity (seed 002's board),
/// and failures by action and by initiator.
fn predefined(account: &str, now: &str) -> Vec<Board> {
    let board = |name: &str, graphs: Value| {
        let graphs: Vec<Value> = graphs.as_array().cloned().unwrap_or_default();
        let mut problems = Problems::default();
        let graphs = check_graphs(&graphs, None, &mut problems);
        debug_assert!(problems.details.is_empty(), "predefined board {name}: {:?}", problems.details);
        Board {
            id: new_id(),
            account: account.to_string(),
            name: name.to_string(),
            category: PREDEFINED_CATEGORY.to_string(),
            filter: None,
            graphs,
            predefined: true,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        }
    };
    vec![
        board(
            "Account activity",
            json!([{"title": "Events of the last 24 hours by service", "query": "",
                    "breakdown": {"field": "_platform"}, "range": "24h"}]),
        ),
        board(
            "API key activity",
            json!([{"title": "API key actions, last 60 minutes", "query": "iam-identity.user-apikey.",
                    "field": "action", "breakdown": {"field": "action"}, "range": "live"}]),
        ),
        board(
            "Failures",
            json!([
                {"title": "Failures by action", "query": "outcome:failure", "breakdown": {"field": "action"},
                 "range": "24h"},
                {"title": "Failures by initiator", "query": "outcome:failure",
                 "breakdown": {"field": "initiator.name"}, "range": "24h"},
            ]),
        ),
    ]
}

/// Gives `account` the predefined boards unless it had them before (deleted ones stay deleted).
pub(crate) async fn give_predefined(meta: &Meta, account: &str) -> Result<bool, MetaError> {
    let now = now_text();
    meta.give_predefined_boards(account, &predefined(account, &now), &now).await
}

/// At start-up: accounts that existed before boards did get the predefined ones, once.
pub(crate) async fn give_predefined_to_all(meta: &Meta) -> Result<(), MetaError> {
    for account in meta.accounts().await? {
        if give_predefined(meta, &account.id).await? {
            tracing::info!(account = %account.id, "predefined boards created");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_boards_hold_valid_graphs() {
        for board in predefined("acme", "2026-11-20T10:00:00Z") {
            let graphs = board.graphs.as_array().cloned().unwrap_or_default();
            assert!(!graphs.is_empty(), "{} has no graphs", board.name);
            let mut problems = Problems::default();
            check_graphs(&graphs, None, &mut problems);
            assert!(problems.details.is_empty(), "{}: {:?}", board.name, problems.details);
        }
    }

    #[test]
    fn effective_query_ands_filter_query_and_field() {
        let field = aggregate::field("action").ok();
        let text =
            effective_text(Some("iam-identity.user-apikey."), "outcome:failure OR severity:critical", field.as_ref());
        assert_eq!(text, "iam-identity.user-apikey. (outcome:failure OR severity:critical) action:*");
        assert_eq!(effective_text(None, "", None), "");
        assert_eq!(effective_text(Some("  "), "a b", None), "a b", "a lone part keeps its words as typed");
    }

    #[test]
    fn ranges_are_named_or_custom() {
        assert_eq!(check_range(json!("live")), Ok(json!("live")));
        assert!(check_range(json!("2d")).is_err());
        assert!(check_range(json!({"from": "2026-11-20T10:00:00Z"})).is_err());
        assert!(check_range(json!({"from": "2026-11-20T11:00:00Z", "to": "2026-11-20T10:00:00Z"})).is_err());
        let custom = check_range(json!({"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T11:00:00+01:00"}));
        assert!(custom.is_err(), "an empty range is refused");
        let custom = check_range(json!({"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T12:00:00+01:00"}));
        assert_eq!(
            custom.map(|range| range["to"].clone()),
            Ok(json!(acta_cadf::format_time(acta_cadf::parse_time("2026-11-20T11:00:00Z").unwrap_or_default())))
        );
    }
}
