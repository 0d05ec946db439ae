//! Accounts, instances and API keys: who may do what, and the audit event of every change and refusal.
//!
//! Roles live on keys: a key is a principal (user or service id) with one role in one account, optionally
//! narrowed to one instance. A key never grants more than its creator holds: a manager mints at most manager
//! keys of its own account (and of its own instance when narrowed); anyone may mint keys for their own principal
//! up to their own role; only the platform admin mints keys of other accounts or admin keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::audit::{self};
use crate::access::auth::{self, Principal};
use acta_store::{Account, ApiKey, Instance};

use crate::access::audit::refuse;
use crate::access::scope::{account_of, require_account_manager};
use crate::clock::now_text;
use crate::error::{ApiError, JsonBody, QueryParams};
use crate::http::input::{check_name, check_slug, new_id};
use crate::state::AppState;

const ROLES: [&str; 4] = ["reader", "writer", "manager", "ingest"];

fn rank(role: &str) -> u8 {
    match role {
        "ingest" | "reader" => 1,
        "writer" => 2,
        "manager" => 3,
        "admin" => 4,
        _ => 0,
    }
}

// ----- accounts -----

#[derive(Deserialize)]
pub(crate) struct NewAccount {
    name: String,
    id: Option<String>,
}

/// `POST /v1/accounts`: the platform admin creates an account with its global instance.
pub(crate) async fn create_account(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewAccount>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !principal.is_admin() {
        return Err(ApiError::forbidden("only the platform admin creates accounts"));
    }
    check_name("name", &body.name)?;
    let id = body.id.unwrap_or_else(new_id);
    check_slug("id", &id)?;
    if state.store.meta().account(&id).await?.is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", format!("an account with id {id:?} exists")));
    }
    let now = now_text();
    let account = Account { id: id.clone(), name: body.name, created_at: now.clone() };
    state.store.meta().create_account(&account).await?;
    let global = Instance {
        id: new_id(),
        account: id.clone(),
        name: "global".into(),
        region: "global".into(),
        retention_days: 30,
        global: true,
        strict: false,
        created_at: now,
    };
    state.store.meta().create_instance(&global).await?;
    crate::http::boards::give_predefined(state.store.meta(), &id).await?;
    audit::record(&state.store, &principal, audit::object_action(&id, "account", "create", &id, &account.name, 201))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": account.id, "name": account.name, "created_at": account.created_at,
                                         "global_instance": global.id})),
    ))
}

/// `GET /v1/accounts`: all of them for the admin, one's own otherwise.
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    let accounts = match &principal.key.account {
        None => state.store.meta().accounts().await?,
        Some(own) => state.store.meta().account(own).await?.into_iter().collect(),
    };
    Ok(Json(json!({ "accounts": accounts })))
}

// ----- instances -----

