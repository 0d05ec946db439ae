//! Saved views: a name, a query that parses, an optional category and time range. Readers list and show them,
//! writers create, change and delete them; every change (and refusal) is audited as `acta.view.<verb>`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::audit;
use crate::access::audit::refuse;
use crate::access::auth::Principal;
use crate::access::scope::account_of;
use crate::clock::now_text;
use crate::error::{ApiError, JsonBody, QueryParams};
use crate::http::input::{check_name, new_id, not_null};
use crate::state::AppState;
use acta_store::View;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewView {
    name: String,
    query: String,
    category: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    account: Option<String>,
}

/// A change: absent members stay; an empty `category`, `from` or `to` clears it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViewChange {
    name: Option<String>,
    query: Option<String>,
    category: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ViewParams {
    account: Option<String>,
    category: Option<String>,
}

fn blank_to_none(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_string()).filter(|text| !text.is_empty())
}

/// Checks what a view holds; the query error carries its column.
fn check_view(view: &View) -> Result<(), ApiError> {
    check_name("name", &view.name)?;
    acta_query::parse(&view.query).map_err(|error| ApiError::query(&error))?;
    if let Some(category) = &view.category {
        check_name("category", category)?;
    }
    crate::timespec::resolve(view.from.as_deref(), view.to.as_deref(), crate::clock::now_ns())
        .map_err(|message| ApiError::bad_request("invalid_time", message))?;
    Ok(())
}

fn view_json(view: &View) -> Value {
    json!(view)
}

async fn view_of(state: &AppState, account: &str, id: &str) -> Result<View, ApiError> {
    state.store.meta().view(account, id).await?.ok_or_else(|| ApiError::not_found("view"))
}

/// `POST /v1/views`.
pub(crate) async fn create_view(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewView>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = account_of(&principal, body.account.as_deref())?;
    if let Err(error) = principal.require("writer") {
        let audit = audit::object_action(&account, "view", "create", "", &body.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if state.store.meta().account(&account).await?.is_none() {
        return Err(ApiError::not_found("account"));
    }
    let now = now_text();
    let view = View {
        id: new_id(),
        account: account.clone(),
        name: body.name.trim().to_string(),
        query: body.query,
        category: blank_to_none(body.category),
        from: blank_to_none(body.from),
        to: blank_to_none(body.to),
        created_at: now.clone(),
        updated_at: now,
    };
    check_view(&view)?;
    state.store.meta().create_view(&view).await?;
    audit::record(
        &state.store,
        &principal,
        audit::object_action(&account, "view", "create", &view.id, &view.name, 201),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view_json(&view))))
}

/// `GET /v1/views` (`category=` narrows).
pub(crate) async fn list_views(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<ViewParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    let views = state.store.meta().views(&account, params.category.as_deref()).await?;
    let categories = categories(&state, &account).await?;
    Ok(Json(json!({"views": views.iter().map(view_json).collect::<Vec<_>>(), "categories": categories})))
}

async fn categories(state: &AppState, account: &str) -> Result<Vec<Value>, ApiError> {
    let categories = state.store.meta().view_categories(account).await?;
    Ok(categories.into_iter().map(|(name, views)| json!({"name": name, "views": views})).collect())
}

/// `GET /v1/views/categories`.
pub(crate) async fn list_categories(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<ViewParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    Ok(Json(json!({"categories": categories(&state, &account).await?})))
}

/// `GET /v1/views/{id}`.
pub(crate) async fn show_view(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ViewParams>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    Ok(Json(view_json(&view_of(&state, &account, &id).await?)))
}

/// `PATCH /v1/views/{id}`.
pub(crate) async fn update_view(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ViewParams>,
    JsonBody(body): JsonBody<ViewChange>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let mut view = view_of(&state, &account, &id).await?;
    if let Err(error) = principal.require("writer") {
        let audit = audit::object_action(&account, "view", "update", &view.id, &view.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if let Some(name) = body.name {
        view.name = name.trim().to_string();
    }
    if let Some(query) = body.query {
        view.query = query;
    }
    if body.category.is_some() {
        view.category = blank_to_none(body.category);
    }
    if body.from.is_some() {
        view.from = blank_to_none(body.from);
    }
    if body.to.is_some() {
        view.to = blank_to_none(body.to);
    }
    view.updated_at = now_text();
    check_view(&view)?;
    state.store.meta().update_view(&view).await?;
    // Alerts on this view now watch the new query.
    state.alerts.reload().await;
    audit::record(
        &state.store,
        &principal,
        audit::object_action(&account, "view", "update", &view.id, &view.name, 200),
    )
    .await?;
    Ok(Json(view_json(&view)))
}

/// `DELETE /v1/views/{id}`: `409` while alerts are attached.
pub(crate) async fn delete_view(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ViewParams>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let view = view_of(&state, &account, &id).await?;
    if let Err(error) = principal.require("writer") {
        let audit = audit::object_action(&account, "view", "delete", &view.id, &view.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if let Err(error) = state.store.meta().delete_view(&account, &id).await {
        let error = ApiError::from(error);
        let audit = audit::object_action(&account, "view", "delete", &view.id, &view.name, error.status.as_u16());
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    audit::record(
        &state.store,
        &principal,
        audit::object_action(&account, "view", "delete", &view.id, &view.name, 204),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
