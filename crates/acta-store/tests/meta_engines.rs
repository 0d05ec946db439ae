//! What the two metadata engines could answer differently, held equal: the upserts (a route's cursor never goes
//! back, an archive's configuration is replaced only by its own account, a confirmed segment is replaced whole),
//! a window firing once while test firings are not limited, the outbox and its attempts (an identity column on
//! PostgreSQL, AUTOINCREMENT on SQLite), unique names giving `Conflict`, flags and `NULL`s read back as written,
//! the order of lists, and no account reaching another's objects by id. Each test runs on SQLite and on
//! PostgreSQL (`meta_util`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_util;
#[macro_use]
mod meta_util;

use acta_store::pglog::{PgLog, PgLogOptions};
use acta_store::sessions::{ABSOLUTE_NS, IDLE_NS, TOUCH_AFTER_NS};
use acta_store::{
    Account, Alert, ApiKey, ArchivedSegment, AttemptOutcome, ConsoleSession, Instance, Meta, MetaError, NewFiring,
    Route, View,
};
use serde_json::json;

on_both_engines!(
    unique_names_are_conflicts_in_an_account_only,
    another_accounts_id_finds_and_changes_nothing,
    flags_and_nulls_read_back_as_written,
    lists_sort_the_same_on_both_engines,
    a_route_cursor_never_goes_back_and_goes_with_its_route,
    an_archive_is_replaced_only_by_its_own_account,
    a_confirmed_segment_is_replaced_whole,
    a_window_fires_once_and_test_firings_are_not_limited,
    attempts_are_kept_in_order_and_move_the_outbox_on,
    an_alert_mark_never_goes_back,
    the_full_count_mark_stays_when_a_run_is_not_full,
    a_session_used_within_its_idle_time_lives_until_its_lifetime_ends,
    a_session_left_idle_ends_and_is_deleted_when_presented,
    a_sessions_last_seen_time_is_written_only_once_it_is_a_minute_old,
    an_unknown_token_is_no_session,
    an_ended_session_is_no_session,
    sign_in_sweeps_expired_sessions_never_presented_again,
    the_session_cap_counts_only_live_sessions,
    deleting_a_key_deletes_its_sessions,
);
on_both_engines!(multi_thread: a_window_fired_by_several_nodes_at_once_fires_once);

const NOW: &str = "2026-12-07T00:00:00Z";

fn account(id: &str) -> Account {
    Account { id: id.to_string(), name: format!("{id} inc"), created_at: NOW.to_string() }
}

async fn with_accounts(meta: &Meta, ids: &[&str]) {
    for id in ids {
        meta.create_account(&account(id)).await.unwrap();
    }
}

fn instance(id: &str, account: &str, name: &str) -> Instance {
    Instance {
        id: id.to_string(),
        account: account.to_string(),
        name: name.to_string(),
        region: "eu-de".to_string(),
        retention_days: 30,
        global: true,
        strict: false,
        created_at: NOW.to_string(),
    }
}

fn key(id: &str, account: &str, principal: &str) -> ApiKey {
    ApiKey {
        id: id.to_string(),
        account: Some(account.to_string()),
        instance: None,
        name: format!("key {id}"),
        description: String::new(),
        role: "reader".to_string(),
        created_at: NOW.to_string(),
        created_by: None,
        expires_at: None,
        locked: false,
        last_used_at: None,
        principal: principal.to_string(),
        secret_hash: "00".repeat(32),
    }
}

fn view(id: &str, account: &str, name: &str, category: Option<&str>) -> View {
    View {
        id: id.to_string(),
        account: account.to_string(),
        name: name.to_string(),
        query: "action:a.delete".to_string(),
        category: category.map(str::to_string),
        from: None,
        to: Some("now".to_string()),
        created_at: NOW.to_string(),
        updated_at: NOW.to_string(),
    }
}

