//! Boards in the metadata database: scoped to their account, and predefined boards given once.
//! Each test runs on SQLite and on PostgreSQL (`meta_util`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_util;
#[macro_use]
mod meta_util;

use acta_store::{Account, Board, Meta, MetaError};
use serde_json::json;

on_both_engines!(
    a_board_is_kept_whole_and_only_its_account_reaches_it,
    names_are_unique_in_an_account_only,
    predefined_boards_are_given_once_and_deleted_ones_stay_deleted,
);
on_both_engines!(multi_thread: predefined_boards_given_at_once_by_several_nodes_are_given_once);

async fn with_accounts(meta: &Meta, accounts: &[&str]) {
    for id in accounts {
        let account = Account { id: id.to_string(), name: id.to_string(), created_at: "2026-11-20T10:00:00Z".into() };
        meta.create_account(&account).await.unwrap();
    }
}

fn board(id: &str, account: &str, name: &str) -> Board {
    Board {
        id: id.to_string(),
        account: account.to_string(),
        name: name.to_string(),
        category: "General".to_string(),
        filter: Some("outcome:failure".to_string()),
        graphs: json!([{"title": null, "query": "a", "field": null, "breakdown": null, "range": "24h"},
                       {"title": "second", "query": "b", "field": "action", "breakdown": null, "range": "live"}]),
        predefined: false,
        created_at: "2026-11-20T10:00:00Z".to_string(),
        updated_at: "2026-11-20T10:00:00Z".to_string(),
    }
}

async fn a_board_is_kept_whole_and_only_its_account_reaches_it(meta: Meta) {
    with_accounts(&meta, &["acme", "globex"]).await;
    let mine = board("b1", "acme", "Keys");
    meta.create_board(&mine).await.unwrap();
    assert_eq!(meta.board("acme", "b1").await.unwrap(), Some(mine.clone()), "graphs come back in order");
    assert_eq!(meta.board("globex", "b1").await.unwrap(), None);
    assert!(meta.boards("globex", None).await.unwrap().is_empty());

    let mut hijack = mine.clone();
    hijack.account = "globex".to_string();
    hijack.name = "Taken".to_string();
    meta.update_board(&hijack).await.unwrap();
    assert_eq!(meta.board("acme", "b1").await.unwrap().unwrap().name, "Keys", "another account's update is a no-op");
    assert!(!meta.delete_board("globex", "b1").await.unwrap());
    assert!(meta.delete_board("acme", "b1").await.unwrap());
    assert_eq!(meta.board("acme", "b1").await.unwrap(), None);
}

async fn names_are_unique_in_an_account_only(meta: Meta) {
    with_accounts(&meta, &["acme", "globex"]).await;
    meta.create_board(&board("b1", "acme", "Keys")).await.unwrap();
    let again = meta.create_board(&board("b2", "acme", "Keys")).await;
    assert!(matches!(again, Err(MetaError::Conflict(_))), "{again:?}");
    meta.create_board(&board("b3", "globex", "Keys")).await.unwrap();
    let categories = meta.board_categories("acme").await.unwrap();
    assert_eq!(categories, [("General".to_string(), 1)]);
}

async fn predefined_boards_are_given_once_and_deleted_ones_stay_deleted(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    meta.create_board(&board("mine", "acme", "Failures")).await.unwrap();
    let predefined = |n: u32| {
        let mut failures = board(&format!("f{n}"), "acme", "Failures");
        failures.predefined = true;
        let mut activity = board(&format!("a{n}"), "acme", "Account activity");
        activity.predefined = true;
        vec![failures, activity]
    };
    assert!(meta.give_predefined_boards("acme", &predefined(1), "2026-11-20T10:00:00Z").await.unwrap());
    let boards = meta.boards("acme", None).await.unwrap();
    let ids: Vec<&str> = boards.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["a1", "mine"], "the user's board keeps its name; the other predefined board is added");

    assert!(meta.delete_board("acme", "a1").await.unwrap());
    assert!(!meta.give_predefined_boards("acme", &predefined(2), "2026-11-21T10:00:00Z").await.unwrap());
    let boards = meta.boards("acme", None).await.unwrap();
    assert_eq!(boards.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(), ["mine"]);
}

/// Every node of a cluster gives an account its predefined boards when it first serves it: several at once give
/// them once, and none of them fails.
async fn predefined_boards_given_at_once_by_several_nodes_are_given_once(meta: Meta) {
    with_accounts(&meta, &["acme"]).await;
    let givers: Vec<_> = (0..6)
        .map(|node| {
            let meta = meta.clone();
            tokio::spawn(async move {
                let mut failures = board(&format!("f{node}"), "acme", "Failures");
                failures.predefined = true;
                meta.give_predefined_boards("acme", &[failures], "2026-11-20T10:00:00Z").await
            })
        })
        .collect();
    let mut given = 0;
    for giver in givers {
        given += usize::from(giver.await.unwrap().unwrap());
    }
    assert_eq!(given, 1);
    assert_eq!(meta.boards("acme", None).await.unwrap().len(), 1);
}
