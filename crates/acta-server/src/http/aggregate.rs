//! The aggregation endpoints: `GET /v1/events/histogram` (counts over time, optionally broken down by a
//! field's top values) and `GET /v1/events/terms` (a field's top values).
//!
//! Every count is the index's, with the search's semantics (see `acta_store::index::aggregate`), so a bucket's
//! count is what `GET /v1/events/count` answers for the bucket's `from`/`to`. Each answer says how to list the
//! events behind a number (drill-down): a bucket gives its `query`, `from` and `to`; a value of the breakdown
//! gives its own `query`, the request's query ANDed with `field:===value`, to use with the bucket's range.
//! The value condition is the case-sensitive `:===` because values are counted case-sensitively (`Success`
//! and `success` are two values), and `:==` would list both.

use std::time::Instant;

use acta_query::{Field, FieldCond, Query};
use acta_store::{Aggregation, Histogram};
use axum::Json;
use axum::extract::State;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::access::auth::Principal;
use crate::access::scope::{account_of, instances_in_scope, scopes};
use crate::buckets::{self, BucketError, Interval};
use crate::error::{ApiError, QueryParams};
use crate::state::AppState;
use crate::timespec;

/// Breakdown values per histogram unless `top` says otherwise, and the most it may say.
const HISTOGRAM_TOP: (usize, usize) = (5, 100);
/// Values of a terms answer unless `top` says otherwise, and the most it may say.
const TERMS_TOP: (usize, usize) = (10, 1000);

/// Histogram parameters. Numbers are taken as text so that a bad one gets this API's error answer.
#[derive(Debug, Deserialize)]
pub(crate) struct HistogramParams {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    by: Option<String>,
    top: Option<String>,
    tz: Option<String>,
    instance: Option<String>,
    account: Option<String>,
}

/// `GET /v1/events/histogram`.
pub(crate) async fn histogram(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<HistogramParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let q = params.q.clone().unwrap_or_default();
    acta_query::parse(&q).map_err(|error| ApiError::query(&error))?;
    let now = crate::clock::now_ns();
    // A histogram needs a start: without one it covers the last 24 hours, as a board's default range does.
    let from = params.from.as_deref().filter(|text| !text.trim().is_empty()).unwrap_or("24h");
    let range = timespec::resolve(Some(from), params.to.as_deref(), now)
        .map_err(|message| ApiError::bad_request("invalid_time", message))?;
    let request = HistogramRequest {
        q: &q,
        from: range.from.unwrap_or(now),
        to: range.to.unwrap_or(now),
        interval: params.interval.as_deref(),
        tz: params.tz.as_deref(),
        by: params.by.as_deref(),
        top: params.top.as_deref(),
        instance: params.instance.as_deref(),
        account: params.account.as_deref(),
    };
    Ok(Json(histogram_answer(&state, &principal, &request).await?))
}

/// A histogram over a resolved range, as `GET /v1/events/histogram` takes it (boards ask through this too).
pub(crate) struct HistogramRequest<'a> {
    pub(crate) q: &'a str,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) interval: Option<&'a str>,
    pub(crate) tz: Option<&'a str>,
    pub(crate) by: Option<&'a str>,
    pub(crate) top: Option<&'a str>,
    pub(crate) instance: Option<&'a str>,
    pub(crate) account: Option<&'a str>,
}

/// The buckets of a range in a time zone (`tz` and `interval` as the API takes them): the zone's name and the
/// layout.
pub(crate) fn bucket_layout(
    from: i64,
    to: i64,
    interval: Option<&str>,
    tz: Option<&str>,
) -> Result<(String, buckets::Layout), ApiError> {
    let (tz_name, tz) = time_zone(tz)?;
    let interval = interval
        .filter(|text| !text.trim().is_empty())
        .map(Interval::parse)
        .transpose()
        .map_err(|message| ApiError::bad_request("invalid_interval", message))?;
    let layout = buckets::layout(from, to, interval, &tz).map_err(|error| match error {
        BucketError::TooMany { .. } => ApiError::bad_request("too_many_buckets", error.to_string()),
        BucketError::Range(message) => ApiError::bad_request("invalid_time", message),
    })?;
    Ok((tz_name, layout))
}

