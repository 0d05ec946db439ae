//! `GET /v1/events/query`: pipelines over HTTP give what the reference runner (`acta_query::run`) gives on the
//! events as sent, on the index's fast paths and on its general path alike; `top` and `rare` agree with
//! `GET /v1/events/terms`; a pipeline never counts another account's events; a query without stages answers
//! events as search does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{TestServer, event, poll};
use proptest::prelude::*;
use serde_json::{Value, json};

const QUERIES: [&str; 6] =
    ["", "action:user-apikey", "-outcome:failure", "reason.reasonCode:>=400", "tags:x OR severity:*", "message:a*a"];

/// Stages after the query: `{f}` and `{g}` stand for fields.
const PIPES: [&str; 12] = [
    "stats count by {f}",
    "stats count",
    "stats count by {f}, {g}",
    "stats count, count_distinct({g}), min(reason.reasonCode), max(reason.reasonCode) by {f}",
    "top 3 {f}",
    "rare 2 {f}",
    "timechart span=1h count",
    "timechart span=6h count by {f}",
    "timechart span=1d count by {f} | sort -count | head 5",
    "stats count by {f} | where count >= 3 | sort -count, {f}",
    "where reason.reasonCode > 300 | stats count by {f}",
    "fields id, {f} | sort id | head 7",
];

const FIELDS: [&str; 8] =
    ["action", "outcome", "reason.reasonCode", "tags", "requestData.region", "_platform", "_region", "no.such"];

const START: &str = "2026-11-10T00:00:00Z";
const SPAN_MINUTES: i64 = 3 * 24 * 60;
const MINUTE: i64 = 60_000_000_000;

