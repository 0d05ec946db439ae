//! The events endpoints: ingest, search, count, one event, live tail, export (`format=bundle` is in
//! `integrity.rs`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use acta_cadf::{BodyFormat, Event, Mode, Options};
use acta_query::{Compiled, EventView, PreparedEvent, Query};
use acta_store::{Hit, Instance, InstanceScope, Search, SortKey, Stored};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Principal;
use crate::error::{ApiError, QueryParams};
use crate::state::{AppState, LiveEvent};
use crate::timespec::{self, TimeRange};

/// The account a request acts in: the key's own; the platform admin names one (`account=`) or gets `default`.
pub(crate) fn account_of(principal: &Principal, requested: Option<&str>) -> Result<String, ApiError> {
    match (&principal.key.account, requested) {
        (Some(own), Some(requested)) if own != requested => Err(ApiError::not_found("account")),
        (Some(own), _) => Ok(own.clone()),
        (None, Some(requested)) => Ok(requested.to_string()),
        (None, None) => Ok(crate::DEFAULT_ACCOUNT.to_string()),
    }
}

/// The instances of the account the key may read, narrowed to `requested` when given.
pub(crate) async fn instances_in_scope(
    state: &AppState,
    principal: &Principal,
    account: &str,
    requested: Option<&str>,
) -> Result<Vec<Instance>, ApiError> {
    let mut instances = state.store.meta().instances(account).await?;
    if let Some(own) = &principal.key.instance {
        instances.retain(|instance| &instance.id == own);
    }
    if let Some(requested) = requested.filter(|text| !text.is_empty()) {
        instances.retain(|instance| instance.id == requested || instance.name == requested);
        if instances.is_empty() {
            return Err(ApiError::not_found("instance"));
        }
    }
    Ok(instances)
}

pub(crate) fn scopes(instances: &[Instance]) -> Vec<InstanceScope> {
    instances
        .iter()
        .map(|instance| InstanceScope {
            instance: instance.id.clone(),
            account: instance.account.clone(),
            region: instance.region.clone(),
        })
        .collect()
}

/// Ingest parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct IngestParams {
    account: Option<String>,
    /// Stores every event of the request in this instance (id or name), instead of routing each by its
    /// `logSourceCRN` region.
    instance: Option<String>,
}

/// The header of `POST /v1/events` that gives ids to events whose bytes carry none: one entry per event of the
/// body, in order, separated by commas; an empty entry gives none. `acta import` sends the ids an archive's log
/// envelopes recorded, so a re-imported event keeps its id without a byte of it changing.
pub(crate) const EVENT_IDS_HEADER: &str = "x-acta-event-ids";

/// The longest id the header may give (the log envelope holds up to 64 KiB; ids Acta assigns are 36).
const MAX_GIVEN_ID_BYTES: usize = 128;