/// The answer of `GET /v1/events/histogram` for a request whose principal may read.
pub(crate) async fn histogram_answer(
    state: &AppState,
    principal: &Principal,
    request: &HistogramRequest<'_>,
) -> Result<Value, ApiError> {
    let q = request.q.to_string();
    let query = acta_query::parse(&q).map_err(|error| ApiError::query(&error))?;
    let (from, to) = (request.from, request.to);
    let (tz_name, layout) = bucket_layout(from, to, request.interval, request.tz)?;
    let by = request.by.filter(|text| !text.trim().is_empty()).map(field).transpose()?;
    let top = top(request.top, HISTOGRAM_TOP)?;

    let account = account_of(principal, request.account)?;
    let instances = instances_in_scope(&state.store, principal, &account, request.instance).await?;
    let index = state.store.index().clone();
    let scopes = scopes(&instances);
    let place = crate::http::guard::search_place(state).await?;
    let deadline = Instant::now() + state.limits.query_deadline;
    let (task_query, task_by, boundaries) = (query.clone(), by.clone(), layout.boundaries().to_vec());
    let histogram = tokio::task::spawn_blocking(move || {
        let _place = place;
        let on = Aggregation {
            scopes: &scopes,
            query: &task_query,
            from: Some(from),
            to: Some(to),
            deadline: Some(deadline),
        };
        index.histogram(&on, &boundaries, task_by.as_ref(), top)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(histogram_json(&HistogramAnswer {
        q: &q,
        query: &query,
        tz: &tz_name,
        layout: &layout,
        by: by.as_ref(),
        top,
        histogram,
    }))
}

struct HistogramAnswer<'a> {
    q: &'a str,
    query: &'a Query,
    tz: &'a str,
    layout: &'a buckets::Layout,
    by: Option<&'a Field>,
    top: usize,
    histogram: Histogram,
}

fn histogram_json(answer: &HistogramAnswer<'_>) -> Value {
    let layout = answer.layout;
    let histogram = &answer.histogram;
    let time = |ns: i64| acta_cadf::format_time(ns);
    let mut out = Map::new();
    out.insert("interval".into(), json!(layout.interval.name()));
    out.insert("tz".into(), json!(answer.tz));
    out.insert("query".into(), json!(answer.q));
    out.insert("from".into(), json!(time(layout.bounds.first().copied().unwrap_or_default())));
    out.insert("to".into(), json!(time(layout.bounds.last().copied().unwrap_or_default())));
    out.insert("count".into(), json!(histogram.counts.iter().sum::<u64>()));
    let breakdown = histogram.breakdown.as_ref().zip(answer.by);
    let other_key = breakdown.map(|(breakdown, _)| other_key(breakdown.top.iter().map(|series| series.value.as_str())));
    if let (Some((breakdown, field)), Some(other_key)) = (breakdown, &other_key) {
        out.insert("field".into(), json!(field.to_string()));
        out.insert("top".into(), json!(answer.top));
        let series: Vec<Value> = breakdown
            .top
            .iter()
            .map(|series| {
                json!({"value": series.value, "count": series.total,
                       "query": value_query(answer.q, answer.query, field, &series.value)})
            })
            .collect();
        out.insert("series".into(), Value::Array(series));
        out.insert("other".into(), json!(breakdown.other.iter().sum::<u64>()));
        out.insert("missing".into(), json!(breakdown.missing.iter().sum::<u64>()));
        out.insert("distinct".into(), json!(breakdown.distinct));
        out.insert("other_key".into(), json!(other_key));
    }
    let buckets: Vec<Value> = histogram
        .counts
        .iter()
        .enumerate()
        .map(|(i, count)| {
            let mut bucket = Map::new();
            bucket.insert("start".into(), json!(time(layout.starts.get(i).copied().unwrap_or_default())));
            bucket.insert("from".into(), json!(time(layout.bounds.get(i).copied().unwrap_or_default())));
            bucket.insert("to".into(), json!(time(layout.bounds.get(i + 1).copied().unwrap_or_default())));
            bucket.insert("count".into(), json!(count));
            bucket.insert("query".into(), json!(answer.q));
            if let (Some((breakdown, _)), Some(other_key)) = (breakdown, &other_key) {
                let mut by = Map::new();
                for series in &breakdown.top {
                    by.insert(series.value.clone(), json!(series.counts.get(i).copied().unwrap_or(0)));
                }
                by.insert(other_key.clone(), json!(breakdown.other.get(i).copied().unwrap_or(0)));
                bucket.insert("by".into(), Value::Object(by));
                bucket.insert("missing".into(), json!(breakdown.missing.get(i).copied().unwrap_or(0)));
            }
            Value::Object(bucket)
        })
        .collect();
    out.insert("buckets".into(), Value::Array(buckets));
    Value::Object(out)
}

/// Terms parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct TermsParams {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    field: Option<String>,
    top: Option<String>,
    instance: Option<String>,
    account: Option<String>,
}

