//! Timelines: `GET /v1/investigate/principal` (what an initiator did, grouped by action, failures first) and
//! `GET /v1/investigate/resource` (what was done to a target, oldest first).
//!
//! A principal is the events whose `initiator.id` or `initiator.name` is exactly the given text; a resource,
//! those whose `target.id` or `target.name` is. The condition is a query of the search language, given back as
//! `query`, and every number is the index's count of that query (the aggregations' and the search's semantics,
//! scoped to the key's account and instances as every read is), so following `query` to the search lists
//! exactly the events counted. A failure is an event whose `outcome` is `failure` (any case: CADF's value).
//! The service of an action is its first dotted segment (`iam-identity` for `iam-identity.apikey.create`),
//! the naming IBM Cloud's and most CADF producers' actions follow; an action without a dot is its own service.

use std::time::Instant;

use acta_query::{Field, FieldCond, Query};
use acta_store::{Aggregation, EventIndex, Hit, InstanceScope, Search, SortKey};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::auth::Principal;
use crate::access::scope::{account_of, instances_in_scope, scopes};
use crate::error::{ApiError, QueryParams};
use crate::http::aggregate::value_query;
use crate::http::events::{decode_cursor, encode_cursor};
use crate::state::AppState;
use crate::timespec::{self, TimeRange};

/// The actions a principal's timeline lists; the rest are counted in `other_actions`.
const ACTIONS_TOP: usize = 100;
/// The addresses, agents and targets a principal's timeline lists.
const VALUES_TOP: usize = 20;
/// The longest id taken: ids and names are short; a longer text is a mistake, not a principal.
const MAX_ID_CHARS: usize = 1024;

/// Parameters of both timelines. `limit` is taken as text so that a bad one gets this API's error answer.
#[derive(Debug, Deserialize)]
pub(crate) struct InvestigateParams {
    id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    instance: Option<String>,
    account: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// What both timelines start from: the condition, the range and where to look.
struct Subject {
    id: String,
    query: Query,
    text: String,
    range: TimeRange,
    scopes: Vec<InstanceScope>,
}

/// The events whose `{side}.id` or `{side}.name` is exactly `id`.
fn subject_query(side: &str, id: &str) -> Query {
    let equals = |field: &str| {
        Query::Field(
            Field::from_name(&format!("{side}.{field}")),
            FieldCond::Equals { value: id.to_string(), case_sensitive: true },
        )
    };
    Query::Or(vec![equals("id"), equals("name")])
}

async fn subject(
    state: &AppState,
    principal: &Principal,
    params: &InvestigateParams,
    side: &str,
) -> Result<Subject, ApiError> {
    principal.require("reader")?;
    let id = params.id.as_deref().unwrap_or_default();
    if id.trim().is_empty() {
        return Err(ApiError::bad_request("invalid_id", format!("id is required: the {side}'s id or name")));
    }
    if id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_id",
            format!("id must be at most {MAX_ID_CHARS} characters without control characters"),
        ));
    }
    let query = subject_query(side, id);
    let text = query.to_string();
    // The answer's `query` must list what was counted; the printer quotes values so that this holds.
    if acta_query::parse(&text).ok().as_ref() != Some(&query) {
        return Err(ApiError::bad_request("invalid_id", format!("the search language cannot name the id {id:?}")));
    }
    let range = timespec::resolve(params.from.as_deref(), params.to.as_deref(), crate::clock::now_ns())
        .map_err(|message| ApiError::bad_request("invalid_time", message))?;
    let account = account_of(principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, principal, &account, params.instance.as_deref()).await?;
    Ok(Subject { id: id.to_string(), query, text, range, scopes: scopes(&instances) })
}