/// The ids of [`EVENT_IDS_HEADER`], one per event of a body of `count` events.
fn given_ids(headers: &HeaderMap, count: usize) -> Result<Option<Vec<Option<String>>>, ApiError> {
    let Some(value) = headers.get(EVENT_IDS_HEADER) else {
        return Ok(None);
    };
    let invalid = |message: String| ApiError::bad_request("invalid_event_ids", message);
    let text = value.to_str().map_err(|_| invalid(format!("{EVENT_IDS_HEADER} is not ASCII")))?;
    let entries: Vec<&str> = text.split(',').map(str::trim).collect();
    if entries.len() != count {
        return Err(invalid(format!(
            "{EVENT_IDS_HEADER} gives {} entries for {count} events: give one per event, in order (empty for none)",
            entries.len()
        )));
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            if entry.is_empty() {
                return Ok(None);
            }
            let printable = entry.bytes().all(|byte| byte.is_ascii_graphic());
            if entry.len() > MAX_GIVEN_ID_BYTES || !printable {
                return Err(invalid(format!(
                    "{EVENT_IDS_HEADER} entry {index}: an id is 1 to {MAX_GIVEN_ID_BYTES} printable ASCII characters"
                )));
            }
            Ok(Some(entry.to_owned()))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Where the events of a request go.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    /// Each by its `logSourceCRN` region, else the key's instance, else the account's global one.
    Routed { key_instance: Option<&'a str> },
    /// All into this instance (its id) of the account.
    Instance(&'a str),
}

/// `POST /v1/events`.
pub(crate) async fn ingest(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<IngestParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    principal.require("ingest")?;
    refuse_when_index_behind(&state)?;
    let is_ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-ndjson") || value.starts_with("application/ndjson"));
    let format = if is_ndjson { BodyFormat::Ndjson } else { BodyFormat::Json };
    let now = crate::now_ns();
    let mut parsed = acta_cadf::parse_batch(&body, format, &Options::default(), now)
        .map_err(|error| ApiError::bad_request("invalid_body", error.to_string()))?;
    if let Some(ids) = given_ids(&headers, parsed.len())? {
        give_ids(&mut parsed, ids);
    }
    let instance = params.instance.as_deref().filter(|instance| !instance.is_empty());
    let outcome = ingest_events(&state, &principal, params.account.as_deref(), instance, parsed, now).await?;
    let status = if outcome.accepted == 0 && outcome.rejected > 0 { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok((status, Json(outcome.to_json())).into_response())
}

/// Refuses an ingest request while the index is too far behind the log, before anything of it is stored.
pub(crate) fn refuse_when_index_behind(state: &AppState) -> Result<(), ApiError> {
    if state.store.index().lag() <= state.limits.max_index_lag {
        return Ok(());
    }
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "index_behind",
        "the index is behind the log; retry shortly (nothing of this request was stored)",
    );
    error.retry_after = Some(1);
    Err(error)
}

/// Gives ids to the events that have none of their own: the bytes stay the authority on an event's id.
pub(crate) fn give_ids(parsed: &mut [Result<Event, Vec<acta_cadf::Problem>>], ids: Vec<Option<String>>) {
    for (result, id) in parsed.iter_mut().zip(ids) {
        if let (Ok(event), Some(id)) = (result, id)
            && event.id.is_none()
        {
            event.id = Some(id);
        }
    }
}

/// Stores parsed events in the named instance when one is given, else routes each (see [`ingest_parsed`]).
pub(crate) async fn ingest_events(
    state: &AppState,
    principal: &Principal,
    requested_account: Option<&str>,
    requested_instance: Option<&str>,
    parsed: Vec<Result<Event, Vec<acta_cadf::Problem>>>,
    now: i64,
) -> Result<BatchOutcome, ApiError> {
    let outcome = match requested_instance {
        Some(instance) => ingest_into(state, principal, requested_account, instance, parsed, now).await?,
        None => ingest_parsed(state, principal, requested_account, parsed, now).await?,
    };
    state.metrics.count_ingest(outcome.accepted, outcome.rejected, outcome.duplicates);
    Ok(outcome)
}

/// Stores parsed events in one named instance (`POST /v1/events?instance=`). An account's key names an
/// instance of its account (another account's is not found; a key narrowed to another instance is refused);
/// the platform admin names any instance, in `account` when given.
async fn ingest_into(
    state: &AppState,
    principal: &Principal,
    requested_account: Option<&str>,
    requested_instance: &str,
    parsed: Vec<Result<Event, Vec<acta_cadf::Problem>>>,
    now: i64,
) -> Result<BatchOutcome, ApiError> {
    let candidates = match (&principal.key.account, requested_account) {
        (None, None) => state.store.meta().all_instances().await?,
        _ => state.store.meta().instances(&account_of(principal, requested_account)?).await?,
    };
    // Ids are unique everywhere, names only within an account.
    let by_id = candidates.iter().find(|instance| instance.id == requested_instance);
    let by_name: Vec<&Instance> = candidates.iter().filter(|instance| instance.name == requested_instance).collect();
    let target = match (by_id, by_name.as_slice()) {
        (Some(instance), _) | (None, &[instance]) => instance.clone(),
        (None, []) => return Err(ApiError::not_found("instance")),
        (None, _) => {
            return Err(ApiError::bad_request(
                "ambiguous_instance",
                format!("instances of several accounts are named {requested_instance}: name it by id, or pass account"),
            ));
        }
    };
    if let Some(own) = &principal.key.instance
        && own != &target.id
    {
        return Err(ApiError::forbidden(format!(
            "this key may only store events in instance {own}, not {}",
            target.id
        )));
    }
    let instances = state.store.meta().instances(&target.account).await?;
    let items: Vec<IndexedEvent> = parsed.into_iter().enumerate().collect();
    let total = items.len();
    let part = store_batch_in(state, &target.account, &instances, Target::Instance(&target.id), items, now).await?;
    let mut outcome = BatchOutcome {
        accepted: part.accepted,
        rejected: part.rejected,
        duplicates: part.duplicates,
        results: vec![Value::Null; total],
    };
    for (index, result) in part.results {
        outcome.results[index] = result;
    }
    Ok(outcome)
}

/// Stores parsed events in their accounts. An account's key stores in its account, whatever `logSourceCRN`
/// says; the platform admin names an account, or each event goes to the account of its `logSourceCRN`
/// (`a/<id>`, as IBM delivered events to the resource's owner), or to `default` when it names none.
pub(crate) async fn ingest_parsed(
    state: &AppState,
    principal: &Principal,
    requested_account: Option<&str>,
    parsed: Vec<Result<Event, Vec<acta_cadf::Problem>>>,
    now: i64,
) -> Result<BatchOutcome, ApiError> {
    let total = parsed.len();
    let mut outcome = BatchOutcome { accepted: 0, rejected: 0, duplicates: 0, results: vec![Value::Null; total] };
    let mut by_account: HashMap<String, Vec<IndexedEvent>> = HashMap::new();
    let fixed_account = match (&principal.key.account, requested_account) {
        (Some(_), _) | (None, Some(_)) => Some(account_of(principal, requested_account)?),
        (None, None) => None,
    };
    for (index, result) in parsed.into_iter().enumerate() {
        let account = match (&fixed_account, &result) {
            (Some(account), _) => account.clone(),
            (None, Ok(event)) => match event.crn.as_ref().and_then(|crn| crn.account.clone()) {
                Some(account) => account,
                None => crate::DEFAULT_ACCOUNT.to_string(),
            },
            (None, Err(_)) => crate::DEFAULT_ACCOUNT.to_string(),
        };
        by_account.entry(account).or_default().push((index, result));
    }
    for (account, items) in by_account {
        let instances = state.store.meta().instances(&account).await?;
        if instances.is_empty() {
            let known = state.store.meta().account(&account).await?.is_some();
            if fixed_account.is_some() && !known {
                return Err(ApiError::not_found("account"));
            }
            let reason = if known {
                format!("account {account} has no instance to store events in")
            } else {
                format!("logSourceCRN names account {account}, which does not exist")
            };
            for (index, _) in items {
                outcome.rejected += 1;
                outcome.results[index] = rejection(
                    index,
                    &[acta_cadf::Problem { pointer: "/logSourceCRN".to_string(), message: reason.clone() }],
                );
            }
            continue;
        }
        let part = store_batch(state, &account, &instances, principal.key.instance.as_deref(), items, now).await?;
        outcome.accepted += part.accepted;
        outcome.rejected += part.rejected;
        outcome.duplicates += part.duplicates;
        for (index, result) in part.results {
            outcome.results[index] = result;
        }
    }
    Ok(outcome)
}

/// An event of a request, by its position, as parsed.
pub(crate) type IndexedEvent = (usize, Result<Event, Vec<acta_cadf::Problem>>);

/// The fate of each event of a batch.
pub(crate) struct BatchOutcome {
    pub(crate) accepted: usize,
    pub(crate) rejected: usize,
    pub(crate) duplicates: usize,
    pub(crate) results: Vec<Value>,
}

impl BatchOutcome {
    fn to_json(&self) -> Value {
        json!({
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "results": self.results,
        })
    }
}

/// What became of the events of one account, by their index in the request.
pub(crate) struct AccountOutcome {
    pub(crate) accepted: usize,
    pub(crate) rejected: usize,
    pub(crate) duplicates: usize,
    pub(crate) results: Vec<(usize, Value)>,
}

/// Routes to instances, validates per instance mode, stores, publishes.
pub(crate) async fn store_batch(
    state: &AppState,
    account: &str,
    instances: &[Instance],
    key_instance: Option<&str>,
    items: Vec<IndexedEvent>,
    now: i64,
) -> Result<AccountOutcome, ApiError> {
    store_batch_in(state, account, instances, Target::Routed { key_instance }, items, now).await
}

/// [`store_batch`] to a [`Target`]. `instances` are all of the account's: an id stored in any of them is a
/// duplicate, whichever instance the batch goes to.
pub(crate) async fn store_batch_in(
    state: &AppState,
    account: &str,
    instances: &[Instance],
    target: Target<'_>,
    items: Vec<IndexedEvent>,
    now: i64,
) -> Result<AccountOutcome, ApiError> {
    let mut results = Vec::with_capacity(items.len());
    let mut groups: HashMap<String, Vec<(usize, Event)>> = HashMap::new();
    let mut rejected = 0;
    for (index, result) in items {
        let event = match result {
            Ok(event) => event,
            Err(problems) => {
                rejected += 1;
                results.push((index, rejection(index, &problems)));
                continue;
            }
        };
        let instance = match target {
            Target::Routed { key_instance } => route(instances, key_instance, &event),
            Target::Instance(id) => match instances.iter().find(|instance| instance.id == id) {
                Some(instance) => instance,
                None => return Err(ApiError::not_found("instance")),
            },
        };
        if instance.strict {
            let strict = Options { mode: Mode::Strict, ..Options::default() };
            if let Err(problems) = acta_cadf::parse_event(&event.raw, &strict, now) {
                rejected += 1;
                results.push((index, rejection(index, &problems)));
                continue;
            }
        }
        groups.entry(instance.id.clone()).or_default().push((index, event));
    }
    let all_instances: Vec<String> = instances.iter().map(|instance| instance.id.clone()).collect();
    let (mut accepted, mut duplicates) = (0, 0);
    for (instance_id, members) in groups {
        let region = instances.iter().find(|i| i.id == instance_id).map(|i| i.region.clone()).unwrap_or_default();
        let (positions, events): (Vec<usize>, Vec<Event>) = members.into_iter().unzip();
        let values: Vec<(Arc<str>, Arc<Value>)> = events
            .iter()
            .map(|event| (Arc::from(String::from_utf8_lossy(&event.raw).as_ref()), Arc::new(event.value.clone())))
            .collect();
        let stored = state.store.ingest(account, &instance_id, &all_instances, events).await?;
        for ((position, outcome), (raw, value)) in positions.into_iter().zip(stored).zip(values) {
            match outcome {
                Stored::New { id, seq, received_ns } => {
                    accepted += 1;
                    results.push((position, json!({"index": position, "status": "stored", "id": id})));
                    let _ = state.live.send(Arc::new(LiveEvent {
                        account: account.to_string(),
                        instance: instance_id.clone(),
                        region: region.clone(),
                        id,
                        seq,
                        received_ns,
                        raw,
                        value,
                    }));
                }
                Stored::Duplicate { id } => {
                    duplicates += 1;
                    results.push((position, json!({"index": position, "status": "duplicate", "id": id})));
                }
            }
        }
    }
    Ok(AccountOutcome { accepted, rejected, duplicates, results })
}

fn rejection(index: usize, problems: &[acta_cadf::Problem]) -> Value {
    let errors: Vec<Value> =
        problems.iter().map(|problem| json!({"pointer": problem.pointer, "message": problem.message})).collect();
    json!({"index": index, "status": "rejected", "errors": errors})
}

/// The instance an event goes to: the account's instance in the region of its `logSourceCRN`; `global`
/// events to the global instance; otherwise the key's instance, else the global one, else the first.
fn route<'a>(instances: &'a [Instance], key_instance: Option<&str>, event: &Event) -> &'a Instance {
    let location = event.crn.as_ref().map(|crn| crn.location.as_str());
    let by_region = location.and_then(|location| {
        if location == "global" {
            instances.iter().find(|instance| instance.global)
        } else {
            instances.iter().find(|instance| instance.region == location && !instance.global)
        }
    });
    let fallback = || {
        key_instance
            .and_then(|own| instances.iter().find(|instance| instance.id == own))
            .or_else(|| instances.iter().find(|instance| instance.global))
    };
    // The caller guarantees at least one instance.
    by_region.or_else(fallback).unwrap_or(&instances[0])
}

/// Search parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    instance: Option<String>,
    account: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
    format: Option<String>,
}

