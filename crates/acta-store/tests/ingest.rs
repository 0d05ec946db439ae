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
    EventOutcome::Stored { id: id.into() }
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
async fn an_id_stored_in_one_instance_is_a_duplicate_in_every_instance_of_its_account_only() {
    let (_dir, store) = store().await;
    let first = events(&[("same", "crn:v1:bluemix:public:kms:eu-de:a/acme::")]);
    assert_eq!(accept(&store, first, to("acme")).await, [stored("same")]);
    let again = events(&[("same", "crn:v1:bluemix:public:kms:global:a/acme::")]);
    assert_eq!(accept(&store, again, to("acme")).await, [EventOutcome::Duplicate { id: "same".into() }]);
    let other_account = events(&[("same", "crn:v1:bluemix:public:kms:global:a/globex::")]);
    assert_eq!(accept(&store, other_account, to("globex")).await, [stored("same")]);
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