/// `GET /v1/investigate/principal`.
pub(crate) async fn principal(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<InvestigateParams>,
) -> Result<Json<Value>, ApiError> {
    let subject = subject(&state, &principal, &params, "initiator").await?;
    let index = state.store.index().clone();
    let place = crate::http::guard::search_place(&state).await?;
    let deadline = Instant::now() + state.limits.query_deadline;
    let answer = tokio::task::spawn_blocking(move || {
        let _place = place;
        principal_timeline(&index, &subject, deadline)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(answer))
}

fn principal_timeline(index: &EventIndex, subject: &Subject, deadline: Instant) -> Result<Value, ApiError> {
    let action = Field::from_name("action");
    let all = index.terms(&aggregation(subject, &subject.query, deadline), &action, ACTIONS_TOP)?;
    let failed_query = and(&subject.query, failure());
    let failed = index.terms(&aggregation(subject, &failed_query, deadline), &action, ACTIONS_TOP)?;
    let (first_seen, last_seen) = seen(index, subject, &subject.query, deadline)?;

    let mut actions = Vec::with_capacity(all.values.len());
    for (name, count) in &all.values {
        let failures = failed.values.iter().find(|(value, _)| value == name).map_or(0, |(_, count)| *count);
        let query = and(&subject.query, equals(&action, name));
        let (first, last) = seen(index, subject, &query, deadline)?;
        actions.push((failures, *count, name.clone(), first, last));
    }
    // Failures first: what went wrong is what an investigation looks for; then the most frequent.
    actions.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let actions: Vec<Value> = actions
        .into_iter()
        .map(|(failures, count, name, first, last)| {
            json!({
                "service": service(&name),
                "action": name,
                "count": count,
                "failures": failures,
                "first_seen": first.map(acta_cadf::format_time),
                "last_seen": last.map(acta_cadf::format_time),
                "query": value_query(&subject.text, &subject.query, &action, &name),
            })
        })
        .collect();
    let values = |name: &str| -> Result<Value, ApiError> {
        let field = Field::from_name(name);
        let terms = index.terms(&aggregation(subject, &subject.query, deadline), &field, VALUES_TOP)?;
        Ok(Value::Array(
            terms
                .values
                .iter()
                .map(|(value, count)| {
                    json!({"value": value, "count": count,
                           "query": value_query(&subject.text, &subject.query, &field, value)})
                })
                .collect(),
        ))
    };
    Ok(json!({
        "principal": subject.id,
        "query": subject.text,
        "from": subject.range.from.map(acta_cadf::format_time),
        "to": subject.range.to.map(acta_cadf::format_time),
        "total": all.total,
        "failures": failed.total,
        "failures_query": failed_query.to_string(),
        "first_seen": first_seen.map(acta_cadf::format_time),
        "last_seen": last_seen.map(acta_cadf::format_time),
        "actions": actions,
        "other_actions": all.other,
        "addresses": values("initiator.host.address")?,
        "agents": values("initiator.host.agent")?,
        "targets": values("target.id")?,
    }))
}

fn aggregation<'a>(subject: &'a Subject, query: &'a Query, deadline: Instant) -> Aggregation<'a> {
    Aggregation {
        scopes: &subject.scopes,
        query,
        from: subject.range.from,
        to: subject.range.to,
        deadline: Some(deadline),
    }
}

/// The eventTime of the oldest and of the newest event of `query` in the subject's range.
fn seen(
    index: &EventIndex,
    subject: &Subject,
    query: &Query,
    deadline: Instant,
) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let search = Search {
        scopes: &subject.scopes,
        query,
        from: subject.range.from,
        to: subject.range.to,
        after: None,
        limit: 1,
        deadline: Some(deadline),
    };
    let first = index.search_oldest_first(&search)?.first().map(|hit| hit.key.time);
    let last = index.search(&search)?.first().map(|hit| hit.key.time);
    Ok((first, last))
}

fn failure() -> Query {
    Query::Field(Field::from_name("outcome"), FieldCond::Equals { value: "failure".to_string(), case_sensitive: false })
}

fn equals(field: &Field, value: &str) -> Query {
    Query::Field(field.clone(), FieldCond::Equals { value: value.to_string(), case_sensitive: true })
}

fn and(query: &Query, condition: Query) -> Query {
    Query::And(vec![query.clone(), condition])
}

/// The service an action belongs to (see the module documentation).
fn service(action: &str) -> &str {
    action.split_once('.').map_or(action, |(service, _)| service)
}

/// `GET /v1/investigate/resource`.
pub(crate) async fn resource(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<InvestigateParams>,
) -> Result<Json<Value>, ApiError> {
    let subject = subject(&state, &principal, &params, "target").await?;
    let limit = match params.limit.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => 50,
        Some(text) => text.parse::<usize>().ok().filter(|limit| (1..=1000).contains(limit)).ok_or_else(|| {
            ApiError::bad_request("invalid_limit", format!("limit must be a whole number from 1 to 1000, not {text:?}"))
        })?,
    };
    let after = params.cursor.as_deref().filter(|text| !text.is_empty()).map(decode_cursor).transpose()?;
    let index = state.store.index().clone();
    let place = crate::http::guard::search_place(&state).await?;
    let deadline = Instant::now() + state.limits.query_deadline;
    let answer = tokio::task::spawn_blocking(move || {
        let _place = place;
        resource_history(&index, &subject, after, limit, deadline)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(answer))
}

fn resource_history(
    index: &EventIndex,
    subject: &Subject,
    after: Option<SortKey>,
    limit: usize,
    deadline: Instant,
) -> Result<Value, ApiError> {
    let total = index.count(&subject.scopes, &subject.query, subject.range.from, subject.range.to, Some(deadline))?;
    let hits = index.search_oldest_first(&Search {
        scopes: &subject.scopes,
        query: &subject.query,
        from: subject.range.from,
        to: subject.range.to,
        after: after.as_ref(),
        limit,
        deadline: Some(deadline),
    })?;
    let next_cursor = if hits.len() == limit { hits.last().map(|hit| encode_cursor(&hit.key)) } else { None };
    Ok(json!({
        "resource": subject.id,
        "query": subject.text,
        "from": subject.range.from.map(acta_cadf::format_time),
        "to": subject.range.to.map(acta_cadf::format_time),
        "total": total,
        "events": hits.iter().map(history_row).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    }))
}

/// One event of a resource's history: who did what, and how it went.
fn history_row(hit: &Hit) -> Value {
    let event: Value = serde_json::from_slice(&hit.record.event).unwrap_or(Value::Null);
    let text = |pointer: &str| event.pointer(pointer).filter(|value| !value.is_null()).cloned();
    json!({
        "id": hit.record.event_id,
        "eventTime": acta_cadf::format_time(hit.key.time),
        "initiator": {"id": text("/initiator/id"), "name": text("/initiator/name")},
        "target": {"id": text("/target/id"), "name": text("/target/name")},
        "action": text("/action"),
        "outcome": text("/outcome"),
        "reasonCode": text("/reason/reasonCode"),
    })
}
