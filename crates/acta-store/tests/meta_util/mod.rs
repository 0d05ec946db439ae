//! The metadata tests run on both engines from one source (included with `mod pg_util; #[macro_use] mod
//! meta_util;`): a test body is an `async fn(Meta)`, and `on_both_engines!(body, ...)` makes of each the tests
//! `body::on_sqlite` (a fresh SQLite file) and `body::on_postgres` (a fresh PostgreSQL server, skipped as the
//! PostgreSQL log's tests are when PostgreSQL is absent and not required).
//!
//! A directory, not `tests/meta_util.rs`: Cargo would build that file as a test binary of its own, where
//! `crate::pg_util` does not exist.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use acta_store::{Engine, Meta};

use crate::pg_util::PgServer;

/// Runs `body` on a fresh, migrated SQLite metadata database.
pub(crate) async fn on_sqlite<F: Future<Output = ()>>(body: impl FnOnce(Meta) -> F) {
    let dir = tempfile::tempdir().unwrap();
    let meta = Meta::open(&dir.path().join("meta.sqlite")).await.unwrap();
    assert_eq!(meta.engine(), Engine::Sqlite);
    body(meta.clone()).await;
    meta.close().await;
}

/// Runs `body` on a fresh, migrated PostgreSQL metadata database (nothing when PostgreSQL may be absent and is).
pub(crate) async fn on_postgres<F: Future<Output = ()>>(body: impl FnOnce(Meta) -> F) {
    let Some(server) = PgServer::start() else {
        return;
    };
    let meta = Meta::connect(&server.url, 4).await.unwrap();
    assert_eq!(meta.engine(), Engine::Postgres);
    body(meta.clone()).await;
    // Before the server stops (on drop), so no connection outlives it.
    meta.close().await;
}

/// `on_both_engines!(body, ...)`, or `on_both_engines!(multi_thread: body, ...)` for bodies that need several
/// threads: for each `async fn body(meta: Meta)`, the tests `body::on_sqlite` and `body::on_postgres`.
macro_rules! on_both_engines {
    (@with $test:meta; $($body:ident),+) => {
        $(
            mod $body {
                #[$test]
                async fn on_sqlite() {
                    crate::meta_util::on_sqlite(super::$body).await
                }

                #[$test]
                async fn on_postgres() {
                    crate::meta_util::on_postgres(super::$body).await
                }
            }
        )+
    };
    (multi_thread: $($body:ident),+ $(,)?) => {
        on_both_engines!(@with tokio::test(flavor = "multi_thread", worker_threads = 4); $($body),+);
    };
    ($($body:ident),+ $(,)?) => {
        on_both_engines!(@with tokio::test; $($body),+);
    };
}
