//! What every destination shares: the operator's settings, an event on its way out, a failed send, and the
//! checks of a destination's members.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

/// The operator's settings of forwarding.
#[derive(Debug, Clone)]
pub struct ForwardSettings {
    /// The directory under which `directory` destinations write (`--forward-dir`); none: such routes are refused.
    pub dir: Option<PathBuf>,
    /// Syslog over TCP has no acknowledgement: a batch counts as delivered once the connection has stayed up this
    /// long after it was written (a broken connection before that sends it again).
    pub confirm_after: Duration,
    /// The longest wait between two attempts at a failing destination.
    pub max_backoff: Duration,
    /// The most events in one batch.
    pub batch_events: usize,
    /// The longest a connection, a request or a write may take.
    pub send_timeout: Duration,
}

impl Default for ForwardSettings {
    fn default() -> Self {
        ForwardSettings {
            dir: None,
            confirm_after: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            batch_events: 500,
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// The networks destinations may reach although they are internal (loopback, private...): the operator's
/// `--webhook-allow` for receivers (syslog, webhooks, Elasticsearch), `--archive-endpoint-allow` for S3 stores,
/// as for archives.
#[derive(Debug, Clone, Default)]
pub struct Allow {
    /// Receivers.
    pub receivers: Vec<ipnet::IpNet>,
    /// Storage hosts.
    pub storage: Vec<ipnet::IpNet>,
}

/// About the most event bytes in one batch.
pub(crate) const BATCH_BYTES: usize = 4 << 20;

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid(pub(crate) String);

/// Refuses members a destination kind does not know, naming them (a typo must not be ignored silently).
pub(crate) fn only_members(object: &Map<String, Value>, known: &[&str]) -> Result<(), Invalid> {
    for name in object.keys() {
        if name != "type" && !known.contains(&name.as_str()) {
            return Err(Invalid(format!(
                "destination.{name} is not a member of a {} destination (members: {})",
                object.get("type").and_then(Value::as_str).unwrap_or_default(),
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// A string member: `Ok(None)` when absent, an error when it is not a string.
pub(crate) fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Invalid> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(Invalid(format!("destination.{name} must be a string"))),
    }
}

/// A required non-empty string member.
pub(crate) fn required_text<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, Invalid> {
    match text(object, name)? {
        Some(text) if !text.trim().is_empty() => Ok(text),
        _ => Err(Invalid(format!("destination.{name} is required"))),
    }
}

/// One event on its way out: what a destination sends of it.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) account: String,
    pub(crate) instance: String,
    pub(crate) region: String,
    pub(crate) seq: u64,
    pub(crate) received_ns: i64,
    pub(crate) id: String,
    /// The event's bytes as received, with the whitespace between JSON tokens left out (so it is one line).
    pub(crate) event: String,
}

impl Outgoing {
    /// The event's line in NDJSON destinations (webhook, directory): where it was held, and the event.
    pub(crate) fn envelope(&self) -> String {
        let head = json!({
            "account": self.account,
            "instance": self.instance,
            "region": self.region,
            "seq": self.seq,
            "received": acta_cadf::format_time(self.received_ns),
            "id": self.id,
        })
        .to_string();
        // `head` ends with `}`: the event goes in as its own member, its bytes untouched.
        format!("{},\"event\":{}}}", &head[..head.len() - 1], self.event)
    }
}

/// A run of a batch's events of one instance and arrival day, in seq order, as NDJSON envelope lines: what a
/// file or an object of the file destinations holds.
pub(crate) struct DayRun {
    pub(crate) instance: String,
    /// `YYYY-MM-DD`, UTC.
    pub(crate) day: String,
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) lines: String,
}

/// A batch cut into runs of one instance and arrival day, in order.
pub(crate) fn day_runs(batch: &[Outgoing]) -> Vec<DayRun> {
    let mut runs: Vec<DayRun> = Vec::new();
    for event in batch {
        let time = acta_cadf::format_time(event.received_ns);
        let day = &time[..10.min(time.len())];
        match runs.last_mut() {
            Some(run) if run.instance == event.instance && run.day == day => run.last_seq = event.seq,
            _ => runs.push(DayRun {
                instance: event.instance.clone(),
                day: day.to_string(),
                first_seq: event.seq,
                last_seq: event.seq,
                lines: String::new(),
            }),
        }
        if let Some(run) = runs.last_mut() {
            run.lines.push_str(&event.envelope());
            run.lines.push('\n');
        }
    }
    runs
}

/// Why a send failed; every failure is retried (a route never drops an event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendError(pub(crate) String);

impl SendError {
    /// An HTTP client's failure with its causes: reqwest's own text ("error sending request") hides the one an
    /// operator needs ("Connection refused", "certificate has expired").
    pub(crate) fn http(url: &str, error: &reqwest::Error) -> SendError {
        let mut text = format!("{url}: {error}");
        let mut cause = std::error::Error::source(error);
        while let Some(inner) = cause {
            text.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        SendError(text)
    }
}

/// POSTs an NDJSON body to a receiver over HTTP(S), through the SSRF rule (the host resolved and checked now, the
/// connection pinned to the checked addresses), with `headers`; the text of a 2xx answer, or why not.
pub(crate) async fn post_ndjson(
    url: &str,
    allow: &[ipnet::IpNet],
    timeout: Duration,
    headers: Vec<(&'static str, String)>,
    body: String,
) -> Result<String, SendError> {
    let target = crate::notify::ssrf::check(url, allow).await.map_err(|refusal| SendError(refusal.to_string()))?;
    let client = crate::notify::ssrf::client(&target, timeout).map_err(SendError)?;
    let mut request = client.post(target.url.clone()).header(reqwest::header::CONTENT_TYPE, "application/x-ndjson");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let answer = request.body(body).send().await.map_err(|error| SendError::http(url, &error))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(SendError(format!("{url} answered {status}: {}", text.chars().take(300).collect::<String>())));
    }
    Ok(text)
}

impl std::fmt::Display for SendError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// An event's bytes as one line: the whitespace between JSON tokens (which may hold line breaks) left out, every
/// other byte kept. JSON strings cannot hold a raw line break, so the result has none.
pub(crate) fn one_line(event: &[u8]) -> String {
    let mut line = Vec::with_capacity(event.len());
    let mut in_string = false;
    let mut escaped = false;
    for &byte in event {
        if in_string {
            line.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = byte == b'"';
            line.push(byte);
        }
    }
    String::from_utf8(line).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_leaves_out_whitespace_between_tokens_only() {
        let event = b"{\n  \"a\": \"x y\\\" \\n\",\n  \"b\" : [1, 2]\n}\n";
        assert_eq!(one_line(event), "{\"a\":\"x y\\\" \\n\",\"b\":[1,2]}");
    }

    #[test]
    fn an_envelope_holds_the_event_as_its_last_member() {
        let outgoing = Outgoing {
            account: "a".into(),
            instance: "i".into(),
            region: "r".into(),
            seq: 7,
            received_ns: 0,
            id: "e".into(),
            event: "{\"id\":\"e\"}".into(),
        };
        let line: Value = serde_json::from_str(&outgoing.envelope()).unwrap_or_default();
        assert_eq!(line["seq"], 7);
        assert_eq!(line["event"]["id"], "e");
        assert_eq!(line["received"], "1970-01-01T00:00:00.000000000Z");
    }
}
