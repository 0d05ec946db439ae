//! `GET /v1/events/histogram` and `GET /v1/events/terms` over HTTP, judged by `GET /v1/events/count` and by
//! the reference evaluator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, event};
use serde_json::{Value, json};

const MINUTE: i64 = 60_000_000_000;

async fn histogram(server: &TestServer, params: &[(&str, &str)]) -> Value {
    let (status, answer) = server.admin().get_with("/v1/events/histogram", params).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn count_between(server: &TestServer, q: &str, from: &str, to: &str) -> u64 {
    let (status, answer) = server.admin().get_with("/v1/events/count", &[("q", q), ("from", from), ("to", to)]).await;
    assert_eq!(status, 200, "{answer}");
    answer["count"].as_u64().unwrap()
}

/// Events over two hours from 10:00 on 2026-11-20, several actions and outcomes, some numeric codes.
fn spread_events() -> Vec<Value> {
    let actions = [
        "iam-identity.user-apikey.create",
        "iam-identity.user-apikey.update",
        "iam-identity.user-apikey.delete",
        "kms.secrets.create",
        "kms.secrets.read",
    ];
    (0..60)
        .map(|n: usize| {
            let minute = (n * 7) % 120;
            let code = [200, 403, 404, 500][n % 4];
            event(
                actions[n % actions.len()],
                json!({
                    "id": format!("spread-{n}"),
                    "eventTime": format!("2026-11-20T{:02}:{:02}:{:02}Z", 10 + minute / 60, minute % 60, n % 60),
                    "outcome": if n.is_multiple_of(4) { "failure" } else { "success" },
                    "reason": {"reasonCode": code},
                    "initiator": {"id": format!("IBMid-{}", n % 3), "name": format!("user{}@example.com", n % 3),
                                  "host": {"address": format!("192.0.2.{}", n % 5)}},
                }),
            )
        })
        .collect()
}

async fn server_with(events: &[Value]) -> TestServer {
    let server = TestServer::start().await;
    let (status, answer) = server.send(events).await;
    assert_eq!(status, 200, "{answer}");
    server.wait_searchable(events.len() as u64).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bucket_count_equals_the_count_over_the_buckets_range() {
    let server = server_with(&spread_events()).await;
    // An exact query, one that the index alone answers with prefixes, and an inexact one (numeric comparison,
    // verified on the events read from the log).
    for q in ["", "action:user-apikey", "reason.reasonCode:>=403 -kms"] {
        let answer = histogram(
            &server,
            &[("q", q), ("from", "2026-11-20T09:55:30Z"), ("to", "2026-11-20T12:03:00Z"), ("interval", "10m")],
        )
        .await;
        let buckets = answer["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 14, "{answer}");
        for bucket in buckets {
            let (from, to) = (bucket["from"].as_str().unwrap(), bucket["to"].as_str().unwrap());
            let expected = count_between(&server, bucket["query"].as_str().unwrap(), from, to).await;
            assert_eq!(bucket["count"].as_u64(), Some(expected), "q {q:?} bucket {bucket}");
        }
        let total = count_between(&server, q, "2026-11-20T09:55:30Z", "2026-11-20T12:03:00Z").await;
        assert_eq!(answer["count"].as_u64(), Some(total), "q {q:?}");
        assert!(total > 0, "q {q:?} matched nothing, so it tests nothing");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdown_top_values_plus_other_equal_the_bucket_count() {
    let server = server_with(&spread_events()).await;
    for by in ["action", "outcome", "initiator.host.address", "_platform"] {
        let answer = histogram(
            &server,
            &[("from", "2026-11-20T10:00:00Z"), ("to", "2026-11-20T12:00:00Z"), ("by", by), ("top", "2")],
        )
        .await;
        let other_key = answer["other_key"].as_str().unwrap();
        for bucket in answer["buckets"].as_array().unwrap() {
            let by_values = bucket["by"].as_object().unwrap();
            assert!(by_values.contains_key(other_key), "{bucket}");
            let sum: u64 = by_values.values().map(|n| n.as_u64().unwrap()).sum();
            // Every event has exactly one value of these fields.
            assert_eq!(bucket["missing"], 0, "by {by}: {bucket}");
            assert_eq!(Some(sum), bucket["count"].as_u64(), "by {by}: {bucket}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breakdown_values_drill_down_query_counts_its_events_in_each_bucket() {
    let server = server_with(&spread_events()).await;
    let answer = histogram(
        &server,
        &[
            ("q", "-outcome:failure"),
            ("from", "2026-11-20T10:00:00Z"),
            ("to", "2026-11-20T12:00:00Z"),
            ("by", "action"),
        ],
    )
    .await;
    let series = answer["series"].as_array().unwrap();
    assert_eq!(series.len(), 5, "{answer}");
    for value in series {
        let (name, query) = (value["value"].as_str().unwrap(), value["query"].as_str().unwrap());
        assert_eq!(query, format!("-outcome:failure action:==={name}"));
        for bucket in answer["buckets"].as_array().unwrap() {
            let (from, to) = (bucket["from"].as_str().unwrap(), bucket["to"].as_str().unwrap());
            assert_eq!(bucket["by"][name].as_u64(), Some(count_between(&server, query, from, to).await), "{bucket}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terms_counts_equal_the_counts_of_their_exact_value_queries() {
    let server = server_with(&spread_events()).await;
    let range = [("from", "2026-11-20T10:00:00Z"), ("to", "2026-11-20T11:30:00Z")];
    // A column (action), a number in a column (reason.reasonCode), a path answered from terms
    // (initiator.host.address), a derived field, under an exact and an inexact query.
    for field in ["action", "reason.reasonCode", "initiator.host.address", "_platform"] {
        for q in ["", "reason.reasonCode:<450"] {
            let mut params = vec![("field", field), ("q", q), ("top", "3")];
            params.extend(range);
            let (status, answer) = server.admin().get_with("/v1/events/terms", &params).await;
            assert_eq!(status, 200, "{answer}");
            let mut sum = 0;
            for value in answer["values"].as_array().unwrap() {
                let exact = format!("{q} {field}:==={}", value["value"].as_str().unwrap());
                let expected = count_between(&server, &exact, range[0].1, range[1].1).await;
                assert_eq!(value["count"].as_u64(), Some(expected), "{field} in {q:?}: {value}");
                assert_eq!(
                    count_between(&server, value["query"].as_str().unwrap(), range[0].1, range[1].1).await,
                    expected
                );
                sum += expected;
            }
            assert_eq!(answer["count"].as_u64(), Some(count_between(&server, q, range[0].1, range[1].1).await));
            assert_eq!(answer["other"].as_u64().unwrap() + sum, answer["count"].as_u64().unwrap(), "{answer}");
        }
    }
    server.stop().await;
}

/// The keys scenario of seed 002, happening now: create, update twice, a failed delete, delete, login.
fn keys_scenario(now_ns: i64) -> Vec<Value> {
    let steps = [
        ("create", "success", 50),
        ("update", "success", 45),
        ("update", "success", 40),
        ("delete", "failure", 30),
        ("delete", "success", 20),
        ("login", "success", 10),
    ];
    let mut events: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(n, (verb, outcome, minutes_ago))| {
            event(
                &format!("iam-identity.user-apikey.{verb}"),
                json!({
                    "id": format!("key-{n}"),
                    "eventTime": acta_cadf::format_time(now_ns - minutes_ago * MINUTE),
                    "outcome": outcome,
                    "message": format!("IAM Identity Service: {verb} user-apikey demo-key"),
                }),
            )
        })
        .collect();
    // Outside the board: another service now, and a key event older than the Live range.
    // (Its target must not be the key: the filter is free text, and `iam-identity/user-apikey` would match.)
    events.push(event(
        "kms.secrets.create",
        json!({"id": "kms", "eventTime": acta_cadf::format_time(now_ns - 5 * MINUTE),
               "target": {"id": "k-1", "name": "root", "typeURI": "kms/secrets"}}),
    ));
    events.push(event(
        "iam-identity.user-apikey.delete",
        json!({"id": "old", "eventTime": acta_cadf::format_time(now_ns - 90 * MINUTE)}),
    ));
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_board_gives_one_series_per_action_with_its_count() {
    let events = keys_scenario(acta_server::now_ns());
    let server = server_with(&events).await;
    // The board: graph of `action`, filter `iam-identity.user-apikey.`, range Live, histogram by `action`.
    let answer = histogram(&server, &[("q", "iam-identity.user-apikey."), ("from", "live"), ("by", "action")]).await;
    let series: Vec<(String, u64)> = answer["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["value"].as_str().unwrap().to_string(), s["count"].as_u64().unwrap()))
        .collect();
    let expected: Vec<(String, u64)> = [("delete", 2), ("update", 2), ("create", 1), ("login", 1)]
        .iter()
        .map(|(verb, n)| (format!("iam-identity.user-apikey.{verb}"), *n))
        .collect();
    assert_eq!(series, expected, "{answer}");
    assert_eq!(answer["count"], 6);
    assert_eq!(answer["interval"], "1m");
    assert_eq!(answer["other"], 0);
    // Each event is in one bucket, under its action.
    let buckets = answer["buckets"].as_array().unwrap();
    for (value, total) in &expected {
        let per_bucket: u64 = buckets.iter().map(|bucket| bucket["by"][value].as_u64().unwrap()).sum();
        assert_eq!(per_bucket, *total, "{value}");
    }
    assert_eq!(buckets.iter().filter(|bucket| bucket["count"].as_u64().unwrap() > 0).count(), 6);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_buckets_are_present_so_the_graph_has_no_gaps() {
    let events = vec![
        event("a.b.c", json!({"id": "one", "eventTime": "2026-11-20T10:01:10Z"})),
        event("a.b.c", json!({"id": "two", "eventTime": "2026-11-20T10:07:50Z"})),
    ];
    let server = server_with(&events).await;
    let answer =
        histogram(&server, &[("from", "2026-11-20T10:00:00Z"), ("to", "2026-11-20T10:10:00Z"), ("interval", "1m")])
            .await;
    let buckets = answer["buckets"].as_array().unwrap();
    let counts: Vec<u64> = buckets.iter().map(|bucket| bucket["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [0, 1, 0, 0, 0, 0, 0, 1, 0, 0]);
    for pair in buckets.windows(2) {
        assert_eq!(pair[0]["to"], pair[1]["from"], "buckets are contiguous");
    }
    assert_eq!(buckets[3]["start"], "2026-11-20T10:03:00.000000000Z");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_counts_once_per_distinct_value_and_without_the_field_in_no_value() {
    let events = vec![
        event("a.b.c", json!({"id": "tagged", "eventTime": "2026-11-20T10:00:00Z", "tags": ["x", "x", "y"]})),
        event("a.b.c", json!({"id": "one-tag", "eventTime": "2026-11-20T10:00:01Z", "tags": "x"})),
        event("a.b.c", json!({"id": "untagged", "eventTime": "2026-11-20T10:00:02Z"})),
    ];
    let server = server_with(&events).await;
    let (status, answer) = server.admin().get_with("/v1/events/terms", &[("field", "tags")]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["values"],
        json!([{"value": "x", "count": 2, "query": "tags:===x"}, {"value": "y", "count": 1, "query": "tags:===y"}])
    );
    assert_eq!((answer["count"].as_u64(), answer["missing"].as_u64()), (Some(3), Some(1)));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_buckets_follow_the_requested_time_zone() {
    // 23:30 UTC on the 20th is already the 21st in Berlin.
    let events = vec![
        event("a.b.c", json!({"id": "late", "eventTime": "2026-11-20T23:30:00Z"})),
        event("a.b.c", json!({"id": "early", "eventTime": "2026-11-20T22:30:00Z"})),
    ];
    let server = server_with(&events).await;
    let params =
        [("from", "2026-11-19T12:00:00Z"), ("to", "2026-11-22T12:00:00Z"), ("interval", "1d"), ("tz", "Europe/Berlin")];
    let answer = histogram(&server, &params).await;
    let starts: Vec<&str> =
        answer["buckets"].as_array().unwrap().iter().map(|b| b["start"].as_str().unwrap()).collect();
    assert_eq!(
        starts,
        [
            "2026-11-18T23:00:00.000000000Z",
            "2026-11-19T23:00:00.000000000Z",
            "2026-11-20T23:00:00.000000000Z",
            "2026-11-21T23:00:00.000000000Z"
        ]
    );
    let counts: Vec<u64> = answer["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [0, 1, 1, 0]);
    assert_eq!(answer["tz"], "Europe/Berlin");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_field_names_are_400_with_a_clear_message() {
    let server = TestServer::start().await;
    for path in ["/v1/events/histogram", "/v1/events/terms"] {
        for name in ["a..b", "(action", "action:x", "a b"] {
            let (status, answer) = server.admin().get_with(path, &[("by", name), ("field", name)]).await;
            assert_eq!(status, 400, "{path} {name}: {answer}");
            assert_eq!(answer["error"]["code"], "invalid_field");
            assert!(answer["error"]["message"].as_str().unwrap().contains("is not a field name"), "{answer}");
        }
    }
    let (status, answer) = server.admin().get_with("/v1/events/terms", &[]).await;
    assert_eq!((status, answer["error"]["message"].as_str()), (400, Some("field is required")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_intervals_and_time_zones_are_400() {
    let server = TestServer::start().await;
    for (params, code) in [
        (vec![("interval", "fortnight")], "invalid_interval"),
        (vec![("interval", "2d")], "invalid_interval"),
        (vec![("interval", "0s")], "invalid_interval"),
        (vec![("tz", "Mars/Olympus_Mons")], "invalid_timezone"),
        (vec![("top", "-1")], "invalid_top"),
        (vec![("from", "2026-11-20T10:00:00Z"), ("to", "2026-11-20T10:00:00Z")], "invalid_time"),
    ] {
        let (status, answer) = server.admin().get_with("/v1/events/histogram", &params).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some(code)), "{params:?}: {answer}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_thousand_buckets_is_400() {
    let server = TestServer::start().await;
    let (status, answer) =
        server.admin().get_with("/v1/events/histogram", &[("from", "24h"), ("interval", "1m")]).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "too_many_buckets");
    assert!(answer["error"]["message"].as_str().unwrap().contains("more than 1000 buckets"), "{answer}");
    // 24 hours of 1m buckets is 1441 at most; 2m gives 721, which is allowed.
    let (status, answer) =
        server.admin().get_with("/v1/events/histogram", &[("from", "24h"), ("interval", "2m")]).await;
    assert_eq!(status, 200, "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregations_without_a_key_are_401() {
    let server = TestServer::start().await;
    for path in ["/v1/events/histogram", "/v1/events/terms?field=action"] {
        let response = server.http.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_without_from_covers_the_last_24_hours() {
    let now = acta_server::now_ns();
    let events = vec![
        event("a.b.c", json!({"id": "recent", "eventTime": acta_cadf::format_time(now - 60 * MINUTE)})),
        event("a.b.c", json!({"id": "old", "eventTime": acta_cadf::format_time(now - 25 * 60 * MINUTE)})),
    ];
    let server = server_with(&events).await;
    let answer = histogram(&server, &[]).await;
    assert_eq!(answer["count"], 1, "{answer}");
    assert_eq!(answer["interval"], "30m");
    server.stop().await;
}
