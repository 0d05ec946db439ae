//! `/v1/keys`: API keys, and the audit event of every change and refusal.
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

use acta_store::ApiKey;

use crate::access::audit::{self, refuse};
use crate::access::auth::{self, Principal};
use crate::access::scope::account_of;
use crate::clock::now_text;
use crate::error::{ApiError, JsonBody, QueryParams};
use crate::http::input::{AccountParam, check_name, not_null};
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    name: String,
    description: Option<String>,
    role: String,
    #[serde(default, deserialize_with = "not_null")]
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
#[serde(deny_unknown_fields)]
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
