//! The CADF rules, applied to an event that is already a JSON object within the limits.
//!
//! Each check pushes its own problems and goes on, so that a client learns everything wrong with an event at
//! once. The rules are listed in the crate documentation.

use serde_json::{Map, Value};

use crate::scan::escape_token;
use crate::{Event, Limits, Mode, Options, Outcome, Problem, json_kind, parse_crn, parse_time};
use crate::{quote, taxonomy};

type Object = Map<String, Value>;

pub(crate) fn validate(raw: &[u8], object: Object, opts: &Options, now_ns: i64) -> Result<Event, Vec<Problem>> {
    let strict = opts.mode == Mode::Strict;
    let mut problems = Vec::new();
    let at = Checker { object: &object, pointer: String::new() };

    if strict {
        at.required_string("typeURI", "is required in strict mode", &mut problems);
        event_type(&at, &mut problems);
    }
    let id = event_id(&at, strict, &mut problems);
    let action = action(&at, strict, &mut problems);
    let outcome = outcome(&at, strict, &mut problems);
    let event_time = event_time(&at, &opts.limits, now_ns, &mut problems);
    party(&at, "initiator", "initiatorId", strict, &mut problems);
    party(&at, "target", "targetId", strict, &mut problems);
    if strict {
        party(&at, "observer", "observerId", strict, &mut problems);
    }
    let severity = match object.get("severity") {
        Some(Value::String(severity)) => Some(severity.clone()),
        Some(other) if strict => {
            problems.push(at.type_problem("severity", "a string", other));
            None
        }
        _ => None,
    };
    let crn = object.get("logSourceCRN").and_then(Value::as_str).and_then(parse_crn);

    let (Some(action), Some(outcome), Some(event_time)) = (action, outcome, event_time) else {
        debug_assert!(!problems.is_empty(), "a missing part always has a problem");
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Event { raw: raw.to_vec(), value: Value::Object(object), id, action, outcome, event_time, severity, crn })
}

fn event_type(at: &Checker<'_>, problems: &mut Vec<Problem>) {
    let Some(event_type) = at.required_string("eventType", "is required in strict mode", problems) else {
        return;
    };
    if !taxonomy::EVENT_TYPES.contains(&event_type) {
        problems.push(at.problem(
            "eventType",
            format!("{} is not a CADF event type (expected activity, monitor or control)", quote(event_type)),
        ));
    }
}

fn event_id(at: &Checker<'_>, strict: bool, problems: &mut Vec<Problem>) -> Option<String> {
    match at.object.get("id") {
        None if strict => {
            problems.push(at.problem("id", "is required in strict mode"));
            None
        }
        Some(Value::String(id)) if id.is_empty() => {
            if strict {
                problems.push(at.problem("id", "must not be empty"));
            }
            None
        }
        Some(Value::String(id)) => Some(id.clone()),
        Some(other) => {
            problems.push(at.type_problem("id", "a string", other));
            None
        }
        None => None,
    }
}

fn action(at: &Checker<'_>, strict: bool, problems: &mut Vec<Problem>) -> Option<String> {
    let action = at.required_string("action", "is required", problems)?;
    if strict && !taxonomy::is_action(action) {
        problems.push(at.problem(
            "action",
            format!(
                "{} is not in the CADF action taxonomy (strict mode expects an action starting with one of: {})",
                quote(action),
                taxonomy::ACTION_ROOTS.join(", ")
            ),
        ));
        return None;
    }
    Some(action.to_owned())
}

fn outcome(at: &Checker<'_>, strict: bool, problems: &mut Vec<Problem>) -> Option<Outcome> {
    let word = at.required_string("outcome", "is required", problems)?;
    let outcome = if strict { Outcome::from_word(word) } else { Outcome::from_word(&word.to_ascii_lowercase()) };
    if outcome.is_none() {
        let case_note = if strict { "; strict mode takes them in lowercase only" } else { "" };
        problems.push(at.problem(
            "outcome",
            format!("{} is not a CADF outcome (expected success, failure, pending or unknown{case_note})", quote(word)),
        ));
    }
    outcome
}

