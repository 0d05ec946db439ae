//! `GET /metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::access::auth::Principal;
use crate::error::ApiError;
use crate::metrics::RouteFigures;
use crate::state::AppState;

/// `GET /metrics`.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
) -> Result<Response, ApiError> {
    if state.limits.metrics_require_key && !principal?.is_admin() {
        return Err(ApiError::forbidden("the metrics need the platform admin key on this server"));
    }
    let mut out = crate::metrics::exposition(&state.store, &state.metrics, &state.alerts.notifications)
        .await
        .map_err(ApiError::internal)?;
    let mut routes = Vec::new();
    for (route, status) in state.forwarding.all_statuses() {
        let instances: Vec<String> =
            state.store.meta().instances(&status.account).await?.into_iter().map(|instance| instance.id).collect();
        let lag = crate::forward::lag(&status, state.store.log(), &instances);
        routes.push(RouteFigures { route, lag, delivered: status.delivered_events, failures: status.failures });
    }
    crate::metrics::routes(&mut out, &routes);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}
