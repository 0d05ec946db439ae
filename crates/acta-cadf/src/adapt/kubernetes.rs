//! Kubernetes API server audit events (`audit.k8s.io/v1` `Event`).
//!
//! | CADF | from the audit event |
//! |---|---|
//! | `id` | `kubernetes:<auditID>:<stage>` (each stage of a request is an event of its own) |
//! | `eventTime` | `stageTimestamp`, else `requestReceivedTimestamp` |
//! | `action` | `kubernetes.<resource>[.<subresource>].<verb>`: `kubernetes.pods.create`, `kubernetes.pods.exec.create`; for a non-resource request `kubernetes.nonresource.<verb>` |
//! | `outcome` | stage `RequestReceived`/`ResponseStarted`: `pending`; `Panic`: `failure`; else `responseStatus.code` below 400 `success`, 400 and above `failure`, absent `unknown` |
//! | `reason` | `responseStatus.code` as `reasonCode`, `responseStatus.reason` (else `responseStatus.status`) as `reasonType` |
//! | `initiator` | id and name `user.username`; `host.address` the first of `sourceIPs`; `host.agent` `userAgent` |
//! | `target` | id `<namespace>/<resource>/<name>` from `objectRef` (parts that are absent left out), else `requestURI`; name `objectRef.name`; `typeURI` `kubernetes/<resource>` (`kubernetes/nonresource` for a non-resource request) |
//! | `observer` | id and name `kube-apiserver` |
//! | `requestURI`, `stage` (extensions) | as given |

use serde_json::{Map, Value, json};

use super::{Source, activity, all_or_problems, derived_id, resource};
use crate::Problem;

pub(crate) fn adapt(source: &Source<'_>) -> Result<Map<String, Value>, Vec<Problem>> {
    let required = all_or_problems(
        ["/auditID", "/stage", "/verb", "/requestURI", "/user/username"].map(|p| source.required(p)).into(),
    )?;
    let [audit_id, stage, verb, request_uri, username] = required[..] else {
        return Err(vec![Problem::new("", "Kubernetes audit record: internal mapping error")]);
    };
    let event_time =
        source.text("/stageTimestamp").or_else(|| source.text("/requestReceivedTimestamp")).ok_or_else(|| {
            vec![Problem::new(
                "/stageTimestamp",
                "Kubernetes audit record lacks `stageTimestamp` and `requestReceivedTimestamp`, one of which is the \
                 event time",
            )]
        })?;
    let code = source.get("/responseStatus/code").and_then(Value::as_i64);
    let outcome = match (stage, code) {
        ("RequestReceived" | "ResponseStarted", _) => "pending",
        ("Panic", _) => "failure",
        (_, Some(code)) if code < 400 => "success",
        (_, Some(_)) => "failure",
        (_, None) => "unknown",
    };
    let resource_name = source.text("/objectRef/resource");
    let kind = match (resource_name, source.text("/objectRef/subresource")) {
        (Some(resource), Some(sub)) => format!("{resource}.{sub}"),
        (Some(resource), None) => resource.to_owned(),
        (None, _) => String::from("nonresource"),
    };
    let mut event = activity(
        derived_id(source.format, &[audit_id, stage]),
        event_time,
        format!("kubernetes.{kind}.{verb}"),
        outcome,
    );
    event.insert(
        "initiator".into(),
        resource(
            username,
            Some(username),
            "service/security/account/user",
            source.text("/sourceIPs/0"),
            source.text("/userAgent"),
        ),
    );
    let target_id = match resource_name {
        Some(resource) => [source.text("/objectRef/namespace"), Some(resource), source.text("/objectRef/name")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/"),
        None => request_uri.to_owned(),
    };
    let type_uri = format!("kubernetes/{}", resource_name.unwrap_or("nonresource"));
    event.insert("target".into(), resource(&target_id, source.text("/objectRef/name"), &type_uri, None, None));
    event.insert(
        "observer".into(),
        json!({"id": "kube-apiserver", "name": "kube-apiserver", "typeURI": "service/compute"}),
    );
    if let Some(code) = code {
        let mut reason = Map::new();
        reason.insert("reasonCode".into(), Value::from(code.to_string()));
        if let Some(why) = source.text("/responseStatus/reason").or_else(|| source.text("/responseStatus/status")) {
            reason.insert("reasonType".into(), Value::from(why));
        }
        event.insert("reason".into(), Value::Object(reason));
    }
    event.insert("requestURI".into(), Value::from(request_uri));
    event.insert("stage".into(), Value::from(stage));
    Ok(event)
}
