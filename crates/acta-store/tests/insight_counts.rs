//! The hourly counts of insights in the metadata database: a recount replaces its hours, old hours are
//! forgotten, the final mark only moves forward, and an account reads its own counts only.
//! Each test runs on SQLite and on PostgreSQL (`meta_util`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_util;
#[macro_use]
mod meta_util;

use acta_store::{CountedHours, HourCount, Meta};

on_both_engines!(
    a_recount_replaces_its_hours_and_keeps_the_others,
    hours_before_the_forget_mark_are_removed,
    the_final_mark_only_moves_forward,
    an_account_reads_its_own_counts_only,
);

fn row(key: &str, hour: i64, count: i64) -> HourCount {
    HourCount { dimension: "action".to_string(), key: key.to_string(), hour, count }
}

async fn record(
    meta: &Meta,
    account: &str,
    hours: (i64, i64),
    counts: &[HourCount],
    final_before: i64,
    forget_before: i64,
) {
    let counted = CountedHours { account, hours, counts, final_before, full: false, forget_before };
    meta.record_insight_counts(&counted).await.unwrap();
}

async fn a_recount_replaces_its_hours_and_keeps_the_others(meta: Meta) {
    record(
        &meta,
        "acme",
        (100, 103),
        &[row("a.delete", 100, 4), row("a.delete", 102, 5), row("a.read", 102, 9)],
        101,
        0,
    )
    .await;
    // Hour 102 again: a.read had no event after all (a retention deletion), a.delete has more.
    record(&meta, "acme", (102, 103), &[row("a.delete", 102, 7)], 101, 0).await;
    let counts = meta.insight_counts("acme", &[100, 101, 102]).await.unwrap();
    assert_eq!(counts, vec![row("a.delete", 100, 4), row("a.delete", 102, 7)]);
}

async fn hours_before_the_forget_mark_are_removed(meta: Meta) {
    record(&meta, "acme", (10, 12), &[row("a.delete", 10, 3), row("a.delete", 11, 3)], 11, 0).await;
    record(&meta, "acme", (200, 201), &[row("a.delete", 200, 1)], 199, 11).await;
    assert_eq!(
        meta.insight_counts("acme", &[10, 11, 200]).await.unwrap(),
        vec![row("a.delete", 11, 3), row("a.delete", 200, 1)]
    );
}

async fn the_final_mark_only_moves_forward(meta: Meta) {
    assert_eq!(meta.insight_progress("acme").await.unwrap(), None);
    let full = CountedHours {
        account: "acme",
        hours: (0, 50),
        counts: &[row("a", 1, 1)],
        final_before: 49,
        full: true,
        forget_before: 0,
    };
    meta.record_insight_counts(&full).await.unwrap();
    assert_eq!(meta.insight_progress("acme").await.unwrap(), Some((49, 49)));
    record(&meta, "acme", (40, 41), &[], 40, 0).await;
    assert_eq!(meta.insight_progress("acme").await.unwrap(), Some((49, 49)), "an older run does not move it back");
}

async fn an_account_reads_its_own_counts_only(meta: Meta) {
    record(&meta, "acme", (5, 6), &[row("a.delete", 5, 12)], 5, 0).await;
    assert!(meta.insight_counts("globex", &[5]).await.unwrap().is_empty());
    assert_eq!(meta.insight_progress("globex").await.unwrap(), None);
}