fn corpus() -> Vec<Value> {
    let start = acta_cadf::parse_time(START).unwrap();
    let actions =
        ["iam-identity.user-apikey.create", "iam-identity.user-apikey.delete", "kms.secrets.read", "Kms.Secrets.Read"];
    let codes = [json!(200), json!("200"), json!(404), json!(500), json!("n/a")];
    let words = ["alpha", "area", "beta", "x", "y"];
    (0..200u64)
        .map(|n| {
            let minute = (n * 997) % SPAN_MINUTES as u64;
            let outcome = ["success", "failure", "Success"][(n % 3) as usize];
            let mut event = json!({
                "id": format!("p-{n:03}"),
                "eventTime": acta_cadf::format_time(start + minute as i64 * MINUTE + (n as i64 % 60) * 1_000_000_000),
                "action": actions[(n % 4) as usize],
                "outcome": outcome,
                "message": format!("{} {}", words[(n % 5) as usize], words[(n / 5 % 5) as usize]),
                "initiator": {"id": "IBMid-1", "name": "user@example.com"},
                "target": {"id": "t", "typeURI": "kms/secrets"},
                "reason": {"reasonCode": codes[(n % 5) as usize].clone()},
            });
            let object = event.as_object_mut().unwrap();
            if n % 3 == 0 {
                object.insert("tags".into(), json!([words[(n % 5) as usize], "x", words[(n / 3 % 5) as usize]]));
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

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        common::process_server(Duration::from_secs(60), |runtime, server| {
            runtime.block_on(async {
                let events = corpus();
                for (i, batch) in events.chunks(70).enumerate() {
                    let (status, answer) = server.send(batch).await;
                    assert_eq!(status, 200, "{answer}");
                    server.wait_searchable((70 * (i + 1)).min(events.len()) as u64).await;
                }
                Shared { url: server.url.clone(), events }
            })
        })
    })
}

fn get(url: &str, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let response = common::blocking_admin(reqwest::Method::GET, format!("{url}{path}")).query(params).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

/// The reference runner's table over the events as sent whose eventTime is in `from..to`, as the API's JSON.
fn expected(events: &[Value], text: &str, from: i64, to: i64) -> Value {
    let pipeline = acta_query::parse_pipeline(text).unwrap();
    let raws: Vec<String> = events.iter().map(Value::to_string).collect();
    let views = events.iter().zip(&raws).map(|(event, raw)| common::default_view(event, raw)).filter(|view| {
        let time = acta_cadf::parse_time(view.event["eventTime"].as_str().unwrap()).unwrap();
        time >= from && time < to
    });
    let table = acta_query::run(&pipeline, views, acta_query::PipeLimits::default()).unwrap();
    let columns: Vec<Value> =
        table.columns.iter().map(|column| json!({"name": column.name, "type": column.kind.name()})).collect();
    let mut answer = json!({"columns": columns, "rows": table.rows, "truncated": table.truncated});
    if let Some(acta_query::Aggregation::Timechart { span_ns, .. }) = &pipeline.aggregation {
        answer["span_seconds"] = json!(span_ns / 1_000_000_000);
    }
    answer
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_http_answer_is_the_reference_runners_table(
        q in proptest::sample::select(QUERIES.to_vec()),
        pipe in proptest::sample::select(PIPES.to_vec()),
        f in proptest::sample::select(FIELDS.to_vec()),
        g in proptest::sample::select(FIELDS.to_vec()),
        start in -60i64..SPAN_MINUTES,
        length in 1i64..SPAN_MINUTES,
        open_end in any::<bool>(),
    ) {
        let shared = shared();
        let base = acta_cadf::parse_time(START).unwrap();
        let from = base + start * MINUTE;
        // An open end covers every event after `from` (the corpus ends before now).
        let to = if open_end { i64::MAX } else { from + length * MINUTE };
        let text = format!("{q} | {}", pipe.replace("{f}", f).replace("{g}", g));
        let from_text = acta_cadf::format_time(from);
        let to_text = acta_cadf::format_time(to.min(base + 10 * 24 * 60 * MINUTE));
        let mut params = vec![("q", text.as_str()), ("from", from_text.as_str())];
        if !open_end {
            params.push(("to", to_text.as_str()));
        }
        let (status, answer) = get(&shared.url, "/v1/events/query", &params);
        prop_assert_eq!(status, 200, "{}: {}", text, answer);
        prop_assert_eq!(&answer, &expected(&shared.events, &text, from, to), "{}", text);
    }
}

#[test]
fn top_and_rare_agree_with_terms() {
    let shared = shared();
    for field in FIELDS {
        let (_, terms) = get(&shared.url, "/v1/events/terms", &[("field", field), ("top", "1000"), ("q", "kms")]);
        let mut values: Vec<(String, u64)> = terms["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|value| (value["value"].as_str().unwrap().to_string(), value["count"].as_u64().unwrap()))
            .collect();
        let rows = |values: &[(String, u64)]| -> Vec<Value> {
            values.iter().take(3).map(|(value, count)| json!([value, count])).collect()
        };
        let (status, top) = get(&shared.url, "/v1/events/query", &[("q", &format!("kms | top 3 {field}"))]);
        assert_eq!(status, 200, "{top}");
        assert_eq!(top["rows"], Value::Array(rows(&values)), "top 3 {field}");
        values.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let (_, rare) = get(&shared.url, "/v1/events/query", &[("q", &format!("kms | rare 3 {field}"))]);
        assert_eq!(rare["rows"], Value::Array(rows(&values)), "rare 3 {field}");
    }
}

#[test]
fn a_timechart_answer_says_how_wide_its_buckets_are() {
    let shared = shared();
    let (status, answer) =
        get(&shared.url, "/v1/events/query", &[("q", "kms | timechart span=6h count"), ("from", START)]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["span_seconds"], 21_600);
    let (_, stats) = get(&shared.url, "/v1/events/query", &[("q", "kms | stats count"), ("from", START)]);
    assert!(stats.get("span_seconds").is_none(), "{stats}");
}

#[test]
fn a_query_without_stages_answers_events_as_search_does() {
    let shared = shared();
    let params = [("q", "action:user-apikey"), ("from", START), ("limit", "5")];
    let (status, query) = get(&shared.url, "/v1/events/query", &params);
    assert_eq!(status, 200, "{query}");
    let (_, search) = get(&shared.url, "/v1/events", &params);
    assert_eq!(query, search);
    assert_eq!(query["events"].as_array().map(Vec::len), Some(5));
}

#[test]
fn a_bad_stage_is_a_syntax_error_with_its_column() {
    let shared = shared();
    let (status, answer) = get(&shared.url, "/v1/events/query", &[("q", "kms | stats count by action | median x")]);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "query_syntax");
    assert_eq!(answer["error"]["column"], 31);
    assert!(answer["error"]["message"].as_str().unwrap().starts_with("unknown stage 'median'"), "{answer}");
}

#[test]
fn event_rows_are_every_matching_event_below_the_row_limit() {
    let shared = shared();
    let (status, answer) = get(&shared.url, "/v1/events/query", &[("q", "| fields id"), ("from", START)]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["truncated"], false);
    assert_eq!(answer["rows"].as_array().map(Vec::len), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_never_counts_another_accounts_events() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let mut keys = Vec::new();
    for (id, events) in [("p-01", 3usize), ("p-02", 5)] {
        admin.create_account(id).await;
        let body = json!({"account": id, "name": "reader", "role": "reader", "principal": format!("auditor@{id}")});
        keys.push(admin.new_key(body).await.key.unwrap());
        let batch: Vec<Value> = (0..events)
            .map(|i| {
                event(
                    "kms.secrets.read",
                    json!({"id": format!("{id}-{i}"), "logSourceCRN": format!("crn:v1:bluemix:public:kms:global:a/{id}::")}),
                )
            })
            .collect();
        let (status, answer) = server.send(&batch).await;
        assert_eq!(status, 200, "{answer}");
    }
    let account_of = |expected: usize| if expected == 3 { "p-01" } else { "p-02" };
    for (key, expected) in keys.iter().zip([3usize, 5]) {
        let reader = server.with_key(key);
        let (status, answer) = poll(
            Duration::from_secs(20),
            Duration::from_millis(50),
            || reader.get_with("/v1/events/count", &[("q", "kms")]),
            |(_, answer)| answer["count"] == expected,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        for q in ["kms", "kms OR _account:*", "_account:p-01 OR _account:p-02 OR kms", "-kms"] {
            let (_, count) = reader.get_with("/v1/events/count", &[("q", q)]).await;
            let (status, answer) = reader.get_with("/v1/events/query", &[("q", &format!("{q} | stats count"))]).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["rows"], json!([[count["count"]]]), "{q}");
            let text = format!("{q} | stats count by _account");
            let (_, answer) = reader.get_with("/v1/events/query", &[("q", &text)]).await;
            let accounts: Vec<&Value> = answer["rows"].as_array().unwrap().iter().map(|row| &row[0]).collect();
            assert!(accounts.iter().all(|account| **account == json!(account_of(expected))), "{text}: {answer}");
        }
        let (_, answer) =
            reader.get_with("/v1/events/query", &[("q", "kms | stats count, count_distinct(id) by _account")]).await;
        assert_eq!(answer["rows"], json!([[account_of(expected), expected, expected]]), "{answer}");
    }
}