/// `GET /v1/events/terms`.
pub(crate) async fn terms(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<TermsParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let q = params.q.clone().unwrap_or_default();
    let query = acta_query::parse(&q).map_err(|error| ApiError::query(&error))?;
    // The range means what it means for search and count: no `from` is the whole retention.
    let range = timespec::resolve(params.from.as_deref(), params.to.as_deref(), crate::clock::now_ns())
        .map_err(|message| ApiError::bad_request("invalid_time", message))?;
    let name = params.field.as_deref().filter(|text| !text.trim().is_empty());
    let by = field(name.ok_or_else(|| ApiError::bad_request("invalid_field", "field is required"))?)?;
    let top = top(params.top.as_deref(), TERMS_TOP)?;

    let account = account_of(&principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, &principal, &account, params.instance.as_deref()).await?;
    let index = state.store.index().clone();
    let scopes = scopes(&instances);
    let place = crate::http::guard::search_place(&state).await?;
    let deadline = Instant::now() + state.limits.query_deadline;
    let (task_query, task_by) = (query.clone(), by.clone());
    let terms = tokio::task::spawn_blocking(move || {
        let _place = place;
        let on = Aggregation {
            scopes: &scopes,
            query: &task_query,
            from: range.from,
            to: range.to,
            deadline: Some(deadline),
        };
        index.terms(&on, &task_by, top)
    })
    .await
    .map_err(ApiError::internal)??;
    let values: Vec<Value> = terms
        .values
        .iter()
        .map(|(value, count)| json!({"value": value, "count": count, "query": value_query(&q, &query, &by, value)}))
        .collect();
    Ok(Json(json!({
        "field": by.to_string(),
        "query": q,
        "from": range.from.map(acta_cadf::format_time),
        "to": range.to.map(acta_cadf::format_time),
        "count": terms.total,
        "values": values,
        "other": terms.other,
        "missing": terms.missing,
        "distinct": terms.distinct,
    })))
}

/// A field as the query language names it (`initiator.name`, `level`, `_platform`, `target.typeURI_str`):
/// exactly the names that can stand before `:*` in a query, so that the drill-down query can name it too.
pub(crate) fn field(name: &str) -> Result<Field, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_field",
            format!(
                "{name:?} is not a field name: use a dotted path into the event (initiator.name, requestData.region) or _platform, _account, _instance, _region, _received"
            ),
        )
    };
    let name = name.trim();
    if name.len() > 256 || name.chars().any(char::is_control) {
        return Err(invalid());
    }
    match acta_query::parse(&format!("{name}:*")) {
        Ok(Query::Field(field, FieldCond::Exists)) => Ok(field),
        _ => Err(invalid()),
    }
}