fn alert(id: &str, account: &str, view: &str) -> Alert {
    Alert {
        id: id.to_string(),
        account: account.to_string(),
        view: view.to_string(),
        name: format!("alert {id}"),
        kind: "presence".to_string(),
        threshold: 1,
        window_secs: 60,
        immediate: true,
        at_end: false,
        channels: json!([{"type": "webhook", "url": "https://example.com/hook"}]),
        timezone: "UTC".to_string(),
        muted_until: None,
        anchor_ns: 0,
        evaluated_until_ns: 0,
        created_at: NOW.to_string(),
        updated_at: NOW.to_string(),
    }
}

fn route(id: &str, account: &str, name: &str) -> Route {
    Route {
        id: id.to_string(),
        account: account.to_string(),
        name: name.to_string(),
        query: None,
        destination: json!({"type": "webhook", "url": "https://example.com/events"}),
        enabled: false,
        created_at: NOW.to_string(),
        updated_at: NOW.to_string(),
    }
}

fn firing(id: &str, alert: &str, window: Option<(i64, i64)>, deliveries: &[&str]) -> NewFiring {
    NewFiring {
        id: id.to_string(),
        alert: alert.to_string(),
        account: "acme".to_string(),
        reason: if window.is_some() { "at_end" } else { "test" }.to_string(),
        window,
        count: 3,
        muted: false,
        fired_at: NOW.to_string(),
        message: json!({"count": 3}),
        deliveries: deliveries.iter().map(|id| (id.to_string(), json!({"type": "webhook"}))).collect(),
        due_ns: 1_000,
    }
}

fn conflict<T: std::fmt::Debug>(result: Result<T, MetaError>) -> bool {
    matches!(result, Err(MetaError::Conflict(_)))
}

async fn unique_names_are_conflicts_in_an_account_only(meta: Meta) {
    with_accounts(&meta, &["acme", "globex"]).await;
    let mut same_name = account("other");
    same_name.name = "acme inc".to_string();
    assert!(conflict(meta.create_account(&same_name).await), "account names are unique");

    meta.create_instance(&instance("i1", "acme", "prod")).await.unwrap();
    assert!(conflict(meta.create_instance(&instance("i2", "acme", "prod")).await));
    meta.create_instance(&instance("i3", "globex", "prod")).await.unwrap();
    meta.create_instance(&instance("i4", "acme", "test")).await.unwrap();
    assert!(conflict(meta.update_instance(&instance("i4", "acme", "prod")).await), "a rename onto a taken name");

    meta.create_view(&view("v1", "acme", "deletions", None)).await.unwrap();
    assert!(conflict(meta.create_view(&view("v2", "acme", "deletions", None)).await));
    meta.create_view(&view("v3", "globex", "deletions", None)).await.unwrap();

    meta.create_route(&route("r1", "acme", "siem"), &[]).await.unwrap();
    assert!(conflict(meta.create_route(&route("r2", "acme", "siem"), &[("i1".to_string(), 5)]).await));
    assert!(meta.route("acme", "r2").await.unwrap().is_none(), "a refused route leaves nothing");
    assert!(meta.route_cursors("r2").await.unwrap().is_empty(), "nor its cursors");
    meta.create_route(&route("r3", "globex", "siem"), &[]).await.unwrap();

    // The conflict is a rollback, not a poisoned connection: the next write succeeds.
    meta.create_view(&view("v4", "acme", "logins", None)).await.unwrap();
}

