//! Indexing yields the CPU to acknowledging events and firing alerts: the indexer thread, and the threads
//! tantivy starts from it, run at a lower priority than the rest of the server.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use acta_store::{Store, StoreOptions};

/// `(name, nice)` of every thread of this process, from `/proc`.
fn threads() -> Vec<(String, i64)> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| {
            let path = task.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?.trim().to_string();
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // Fields after the name in parentheses: the nice value is the 19th field of the line.
            let after_name = stat.rsplit_once(") ")?.1;
            let nice = after_name.split(' ').nth(16)?.parse().ok()?;
            Some((name, nice))
        })
        .collect()
}

#[tokio::test]
async fn the_indexer_runs_at_a_lower_priority_than_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).await.unwrap();
    let threads = threads();
    let nice_of = |name: &str| threads.iter().find(|(thread, _)| thread == name).map(|(_, nice)| *nice);
    let indexer = nice_of("acta-indexer").unwrap_or_else(|| panic!("no indexer thread among {threads:?}"));
    let writer = nice_of("acta-log-writer").unwrap_or_else(|| panic!("no log writer thread among {threads:?}"));
    assert!(indexer > writer, "the indexer's nice is {indexer}, the log writer's {writer}: {threads:?}");
    store.close().await;
}
