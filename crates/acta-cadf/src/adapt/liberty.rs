//! Open Liberty audit records: CADF-like, but named by `eventName` instead of `action`, with local time stamps
//! and sometimes with dotted member names (`"observer.id"`) instead of nested objects.
//!
//! Two layouts are read: the audit file handler's (`audit.log`: `eventName`, nested `observer`...) and the JSON
//! logging one (`"type": "liberty_audit"`, every audit member prefixed `ibm_audit_` and dotted:
//! `ibm_audit_eventName`, `ibm_audit_observer.id`), whose prefix is dropped first.
//!
//! | CADF | from the record |
//! |---|---|
//! | every member | as given; `ibm_audit_x` becomes `x` (unless the record also has `x`); a dotted name `a.b` becomes member `b` of object `a` (unless `a` is not an object) |
//! | `action` | `action`; when absent, `eventName` (`SECURITY_AUTHN`) |
//! | `eventTime` | `eventTime` as given when it has an offset; a local time (`2024-03-01 10:15:30.123`, also with a trailing zone abbreviation such as `EDT`, which is ambiguous and so ignored) gets the caller's `utc_offset` |
//! | `outcome` | `outcome` in lowercase; `denied`, `unauthorized`, `forbidden` and `error` become `failure`, `redirect` becomes `success` |
//! | `id` | `id`; when absent `liberty:<observer.id>:<eventTime>:<eventSequenceNumber>` when those are present |

use serde_json::{Map, Value};

use super::{AdaptOptions, Source, derived_id};
use crate::{Problem, parse_time};

