//! The store's one write path, `Store::accept`: where each event goes, what is a duplicate, and what the live
//! followers are told.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use acta_cadf::{BodyFormat, Options};
use acta_store::{Account, Batch, Day, Destination, EventOutcome, IngestError, Instance, Store, StoreOptions};

const NOW: i64 = 1_780_000_000_000_000_000;

fn instance(id: &str, account: &str, region: &str, global: bool) -> Instance {
    Instance {
        id: id.into(),
        account: account.into(),
        name: id.into(),
        region: region.into(),
        retention_days: 30,
        global,
        strict: false,
        created_at: "2026-12-05T10:00:00Z".into(),
    }
}

/// A store with account `acme` (instances `acme-global` and `acme-eu` in eu-de) and account `globex`
/// (instance `globex-global`).
async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).await.unwrap();
    for account in ["acme", "globex"] {
        let created_at = "2026-12-05T10:00:00Z".to_string();
        store.meta().create_account(&Account { id: account.into(), name: account.into(), created_at }).await.unwrap();
    }
    for instance in [
        instance("acme-global", "acme", "global", true),
        instance("acme-eu", "acme", "eu-de", false),
        instance("globex-global", "globex", "global", true),
    ] {
        store.meta().create_instance(&instance).await.unwrap();
    }
    (dir, store)
}

/// A batch of events, each `(id, logSourceCRN)`.
fn events(events: &[(&str, &str)]) -> Vec<acta_store::Parsed> {
    let body: Vec<String> = events
        .iter()
        .map(|(id, crn)| {
            format!(
                r#"{{"id":"{id}","eventTime":"2026-05-28T12:00:00Z","action":"kms.secrets.read","outcome":"success","logSourceCRN":"{crn}","initiator":{{"id":"u"}},"target":{{"id":"t"}}}}"#
            )
        })
        .collect();
    acta_cadf::parse_batch(format!("[{}]", body.join(",")).as_bytes(), BodyFormat::Json, &Options::default(), NOW)
        .unwrap()
}

fn to(account: &str) -> Destination {
    Destination::Account { account: account.into(), fallback_instance: None }
}

async fn accept(store: &Store, events: Vec<acta_store::Parsed>, destination: Destination) -> Vec<EventOutcome> {
    store.accept(Batch { events, destination, now: NOW }).await.unwrap().results
}

fn stored(id: &str) -> EventOutcome {
    EventOutcome::Stored { id: id.into(), id_reused: false }
}

#[tokio::test]
async fn events_go_to_the_instance_of_their_region_and_global_ones_to_the_global_instance() {
    let (_dir, store) = store().await;
    let batch = events(&[
        ("e1", "crn:v1:bluemix:public:kms:eu-de:a/acme::"),
        ("e2", "crn:v1:bluemix:public:iam:global:a/acme::"),
        ("e3", "crn:v1:bluemix:public:kms:us-south:a/acme::"),
    ]);
    assert_eq!(accept(&store, batch, to("acme")).await, [stored("e1"), stored("e2"), stored("e3")]);
    assert_eq!(store.log().last_seq("acme-eu"), 1, "e1 in eu-de");
    assert_eq!(store.log().last_seq("acme-global"), 2, "e2 (global) and e3 (a region without an instance)");
}

#[tokio::test]
async fn an_event_stored_in_one_instance_is_a_duplicate_in_every_instance_of_its_account_only() {
    let (_dir, store) = store().await;
    let first = events(&[("same", "crn:v1:bluemix:public:kms:eu-de:a/acme::")]);
    assert_eq!(accept(&store, first, to("acme")).await, [stored("same")]);
    let global = store.meta().instances("acme").await.unwrap().into_iter().find(|i| i.global).unwrap();
    let again = events(&[("same", "crn:v1:bluemix:public:kms:eu-de:a/acme::")]);
    let into_global = accept(&store, again, Destination::Instance(global)).await;
    assert_eq!(into_global, [EventOutcome::Duplicate { id: "same".into() }]);
    let other_account = events(&[("same", "crn:v1:bluemix:public:kms:eu-de:a/acme::")]);
    assert_eq!(accept(&store, other_account, to("globex")).await, [stored("same")]);
}

/// Parses one event written as JSON text.
fn event(text: &str) -> Vec<acta_store::Parsed> {
    acta_cadf::parse_batch(text.as_bytes(), BodyFormat::Json, &Options::default(), NOW).unwrap()
}

/// keystonemiddleware's request and response of one API call: the same id, `pending` then the outcome.
const REQUEST: &str = r#"{"id":"call-1","eventTime":"2026-05-28T12:00:00Z","action":"delete","outcome":"pending","initiator":{"id":"u"},"target":{"id":"t"}}"#;
const RESPONSE: &str = r#"{"id":"call-1","eventTime":"2026-05-28T12:00:01Z","action":"delete","outcome":"success","initiator":{"id":"u"},"target":{"id":"t"},"reason":{"reasonCode":"204"}}"#;

#[tokio::test]
async fn the_same_id_with_other_content_is_stored_and_said_to_reuse_its_id() {
    let (_dir, store) = store().await;
    assert_eq!(accept(&store, event(REQUEST), to("acme")).await, [stored("call-1")]);
    let response = accept(&store, event(RESPONSE), to("acme")).await;
    assert_eq!(response, [EventOutcome::Stored { id: "call-1".into(), id_reused: true }]);
    assert_eq!(store.log().last_seq("acme-global"), 2, "the request and its outcome are both stored");
}

