//! # acta-cadf: the CADF event model of Acta
//!
//! This crate turns the bytes a client sends to `POST /v1/events` into [`Event`]s, or into per-event
//! [`Problem`]s that say exactly what is wrong. It parses, validates (lenient real-world shapes by default,
//! DSP0262 as pycadf checks it in [`Mode::Strict`]) and normalizes (`eventTime` to UTC nanoseconds, the
//! parts of `logSourceCRN`). It does no I/O and reads no clock: the caller passes `now_ns`.
//!
//! ## Invariants
//! - [`Event::raw`] holds the event's bytes exactly as received, never re-serialized: the ledger hashes them
//!   and the log stores them. Parsing `raw` again gives the same [`Event`].
//! - A batch fails as a whole ([`BatchError`]) only when it cannot be split into events. Otherwise every event
//!   gets its own fate, in input order, and a valid event is never held back by an invalid one.
//! - Every [`Problem`] carries an RFC 6901 JSON pointer relative to the event (`""` for the whole event) and a
//!   message that names the rule. All problems of an event are reported, not only the first.
//! - Limits are checked before the work they protect: size before parsing, nesting depth before building a
//!   tree (so no input can exhaust the parser's recursion).
//!
//! ## Validation rules
//! Every mode:
//! - The event is at most [`Limits::max_event_bytes`] bytes, nests objects and arrays at most
//!   [`Limits::max_depth`] levels deep (the event object is level 1), holds at most [`Limits::max_fields`]
//!   fields (object members and array elements, counted at every level), is valid JSON and is an object.
//! - `action` is a non-empty string.
//! - `outcome` is one of `success`, `failure`, `pending`, `unknown`. Lenient mode ignores case (`Success` is
//!   accepted as [`Outcome::Success`]); strict mode takes only the exact lowercase words.
//! - `eventTime` is a string in the grammar of [`parse_time`], at most [`Limits::max_future_ns`] after `now_ns`.
//!   Old times are fine.
//! - An initiator (`initiator` object or `initiatorId` string) and a target (`target` object or `targetId`
//!   string). Whichever of these is present must have that type; an id must not be empty.
//! - `id`, when present, is a string (an empty one counts as absent).
//!
//! Lenient mode (the default) checks nothing more: extension attributes, stringified `requestData`,
//! numeric or string `reasonCode`, `dataEvent` as `"true"`, IBM actions such as `kms.secrets.create` and
//! observers with only a `name` or an `id` are all accepted. A `logSourceCRN` that is not a CRN is kept as
//! text with [`Event::crn`] `None`, in both modes.
//!
//! Strict mode adds DSP0262 as pycadf checks it:
//! - `typeURI` and `id` are present non-empty strings; `eventType` is `activity`, `monitor` or `control`.
//! - `action` starts with a term of the CADF action taxonomy (pycadf's prefix rule, so `authenticate/logon`
//!   and keystone's `created.project` pass, `kms.secrets.create` does not).
//! - Exactly one of `initiator`/`initiatorId`, of `target`/`targetId` and of `observer`/`observerId`; the
//!   observer is required.
//! - Each of the `initiator`, `target` and `observer` objects has a non-empty string `id`, and its `typeURI`,
//!   when present, starts with a term of the CADF resource taxonomy (`storage`, `compute`, `network`,
//!   `service`, `data`, `unknown`). An absent resource `typeURI` is `unknown`, as pycadf defaults it.
//! - `severity`, when present, is a string.
//!
//! ## Batches
//! [`parse_batch`] takes one JSON object, a JSON array, or NDJSON. Array elements and NDJSON lines are
//! judged one by one: a non-object element or a line that is not JSON is that event's rejection. A body is
//! refused whole only when it is empty, holds no events, is not JSON (for an array: its brackets, commas or
//! strings are broken), or is a JSON scalar. Elements and lines are found by scanning bytes, so an element
//! nested too deep for any parser is still only its own rejection.
#![warn(missing_docs)]

pub mod adapt;
mod canonical;
mod crn;
mod scan;
mod taxonomy;
mod timestamp;
mod validate;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use canonical::canonical_json;
pub use crn::parse_crn;
pub use timestamp::{format_time, parse_time};

/// How much of CADF an instance insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Real-world shapes: IBM Activity Tracker and OpenStack events (the default).
    #[default]
    Lenient,
    /// DSP0262 taxonomies and required attributes, as pycadf checks them.
    Strict,
}

/// Bounds on one event. Each one exceeded is a clear per-event [`Problem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest event, in bytes of its JSON text (default 64 KiB).
    pub max_event_bytes: usize,
    /// Deepest nesting of objects and arrays, the event object being level 1 (default 32). Values above 127
    /// are capped by the JSON parser's own recursion limit, which then reports the event as invalid JSON.
    pub max_depth: usize,
    /// Most fields: object members and array elements, counted at every level (default 1,000).
    pub max_fields: usize,
    /// How far `eventTime` may lie after `now_ns`, in nanoseconds (default 5 minutes).
    pub max_future_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_event_bytes: 64 * 1024, max_depth: 32, max_fields: 1000, max_future_ns: 5 * 60 * 1_000_000_000 }
    }
}