async fn another_accounts_id_finds_and_changes_nothing(meta: Meta) {
    with_accounts(&meta, &["acme", "globex"]).await;
    meta.create_instance(&instance("i1", "acme", "prod")).await.unwrap();
    meta.create_key(&key("k1", "acme", "alice")).await.unwrap();
    meta.create_view(&view("v1", "acme", "deletions", None)).await.unwrap();
    meta.create_alert(&alert("a1", "acme", "v1")).await.unwrap();
    meta.create_route(&route("r1", "acme", "siem"), &[]).await.unwrap();
    meta.set_archive("acme", "i1", "{}", NOW).await.unwrap();

    assert!(meta.instance("globex", "i1").await.unwrap().is_none());
    assert!(meta.key("globex", "k1").await.unwrap().is_none());
    assert!(meta.view("globex", "v1").await.unwrap().is_none());
    assert!(meta.alert("globex", "a1").await.unwrap().is_none());
    assert!(meta.route("globex", "r1").await.unwrap().is_none());
    assert!(meta.archive("globex", "i1").await.unwrap().is_none());
    assert!(meta.instances("globex").await.unwrap().is_empty());
    assert!(meta.keys("globex", None).await.unwrap().is_empty());
    assert!(meta.views("globex", None).await.unwrap().is_empty());
    assert!(meta.alerts("globex").await.unwrap().is_empty());
    assert!(meta.routes("globex").await.unwrap().is_empty());

    meta.update_key("globex", "k1", "stolen", "").await.unwrap();
    meta.set_key_locked("globex", "k1", true).await.unwrap();
    meta.delete_key("globex", "k1").await.unwrap();
    let k1 = meta.key("acme", "k1").await.unwrap().unwrap();
    assert_eq!((k1.name.as_str(), k1.locked), ("key k1", false));
    meta.delete_view("globex", "v1").await.unwrap();
    meta.delete_alert("globex", "a1").await.unwrap();
    assert!(!meta.delete_route("globex", "r1").await.unwrap());
    assert!(!meta.delete_archive("globex", "i1").await.unwrap());
    assert!(!meta.set_archive_failing("globex", "i1", Some("boom")).await.unwrap());
    meta.delete_instance("globex", "i1").await.unwrap();
    assert!(meta.view("acme", "v1").await.unwrap().is_some());
    assert!(meta.alert("acme", "a1").await.unwrap().is_some());
    assert!(meta.route("acme", "r1").await.unwrap().is_some());
    assert!(!meta.archive("acme", "i1").await.unwrap().unwrap().failing);
    assert!(meta.instance("acme", "i1").await.unwrap().is_some());
}

async fn flags_and_nulls_read_back_as_written(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    let mut strict = instance("i1", "acme", "prod");
    (strict.global, strict.strict) = (false, true);
    meta.create_instance(&strict).await.unwrap();
    assert_eq!(meta.instance("acme", "i1").await.unwrap(), Some(strict.clone()));
    meta.create_instance(&instance("i2", "acme", "global")).await.unwrap();
    assert_eq!(meta.instance("acme", "i2").await.unwrap(), Some(instance("i2", "acme", "global")));

    let mut full = key("k1", "acme", "alice");
    (full.instance, full.locked) = (Some("i1".to_string()), true);
    (full.created_by, full.expires_at) = (Some("k0".to_string()), Some("2027-01-01T00:00:00Z".to_string()));
    meta.create_key(&full).await.unwrap();
    assert_eq!(meta.key_for_auth("k1").await.unwrap(), Some(full.clone()));
    meta.set_key_locked("acme", "k1", false).await.unwrap();
    meta.touch_key("k1", "2026-12-07T01:00:00Z").await.unwrap();
    let read = meta.key("acme", "k1").await.unwrap().unwrap();
    assert!(!read.locked);
    assert_eq!(read.last_used_at.as_deref(), Some("2026-12-07T01:00:00Z"));
    meta.create_key(&key("k2", "acme", "bob")).await.unwrap();
    assert!(meta.has_keys().await.unwrap());
    let ids = |keys: Vec<ApiKey>| keys.into_iter().map(|key| key.id).collect::<Vec<_>>();
    assert_eq!(ids(meta.keys("acme", None).await.unwrap()), ["k1", "k2"], "no principal (NULL): every key");
    assert_eq!(ids(meta.keys("acme", Some("bob")).await.unwrap()), ["k2"]);

    let mut enabled = route("r1", "acme", "siem");
    (enabled.enabled, enabled.query) = (true, Some("outcome:failure".to_string()));
    meta.create_route(&enabled, &[]).await.unwrap();
    assert_eq!(meta.route("acme", "r1").await.unwrap(), Some(enabled.clone()));
    enabled.enabled = false;
    meta.update_route(&enabled).await.unwrap();
    assert_eq!(meta.all_routes().await.unwrap(), [enabled]);

    meta.create_view(&view("v1", "acme", "deletions", Some("security"))).await.unwrap();
    let mut watched = alert("a1", "acme", "v1");
    (watched.immediate, watched.at_end, watched.muted_until) = (false, true, Some(NOW.to_string()));
    meta.create_alert(&watched).await.unwrap();
    assert_eq!(meta.alert("acme", "a1").await.unwrap(), Some(watched.clone()));
    let with_views = meta.all_alerts_with_views().await.unwrap();
    assert_eq!(with_views, [(watched, view("v1", "acme", "deletions", Some("security")))]);
}

