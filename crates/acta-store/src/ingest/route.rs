//! Which account and which instance an event goes to.

use acta_cadf::{Event, Problem};

use super::{DEFAULT_ACCOUNT, Parsed};
use crate::meta::Instance;

/// The account an event's `logSourceCRN` names (`a/<id>`), or [`DEFAULT_ACCOUNT`] when it has none or its CRN
/// names no account (a rejected event too: its rejection is answered from there). A `logSourceCRN` that is not a
/// CRN is the event's rejection: sending it to the default account would file it silently where its owner never
/// looks, while a CRN naming an unknown account is rejected (one kind of mistake, one answer).
pub fn account_of(parsed: &Parsed) -> Result<String, Problem> {
    let Ok(event) = parsed else {
        return Ok(DEFAULT_ACCOUNT.to_string());
    };
    if let Some(crn) = &event.crn {
        return Ok(crn.account.clone().unwrap_or_else(|| DEFAULT_ACCOUNT.to_string()));
    }
    match event.value.get("logSourceCRN").and_then(serde_json::Value::as_str) {
        Some(text) => Err(Problem::new(
            "/logSourceCRN",
            format!(
                "{text:?} is not a CRN (crn:v1:<cloud>:<type>:<service>:<location>:a/<account>:...); events sent \
                 with the platform key go to the account their logSourceCRN names"
            ),
        )),
        None => Ok(DEFAULT_ACCOUNT.to_string()),
    }
}

/// The instance an event goes to: the account's instance in the region of its `logSourceCRN`; `global` events
/// to the global instance; otherwise `fallback` (the writer's own instance), else the global one, else the
/// first. `instances` is never empty (the caller rejects events of an account without instances).
pub fn instance_of<'a>(instances: &'a [Instance], fallback: Option<&str>, event: &Event) -> &'a Instance {
    let location = event.crn.as_ref().map(|crn| crn.location.as_str());
    let by_region = location.and_then(|location| {
        if location == "global" {
            instances.iter().find(|instance| instance.global)
        } else {
            instances.iter().find(|instance| instance.region == location && !instance.global)
        }
    });
    let fallback = || {
        fallback
            .and_then(|own| instances.iter().find(|instance| instance.id == own))
            .or_else(|| instances.iter().find(|instance| instance.global))
    };
    by_region.or_else(fallback).unwrap_or(&instances[0])
}
