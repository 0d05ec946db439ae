//! `GET /v1/events/query`: a query with pipes (`action:login | stats count by outcome`), answered as a table
//! `{"columns": [{"name", "type"}], "rows": [[...]], "truncated"}`; a query without pipes is answered with
//! events, as `GET /v1/events` answers it. The stages and their semantics are `acta_query::pipeline` and
//! `docs/query.md`; the execution, exact and account-scoped, is `acta_store::index` (`EventIndex::pipe`).

use std::time::Instant;

use acta_query::{PipeLimits, Table};
use acta_store::Aggregation;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::access::auth::Principal;
use crate::access::scope::{account_of, instances_in_scope, scopes};
use crate::error::{ApiError, QueryParams};
use crate::http::events::SearchParams;
use crate::state::AppState;
use crate::timespec;

/// `GET /v1/events/query`.
pub(crate) async fn query(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let text = params.q.clone().unwrap_or_default();
    let pipeline = acta_query::parse_pipeline(&text).map_err(|error| ApiError::query(&error))?;
    if pipeline.is_plain() {
        return crate::http::events::search(State(state), principal, QueryParams(params)).await;
    }
    // The range means what it means for search and count: no `from` is the whole retention.
    let range = timespec::resolve(params.from.as_deref(), params.to.as_deref(), crate::clock::now_ns())
        .map_err(|message| ApiError::bad_request("invalid_time", message))?;
    let account = account_of(&principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, &principal, &account, params.instance.as_deref()).await?;
    let span_seconds = match &pipeline.aggregation {
        Some(acta_query::Aggregation::Timechart { span_ns, .. }) => Some(span_ns / 1_000_000_000),
        _ => None,
    };
    let index = state.store.index().clone();
    let scopes = scopes(&instances);
    let place = crate::http::guard::search_place(&state).await?;
    let deadline = Instant::now() + state.limits.query_deadline;
    let table = tokio::task::spawn_blocking(move || {
        let _place = place;
        let on = Aggregation {
            scopes: &scopes,
            query: &pipeline.query,
            from: range.from,
            to: range.to,
            deadline: Some(deadline),
        };
        index.pipe(&on, &pipeline, PipeLimits::default())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(table_json(table, span_seconds)))
}

/// The answer's JSON: columns with their types, rows of cells in column order, and a timechart's span (its
/// buckets are that wide, whichever of them have events).
pub(crate) fn table_json(table: Table, span_seconds: Option<i64>) -> Value {
    let columns: Vec<Value> =
        table.columns.iter().map(|column| json!({"name": column.name, "type": column.kind.name()})).collect();
    // Moved, not copied: a week's hourly timechart by action is thousands of rows.
    let rows = Value::Array(table.rows.into_iter().map(Value::Array).collect());
    let mut answer = json!({"columns": columns, "rows": rows, "truncated": table.truncated});
    if let Some(span) = span_seconds {
        answer["span_seconds"] = json!(span);
    }
    answer
}
