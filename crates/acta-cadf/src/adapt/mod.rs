//! Adapters from the audit formats other systems emit to CADF events.
//!
//! Each adapter turns one source record into a CADF event (a JSON object), which then goes through
//! [`parse_event`](crate::parse_event) like any event sent as CADF. The adapted event carries the record it
//! came from, byte for byte, as an attachment named `original:<format>` whose `content` is the record's exact
//! text as a JSON string, so the ledger's hash covers what the source sent ([`original_record`] gives it back).
//!
//! The adapted event's `id` is derived from the source's own event id (see each format's module), so a record
//! sent twice is a duplicate. A record that cannot be mapped is rejected with [`Problem`]s whose pointer is
//! into the source record (not into the CADF event) and whose message names the format and the member.
//!
//! What a body may hold, per format: see [`adapt_batch`]. Like the rest of this crate, adapters do no I/O and
//! read no clock; what they need from outside (the `utc_offset` of Liberty's local time stamps) is passed in
//! [`AdaptOptions`].

mod cloudtrail;
mod gcp;
mod ibm;
mod kubernetes;
mod liberty;
mod oslo;

pub use liberty::check_utc_offset;
use serde_json::{Map, Value, json};

use crate::{BatchError, BatchResult, Event, Options, Problem, json_kind, parse_event, scan};

/// A source format an adapter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// Kubernetes API server audit events (`audit.k8s.io/v1` `Event` or `EventList`).
    Kubernetes,
    /// AWS CloudTrail records (a log file `{"Records": [...]}` or one record).
    CloudTrail,
    /// Google Cloud `LogEntry`s whose `protoPayload` is a `google.cloud.audit.AuditLog`.
    Gcp,
    /// OpenStack oslo.messaging notifications whose payload is CADF (also in the messaging v2 envelope).
    Oslo,
    /// IBM Cloud ingestion records: `{"payload": {CADF}, "logSourceCRN": ...}`.
    Ibm,
    /// Open Liberty audit records (CADF-like, with `eventName` and local time stamps).
    Liberty,
}

impl SourceFormat {
    /// Every format, in the order messages list them.
    pub const ALL: [SourceFormat; 6] = [
        SourceFormat::Kubernetes,
        SourceFormat::CloudTrail,
        SourceFormat::Gcp,
        SourceFormat::Oslo,
        SourceFormat::Ibm,
        SourceFormat::Liberty,
    ];

    /// The name used in `?format=` and in attachment names: `kubernetes`, `cloudtrail`, `gcp`, `oslo`, `ibm`,
    /// `liberty`.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Kubernetes => "kubernetes",
            SourceFormat::CloudTrail => "cloudtrail",
            SourceFormat::Gcp => "gcp",
            SourceFormat::Oslo => "oslo",
            SourceFormat::Ibm => "ibm",
            SourceFormat::Liberty => "liberty",
        }
    }

    /// The format named `name` (exactly as [`SourceFormat::name`] spells it).
    pub fn from_name(name: &str) -> Option<SourceFormat> {
        Self::ALL.into_iter().find(|format| format.name() == name)
    }

    /// What people call the format, for messages.
    pub fn title(self) -> &'static str {
        match self {
            SourceFormat::Kubernetes => "Kubernetes audit",
            SourceFormat::CloudTrail => "AWS CloudTrail",
            SourceFormat::Gcp => "Google Cloud audit log",
            SourceFormat::Oslo => "OpenStack oslo.messaging notification",
            SourceFormat::Ibm => "IBM Cloud ingestion",
            SourceFormat::Liberty => "Open Liberty audit",
        }
    }

    /// The `typeURI` of the `original:<format>` attachment.
    fn original_type_uri(self) -> &'static str {
        match self {
            SourceFormat::Kubernetes => "audit.k8s.io/v1/Event",
            SourceFormat::CloudTrail => "aws/cloudtrail/record",
            SourceFormat::Gcp => "type.googleapis.com/google.logging.v2.LogEntry",
            SourceFormat::Oslo => "oslo.messaging/notification",
            SourceFormat::Ibm => "ibm/cloud/ingestion",
            SourceFormat::Liberty => "openliberty/audit",
        }
    }

    /// The accepted names, comma separated, for messages.
    pub fn names() -> String {
        Self::ALL.map(SourceFormat::name).join(", ")
    }
}

