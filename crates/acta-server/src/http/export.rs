//! `GET /v1/events/export`: every matching event, streamed page by page as NDJSON or CSV (`format=bundle` is
//! in `integrity.rs`).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::access::auth::Principal;
use crate::error::{ApiError, QueryParams};
use crate::http::events::{SearchParams, event_json, prepare, run_search};
use crate::state::AppState;

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
        return crate::http::integrity::bundle(
            &state,
            &principal,
            params.account.as_deref(),
            params.instance.as_deref(),
        )
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
