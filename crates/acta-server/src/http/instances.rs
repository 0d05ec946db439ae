//! `/v1/instances`: an account's instances, their retention plans (a shorter plan lists what it deletes and
//! needs confirming) and storage figures. Every change and refusal is audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use acta_store::Instance;

use crate::access::audit::{self, refuse};
use crate::access::auth::Principal;
use crate::access::scope::{account_of, require_account_manager};
use crate::clock::now_text;
use crate::error::{ApiError, JsonBody, QueryParams};
use crate::http::input::{AccountParam, check_name, check_slug, new_id, not_null, optional_integer};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInstance {
    #[serde(default, deserialize_with = "not_null")]
    account: Option<String>,
    name: String,
    region: String,
    #[serde(default, deserialize_with = "optional_integer")]
    retention_days: Option<i64>,
    global: Option<bool>,
    strict: Option<bool>,
}

fn check_retention(days: i64) -> Result<(), ApiError> {
    if (1..=3650).contains(&days) {
        return Ok(());
    }
    Err(ApiError::bad_request("invalid_field", format!("retention_days {days} must be between 1 and 3650")))
}

/// Refuses unless the key manages the whole account (a key narrowed to one instance manages no instances).
/// `POST /v1/instances`.
pub(crate) async fn create_instance(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewInstance>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = account_of(&principal, body.account.as_deref())?;
    if let Err(error) = require_account_manager(&principal) {
        let audit = audit::object_action(&account, "instance", "create", "", &body.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if state.store.meta().account(&account).await?.is_none() {
        return Err(ApiError::not_found("account"));
    }
    check_name("name", &body.name)?;
    check_slug("region", &body.region)?;
    let retention_days = body.retention_days.unwrap_or(30);
    check_retention(retention_days)?;
    let global = body.global.unwrap_or(false);
    let existing = state.store.meta().instances(&account).await?;
    if global && existing.iter().any(|instance| instance.global) {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "the account already has a global instance"));
    }
    let instance = Instance {
        id: new_id(),
        account: account.clone(),
        name: body.name,
        region: body.region,
        retention_days,
        global,
        strict: body.strict.unwrap_or(false),
        created_at: now_text(),
    };
    state.store.meta().create_instance(&instance).await?;
    let audit = audit::object_action(&account, "instance", "create", &instance.id, &instance.name, 201);
    audit::record(&state.store, &principal, audit).await?;
    Ok((StatusCode::CREATED, Json(json!(instance))))
}

/// `GET /v1/instances`.
pub(crate) async fn list_instances(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let instances = crate::access::scope::instances_in_scope(&state.store, &principal, &account, None).await?;
    let mut shown = Vec::with_capacity(instances.len());
    for instance in &instances {
        shown.push(instance_json(&state, instance).await?);
    }
    Ok(Json(json!({ "instances": shown })))
}

/// An instance with its storage figures: live events, bytes on disk (log, index, checkpoints), the arrival
/// times of its oldest and newest events, segments (days) kept, and the newest day confirmed in its archive.
pub(crate) async fn instance_json(state: &AppState, instance: &Instance) -> Result<Value, ApiError> {
    let store = state.store.clone();
    let id = instance.id.clone();
    let storage = tokio::task::spawn_blocking(move || store.storage(&id)).await.map_err(ApiError::internal)?;
    let mut figures = json!({
        "events": storage.events,
        "bytes": storage.bytes,
        "oldest": storage.oldest_ns.map(acta_cadf::format_time),
        "newest": storage.newest_ns.map(acta_cadf::format_time),
        "segments": storage.segments,
    });
    let archive = state.store.meta().archive(&instance.account, &instance.id).await?;
    let has_archive = archive.is_some();
    if let Some(row) = archive
        && let Ok(config) = serde_json::from_str::<crate::jobs::archive::ArchiveConfig>(&row.config)
    {
        let archived = state.store.meta().archived_segments(&instance.id, &config.destination()).await?;
        if let (Some(object), Some(last)) = (figures.as_object_mut(), archived.last()) {
            object.insert("archived_through".to_string(), json!(last.day));
        }
    }
    let mut value = json!(instance);
    if let Some(object) = value.as_object_mut() {
        object.insert("storage".to_string(), figures);
        // So that a client asks for the archive only where there is one (the console, without 404s).
        object.insert("has_archive".to_string(), json!(has_archive));
    }
    Ok(value)
}

pub(crate) async fn instance_of(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
) -> Result<Instance, ApiError> {
    let instance = state.store.meta().instance(account, id).await?.ok_or_else(|| ApiError::not_found("instance"))?;
    if principal.key.instance.as_deref().is_some_and(|own| own != instance.id) {
        return Err(ApiError::not_found("instance"));
    }
    Ok(instance)
}