pub(crate) fn adapt(source: &Source<'_>, adapt: &AdaptOptions) -> Result<Map<String, Value>, Vec<Problem>> {
    let (unprefixed, prefix) = drop_prefix(source.record);
    // Problems point into the record as it was sent, so at the prefixed name when the prefix was dropped.
    let at = |member: &str| format!("/{prefix}{member}");
    let mut event = nest_dotted(&unprefixed);
    let nested = Source { format: source.format, record: &event };
    let mut problems = Vec::new();
    let action = match nested.text("/action") {
        Some(action) => Some(action.to_owned()),
        None => match nested.required("/eventName") {
            Ok(name) => Some(name.to_owned()),
            Err(_) => {
                problems.push(Problem::new(
                    at("eventName"),
                    "Open Liberty audit record lacks both `action` and `eventName`, one of which is the CADF action",
                ));
                None
            }
        },
    };
    let local_time = nested
        .required("/eventTime")
        .map_err(|problem| {
            vec![Problem::new(at("eventTime"), problem.message.replace("`eventTime`", &format!("`{prefix}eventTime`")))]
        })?
        .to_owned();
    let event_time = match utc_time(&local_time, adapt.utc_offset.as_deref()) {
        Ok(time) => Some(time),
        Err(message) => {
            problems.push(Problem::new(at("eventTime"), message));
            None
        }
    };
    let id = match nested.text("/id") {
        Some(_) => None,
        None => match (nested.text("/observer/id"), nested.get("/eventSequenceNumber")) {
            (Some(observer), Some(sequence)) => {
                let sequence = match sequence {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                Some(derived_id(source.format, &[observer, &local_time, &sequence]))
            }
            _ => None,
        },
    };
    let outcome = nested.text("/outcome").map(|outcome| match outcome.to_ascii_lowercase().as_str() {
        "denied" | "unauthorized" | "forbidden" | "error" => String::from("failure"),
        "redirect" => String::from("success"),
        other => other.to_owned(),
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    if let Some(action) = action {
        event.insert("action".into(), Value::from(action));
    }
    if let Some(time) = event_time {
        event.insert("eventTime".into(), Value::from(time));
    }
    if let Some(id) = id {
        event.insert("id".into(), Value::from(id));
    }
    if let Some(outcome) = outcome {
        event.insert("outcome".into(), Value::from(outcome));
    }
    Ok(event)
}

/// Checks a `utc_offset` as [`AdaptOptions::utc_offset`] takes it: `Z`, `+HH:MM` or `+HHMM` (or with `-`).
pub fn check_utc_offset(offset: &str) -> Result<(), String> {
    parse_time(&format!("2000-01-01T00:00:00{offset}"))
        .map(|_| ())
        .map_err(|_| format!("utc_offset {offset:?} is not an offset from UTC such as +01:00, -0500 or Z"))
}

/// `text` as an RFC 3339 time: as it is when it carries an offset, else with `offset` appended.
fn utc_time(text: &str, offset: Option<&str>) -> Result<String, String> {
    if parse_time(text).is_ok() {
        return Ok(text.to_owned());
    }
    let local = text.trim();
    // A trailing zone abbreviation (`EDT`, `CET`) names no unique offset, so it is dropped for the caller's.
    let local = match local.rsplit_once(' ') {
        Some((rest, zone)) if zone.chars().all(|c| c.is_ascii_alphabetic()) && rest.contains(':') => rest,
        _ => local,
    };
    let local = local.replacen(' ', "T", 1);
    let Some(offset) = offset else {
        return Err(format!(
            "Open Liberty audit record: `eventTime` {text:?} is a local time without an offset from UTC; pass the \
             offset of the server that wrote it as `utc_offset` (for example `utc_offset=+01:00`)"
        ));
    };
    check_utc_offset(offset)?;
    let candidate = format!("{local}{offset}");
    parse_time(&candidate)
        .map(|_| candidate)
        .map_err(|why| format!("Open Liberty audit record: `eventTime` {text:?} is not a time Acta reads: {why}"))
}

/// The prefix of the JSON logging layout's audit members.
const JSON_LOGGING_PREFIX: &str = "ibm_audit_";

/// The record with the JSON logging layout's `ibm_audit_` prefix dropped from its member names (a name the record
/// also has unprefixed is kept as it is), and the prefix dropped (empty when the record had none).
fn drop_prefix(record: &Map<String, Value>) -> (Map<String, Value>, &'static str) {
    if !record.keys().any(|name| name.starts_with(JSON_LOGGING_PREFIX)) {
        return (record.clone(), "");
    }
    let mut unprefixed = Map::new();
    for (name, value) in record {
        let short = name.strip_prefix(JSON_LOGGING_PREFIX).filter(|short| !record.contains_key(*short));
        unprefixed.insert(short.unwrap_or(name).to_owned(), value.clone());
    }
    (unprefixed, JSON_LOGGING_PREFIX)
}

/// The record with dotted member names (`observer.id`) turned into nested objects.
fn nest_dotted(record: &Map<String, Value>) -> Map<String, Value> {
    let mut nested = Map::new();
    let (dotted, plain): (Vec<_>, Vec<_>) = record.iter().partition(|(name, _)| name.contains('.'));
    for (name, value) in plain {
        nested.insert(name.clone(), value.clone());
    }
    for (name, value) in dotted {
        let parts: Vec<&str> = name.split('.').collect();
        if !insert_path(&mut nested, &parts, value.clone()) {
            nested.insert(name.clone(), value.clone());
        }
    }
    nested
}

/// Inserts `value` at `path`, creating objects on the way; false when a non-object is in the way.
fn insert_path(object: &mut Map<String, Value>, path: &[&str], value: Value) -> bool {
    match path {
        [] => false,
        [last] => {
            if object.contains_key(*last) {
                return false;
            }
            object.insert((*last).to_owned(), value);
            true
        }
        [first, rest @ ..] => match object.entry((*first).to_owned()).or_insert_with(|| Value::Object(Map::new())) {
            Value::Object(inner) => insert_path(inner, rest, value),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_with_a_zone_abbreviation_takes_the_given_offset() {
        assert_eq!(
            utc_time("2024-03-01 10:15:30.123 EDT", Some("-04:00")).as_deref(),
            Ok("2024-03-01T10:15:30.123-04:00")
        );
    }

    #[test]
    fn a_local_time_without_an_offset_asks_for_utc_offset() {
        let message = utc_time("2024-03-01 10:15:30.123", None).expect_err("no offset");
        assert!(message.contains("utc_offset"), "{message}");
    }

    #[test]
    fn the_json_logging_prefix_is_dropped_unless_the_short_name_is_taken() {
        let record = serde_json::json!({"type": "liberty_audit", "ibm_audit_eventName": "SECURITY_AUTHN",
            "ibm_audit_observer.id": "x", "outcome": "kept", "ibm_audit_outcome": "success"});
        let Value::Object(record) = record else { panic!("object") };
        let (unprefixed, prefix) = drop_prefix(&record);
        assert_eq!(prefix, "ibm_audit_");
        assert_eq!(unprefixed["eventName"], "SECURITY_AUTHN");
        assert_eq!(unprefixed["observer.id"], "x");
        assert_eq!(unprefixed["outcome"], "kept");
        assert_eq!(unprefixed["ibm_audit_outcome"], "success");
        assert_eq!(unprefixed["type"], "liberty_audit");
    }

    #[test]
    fn dotted_names_become_nested_objects() {
        let record = serde_json::json!({"observer.id": "websphere: x", "observer.name": "SecurityService"});
        let Value::Object(record) = record else { panic!("object") };
        let nested = nest_dotted(&record);
        assert_eq!(nested["observer"]["id"], "websphere: x");
        assert_eq!(nested["observer"]["name"], "SecurityService");
    }
}
