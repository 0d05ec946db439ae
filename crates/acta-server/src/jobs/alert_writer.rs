//! The alert engine's writes, off its path: firings (with their outbox rows) and the marks of evaluated windows
//! go to one task that commits everything waiting in one transaction.
//!
//! Why: the engine counts every accepted event on one task. When it waited for each firing's commit (a disk
//! sync, 10-50 ms on a busy disk), 10,000 events/s filled the live bus behind it; it then read the gap from the
//! log, fell further behind, and a notification took seconds. Now a slow sync delays notifications by one
//! commit, and several firings share it.
//!
//! Order and loss: writes are committed in the order the engine made them, in one transaction per batch, so a
//! mark never reaches the database before a firing of an earlier window. A failed commit is tried again, with
//! everything after it, until it succeeds (a full disk: until space returns); a write is never dropped while
//! the process lives. After a crash, what was not committed is evaluated again from the log at the next
//! start, as before: the marks on disk are behind, and `UNIQUE (alert, window)` keeps a firing single.

use std::sync::Arc;
use std::time::Duration;

use acta_store::{NewFiring, Store};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::notify::Alerts;

/// The most writes committed in one transaction, so one commit stays short.
const MAX_BATCH: usize = 1_024;

/// The wait after a failed commit grows to this.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Commits tried once the engine has stopped, before the server's stop gives up on them (the next start
/// evaluates those windows again from the log).
const TRIES_WHEN_STOPPING: u32 = 3;

/// A write of the alert engine.
pub(crate) enum Write {
    /// A firing and its outbox rows.
    Firing(Box<NewFiring>),
    /// Alerts whose windows were evaluated up to `until_ns`: `(alert, until_ns)`.
    Marks(Vec<(String, i64)>),
}

/// Starts the writer. It ends, after committing everything sent, when every sender is dropped.
pub(crate) fn spawn(store: Arc<Store>, alerts: Arc<Alerts>) -> (mpsc::UnboundedSender<Write>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (sender, tokio::spawn(run(store, alerts, receiver)))
}

async fn run(store: Arc<Store>, alerts: Arc<Alerts>, mut writes: mpsc::UnboundedReceiver<Write>) {
    let mut firings: Vec<NewFiring> = Vec::new();
    let mut marks: Vec<(String, i64)> = Vec::new();
    let mut backoff = Duration::from_millis(50);
    let (mut stopping, mut failed) = (false, 0);
    loop {
        if firings.is_empty() && marks.is_empty() {
            match writes.recv().await {
                Some(write) => take(write, &mut firings, &mut marks),
                None => return,
            }
        }
        while firings.len() + marks.len() < MAX_BATCH {
            match writes.try_recv() {
                Ok(write) => take(write, &mut firings, &mut marks),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    stopping = true;
                    break;
                }
            }
        }
        match store.meta().record_firings(&firings, &marks).await {
            Ok(recorded) => {
                let mut woken = false;
                for (firing, recorded) in firings.iter().zip(recorded) {
                    if recorded {
                        tracing::info!(alert = %firing.alert, reason = %firing.reason, count = firing.count,
                                       muted = firing.muted, late = firing.message["late"] == true, "alert fired");
                        woken |= !firing.deliveries.is_empty();
                    }
                }
                if woken {
                    alerts.outbox_wake.notify_one();
                }
                firings.clear();
                marks.clear();
                backoff = Duration::from_millis(50);
                failed = 0;
            }
            Err(error) if stopping && failed + 1 >= TRIES_WHEN_STOPPING => {
                tracing::error!(%error, firings = firings.len(), "alert firings not recorded at stop; the next start \
                                evaluates their windows again from the log");
                return;
            }
            Err(error) => {
                failed += 1;
                tracing::error!(%error, firings = firings.len(), marks = marks.len(),
                                "recording alert firings and marks; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn take(write: Write, firings: &mut Vec<NewFiring>, marks: &mut Vec<(String, i64)>) {
    match write {
        Write::Firing(firing) => firings.push(*firing),
        Write::Marks(moved) => marks.extend(moved),
    }
}
