//! Property: for random queries, ranges and intervals, histogram totals equal `GET /v1/events/count`, every
//! bucket equals the count over its range, and the breakdown by a field equals what the reference evaluator
//! and `acta_query::field_values` give on the events as sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};

/// A handful of queries: exact ones, prefixes, and inexact ones the index verifies on the log.
const QUERIES: [&str; 8] = [
    "",
    "action:user-apikey",
    "-outcome:failure",
    "iam-identity.user-apikey.",
    "reason.reasonCode:>=400",
    "tags:x OR severity:*",
    "message:a*a",
    "-reason.reasonCode:(>=200 <300)",
];

/// Fields of every kind: columns, paths from terms, arrays, numbers, stringified JSON, derived, absent.
const FIELDS: [&str; 11] = [
    "note",
    "action",
    "outcome",
    "reason.reasonCode",
    "tags",
    "requestData.region",
    "initiator.host.address",
    "_platform",
    "_region",
    "target.name",
    "no.such.field",
];

const INTERVALS: [&str; 6] = ["", "", "1m", "10m", "1h", "1d"];

/// Three days of events, 10..13 November 2026.
const START: &str = "2026-11-10T00:00:00Z";
const SPAN_MINUTES: i64 = 3 * 24 * 60;
const MINUTE: i64 = 60_000_000_000;

fn corpus() -> Vec<Value> {
    let start = acta_cadf::parse_time(START).unwrap();
    let actions =
        ["iam-identity.user-apikey.create", "iam-identity.user-apikey.delete", "kms.secrets.read", "Kms.Secrets.Read"];
    let codes = [json!(200), json!("200"), json!(404), json!(500), json!("n/a")];
    let words = ["alpha", "area", "beta", "x", "y"];
    let long = "L".repeat(1_500);
    (0..240u64)
        .map(|n| {
            let minute = (n * 997) % SPAN_MINUTES as u64;
            let (action, outcome) = (actions[(n % 4) as usize], ["success", "failure", "Success"][(n % 3) as usize]);
            let message = format!("{} {}", words[(n % 5) as usize], words[(n / 5 % 5) as usize]);
            let name = if n % 11 == 0 { long.clone() } else { format!("key-{}", n % 4) };
            let code = codes[(n % 5) as usize].clone();
            let mut event = json!({
                "id": format!("p-{n}"),
                "eventTime": acta_cadf::format_time(start + minute as i64 * MINUTE + (n as i64 % 60) * 1_000_000_000),
                "action": action,
                "outcome": outcome,
                "message": message,
                "initiator": {"id": "IBMid-1", "name": "user@example.com", "host": {"address": format!("192.0.2.{}", n % 7)}},
                "target": {"id": "t", "typeURI": "kms/secrets", "name": name},
                "reason": {"reasonCode": code},
            });
            let object = event.as_object_mut().unwrap();
            if n % 3 == 0 {
                let tags = [words[(n % 5) as usize], "x", words[(n / 3 % 5) as usize]];
                object.insert("tags".into(), json!(tags));
            }
            if n % 13 == 0 {
                object.insert("note".into(), json!([format!("{}{}", "N".repeat(1_100), n % 2), "short"]));
            }
            if n % 4 == 1 {
                object.insert("severity".into(), json!("critical"));
            }
            if n % 5 == 2 {
                let region = ["us-south", "eu-de"][(n % 2) as usize];
                object.insert("requestData".into(), json!(json!({"region": region}).to_string()));
            }
            event
        })
        .collect()
}

struct Shared {
    url: String,
    events: Vec<Value>,
}

/// One server with the corpus, sent in three batches (so the partition has several segments).
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        common::process_server(Duration::from_secs(60), |runtime, server| {
            runtime.block_on(async {
                let events = corpus();
                for (i, batch) in events.chunks(80).enumerate() {
                    let (status, answer) = server.send(batch).await;
                    assert_eq!(status, 200, "{answer}");
                    server.wait_searchable(80 * (i as u64 + 1)).await;
                }
                Shared { url: server.url.clone(), events }
            })
        })
    })
}

fn get(url: &str, path: &str, params: &[(&str, &str)]) -> Value {
    let response = common::blocking_admin(reqwest::Method::GET, format!("{url}{path}")).query(params).send().unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().unwrap();
    assert_eq!(status, 200, "{path} {params:?}: {answer}");
    answer
}