fn event_time(at: &Checker<'_>, limits: &Limits, now_ns: i64, problems: &mut Vec<Problem>) -> Option<i64> {
    let text = at.required_string("eventTime", "is required", problems)?;
    let event_time = match parse_time(text) {
        Ok(event_time) => event_time,
        Err(message) => {
            problems.push(at.problem("eventTime", message));
            return None;
        }
    };
    let ahead = i128::from(event_time) - i128::from(now_ns);
    if ahead > i128::from(limits.max_future_ns) {
        problems.push(at.problem(
            "eventTime",
            format!("{} is more than {} in the future", quote(text), human_duration(limits.max_future_ns)),
        ));
        return None;
    }
    Some(event_time)
}

/// An initiator, target or observer: a resource object, or the id of one.
fn party(at: &Checker<'_>, resource_key: &str, id_key: &str, strict: bool, problems: &mut Vec<Problem>) {
    let resource = at.object.get(resource_key);
    let id = at.object.get(id_key);
    if resource.is_none() && id.is_none() {
        problems.push(at.problem(
            resource_key,
            format!("is required (either {resource_key} as an object or {id_key} as a string)"),
        ));
        return;
    }
    match resource {
        Some(Value::Object(fields)) if strict => {
            strict_resource(&at.child(resource_key, fields), problems);
        }
        Some(Value::Object(_)) | None => {}
        Some(other) => problems.push(at.type_problem(resource_key, "an object", other)),
    }
    if id.is_some() {
        at.required_string(id_key, "is required", problems);
    }
    if strict && resource.is_some() && id.is_some() {
        problems.push(at.problem(
            id_key,
            format!("must not be sent together with {resource_key} (strict mode takes exactly one of them)"),
        ));
    }
}

fn strict_resource(at: &Checker<'_>, problems: &mut Vec<Problem>) {
    at.required_string("id", "is required in strict mode", problems);
    // An absent typeURI is pycadf's default, `unknown`, which the taxonomy holds.
    match at.object.get("typeURI") {
        None => {}
        Some(Value::String(type_uri)) if !taxonomy::is_resource_type(type_uri) => {
            problems.push(at.problem(
                "typeURI",
                format!(
                    "{} is not in the CADF resource taxonomy (strict mode expects a type starting with one of: {})",
                    quote(type_uri),
                    taxonomy::RESOURCE_ROOTS.join(", ")
                ),
            ));
        }
        Some(Value::String(_)) => {}
        Some(other) => problems.push(at.type_problem("typeURI", "a string", other)),
    }
}

/// One object of the event and its pointer, so that every problem is placed exactly.
struct Checker<'a> {
    object: &'a Object,
    pointer: String,
}

impl<'a> Checker<'a> {
    fn child<'b>(&self, key: &str, object: &'b Object) -> Checker<'b> {
        Checker { object, pointer: self.pointer_to(key) }
    }

    fn pointer_to(&self, key: &str) -> String {
        format!("{}/{}", self.pointer, escape_token(key))
    }

    fn problem(&self, key: &str, message: impl Into<String>) -> Problem {
        Problem::new(self.pointer_to(key), message)
    }

    fn type_problem(&self, key: &str, expected: &str, found: &Value) -> Problem {
        self.problem(key, format!("must be {expected}, got {}", json_kind(found)))
    }

    /// The non-empty string at `key`, or a problem saying why there is none.
    fn required_string(&self, key: &str, when_missing: &str, problems: &mut Vec<Problem>) -> Option<&'a str> {
        match self.object.get(key) {
            None => problems.push(self.problem(key, when_missing)),
            Some(Value::String(text)) if text.trim().is_empty() => {
                problems.push(self.problem(key, "must not be empty"));
            }
            Some(Value::String(text)) => return Some(text),
            Some(other) => problems.push(self.type_problem(key, "a string", other)),
        }
        None
    }
}

/// `5 minutes`, `30 seconds`, `1 hour`: the limit as people set it.
fn human_duration(ns: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (3_600_000_000_000, "hour"),
        (60_000_000_000, "minute"),
        (1_000_000_000, "second"),
        (1_000_000, "millisecond"),
    ];
    for (size, unit) in UNITS {
        if ns >= size && ns % size == 0 {
            let count = ns / size;
            let plural = if count == 1 { "" } else { "s" };
            return format!("{count} {unit}{plural}");
        }
    }
    format!("{ns} nanoseconds")
}
