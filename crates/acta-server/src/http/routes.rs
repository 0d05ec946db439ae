//! Routes: where an account's events are forwarded (syslog, a webhook, files, S3, Elasticsearch), with their status.
//! Forwarding sends events out of Acta, so creating, changing and deleting a route takes the manager role;
//! readers see routes and their status. Every change (and refusal) is audited as `acta.route.<verb>`. A
//! destination's secrets are never answered (`secrets_set` names them); a webhook created without a secret gets
//! one, answered once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::audit;
use crate::access::audit::refuse;
use crate::access::auth::Principal;
use crate::access::scope::account_of;
use crate::clock::now_text;
use crate::error::{ApiError, JsonBody, QueryParams};
use crate::forward::{self, RouteStatus};
use crate::http::input::{check_name, new_id, not_null};
use crate::state::AppState;
use acta_store::Route;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRoute {
    name: String,
    #[serde(default, deserialize_with = "not_null")]
    query: Option<String>,
    destination: Value,
    #[serde(default, deserialize_with = "not_null")]
    enabled: Option<bool>,
    /// `now` (the default): events accepted from now on; `oldest`: every event the account still holds first.
    #[serde(default, deserialize_with = "not_null")]
    start: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    account: Option<String>,
}

/// A change: absent members stay; an empty `query` sends every event again.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteChange {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    query: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    destination: Option<Value>,
    #[serde(default, deserialize_with = "not_null")]
    enabled: Option<bool>,
}

#[derive(Deserialize)]
pub(crate) struct RouteParams {
    account: Option<String>,
}

fn blank_to_none(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_string()).filter(|text| !text.is_empty())
}

fn check_route(state: &AppState, route: &mut Route) -> Result<(), ApiError> {
    check_name("name", &route.name)?;
    if let Some(query) = &route.query {
        acta_query::parse(query).map_err(|error| ApiError::query(&error))?;
    }
    route.destination = forward::validate(&route.destination, &state.forwarding.settings)
        .map_err(|invalid| ApiError::bad_request("invalid_destination", invalid.0))?;
    Ok(())
}

/// A route as answered: the route, its destination without secrets, and its status.
async fn route_json(state: &AppState, route: &Route) -> Result<Value, ApiError> {
    let status = state.forwarding.status(&route.id).unwrap_or_default();
    let status = status_json(state, route, &status).await?;
    Ok(json!({
        "id": route.id,
        "account": route.account,
        "name": route.name,
        "query": route.query,
        "destination": forward::redacted(&route.destination),
        "enabled": route.enabled,
        "created_at": route.created_at,
        "updated_at": route.updated_at,
        "status": status,
    }))
}

async fn status_json(state: &AppState, route: &Route, status: &RouteStatus) -> Result<Value, ApiError> {
    let instances: Vec<String> =
        state.store.meta().instances(&route.account).await?.into_iter().map(|instance| instance.id).collect();
    let lag = forward::lag(status, state.store.log(), &instances);
    let state_name = if !route.enabled {
        "disabled"
    } else if status.failing_for > 0 {
        "failing"
    } else if lag > 0 {
        "sending"
    } else {
        "up_to_date"
    };
    let mut cursors: Vec<Value> = instances
        .iter()
        .map(|instance| {
            let delivered = status.delivered_seq.get(instance).copied().unwrap_or(0);
            json!({"instance": instance, "delivered_seq": delivered, "log_seq": state.store.log().last_seq(instance)})
        })
        .collect();
    cursors.sort_by(|a, b| a["instance"].as_str().cmp(&b["instance"].as_str()));
    Ok(json!({
        "state": state_name,
        "lag_events": lag,
        "delivered_events": status.delivered_events,
        "failures": status.failures,
        "consecutive_failures": status.failing_for,
        "last_delivery": status.last_delivery,
        "last_error": status.last_error,
        "last_error_at": status.last_error_at,
        "next_attempt": status.next_attempt,
        "instances": cursors,
    }))
}

async fn route_of(state: &AppState, account: &str, id: &str) -> Result<Route, ApiError> {
    state.store.meta().route(account, id).await?.ok_or_else(|| ApiError::not_found("forwarding route"))
}

/// After a change: the forwarding job takes it up, and it is audited before the answer.
async fn changed(
    state: &AppState,
    principal: &Principal,
    account: &str,
    verb: &str,
    route: &Route,
    status: u16,
) -> Result<(), ApiError> {
    state.forwarding.reload();
    audit::record(
        &state.store,
        principal,
        audit::object_action(account, "route", verb, &route.id, &route.name, status),
    )
    .await?;
    Ok(())
}

