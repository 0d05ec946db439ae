//! The index answers every query exactly as the reference evaluator does: random events, random queries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{ADMIN_KEY, expected_ids};
use proptest::prelude::*;
use serde_json::{Value, json};

const WORDS: [&str; 12] =
    ["alpha", "beta", "apikey", "user", "delete", "Zürich", "failure", "kms", "secrets", "NotSet", "cli", "42"];
const FIELDS: [&str; 13] = [
    "action",
    "outcome",
    "message",
    "initiator.host.agent",
    "initiator.name",
    "reason.reasonCode",
    "target.typeURI",
    "requestData.region",
    "tags",
    "severity",
    "level",
    "_platform",
    "no.such.field",
];

/// A deterministic xorshift generator, so the corpus is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn corpus() -> Vec<Value> {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let actions = [
        "iam-identity.user-apikey.create",
        "iam-identity.user-apikey.update",
        "iam-identity.user-apikey.delete",
        "iam-identity.user-apikey.login",
        "kms.secrets.create",
        "cloud-object-storage.object.read",
        "iam-groups.group.read",
    ];
    let agents = ["NotSet", "IBM Cloud CLI", "Acta web console", "Acta CLI/0.1.0", "curl/8.1"];
    let codes =
        [json!(200), json!(201), json!(404), json!(409), json!("200"), json!("404"), json!("n/a"), json!(4.5e2)];
    (0..400)
        .map(|n| {
            let words: Vec<&str> = (0..1 + rng.next() % 4).map(|_| *rng.pick(&WORDS)).collect();
            let mut event = json!({
                "id": format!("ev-{n}"),
                "eventTime": format!("2026-11-{:02}T{:02}:{:02}:00Z", 10 + n % 10, n % 24, n % 60),
                "action": rng.pick(&actions),
                "outcome": if rng.next().is_multiple_of(4) { "failure" } else { "success" },
                "message": words.join(" "),
                "initiator": {"id": format!("u{}", rng.next() % 7), "name": rng.pick(&WORDS).to_string(),
                              "host": {"agent": rng.pick(&agents)}},
                "target": {"id": "t", "typeURI": if rng.next().is_multiple_of(2) { "kms/secrets" } else { "iam-identity/user-apikey" }},
                "reason": {"reasonCode": rng.pick(&codes)},
            });
            let object = event.as_object_mut().unwrap();
            if rng.next().is_multiple_of(3) {
                object.insert("severity".into(), json!(if rng.next().is_multiple_of(2) { "critical" } else { "normal" }));
            }
            if rng.next().is_multiple_of(3) {
                let region = *rng.pick(&["us-south", "eu-de", "Zürich"]);
                object.insert("requestData".into(), json!(json!({"region": region, "n": rng.next() % 500}).to_string()));
            }
            if rng.next().is_multiple_of(3) {
                let tags: Vec<&str> = (0..rng.next() % 3).map(|_| *rng.pick(&WORDS)).collect();
                object.insert("tags".into(), json!(tags));
            }
            if rng.next().is_multiple_of(5) {
                object.insert("severity".into(), Value::Null);
            }
            event
        })
        .collect()
}

struct Shared {
    url: String,
    events: Vec<Value>,
}

/// One server with the corpus, shared by every case.
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let server = common::TestServer::start().await;
                let events = corpus();
                let (status, answer) = server.send(&events).await;
                assert_eq!(status, 200, "{answer}");
                assert_eq!(answer["accepted"], 400, "{answer}");
                server.wait_searchable(400).await;
                sender.send(Shared { url: server.url.clone(), events }).unwrap();
                // Keep serving until the test process ends.
                std::future::pending::<()>().await;
                drop(server);
            });
        });
        receiver.recv_timeout(Duration::from_secs(60)).expect("server with corpus")
    })
}

fn search_ids(url: &str, q: &str) -> Vec<String> {
    let client = reqwest::blocking::Client::new();
    let answer: Value = client
        .get(format!("{url}/v1/events"))
        .bearer_auth(ADMIN_KEY)
        .query(&[("q", q), ("limit", "1000")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut ids: Vec<String> = answer["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: {answer}"))
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn count(url: &str, q: &str) -> u64 {
    let client = reqwest::blocking::Client::new();
    let answer: Value = client
        .get(format!("{url}/v1/events/count"))
        .bearer_auth(ADMIN_KEY)
        .query(&[("q", q)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    answer["count"].as_u64().unwrap_or_else(|| panic!("{q}: {answer}"))
}

fn term() -> impl Strategy<Value = String> {
    let word = proptest::sample::select(WORDS.to_vec()).prop_map(str::to_string);
    let field = proptest::sample::select(FIELDS.to_vec());
    let prefix = word.clone().prop_map(|w| w.chars().take(3).collect::<String>());
    prop_oneof![
        word.clone(),
        prefix.clone(),
        prefix.clone().prop_map(|p| format!("{p}*")),
        (word.clone(), word.clone()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        (word.clone(), prefix.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
        (field.clone(), word.clone()).prop_map(|(f, w)| format!("{f}:{w}")),
        (field.clone(), prefix.clone()).prop_map(|(f, p)| format!("{f}:{p}")),
        (field.clone(), word.clone()).prop_map(|(f, w)| format!("{f}:=={w}")),
        (field.clone(), word.clone()).prop_map(|(f, w)| format!("{f}:==={w}")),
        (field.clone(), prefix.clone()).prop_map(|(f, p)| format!("{f}:={p}")),
        field.clone().prop_map(|f| format!("{f}:*")),
        (field.clone(), 0u32..600).prop_map(|(f, n)| format!("{f}:>={n}")),
        (field.clone(), 0u32..600, 0u32..600).prop_map(|(f, a, b)| format!("{f}:(>{a} <={b} -404)")),
        (field.clone(), word.clone(), word.clone()).prop_map(|(f, a, b)| format!("{f}:[{a},{b}]")),
        (field.clone(), word.clone(), word.clone()).prop_map(|(f, a, b)| format!("{f}:==[{a},{b}]")),
        Just("_platform:==iam-identity".to_string()),
        Just("target.typeURI_str:kms/secrets".to_string()),
        Just("initiator.host.agent:\"IBM Cloud CLI\"".to_string()),
        Just("iam-identity.user-apikey.".to_string()),
        Just("us*th".to_string()),
        Just("message:a*a".to_string()),
        Just("_account:==default".to_string()),
        Just("_region:eu".to_string()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    term().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|q| format!("-({q})")),
            inner.clone().prop_map(|q| format!("NOT {q}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("{a} {b} OR -{c}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn search_and_count_equal_the_reference_evaluator(q in query()) {
        prop_assume!(acta_query::parse(&q).is_ok());
        let shared = shared();
        let expected = expected_ids(&q, &shared.events);
        prop_assert_eq!(search_ids(&shared.url, &q), expected.clone(), "search of {}", q);
        prop_assert_eq!(count(&shared.url, &q), expected.len() as u64, "count of {}", q);
    }
}

#[test]
fn the_corpus_makes_queries_select_something() {
    // Guards the property above against a corpus on which every query trivially selects nothing.
    let shared = shared();
    for q in ["kms", "reason.reasonCode:>=400", "requestData.region:==Zürich", "tags:*", "level:critical"] {
        let expected = expected_ids(q, &shared.events);
        assert!(!expected.is_empty() && expected.len() < 400, "{q} selects {}", expected.len());
        assert_eq!(search_ids(&shared.url, q), expected, "{q}");
    }
}
