//! The index answers every query exactly as the reference evaluator does: random events spread over many
//! accounts and instances that share one index partition, random queries, each run in one account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::blocking_admin;
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

/// The accounts the corpus is spread over; each has a global instance and one per region of [`REGIONS`].
const ACCOUNTS: [&str; 8] = ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"];
const REGIONS: [&str; 2] = ["eu-de", "us-south"];

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
            // Routed by the platform admin key: the account named, and its instance of the region (a region it
            // has no instance in, and `global`, go to its global instance).
            let region = *rng.pick(&["eu-de", "us-south", "global", "jp-tok"]);
            let crn = format!("crn:v1:bluemix:public:kms:{region}:a/{}::", ACCOUNTS[n % ACCOUNTS.len()]);
            object.insert("logSourceCRN".into(), json!(crn));
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
    /// Per account, every event it holds (the corpus's and Acta's own audit events of the set-up) as stored.
    stored: Vec<(String, Vec<Stored>)>,
}

/// An event as the account holds it, with where it is stored.
struct Stored {
    id: String,
    raw: String,
    event: Value,
    instance: String,
    region: String,
    received: String,
}

/// One server with the corpus, shared by every case.
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        common::process_server(Duration::from_secs(120), |_, server| {
            let url = server.url.clone();
            let stored = load(&url);
            Shared { url, stored }
        })
    })
}

