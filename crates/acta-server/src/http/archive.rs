//! `/v1/instances/{id}/archive`: a manager of the whole account sets, shows (secret redacted) and removes an
//! instance's archive. Every change and refusal is audited `acta.archive.<verb>`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::access::audit;
use crate::access::audit::refuse;
use crate::access::auth::Principal;
use crate::access::scope::account_of;
use crate::access::scope::require_account_manager;
use crate::error::{ApiError, JsonBody, QueryParams};
use crate::http::input::AccountParam;
use crate::http::instances::instance_of;
use crate::jobs::archive::{ArchiveConfig, ArchiveError};
use crate::state::AppState;

fn shown(row: &acta_store::ArchiveRow) -> Result<Value, ApiError> {
    let config: ArchiveConfig = serde_json::from_str(&row.config).map_err(ApiError::internal)?;
    Ok(json!({
        "instance": row.instance,
        "archive": config.redacted(),
        "updated_at": row.updated_at,
        "failing": row.failing,
        "last_error": row.last_error,
    }))
}

/// `PUT /v1/instances/{id}/archive`.
pub(crate) async fn set_archive(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
    JsonBody(config): JsonBody<ArchiveConfig>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let instance = instance_of(&state, &principal, &account, &id).await?;
    let action = |status| audit::object_action(&account, "archive", "update", &instance.id, &instance.name, status);
    if let Err(error) = require_account_manager(&principal) {
        return Err(refuse(&state.store, &principal, action(403), error).await);
    }
    if let Err(error) = config.check(&state.retention.settings().archive_roots).map_err(archive_refusal) {
        return Err(refuse(&state.store, &principal, action(400), error).await);
    }
    if let Err(error) =
        config.check_endpoint(&state.retention.settings().archive_endpoint_allow).await.map_err(archive_refusal)
    {
        return Err(refuse(&state.store, &principal, action(400), error).await);
    }
    let text = serde_json::to_string(&config).map_err(ApiError::internal)?;
    state.store.meta().set_archive(&account, &instance.id, &text, &crate::clock::now_text()).await?;
    audit::record(&state.store, &principal, action(200)).await?;
    let row =
        state.store.meta().archive(&account, &instance.id).await?.ok_or_else(|| ApiError::not_found("archive"))?;
    Ok(Json(shown(&row)?))
}

/// `GET /v1/instances/{id}/archive`.
pub(crate) async fn show_archive(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let instance = instance_of(&state, &principal, &account, &id).await?;
    require_account_manager(&principal)?;
    let row =
        state.store.meta().archive(&account, &instance.id).await?.ok_or_else(|| ApiError::not_found("archive"))?;
    Ok(Json(shown(&row)?))
}

/// `DELETE /v1/instances/{id}/archive`: what was archived stays in the archive.
pub(crate) async fn delete_archive(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let instance = instance_of(&state, &principal, &account, &id).await?;
    let action = |status| audit::object_action(&account, "archive", "delete", &instance.id, &instance.name, status);
    if let Err(error) = require_account_manager(&principal) {
        return Err(refuse(&state.store, &principal, action(403), error).await);
    }
    if !state.store.meta().delete_archive(&account, &instance.id).await? {
        return Err(ApiError::not_found("archive"));
    }
    audit::record(&state.store, &principal, action(204)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The answer to an archive configuration the checks refuse.
fn archive_refusal(error: ArchiveError) -> ApiError {
    match error {
        ArchiveError::Invalid { message, rule } => {
            let mut api = ApiError::bad_request("invalid_field", message);
            if let Some((field, rule)) = rule {
                api.details = vec![serde_json::json!({"field": field, "rule": rule})];
            }
            api
        }
        other => ApiError::internal(other),
    }
}