/// What an adapter needs from the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdaptOptions {
    /// The offset from UTC of local time stamps (`+01:00`, `-0500`, `Z`), for formats that write them without
    /// one (Open Liberty).
    pub utc_offset: Option<String>,
}

/// Adapts every record of `body` to a CADF event and parses it, in input order.
///
/// A body holds one record, a JSON array of records, or NDJSON (one record a line); a CloudTrail log file
/// `{"Records": [...]}` and a Kubernetes `EventList` (`{"kind": "EventList", "items": [...]}`) hold their
/// records in those members. Each record is kept byte for byte as its container holds it. A body that cannot
/// be split is a [`BatchError`], as for CADF.
pub fn adapt_batch(
    body: &[u8],
    format: SourceFormat,
    adapt: &AdaptOptions,
    opts: &Options,
    now_ns: i64,
) -> Result<BatchResult, BatchError> {
    let records = split_records(body, format)?;
    if records.is_empty() {
        return Err(BatchError::NoEvents);
    }
    Ok(records.into_iter().map(|record| adapt_record(record, format, adapt, opts, now_ns)).collect())
}

/// The records of a body, as exact slices of it.
fn split_records(body: &[u8], format: SourceFormat) -> Result<Vec<&[u8]>, BatchError> {
    let body = scan::trim(body);
    let Some(&first) = body.first() else {
        return Err(BatchError::Empty);
    };
    let not_json = |reason: String| BatchError::NotJson { reason };
    if first == b'[' {
        return scan::split_array(body).map_err(not_json);
    }
    if first != b'{' {
        return Err(match serde_json::from_slice::<Value>(body) {
            Ok(value) => BatchError::NotObjectOrArray { found: json_kind(&value) },
            Err(error) => BatchError::NotJson { reason: error.to_string() },
        });
    }
    let container = match format {
        SourceFormat::CloudTrail => Some("Records"),
        SourceFormat::Kubernetes => Some("items"),
        _ => None,
    };
    if let Some(member) = container
        && let Some(records) = scan::member_value(body, member)
        && records.first() == Some(&b'[')
    {
        return scan::split_array(records).map_err(not_json);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(_) => Ok(vec![body]),
        // Several objects one a line: NDJSON, as `gcloud logging read` and log shippers write them.
        Err(_) if body.contains(&b'\n') => Ok(scan::lines(body).collect()),
        Err(error) => Err(BatchError::NotJson { reason: error.to_string() }),
    }
}

/// Adapts one record and parses the CADF event it becomes.
pub fn adapt_record(
    raw: &[u8],
    format: SourceFormat,
    adapt: &AdaptOptions,
    opts: &Options,
    now_ns: i64,
) -> Result<Event, Vec<Problem>> {
    let whole = |message: String| vec![Problem::new("", message)];
    if raw.len() > opts.limits.max_event_bytes {
        return Err(whole(format!(
            "{} record is {} bytes, more than the limit of {} bytes",
            format.title(),
            raw.len(),
            opts.limits.max_event_bytes
        )));
    }
    if let Some(flaw) = scan::find_flaw(raw, opts.limits.max_depth) {
        let (pointer, message) = match flaw {
            scan::Flaw::TooDeep(pointer) => {
                (pointer, format!("nesting is deeper than the limit of {} levels", opts.limits.max_depth))
            }
            scan::Flaw::RepeatedMember(pointer) => {
                (pointer, String::from("this member name appears more than once in its object"))
            }
        };
        return Err(vec![Problem::new(pointer, message)]);
    }
    let text = std::str::from_utf8(raw).map_err(|_| whole(format!("{} record is not UTF-8 text", format.title())))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|error| whole(format!("{} record is not valid JSON: {error}", format.title())))?;
    let Value::Object(record) = value else {
        return Err(whole(format!("{} record must be a JSON object, got {}", format.title(), json_kind(&value))));
    };
    let source = Source { format, record: &record };
    let mut event = match format {
        SourceFormat::CloudTrail => cloudtrail::adapt(&source)?,
        SourceFormat::Kubernetes => kubernetes::adapt(&source)?,
        SourceFormat::Gcp => gcp::adapt(&source)?,
        SourceFormat::Oslo => oslo::adapt(&source)?,
        SourceFormat::Ibm => ibm::adapt(&source)?,
        SourceFormat::Liberty => liberty::adapt(&source, adapt)?,
    };
    attach(
        &mut event,
        json!({
            "name": format!("original:{}", format.name()),
            "typeURI": format.original_type_uri(),
            "contentType": "application/json",
            "content": text,
        }),
    )
    .map_err(|problem| vec![problem])?;
    let bytes = serde_json::to_vec(&Value::Object(event))
        .map_err(|error| whole(format!("the adapted event could not be written: {error}")))?;
    parse_event(&bytes, opts, now_ns)
}