#[derive(Deserialize)]
pub(crate) struct AccountParam {
    pub(crate) account: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct NewInstance {
    account: Option<String>,
    name: String,
    region: String,
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
    if let Some(row) = state.store.meta().archive(&instance.account, &instance.id).await?
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
pub(crate) struct InstanceChange {
    name: Option<String>,
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

// ----- keys -----

#[derive(Deserialize)]
pub(crate) struct NewKey {
    name: String,
    description: Option<String>,
    role: String,
    account: Option<String>,
    instance: Option<String>,
    expires_at: Option<String>,
    principal: Option<String>,
}

/// `POST /v1/keys`: the secret is in this answer and nowhere else.
pub(crate) async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = account_of(&principal, body.account.as_deref())?;
    if state.store.meta().account(&account).await?.is_none() {
        return Err(ApiError::not_found("account"));
    }
    check_name("name", &body.name)?;
    if body.role == "admin" {
        let audit = audit::key_action(&account, "create", "", &body.name, 403, None);
        let error =
            ApiError::forbidden("no key is minted with the admin role: the platform admin key is made at bootstrap");
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    if !ROLES.contains(&body.role.as_str()) {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("role {:?} must be one of reader, writer, manager, ingest", body.role),
        ));
    }
    let expires_at = match body.expires_at.as_deref() {
        Some(text) => Some(acta_cadf::parse_time(text).map(acta_cadf::format_time).map_err(|_| {
            ApiError::bad_request("invalid_field", format!("expires_at {text:?} is not an RFC 3339 time"))
        })?),
        None => None,
    };
    let key_principal = body.principal.clone().unwrap_or_else(|| principal.key.principal.clone());
    let refusal = mint_refusal(&state, &principal, &account, &body, &key_principal).await?;
    let generated = auth::generate_key();
    if let Some(error) = refusal {
        let audit = audit::key_action(&account, "create", &generated.id, &body.name, error.status.as_u16(), None);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    let key = ApiKey {
        id: generated.id.clone(),
        account: Some(account.clone()),
        instance: body.instance.clone(),
        name: body.name.clone(),
        description: body.description.clone().unwrap_or_default(),
        role: body.role.clone(),
        created_at: now_text(),
        created_by: Some(principal.key.id.clone()),
        expires_at,
        locked: false,
        last_used_at: None,
        secret_hash: auth::hash_key(&generated.secret),
        principal: if key_principal.is_empty() { body.name.clone() } else { key_principal },
    };
    state.store.meta().create_key(&key).await?;
    audit::record(&state.store, &principal, audit::key_action(&account, "create", &key.id, &key.name, 201, None))
        .await?;
    let mut answer = json!(key);
    if let Some(object) = answer.as_object_mut() {
        object.insert("secret".to_string(), json!(generated.secret));
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Why the caller may not mint this key, if it may not.
async fn mint_refusal(
    state: &AppState,
    principal: &Principal,
    account: &str,
    body: &NewKey,
    key_principal: &str,
) -> Result<Option<ApiError>, ApiError> {
    if principal.is_admin() {
        return instance_refusal(state, account, body.instance.as_deref()).await;
    }
    if matches!(principal.key.role.as_str(), "reader" | "ingest") {
        return Ok(Some(ApiError::forbidden(format!("a {} key cannot create keys", principal.key.role))));
    }
    if rank(&body.role) > rank(&principal.key.role) {
        return Ok(Some(ApiError::forbidden(format!(
            "a {} key cannot create a {} key: a key never grants more than its creator holds",
            principal.key.role, body.role
        ))));
    }
    if key_principal != principal.key.principal && !principal.has("manager") {
        return Ok(Some(ApiError::forbidden("only a manager creates keys for other principals")));
    }
    if let Some(own_instance) = &principal.key.instance
        && body.instance.as_deref() != Some(own_instance.as_str())
    {
        return Ok(Some(ApiError::forbidden(
            "a key narrowed to one instance can only create keys narrowed to the same instance",
        )));
    }
    instance_refusal(state, account, body.instance.as_deref()).await
}

async fn instance_refusal(
    state: &AppState,
    account: &str,
    instance: Option<&str>,
) -> Result<Option<ApiError>, ApiError> {
    let Some(instance) = instance else {
        return Ok(None);
    };
    if state.store.meta().instance(account, instance).await?.is_none() {
        return Ok(Some(ApiError::not_found("instance")));
    }
    Ok(None)
}

/// The keys a caller may see and change: a manager's whole account (or its instance), otherwise its own.
fn may_handle(principal: &Principal, key: &ApiKey) -> bool {
    if principal.is_admin() {
        return true;
    }
    let narrowed_ok = principal.key.instance.is_none() || principal.key.instance == key.instance;
    (principal.has("manager") && narrowed_ok) || key.principal == principal.key.principal
}

async fn key_of(state: &AppState, principal: &Principal, account: &str, id: &str) -> Result<ApiKey, ApiError> {
    let key = state.store.meta().key(account, id).await?.ok_or_else(|| ApiError::not_found("key"))?;
    if !may_handle(principal, &key) {
        return Err(ApiError::not_found("key"));
    }
    Ok(key)
}

/// `GET /v1/keys`.
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let keys: Vec<ApiKey> =
        state.store.meta().keys(&account, None).await?.into_iter().filter(|key| may_handle(&principal, key)).collect();
    Ok(Json(json!({ "keys": keys })))
}

/// `GET /v1/keys/{id}`.
pub(crate) async fn show_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    Ok(Json(json!(key_of(&state, &principal, &account, &id).await?)))
}

#[derive(Deserialize)]
pub(crate) struct KeyChange {
    name: Option<String>,
    description: Option<String>,
}

fn locked_error(key: &ApiKey, verb: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "key_locked",
        format!("the key {:?} is locked; unlock it before you {verb} it", key.name),
    )
}

/// `PATCH /v1/keys/{id}`: name and description; a locked key is `409`.
pub(crate) async fn update_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
    JsonBody(body): JsonBody<KeyChange>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let mut key = key_of(&state, &principal, &account, &id).await?;
    if key.locked {
        let audit = audit::key_action(&account, "update", &key.id, &key.name, 409, Some("rename"));
        return Err(refuse(&state.store, &principal, audit, locked_error(&key, "update")).await);
    }
    if let Some(name) = body.name {
        check_name("name", &name)?;
        key.name = name;
    }
    if let Some(description) = body.description {
        if description.chars().count() > 1000 {
            return Err(ApiError::bad_request("invalid_field", "description must be at most 1000 characters"));
        }
        key.description = description;
    }
    state.store.meta().update_key(&account, &id, &key.name, &key.description).await?;
    audit::record(
        &state.store,
        &principal,
        audit::key_action(&account, "update", &key.id, &key.name, 200, Some("rename")),
    )
    .await?;
    Ok(Json(json!(key)))
}

/// `POST /v1/keys/{id}/lock` and `/unlock`: audited as updates saying which.
pub(crate) async fn set_lock(
    state: AppState,
    principal: Principal,
    id: String,
    account_param: Option<String>,
    locked: bool,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, account_param.as_deref())?;
    let mut key = key_of(&state, &principal, &account, &id).await?;
    state.store.meta().set_key_locked(&account, &id, locked).await?;
    key.locked = locked;
    let operation = if locked { "lock" } else { "unlock" };
    audit::record(
        &state.store,
        &principal,
        audit::key_action(&account, "update", &key.id, &key.name, 200, Some(operation)),
    )
    .await?;
    Ok(Json(json!(key)))
}

/// `POST /v1/keys/{id}/lock`.
pub(crate) async fn lock_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<Json<Value>, ApiError> {
    set_lock(state, principal, id, params.account, true).await
}

/// `POST /v1/keys/{id}/unlock`.
pub(crate) async fn unlock_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<Json<Value>, ApiError> {
    set_lock(state, principal, id, params.account, false).await
}

/// `DELETE /v1/keys/{id}`: a locked key is `409`; a deleted key stops working at once.
pub(crate) async fn delete_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AccountParam>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let key = key_of(&state, &principal, &account, &id).await?;
    if key.locked {
        let audit = audit::key_action(&account, "delete", &key.id, &key.name, 409, None);
        return Err(refuse(&state.store, &principal, audit, locked_error(&key, "delete")).await);
    }
    state.store.meta().delete_key(&account, &id).await?;
    audit::record(&state.store, &principal, audit::key_action(&account, "delete", &key.id, &key.name, 204, None))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
