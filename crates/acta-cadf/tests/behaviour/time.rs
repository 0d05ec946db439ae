//! The `eventTime` grammar, also used for query time ranges.

use acta_cadf::{format_time, parse_time};

fn utc(text: &str) -> String {
    format_time(parse_time(text).unwrap_or_else(|error| panic!("{error}")))
}

#[test]
fn z_and_zero_offsets_are_the_same_instant() {
    let z = parse_time("2020-03-08T12:22:01Z");
    assert_eq!(parse_time("2020-03-08T12:22:01+00:00"), z);
    assert_eq!(parse_time("2020-03-08T12:22:01+0000"), z);
    assert_eq!(parse_time("2020-03-08T12:22:01-00:00"), z);
    assert_eq!(parse_time("2020-03-08t12:22:01z"), z);
}

#[test]
fn offsets_are_converted_to_utc() {
    assert_eq!(utc("2014-01-17T23:23:38-0500"), "2014-01-18T04:23:38.000000000Z");
    assert_eq!(utc("2014-01-17T01:00:00+05:30"), "2014-01-16T19:30:00.000000000Z");
}

#[test]
fn zero_to_nine_fraction_digits_are_accepted() {
    assert_eq!(utc("2020-03-11T09:28:35+0000"), "2020-03-11T09:28:35.000000000Z");
    assert_eq!(utc("2020-03-11T09:28:35.15+0000"), "2020-03-11T09:28:35.150000000Z");
    assert_eq!(utc("2014-01-17T23:23:38.109989+0000"), "2014-01-17T23:23:38.109989000Z");
    assert_eq!(utc("2026-11-20T10:00:00.123456789Z"), "2026-11-20T10:00:00.123456789Z");
}

#[test]
fn times_before_1970_are_negative_nanoseconds() {
    let ns = parse_time("1969-12-31T23:59:59.5Z").expect("parses");
    assert_eq!(ns, -500_000_000);
    assert_eq!(format_time(ns), "1969-12-31T23:59:59.500000000Z");
}

fn error(text: &str) -> String {
    parse_time(text).expect_err("refused")
}

#[test]
fn ten_fraction_digits_are_refused() {
    assert_eq!(
        error("2020-03-11T09:28:35.1234567891Z"),
        "\"2020-03-11T09:28:35.1234567891Z\" is not an RFC 3339 time (more than 9 fraction digits at position 30)"
    );
}

#[test]
fn dot_without_digits_is_refused() {
    assert_eq!(
        error("2020-03-11T09:28:35.Z"),
        "\"2020-03-11T09:28:35.Z\" is not an RFC 3339 time (expected fraction digits after '.' at position 21)"
    );
}

#[test]
fn missing_offset_is_refused() {
    assert_eq!(
        error("2020-03-11T09:28:35"),
        "\"2020-03-11T09:28:35\" is not an RFC 3339 time (expected an offset (Z, +HH:MM or +HHMM) at position 20)"
    );
}

#[test]
fn space_between_date_and_time_is_refused() {
    assert_eq!(
        error("2020-03-11 09:28:35Z"),
        "\"2020-03-11 09:28:35Z\" is not an RFC 3339 time (expected 'T' between the date and the time at position 11)"
    );
}

#[test]
fn date_that_does_not_exist_is_refused() {
    assert_eq!(
        error("2021-02-29T00:00:00Z"),
        "\"2021-02-29T00:00:00Z\" is not an RFC 3339 time (2021-02-29 is not a date)"
    );
    assert_eq!(
        error("2021-13-01T00:00:00Z"),
        "\"2021-13-01T00:00:00Z\" is not an RFC 3339 time (2021-13-01 is not a date)"
    );
}

#[test]
fn time_of_day_that_does_not_exist_is_refused() {
    assert_eq!(
        error("2016-12-31T23:59:60Z"),
        "\"2016-12-31T23:59:60Z\" is not an RFC 3339 time (23:59:60 is not a time of day; leap seconds are not accepted)"
    );
    assert_eq!(
        error("2016-12-31T24:00:00Z"),
        "\"2016-12-31T24:00:00Z\" is not an RFC 3339 time (24:00:00 is not a time of day)"
    );
}

#[test]
fn offset_that_does_not_exist_is_refused() {
    assert_eq!(
        error("2021-01-01T00:00:00+24:00"),
        "\"2021-01-01T00:00:00+24:00\" is not an RFC 3339 time (offset 24:00 does not exist)"
    );
}

#[test]
fn text_after_the_offset_is_refused() {
    assert_eq!(
        error("2021-01-01T00:00:00Z "),
        "\"2021-01-01T00:00:00Z \" is not an RFC 3339 time (unexpected text after the offset at position 21)"
    );
}

#[test]
fn times_beyond_2262_are_refused() {
    assert_eq!(
        error("2300-01-01T00:00:00Z"),
        "\"2300-01-01T00:00:00Z\" is not an RFC 3339 time (outside the range Acta stores, 1677-09-21 to 2262-04-11 UTC)"
    );
}

#[test]
fn format_time_always_writes_nine_fraction_digits() {
    assert_eq!(format_time(0), "1970-01-01T00:00:00.000000000Z");
    assert_eq!(format_time(i64::MAX), "2262-04-11T23:47:16.854775807Z");
    assert_eq!(format_time(i64::MIN), "1677-09-21T00:12:43.145224192Z");
}