async fn lists_sort_the_same_on_both_engines(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    // Byte order: upper case before lower case, and a view without a category first.
    for (id, name, category) in
        [("v1", "b", Some("ops")), ("v2", "B", Some("ops")), ("v3", "a", None), ("v4", "A", Some("Ops"))]
    {
        meta.create_view(&view(id, "acme", name, category)).await.unwrap();
    }
    let names: Vec<String> = meta.views("acme", None).await.unwrap().into_iter().map(|view| view.name).collect();
    assert_eq!(names, ["a", "A", "B", "b"]);
    let ops: Vec<String> = meta.views("acme", Some("ops")).await.unwrap().into_iter().map(|view| view.id).collect();
    assert_eq!(ops, ["v2", "v1"]);
    let categories = meta.view_categories("acme").await.unwrap();
    assert_eq!(categories, [("Ops".to_string(), 1), ("ops".to_string(), 2)]);
    for name in ["zeta", "Zeta", "alpha"] {
        let mut instance = instance(name, "acme", name);
        instance.id = format!("i-{name}");
        meta.create_instance(&instance).await.unwrap();
    }
    let names: Vec<String> = meta.instances("acme").await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["Zeta", "alpha", "zeta"]);
}

async fn a_route_cursor_never_goes_back_and_goes_with_its_route(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    meta.create_route(&route("r1", "acme", "siem"), &[("i1".to_string(), 10), ("i2".to_string(), 0)]).await.unwrap();
    let cursors = meta.route_cursors("r1").await.unwrap();
    assert_eq!((cursors["i1"], cursors["i2"]), (10, 0));

    meta.advance_route_cursor("r1", "i1", 25).await.unwrap();
    meta.advance_route_cursor("r1", "i1", 7).await.unwrap();
    meta.advance_route_cursor("r1", "i3", 3).await.unwrap();
    meta.advance_route_cursor("r1", "i3", 3).await.unwrap();
    meta.advance_route_cursor("r1", "i2", u64::MAX).await.unwrap();
    let cursors = meta.route_cursors("r1").await.unwrap();
    assert_eq!(cursors["i1"], 25, "a lower seq leaves the cursor where it is");
    assert_eq!(cursors["i3"], 3, "an instance without a cursor gets one");
    assert_eq!(cursors["i2"], u64::try_from(i64::MAX).unwrap(), "kept at the largest BIGINT");

    assert!(meta.delete_route("acme", "r1").await.unwrap());
    assert!(meta.route_cursors("r1").await.unwrap().is_empty());
}

