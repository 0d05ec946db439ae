//! Duplicate detection across nodes: which events of a batch their account already holds, judged inside the
//! batch's transaction (the embedded mode's rules, `index::ids`: the same id and content is a duplicate, the
//! same id with other content is stored and said to reuse its id).
//!
//! Every new (id, content) pair is inserted into `log_event_ids` before the batch's records are: a node taking
//! the same event at the same moment for another instance of the account waits on the row until this
//! transaction ends, then finds it, so the event is stored once whichever nodes it was sent to.

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;

use crate::index::{Duplicates, IdCheck, stored_digest};
use crate::log::NewRecord;

use super::PgLogError;

/// What the account holds of each record, in order: `New`, `Reused` (both to store) or `Duplicate`. The new
/// pairs are recorded in `log_event_ids` (rolled back with the transaction if the batch fails).
pub(super) async fn check(
    connection: &mut PgConnection,
    account: &str,
    instance: &str,
    day: i32,
    records: &[NewRecord],
    duplicates: Duplicates,
) -> Result<Vec<IdCheck>, PgLogError> {
    let digests: Vec<Vec<u8>> = records.iter().map(|record| stored_digest(&record.event).to_vec()).collect();
    let ids: Vec<&str> = records.iter().map(|record| record.event_id.as_str()).collect();
    // One index probe per id of the batch (the lateral lookup by the key's prefix): `event_id = ANY($2)` let
    // PostgreSQL keep a plan made while the table was small, a scan of the whole table, and every batch then cost
    // more than the one before (4,500 instead of 17,000 events/s after 50,000 events, docs/benchmarks.md).
    let held: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT held.event_id, held.digest FROM UNNEST($2::text[]) AS batch (event_id)
         CROSS JOIN LATERAL (SELECT event_id, digest FROM log_event_ids
                             WHERE account = $1 AND event_id = batch.event_id) AS held",
    )
    .bind(account)
    .bind(&ids)
    .fetch_all(&mut *connection)
    .await?;
    let mut held_digests: HashMap<&str, HashSet<&[u8]>> = HashMap::new();
    for (id, digest) in &held {
        held_digests.entry(id.as_str()).or_default().insert(digest.as_slice());
    }
    // Judged in order, each against what the account held and what the batch stores before it.
    let mut checks = Vec::with_capacity(records.len());
    let mut batch: HashMap<&str, HashSet<&[u8]>> = HashMap::new();
    for (id, digest) in ids.iter().zip(&digests) {
        let before: Vec<&HashSet<&[u8]>> = [held_digests.get(id), batch.get(id)].into_iter().flatten().collect();
        let same_id = before.iter().any(|digests| !digests.is_empty());
        let same_content = before.iter().any(|digests| digests.contains(digest.as_slice()));
        let check = match duplicates {
            Duplicates::SameId if same_id => IdCheck::Duplicate,
            Duplicates::SameContent if same_content => IdCheck::Duplicate,
            _ if same_id => IdCheck::Reused,
            _ => IdCheck::New,
        };
        if check != IdCheck::Duplicate {
            batch.entry(id).or_default().insert(digest.as_slice());
        }
        checks.push(check);
    }
    // The pairs to record, in one order on every node, so two batches waiting on each other's rows cannot
    // each hold what the other waits for.
    let mut new: Vec<(&str, &[u8])> = ids
        .iter()
        .zip(&digests)
        .zip(&checks)
        .filter(|(_, check)| **check != IdCheck::Duplicate)
        .map(|((id, digest), _)| (*id, digest.as_slice()))
        .collect();
    new.sort_unstable();
    if new.is_empty() {
        return Ok(checks);
    }
    let (new_ids, new_digests): (Vec<&str>, Vec<&[u8]>) = new.into_iter().unzip();
    let inserted: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "INSERT INTO log_event_ids (account, event_id, digest, instance, day)
         SELECT $1, event_id, digest, $4, $5 FROM UNNEST($2::text[], $3::bytea[]) AS pairs (event_id, digest)
         ON CONFLICT DO NOTHING RETURNING event_id, digest",
    )
    .bind(account)
    .bind(&new_ids)
    .bind(&new_digests)
    .bind(instance)
    .bind(day)
    .fetch_all(&mut *connection)
    .await?;
    if inserted.len() < new_ids.len() {
        // Another node committed the same event since the read above: it is stored there.
        let inserted: HashSet<(&str, &[u8])> =
            inserted.iter().map(|(id, digest)| (id.as_str(), digest.as_slice())).collect();
        for ((id, digest), check) in ids.iter().zip(&digests).zip(checks.iter_mut()) {
            if *check != IdCheck::Duplicate && !inserted.contains(&(*id, digest.as_slice())) {
                *check = IdCheck::Duplicate;
            }
        }
    }
    Ok(checks)
}
