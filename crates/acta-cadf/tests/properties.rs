//! Properties over generated events: what parse_event accepts, it accepts again from `raw`, identically.

use acta_cadf::{BodyFormat, Options, format_time, parse_batch, parse_event, parse_time};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn now() -> i64 {
    parse_time("2026-01-01T00:00:00Z").expect("a fixed now")
}

/// An `eventTime` in any accepted spelling, with the UTC nanoseconds it stands for.
fn event_time() -> impl Strategy<Value = (String, i64)> {
    let date = (1970_i32..=2025, 1_u8..=12, 1_u8..=28);
    let clock = (0_u8..=23, 0_u8..=59, 0_u8..=59, "[0-9]{0,9}");
    let offset = prop_oneof![
        Just((String::from("Z"), 0_i64)),
        Just((String::from("z"), 0_i64)),
        (any::<bool>(), 0_i64..=23, 0_i64..=59, any::<bool>()).prop_map(|(east, hours, minutes, colon)| {
            let sign = if east { '+' } else { '-' };
            let separator = if colon { ":" } else { "" };
            let seconds = (hours * 3600 + minutes * 60) * if east { 1 } else { -1 };
            (format!("{sign}{hours:02}{separator}{minutes:02}"), seconds)
        }),
    ];
    (date, clock, offset, prop_oneof![Just('T'), Just('t')]).prop_map(
        |((year, month, day), (hour, minute, second, fraction), (offset, offset_seconds), t)| {
            let dot = if fraction.is_empty() { "" } else { "." };
            let text =
                format!("{year:04}-{month:02}-{day:02}{t}{hour:02}:{minute:02}:{second:02}{dot}{fraction}{offset}");
            let local = time::Date::from_calendar_date(year, time::Month::try_from(month).expect("a month"), day)
                .expect("a date")
                .with_hms(hour, minute, second)
                .expect("a time")
                .assume_utc()
                .unix_timestamp();
            let nanos: i64 = format!("{fraction:0<9}").parse().expect("digits");
            (text, (local - offset_seconds) * 1_000_000_000 + nanos)
        },
    )
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z_/~]{1,8}", inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// An initiator or target: a resource object or the id of one.
fn party(name: &'static str) -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        ("\\PC{1,12}", proptest::option::of("[a-z]{1,8}(/[a-z]{1,8}){0,2}")).prop_map(move |(id, type_uri)| {
            let mut resource = json!({ "id": id });
            if let Some(type_uri) = type_uri {
                resource["typeURI"] = Value::from(type_uri);
            }
            (name.to_owned(), resource)
        }),
        "[a-zA-Z0-9-]{1,12}".prop_map(move |id| (format!("{name}Id"), Value::from(id))),
    ]
}

/// The members the validator reads: an extension attribute never takes their names.
const VALIDATED: [&str; 14] = [
    "id",
    "action",
    "outcome",
    "eventTime",
    "initiator",
    "initiatorId",
    "target",
    "targetId",
    "observer",
    "observerId",
    "severity",
    "logSourceCRN",
    "typeURI",
    "eventType",
];

