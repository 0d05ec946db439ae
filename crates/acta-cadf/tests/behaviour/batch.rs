//! Bodies of many events: each event has its own fate, in input order.

use acta_cadf::{BatchError, BodyFormat, Event, Problem, parse_batch};

use super::*;

const GOOD_1: &str = r#"{"id":"g1","action":"kms.secrets.create","outcome":"success","eventTime":"2025-01-01T00:00:00Z","initiatorId":"u","targetId":"k"}"#;
const GOOD_2: &str = r#"{ "id" : "g2", "action":"iam-identity.user-apikey.delete","outcome":"failure","eventTime":"2025-01-01T00:00:01+0000","initiator":{"id":"u"},"target":{"id":"k"} }"#;
const NO_ACTION: &str = r#"{"outcome":"success","eventTime":"2025-01-01T00:00:00Z","initiatorId":"u","targetId":"k"}"#;

fn batch(body: &str, format: BodyFormat) -> Result<Vec<Result<Event, Vec<Problem>>>, BatchError> {
    parse_batch(body.as_bytes(), format, &lenient(), now())
}

fn stored(result: &Result<Event, Vec<Problem>>) -> &Event {
    result.as_ref().expect("stored")
}

fn rejected(result: &Result<Event, Vec<Problem>>) -> Vec<(String, String)> {
    result.as_ref().expect_err("rejected").iter().map(|p| (p.pointer.clone(), p.message.clone())).collect()
}

fn problem(pointer: &str, message: &str) -> Vec<(String, String)> {
    vec![(pointer.to_owned(), message.to_owned())]
}

#[test]
fn json_array_keeps_good_events_and_rejects_bad_ones_by_index() {
    let body = format!("[\n  {GOOD_1},\n  {NO_ACTION}, 42 ,\n{GOOD_2}\n]\n");
    let results = batch(&body, BodyFormat::Json).expect("a batch");
    assert_eq!(results.len(), 4);
    assert_eq!(stored(&results[0]).raw, GOOD_1.as_bytes());
    assert_eq!(rejected(&results[1]), problem("/action", "is required"));
    assert_eq!(rejected(&results[2]), problem("", "event must be a JSON object, got number"));
    assert_eq!(stored(&results[3]).raw, GOOD_2.as_bytes());
    assert_eq!(stored(&results[3]).id.as_deref(), Some("g2"));
}

#[test]
fn json_array_raw_bytes_are_exact_slices_of_the_body() {
    let body = format!("[{GOOD_1},{GOOD_2}]");
    let results = batch(&body, BodyFormat::Json).expect("a batch");
    for result in &results {
        let raw = std::str::from_utf8(&stored(result).raw).expect("utf-8");
        assert!(body.contains(raw), "{raw} is not a slice of the body");
    }
}

