//! Which account and which instance an event goes to.

use acta_cadf::Event;

use super::{DEFAULT_ACCOUNT, Parsed};
use crate::meta::Instance;

/// The account an event's `logSourceCRN` names (`a/<id>`), or [`DEFAULT_ACCOUNT`] when it names none (a rejected
/// event too: its rejection is answered from there).
pub fn account_of(parsed: &Parsed) -> String {
    match parsed {
        Ok(event) => event.crn.as_ref().and_then(|crn| crn.account.clone()),
        Err(_) => None,
    }
    .unwrap_or_else(|| DEFAULT_ACCOUNT.to_string())
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