/// Everything that changes how events are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Options {
    /// Lenient or strict validation.
    pub mode: Mode,
    /// Size, depth, field count and future bounds.
    pub limits: Limits,
}

impl Options {
    /// Strict mode with the default limits.
    pub fn strict() -> Self {
        Self { mode: Mode::Strict, limits: Limits::default() }
    }
}

/// How a request body holds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyFormat {
    /// One JSON object, or a JSON array of objects.
    Json,
    /// Newline-delimited JSON: each non-blank line is one event.
    Ndjson,
}

/// The CADF outcome of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// `success`
    Success,
    /// `failure`
    Failure,
    /// `pending`
    Pending,
    /// `unknown`
    Unknown,
}

impl Outcome {
    /// Every outcome, in the order the CADF specification lists them.
    pub const ALL: [Outcome; 4] = [Outcome::Success, Outcome::Failure, Outcome::Pending, Outcome::Unknown];

    /// The CADF word: `success`, `failure`, `pending` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Pending => "pending",
            Outcome::Unknown => "unknown",
        }
    }

    /// The outcome whose CADF word is exactly `word` (lowercase).
    pub fn from_word(word: &str) -> Option<Outcome> {
        Self::ALL.into_iter().find(|outcome| outcome.as_str() == word)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parts of an IBM Cloud Resource Name that Acta routes and filters by.
///
/// `crn:v1:bluemix:public:<service>:<location>:a/<account>:<instance>:<resource-type>:<resource>`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Crn {
    /// The CRN as received.
    pub raw: String,
    /// The service name (segment 4), never empty.
    pub service: String,
    /// The location or region (segment 5), such as `us-south` or `global`; empty when the CRN leaves it blank.
    pub location: String,
    /// The account id (segment 6 without its `a/`), when the scope is an account.
    pub account: Option<String>,
}

/// One accepted CADF event, with what Acta reads out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's bytes exactly as received (for an array element or an NDJSON line, the exact slice of the
    /// body without surrounding whitespace).
    pub raw: Vec<u8>,
    /// The parsed event; always a JSON object.
    pub value: Value,
    /// The event's `id` when it is a non-empty string.
    pub id: Option<String>,
    /// The event's `action`.
    pub action: String,
    /// The event's `outcome`.
    pub outcome: Outcome,
    /// `eventTime` in UTC, as unix nanoseconds.
    pub event_time: i64,
    /// The event's `severity` when it is a string.
    pub severity: Option<String>,
    /// The parts of `logSourceCRN`, when present and well formed.
    pub crn: Option<Crn>,
}

impl Event {
    /// The part of `action` before its first `.` (the whole action when it has no dot): `kms` for
    /// `kms.secrets.create`.
    pub fn platform(&self) -> &str {
        self.action.split_once('.').map_or(self.action.as_str(), |(platform, _)| platform)
    }
}

/// Why an event was rejected: where, and which rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Problem {
    /// RFC 6901 JSON pointer relative to the event; `""` for the whole event.
    pub pointer: String,
    /// What is wrong, naming the rule.
    pub message: String,
}

impl Problem {
    /// A problem at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    /// `"{pointer}: {message}"`, or the message alone for the whole event (empty pointer).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for Problem {}

/// Why a whole request body was refused. Problems of single events are never a `BatchError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Nothing but whitespace.
    #[error("body is empty")]
    Empty,
    /// An empty array, or NDJSON with only blank lines.
    #[error("body holds no events (an empty array or only blank lines)")]
    NoEvents,
    /// A JSON body that cannot be read as one object or an array of values.
    #[error("body is not valid JSON: {reason}")]
    NotJson {
        /// What the parser found wrong, with its position.
        reason: String,
    },
    /// A JSON body whose top level is a string, number, boolean or null.
    #[error("body must be a JSON object or an array of objects, got {found}")]
    NotObjectOrArray {
        /// The JSON type found: `string`, `number`, `boolean` or `null`.
        found: &'static str,
    },
}

/// What each event of a batch became, in input order.
pub type BatchResult = Vec<Result<Event, Vec<Problem>>>;

