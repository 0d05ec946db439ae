//! The handlers, one module per resource, and the router. Only handlers take `AppState`.

pub mod accounts;
pub mod aggregate;
pub mod alerts;
pub mod archive;
pub mod boards;
pub mod bulk;
pub mod console;
pub mod events;
pub mod export;
pub mod guard;
pub mod health;
pub mod ingest;
pub mod input;
pub mod insights;
pub mod instances;
pub mod integrity;
pub mod investigate;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod pipes;
pub mod routes;
pub mod session;
pub mod tail;
pub mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;

/// The routes.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(health::health))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/", get(bulk::root))
        .route("/console/help/query", get(console::query_help))
        .route("/console/{*path}", get(console::asset))
        .route("/v1/session", post(session::sign_in).get(session::show).delete(session::sign_out))
        .route("/v1/events", post(ingest::ingest).get(events::search))
        .route("/v1/events/count", get(events::count))
        .route("/_bulk", post(bulk::bulk).put(bulk::bulk))
        .route("/{index}/_bulk", post(bulk::bulk_into).put(bulk::bulk_into))
        .route("/v1/events/tail", get(tail::tail))
        .route("/v1/events/export", get(export::export))
        .route("/v1/events/histogram", get(aggregate::histogram))
        .route("/v1/events/terms", get(aggregate::terms))
        .route("/v1/events/query", get(pipes::query))
        .route("/v1/events/{id}", get(events::one))
        .route("/v1/investigate/principal", get(investigate::principal))
        .route("/v1/investigate/resource", get(investigate::resource))
        .route("/v1/accounts", post(accounts::create_account).get(accounts::list_accounts))
        .route("/v1/instances", post(instances::create_instance).get(instances::list_instances))
        .route(
            "/v1/instances/{id}",
            get(instances::show_instance).patch(instances::update_instance).delete(instances::delete_instance),
        )
        .route(
            "/v1/instances/{id}/archive",
            get(archive::show_archive).put(archive::set_archive).delete(archive::delete_archive),
        )
        .route("/v1/keys", post(keys::create_key).get(keys::list_keys))
        .route("/v1/keys/{id}", get(keys::show_key).patch(keys::update_key).delete(keys::delete_key))
        .route("/v1/keys/{id}/lock", post(keys::lock_key))
        .route("/v1/keys/{id}/unlock", post(keys::unlock_key))
        .route("/v1/events/{id}/proof", get(integrity::proof))
        .route("/v1/integrity/keys", get(integrity::keys))
        .route("/v1/integrity/checkpoints", get(integrity::checkpoints))
        .route("/v1/views", post(views::create_view).get(views::list_views))
        .route("/v1/views/categories", get(views::list_categories))
        .route("/v1/views/{id}", get(views::show_view).patch(views::update_view).delete(views::delete_view))
        .route("/v1/alerts", post(alerts::create_alert).get(alerts::list_alerts))
        .route("/v1/alerts/{id}", get(alerts::show_alert).patch(alerts::update_alert).delete(alerts::delete_alert))
        .route("/v1/alerts/{id}/test", post(alerts::test_alert))
        .route("/v1/alerts/{id}/history", get(alerts::alert_history))
        .route("/v1/insights", get(insights::list_insights))
        .route("/v1/routes", post(routes::create_route).get(routes::list_routes))
        .route("/v1/routes/{id}", get(routes::show_route).patch(routes::update_route).delete(routes::delete_route))
        .route("/v1/routes/{id}/status", get(routes::route_status))
        .route(
            "/v1/boards",
            post(boards::create_board)
                .get(boards::list_boards)
                .layer(DefaultBodyLimit::max(boards::MAX_BODY_BYTES.min(body_limit))),
        )
        .route("/v1/boards/categories", get(boards::list_categories))
        .route(
            "/v1/boards/{id}",
            get(boards::show_board)
                .patch(boards::update_board)
                .delete(boards::delete_board)
                .layer(DefaultBodyLimit::max(boards::MAX_BODY_BYTES.min(body_limit))),
        )
        .route("/v1/boards/{id}/graphs/{n}/data", get(boards::graph_data))
        .route("/v1/boards/{id}/graphs/{n}/drilldown", get(boards::graph_drilldown))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(state.limits.body_idle_timeout))
        .layer(axum::middleware::from_fn_with_state(state.limits.request_timeout, guard::request_timeout))
        .layer(axum::middleware::map_response(crate::error::json_errors))
        .layer(axum::middleware::map_response(console::security_headers))
        .with_state(state)
}