/// The record an adapted event came from: its format's name and its exact text.
pub fn original_record(event: &Value) -> Option<(&str, &str)> {
    event.get("attachments")?.as_array()?.iter().find_map(|attachment| {
        let format = attachment.get("name")?.as_str()?.strip_prefix("original:")?;
        Some((format, attachment.get("content")?.as_str()?))
    })
}

/// Says which source format a body that failed as CADF looks like, if any, from its top-level members.
pub fn detect(body: &[u8]) -> Option<SourceFormat> {
    let value: Value = serde_json::from_slice(scan::trim(body)).ok().or_else(|| {
        let first_line = scan::lines(body).next()?;
        serde_json::from_slice(first_line).ok()
    })?;
    let object = match &value {
        Value::Array(items) => items.first()?.as_object()?,
        Value::Object(object) => object,
        _ => return None,
    };
    let has = |name: &str| object.contains_key(name);
    let records_from_cloudtrail = object
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .is_some_and(|record| record.get("eventSource").is_some());
    let kubernetes = object.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v.starts_with("audit.k8s.io/"))
        || object.get("kind").and_then(Value::as_str) == Some("EventList");
    if records_from_cloudtrail || (has("eventSource") && has("eventName") && has("eventID")) {
        Some(SourceFormat::CloudTrail)
    } else if kubernetes {
        Some(SourceFormat::Kubernetes)
    } else if has("protoPayload") {
        Some(SourceFormat::Gcp)
    } else if has("oslo.message") || (has("event_type") && has("payload")) {
        Some(SourceFormat::Oslo)
    } else if has("payload") && has("logSourceCRN") {
        Some(SourceFormat::Ibm)
    } else if (has("eventName") && !has("action"))
        || object.get("type").and_then(Value::as_str) == Some("liberty_audit")
    {
        Some(SourceFormat::Liberty)
    } else {
        None
    }
}

/// The message that tells a client whose body failed as CADF which format it looks like and where to send it.
pub fn hint(format: SourceFormat) -> String {
    format!("this looks like {} input, not CADF; send it to POST /v1/events?format={}", format.title(), format.name())
}

/// A record being adapted, with lookups whose failures name the format and the member.
pub(crate) struct Source<'a> {
    pub(crate) format: SourceFormat,
    pub(crate) record: &'a Map<String, Value>,
}

impl<'a> Source<'a> {
    /// The value at `pointer` (RFC 6901, into the record).
    pub(crate) fn get(&self, pointer: &str) -> Option<&'a Value> {
        let mut tokens = pointer.strip_prefix('/')?.split('/').map(|token| token.replace("~1", "/").replace("~0", "~"));
        let mut at: &'a Value = self.record.get(&tokens.next()?)?;
        for token in tokens {
            at = match at {
                Value::Object(object) => object.get(&token)?,
                Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(at)
    }

    /// The non-empty string at `pointer`, if there is one.
    pub(crate) fn text(&self, pointer: &str) -> Option<&'a str> {
        self.get(pointer).and_then(Value::as_str).filter(|text| !text.is_empty())
    }

    /// The non-empty string at `pointer`, or a problem naming the format and the member.
    pub(crate) fn required(&self, pointer: &str) -> Result<&'a str, Problem> {
        match self.get(pointer) {
            Some(Value::String(text)) if !text.is_empty() => Ok(text),
            Some(other) => Err(Problem::new(
                pointer,
                format!(
                    "{} record: `{}` must be a non-empty string, got {}",
                    self.format.title(),
                    member(pointer),
                    kind(other)
                ),
            )),
            None => Err(Problem::new(
                pointer,
                format!("{} record lacks `{}`, which the mapping to CADF needs", self.format.title(), member(pointer)),
            )),
        }
    }

    /// The object at `pointer`, or a problem naming the format and the member.
    pub(crate) fn required_object(&self, pointer: &str) -> Result<&'a Map<String, Value>, Problem> {
        match self.get(pointer) {
            Some(Value::Object(object)) => Ok(object),
            Some(other) => Err(Problem::new(
                pointer,
                format!("{} record: `{}` must be an object, got {}", self.format.title(), member(pointer), kind(other)),
            )),
            None => Err(Problem::new(
                pointer,
                format!("{} record lacks `{}`, which the mapping to CADF needs", self.format.title(), member(pointer)),
            )),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    json_kind(value)
}

