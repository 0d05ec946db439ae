//! `/v1/alerts`: alerts attached to views, a test action and the history of firings and deliveries.
//!
//! Readers see alerts, writers change them. An alert watches every instance of its account and its
//! notifications carry events, so a key narrowed to one instance cannot use alerts at all. Every change is
//! audited as `acta.alert.<verb>`; after each, the engine reloads before the answer, so an event accepted after
//! the answer is evaluated against the alert as changed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::audit;
use crate::access::audit::refuse;
use crate::access::auth::Principal;
use crate::access::scope::account_of;
use crate::error::{ApiError, JsonBody, QueryParams};
use crate::http::input::{check_name, new_id, not_null, optional_integer};
use crate::notify::channels::REDACTED;
use crate::notify::{WINDOWS, channels, render, window_text};
use crate::state::AppState;
use acta_store::Alert;

const MAX_CHANNELS: usize = 10;
const MAX_THRESHOLD: i64 = 1_000_000;
/// What the API shows in place of a secret; sent back unchanged, it keeps the stored secret.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAlert {
    view: String,
    name: Option<String>,
    kind: String,
    #[serde(default, deserialize_with = "optional_integer")]
    threshold: Option<i64>,
    window: Option<String>,
    immediate: Option<bool>,
    at_end: Option<bool>,
    channels: Vec<Value>,
    timezone: Option<String>,
    muted_until: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    account: Option<String>,
}

/// A change: absent members stay; `muted_until: ""` unmutes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertChange {
    view: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    #[serde(default, deserialize_with = "optional_integer")]
    threshold: Option<i64>,
    window: Option<String>,
    immediate: Option<bool>,
    at_end: Option<bool>,
    channels: Option<Vec<Value>>,
    timezone: Option<String>,
    muted_until: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct AlertParams {
    account: Option<String>,
    limit: Option<i64>,
}

/// Alerts need the role and a key for the whole account.
fn require(principal: &Principal, role: &str) -> Result<(), ApiError> {
    principal.require(role)?;
    if principal.key.instance.is_some() {
        return Err(ApiError::forbidden(
            "a key narrowed to one instance cannot use alerts, which watch every instance of the account",
        ));
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_field", message)
}

/// A threshold or window: required by presence and absence alerts; an insight alert fires at each insight and
/// needs neither (`default` is what it keeps).
fn condition_value<T>(kind: &str, name: &str, given: Option<T>, default: T) -> Result<T, ApiError> {
    match given {
        Some(value) => Ok(value),
        None if kind == "insight" => Ok(default),
        None => Err(invalid(format!("{name} is required for a {kind} alert"))),
    }
}

fn window_secs(text: &str) -> Result<i64, ApiError> {
    WINDOWS.iter().find(|(name, _)| *name == text).map(|(_, secs)| *secs).ok_or_else(|| {
        let names: Vec<&str> = WINDOWS.iter().map(|(name, _)| *name).collect();
        invalid(format!("window {text:?} must be one of {}", names.join(", ")))
    })
}

fn muted_until(text: Option<String>) -> Result<Option<String>, ApiError> {
    match text.map(|text| text.trim().to_string()).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => acta_cadf::parse_time(&text)
            .map(|ns| Some(acta_cadf::format_time(ns)))
            .map_err(|_| invalid(format!("muted_until {text:?} is not an RFC 3339 time"))),
    }
}

/// Validates channels; a redacted secret sent back keeps the secret of the same channel before the change.
fn checked_channels(given: &[Value], before: Option<&Value>) -> Result<Value, ApiError> {
    if given.is_empty() || given.len() > MAX_CHANNELS {
        return Err(invalid(format!("channels must list 1 to {MAX_CHANNELS} channels")));
    }
    let mut out = Vec::with_capacity(given.len());
    for (index, channel) in given.iter().enumerate() {
        let mut channel = channel.clone();
        // A credential sent back redacted keeps the one stored at the same position, in a channel of the same
        // type; anything else would put a secret where its owner did not mean it to go.
        let previous = before.and_then(|b| b.get(index)).filter(|previous| previous["type"] == channel["type"]);
        for pointer in channels::secret_pointers(&channel) {
            if channel.pointer(&pointer).and_then(Value::as_str) != Some(REDACTED) {
                continue;
            }
            let kept = previous.and_then(|previous| previous.pointer(&pointer)).filter(|kept| !kept.is_null());
            match (kept, channel.pointer_mut(&pointer)) {
                (Some(kept), Some(slot)) => *slot = kept.clone(),
                _ => {
                    return Err(invalid(format!(
                        "channels[{index}]{pointer} is {REDACTED}, and no stored value is at that place to keep: \
                         give it again"
                    )));
                }
            }
        }
        out.push(channels::validate(&channel).map_err(|message| invalid(format!("channels[{index}]: {message}")))?);
    }
    Ok(Value::Array(out))
}