async fn an_archive_is_replaced_only_by_its_own_account(meta: Meta) {
    with_accounts(&meta, &["acme", "globex"]).await;
    meta.create_instance(&instance("i1", "acme", "prod")).await.unwrap();
    meta.set_archive("acme", "i1", r#"{"bucket":"a"}"#, NOW).await.unwrap();
    assert!(meta.set_archive_failing("acme", "i1", Some("unreachable")).await.unwrap(), "a streak starts");
    assert!(!meta.set_archive_failing("acme", "i1", Some("still unreachable")).await.unwrap());
    let failing = meta.archive("acme", "i1").await.unwrap().unwrap();
    assert!(failing.failing);
    assert_eq!(failing.last_error.as_deref(), Some("still unreachable"));

    meta.set_archive("globex", "i1", r#"{"bucket":"stolen"}"#, "2026-12-08T00:00:00Z").await.unwrap();
    let kept = meta.archive("acme", "i1").await.unwrap().unwrap();
    assert_eq!((kept.config.as_str(), kept.account.as_str()), (r#"{"bucket":"a"}"#, "acme"));
    assert!(kept.failing, "another account's upsert changes nothing");

    meta.set_archive("acme", "i1", r#"{"bucket":"b"}"#, "2026-12-08T00:00:00Z").await.unwrap();
    let replaced = meta.archive("acme", "i1").await.unwrap().unwrap();
    assert_eq!(replaced.config, r#"{"bucket":"b"}"#);
    assert_eq!(replaced.updated_at, "2026-12-08T00:00:00Z");
    assert!(!replaced.failing && replaced.last_error.is_none(), "a new configuration starts without a streak");
    assert_eq!(meta.all_archives().await.unwrap(), [replaced]);
    assert!(meta.delete_archive("acme", "i1").await.unwrap());
    assert!(meta.archive("acme", "i1").await.unwrap().is_none());
}

async fn a_confirmed_segment_is_replaced_whole(meta: Meta) {
    let segment = |day: &str, bytes: i64| ArchivedSegment {
        day: day.to_string(),
        bytes,
        manifest_sha256: format!("{bytes:064}"),
        confirmed_at: format!("{day}T12:00:00Z"),
    };
    meta.record_archived("i1", "s3://a", &segment("2026-12-02", 10)).await.unwrap();
    meta.record_archived("i1", "s3://a", &segment("2026-12-01", 20)).await.unwrap();
    meta.record_archived("i1", "s3://b", &segment("2026-12-01", 30)).await.unwrap();
    meta.record_archived("i1", "s3://a", &segment("2026-12-01", 40)).await.unwrap();
    assert_eq!(
        meta.archived_segments("i1", "s3://a").await.unwrap(),
        [segment("2026-12-01", 40), segment("2026-12-02", 10)]
    );
    assert_eq!(meta.archived_segments("i1", "s3://b").await.unwrap(), [segment("2026-12-01", 30)]);
}

async fn a_window_fires_once_and_test_firings_are_not_limited(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    meta.create_view(&view("v1", "acme", "deletions", None)).await.unwrap();
    meta.create_alert(&alert("a1", "acme", "v1")).await.unwrap();
    assert!(meta.record_firing(&firing("f1", "a1", Some((0, 60)), &["o1"])).await.unwrap());
    assert!(!meta.record_firing(&firing("f2", "a1", Some((0, 60)), &["o2"])).await.unwrap(), "the window fired");
    assert!(meta.record_firing(&firing("t1", "a1", None, &[])).await.unwrap());
    assert!(meta.record_firing(&firing("t2", "a1", None, &[])).await.unwrap(), "test firings have no window");
    let late = [firing("f3", "a1", Some((0, 60)), &[]), firing("f4", "a1", Some((60, 120)), &["o4"])];
    assert_eq!(meta.record_late_firings("a1", &late, 120).await.unwrap(), 1);
    assert_eq!(meta.fired_windows("a1", 0, 60).await.unwrap(), [0, 60]);

    let history = meta.alert_history("acme", "a1", 10).await.unwrap();
    let mut ids: Vec<&str> = history.iter().map(|(firing, _)| firing.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["f1", "f4", "t1", "t2"]);
    let f1 = history.iter().find(|(firing, _)| firing.id == "f1").unwrap();
    assert_eq!((f1.0.window_start_ns, f1.0.window_end_ns, f1.0.muted), (Some(0), Some(60), false));
    assert_eq!(f1.0.message, json!({"count": 3}));
    assert_eq!(f1.1.iter().map(|(delivery, _)| delivery.id.as_str()).collect::<Vec<_>>(), ["o1"]);
    let t1 = history.iter().find(|(firing, _)| firing.id == "t1").unwrap();
    assert_eq!((t1.0.window_start_ns, t1.0.window_end_ns), (None, None));
    assert_eq!(meta.alert("acme", "a1").await.unwrap().unwrap().evaluated_until_ns, 120);
}

/// Cluster mode: every node's alert engine may fire the same window; the first firing is recorded with its
/// notifications, the others record nothing and fail nothing.
async fn a_window_fired_by_several_nodes_at_once_fires_once(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    meta.create_view(&view("v1", "acme", "deletions", None)).await.unwrap();
    meta.create_alert(&alert("a1", "acme", "v1")).await.unwrap();
    let nodes: Vec<_> = (0..6)
        .map(|node| {
            let meta = meta.clone();
            tokio::spawn(async move {
                let outbox = format!("o{node}");
                meta.record_firing(&firing(&format!("f{node}"), "a1", Some((0, 60)), &[&outbox])).await
            })
        })
        .collect();
    let mut recorded = 0;
    for node in nodes {
        recorded += usize::from(node.await.unwrap().unwrap());
    }
    assert_eq!(recorded, 1);
    let history = meta.alert_history("acme", "a1", 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].1.len(), 1, "only the recorded firing's notification");
    assert_eq!(meta.due_deliveries(1_000, 10).await.unwrap().len(), 1);
}

async fn attempts_are_kept_in_order_and_move_the_outbox_on(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    meta.create_view(&view("v1", "acme", "deletions", None)).await.unwrap();
    meta.create_alert(&alert("a1", "acme", "v1")).await.unwrap();
    meta.record_firing(&firing("f1", "a1", Some((0, 60)), &["o1", "o2"])).await.unwrap();
    assert_eq!(meta.next_delivery_due().await.unwrap(), Some(1_000));
    assert!(meta.due_deliveries(999, 10).await.unwrap().is_empty());
    let due = meta.due_deliveries(1_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|(delivery, _)| delivery.id.as_str()).collect::<Vec<_>>(), ["o1", "o2"]);
    assert_eq!(due[0].1, json!({"count": 3}), "with its firing's message");
    assert_eq!(due[1].0.channel_index, 1);

    let attempt = |ok, retry_at_ns, detail: &str| AttemptOutcome {
        ok,
        detail: detail.to_string(),
        at: NOW.to_string(),
        retry_at_ns,
    };
    let o1 = due[0].0.clone();
    meta.record_attempt(&o1, &attempt(false, Some(5_000), "HTTP 503")).await.unwrap();
    let o1 = meta.due_deliveries(5_000, 10).await.unwrap().into_iter().find(|(d, _)| d.id == "o1").unwrap().0;
    assert_eq!((o1.attempts, o1.next_attempt_ns, o1.last_error.as_deref()), (1, 5_000, Some("HTTP 503")));
    meta.record_attempt(&o1, &attempt(true, None, "HTTP 200")).await.unwrap();
    meta.record_attempt(&due[1].0, &attempt(false, None, "refused")).await.unwrap();
    assert_eq!(meta.next_delivery_due().await.unwrap(), None, "nothing is pending");

    let history = meta.alert_history("acme", "a1", 10).await.unwrap();
    let deliveries = &history[0].1;
    let (o1, o1_attempts) = &deliveries[0];
    assert_eq!((o1.state.as_str(), o1.attempts, o1.delivered_at.as_deref()), ("delivered", 2, Some(NOW)));
    let tried: Vec<(i64, bool, &str)> = o1_attempts.iter().map(|a| (a.attempt, a.ok, a.detail.as_str())).collect();
    assert_eq!(tried, [(1, false, "HTTP 503"), (2, true, "HTTP 200")]);
    assert_eq!((deliveries[1].0.state.as_str(), deliveries[1].1.len()), ("failed", 1));

    meta.record_firing(&firing("f2", "a1", Some((60, 120)), &["o3"])).await.unwrap();
    meta.delete_alert("acme", "a1").await.unwrap();
    let cancelled = meta.alert_history("acme", "a1", 10).await.unwrap();
    let o3 = cancelled.iter().flat_map(|(_, d)| d).find(|(d, _)| d.id == "o3").unwrap();
    assert_eq!(o3.0.state, "cancelled", "a deleted alert's pending notifications are cancelled");
    assert_eq!(meta.next_delivery_due().await.unwrap(), None);
}

async fn an_alert_mark_never_goes_back(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    meta.create_view(&view("v1", "acme", "deletions", None)).await.unwrap();
    meta.create_alert(&alert("a1", "acme", "v1")).await.unwrap();
    meta.set_alerts_evaluated(&[("a1".to_string(), 500)]).await.unwrap();
    meta.set_alerts_evaluated(&[("a1".to_string(), 200), ("unknown".to_string(), 9)]).await.unwrap();
    assert_eq!(meta.alert("acme", "a1").await.unwrap().unwrap().evaluated_until_ns, 500);
    assert!(conflict(meta.delete_view("acme", "v1").await), "a view with an alert is not deleted");
}

async fn the_full_count_mark_stays_when_a_run_is_not_full(meta: Meta) {
    use acta_store::{CountedHours, HourCount};
    let counts = [HourCount { dimension: "principal".to_string(), key: "alice".to_string(), hour: 10, count: 2 }];
    let run = |final_before, full| CountedHours {
        account: "acme",
        hours: (10, 12),
        counts: &counts,
        final_before,
        full,
        forget_before: 0,
    };
    meta.record_insight_counts(&run(11, false)).await.unwrap();
    assert_eq!(meta.insight_progress("acme").await.unwrap(), Some((11, 0)), "never fully counted");
    meta.record_insight_counts(&run(12, true)).await.unwrap();
    assert_eq!(meta.insight_progress("acme").await.unwrap(), Some((12, 11)));
    meta.record_insight_counts(&run(9, false)).await.unwrap();
    assert_eq!(meta.insight_progress("acme").await.unwrap(), Some((12, 11)), "neither mark moves back");
    assert_eq!(meta.insight_counts("acme", &[10, 11]).await.unwrap(), counts);
}

/// A key `k1` of account `acme` for console sessions to belong to.
async fn with_session_key(meta: &Meta) {
    with_accounts(meta, &["acme"]).await;
    meta.create_key(&key("k1", "acme", "officer@acme.example")).await.unwrap();
}

/// Session `n` of key `k1`, opened at `created_ns`.
fn console_session(n: u64, created_ns: i64) -> ConsoleSession {
    ConsoleSession {
        token_hash: format!("{n:064x}"),
        key_id: "k1".to_string(),
        csrf: format!("csrf-{n}"),
        created_ns,
        last_seen_ns: created_ns,
    }
}

/// Opens session `n` at `created_ns`, below any cap.
async fn open_session(meta: &Meta, n: u64, created_ns: i64) -> ConsoleSession {
    let session = console_session(n, created_ns);
    assert!(meta.create_console_session(&session, 1_000).await.unwrap());
    session
}

async fn a_session_used_within_its_idle_time_lives_until_its_lifetime_ends(meta: Meta) {
    with_session_key(&meta).await;
    let session = open_session(&meta, 1, 0).await;
    let resumed = meta.resume_console_session(&session.token_hash, IDLE_NS - 1).await.unwrap();
    assert_eq!(resumed.as_ref().map(|s| (s.key_id.as_str(), s.csrf.as_str())), Some(("k1", "csrf-1")));
    // Used just now, so the idle clock restarted.
    assert!(meta.resume_console_session(&session.token_hash, 2 * IDLE_NS - 2).await.unwrap().is_some());
    let mut now = 2 * IDLE_NS - 2;
    while now + IDLE_NS / 2 < ABSOLUTE_NS {
        now += IDLE_NS / 2;
        assert!(meta.resume_console_session(&session.token_hash, now).await.unwrap().is_some(), "at {now}");
    }
    assert!(meta.resume_console_session(&session.token_hash, ABSOLUTE_NS).await.unwrap().is_none());
    assert_eq!(meta.console_sessions_held().await.unwrap(), 0, "presented expired, it is deleted");
}

async fn a_session_left_idle_ends_and_is_deleted_when_presented(meta: Meta) {
    with_session_key(&meta).await;
    let session = open_session(&meta, 1, 0).await;
    assert!(meta.resume_console_session(&session.token_hash, IDLE_NS).await.unwrap().is_none());
    assert_eq!(meta.console_sessions_held().await.unwrap(), 0);
}

async fn a_sessions_last_seen_time_is_written_only_once_it_is_a_minute_old(meta: Meta) {
    with_session_key(&meta).await;
    let session = open_session(&meta, 1, 0).await;
    let seen = |now| {
        let meta = meta.clone();
        let hash = session.token_hash.clone();
        async move { meta.resume_console_session(&hash, now).await.unwrap().unwrap().expires_ns() }
    };
    // Within the interval nothing is written: the session still ends idle from sign-in.
    assert_eq!(seen(TOUCH_AFTER_NS - 1).await, IDLE_NS);
    assert_eq!(seen(TOUCH_AFTER_NS - 1).await, IDLE_NS);
    // Once a minute old, the request's time is written, and read back by the next request.
    assert_eq!(seen(TOUCH_AFTER_NS).await, TOUCH_AFTER_NS + IDLE_NS);
    assert_eq!(seen(TOUCH_AFTER_NS + 1).await, TOUCH_AFTER_NS + IDLE_NS);
    // A node whose clock is behind never moves it back.
    assert_eq!(seen(1).await, TOUCH_AFTER_NS + IDLE_NS);
    assert!(meta.resume_console_session(&session.token_hash, TOUCH_AFTER_NS + IDLE_NS).await.unwrap().is_none());
}

async fn an_unknown_token_is_no_session(meta: Meta) {
    with_session_key(&meta).await;
    open_session(&meta, 1, 0).await;
    assert!(meta.resume_console_session(&format!("{:064x}", 2), 1).await.unwrap().is_none());
}

async fn an_ended_session_is_no_session(meta: Meta) {
    with_session_key(&meta).await;
    let session = open_session(&meta, 1, 0).await;
    let other = open_session(&meta, 2, 0).await;
    meta.end_console_session(&session.token_hash).await.unwrap();
    assert!(meta.resume_console_session(&session.token_hash, 1).await.unwrap().is_none());
    assert!(meta.resume_console_session(&other.token_hash, 1).await.unwrap().is_some(), "only that one ends");
    // Ending it again (signed out on two nodes at once) is no error.
    meta.end_console_session(&session.token_hash).await.unwrap();
}

async fn sign_in_sweeps_expired_sessions_never_presented_again(meta: Meta) {
    with_session_key(&meta).await;
    for n in 0..5 {
        open_session(&meta, n, 0).await;
    }
    open_session(&meta, 10, IDLE_NS - 1).await;
    open_session(&meta, 11, IDLE_NS).await;
    // At IDLE_NS the five of time 0 are idle; the one of IDLE_NS - 1 is not yet.
    assert_eq!(meta.console_sessions_held().await.unwrap(), 2);
}

async fn the_session_cap_counts_only_live_sessions(meta: Meta) {
    with_session_key(&meta).await;
    assert!(meta.create_console_session(&console_session(1, 0), 2).await.unwrap());
    assert!(meta.create_console_session(&console_session(2, 0), 2).await.unwrap());
    assert!(!meta.create_console_session(&console_session(3, 0), 2).await.unwrap(), "two are live");
    assert!(meta.resume_console_session(&console_session(3, 0).token_hash, 1).await.unwrap().is_none());
    assert!(meta.create_console_session(&console_session(4, ABSOLUTE_NS), 2).await.unwrap(), "both expired");
}

async fn deleting_a_key_deletes_its_sessions(meta: Meta) {
    with_session_key(&meta).await;
    open_session(&meta, 1, 0).await;
    meta.delete_key("acme", "k1").await.unwrap();
    assert_eq!(meta.console_sessions_held().await.unwrap(), 0);
}

/// `Meta::connect` and the PostgreSQL log migrate one database whichever connects first, and again at every
/// start; a SQLite URL is refused (SQLite is opened by path, with its pragmas).
#[tokio::test]
async fn the_log_and_the_metadata_share_one_postgresql_migrator() {
    assert!(Meta::connect("sqlite:///tmp/meta.sqlite", 1).await.is_err());
    let Some(server) = pg_util::PgServer::start() else {
        return;
    };
    let meta = Meta::connect(&server.url, 2).await.unwrap();
    meta.create_account(&account("acme")).await.unwrap();
    let options = PgLogOptions { max_connections: 1, ..PgLogOptions::node("n1") };
    let log = PgLog::connect(&server.url, options).await.unwrap();
    assert_eq!(log.last_seq("i1").await.unwrap(), 0);
    log.close().await;
    let again = Meta::connect(&server.url, 2).await.unwrap();
    assert_eq!(again.accounts().await.unwrap(), [account("acme")]);
    again.close().await;
    meta.close().await;
}