struct Prepared {
    query: Query,
    range: TimeRange,
    instances: Vec<Instance>,
}

async fn prepare(state: &AppState, principal: &Principal, params: &SearchParams) -> Result<Prepared, ApiError> {
    principal.require("reader")?;
    let query = acta_query::parse(params.q.as_deref().unwrap_or("")).map_err(|error| ApiError::query(&error))?;
    let range = timespec::resolve(params.from.as_deref(), params.to.as_deref(), crate::now_ns())
        .map_err(|message| ApiError::bad_request("invalid_time", message))?;
    let account = account_of(principal, params.account.as_deref())?;
    let instances = instances_in_scope(state, principal, &account, params.instance.as_deref()).await?;
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
    let events: Vec<Value> = hits.iter().map(|hit| event_json(hit, &prepared.instances)).collect();
    Ok(Json(json!({"events": events, "next_cursor": next_cursor})))
}

async fn run_search(
    state: &AppState,
    prepared: &Prepared,
    after: Option<SortKey>,
    limit: usize,
) -> Result<Vec<Hit>, ApiError> {
    let index = state.store.index().clone();
    let scopes = scopes(&prepared.instances);
    let query = prepared.query.clone();
    let range = prepared.range;
    let deadline = Instant::now() + state.limits.query_deadline;
    tokio::task::spawn_blocking(move || {
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
    let deadline = Instant::now() + state.limits.query_deadline;
    let count = tokio::task::spawn_blocking(move || {
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
    let instances = instances_in_scope(&state, &principal, &account, params.instance.as_deref()).await?;
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
    Ok(Json(event_json(&hit, &instances)))
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

fn encode_cursor(key: &SortKey) -> String {
    let text = serde_json::to_vec(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(text: &str) -> Result<SortKey, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_request("invalid_cursor", "the cursor is not one this server gave out"))
}

/// `GET /v1/events/tail`: Server-Sent Events of matching events as they are accepted.
pub(crate) async fn tail(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    principal.require("reader")?;
    let query = acta_query::parse(params.q.as_deref().unwrap_or("")).map_err(|error| ApiError::query(&error))?;
    let account = account_of(&principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state, &principal, &account, params.instance.as_deref()).await?;
    let allowed: Vec<String> = instances.iter().map(|instance| instance.id.clone()).collect();
    let compiled = Compiled::new(&query);
    let mut receiver = state.live.subscribe();
    let mut stopping = state.stopping.clone();
    let stream = async_stream_events(move |sender| async move {
        loop {
            let next = tokio::select! {
                next = receiver.recv() => next,
                _ = stopping.wait_for(|stopping| *stopping) => return,
            };
            let event = match next {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    let notice = SseEvent::default().event("lagged").data(format!("{missed} events were skipped"));
                    if sender.send(notice).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if event.account != account || !allowed.contains(&event.instance) {
                continue;
            }
            let received = acta_cadf::format_time(event.received_ns);
            let view = EventView {
                raw: &event.raw,
                event: &event.value,
                account: &event.account,
                instance: &event.instance,
                region: &event.region,
                received: &received,
            };
            if !compiled.matches(&PreparedEvent::new(view)) {
                continue;
            }
            let mut value = (*event.value).clone();
            if let Value::Object(object) = &mut value {
                object.insert(
                    "_acta".to_string(),
                    json!({"account": event.account, "instance": event.instance, "region": event.region,
                           "received": received, "seq": event.seq, "id": event.id}),
                );
            }
            let message = SseEvent::default().event("event").data(value.to_string());
            if sender.send(message).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Runs a producer task and streams what it sends, ending when it stops or the client goes away.
fn async_stream_events<F, Fut>(producer: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<SseEvent>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(256);
    tokio::spawn(producer(sender));
    futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(receiver), Ok)
}

/// `GET /v1/events/export`: every matching event, streamed page by page.
pub(crate) async fn export(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Response, ApiError> {
    if params.format.as_deref() == Some("bundle") {
        let narrowed = [&params.q, &params.from, &params.to]
            .iter()
            .any(|param| param.as_deref().is_some_and(|text| !text.trim().is_empty()));
        if narrowed {
            return Err(ApiError::bad_request(
                "invalid_bundle",
                "a bundle holds whole log segments with their checkpoints, so that it verifies; q, from and to do not \
                 apply (instance does)",
            ));
        }
        return crate::integrity::bundle(&state, &principal, params.account.as_deref(), params.instance.as_deref())
            .await;
    }
    let prepared = prepare(&state, &principal, &params).await?;
    let csv = match params.format.as_deref().unwrap_or("ndjson") {
        "ndjson" => false,
        "csv" => true,
        other => {
            return Err(ApiError::bad_request(
                "invalid_format",
                format!("format {other:?} is not ndjson, csv or bundle"),
            ));
        }
    };
    // The first page runs before the answer starts, so errors still get a proper status.
    let first = run_search(&state, &prepared, None, EXPORT_PAGE).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if csv && sender.send(Ok(Bytes::from(csv_header()))).await.is_err() {
            return;
        }
        let mut page = first;
        loop {
            let mut chunk = String::new();
            for hit in &page {
                let value = event_json(hit, &prepared.instances);
                if csv {
                    chunk.push_str(&csv_row(&value));
                } else {
                    chunk.push_str(&value.to_string());
                    chunk.push('\n');
                }
            }
            if !chunk.is_empty() && sender.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
            if page.len() < EXPORT_PAGE {
                return;
            }
            let after = page.last().map(|hit| hit.key.clone());
            page = match run_search(&state, &prepared, after, EXPORT_PAGE).await {
                Ok(next) => next,
                Err(error) => {
                    let _ = sender.send(Err(std::io::Error::other(error.message))).await;
                    return;
                }
            };
        }
    });
    let content_type = if csv { "text/csv; charset=utf-8" } else { "application/x-ndjson" };
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

const EXPORT_PAGE: usize = 1000;

const CSV_COLUMNS: [&str; 14] = [
    "eventTime",
    "action",
    "outcome",
    "severity",
    "initiator.id",
    "initiator.name",
    "initiator.host.agent",
    "target.id",
    "target.name",
    "target.typeURI",
    "reason.reasonCode",
    "message",
    "_acta.id",
    "_acta.instance",
];

fn csv_header() -> String {
    let mut line = CSV_COLUMNS.join(",");
    line.push('\n');
    line
}

fn csv_row(event: &Value) -> String {
    let cells: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|path| {
            let value = path.split('.').try_fold(event, |value, key| value.get(key));
            let text = match value {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            csv_cell(&text)
        })
        .collect();
    let mut line = cells.join(",");
    line.push('\n');
    line
}

/// RFC 4180 quoting; a leading formula character is prefixed with `'` so spreadsheets show, not run, it.
fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    if guarded.contains([',', '"', '\n', '\r']) { format!("\"{}\"", guarded.replace('"', "\"\"")) } else { guarded }
}