/// Refuses channels whose URL reaches an internal address the operator did not allow (the SSRF rule, applied
/// again at every send).
async fn check_targets(state: &AppState, channels: &Value) -> Result<(), ApiError> {
    channels::check_targets(channels, &state.alerts.settings.webhook_allow).await.map_err(|refusal| {
        let mut api = invalid(refusal.message);
        api.details = vec![json!({"field": format!("channels[{}].url", refusal.index), "rule": refusal.rule})];
        api
    })
}

/// Refuses an email channel when the server has no SMTP relay: the alert would look active and every firing
/// would fail, found only in its history.
fn check_relay(state: &AppState, channels: &Value) -> Result<(), ApiError> {
    let email = channels.as_array().into_iter().flatten().position(|channel| channel["type"] == "email");
    match email {
        Some(index) if state.alerts.settings.smtp_url.is_none() => {
            let mut api = ApiError::bad_request(
                "no_smtp_relay",
                format!(
                    "channels[{index}]: this server has no SMTP relay, so it cannot send email; the operator starts \
                     acta serve with --smtp-url (ACTA_SMTP_URL), or use a webhook, Slack or PagerDuty channel"
                ),
            );
            api.details = vec![json!({"field": format!("channels[{index}].type"), "rule": "smtp_relay"})];
            Err(api)
        }
        _ => Ok(()),
    }
}

/// Checks the condition: kind, threshold, and when presence fires.
fn check_condition(alert: &Alert) -> Result<(), ApiError> {
    match alert.kind.as_str() {
        "presence" if !alert.immediate && !alert.at_end => Err(invalid(
            "a presence alert fires immediately, at the end of the window, or both: set immediate or at_end",
        )),
        "presence" => Ok(()),
        "absence" if alert.immediate => {
            Err(invalid("an absence alert is checked at the end of each window; immediate must be false"))
        }
        "absence" => Ok(()),
        "insight" if alert.at_end || !alert.immediate => {
            Err(invalid("an insight alert fires at each insight found; immediate must be true and at_end false"))
        }
        "insight" => Ok(()),
        other => Err(invalid(format!("kind {other:?} must be presence, absence or insight"))),
    }?;
    if !(1..=MAX_THRESHOLD).contains(&alert.threshold) {
        return Err(invalid(format!("threshold {} must be between 1 and {MAX_THRESHOLD}", alert.threshold)));
    }
    if !render::is_time_zone(&alert.timezone) {
        return Err(invalid(format!("timezone {:?} is not an IANA time zone (like Europe/Paris)", alert.timezone)));
    }
    check_name("name", &alert.name)
}

pub(crate) fn alert_json(alert: &Alert) -> Value {
    let channels: Vec<Value> =
        alert.channels.as_array().map(|channels| channels.iter().map(channels::redact).collect()).unwrap_or_default();
    json!({
        "id": alert.id,
        "view": alert.view,
        "name": alert.name,
        "kind": alert.kind,
        "threshold": alert.threshold,
        "window": window_text(alert.window_secs),
        "immediate": alert.immediate,
        "at_end": alert.at_end,
        "channels": channels,
        "timezone": alert.timezone,
        "muted_until": alert.muted_until,
        "created_at": alert.created_at,
        "updated_at": alert.updated_at,
    })
}

async fn alert_of(state: &AppState, account: &str, id: &str) -> Result<Alert, ApiError> {
    state.store.meta().alert(account, id).await?.ok_or_else(|| ApiError::not_found("alert"))
}

