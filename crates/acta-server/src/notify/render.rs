//! What a notification says, from a firing's message (see `engine::message`): the summary line, the email,
//! Slack text and webhook bodies from templates. Times are shown in the alert's IANA time zone with jiff,
//! whose bundled tz database makes the result the same on every machine (no dependency on the host's
//! `/usr/share/zoneinfo`, absent from minimal containers) and which handles DST transitions and abbreviations.

use serde_json::{Map, Value, json};

/// The alert's time zone; UTC when the name is unknown (the API refuses unknown names, so only a database
/// edited by hand gets here).
pub(crate) fn zone(name: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// Whether `name` is an IANA time zone name known to the bundled database.
pub(crate) fn is_time_zone(name: &str) -> bool {
    jiff::tz::TimeZone::get(name).is_ok()
}

/// `2026-11-21 11:00:05 CET (+01:00)`.
pub(crate) fn local_time(ns: i64, zone: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_nanosecond(i128::from(ns)) {
        Ok(at) => at.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M:%S %Z (%:z)").to_string(),
        Err(_) => acta_cadf::format_time(ns),
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn number(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The matching events the firing carries (the first ones of the window).
pub(crate) fn matches(message: &Value) -> &[Value] {
    message["matches"].as_array().map_or(&[], Vec::as_slice)
}

/// One event as a line: its time in the zone, action, outcome and message.
pub(crate) fn event_line(event: &Value, zone: &jiff::tz::TimeZone) -> String {
    let time = event["eventTime"]
        .as_str()
        .and_then(|text| acta_cadf::parse_time(text).ok())
        .or_else(|| event["_acta"]["received_ns"].as_i64())
        .map(|ns| local_time(ns, zone))
        .unwrap_or_default();
    let field = |name: &str| match &event[name] {
        Value::String(text) => text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    format!("{time}  {}  {}  {}", field("action"), field("outcome"), field("message")).trim_end().to_string()
}

/// Whether the firing was evaluated late: its window ended (or its threshold was reached) while Acta was down.
pub(crate) fn is_late(message: &Value) -> bool {
    message["late"].as_bool().unwrap_or(false)
}

/// How many late windows a late notification stands for (1 when it is not a summary).
fn late_windows(message: &Value) -> i64 {
    message.pointer("/late_windows/count").and_then(Value::as_i64).unwrap_or(1)
}

/// One line saying what happened; a late firing says so first.
pub(crate) fn summary(message: &Value) -> String {
    let what = what_happened(message);
    if !is_late(message) {
        return what;
    }
    match late_windows(message) {
        0 | 1 => format!("[late] {what}"),
        more => format!("[late, {more} windows] {what}"),
    }
}

fn what_happened(message: &Value) -> String {
    let name = text(message, "/alert/name");
    let view = text(message, "/view/name");
    let window = text(message, "/window/length");
    let count = number(message, "/count");
    match text(message, "/reason") {
        "test" => format!("{name}: test notification for view \"{view}\""),
        "insight" => format!("{name}: {}", text(message, "/matches/0/message")),
        "absence" => format!(
            "{name}: only {count} events matched view \"{view}\" in {window} (fewer than {})",
            number(message, "/threshold")
        ),
        _ => format!("{name}: {count} events matched view \"{view}\" in {window}"),
    }
}

fn window_lines(message: &Value, zone: &jiff::tz::TimeZone) -> String {
    match (
        message.pointer("/window/start").and_then(Value::as_i64),
        message.pointer("/window/end").and_then(Value::as_i64),
    ) {
        (Some(start), Some(end)) => format!("{} to {}", local_time(start, zone), local_time(end, zone)),
        _ => "none (test)".to_string(),
    }
}

/// A late firing's lines: when it was evaluated and, for a summary, the windows it stands for.
fn late_lines(message: &Value, zone: &jiff::tz::TimeZone) -> String {
    if !is_late(message) {
        return String::new();
    }
    let evaluated = text(message, "/evaluated_at");
    let evaluated = acta_cadf::parse_time(evaluated).map_or_else(|_| evaluated.to_string(), |ns| local_time(ns, zone));
    let mut lines = format!("Late: evaluated at {evaluated}, after Acta was down when the window ended\n");
    let range = |start: &str, end: &str| match (
        message.pointer(start).and_then(Value::as_i64),
        message.pointer(end).and_then(Value::as_i64),
    ) {
        (Some(start), Some(end)) => format!("{} to {}", local_time(start, zone), local_time(end, zone)),
        _ => String::new(),
    };
    let windows = late_windows(message);
    if windows > 1 {
        lines.push_str(&format!(
            "Late windows: {windows} windows met the condition while Acta was down, {} (each is in the alert's \
             history; this notification stands for all)\n",
            range("/late_windows/first_start", "/late_windows/last_end")
        ));
    }
    if let Some(skipped) = message.pointer("/late_windows/not_evaluated/windows").and_then(Value::as_i64) {
        lines.push_str(&format!(
            "Not evaluated: {skipped} older windows, {} (more than a catch-up evaluates)\n",
            range("/late_windows/not_evaluated/from", "/late_windows/not_evaluated/to")
        ));
    }
    lines
}

fn condition(message: &Value) -> String {
    let threshold = number(message, "/threshold");
    let window = text(message, "/window/length");
    match text(message, "/kind") {
        "absence" => return format!("absence: fewer than {threshold} events within {window}"),
        "insight" => return "insight: each unusual hour Acta's insights find among the view's events".to_string(),
        _ => {}
    }
    let when = match text(message, "/reason") {
        "immediate" => "immediately when reached",
        "at_end" => "at the end of the window",
        _ => "test",
    };
    format!("presence: at least {threshold} events within {window} ({when})")
}

/// Subject and plain-text body of the email.
pub(crate) fn email(message: &Value) -> (String, String) {
    let zone = zone(text(message, "/timezone"));
    let subject = format!("[Acta] {}", summary(message));
    let mut body = String::new();
    body.push_str(&summary(message));
    body.push_str("\n\n");
    body.push_str(&format!("Alert: {}\n", text(message, "/alert/name")));
    body.push_str(&format!("View: {}\n", text(message, "/view/name")));
    body.push_str(&format!("Query: {}\n", text(message, "/view/query")));
    body.push_str(&format!("Condition: {}\n", condition(message)));
    body.push_str(&format!("Matching events: {}\n", number(message, "/count")));
    body.push_str(&format!("Window: {}\n", window_lines(message, &zone)));
    body.push_str(&late_lines(message, &zone));
    body.push_str(&format!("Time zone: {}\n", text(message, "/timezone")));
    let events = matches(message);
    if !events.is_empty() {
        body.push_str(&format!("\nFirst {} matching event(s):\n", events.len()));
        for event in events {
            body.push_str(&format!("- {}\n", event_line(event, &zone)));
        }
    }
    (subject, body)
}

/// Text for chat (Slack-compatible `{"text": ...}`).
pub(crate) fn chat_text(message: &Value) -> String {
    let zone = zone(text(message, "/timezone"));
    let mut out = format!("*{}*\nQuery: `{}`", summary(message), text(message, "/view/query"));
    let late = late_lines(message, &zone);
    if !late.is_empty() {
        out.push('\n');
        out.push_str(late.trim_end());
    }
    for event in matches(message) {
        out.push_str(&format!("\n• {}", event_line(event, &zone)));
    }
    out
}

/// The values webhook templates can use, by name.
fn variables(message: &Value) -> Map<String, Value> {
    let zone = zone(text(message, "/timezone"));
    let events = matches(message).to_vec();
    let mut vars = Map::new();
    vars.insert("name".into(), json!(text(message, "/alert/name")));
    vars.insert("alert_id".into(), json!(text(message, "/alert/id")));
    vars.insert("view".into(), json!(text(message, "/view/name")));
    vars.insert("query".into(), json!(text(message, "/view/query")));
    vars.insert("matches".into(), json!(number(message, "/count")));
    vars.insert("threshold".into(), json!(number(message, "/threshold")));
    vars.insert("kind".into(), json!(text(message, "/kind")));
    vars.insert("reason".into(), json!(text(message, "/reason")));
    vars.insert("window".into(), json!(text(message, "/window/length")));
    vars.insert("window_range".into(), json!(window_lines(message, &zone)));
    let time = |pointer: &str| message.pointer(pointer).and_then(Value::as_i64).map(acta_cadf::format_time);
    vars.insert("window_start".into(), json!(time("/window/start")));
    vars.insert("window_end".into(), json!(time("/window/end")));
    vars.insert("late".into(), json!(is_late(message)));
    vars.insert("evaluated_at".into(), message["evaluated_at"].clone());
    vars.insert("late_windows".into(), late_summary(message));
    vars.insert("timezone".into(), json!(text(message, "/timezone")));
    vars.insert("summary".into(), json!(summary(message)));
    vars.insert("first_line_object".into(), events.first().cloned().unwrap_or(Value::Null));
    vars.insert("lines".into(), Value::Array(events));
    vars
}

/// A late notification's summary with RFC 3339 times (`null` unless it stands for late windows).
pub(crate) fn late_summary(message: &Value) -> Value {
    let summary = &message["late_windows"];
    if summary.is_null() {
        return Value::Null;
    }
    let time = |pointer: &str| summary.pointer(pointer).and_then(Value::as_i64).map(acta_cadf::format_time);
    let mut out = json!({
        "count": summary["count"],
        "first_start": time("/first_start"),
        "last_end": time("/last_end"),
    });
    if !summary["not_evaluated"].is_null() {
        out["not_evaluated"] = json!({
            "windows": summary["not_evaluated"]["windows"],
            "from": time("/not_evaluated/from"),
            "to": time("/not_evaluated/to"),
        });
    }
    out
}

/// The default webhook body: every variable.
pub(crate) fn default_webhook_body(message: &Value) -> Value {
    Value::Object(variables(message))
}

/// Fills a JSON body template: a string that is exactly `{{name}}` becomes the variable's JSON value (so
/// `{{lines}}` is an array, `{{matches}}` a number); `{{name}}` inside a longer string is replaced by the
/// value's text (`{{lines}}` as one event line per line). Unknown names are left as written.
pub(crate) fn fill_template(template: &Value, message: &Value) -> Value {
    let vars = variables(message);
    let zone = zone(text(message, "/timezone"));
    fill(template, &vars, &zone)
}

fn fill(template: &Value, vars: &Map<String, Value>, zone: &jiff::tz::TimeZone) -> Value {
    match template {
        Value::String(text) => {
            let trimmed = text.trim();
            if let Some(name) = trimmed.strip_prefix("{{").and_then(|rest| rest.strip_suffix("}}"))
                && let Some(value) = vars.get(name.trim())
                && !name.contains("{{")
            {
                return value.clone();
            }
            Value::String(substitute(text, vars, zone))
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| fill(item, vars, zone)).collect()),
        Value::Object(members) => {
            Value::Object(members.iter().map(|(key, value)| (key.clone(), fill(value, vars, zone))).collect())
        }
        other => other.clone(),
    }
}

fn substitute(text: &str, vars: &Map<String, Value>, zone: &jiff::tz::TimeZone) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = after[..close].trim();
        match (name, vars.get(name)) {
            ("lines", Some(Value::Array(events))) => {
                let lines: Vec<String> = events.iter().map(|event| event_line(event, zone)).collect();
                out.push_str(&lines.join("\n"));
            }
            (_, Some(Value::String(value))) => out.push_str(value),
            (_, Some(value)) => out.push_str(&value.to_string()),
            (_, None) => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(zone: &str) -> Value {
        json!({
            "alert": {"id": "a1", "name": "key deletions"},
            "view": {"id": "v1", "name": "deleted keys", "query": "(action user-apikey.delete) -login"},
            "kind": "presence", "reason": "immediate", "threshold": 2, "count": 2,
            "window": {"length": "1h", "start": 1_795_255_200_000_000_000_i64, "end": 1_795_258_800_000_000_000_i64},
            "timezone": zone,
            "matches": [
                {"eventTime": "2026-11-21T10:00:05Z", "action": "iam-identity.user-apikey.delete", "outcome": "success",
                 "message": "IAM Identity Service: delete user-apikey k1"},
                {"eventTime": "2026-11-21T10:00:06Z", "action": "iam-identity.user-apikey.delete", "outcome": "success",
                 "message": "IAM Identity Service: delete user-apikey k2"}
            ]
        })
    }

    #[test]
    fn times_are_shown_in_the_alerts_time_zone() {
        let (_, body) = email(&message("Asia/Kolkata"));
        assert!(body.contains("2026-11-21 15:30:05 IST (+05:30)"), "{body}");
        let (_, body) = email(&message("America/New_York"));
        assert!(body.contains("2026-11-21 05:00:05 EST (-05:00)"), "{body}");
    }

    #[test]
    fn whole_string_placeholders_keep_their_json_type() {
        let template = json!({"n": "{{matches}}", "events": "{{lines}}", "first": "{{first_line_object}}",
                              "text": "{{name}}: {{matches}} on {{query}}", "keep": "{{unknown}}"});
        let body = fill_template(&template, &message("UTC"));
        assert_eq!(body["n"], 2);
        assert_eq!(body["events"].as_array().map(Vec::len), Some(2));
        assert_eq!(body["first"]["message"], "IAM Identity Service: delete user-apikey k1");
        assert_eq!(body["text"], "key deletions: 2 on (action user-apikey.delete) -login");
        assert_eq!(body["keep"], "{{unknown}}");
    }

    #[test]
    fn a_late_notification_says_so_in_every_format() {
        let mut late = message("UTC");
        late["late"] = json!(true);
        late["evaluated_at"] = json!("2026-11-21T12:00:00Z");
        late["late_windows"] = json!({"count": 3, "first_start": 1_795_255_200_000_000_000_i64, "last_end": 1_795_265_999_000_000_000_i64});
        assert!(summary(&late).starts_with("[late, 3 windows] key deletions"), "{}", summary(&late));
        let (subject, body) = email(&late);
        assert!(subject.contains("[late, 3 windows]"), "{subject}");
        assert!(body.contains("Late: evaluated at 2026-11-21 12:00:00 UTC"), "{body}");
        assert!(body.contains("Late windows: 3 windows"), "{body}");
        assert!(chat_text(&late).contains("Late: evaluated at"), "{}", chat_text(&late));
        let webhook = default_webhook_body(&late);
        assert_eq!(webhook["late"], true);
        assert_eq!(webhook["evaluated_at"], "2026-11-21T12:00:00Z");
        assert_eq!(webhook["window_start"], "2026-11-21T10:00:00.000000000Z");
        assert_eq!(webhook["late_windows"]["count"], 3);
        let on_time = default_webhook_body(&message("UTC"));
        assert_eq!(on_time["late"], false);
        assert!(!summary(&message("UTC")).contains("late"));
    }

    #[test]
    fn a_placeholder_inside_text_lists_lines() {
        let body = fill_template(&json!("events:\n{{lines}}"), &message("UTC"));
        assert_eq!(body.as_str().map(|text| text.lines().count()), Some(3), "{body}");
    }
}
