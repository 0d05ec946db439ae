//! AWS CloudTrail records.
//!
//! | CADF | from the CloudTrail record |
//! |---|---|
//! | `id` | `cloudtrail:<eventID>` |
//! | `eventTime` | `eventTime` |
//! | `action` | `cloudtrail.<service>.<eventName>`, the service being `eventSource` without `.amazonaws.com`: `cloudtrail.ec2.RunInstances` |
//! | `outcome` | `failure` when `errorCode` is present, else `success` |
//! | `reason` | `errorCode` as `reasonCode`, `errorMessage` as `reasonType` (only on failure) |
//! | `initiator` | id `userIdentity.arn` (else `principalId`, else `invokedBy`); name `userIdentity.userName` (else `principalId`); `host.address` `sourceIPAddress`; `host.agent` `userAgent` |
//! | `target` | the first of `resources` (id `ARN`, `typeURI` its `type`), else the service: id `eventSource`, `typeURI` `service` |
//! | `observer` | id `recipientAccountId` (else `userIdentity.accountId`), name `AWS CloudTrail` |
//! | `region` (extension) | `awsRegion` |

use serde_json::{Map, Value, json};

use super::{Source, activity, all_or_problems, derived_id, resource};
use crate::Problem;

pub(crate) fn adapt(source: &Source<'_>) -> Result<Map<String, Value>, Vec<Problem>> {
    let required =
        all_or_problems(["/eventID", "/eventTime", "/eventSource", "/eventName"].map(|p| source.required(p)).into())?;
    let [event_id, event_time, event_source, event_name] = required[..] else {
        return Err(vec![Problem::new("", "AWS CloudTrail record: internal mapping error")]);
    };
    let service = event_source.strip_suffix(".amazonaws.com").unwrap_or(event_source);
    let failed = source.get("/errorCode").is_some_and(|code| !code.is_null());
    let mut event = activity(
        derived_id(source.format, &[event_id]),
        event_time,
        format!("cloudtrail.{service}.{event_name}"),
        if failed { "failure" } else { "success" },
    );
    let initiator_id = source
        .text("/userIdentity/arn")
        .or_else(|| source.text("/userIdentity/principalId"))
        .or_else(|| source.text("/userIdentity/invokedBy"))
        .ok_or_else(|| {
            vec![Problem::new(
                "/userIdentity",
                "AWS CloudTrail record lacks `userIdentity.arn`, `userIdentity.principalId` and \
                 `userIdentity.invokedBy`: one of them names the initiator",
            )]
        })?;
    let initiator_name = source.text("/userIdentity/userName").or_else(|| source.text("/userIdentity/principalId"));
    event.insert(
        "initiator".into(),
        resource(
            initiator_id,
            initiator_name,
            "service/security/account/user",
            source.text("/sourceIPAddress"),
            source.text("/userAgent"),
        ),
    );
    let target = match source.text("/resources/0/ARN") {
        Some(arn) => resource(arn, None, source.text("/resources/0/type").unwrap_or("unknown"), None, None),
        None => resource(event_source, Some(service), "service", None, None),
    };
    event.insert("target".into(), target);
    let observer_id =
        source.text("/recipientAccountId").or_else(|| source.text("/userIdentity/accountId")).unwrap_or("cloudtrail");
    event.insert("observer".into(), json!({"id": observer_id, "name": "AWS CloudTrail", "typeURI": "service/audit"}));
    if failed {
        let mut reason = Map::new();
        if let Some(code) = source.get("/errorCode") {
            reason.insert("reasonCode".into(), code.clone());
        }
        if let Some(message) = source.text("/errorMessage") {
            reason.insert("reasonType".into(), Value::from(message));
        }
        event.insert("reason".into(), Value::Object(reason));
    }
    if let Some(region) = source.text("/awsRegion") {
        event.insert("region".into(), Value::from(region));
    }
    Ok(event)
}
