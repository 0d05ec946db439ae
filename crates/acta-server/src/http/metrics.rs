//! `GET /metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::access::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /metrics`.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
) -> Result<Response, ApiError> {
    if state.limits.metrics_require_key && !principal?.is_admin() {
        return Err(ApiError::forbidden("the metrics need the platform admin key on this server"));
    }
    let out = crate::metrics::exposition(&state.store, &state.metrics, &state.alerts.notifications)
        .await
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}
