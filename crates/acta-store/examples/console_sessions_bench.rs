//! What console sessions in the metadata database cost (docs/benchmarks.md): a console request resumes its session
//! (one read; a write at most once a minute) before reading its key as every request does, and a sign-in sweeps,
//! counts the live sessions against the cap and inserts. Timed on SQLite (a temporary file, as the embedded mode
//! keeps it) and on a PostgreSQL server of its own (as `tests/pglog.rs` starts one), with
//! `ACTA_BENCH_SESSIONS` live sessions (default 10,000) and `ACTA_BENCH_REQUESTS` requests (default 5,000).
//!
//! `ACTA_PG_BIN=/usr/lib/postgresql/15/bin cargo run --release -p acta-store --example console_sessions_bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/pg_util.rs"]
mod pg_util;

use std::time::{Duration, Instant};

use acta_store::{Account, ApiKey, ConsoleSession, Meta};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

const NOW_NS: i64 = 1_780_000_000_000_000_000;

fn session(n: u64) -> ConsoleSession {
    ConsoleSession {
        token_hash: format!("{n:064x}"),
        key_id: "bench-key".to_owned(),
        csrf: format!("{n:043}"),
        created_ns: NOW_NS,
        last_seen_ns: NOW_NS,
    }
}

async fn bench(engine: &str, meta: Meta, sessions: u64, requests: u64) {
    let created_at = "2026-12-07T00:00:00Z".to_owned();
    meta.create_account(&Account { id: "bench".into(), name: "bench".into(), created_at: created_at.clone() })
        .await
        .unwrap();
    let key = ApiKey {
        id: "bench-key".into(),
        account: Some("bench".into()),
        instance: None,
        name: "bench".into(),
        description: String::new(),
        role: "reader".into(),
        created_at,
        created_by: None,
        expires_at: None,
        locked: false,
        last_used_at: None,
        principal: "officer@example.com".into(),
        secret_hash: "00".repeat(32),
    };
    meta.create_key(&key).await.unwrap();
    let started = Instant::now();
    for n in 0..sessions {
        assert!(meta.create_console_session(&session(n), i64::MAX).await.unwrap());
    }
    let sign_in = started.elapsed() / u32::try_from(sessions).unwrap();
    // Requests within a minute of the last write: the read alone, as almost every console request.
    let mut resume = Duration::ZERO;
    let mut read_key = Duration::ZERO;
    for n in 0..requests {
        let hash = session(n % sessions).token_hash;
        let started = Instant::now();
        let resumed = meta.resume_console_session(&hash, NOW_NS + 1_000_000_000).await.unwrap();
        resume += started.elapsed();
        assert!(resumed.is_some());
        let started = Instant::now();
        assert!(meta.key_for_auth("bench-key").await.unwrap().is_some());
        read_key += started.elapsed();
    }
    // A minute on: each session's first request writes its last-seen time.
    let touched = requests.min(sessions);
    let started = Instant::now();
    for n in 0..touched {
        let hash = session(n).token_hash;
        assert!(meta.resume_console_session(&hash, NOW_NS + 61_000_000_000).await.unwrap().is_some());
    }
    let touch = started.elapsed() / u32::try_from(touched).unwrap();
    let per = |total: Duration| total / u32::try_from(requests).unwrap();
    println!(
        "{engine}: {sessions} live sessions; a sign-in (sweep, count, insert) {:?}; a console request's session \
         read {:?}, with its last-seen write (once a minute) {:?}; the key read every request makes {:?}",
        sign_in,
        per(resume),
        touch,
        per(read_key),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sessions = setting("ACTA_BENCH_SESSIONS", 10_000);
    let requests = setting("ACTA_BENCH_REQUESTS", 5_000);
    let dir = tempfile::tempdir().unwrap();
    bench("SQLite", Meta::open(&dir.path().join("meta.sqlite")).await.unwrap(), sessions, requests).await;
    let server = pg_util::PgServer::start().expect("PostgreSQL (ACTA_PG_BIN) for the bench");
    bench("PostgreSQL", Meta::connect(&server.url, 8).await.unwrap(), sessions, requests).await;
}
