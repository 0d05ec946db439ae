//! Cluster mode's log in a real PostgreSQL: several nodes append to one instance at once.
#![allow(clippy::unwrap_used)]

mod pg_util;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use acta_store::Stored;
use acta_store::index::Duplicates;
use acta_store::log::{Envelope, NewRecord, encode_payload};
use acta_store::pglog::{PgLog, PgLogOptions};
use pg_util::PgServer;

const INSTANCE: &str = "us-south";

fn record(node: usize, batch: usize, n: usize) -> NewRecord {
    // Bytes a re-serialisation would change: spacing, key order, an escaped quote, a non-ASCII character.
    let event =
        format!("{{ \"id\":\"{node}-{batch}-{n}\" , \"action\":\"kms.secrets.read\", \"note\":\"\\\"é\\\"\" }}");
    NewRecord { account: "acme".into(), event_id: format!("{node}-{batch}-{n}"), event: event.into_bytes() }
}

fn node_options(name: &str, clock: Arc<dyn Fn() -> i64 + Send + Sync>) -> PgLogOptions {
    PgLogOptions { clock, max_connections: 2, ..PgLogOptions::node(name) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_appending_to_one_instance_get_one_gapless_order_and_keep_every_byte() {
    let Some(server) = PgServer::start() else {
        return;
    };
    // Node b's clock is an hour behind the others: arrival times must still never go back along the seqs.
    let now = acta_store::log::system_clock_ns();
    let clocks: [i64; 3] = [0, -3_600_000_000_000, 0];
    let mut nodes = Vec::new();
    for (name, skew) in ["node-a", "node-b", "node-c"].into_iter().zip(clocks) {
        let ticks = Arc::new(AtomicI64::new(now + skew));
        let clock = move || ticks.fetch_add(1_000, Ordering::SeqCst);
        nodes.push(Arc::new(PgLog::connect(&server.url, node_options(name, Arc::new(clock))).await.unwrap()));
    }
    let mut tasks = Vec::new();
    for (node, log) in nodes.iter().enumerate() {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for batch in 0..40 {
                let records: Vec<NewRecord> = (0..25).map(|n| record(node, batch, n)).collect();
                let appended = log.append(INSTANCE, records.clone()).await.unwrap();
                sent.extend(appended.into_iter().zip(records));
            }
            sent
        }));
    }
    let mut sent = HashMap::new();
    for task in tasks {
        for (appended, record) in task.await.unwrap() {
            assert!(sent.insert(appended.seq, (appended, record)).is_none(), "a seq given twice");
        }
    }
    assert_eq!(sent.len(), 3_000);
    assert!((1..=3_000).all(|seq| sent.contains_key(&seq)), "seqs 1 to 3,000, no gap");

    // Any node reads the same records back, with the bytes each node sent under each seq.
    for log in &nodes {
        assert_eq!(log.last_seq(INSTANCE).await.unwrap(), 3_000);
        let read = log.records(INSTANCE, 0, u64::MAX).await.unwrap();
        assert_eq!(read.iter().map(|record| record.seq).collect::<Vec<_>>(), (1..=3_000).collect::<Vec<u64>>());
        for record in &read {
            let (appended, original) = &sent[&record.seq];
            assert_eq!(record.event, original.event, "seq {}", record.seq);
            assert_eq!((&record.event_id, &record.account), (&original.event_id, &original.account));
            assert_eq!(record.received_ns, appended.received_ns);
            let node = &original.event_id[..1];
            assert_eq!(record.stream, format!("node-{}", ["a", "b", "c"][node.parse::<usize>().unwrap()]));
            let envelope = Envelope {
                seq: record.seq,
                received_ns: record.received_ns,
                stream: &record.stream,
                account: &record.account,
                instance: INSTANCE,
                event_id: &record.event_id,
            };
            assert_eq!(record.payload, encode_payload(&envelope, &record.event).unwrap());
        }
        assert!(read.windows(2).all(|pair| pair[0].received_ns <= pair[1].received_ns), "arrival never goes back");
        assert_eq!(log.records(INSTANCE, 1_000, 1_010).await.unwrap().len(), 10);
    }
    for log in &nodes {
        log.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_have_their_own_sequences_and_a_batch_crossing_midnight_lands_on_its_arrival_day() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let day_ns = 86_400_000_000_000i64;
    let midnight = 20_000 * day_ns; // 2024-10-04T00:00:00Z
    let time = Arc::new(AtomicI64::new(midnight - 1));
    let clock = {
        let time = time.clone();
        move || time.load(Ordering::SeqCst)
    };
    let log = PgLog::connect(&server.url, node_options("node-a", Arc::new(clock))).await.unwrap();
    let before = log.append(INSTANCE, (0..3).map(|n| record(0, 0, n)).collect()).await.unwrap();
    time.store(midnight, Ordering::SeqCst);
    let after = log.append(INSTANCE, (3..5).map(|n| record(0, 0, n)).collect()).await.unwrap();
    let other = log.append("eu-de", (0..2).map(|n| record(0, 1, n)).collect()).await.unwrap();

    assert_eq!(before.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(after.iter().map(|a| a.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(other.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(before[0].day.to_string(), "2024-10-03");
    assert_eq!(after[0].day.to_string(), "2024-10-04");
    assert_eq!(log.records(INSTANCE, 0, 10).await.unwrap().len(), 5);
    assert_eq!(after[0].received_ns, midnight);
    assert_eq!(log.records("eu-de", 0, 10).await.unwrap().len(), 2);
    // A node whose clock is still before midnight appends after it: its batch takes the last arrival time, on
    // the new day, the day its own clock has not reached.
    let behind = {
        let clock = move || midnight - 10;
        PgLog::connect(&server.url, node_options("node-b", Arc::new(clock))).await.unwrap()
    };
    let late = behind.append(INSTANCE, vec![record(1, 0, 0)]).await.unwrap();
    assert_eq!((late[0].seq, late[0].received_ns, late[0].day.to_string()), (6, midnight, "2024-10-04".to_string()));
    behind.close().await;
    // An instance name the embedded log refuses is refused here too, and nothing is stored.
    assert!(log.append("../escape", vec![record(0, 2, 0)]).await.is_err());
    assert_eq!(log.last_seq("../escape").await.unwrap(), 0);
    log.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_follows_what_another_commits_in_order_each_record_once_even_when_notifications_are_lost() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let clock: Arc<dyn Fn() -> i64 + Send + Sync> = Arc::new(acta_store::log::system_clock_ns);
    let node_a = PgLog::connect(&server.url, node_options("node-a", clock.clone())).await.unwrap();
    let node_b = PgLog::connect(&server.url, node_options("node-b", clock)).await.unwrap();
    node_a.append(INSTANCE, (0..3).map(|n| record(0, 0, n)).collect()).await.unwrap();

    let mut follower = node_b.follow().await.unwrap();
    let mut expected: Vec<(String, u64, String)> = Vec::new();
    for round in 1..=6 {
        if round == 4 {
            // Cut the follower's listening connection: notifications sent until it is back are lost.
            sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
                .execute(&sqlx::PgPool::connect(&server.url).await.unwrap())
                .await
                .unwrap();
        }
        let instance = if round % 2 == 0 { "eu-de" } else { INSTANCE };
        if round == 4 {
            // A batch whose notification never comes (written as a node would, without the NOTIFY), to an
            // instance no later batch notifies.
            let seq = write_without_notifying(&server.url, "jp-tok", "unnotified").await;
            expected.push(("jp-tok".to_owned(), seq, "unnotified".to_owned()));
        }
        let records: Vec<NewRecord> = (0..4).map(|n| record(0, round, n)).collect();
        for (appended, record) in node_a.append(instance, records.clone()).await.unwrap().into_iter().zip(records) {
            expected.push((instance.to_owned(), appended.seq, record.event_id));
        }
    }
    let mut seen: Vec<(String, u64, String)> = Vec::new();
    while seen.len() < expected.len() {
        // A bound for the test to end, not a speed: delivery is within a poll (1 s) even without notifications.
        let records = tokio::time::timeout(std::time::Duration::from_secs(20), follower.next()).await.unwrap().unwrap();
        seen.extend(records.into_iter().map(|record| (record.instance, record.seq, record.event_id)));
    }
    // What was appended before following is not handed out; the rest once each, in seq order per instance.
    for instance in [INSTANCE, "eu-de", "jp-tok"] {
        let of = |list: &[(String, u64, String)]| -> Vec<(u64, String)> {
            list.iter().filter(|(at, ..)| at == instance).map(|(_, seq, id)| (*seq, id.clone())).collect()
        };
        assert_eq!(of(&seen), of(&expected), "{instance}");
    }
    assert_eq!(seen.len(), expected.len());
    assert_eq!(seen.iter().filter(|(at, ..)| at == INSTANCE).map(|(_, seq, _)| *seq).min(), Some(4));
    drop(follower);
    node_a.close().await;
    node_b.close().await;
}

/// Appends one record to `instance` the way a node does, in one transaction under the head row's lock, but
/// sends no notification: what a follower sees of a batch whose notification was lost. Returns its seq.
async fn write_without_notifying(url: &str, instance: &str, event_id: &str) -> u64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO log_heads VALUES ($1, 0, 0) ON CONFLICT DO NOTHING")
        .bind(instance)
        .execute(&mut *tx)
        .await
        .unwrap();
    let last: i64 = sqlx::query_scalar("SELECT last_seq FROM log_heads WHERE instance = $1 FOR UPDATE")
        .bind(instance)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let now = acta_store::log::system_clock_ns();
    sqlx::query(
        "INSERT INTO log_records (instance, seq, day, received_ns, stream, account, event_id, event)
         VALUES ($1, $2, $3, $4, 'node-x', 'acme', $5, $6)",
    )
    .bind(instance)
    .bind(last + 1)
    .bind(i32::try_from(now / 86_400_000_000_000).unwrap())
    .bind(now)
    .bind(event_id)
    .bind(b"{}".to_vec())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("UPDATE log_heads SET last_seq = $2, last_received_ns = $3 WHERE instance = $1")
        .bind(instance)
        .bind(last + 1)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    pool.close().await;
    u64::try_from(last + 1).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_reads_a_large_backlog_in_steps_each_record_once_in_order() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let clock: Arc<dyn Fn() -> i64 + Send + Sync> = Arc::new(acta_store::log::system_clock_ns);
    let node_a = PgLog::connect(&server.url, node_options("node-a", clock.clone())).await.unwrap();
    let node_b = PgLog::connect(&server.url, node_options("node-b", clock)).await.unwrap();
    let mut follower = node_b.follow().await.unwrap();
    for batch in 0..21 {
        node_a.append(INSTANCE, (0..500).map(|n| record(0, batch, n)).collect()).await.unwrap();
    }
    let mut seqs = Vec::new();
    while seqs.len() < 10_500 {
        let records = tokio::time::timeout(std::time::Duration::from_secs(20), follower.next()).await.unwrap().unwrap();
        // A read holds at most 10,000 records, however far behind the follower is.
        assert!(records.len() <= 10_000, "{} records at once", records.len());
        seqs.extend(records.iter().map(|record| record.seq));
    }
    assert_eq!(seqs, (1..=10_500).collect::<Vec<u64>>());
    drop(follower);
    node_a.close().await;
    node_b.close().await;
}

fn system_clock() -> Arc<dyn Fn() -> i64 + Send + Sync> {
    Arc::new(acta_store::log::system_clock_ns)
}

fn event(id: &str, outcome: &str) -> NewRecord {
    let event = format!("{{\"id\":\"{id}\",\"action\":\"iam.login\",\"outcome\":\"{outcome}\"}}");
    NewRecord { account: "acme".into(), event_id: id.into(), event: event.into_bytes() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_events_sent_to_two_nodes_at_once_are_stored_once_in_the_account() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let node_a = Arc::new(PgLog::connect(&server.url, node_options("node-a", system_clock())).await.unwrap());
    let node_b = Arc::new(PgLog::connect(&server.url, node_options("node-b", system_clock())).await.unwrap());
    let batches: Vec<Vec<NewRecord>> =
        (0..40).map(|batch| (0..25).map(|n| event(&format!("{batch}-{n}"), "success")).collect()).collect();

    // Each batch goes to both nodes at the same moment, for two instances of the account (as a shipper retrying
    // on another node would send it).
    let mut sends = Vec::new();
    for (node, instance) in [(node_a, "us-south"), (node_b, "eu-de")] {
        let batches = batches.clone();
        sends.push(tokio::spawn(async move {
            let mut stored = Vec::new();
            for batch in batches {
                stored.extend(node.append_new("acme", instance, batch, Duplicates::SameContent).await.unwrap());
            }
            stored
        }));
    }
    let mut new_ids = Vec::new();
    for send in sends {
        for stored in send.await.unwrap() {
            if let Stored::New { id, id_reused, .. } = stored {
                assert!(!id_reused, "{id}");
                new_ids.push(id);
            }
        }
    }

    new_ids.sort();
    let mut expected: Vec<String> = batches.iter().flatten().map(|record| record.event_id.clone()).collect();
    expected.sort();
    assert_eq!(new_ids, expected, "each event stored by exactly one of the nodes");
    let reader = PgLog::connect(&server.url, node_options("reader", system_clock())).await.unwrap();
    let mut held = Vec::new();
    for instance in ["us-south", "eu-de"] {
        let records = reader.records(instance, 0, u64::MAX).await.unwrap();
        let seqs: Vec<u64> = records.iter().map(|record| record.seq).collect();
        assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>(), "gapless seqs in {instance}");
        held.extend(records.into_iter().map(|record| record.event_id));
    }
    held.sort();
    assert_eq!(held, expected, "the log holds each event once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_id_with_other_content_on_another_node_is_stored_and_said_to_reuse_its_id() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let node_a = PgLog::connect(&server.url, node_options("node-a", system_clock())).await.unwrap();
    let node_b = PgLog::connect(&server.url, node_options("node-b", system_clock())).await.unwrap();
    node_a.append_new("acme", INSTANCE, vec![event("call-1", "pending")], Duplicates::SameContent).await.unwrap();

    let outcome = node_b
        .append_new(
            "acme",
            INSTANCE,
            vec![event("call-1", "success"), event("call-1", "pending")],
            Duplicates::SameContent,
        )
        .await
        .unwrap();
    let other_account = NewRecord { account: "globex".into(), ..event("call-1", "pending") };
    let elsewhere =
        node_b.append_new("globex", "globex-eu", vec![other_account], Duplicates::SameContent).await.unwrap();

    assert!(matches!(&outcome[0], Stored::New { seq: 2, id_reused: true, .. }), "{outcome:?}");
    assert_eq!(outcome[1], Stored::Duplicate { id: "call-1".into() });
    assert!(matches!(&elsewhere[0], Stored::New { seq: 1, id_reused: false, .. }), "another account: {elsewhere:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_event_whose_id_is_held_is_not_stored_again_whatever_its_content() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let node_a = PgLog::connect(&server.url, node_options("node-a", system_clock())).await.unwrap();
    let node_b = PgLog::connect(&server.url, node_options("node-b", system_clock())).await.unwrap();
    node_a.append_new("acme", INSTANCE, vec![event("retention-1", "success")], Duplicates::SameId).await.unwrap();

    let again = node_b.append_new("acme", INSTANCE, vec![event("retention-1", "failure")], Duplicates::SameId).await;

    assert_eq!(again.unwrap(), vec![Stored::Duplicate { id: "retention-1".into() }]);
    assert_eq!(node_b.last_seq(INSTANCE).await.unwrap(), 1);
}
