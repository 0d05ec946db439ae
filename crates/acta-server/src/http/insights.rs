//! `GET /v1/insights`: the account's insights (docs/insights.md), newest first. They are events of the account
//! (`acta.insight.*`), so this is a search scoped like every read, shaped for the console's insights page: each
//! insight with its hour, count, baseline and the query listing the events behind it.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::auth::Principal;
use crate::error::{ApiError, QueryParams};
use crate::http::events::{Prepared, SearchParams, event_json, prepare, run_search};
use crate::jobs::insights::INSIGHT_QUERY;
use crate::state::AppState;

/// Insights listed unless `limit` says otherwise, and the most it may say.
const LIMIT: (usize, usize) = (100, 1000);

/// `GET /v1/insights` parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct InsightParams {
    from: Option<String>,
    to: Option<String>,
    instance: Option<String>,
    account: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/insights`.
pub(crate) async fn list_insights(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<InsightParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = match params.limit.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => LIMIT.0,
        Some(text) => text.parse::<usize>().ok().filter(|limit| (1..=LIMIT.1).contains(limit)).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_limit",
                format!("limit must be a whole number from 1 to {}, not {text:?}", LIMIT.1),
            )
        })?,
    };
    let search = SearchParams {
        q: Some(INSIGHT_QUERY.to_string()),
        from: params.from,
        to: params.to,
        instance: params.instance,
        account: params.account,
        limit: Some(limit),
        cursor: None,
        format: None,
    };
    let prepared: Prepared = prepare(&state, &principal, &search).await?;
    let hits = run_search(&state, &prepared, None, limit).await?;
    let insights: Vec<Value> =
        hits.iter().map(|hit| event_json(hit, &prepared.instances)).filter_map(|event| insight_json(&event)).collect();
    Ok(Json(json!({ "insights": insights })))
}

/// An insight event as the list shows it; `None` for an event whose action only looks like one (no
/// `requestData.insight`).
fn insight_json(event: &Value) -> Option<Value> {
    let insight = event.pointer("/requestData/insight")?.as_object()?;
    let mut out = insight.clone();
    let field = insight.get("field").and_then(Value::as_str).unwrap_or("action");
    let key = insight.get("key").and_then(Value::as_str).unwrap_or_default();
    let condition = acta_query::Query::Field(
        acta_query::Field::Path(field.split('.').map(str::to_string).collect()),
        acta_query::FieldCond::Equals { value: key.to_string(), case_sensitive: true },
    );
    let failures = insight.get("dimension").and_then(Value::as_str) == Some("action_failures");
    let query = if failures { format!("{condition} outcome:==failure") } else { condition.to_string() };
    out.insert("query".into(), json!(query));
    for (name, pointer) in
        [("id", "/_acta/id"), ("action", "/action"), ("message", "/message"), ("detected_at", "/eventTime")]
    {
        out.insert(name.into(), event.pointer(pointer).cloned().unwrap_or(Value::Null));
    }
    Some(Value::Object(out))
}