/// Splits a request body into events and parses each one.
///
/// `Json` takes one object or an array; non-object elements, and elements that are not valid JSON, are
/// rejections of their own. `Ndjson` takes one event per non-blank line; a line that is not JSON is that
/// event's rejection. A body that cannot be split at all is a [`BatchError`].
pub fn parse_batch(body: &[u8], format: BodyFormat, opts: &Options, now_ns: i64) -> Result<BatchResult, BatchError> {
    let body = scan::trim(body);
    let Some(&first) = body.first() else {
        return Err(BatchError::Empty);
    };
    let results: BatchResult = match format {
        BodyFormat::Ndjson => scan::lines(body).map(|line| parse_event(line, opts, now_ns)).collect(),
        BodyFormat::Json if first == b'[' => scan::split_array(body)
            .map_err(|reason| BatchError::NotJson { reason })?
            .into_iter()
            .map(|element| parse_event(element, opts, now_ns))
            .collect(),
        BodyFormat::Json if first == b'{' => vec![parse_single(body, opts, now_ns)?],
        BodyFormat::Json => {
            return Err(match serde_json::from_slice::<Value>(body) {
                Ok(value) => BatchError::NotObjectOrArray { found: json_kind(&value) },
                Err(error) => BatchError::NotJson { reason: error.to_string() },
            });
        }
    };
    if results.is_empty() {
        return Err(BatchError::NoEvents);
    }
    Ok(results)
}

/// Parses and validates one event.
pub fn parse_event(raw: &[u8], opts: &Options, now_ns: i64) -> Result<Event, Vec<Problem>> {
    let object = decode(raw, &opts.limits).map_err(|error| vec![error.into_problem()])?;
    validate::validate(raw, object, opts, now_ns)
}

/// A body that is a single object: the body is the event, so broken JSON is the body's fault.
fn parse_single(body: &[u8], opts: &Options, now_ns: i64) -> Result<Result<Event, Vec<Problem>>, BatchError> {
    match decode(body, &opts.limits) {
        Ok(object) => Ok(validate::validate(body, object, opts, now_ns)),
        Err(DecodeError::NotJson(reason)) => Err(BatchError::NotJson { reason }),
        Err(DecodeError::Rejected(problem)) => Ok(Err(vec![problem])),
    }
}

/// Why an event's bytes did not become a JSON object within the limits.
enum DecodeError {
    NotJson(String),
    Rejected(Problem),
}

impl DecodeError {
    fn into_problem(self) -> Problem {
        match self {
            DecodeError::NotJson(reason) => Problem::new("", format!("not valid JSON: {reason}")),
            DecodeError::Rejected(problem) => problem,
        }
    }
}

/// The event's JSON object, after the limits that protect parsing (size, depth) and the ones that need the
/// tree (type, field count).
fn decode(raw: &[u8], limits: &Limits) -> Result<Map<String, Value>, DecodeError> {
    if raw.len() > limits.max_event_bytes {
        return Err(DecodeError::Rejected(Problem::new(
            "",
            format!("event is {} bytes, more than the limit of {} bytes", raw.len(), limits.max_event_bytes),
        )));
    }
    match scan::find_flaw(raw, limits.max_depth) {
        Some(scan::Flaw::TooDeep(pointer)) => {
            return Err(DecodeError::Rejected(Problem::new(
                pointer,
                format!("nesting is deeper than the limit of {} levels", limits.max_depth),
            )));
        }
        Some(scan::Flaw::RepeatedMember(pointer)) => {
            return Err(DecodeError::Rejected(Problem::new(
                pointer,
                "this member name appears more than once in its object: JSON readers disagree on which value \
                 it has, so the event is not accepted (I-JSON, RFC 7493); send each name once",
            )));
        }
        None => {}
    }
    let value: Value = serde_json::from_slice(raw).map_err(|error| DecodeError::NotJson(error.to_string()))?;
    let Value::Object(object) = value else {
        return Err(DecodeError::Rejected(Problem::new(
            "",
            format!("event must be a JSON object, got {}", json_kind(&value)),
        )));
    };
    let fields = count_fields(&object);
    if fields > limits.max_fields {
        return Err(DecodeError::Rejected(Problem::new(
            "",
            format!(
                "event has {fields} fields, more than the limit of {} \
                 (object members and array elements, counted at every level)",
                limits.max_fields
            ),
        )));
    }
    Ok(object)
}

fn count_fields(object: &Map<String, Value>) -> usize {
    object.values().map(|value| 1 + count_nested(value)).sum::<usize>()
}

fn count_nested(value: &Value) -> usize {
    match value {
        Value::Object(object) => count_fields(object),
        Value::Array(items) => items.iter().map(|item| 1 + count_nested(item)).sum(),
        _ => 0,
    }
}

/// The JSON type name used in messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Client text quoted as a JSON string for a message, cut short so that a huge value cannot bloat the answer.
pub(crate) fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut shown: String = text.chars().take(MAX_CHARS).collect();
    let cut = shown.len() < text.len();
    if cut {
        shown.push('…');
    }
    serde_json::to_string(&shown).unwrap_or_else(|_| String::from("\"?\""))
}
