//! The metadata database under concurrent writers: a transaction that reads before it writes (deleting a view
//! checks its alerts first) is never refused with "database is locked" because another writer committed in
//! between; it waits its turn. Before, deleting views while the alert engine wrote its marks answered 500.
//! On PostgreSQL (the same test, `meta_util`) nothing locks the whole database; the deletions must not be refused
//! there either.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_util;
#[macro_use]
mod meta_util;

use acta_store::{Account, Meta, View};

on_both_engines!(multi_thread: views_deleted_while_other_writers_commit_are_never_refused_as_locked);

const VIEWS: usize = 200;

fn view(n: usize) -> View {
    View {
        id: format!("view-{n}"),
        account: "acme".to_string(),
        name: format!("view {n}"),
        query: "action:svc.widget.delete".to_string(),
        category: None,
        from: None,
        to: None,
        created_at: "2026-12-06T00:00:00Z".to_string(),
        updated_at: "2026-12-06T00:00:00Z".to_string(),
    }
}

async fn views_deleted_while_other_writers_commit_are_never_refused_as_locked(meta: Meta) {
    let account = Account { id: "acme".into(), name: "Acme".into(), created_at: "2026-12-06T00:00:00Z".into() };
    meta.create_account(&account).await.unwrap();
    for n in 0..VIEWS {
        meta.create_view(&view(n)).await.unwrap();
    }

    // Two deleters read-then-write, two other writers commit as fast as they can.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let (meta, stop) = (meta.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0_i64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    meta.touch_key(&format!("key-{writer}"), "2026-12-06T00:00:00Z").await.unwrap();
                    meta.set_alerts_evaluated(&[(format!("alert-{writer}"), n)]).await.unwrap();
                    n += 1;
                }
            })
        })
        .collect();
    let deleters: Vec<_> = (0..2)
        .map(|deleter| {
            let meta = meta.clone();
            tokio::spawn(async move {
                let mut refused = Vec::new();
                for n in (deleter..VIEWS).step_by(2) {
                    if let Err(error) = meta.delete_view("acme", &format!("view-{n}")).await {
                        refused.push(format!("view-{n}: {error}"));
                    }
                }
                refused
            })
        })
        .collect();
    let mut refused = Vec::new();
    for deleter in deleters {
        refused.extend(deleter.await.unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(refused.is_empty(), "{} deletions refused, e.g. {:?}", refused.len(), &refused[..refused.len().min(3)]);
    assert!(meta.views("acme", None).await.unwrap().is_empty(), "every view is deleted");
}