/// A signing secret for a webhook created without one: 32 random bytes, hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `POST /v1/routes`.
pub(crate) async fn create_route(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewRoute>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = account_of(&principal, body.account.as_deref())?;
    if let Err(error) = principal.require("manager") {
        let audit = audit::object_action(&account, "route", "create", "", &body.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if state.store.meta().account(&account).await?.is_none() {
        return Err(ApiError::not_found("account"));
    }
    let from_oldest = match body.start.as_deref() {
        None | Some("now") => false,
        Some("oldest") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_start",
                format!("start {other:?} is not \"now\" (events from now on) or \"oldest\" (every event held)"),
            ));
        }
    };
    let now = now_text();
    let mut route = Route {
        id: new_id(),
        account: account.clone(),
        name: body.name.trim().to_string(),
        query: blank_to_none(body.query),
        destination: body.destination,
        enabled: body.enabled.unwrap_or(true),
        created_at: now.clone(),
        updated_at: now,
    };
    let mut generated_secret = None;
    if route.destination.get("type").and_then(Value::as_str) == Some("webhook")
        && route.destination.get("secret").is_none()
        && let Some(object) = route.destination.as_object_mut()
    {
        let secret = new_secret();
        object.insert("secret".to_string(), Value::from(secret.clone()));
        generated_secret = Some(secret);
    }
    check_route(&state, &mut route)?;
    // Where the route starts in each instance's log; an instance created later starts at its first record.
    let instances = state.store.meta().instances(&account).await?;
    let cursors: Vec<(String, u64)> = instances
        .iter()
        .map(|instance| (instance.id.clone(), if from_oldest { 0 } else { state.store.log().last_seq(&instance.id) }))
        .collect();
    state.store.meta().create_route(&route, &cursors).await?;
    changed(&state, &principal, &account, "create", &route, 201).await?;
    let mut answer = route_json(&state, &route).await?;
    if let Some(secret) = generated_secret {
        answer["secret"] = Value::from(secret);
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /v1/routes`.
pub(crate) async fn list_routes(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<RouteParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    let mut routes = Vec::new();
    for route in state.store.meta().routes(&account).await? {
        routes.push(route_json(&state, &route).await?);
    }
    Ok(Json(json!({"routes": routes})))
}

/// `GET /v1/routes/{id}`.
pub(crate) async fn show_route(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<RouteParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    Ok(Json(route_json(&state, &route_of(&state, &account, &id).await?).await?))
}

/// `GET /v1/routes/{id}/status`.
pub(crate) async fn route_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<RouteParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    let route = route_of(&state, &account, &id).await?;
    let status = state.forwarding.status(&route.id).unwrap_or_default();
    Ok(Json(status_json(&state, &route, &status).await?))
}

/// `PATCH /v1/routes/{id}`.
pub(crate) async fn update_route(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<RouteParams>,
    JsonBody(body): JsonBody<RouteChange>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let mut route = route_of(&state, &account, &id).await?;
    if let Err(error) = principal.require("manager") {
        let audit = audit::object_action(&account, "route", "update", &route.id, &route.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if let Some(name) = body.name {
        route.name = name.trim().to_string();
    }
    if body.query.is_some() {
        route.query = blank_to_none(body.query);
    }
    if let Some(mut destination) = body.destination {
        forward::keep_secrets(&route.destination, &mut destination);
        route.destination = destination;
    }
    if let Some(enabled) = body.enabled {
        route.enabled = enabled;
    }
    route.updated_at = now_text();
    check_route(&state, &mut route)?;
    state.store.meta().update_route(&route).await?;
    changed(&state, &principal, &account, "update", &route, 200).await?;
    Ok(Json(route_json(&state, &route).await?))
}

/// `DELETE /v1/routes/{id}`.
pub(crate) async fn delete_route(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<RouteParams>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let route = route_of(&state, &account, &id).await?;
    if let Err(error) = principal.require("manager") {
        let audit = audit::object_action(&account, "route", "delete", &route.id, &route.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    state.store.meta().delete_route(&account, &id).await?;
    changed(&state, &principal, &account, "delete", &route, 204).await?;
    Ok(StatusCode::NO_CONTENT)
}
