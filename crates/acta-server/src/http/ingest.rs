//! `POST /v1/events`: parse the body, decide where its events may go, hand them to the store's write path
//! (`Store::accept`), and answer each event's fate.

use acta_cadf::adapt::{AdaptOptions, SourceFormat, adapt_batch};
use acta_cadf::{BodyFormat, Options, Problem};
use acta_store::{Batch, BatchOutcome, EventOutcome, Parsed};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::auth::Principal;
use crate::access::scope;
use crate::error::{ApiError, QueryParams};
use crate::state::AppState;

/// Ingest parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct IngestParams {
    account: Option<String>,
    /// Stores every event of the request in this instance (id or name), instead of routing each by its
    /// `logSourceCRN` region.
    instance: Option<String>,
    /// `searchable`: answer once the stored events can be found by a search (see [`wait_searchable`]).
    wait: Option<String>,
    /// Seconds `wait=searchable` waits at most (1 to 60; 10 when absent).
    wait_timeout: Option<u64>,
    /// The body's source format when it is not CADF (`kubernetes`, `cloudtrail`, ...): see `acta_cadf::adapt`.
    format: Option<String>,
    /// The offset from UTC of local time stamps, for `format=liberty`.
    utc_offset: Option<String>,
}

/// The source format and adapter options `format` and `utc_offset` ask for; `None` for CADF.
fn requested_format(params: &IngestParams) -> Result<Option<(SourceFormat, AdaptOptions)>, ApiError> {
    let utc_offset = params.utc_offset.as_deref().filter(|offset| !offset.is_empty());
    let Some(name) = params.format.as_deref().filter(|name| !name.is_empty()) else {
        if utc_offset.is_some() {
            return Err(ApiError::bad_request(
                "invalid_utc_offset",
                "utc_offset is for a format whose time stamps are local (format=liberty); give format too",
            ));
        }
        return Ok(None);
    };
    let format = SourceFormat::from_name(name).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_format",
            format!(
                "format {name:?} is not one Acta reads; accepted: {} (leave it out for CADF)",
                SourceFormat::names()
            ),
        )
    })?;
    if let Some(offset) = utc_offset {
        acta_cadf::adapt::check_utc_offset(offset)
            .map_err(|message| ApiError::bad_request("invalid_utc_offset", message))?;
    }
    Ok(Some((format, AdaptOptions { utc_offset: utc_offset.map(str::to_owned) })))
}

/// Adds to each rejection of a body sent as CADF that looks like a source format a first problem that names
/// the format and where to send it, since the CADF rules it broke say nothing about why.
fn hint_source_format(body: &[u8], parsed: &mut [Parsed]) {
    if parsed.iter().all(Result::is_ok) {
        return;
    }
    let Some(format) = acta_cadf::adapt::detect(body) else {
        return;
    };
    for problems in parsed.iter_mut().filter_map(|result| result.as_mut().err()) {
        problems.insert(0, Problem::new("", acta_cadf::adapt::hint(format)));
    }
}

/// How long `wait=searchable` waits when no `wait_timeout` is given: the indexer commits about every second,
/// so this is reached only when it is far behind or failing.
const DEFAULT_WAIT_SECONDS: u64 = 10;

/// The most `wait_timeout` may ask for: a client waiting longer holds an ingest place for nothing.
const MAX_WAIT_SECONDS: u64 = 60;

/// The wait `wait` and `wait_timeout` ask for, if any.
fn requested_wait(params: &IngestParams) -> Result<Option<std::time::Duration>, ApiError> {
    let invalid = |message: &str| ApiError::bad_request("invalid_wait", message);
    match params.wait.as_deref() {
        None | Some("") => {
            if params.wait_timeout.is_some() {
                return Err(invalid("wait_timeout is for wait=searchable; give both or neither"));
            }
            Ok(None)
        }
        Some("searchable") => {
            let seconds = params.wait_timeout.unwrap_or(DEFAULT_WAIT_SECONDS);
            if !(1..=MAX_WAIT_SECONDS).contains(&seconds) {
                return Err(invalid("wait_timeout is a number of seconds from 1 to 60"));
            }
            Ok(Some(std::time::Duration::from_secs(seconds)))
        }
        Some(_) => Err(invalid("wait takes one value: searchable")),
    }
}

