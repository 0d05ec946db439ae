//! `GET /v1/events`, `/v1/events/count` and `/v1/events/{id}`: search, count and one event, and the search
//! preparation that tail and export share. Ingest is `ingest.rs`.

use std::time::Instant;

use acta_query::Query;
use acta_store::{Hit, Instance, Search, SortKey};
use axum::Json;
use axum::extract::{Path, State};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::auth::Principal;
use crate::access::scope::{account_of, instances_in_scope, scopes};
use crate::error::{ApiError, QueryParams};
use crate::state::AppState;
use crate::timespec::{self, TimeRange};

/// Search parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    pub(crate) q: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) instance: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) limit: Option<usize>,
    pub(crate) cursor: Option<String>,
    pub(crate) format: Option<String>,
}

pub(crate) struct Prepared {
    pub(crate) query: Query,
    pub(crate) range: TimeRange,
    pub(crate) instances: Vec<Instance>,
}

pub(crate) async fn prepare(
    state: &AppState,
    principal: &Principal,
    params: &SearchParams,
) -> Result<Prepared, ApiError> {
    principal.require("reader")?;
    let query = acta_query::parse(params.q.as_deref().unwrap_or("")).map_err(|error| ApiError::query(&error))?;
    let range = timespec::resolve(params.from.as_deref(), params.to.as_deref(), crate::clock::now_ns())
        .map_err(|message| ApiError::bad_request("invalid_time", message))?;
    let account = account_of(principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, principal, &account, params.instance.as_deref()).await?;
    Ok(Prepared { query, range, instances })
}

/// `GET /v1/events`.
pub(crate) async fn search(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let prepared = prepare(&state, &principal, &params).await?;
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 1000"));
    }
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let hits = run_search(&state, &prepared, after, limit).await?;
    let next_cursor = if hits.len() == limit { hits.last().map(|hit| encode_cursor(&hit.key)) } else { None };
    let mut events: Vec<Value> = hits.iter().map(|hit| event_json(hit, &prepared.instances)).collect();
    mark_reused_ids(&state, &prepared.instances, &mut events).await?;
    Ok(Json(json!({"events": events, "next_cursor": next_cursor})))
}

/// Sets `_acta.id_reused` on the events whose id names other events of their account too (a request and its
/// outcome, as keystonemiddleware sends them): search `id:"<id>"` lists them all.
async fn mark_reused_ids(state: &AppState, instances: &[Instance], events: &mut [Value]) -> Result<(), ApiError> {
    let Some(account) = instances.first().map(|instance| instance.account.clone()) else {
        return Ok(());
    };
    let ids: Vec<String> = events
        .iter()
        .filter_map(|event| event.pointer("/_acta/id").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let scope: Vec<String> = instances.iter().map(|instance| instance.id.clone()).collect();
    let index = state.store.index().clone();
    let reused = tokio::task::spawn_blocking(move || index.reused_ids(&account, &scope, &ids))
        .await
        .map_err(ApiError::internal)??;
    for event in events {
        let id = event.pointer("/_acta/id").and_then(Value::as_str).map(str::to_string);
        if let (Some(id), Some(Value::Object(acta))) = (id, event.get_mut("_acta"))
            && reused.contains(&id)
        {
            acta.insert("id_reused".to_string(), Value::Bool(true));
        }
    }
    Ok(())
}

pub(crate) async fn run_search(
    state: &AppState,
    prepared: &Prepared,
    after: Option<SortKey>,
    limit: usize,
) -> Result<Vec<Hit>, ApiError> {
    let index = state.store.index().clone();
    let scopes = scopes(&prepared.instances);
    let query = prepared.query.clone();
    let range = prepared.range;
    let place = crate::http::guard::search_place(state).await?;
    let deadline = Instant::now() + state.limits.query_deadline;
    tokio::task::spawn_blocking(move || {
        let _place = place;
        index.search(&Search {
            scopes: &scopes,
            query: &query,
            from: range.from,
            to: range.to,
            after: after.as_ref(),
            limit,
            deadline: Some(deadline),
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)
}

/// `GET /v1/events/count`.
pub(crate) async fn count(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let prepared = prepare(&state, &principal, &params).await?;
    let index = state.store.index().clone();
    let scopes = scopes(&prepared.instances);
    let place = crate::http::guard::search_place(&state).await?;
    let deadline = Instant::now() + state.limits.query_deadline;
    let count = tokio::task::spawn_blocking(move || {
        let _place = place;
        index.count(&scopes, &prepared.query, prepared.range.from, prepared.range.to, Some(deadline))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(json!({ "count": count })))
}

/// `GET /v1/events/{id}`.
pub(crate) async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, &principal, &account, params.instance.as_deref()).await?;
    let ids: Vec<String> = instances.iter().map(|instance| instance.id.clone()).collect();
    let index = state.store.index().clone();
    let account_for_lookup = account.clone();
    let record = tokio::task::spawn_blocking(move || index.find_id(&account_for_lookup, &ids, &id))
        .await
        .map_err(ApiError::internal)??
        .ok_or_else(|| ApiError::not_found("event"))?;
    let hit = Hit {
        key: SortKey { time: 0, received: record.received_ns, instance: record.instance.clone(), seq: record.seq },
        record,
    };
    let mut event = [event_json(&hit, &instances)];
    mark_reused_ids(&state, &instances, &mut event).await?;
    let [event] = event;
    Ok(Json(event))
}

/// The stored event with what Acta adds under `_acta`.
pub(crate) fn event_json(hit: &Hit, instances: &[Instance]) -> Value {
    let record = &hit.record;
    let mut value: Value = serde_json::from_slice(&record.event).unwrap_or(Value::Null);
    let region = instances.iter().find(|i| i.id == record.instance).map(|i| i.region.clone());
    if let Value::Object(object) = &mut value {
        object.insert(
            "_acta".to_string(),
            json!({
                "account": record.account,
                "instance": record.instance,
                "region": region,
                "received": acta_cadf::format_time(record.received_ns),
                "seq": record.seq,
                "id": record.event_id,
            }),
        );
    }
    value
}

pub(crate) fn encode_cursor(key: &SortKey) -> String {
    let text = serde_json::to_vec(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

pub(crate) fn decode_cursor(text: &str) -> Result<SortKey, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_request("invalid_cursor", "the cursor is not one this server gave out"))
}
