//! The limits that protect the server from its clients, at the level of requests (`docs/limits.md` lists them
//! all): the request timeout, the budget of ingest bytes in flight, and the places for searches. The listener's
//! limits (header timeout, connections) are in `server.rs`; per-key rates are `access::rate`.

use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::ApiError;
use crate::state::AppState;

/// Answers `408 request_timeout` when a request has not got the head of its answer within the request timeout
/// (a body sent too slowly, or work that took too long). Streamed answers (tail, export) have their head long
/// before, so they are not cut.
pub(crate) async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut error = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request did not complete within {} s (the server's --request-timeout-secs); send the body \
                     faster or ask for less",
                    limit.as_secs()
                ),
            );
            error.retry_after = Some(1);
            let mut response = error.into_response();
            response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            response
        }
    }
}

/// A share of the budget of ingest bytes in flight, held from before the body is read until the answer: as many
/// bytes as the request's `Content-Length`, or the largest body allowed when it has none (a chunked body).
/// Put it after `Principal` among a handler's extractors, so that only authenticated requests take a share.
pub(crate) struct IngestPermit {
    _permit: OwnedSemaphorePermit,
}

impl FromRequestParts<AppState> for IngestPermit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let max_body = state.limits.max_body_bytes;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse::<u64>().ok());
        // A body over the largest allowed is refused by the body limit (413) while it is read; it never needs more.
        let bytes = declared.map_or(max_body, |length| usize::try_from(length).unwrap_or(usize::MAX).min(max_body));
        let budget = state.limits.max_ingest_bytes_in_flight;
        if bytes > budget {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the body ({bytes} bytes) is larger than the server takes in at once ({budget} bytes, \
                     --max-ingest-in-flight-mib); send it in smaller batches"
                ),
            ));
        }
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX);
        match state.guards.ingest_bytes.clone().try_acquire_many_owned(permits) {
            Ok(permit) => Ok(IngestPermit { _permit: permit }),
            Err(_) => {
                let mut error = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ingest_busy",
                    format!(
                        "the server is receiving {budget} bytes of events already (--max-ingest-in-flight-mib); \
                         retry shortly (nothing of this request was stored)"
                    ),
                );
                error.retry_after = Some(1);
                Err(error)
            }
        }
    }
}

/// A place to run one search (search, count, histogram, terms, a page of an export, a board's count), waited for
/// at most the search queue wait; `503 search_busy` with `Retry-After` after that. Move it into the blocking task
/// so that the place is held until the work ends, even when the client has gone.
pub(crate) async fn search_place(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    let wait = state.limits.search_queue_wait;
    match tokio::time::timeout(wait, state.guards.searches.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(closed)) => Err(ApiError::internal(closed)),
        Err(_) => {
            let mut error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "search_busy",
                format!(
                    "{} searches are running and none ended within {} s (--max-concurrent-searches); retry shortly",
                    state.limits.max_concurrent_searches,
                    wait.as_secs_f64()
                ),
            );
            error.retry_after = Some(1);
            Err(error)
        }
    }
}
