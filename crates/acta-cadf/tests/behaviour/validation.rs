//! The rules every mode applies, one bad event per rule.

use acta_cadf::{Outcome, format_time, parse_event};
use serde_json::json;

use super::*;

#[test]
fn minimal_event_is_accepted_with_its_fields_read_out() {
    let event = accept(&minimal(), &lenient());
    assert_eq!(event.action, "kms.secrets.create");
    assert_eq!(event.platform(), "kms");
    assert_eq!(event.outcome, Outcome::Success);
    assert_eq!(format_time(event.event_time), "2025-12-31T23:00:00.000000000Z");
    assert_eq!(event.id, None);
    assert_eq!(event.severity, None);
    assert_eq!(event.crn, None);
    assert_eq!(event.value, minimal());
}

#[test]
fn id_severity_and_crn_are_read_out() {
    let event = accept(
        &with(
            with(minimal(), "id", json!("evt-1")),
            "logSourceCRN",
            json!("crn:v1:bluemix:public:kms:us-south:a/acc1:inst::"),
        ),
        &lenient(),
    );
    assert_eq!(event.id.as_deref(), Some("evt-1"));
    assert_eq!(event.crn.map(|crn| crn.location), Some("us-south".to_owned()));
    let event = accept(&with(minimal(), "severity", json!("critical")), &lenient());
    assert_eq!(event.severity.as_deref(), Some("critical"));
}

#[test]
fn platform_of_an_action_without_a_dot_is_the_whole_action() {
    let event = accept(&with(minimal(), "action", json!("authenticate")), &lenient());
    assert_eq!(event.platform(), "authenticate");
}

#[test]
fn raw_is_the_exact_bytes_received() {
    let raw = b"{ \"action\":\"a.b\" , \"outcome\":\"failure\",\"eventTime\":\"2020-01-01T00:00:00Z\",\"initiatorId\":\"i\",\"targetId\":\"t\" }";
    let event = parse_event(raw, &lenient(), now()).expect("accepted");
    assert_eq!(event.raw, raw.to_vec());
}

#[test]
fn missing_action_is_rejected() {
    check(&without(minimal(), "action"), &lenient(), &[("/action", "is required")]);
}

#[test]
fn non_string_action_is_rejected() {
    check(&with(minimal(), "action", json!(7)), &lenient(), &[("/action", "must be a string, got number")]);
}

#[test]
fn blank_action_is_rejected() {
    check(&with(minimal(), "action", json!("  ")), &lenient(), &[("/action", "must not be empty")]);
}

#[test]
fn missing_outcome_is_rejected() {
    check(&without(minimal(), "outcome"), &lenient(), &[("/outcome", "is required")]);
}

#[test]
fn outcome_outside_the_cadf_four_is_rejected() {
    check(
        &with(minimal(), "outcome", json!("done")),
        &lenient(),
        &[("/outcome", "\"done\" is not a CADF outcome (expected success, failure, pending or unknown)")],
    );
}

#[test]
fn lenient_outcome_ignores_case() {
    for (word, outcome) in [
        ("Success", Outcome::Success),
        ("FAILURE", Outcome::Failure),
        ("Pending", Outcome::Pending),
        ("unknown", Outcome::Unknown),
    ] {
        let event = accept(&with(minimal(), "outcome", json!(word)), &lenient());
        assert_eq!(event.outcome, outcome, "{word}");
    }
}

#[test]
fn missing_event_time_is_rejected() {
    check(&without(minimal(), "eventTime"), &lenient(), &[("/eventTime", "is required")]);
}

#[test]
fn event_time_that_is_not_rfc3339_is_rejected() {
    check(
        &with(minimal(), "eventTime", json!("yesterday")),
        &lenient(),
        &[("/eventTime", "\"yesterday\" is not an RFC 3339 time (expected a 4-digit year at position 1)")],
    );
}

#[test]
fn event_time_as_a_number_is_rejected() {
    check(
        &with(minimal(), "eventTime", json!(1_700_000_000)),
        &lenient(),
        &[("/eventTime", "must be a string, got number")],
    );
}

#[test]
fn event_time_more_than_five_minutes_in_the_future_is_rejected() {
    check(
        &with(minimal(), "eventTime", json!("2026-01-01T00:05:00.000000001Z")),
        &lenient(),
        &[("/eventTime", "\"2026-01-01T00:05:00.000000001Z\" is more than 5 minutes in the future")],
    );
}

#[test]
fn event_time_exactly_five_minutes_in_the_future_is_accepted() {
    accept(&with(minimal(), "eventTime", json!("2026-01-01T00:05:00Z")), &lenient());
}

