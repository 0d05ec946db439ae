//! Following the log from any node: what every node appends, in seq order per instance, soon after its commit
//! (live tail and the alert engine on a node that did not take the events).
//!
//! A batch's transaction sends `NOTIFY acta_log, '<instance>'`, which PostgreSQL delivers only if it commits. A
//! notification only says where to look: the follower reads the instance's records after its own cursor, so
//! notifications merged or lost (PostgreSQL drops them for a listener whose connection broke) lose nothing; and a
//! follower that hears nothing for [`POLL`] compares every head with its cursors.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::log::Record;

use super::{PgLog, PgLogError, seq_of};

/// The channel a batch's commit notifies, with its instance as the payload.
pub(super) const CHANNEL: &str = "acta_log";

/// How long a follower waits for a notification before it looks at the heads itself.
const POLL: Duration = Duration::from_secs(1);

/// A node's view of every instance's new records: from the heads at the time it started.
pub struct Follower<'a> {
    log: &'a PgLog,
    /// Instances notified by the listening task; `None` when its connection broke (notifications lost).
    notified: mpsc::UnboundedReceiver<Option<String>>,
    /// The task that owns the listening connection: waiting on it directly could not be given up after
    /// [`POLL`] without cancelling a read of the connection half way.
    listening: JoinHandle<()>,
    /// Per instance, the last seq handed out.
    cursors: HashMap<String, u64>,
    /// Instances with records after their cursor not yet read (a read stops at [`READ_AT_ONCE`]).
    unfinished: Vec<String>,
}

/// Most records read for one instance at a time: a follower that was away reads its backlog in steps.
const READ_AT_ONCE: u64 = 10_000;

impl PgLog {
    /// Starts following the log: records committed from now on, by any node.
    pub async fn follow(&self) -> Result<Follower<'_>, PgLogError> {
        self.follow_after(None).await
    }

    /// Starts following the log after `cursors` (per instance, the last seq this node holds; an instance it does
    /// not name is read from its first record): what is already past them is read first, then what commits.
    pub async fn follow_from(&self, cursors: HashMap<String, u64>) -> Result<Follower<'_>, PgLogError> {
        self.follow_after(Some(cursors)).await
    }

    async fn follow_after(&self, cursors: Option<HashMap<String, u64>>) -> Result<Follower<'_>, PgLogError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        // Listening before reading the heads: a batch committed in between is after the cursor and notified.
        let heads = self.heads().await?;
        let (cursors, unfinished) = match cursors {
            None => (heads, Vec::new()),
            Some(cursors) => {
                let behind = behind(&heads, &cursors);
                (cursors, behind)
            }
        };
        let (sender, notified) = mpsc::unbounded_channel();
        let listening = tokio::spawn(async move {
            loop {
                let notice = match listener.try_recv().await {
                    Ok(Some(notification)) => Some(notification.payload().to_owned()),
                    // The connection broke (it is made again on the next call), or failed: the heads tell.
                    Ok(None) => None,
                    Err(_) => {
                        tokio::time::sleep(POLL).await;
                        None
                    }
                };
                if sender.send(notice).is_err() {
                    break;
                }
            }
        });
        Ok(Follower { log: self, notified, listening, cursors, unfinished })
    }

    /// Every instance's last seq.
    pub(crate) async fn heads(&self) -> Result<HashMap<String, u64>, PgLogError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT instance, last_seq FROM log_heads").fetch_all(&self.pool).await?;
        rows.into_iter().map(|(instance, last)| Ok((instance, seq_of(last)?))).collect()
    }
}

impl Follower<'_> {
    /// The next records committed after this follower's cursors, in seq order per instance: waits until there
    /// are some. A record is handed out once.
    pub async fn next(&mut self) -> Result<Vec<Record>, PgLogError> {
        loop {
            let instances =
                if self.unfinished.is_empty() { self.wait().await? } else { std::mem::take(&mut self.unfinished) };
            let mut records = Vec::new();
            for instance in instances {
                let after = self.cursors.get(&instance).copied().unwrap_or(0);
                let read = self.log.records(&instance, after, after.saturating_add(READ_AT_ONCE)).await?;
                // Seqs have no gap: a full read may have more after it.
                if read.len() as u64 == READ_AT_ONCE {
                    self.unfinished.push(instance.clone());
                }
                if let Some(last) = read.last() {
                    self.cursors.insert(instance, last.seq);
                }
                records.extend(read);
            }
            if !records.is_empty() {
                return Ok(records);
            }
        }
    }

    /// The instances that may have new records: the next notification's, or after [`POLL`] without one, those
    /// whose head is past the cursor.
    async fn wait(&mut self) -> Result<Vec<String>, PgLogError> {
        match tokio::time::timeout(POLL, self.notified.recv()).await {
            Ok(Some(Some(instance))) => Ok(vec![instance]),
            Ok(Some(None)) | Err(_) => self.behind().await,
            // The listening task is gone: the heads alone, once per poll.
            Ok(None) => {
                tokio::time::sleep(POLL).await;
                self.behind().await
            }
        }
    }

    /// The instances whose head is past this follower's cursor.
    async fn behind(&self) -> Result<Vec<String>, PgLogError> {
        let heads = self.log.heads().await?;
        Ok(behind(&heads, &self.cursors))
    }
}

/// The instances whose head is past their cursor (an instance without one is at 0).
fn behind(heads: &HashMap<String, u64>, cursors: &HashMap<String, u64>) -> Vec<String> {
    heads
        .iter()
        .filter(|(instance, last)| cursors.get(*instance).copied().unwrap_or(0) < **last)
        .map(|(instance, _)| instance.clone())
        .collect()
}

impl Drop for Follower<'_> {
    fn drop(&mut self) {
        self.listening.abort();
    }
}