/// What one bucket should hold: matching events, per distinct value text how many of them have it, and how
/// many have no value.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    count: u64,
    values: BTreeMap<String, u64>,
    without: u64,
}

/// The reference evaluator's buckets: each event as sent, matched by `q`, put in the bucket of `bounds`
/// (`bounds[i]..bounds[i + 1]`) its eventTime falls in.
fn expected_buckets(events: &[Value], q: &str, field: &str, bounds: &[i64]) -> Vec<Expected> {
    let query = acta_query::parse(q).unwrap();
    let field = acta_query::Field::from_name(field);
    let mut buckets: Vec<Expected> = (1..bounds.len()).map(|_| Expected::default()).collect();
    for event in events {
        let time = acta_cadf::parse_time(event["eventTime"].as_str().unwrap()).unwrap();
        let (Some(first), Some(last)) = (bounds.first(), bounds.last()) else {
            continue;
        };
        if time < *first || time >= *last {
            continue;
        }
        let raw = event.to_string();
        let view = common::default_view(event, &raw);
        if !acta_query::matches(&query, &view) {
            continue;
        }
        let bucket = &mut buckets[bounds.partition_point(|bound| *bound <= time) - 1];
        bucket.count += 1;
        let mut texts: Vec<String> =
            acta_query::field_values(&view, &field).iter().map(|value| value.text().into_owned()).collect();
        texts.sort();
        texts.dedup();
        if texts.is_empty() {
            bucket.without += 1;
        }
        for text in texts {
            *bucket.values.entry(text).or_default() += 1;
        }
    }
    buckets
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn histogram_totals_and_breakdowns_equal_count_and_the_reference_evaluator(
        q in proptest::sample::select(QUERIES.to_vec()),
        interval in proptest::sample::select(INTERVALS.to_vec()),
        start in -60i64..SPAN_MINUTES,
        length in 1i64..(SPAN_MINUTES / 2),
        seconds in 0i64..60,
    ) {
        let shared = shared();
        let base = acta_cadf::parse_time(START).unwrap();
        let from = base + start * MINUTE + seconds * 1_000_000_000;
        let to = from + length * MINUTE;
        // Minutes over more than 1000 minutes would be refused (too many buckets); choose automatically then.
        let interval = if interval == "1m" && length > 900 { "" } else { interval };
        let (from_text, to_text) = (acta_cadf::format_time(from), acta_cadf::format_time(to));
        let count = get(&shared.url, "/v1/events/count", &[("q", q), ("from", &from_text), ("to", &to_text)]);
        // Every field in every case, so each kind of value source meets every query and range.
        for field in FIELDS {
            let params =
                [("q", q), ("from", &from_text), ("to", &to_text), ("interval", interval), ("by", field), ("top", "100")];
            let answer = get(&shared.url, "/v1/events/histogram", &params);
            prop_assert_eq!(&answer["count"], &count["count"], "{}", answer);
            let buckets = answer["buckets"].as_array().unwrap();
            let sum: u64 = buckets.iter().map(|bucket| bucket["count"].as_u64().unwrap()).sum();
            prop_assert_eq!(Some(sum), count["count"].as_u64());

            let mut bounds: Vec<i64> =
                buckets.iter().map(|bucket| acta_cadf::parse_time(bucket["from"].as_str().unwrap()).unwrap()).collect();
            bounds.push(to);
            let expected = expected_buckets(&shared.events, q, field, &bounds);
            let other_key = answer["other_key"].as_str().unwrap();
            for (bucket, expected) in buckets.iter().zip(&expected) {
                // Values past the top 100 (there are none in this corpus) would be in other.
                prop_assert_eq!(bucket["by"][other_key].as_u64(), Some(0));
                let found = Expected {
                    count: bucket["count"].as_u64().unwrap(),
                    values: bucket["by"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .filter(|(key, count)| key.as_str() != other_key && count.as_u64() != Some(0))
                        .map(|(key, count)| (key.clone(), count.as_u64().unwrap()))
                        .collect(),
                    without: bucket["missing"].as_u64().unwrap(),
                };
                prop_assert_eq!(&found, expected, "{:?} by {} in {}", q, field, bucket["from"]);
            }
        }
    }
}