#[test]
fn json_array_element_that_is_not_json_is_rejected_alone() {
    let body = format!(r#"[{GOOD_1}, {{"action": }}, {GOOD_2}]"#);
    let results = batch(&body, BodyFormat::Json).expect("a batch");
    stored(&results[0]);
    assert_eq!(rejected(&results[1]), problem("", "not valid JSON: expected value at line 1 column 12"));
    stored(&results[2]);
}

#[test]
fn json_array_element_too_deep_for_the_parser_is_rejected_alone() {
    let deep = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
    let body = format!("[{GOOD_1},{deep},{GOOD_2}]");
    let results = batch(&body, BodyFormat::Json).expect("a batch");
    stored(&results[0]);
    assert_eq!(rejected(&results[1]), problem(&"/0".repeat(32), "nesting is deeper than the limit of 32 levels"));
    stored(&results[2]);
}

#[test]
fn an_event_that_names_a_member_twice_is_rejected_alone_at_the_second_name() {
    // Stored as it came, `id` would be d2 to Acta and d1 to a reader that keeps the first value.
    let twice = r#"{"id":"d1","action":"kms.secrets.read","outcome":"success","eventTime":"2025-01-01T00:00:00Z","initiatorId":"u","targetId":"k","id":"d2"}"#;
    let results = batch(&format!("[{GOOD_1},{twice},{GOOD_2}]"), BodyFormat::Json).expect("a batch");
    stored(&results[0]);
    let problems = rejected(&results[1]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "/id");
    assert!(problems[0].1.contains("appears more than once"), "{problems:?}");
    stored(&results[2]);
}

#[test]
fn ndjson_keeps_good_lines_and_rejects_bad_ones_by_index() {
    let body = format!("{GOOD_1}\n{NO_ACTION}\nnot json\n[1]\n{GOOD_2}\n");
    let results = batch(&body, BodyFormat::Ndjson).expect("a batch");
    assert_eq!(results.len(), 5);
    assert_eq!(stored(&results[0]).raw, GOOD_1.as_bytes());
    assert_eq!(rejected(&results[1]), problem("/action", "is required"));
    assert_eq!(rejected(&results[2]), problem("", "not valid JSON: expected ident at line 1 column 2"));
    assert_eq!(rejected(&results[3]), problem("", "event must be a JSON object, got array"));
    assert_eq!(stored(&results[4]).raw, GOOD_2.as_bytes());
}

#[test]
fn ndjson_skips_blank_lines_and_accepts_crlf() {
    let body = format!("\r\n{GOOD_1}\r\n   \r\n\n{GOOD_2}");
    let results = batch(&body, BodyFormat::Ndjson).expect("a batch");
    assert_eq!(results.len(), 2);
    assert_eq!(stored(&results[0]).raw, GOOD_1.as_bytes());
    assert_eq!(stored(&results[1]).raw, GOOD_2.as_bytes());
}

#[test]
fn single_object_body_is_one_event_without_surrounding_whitespace() {
    let body = format!("\n {GOOD_2}\n");
    let results = batch(&body, BodyFormat::Json).expect("a batch");
    assert_eq!(results.len(), 1);
    assert_eq!(stored(&results[0]).raw, GOOD_2.as_bytes());
}

#[test]
fn single_invalid_event_body_is_a_rejected_event() {
    let results = batch(NO_ACTION, BodyFormat::Json).expect("a batch");
    assert_eq!(rejected(&results[0]), problem("/action", "is required"));
}

#[test]
fn empty_body_is_refused() {
    assert_eq!(batch("", BodyFormat::Json), Err(BatchError::Empty));
    assert_eq!(batch(" \n\t", BodyFormat::Ndjson), Err(BatchError::Empty));
    assert_eq!(BatchError::Empty.to_string(), "body is empty");
}

#[test]
fn body_without_events_is_refused() {
    assert_eq!(batch("[ ]", BodyFormat::Json), Err(BatchError::NoEvents));
    assert_eq!(BatchError::NoEvents.to_string(), "body holds no events (an empty array or only blank lines)");
}

#[test]
fn body_that_is_not_json_is_refused() {
    let error = batch("{\"action\": \"a\"", BodyFormat::Json).expect_err("refused");
    assert_eq!(error.to_string(), "body is not valid JSON: EOF while parsing an object at line 1 column 14");
    let error = batch("hello", BodyFormat::Json).expect_err("refused");
    assert_eq!(error.to_string(), "body is not valid JSON: expected value at line 1 column 1");
}

#[test]
fn body_with_broken_array_is_refused() {
    let body = format!("[{GOOD_1}\n{GOOD_2}]");
    assert_eq!(
        batch(&body, BodyFormat::Json),
        Err(BatchError::NotJson { reason: "expected ',' or ']' after an array element at line 2 column 1".to_owned() })
    );
    let body = format!("[{GOOD_1},");
    assert_eq!(
        batch(&body, BodyFormat::Json).expect_err("refused").to_string(),
        format!("body is not valid JSON: the array is not closed at line 1 column {}", GOOD_1.len() + 3)
    );
}

#[test]
fn body_that_is_a_scalar_is_refused() {
    assert_eq!(batch("\"event\"", BodyFormat::Json), Err(BatchError::NotObjectOrArray { found: "string" }));
    assert_eq!(
        batch("42", BodyFormat::Json).expect_err("refused").to_string(),
        "body must be a JSON object or an array of objects, got number"
    );
}
