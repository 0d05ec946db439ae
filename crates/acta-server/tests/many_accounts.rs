//! The index's threads do not grow with the number of accounts. Alone in its test binary, so that the
//! process's threads are the server's and this test's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, event};
use serde_json::json;

const ACCOUNTS: usize = 300;

/// Threads of this process, from `/proc/self/status`.
fn threads() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("Threads: in /proc/self/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_accounts_with_events_keep_the_thread_count_bounded() {
    let server = TestServer::start().await;
    let (status, answer) = server.send(&[event("kms.secrets.read", json!({"id": "first"}))]).await;
    assert_eq!(status, 200, "{answer}");
    server.wait_searchable(1).await;
    let before = threads();

    for n in 0..ACCOUNTS {
        let id = format!("acct-{n:03}");
        server.admin().create_account(&id).await;
        let crn = format!("crn:v1:bluemix:public:kms:global:a/{id}::");
        let (status, answer) =
            server.send(&[event("kms.secrets.read", json!({"id": format!("{id}-e"), "logSourceCRN": crn}))]).await;
        assert_eq!(status, 200, "{answer}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for n in 0..ACCOUNTS {
        let id = format!("acct-{n:03}");
        loop {
            let answer: serde_json::Value = server
                .get("/v1/events/count")
                .query(&[("account", id.as_str()), ("q", "kms")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if answer["count"] == 1 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{id}: {answer}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let after = threads();
    // Per-account writers cost about six threads each (1,213 threads for 200 accounts); shared partitions add
    // none per account.
    assert!(after <= before + 8, "{ACCOUNTS} accounts took the threads from {before} to {after}");
    server.stop().await;
}