/// A valid event in lenient mode, with the UTC nanoseconds of its `eventTime`.
fn valid_event() -> impl Strategy<Value = (Value, i64)> {
    let outcome = prop_oneof![Just("success"), Just("Failure"), Just("PENDING"), Just("unknown")];
    let extras = prop::collection::vec(("[a-zA-Z_]{1,10}", json_value()), 0..6);
    let optional = (
        proptest::option::of("[a-z0-9-]{1,36}"),
        proptest::option::of(prop_oneof![Just("normal"), Just("warning"), Just("critical")]),
        proptest::option::of(prop_oneof![
            "crn:v1:bluemix:public:[a-z-]{1,12}:[a-z-]{0,8}:a/[0-9a-f]{1,12}:::".boxed(),
            "\\PC{0,20}".boxed(),
        ]),
    );
    (extras, "[a-z-]{1,12}(\\.[a-z-]{1,12}){0,2}", outcome, event_time(), party("initiator"), party("target"), optional)
        .prop_map(|(extras, action, outcome, (time, ns), initiator, target, (id, severity, crn))| {
            // Extension attributes first, so that the core members always win a name clash; names the validator
            // reads are not extensions (an extra `id` of `[]`, left when the optional id is absent, is invalid).
            let mut event: Map<String, Value> =
                extras.into_iter().filter(|(name, _)| !VALIDATED.contains(&name.as_str())).collect();
            event.insert("action".into(), action.into());
            event.insert("outcome".into(), outcome.into());
            event.insert("eventTime".into(), time.into());
            event.insert(initiator.0, initiator.1);
            event.insert(target.0, target.1);
            for (key, value) in [("id", id), ("severity", severity.map(String::from)), ("logSourceCRN", crn)] {
                if let Some(value) = value {
                    event.insert(key.into(), value.into());
                }
            }
            (Value::Object(event), ns)
        })
}

/// The event's text, compact or pretty.
fn text(event: &Value, pretty: bool) -> Vec<u8> {
    if pretty {
        serde_json::to_vec_pretty(event).expect("serializable")
    } else {
        serde_json::to_vec(event).expect("serializable")
    }
}

proptest! {
    #[test]
    fn accepted_events_reparse_identically_from_raw((event, ns) in valid_event(), pretty in any::<bool>()) {
        let opts = Options::default();
        let first = parse_event(&text(&event, pretty), &opts, now());
        let first = first.map_err(|problems| TestCaseError::fail(format!("{event} rejected: {problems:?}")))?;
        prop_assert_eq!(first.event_time, ns);
        let again = parse_event(&first.raw, &opts, now());
        prop_assert_eq!(again, Ok(first));
    }

    #[test]
    fn batch_events_reparse_identically_from_raw(
        events in prop::collection::vec(valid_event(), 1..5),
        separator in prop_oneof![Just(","), Just(" ,\n "), Just("\t,")],
        ndjson in any::<bool>(),
    ) {
        let texts: Vec<String> = events
            .iter()
            .map(|(event, _)| serde_json::to_string(event).expect("serializable"))
            .collect();
        let (body, format) = if ndjson {
            (texts.join("\r\n\n"), BodyFormat::Ndjson)
        } else {
            (format!("[ {} ]", texts.join(separator)), BodyFormat::Json)
        };
        let opts = Options::default();
        let results = parse_batch(body.as_bytes(), format, &opts, now()).expect("a batch");
        prop_assert_eq!(results.len(), texts.len());
        for (result, text) in results.into_iter().zip(&texts) {
            let event = result.map_err(|problems| TestCaseError::fail(format!("{text} rejected: {problems:?}")))?;
            prop_assert_eq!(&event.raw, text.as_bytes());
            prop_assert_eq!(parse_event(&event.raw, &opts, now()), Ok(event));
        }
    }

    #[test]
    fn formatted_times_parse_back_to_the_same_nanoseconds(ns in any::<i64>()) {
        prop_assert_eq!(parse_time(&format_time(ns)), Ok(ns));
    }

    #[test]
    fn any_bytes_get_an_answer_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let opts = Options::strict();
        let _ = parse_event(&bytes, &opts, now());
        let _ = parse_batch(&bytes, BodyFormat::Json, &opts, now());
        let _ = parse_batch(&bytes, BodyFormat::Ndjson, &opts, now());
    }

    #[test]
    fn json_shaped_text_gets_an_answer_without_panicking(text in "[\\[\\]{}\",:a0 \n\\\\]{0,64}") {
        let opts = Options::default();
        let _ = parse_event(text.as_bytes(), &opts, now());
        let _ = parse_batch(text.as_bytes(), BodyFormat::Json, &opts, now());
    }
}