/// Waits until what was durable when the batch was stored is searchable, or `timeout` passes; says which.
/// Polls, as the index gives no wake-up per commit; a commit takes about a second, so 20 ms polls add little.
async fn wait_searchable(state: &AppState, timeout: std::time::Duration) -> bool {
    let index = state.store.index();
    let marks = index.durable_marks();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if index.searchable(&marks) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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

/// `POST /v1/events`.
pub(crate) async fn ingest(
    State(state): State<AppState>,
    principal: Principal,
    _budget: crate::http::guard::IngestPermit,
    QueryParams(params): QueryParams<IngestParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    principal.require("ingest")?;
    let wait = requested_wait(&params)?;
    refuse_when_index_behind(&state)?;
    let is_ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-ndjson") || value.starts_with("application/ndjson"));
    let format = if is_ndjson { BodyFormat::Ndjson } else { BodyFormat::Json };
    let now = crate::clock::now_ns();
    let mut parsed = match requested_format(&params)? {
        Some((source, adapt)) => adapt_batch(&body, source, &adapt, &Options::default(), now)
            .map_err(|error| ApiError::bad_request("invalid_body", format!("{} body: {error}", source.title())))?,
        None => {
            let mut parsed = acta_cadf::parse_batch(&body, format, &Options::default(), now).map_err(|error| {
                let message = match acta_cadf::adapt::detect(&body) {
                    Some(source) => format!("{error}; {}", acta_cadf::adapt::hint(source)),
                    None => error.to_string(),
                };
                ApiError::bad_request("invalid_body", message)
            })?;
            hint_source_format(&body, &mut parsed);
            parsed
        }
    };
    if let Some(ids) = given_ids(&headers, parsed.len())? {
        give_ids(&mut parsed, ids);
    }
    let instance = params.instance.as_deref().filter(|instance| !instance.is_empty());
    let outcome = ingest_events(&state, &principal, params.account.as_deref(), instance, parsed, now).await?;
    let status = if outcome.accepted == 0 && outcome.rejected > 0 { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let mut answer = outcome_json(&outcome);
    if let Some(timeout) = wait {
        // The events are stored either way: a timeout is said in the answer, not as an error a client would
        // answer by sending them again.
        answer["searchable"] = Value::Bool(wait_searchable(&state, timeout).await);
    }
    Ok((status, Json(answer)).into_response())
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
pub(crate) fn give_ids(parsed: &mut [Parsed], ids: Vec<Option<String>>) {
    for (result, id) in parsed.iter_mut().zip(ids) {
        if let (Ok(event), Some(id)) = (result, id)
            && event.id.is_none()
        {
            event.id = Some(id);
        }
    }
}

/// Stores parsed events where the key may write them: in the named instance when one is given, else each routed
/// (see [`scope::destination`]). Counts them for `/metrics`.
pub(crate) async fn ingest_events(
    state: &AppState,
    principal: &Principal,
    requested_account: Option<&str>,
    requested_instance: Option<&str>,
    events: Vec<Parsed>,
    now: i64,
) -> Result<BatchOutcome, ApiError> {
    let destination = scope::destination(&state.store, principal, requested_account, requested_instance).await?;
    let outcome = state.store.accept(Batch { events, destination, now }).await?;
    state.metrics.count_ingest(outcome.accepted, outcome.rejected, outcome.duplicates);
    Ok(outcome)
}

/// The answer of `POST /v1/events`.
fn outcome_json(outcome: &BatchOutcome) -> Value {
    json!({
        "accepted": outcome.accepted,
        "rejected": outcome.rejected,
        "duplicates": outcome.duplicates,
        "results": results_json(outcome),
    })
}

/// Each event's fate: `{"index", "status": "stored" | "duplicate" | "rejected", "id" | "errors"}`; a stored event
/// whose id the account already held with other content also says `"id_reused": true`.
pub(crate) fn results_json(outcome: &BatchOutcome) -> Vec<Value> {
    outcome
        .results
        .iter()
        .enumerate()
        .map(|(index, result)| match result {
            EventOutcome::Stored { id, id_reused: false } => json!({"index": index, "status": "stored", "id": id}),
            EventOutcome::Stored { id, id_reused: true } => {
                json!({"index": index, "status": "stored", "id": id, "id_reused": true})
            }
            EventOutcome::Duplicate { id } => json!({"index": index, "status": "duplicate", "id": id}),
            EventOutcome::Rejected(problems) => {
                let errors: Vec<Value> = problems
                    .iter()
                    .map(|problem| json!({"pointer": problem.pointer, "message": problem.message}))
                    .collect();
                json!({"index": index, "status": "rejected", "errors": errors})
            }
        })
        .collect()
}