fn top(text: Option<&str>, (default, most): (usize, usize)) -> Result<usize, ApiError> {
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return Ok(default);
    };
    text.trim().parse::<usize>().ok().filter(|top| *top <= most).ok_or_else(|| {
        ApiError::bad_request("invalid_top", format!("top must be a whole number from 0 to {most}, not {text:?}"))
    })
}

fn time_zone(name: Option<&str>) -> Result<(String, TimeZone), ApiError> {
    let Some(name) = name.map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(("UTC".to_string(), TimeZone::UTC));
    };
    TimeZone::get(name).map(|tz| (name.to_string(), tz)).map_err(|_| {
        ApiError::bad_request(
            "invalid_timezone",
            format!("tz {name:?} is not an IANA time zone name (UTC, Europe/Berlin, America/New_York)"),
        )
    })
}

/// The query listing the events of `query` (typed as `text`) whose `field` has exactly `value`: the user's words
/// followed by the condition, so the search bar shows what they typed; the canonical text when the words would
/// not say the same thing; `None` when the language cannot say it faithfully (no text parses back to the query).
pub(crate) fn value_query(text: &str, query: &Query, field: &Field, value: &str) -> Option<String> {
    let condition = Query::Field(field.clone(), FieldCond::Equals { value: value.to_string(), case_sensitive: true });
    let combined = match query {
        Query::All => condition.clone(),
        // The parser flattens nested ANDs, so the condition joins the AND for the text to parse back equal.
        Query::And(children) => Query::And(children.iter().cloned().chain([condition.clone()]).collect()),
        other => Query::And(vec![other.clone(), condition.clone()]),
    };
    let text = text.trim();
    let typed = match query {
        Query::All => condition.to_string(),
        _ if text.contains(char::is_whitespace) => format!("({text}) {condition}"),
        _ => format!("{text} {condition}"),
    };
    [typed, combined.to_string()]
        .into_iter()
        .find(|candidate| acta_query::parse(candidate).ok().as_ref() == Some(&combined))
}

/// The key of the remainder in a bucket's `by`: `other`, unless a top value is itself `other`.
pub(crate) fn other_key<'a>(values: impl Iterator<Item = &'a str> + Clone) -> String {
    let mut key = "other".to_string();
    while values.clone().any(|value| value == key) {
        key = format!("({key})");
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_the_query_languages() {
        assert_eq!(field("action").ok(), Some(Field::Path(vec!["action".into()])));
        assert_eq!(field("level").ok(), Some(Field::Path(vec!["severity".into()])));
        assert_eq!(field("target.typeURI_str").ok(), Some(Field::Path(vec!["target".into(), "typeURI".into()])));
        assert_eq!(field("_platform").ok(), Some(Field::Platform));
        for bad in ["", "a..b", ".a", "a b", "(a", "-a", "a:b", "\"a\"", "a\u{1}b"] {
            assert!(field(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn value_query_ands_a_case_sensitive_equality() {
        let query = acta_query::parse("iam-identity.user-apikey.").unwrap_or(Query::All);
        let field = Field::Path(vec!["action".into()]);
        let text = value_query("iam-identity.user-apikey.", &query, &field, "iam-identity.user-apikey.create");
        assert_eq!(text.as_deref(), Some("iam-identity.user-apikey. action:===iam-identity.user-apikey.create"));
        let or = acta_query::parse("a OR b").unwrap_or(Query::All);
        let text = value_query("a OR b", &or, &Field::Path(vec!["outcome".into()]), "has \"quotes\" and spaces");
        assert!(text.is_some_and(|text| text.starts_with("(a OR b) outcome:===")));
    }

    #[test]
    fn other_key_avoids_a_value_named_other() {
        assert_eq!(other_key(["a", "b"].into_iter()), "other");
        assert_eq!(other_key(["other", "(other)"].into_iter()), "((other))");
    }
}
