//! The delivery worker of the durable outbox.
//!
//! Notifications are rows (`alert_outbox`) written in the firing's transaction, before anything is sent. The
//! worker takes the due ones, sends them concurrently, and records each attempt together with the row's new
//! state in one transaction: delivered, pending again with the next attempt time (exponential backoff), or
//! failed for good (a refusal that will not change, or too many attempts). After a crash, pending rows are
//! simply due again; a notification sent but not yet recorded when the process died is sent once more, with
//! the same `X-Acta-Delivery` id (at-least-once, with what a receiver needs to make it exactly-once).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acta_store::{AttemptOutcome, Delivery, Store};
use serde_json::Value;

use crate::notify::{AlertSettings, Alerts, channels};

/// How many due notifications are read at once.
const BATCH: i64 = 256;

/// Longest sleep between two looks at the outbox, so a row due later than planned (a clock change, a row
/// written by another process) is never forgotten.
const POLL: Duration = Duration::from_secs(1);

/// How long the server's stop waits for the sends in progress (within the 3 s it gives the worker).
const SENDS_AT_STOP: Duration = Duration::from_secs(2);

/// Runs until `stopping` becomes true. Each notification is sent by its own task, so a slow receiver (up to
/// the send timeout) never holds up the others.
pub(crate) async fn run(store: Arc<Store>, alerts: Arc<Alerts>, mut stopping: tokio::sync::watch::Receiver<bool>) {
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    // Sent and recorded; leave `in_flight` only before the next read of the outbox: a read begun before the
    // record committed may still list them as pending, and would send them a second time.
    let finished: Arc<Mutex<Vec<String>>> = Arc::default();
    // The sends in progress: the server's stop waits for them, as they hold the store.
    let mut sending = tokio::task::JoinSet::new();
    loop {
        while sending.try_join_next().is_some() {}
        if *stopping.borrow() {
            return end_sends(sending).await;
        }
        let done: Vec<String> = finished.lock().map(|mut done| std::mem::take(&mut *done)).unwrap_or_default();
        if let Ok(mut set) = in_flight.lock() {
            for id in &done {
                set.remove(id);
            }
        }
        let now = crate::clock::now_ns();
        let due = match store.meta().due_deliveries(now, BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "reading the alert outbox");
                Vec::new()
            }
        };
        for (delivery, message) in due {
            let newly = in_flight.lock().map(|mut set| set.insert(delivery.id.clone())).unwrap_or(false);
            if !newly {
                continue;
            }
            let (store, alerts, finished) = (store.clone(), alerts.clone(), finished.clone());
            sending.spawn(async move {
                let id = delivery.id.clone();
                deliver(&store, &alerts, delivery, message).await;
                if let Ok(mut done) = finished.lock() {
                    done.push(id);
                }
                // A failed attempt may be due again soon: look at the outbox again.
                alerts.outbox_wake.notify_one();
            });
        }
        // Rows due now are being sent; their tasks wake the loop when they finish.
        let now = crate::clock::now_ns();
        let sleep = match store.meta().next_delivery_due().await {
            Ok(Some(due)) if due > now => Duration::from_nanos(u64::try_from(due - now).unwrap_or(0)).min(POLL),
            _ => POLL,
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep.max(Duration::from_millis(5))) => {}
            _ = alerts.outbox_wake.notified() => {}
            () = super::stopped(&mut stopping) => return end_sends(sending).await,
        }
    }
}

/// Lets the sends in progress finish (their attempts recorded), briefly; then stops the rest, whose rows are
/// still pending and are sent again at the next start (at least once). A send holds the store: a server that
/// stopped with one still running could not be started again on its data directory in the same process.
async fn end_sends(mut sending: tokio::task::JoinSet<()>) {
    let drained = tokio::time::timeout(SENDS_AT_STOP, async { while sending.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(sends = sending.len(), "notification sends still running at stop; they are sent again at start");
        sending.shutdown().await;
    }
}

async fn deliver(store: &Store, alerts: &Alerts, delivery: Delivery, message: Value) {
    let settings = &alerts.settings;
    let started = std::time::Instant::now();
    let result = channels::send(settings, &delivery.channel, &message, &delivery.id).await;
    let at = acta_cadf::format_time(crate::clock::now_ns());
    let attempt = delivery.attempts + 1;
    let outcome = match result {
        Ok(detail) => {
            tracing::info!(alert = %delivery.alert, delivery = %delivery.id, attempt, elapsed = ?started.elapsed(),
                           %detail, "alert notification delivered");
            AttemptOutcome { ok: true, detail, at, retry_at_ns: None }
        }
        Err(error) => {
            let give_up = !error.retryable || attempt >= i64::from(settings.max_attempts);
            let retry_at_ns = (!give_up).then(|| crate::clock::now_ns().saturating_add(backoff_ns(settings, attempt)));
            tracing::warn!(alert = %delivery.alert, delivery = %delivery.id, attempt, detail = %error.detail,
                           retrying = !give_up, "alert notification not delivered");
            AttemptOutcome { ok: false, detail: error.detail, at, retry_at_ns }
        }
    };
    alerts.notifications.count_attempt(outcome.ok, outcome.retry_at_ns.is_none());
    if let Err(error) = store.meta().record_attempt(&delivery, &outcome).await {
        tracing::error!(%error, delivery = %delivery.id, "recording a delivery attempt");
    }
}

/// The delay before attempt `attempt + 1`: base × 2^(attempt-1), capped.
fn backoff_ns(settings: &AlertSettings, attempt: i64) -> i64 {
    let exponent = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(20);
    let delay = settings.retry_base.saturating_mul(1 << exponent).min(settings.max_retry_delay);
    i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = crate::notify::AlertSettings {
            retry_base: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(10),
            ..Default::default()
        };
        let seconds: Vec<i64> = (1..=6).map(|attempt| backoff_ns(&settings, attempt) / 1_000_000_000).collect();
        assert_eq!(seconds, vec![1, 2, 4, 8, 10, 10]);
    }
}