#[tokio::test]
async fn a_request_and_its_response_sent_again_are_both_duplicates() {
    let (_dir, store) = store().await;
    let pair = format!("[{REQUEST},{RESPONSE}]");
    let first = accept(&store, event(&pair), to("acme")).await;
    assert_eq!(first, [stored("call-1"), EventOutcome::Stored { id: "call-1".into(), id_reused: true }]);
    assert!(store.index().wait_caught_up(std::time::Duration::from_secs(30)), "indexed");
    let again = accept(&store, event(&pair), to("acme")).await;
    let duplicate = EventOutcome::Duplicate { id: "call-1".into() };
    assert_eq!(again, [duplicate.clone(), duplicate]);
    assert_eq!(store.log().last_seq("acme-global"), 2);
}

#[tokio::test]
async fn the_same_content_with_members_in_another_order_and_spacing_is_a_duplicate() {
    let (_dir, store) = store().await;
    assert_eq!(accept(&store, event(REQUEST), to("acme")).await, [stored("call-1")]);
    let reordered = r#"{ "target": {"id": "t"}, "initiator": {"id": "u"}, "outcome": "pending", "action": "delete",
        "eventTime": "2026-05-28T12:00:00Z", "id": "call-1" }"#;
    assert_eq!(accept(&store, event(reordered), to("acme")).await, [EventOutcome::Duplicate { id: "call-1".into() }]);
}

#[tokio::test]
async fn actas_own_event_with_a_stored_id_is_not_stored_again_whatever_its_content() {
    let (_dir, store) = store().await;
    let own = |time: &str| {
        serde_json::json!({"id": "acta-own-1", "eventTime": time, "action": "acta.retention.delete",
            "outcome": "success", "initiator": {"id": "acta"}, "target": {"id": "acme-global"}})
    };
    store.accept_own("acme", &own("2026-05-28T12:00:00Z"), NOW).await.unwrap();
    store.accept_own("acme", &own("2026-05-28T12:05:00Z"), NOW).await.unwrap();
    assert_eq!(store.log().last_seq("acme-global"), 1, "a job repeated after a crash adds nothing");
}

#[tokio::test]
async fn a_log_source_crn_that_is_not_a_crn_is_rejected_rather_than_filed_in_the_default_account() {
    let (_dir, store) = store().await;
    let batch = events(&[("e1", "acme/eu-de/kms"), ("e2", "crn:v1:bluemix:public:kms:global:a/acme::")]);
    let outcome = store.accept(Batch { events: batch, destination: Destination::LogSource, now: NOW }).await.unwrap();
    assert_eq!((outcome.accepted, outcome.rejected), (1, 1));
    let EventOutcome::Rejected(problems) = &outcome.results[0] else { panic!("{outcome:?}") };
    assert_eq!(problems[0].pointer, "/logSourceCRN");
    assert!(problems[0].message.contains("\"acme/eu-de/kms\" is not a CRN"), "{problems:?}");
}

#[tokio::test]
async fn an_unknown_account_named_by_the_writer_refuses_the_batch_and_nothing_is_stored() {
    let (_dir, store) = store().await;
    let batch = events(&[("e1", "crn:v1:bluemix:public:kms:global:a/acme::")]);
    let refused = store.accept(Batch { events: batch, destination: to("initech"), now: NOW }).await;
    assert!(matches!(refused, Err(IngestError::UnknownAccount(account)) if account == "initech"));
    assert_eq!(store.log().last_seq("acme-global"), 0);
}

#[tokio::test]
async fn by_log_source_each_event_goes_to_its_account_and_an_unknown_one_is_rejected_alone() {
    let (_dir, store) = store().await;
    let batch = events(&[
        ("e1", "crn:v1:bluemix:public:kms:global:a/globex::"),
        ("e2", "crn:v1:bluemix:public:kms:global:a/initech::"),
        ("e3", "crn:v1:bluemix:public:kms:global:a/acme::"),
    ]);
    let outcome = store.accept(Batch { events: batch, destination: Destination::LogSource, now: NOW }).await.unwrap();
    assert_eq!((outcome.accepted, outcome.rejected), (2, 1));
    let EventOutcome::Rejected(problems) = &outcome.results[1] else { panic!("{outcome:?}") };
    assert_eq!(problems[0].pointer, "/logSourceCRN");
    assert!(problems[0].message.contains("initech, which does not exist"), "{problems:?}");
    assert_eq!((store.log().last_seq("globex-global"), store.log().last_seq("acme-global")), (1, 1));
}

#[tokio::test]
async fn a_followed_event_is_already_durable_in_the_log() {
    let (_dir, store) = store().await;
    let mut live = store.publisher().subscribe();
    let batch = events(&[("e1", "crn:v1:bluemix:public:kms:eu-de:a/acme::")]);
    assert_eq!(accept(&store, batch, to("acme")).await, [stored("e1")]);
    let published = live.try_recv().expect("published once stored");
    assert_eq!(
        (published.account.as_str(), published.instance.as_str(), published.region.as_str()),
        ("acme", "acme-eu", "eu-de")
    );
    let record = store.log().read("acme-eu", Day::from_ns(published.received_ns), published.seq).unwrap();
    assert_eq!(record.event, published.raw.as_bytes(), "the bytes as received");
    assert!(live.try_recv().is_err(), "one event, one publication");
}

#[tokio::test]
async fn a_duplicate_is_not_published() {
    let (_dir, store) = store().await;
    accept(&store, events(&[("e1", "crn:v1:bluemix:public:kms:global:a/acme::")]), to("acme")).await;
    let mut live = store.publisher().subscribe();
    let again = accept(&store, events(&[("e1", "crn:v1:bluemix:public:kms:global:a/acme::")]), to("acme")).await;
    assert!(matches!(again.as_slice(), [EventOutcome::Duplicate { .. }]));
    assert!(live.try_recv().is_err());
}
