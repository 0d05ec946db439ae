//! Each limit is a clear per-event problem.

use acta_cadf::{Limits, Options, parse_event};
use serde_json::{Value, json};

use super::*;

fn limits(limits: Limits) -> Options {
    Options { limits, ..Options::default() }
}

/// `minimal()` with a `pad` string that makes it exactly `size` bytes long.
fn event_of_size(size: usize) -> Vec<u8> {
    let base = bytes(&with(minimal(), "pad", json!("")));
    let padded = with(minimal(), "pad", json!("p".repeat(size - base.len())));
    let raw = bytes(&padded);
    assert_eq!(raw.len(), size);
    raw
}

#[test]
fn event_larger_than_the_limit_is_rejected() {
    let raw = event_of_size(65_537);
    let problems = parse_event(&raw, &Options::default(), now()).expect_err("rejected");
    assert_eq!(problems, [Problem::new("", "event is 65537 bytes, more than the limit of 65536 bytes")]);
}

#[test]
fn event_of_exactly_the_size_limit_is_accepted() {
    let raw = event_of_size(65_536);
    parse_event(&raw, &Options::default(), now()).expect("accepted");
}

#[test]
fn size_is_checked_before_parsing() {
    let raw = vec![b'{'; 70_000];
    let problems = parse_event(&raw, &Options::default(), now()).expect_err("rejected");
    assert_eq!(problems, [Problem::new("", "event is 70000 bytes, more than the limit of 65536 bytes")]);
}

/// An event whose `deep` member holds `levels` nested objects `{"n": ...}`; the event itself is level 1.
fn nested(levels: usize) -> Vec<u8> {
    let mut deep = json!(1);
    for _ in 0..levels {
        deep = json!({ "n": deep });
    }
    bytes(&with(minimal(), "deep", deep))
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected_at_the_first_too_deep_value() {
    let problems = parse_event(&nested(32), &Options::default(), now()).expect_err("rejected");
    let pointer = format!("/deep{}", "/n".repeat(31));
    assert_eq!(problems, [Problem::new(pointer, "nesting is deeper than the limit of 32 levels")]);
}

#[test]
fn nesting_at_the_limit_is_accepted() {
    parse_event(&nested(31), &Options::default(), now()).expect("accepted");
}

#[test]
fn nesting_deeper_than_the_json_parser_allows_is_still_a_depth_problem() {
    let raw = format!(
        r#"{{"action":"a","outcome":"success","eventTime":"2020-01-01T00:00:00Z","initiatorId":"i","targetId":"t","deep":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let problems = parse_event(raw.as_bytes(), &Options::default(), now()).expect_err("rejected");
    let pointer = format!("/deep{}", "/0".repeat(31));
    assert_eq!(problems, [Problem::new(pointer, "nesting is deeper than the limit of 32 levels")]);
}

#[test]
fn depth_pointer_escapes_keys_and_counts_array_elements() {
    let event = with(minimal(), "a/b", json!([{}, {"~k": [[]]}]));
    let problems = parse_event(&bytes(&event), &limits(Limits { max_depth: 4, ..Limits::default() }), now())
        .expect_err("rejected");
    assert_eq!(problems, [Problem::new("/a~1b/1/~0k/0", "nesting is deeper than the limit of 4 levels")]);
}

/// `minimal()` grown to exactly `total` fields by an `extra` array.
fn with_fields(total: usize) -> Value {
    // minimal() has 7 fields: 5 members plus one id in each of initiator and target.
    // The `extra` member is one more field, and each of its elements one more.
    let elements = total - 8;
    with(minimal(), "extra", Value::Array(vec![json!(0); elements]))
}

#[test]
fn more_fields_than_the_limit_is_rejected() {
    check(
        &with_fields(1001),
        &lenient(),
        &[(
            "",
            "event has 1001 fields, more than the limit of 1000 (object members and array elements, counted at every level)",
        )],
    );
}

#[test]
fn fields_up_to_the_limit_are_accepted() {
    accept(&with_fields(1000), &lenient());
}

#[test]
fn nested_members_count_as_fields() {
    let small = limits(Limits { max_fields: 9, ..Limits::default() });
    // 7 fields of minimal() + "x" + "x/y" + "x/y/0" = 10.
    let problems =
        parse_event(&bytes(&with(minimal(), "x", json!({"y": [true]}))), &small, now()).expect_err("rejected");
    assert_eq!(problems[0].message.split(',').next(), Some("event has 10 fields"));
}

#[test]
fn future_limit_is_named_in_its_own_unit() {
    let opts = limits(Limits { max_future_ns: 30_000_000_000, ..Limits::default() });
    check(
        &with(minimal(), "eventTime", json!("2026-01-01T00:00:31Z")),
        &opts,
        &[("/eventTime", "\"2026-01-01T00:00:31Z\" is more than 30 seconds in the future")],
    );
}
