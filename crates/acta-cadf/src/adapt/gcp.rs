//! Google Cloud audit `LogEntry`s (`protoPayload` of type `type.googleapis.com/google.cloud.audit.AuditLog`).
//!
//! | CADF | from the LogEntry |
//! |---|---|
//! | `id` | `gcp:<logName>:<insertId>` (characters a URL path would escape become `_`) |
//! | `eventTime` | `timestamp`, else `receiveTimestamp` |
//! | `action` | `gcp.<protoPayload.methodName>`: `gcp.v1.compute.instances.insert` |
//! | `outcome` | `protoPayload.status.code` absent or 0: `success`; any other code: `failure`; `operation.first` without `operation.last`: `pending` |
//! | `reason` | `protoPayload.status.code` as `reasonCode`, `protoPayload.status.message` as `reasonType` (only when not 0) |
//! | `initiator` | id and name `protoPayload.authenticationInfo.principalEmail` (`unknown` when absent, as for some denied calls); `host.address` `protoPayload.requestMetadata.callerIp`; `host.agent` `protoPayload.requestMetadata.callerSuppliedUserAgent` |
//! | `target` | id `protoPayload.resourceName` (else `protoPayload.serviceName`); name `protoPayload.serviceName`; `typeURI` `resource.type` (else `service`) |
//! | `observer` | id and name `protoPayload.serviceName` |
//! | `severity` | `severity` |

use serde_json::{Map, Value, json};

use super::{Source, activity, all_or_problems, derived_id, resource};
use crate::Problem;

const AUDIT_LOG_TYPE: &str = "type.googleapis.com/google.cloud.audit.AuditLog";

pub(crate) fn adapt(source: &Source<'_>) -> Result<Map<String, Value>, Vec<Problem>> {
    source.required_object("/protoPayload").map_err(|problem| vec![problem])?;
    if let Some(kind) = source.text("/protoPayload/@type")
        && kind != AUDIT_LOG_TYPE
    {
        return Err(vec![Problem::new(
            "/protoPayload/@type",
            format!("Google Cloud audit log record: `protoPayload.@type` is {kind:?}, not {AUDIT_LOG_TYPE:?}"),
        )]);
    }
    let required = all_or_problems(
        ["/insertId", "/logName", "/protoPayload/methodName", "/protoPayload/serviceName"]
            .map(|p| source.required(p))
            .into(),
    )?;
    let [insert_id, log_name, method, service] = required[..] else {
        return Err(vec![Problem::new("", "Google Cloud audit log record: internal mapping error")]);
    };
    let event_time = source.text("/timestamp").or_else(|| source.text("/receiveTimestamp")).ok_or_else(|| {
        vec![Problem::new(
            "/timestamp",
            "Google Cloud audit log record lacks `timestamp` and `receiveTimestamp`, one of which is the event time",
        )]
    })?;
    let code = source.get("/protoPayload/status/code").and_then(Value::as_i64).unwrap_or(0);
    let first_only = source.get("/operation/first").and_then(Value::as_bool) == Some(true)
        && source.get("/operation/last").and_then(Value::as_bool) != Some(true);
    let outcome = if code != 0 {
        "failure"
    } else if first_only {
        "pending"
    } else {
        "success"
    };
    let mut event =
        activity(derived_id(source.format, &[log_name, insert_id]), event_time, format!("gcp.{method}"), outcome);
    let principal = source.text("/protoPayload/authenticationInfo/principalEmail").unwrap_or("unknown");
    event.insert(
        "initiator".into(),
        resource(
            principal,
            Some(principal),
            "service/security/account/user",
            source.text("/protoPayload/requestMetadata/callerIp"),
            source.text("/protoPayload/requestMetadata/callerSuppliedUserAgent"),
        ),
    );
    let target_id = source.text("/protoPayload/resourceName").unwrap_or(service);
    event.insert(
        "target".into(),
        resource(target_id, Some(service), source.text("/resource/type").unwrap_or("service"), None, None),
    );
    event.insert("observer".into(), json!({"id": service, "name": service, "typeURI": "service"}));
    if code != 0 {
        let mut reason = Map::new();
        reason.insert("reasonCode".into(), Value::from(code.to_string()));
        if let Some(message) = source.text("/protoPayload/status/message") {
            reason.insert("reasonType".into(), Value::from(message));
        }
        event.insert("reason".into(), Value::Object(reason));
    }
    if let Some(severity) = source.text("/severity") {
        event.insert("severity".into(), Value::from(severity));
    }
    Ok(event)
}