/// A pointer as members joined by dots, as the format's documentation names them: `/user/username` is
/// `user.username`.
fn member(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".").replace("~1", "/").replace("~0", "~")
}

/// Collects every problem of a record's required members, so that all are reported at once.
pub(crate) fn all_or_problems<T>(results: Vec<Result<T, Problem>>) -> Result<Vec<T>, Vec<Problem>> {
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for result in results {
        match result {
            Ok(value) => values.push(value),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() { Ok(values) } else { Err(problems) }
}

/// Appends `attachment` to the event's `attachments`, creating the array when absent.
pub(crate) fn attach(event: &mut Map<String, Value>, attachment: Value) -> Result<(), Problem> {
    match event.entry("attachments").or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(attachments) => {
            attachments.push(attachment);
            Ok(())
        }
        other => Err(Problem::new(
            "/attachments",
            format!("`attachments` must be an array to hold the original record, got {}", json_kind(other)),
        )),
    }
}

/// A CADF resource from whichever of its parts the source gave; `None` members are left out.
pub(crate) fn resource(
    id: &str,
    name: Option<&str>,
    type_uri: &str,
    address: Option<&str>,
    agent: Option<&str>,
) -> Value {
    let mut resource = Map::new();
    resource.insert("id".into(), Value::from(id));
    resource.insert("typeURI".into(), Value::from(type_uri));
    if let Some(name) = name {
        resource.insert("name".into(), Value::from(name));
    }
    let mut host = Map::new();
    if let Some(address) = address {
        host.insert("address".into(), Value::from(address));
    }
    if let Some(agent) = agent {
        host.insert("agent".into(), Value::from(agent));
    }
    if !host.is_empty() {
        resource.insert("host".into(), Value::Object(host));
    }
    Value::Object(resource)
}

/// The members every adapted activity event starts with.
pub(crate) fn activity(id: String, event_time: &str, action: String, outcome: &str) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("typeURI".into(), Value::from("http://schemas.dmtf.org/cloud/audit/1.0/event"));
    event.insert("eventType".into(), Value::from("activity"));
    event.insert("id".into(), Value::from(id));
    event.insert("eventTime".into(), Value::from(event_time));
    event.insert("action".into(), Value::from(action));
    event.insert("outcome".into(), Value::from(outcome));
    event
}

/// An event id from parts of the source's own ids, joined by `:` behind the format's name. Characters that
/// would need escaping in a URL path (`/`, `?`, `#`, `%`, spaces) become `_`, so the id can be fetched at
/// `/v1/events/{id}`; the mapping is deterministic, so a re-sent record gets the same id.
pub(crate) fn derived_id(format: SourceFormat, parts: &[&str]) -> String {
    let mut id = String::from(format.name());
    for part in parts {
        id.push(':');
        id.extend(part.chars().map(|c| if c.is_ascii_alphanumeric() || "-._~:@".contains(c) { c } else { '_' }));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_reads_nested_members_and_array_elements() {
        let record = json!({"a": {"b/c": [1, "two"]}});
        let Value::Object(record) = record else { panic!("object") };
        let source = Source { format: SourceFormat::Gcp, record: &record };
        assert_eq!(source.text("/a/b~1c/1"), Some("two"));
        assert!(source.get("/a/missing").is_none());
    }

    #[test]
    fn a_missing_member_is_named_with_the_format() {
        let record = Map::new();
        let source = Source { format: SourceFormat::CloudTrail, record: &record };
        let problem = source.required("/userIdentity/arn").expect_err("missing");
        assert_eq!(problem.pointer, "/userIdentity/arn");
        assert!(problem.message.contains("AWS CloudTrail record lacks `userIdentity.arn`"), "{}", problem.message);
    }

    #[test]
    fn derived_ids_keep_url_paths_intact() {
        assert_eq!(derived_id(SourceFormat::Gcp, &["projects/p/logs/x%2Fy", "abc"]), "gcp:projects_p_logs_x_2Fy:abc");
    }
}