/// `POST /v1/alerts`.
pub(crate) async fn create_alert(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewAlert>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = account_of(&principal, body.account.as_deref())?;
    let label = body.name.clone().unwrap_or_default();
    if let Err(error) = require(&principal, "writer") {
        let audit = audit::object_action(&account, "alert", "create", "", &label, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    let view = state.store.meta().view(&account, &body.view).await?.ok_or_else(|| ApiError::not_found("view"))?;
    let (immediate, at_end) = match body.kind.as_str() {
        "absence" => (body.immediate.unwrap_or(false), true),
        _ => (body.immediate.unwrap_or(true), body.at_end.unwrap_or(false)),
    };
    let now_ns = crate::clock::now_ns();
    let now = acta_cadf::format_time(now_ns);
    let alert = Alert {
        id: new_id(),
        account: account.clone(),
        view: view.id.clone(),
        name: body.name.map(|name| name.trim().to_string()).unwrap_or_else(|| view.name.clone()),
        threshold: condition_value(&body.kind, "threshold", body.threshold, 1)?,
        window_secs: window_secs(&condition_value(&body.kind, "window", body.window, "1h".to_string())?)?,
        kind: body.kind,
        immediate,
        at_end,
        channels: checked_channels(&body.channels, None)?,
        timezone: body.timezone.unwrap_or_else(|| "UTC".to_string()),
        muted_until: muted_until(body.muted_until)?,
        anchor_ns: now_ns,
        evaluated_until_ns: now_ns,
        created_at: now.clone(),
        updated_at: now,
    };
    check_condition(&alert)?;
    check_relay(&state, &alert.channels)?;
    check_targets(&state, &alert.channels).await?;
    state.store.meta().create_alert(&alert).await?;
    state.alerts.reload().await;
    let audit = audit::object_action(&account, "alert", "create", &alert.id, &alert.name, 201);
    audit::record(&state.store, &principal, audit).await?;
    Ok((StatusCode::CREATED, Json(alert_json(&alert))))
}

/// `GET /v1/alerts`, with whether email can be sent (`email_relay`), so that an editor can say so before saving.
pub(crate) async fn list_alerts(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<AlertParams>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, "reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    let alerts = state.store.meta().alerts(&account).await?;
    let email_relay = state.alerts.settings.smtp_url.is_some();
    Ok(Json(json!({"alerts": alerts.iter().map(alert_json).collect::<Vec<_>>(), "email_relay": email_relay})))
}

/// `GET /v1/alerts/{id}`.
pub(crate) async fn show_alert(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AlertParams>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, "reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    Ok(Json(alert_json(&alert_of(&state, &account, &id).await?)))
}

/// `PATCH /v1/alerts/{id}`. A change of the condition (view, kind, threshold, window, immediate, at_end)
/// starts a new window; a change of name, channels, time zone or mute does not.
pub(crate) async fn update_alert(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AlertParams>,
    JsonBody(body): JsonBody<AlertChange>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let before = alert_of(&state, &account, &id).await?;
    if let Err(error) = require(&principal, "writer") {
        let audit = audit::object_action(&account, "alert", "update", &before.id, &before.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    let mut alert = before.clone();
    if let Some(view) = body.view {
        alert.view = state.store.meta().view(&account, &view).await?.ok_or_else(|| ApiError::not_found("view"))?.id;
    }
    if let Some(name) = body.name {
        alert.name = name.trim().to_string();
    }
    if let Some(kind) = body.kind {
        alert.kind = kind;
    }
    if let Some(threshold) = body.threshold {
        alert.threshold = threshold;
    }
    if let Some(window) = body.window {
        alert.window_secs = window_secs(&window)?;
    }
    if let Some(immediate) = body.immediate {
        alert.immediate = immediate;
    }
    if let Some(at_end) = body.at_end {
        alert.at_end = at_end;
    }
    if alert.kind == "absence" {
        alert.at_end = true;
    }
    if let Some(channels) = body.channels {
        alert.channels = checked_channels(&channels, Some(&before.channels))?;
        check_relay(&state, &alert.channels)?;
        check_targets(&state, &alert.channels).await?;
    }
    if let Some(timezone) = body.timezone {
        alert.timezone = timezone;
    }
    if body.muted_until.is_some() {
        alert.muted_until = muted_until(body.muted_until)?;
    }
    check_condition(&alert)?;
    let condition_changed =
        (&alert.view, &alert.kind, alert.threshold, alert.window_secs, alert.immediate, alert.at_end)
            != (&before.view, &before.kind, before.threshold, before.window_secs, before.immediate, before.at_end);
    let now_ns = crate::clock::now_ns();
    if condition_changed {
        alert.anchor_ns = now_ns;
        alert.evaluated_until_ns = now_ns;
    }
    alert.updated_at = acta_cadf::format_time(now_ns);
    state.store.meta().update_alert(&alert).await?;
    state.alerts.reload().await;
    let audit = audit::object_action(&account, "alert", "update", &alert.id, &alert.name, 200);
    audit::record(&state.store, &principal, audit).await?;
    Ok(Json(alert_json(&alert)))
}

/// `DELETE /v1/alerts/{id}`: pending notifications are cancelled; the history stays.
pub(crate) async fn delete_alert(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AlertParams>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let alert = alert_of(&state, &account, &id).await?;
    if let Err(error) = require(&principal, "writer") {
        let audit = audit::object_action(&account, "alert", "delete", &alert.id, &alert.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    state.store.meta().delete_alert(&account, &id).await?;
    state.alerts.reload().await;
    let audit = audit::object_action(&account, "alert", "delete", &alert.id, &alert.name, 204);
    audit::record(&state.store, &principal, audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/alerts/{id}/test`: sends a test notification on every channel (even when muted); `202` with the
/// firing id, whose deliveries show in the history.
pub(crate) async fn test_alert(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AlertParams>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = account_of(&principal, params.account.as_deref())?;
    let alert = alert_of(&state, &account, &id).await?;
    if let Err(error) = require(&principal, "writer") {
        let audit = audit::object_action(&account, "alert", "test", &alert.id, &alert.name, 403);
        return Err(refuse(&state.store, &principal, audit, error).await);
    }
    let view = state.store.meta().view(&account, &alert.view).await?.ok_or_else(|| ApiError::not_found("view"))?;
    let name = alert.name.clone();
    let firing = crate::jobs::alert_engine::fire_test(&state.store, &state.alerts, alert, view)
        .await
        .ok_or_else(|| ApiError::internal("the test firing could not be recorded"))?;
    audit::record(&state.store, &principal, audit::object_action(&account, "alert", "test", &id, &name, 202)).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"firing": firing}))))
}

/// `GET /v1/alerts/{id}/history` (`limit`, default 50, at most 500): firings newest first, each with its
/// deliveries and every attempt.
pub(crate) async fn alert_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<AlertParams>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, "reader")?;
    let account = account_of(&principal, params.account.as_deref())?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 500"));
    }
    // The alert may have been deleted: its history stays readable by id, still only within the account.
    let history = state.store.meta().alert_history(&account, &id, limit).await?;
    if history.is_empty() && state.store.meta().alert(&account, &id).await?.is_none() {
        return Err(ApiError::not_found("alert"));
    }
    let firings: Vec<Value> = history
        .into_iter()
        .map(|(firing, deliveries)| {
            let deliveries: Vec<Value> = deliveries
                .into_iter()
                .map(|(delivery, attempts)| {
                    json!({
                        "id": delivery.id,
                        "channel": channels::redact(&delivery.channel),
                        "state": delivery.state,
                        "attempts": delivery.attempts,
                        "next_attempt": (delivery.state == "pending")
                            .then(|| acta_cadf::format_time(delivery.next_attempt_ns)),
                        "last_error": delivery.last_error,
                        "delivered_at": delivery.delivered_at,
                        "history": attempts,
                    })
                })
                .collect();
            json!({
                "id": firing.id,
                "reason": firing.reason,
                "count": firing.count,
                "muted": firing.muted,
                "fired_at": firing.fired_at,
                "window": {
                    "start": firing.window_start_ns.map(acta_cadf::format_time),
                    "end": firing.window_end_ns.map(acta_cadf::format_time),
                },
                // Evaluated after a downtime; the late notification that stood for it when it was not sent itself.
                "late": render::is_late(&firing.message),
                "evaluated_at": firing.message["evaluated_at"],
                "notified_in": firing.message["notified_in"],
                "late_windows": render::late_summary(&firing.message),
                "summary": render::summary(&firing.message),
                "matches": firing.message["matches"],
                "deliveries": deliveries,
            })
        })
        .collect();
    Ok(Json(json!({"alert": id, "firings": firings})))
}