/// `GET /v1/instances/{id}`.
pub(crate) async fn show_instance(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<Json<Value>, ApiError> {
    principal.require("reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    let instance = instance_of(&state, &principal, &account, &id).await?;
    Ok(Json(instance_json(&state, &instance).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InstanceChange {
    name: Option<String>,
    #[serde(default, deserialize_with = "optional_integer")]
    retention_days: Option<i64>,
    strict: Option<bool>,
    /// Answer what the change would delete, and change nothing.
    #[serde(default)]
    dry_run: bool,
    /// Confirms a shorter retention, which deletes the partitions it lists.
    #[serde(default)]
    confirm: bool,
}

/// `PATCH /v1/instances/{id}`. A longer retention applies at once; a shorter one deletes data, so it is
/// refused (`409 confirm_required`, listing the partitions that would go) unless `confirm` is set; `dry_run`
/// lists them for any change and changes nothing.
pub(crate) async fn update_instance(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
    JsonBody(body): JsonBody<InstanceChange>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let mut instance = instance_of(&state, &principal, &account, &id).await?;
    if let Err(error) = require_account_manager(&principal) {
        let audit = audit::object_action(&account, "instance", "update", &instance.id, &instance.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if let Some(name) = body.name {
        check_name("name", &name)?;
        instance.name = name;
    }
    let previous_days = instance.retention_days;
    if let Some(days) = body.retention_days {
        check_retention(days)?;
        instance.retention_days = days;
    }
    if let Some(strict) = body.strict {
        instance.strict = strict;
    }
    let going = state.retention.plan(&instance.id, instance.retention_days);
    let events: u64 = going.iter().map(|partition| partition.events).sum();
    if body.dry_run {
        return Ok(Json(json!({
            "dry_run": true,
            "instance": instance,
            "retention_days": {"from": previous_days, "to": instance.retention_days},
            "partitions": going,
            "events": events,
        })));
    }
    let shortened = instance.retention_days < previous_days;
    if shortened && !body.confirm {
        let mut error = ApiError::new(
            StatusCode::CONFLICT,
            "confirm_required",
            format!(
                "shortening retention from {previous_days} to {} days deletes {} partitions ({events} events); \
                 send \"confirm\": true to apply it",
                instance.retention_days,
                going.len()
            ),
        );
        error.details = going.iter().map(|partition| json!(partition)).collect();
        let audit = audit::object_action(&account, "instance", "update", &instance.id, &instance.name, 409);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    state.store.meta().update_instance(&instance).await?;
    let mut audit = audit::object_action(&account, "instance", "update", &instance.id, &instance.name, 200);
    if previous_days != instance.retention_days {
        audit.request_data = Some(json!({"retention_days": {"from": previous_days, "to": instance.retention_days},
                                         "partitions": going, "events": events}));
    }
    audit::record(&state.store, &principal, audit).await?;
    if shortened && !going.is_empty() {
        // The deletion runs now rather than at the next period; it is the retention task's usual run.
        let state = state.clone();
        tokio::spawn(async move { state.retention.run_once(true, false).await });
    }
    Ok(Json(instance_json(&state, &instance).await?))
}

/// `DELETE /v1/instances/{id}`: only an instance without events, not the global one, and no key narrowed to it.
pub(crate) async fn delete_instance(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let instance = instance_of(&state, &principal, &account, &id).await?;
    let conflict = if instance.global {
        Some("the global instance holds the account's own audit trail and cannot be deleted".to_string())
    } else if !state.store.log().segments(&instance.id).is_empty() {
        Some("the instance holds events; they are deleted by retention, never by deleting the instance".to_string())
    } else if state.store.meta().keys(&account, None).await?.iter().any(|key| key.instance.as_deref() == Some(&id)) {
        Some("keys are narrowed to this instance; delete them first".to_string())
    } else {
        None
    };
    let refusal = match (require_account_manager(&principal), conflict) {
        (Err(error), _) => Some((403, error)),
        (Ok(()), Some(message)) => Some((409, ApiError::new(StatusCode::CONFLICT, "conflict", message))),
        (Ok(()), None) => None,
    };
    if let Some((status, error)) = refusal {
        let audit = audit::object_action(&account, "instance", "delete", &instance.id, &instance.name, status);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    state.store.meta().delete_instance(&account, &id).await?;
    let audit = audit::object_action(&account, "instance", "delete", &instance.id, &instance.name, 204);
    audit::record(&state.store, &principal, audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
