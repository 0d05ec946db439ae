//! Acta audits itself: every change to keys, accounts and instances, every failed attempt, and key logins are
//! CADF events in the account, written through the same durable path as any event before the answer.
//!
//! Key events follow IBM's IAM Identity shape (seed 002): action `iam-identity.user-apikey.<verb>`, target
//! typeURI `iam-identity/user-apikey`, message `IAM Identity Service: <verb> user-apikey <name>` with
//! ` -failure` appended on failure, outcome and `reason.reasonCode` from the HTTP status. Acta's other objects
//! use `acta.<object>.<verb>`.

use serde_json::{Value, json};

use acta_store::Store;

use crate::access::auth::Principal;
use crate::error::ApiError;

/// What an audited action did to what.
pub(crate) struct Audit<'a> {
    /// The account the event belongs to.
    pub(crate) account: &'a str,
    /// `iam-identity.user-apikey.create`, `acta.instance.update`...
    pub(crate) action: String,
    /// The HTTP status of the answer.
    pub(crate) status: u16,
    /// The message without the failure suffix.
    pub(crate) message: String,
    /// The target resource.
    pub(crate) target: Value,
    /// Extra detail (`{"operation":"lock"}`).
    pub(crate) request_data: Option<Value>,
}

/// A key action: `verb` is create, update or delete (lock and unlock are updates, said in `operation`).
pub(crate) fn key_action<'a>(
    account: &'a str,
    verb: &str,
    key_id: &str,
    key_name: &str,
    status: u16,
    operation: Option<&str>,
) -> Audit<'a> {
    Audit {
        account,
        action: format!("iam-identity.user-apikey.{verb}"),
        status,
        message: format!("IAM Identity Service: {verb} user-apikey {key_name}"),
        target: json!({
            "id": format!("crn:v1:acta:public:iam-identity:global:a/{account}::apikey:{key_id}"),
            "name": key_name,
            "typeURI": "iam-identity/user-apikey",
        }),
        request_data: operation.map(|operation| json!({ "operation": operation })),
    }
}

/// A change to another object of Acta (`acta.instance.create`).
pub(crate) fn object_action<'a>(
    account: &'a str,
    object: &str,
    verb: &str,
    id: &str,
    name: &str,
    status: u16,
) -> Audit<'a> {
    Audit {
        account,
        action: format!("acta.{object}.{verb}"),
        status,
        message: format!("Acta: {verb} {object} {name}"),
        target: json!({
            "id": format!("crn:v1:acta:public:acta:global:a/{account}::{object}:{id}"),
            "name": name,
            "typeURI": format!("acta/{object}"),
        }),
        request_data: None,
    }
}

/// Writes the audit event durably.
pub(crate) async fn record(store: &Store, principal: &Principal, audit: Audit<'_>) -> Result<(), ApiError> {
    let failed = audit.status >= 400;
    let message = if failed { format!("{} -failure", audit.message) } else { audit.message };
    let now = crate::clock::now_ns();
    let mut event = json!({
        "id": uuid::Uuid::now_v7().to_string(),
        "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
        "eventType": "activity",
        "eventTime": acta_cadf::format_time(now),
        "action": audit.action,
        "outcome": if failed { "failure" } else { "success" },
        "message": message,
        "severity": if failed { "warning" } else { "normal" },
        "logSourceCRN": format!("crn:v1:acta:public:iam-identity:global:a/{}::", audit.account),
        "initiator": {
            "id": principal.key.principal.clone(),
            "name": principal.name(),
            "typeURI": "service/security/account/user",
            "credential": {"type": "apikey", "apikeyId": principal.key.id},
            "host": {"address": principal.address, "agent": principal.agent},
        },
        "target": audit.target,
        "observer": {"id": "acta", "name": "ActivityTracker"},
        "reason": {"reasonCode": audit.status, "reasonType": reason_type(audit.status)},
    });
    if let (Some(data), Some(object)) = (audit.request_data, event.as_object_mut()) {
        object.insert("requestData".to_string(), data);
    }
    Ok(store.accept_own(audit.account, &event, now).await?)
}

/// A key authenticated (audited at most once a minute per key; the platform admin belongs to no account).
pub(crate) async fn key_login(store: &Store, principal: &Principal) -> Result<(), ApiError> {
    let Some(account) = principal.key.account.clone() else {
        return Ok(());
    };
    let audit = key_action(&account, "login", &principal.key.id, &principal.key.name, 200, None);
    record(store, principal, audit).await
}

fn reason_type(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        _ => "Other",
    }
}

/// Audits a refusal, then returns it.
pub(crate) async fn refuse(store: &Store, principal: &Principal, audit: Audit<'_>, error: ApiError) -> ApiError {
    if let Err(audit_error) = record(store, principal, audit).await {
        return audit_error;
    }
    error
}