/// Creates the accounts and instances, sends the corpus, and reads back what each account holds.
fn load(url: &str) -> Vec<(String, Vec<Stored>)> {
    for account in ACCOUNTS {
        let body = json!({"id": account, "name": format!("Account {account}")});
        let answer = blocking_admin(reqwest::Method::POST, format!("{url}/v1/accounts")).json(&body).send().unwrap();
        assert_eq!(answer.status(), 201, "{}", answer.text().unwrap());
        for region in REGIONS {
            let body = json!({"account": account, "name": region, "region": region});
            let answer =
                blocking_admin(reqwest::Method::POST, format!("{url}/v1/instances")).json(&body).send().unwrap();
            assert_eq!(answer.status(), 201, "{}", answer.text().unwrap());
        }
    }
    let events = corpus();
    let body: String = events.iter().map(|event| format!("{event}\n")).collect();
    let answer: Value = blocking_admin(reqwest::Method::POST, format!("{url}/v1/events"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(answer["accepted"], events.len(), "{answer}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ACCOUNTS.iter().map(|account| count(url, "", account)).sum::<u64>() < events.len() as u64 {
        assert!(std::time::Instant::now() < deadline, "the corpus did not become searchable");
        std::thread::sleep(Duration::from_millis(50));
    }
    ACCOUNTS
        .iter()
        .map(|account| {
            let held = search(url, "", account);
            for event in &held {
                assert_eq!(event["_acta"]["account"], *account, "another account's event: {event}");
            }
            let corpus_ids: Vec<&str> = events
                .iter()
                .enumerate()
                .filter(|(n, _)| ACCOUNTS[n % ACCOUNTS.len()] == *account)
                .map(|(_, event)| event["id"].as_str().unwrap())
                .collect();
            let held_ids: Vec<&str> = held.iter().filter_map(|event| event["id"].as_str()).collect();
            for id in &corpus_ids {
                assert!(held_ids.contains(id), "{account} lacks its event {id}");
            }
            let stored = held.into_iter().map(stored).collect();
            (account.to_string(), stored)
        })
        .collect()
}

/// An answer's event as it was stored: the answer without `_acta`, whose members say where it is stored.
fn stored(mut answer: Value) -> Stored {
    let acta = answer.as_object_mut().unwrap().remove("_acta").unwrap();
    let text = |key: &str| acta[key].as_str().unwrap_or_default().to_string();
    Stored {
        id: text("id"),
        raw: answer.to_string(),
        event: answer,
        instance: text("instance"),
        region: text("region"),
        received: text("received"),
    }
}

/// What the reference evaluator selects of an account's events, by id.
fn expected(q: &str, stored: &[Stored], account: &str) -> Vec<String> {
    let query = acta_query::parse(q).unwrap_or_else(|error| panic!("{q}: {error}"));
    let mut ids: Vec<String> = stored
        .iter()
        .filter(|event| {
            let view = acta_query::EventView {
                raw: &event.raw,
                event: &event.event,
                account,
                instance: &event.instance,
                region: &event.region,
                received: &event.received,
            };
            acta_query::matches(&query, &view)
        })
        .map(|event| event.id.clone())
        .collect();
    ids.sort();
    ids
}

fn search(url: &str, q: &str, account: &str) -> Vec<Value> {
    let answer: Value = blocking_admin(reqwest::Method::GET, format!("{url}/v1/events"))
        .query(&[("q", q), ("limit", "1000"), ("account", account)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(answer["next_cursor"].is_null(), "more than one page: {q}");
    answer["events"].as_array().unwrap_or_else(|| panic!("{q}: {answer}")).clone()
}

fn search_ids(url: &str, q: &str, account: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        search(url, q, account).iter().map(|event| event["_acta"]["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

fn count(url: &str, q: &str, account: &str) -> u64 {
    let answer: Value = blocking_admin(reqwest::Method::GET, format!("{url}/v1/events/count"))
        .query(&[("q", q), ("account", account)])
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
        // Kibana and Lucene forms, which Acta reads with their meaning there.
        (field.clone(), word.clone(), word.clone()).prop_map(|(f, a, b)| format!("{f}:({a} OR {b})")),
        (field.clone(), word.clone()).prop_map(|(f, w)| format!("{f}: {w}")),
        (field.clone(), word.clone(), prefix.clone()).prop_map(|(f, a, b)| format!("{f}:({a} AND NOT {b}*)")),
        (field.clone(), word.clone(), word.clone()).prop_map(|(f, a, b)| format!("{f}:(\"{a} {b}\" or -{b})")),
        (field.clone(), proptest::sample::select(vec![">=", ">", "<", "<="]), 0u32..600)
            .prop_map(|(f, op, n)| format!("{f}{op}{n}")),
        (field.clone(), 0u32..600).prop_map(|(f, n)| format!("{f} < {n}")),
        field.clone().prop_map(|f| format!("_exists_:{f}")),
        field.clone().prop_map(|f| format!("_missing_:{f}")),
        (field.clone(), 0u32..600, 0u32..600).prop_map(|(f, a, b)| format!("{f}:[{a} TO {b}}}")),
        (field.clone(), 0u32..600).prop_map(|(f, a)| format!("{f}:{{{a} TO *]")),
        Just("_platform:==iam-identity".to_string()),
        Just("target.typeURI_str:kms/secrets".to_string()),
        Just("initiator.host.agent:\"IBM Cloud CLI\"".to_string()),
        Just("iam-identity.user-apikey.".to_string()),
        Just("us*th".to_string()),
        Just("message:a*a".to_string()),
        Just("_account:==default".to_string()),
        Just("_account:==a3".to_string()),
        Just("_account:a*".to_string()),
        Just("_account:*".to_string()),
        Just("_instance:*".to_string()),
        Just("_region:eu".to_string()),
        Just("_region:==global".to_string()),
        Just("_region:us-south".to_string()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    term().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|q| format!("-({q})")),
            inner.clone().prop_map(|q| format!("NOT {q}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.clone().prop_map(|q| format!("not ({q})")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("{a} {b} OR -{c}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn search_and_count_equal_the_reference_evaluator_in_every_account(
        q in query(),
        account in proptest::sample::select(ACCOUNTS.to_vec()),
    ) {
        prop_assume!(acta_query::parse(&q).is_ok());
        let shared = shared();
        let stored = &shared.stored.iter().find(|(name, _)| name == account).unwrap().1;
        let expected = expected(&q, stored, account);
        prop_assert_eq!(search_ids(&shared.url, &q, account), expected.clone(), "search of {} in {}", q, account);
        prop_assert_eq!(count(&shared.url, &q, account), expected.len() as u64, "count of {} in {}", q, account);
    }
}

#[test]
fn the_corpus_makes_queries_select_something() {
    // Guards the property above against a corpus on which every query trivially selects nothing.
    let shared = shared();
    for (account, stored) in &shared.stored {
        for q in ["kms", "reason.reasonCode:>=400", "tags:*", "level:critical", "_region:==eu-de", "_region:==global"] {
            let expected = expected(q, stored, account);
            assert!(
                !expected.is_empty() && expected.len() < stored.len(),
                "{q} selects {} in {account}",
                expected.len()
            );
            assert_eq!(search_ids(&shared.url, q, account), expected, "{q} in {account}");
        }
    }
}
