//! `/v1/accounts`: the platform admin creates accounts, each with its global instance and predefined boards.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use acta_store::{Account, Instance};

use crate::access::audit::{self};
use crate::access::auth::Principal;
use crate::clock::now_text;
use crate::error::{ApiError, JsonBody};
use crate::http::input::{check_name, check_slug, new_id, not_null};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccount {
    name: String,
    #[serde(default, deserialize_with = "not_null")]
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