#[test]
fn old_event_time_is_accepted() {
    let event = accept(&with(minimal(), "eventTime", json!("1999-12-31T23:59:59Z")), &lenient());
    assert_eq!(format_time(event.event_time), "1999-12-31T23:59:59.000000000Z");
}

#[test]
fn event_time_with_an_offset_is_stored_in_utc() {
    let event = accept(&with(minimal(), "eventTime", json!("2025-06-01T07:30:00.25-0500")), &lenient());
    assert_eq!(format_time(event.event_time), "2025-06-01T12:30:00.250000000Z");
}

#[test]
fn missing_initiator_is_rejected() {
    check(
        &without(minimal(), "initiator"),
        &lenient(),
        &[("/initiator", "is required (either initiator as an object or initiatorId as a string)")],
    );
}

#[test]
fn initiator_id_alone_is_an_initiator() {
    accept(&with(without(minimal(), "initiator"), "initiatorId", json!("IBMid-1")), &lenient());
}

#[test]
fn initiator_that_is_not_an_object_is_rejected() {
    check(
        &with(minimal(), "initiator", json!("IBMid-1")),
        &lenient(),
        &[("/initiator", "must be an object, got string")],
    );
}

#[test]
fn empty_initiator_id_is_rejected() {
    check(
        &with(without(minimal(), "initiator"), "initiatorId", json!("")),
        &lenient(),
        &[("/initiatorId", "must not be empty")],
    );
}

#[test]
fn missing_target_is_rejected() {
    check(
        &without(minimal(), "target"),
        &lenient(),
        &[("/target", "is required (either target as an object or targetId as a string)")],
    );
}

#[test]
fn target_id_alone_is_a_target() {
    accept(&with(without(minimal(), "target"), "targetId", json!("key-1")), &lenient());
}

#[test]
fn target_id_that_is_not_a_string_is_rejected() {
    check(
        &with(without(minimal(), "target"), "targetId", json!(["key-1"])),
        &lenient(),
        &[("/targetId", "must be a string, got array")],
    );
}

#[test]
fn event_id_that_is_not_a_string_is_rejected() {
    check(&with(minimal(), "id", json!(42)), &lenient(), &[("/id", "must be a string, got number")]);
}

#[test]
fn empty_event_id_counts_as_no_id() {
    let event = accept(&with(minimal(), "id", json!("")), &lenient());
    assert_eq!(event.id, None);
}

#[test]
fn event_that_is_not_an_object_is_rejected() {
    let problems = parse_event(b"[1,2]", &lenient(), now()).expect_err("rejected");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].pointer, "");
    assert_eq!(problems[0].message, "event must be a JSON object, got array");
}

#[test]
fn event_that_is_not_json_is_rejected() {
    let problems = parse_event(b"{\"action\": }", &lenient(), now()).expect_err("rejected");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].pointer, "");
    assert_eq!(problems[0].message, "not valid JSON: expected value at line 1 column 12");
}

#[test]
fn every_problem_of_an_event_is_reported() {
    let event = json!({"action": "", "outcome": "maybe", "eventTime": "soon"});
    let pointers: Vec<String> = reject(&event, &lenient()).into_iter().map(|p| p.pointer).collect();
    assert_eq!(pointers, ["/action", "/outcome", "/eventTime", "/initiator", "/target"]);
}

#[test]
fn problem_displays_as_pointer_and_message() {
    let problems = reject(&with(minimal(), "eventTime", json!("yesterday")), &lenient());
    assert_eq!(
        problems[0].to_string(),
        "/eventTime: \"yesterday\" is not an RFC 3339 time (expected a 4-digit year at position 1)"
    );
}

#[test]
fn long_values_are_cut_short_in_messages() {
    let long = "x".repeat(1000);
    let problems = reject(&with(minimal(), "outcome", json!(long)), &lenient());
    assert!(problems[0].message.len() < 200, "{}", problems[0].message);
    assert!(problems[0].message.starts_with(&format!("\"{}…\"", "x".repeat(64))));
}

#[test]
fn ibm_extension_shapes_are_accepted() {
    let event = with(
        with(
            with(minimal(), "reason", json!({"reasonCode": "200", "reasonType": "OK"})),
            "requestData",
            json!("{\"keyType\":\"root\"}"),
        ),
        "dataEvent",
        json!("true"),
    );
    accept(&event, &lenient());
    accept(&with(minimal(), "reason", json!({"reasonCode": 200})), &lenient());
}

#[test]
fn malformed_crn_is_not_a_rejection() {
    let event = accept(&with(minimal(), "logSourceCRN", json!("not a crn")), &lenient());
    assert_eq!(event.crn, None);
    assert_eq!(event.value["logSourceCRN"], "not a crn");
}
