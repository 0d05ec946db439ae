//! The alert engine: one task that sees every accepted event on the live bus and keeps, per alert, the count of
//! the current window.
//!
//! Windows are consecutive, `[anchor + k·w, anchor + (k+1)·w)`, by arrival time; the anchor is when the alert's
//! condition was last set, so a fresh alert starts a fresh window. Immediate presence fires when the Nth match
//! of a window arrives (once per window); when a window ends, at-end presence fires if it reached N and had not
//! fired, absence fires if it stayed below N. The `UNIQUE (alert, window)` firing row makes "at most once per
//! window" hold across restarts.
//!
//! Restart: window state is not persisted; it is recounted from the log. At start the engine notes each
//! instance's last durable seq, replays the records that arrived since the start of each alert's oldest
//! window still to be evaluated (the current one, and the previous one if its end passed while Acta was
//! down), then takes live events with higher seqs only. The log is exact and ordered by arrival, which the
//! index (ordered by eventTime and committed about once a second) is not. Windows wholly inside a downtime are
//! not evaluated.
//!
//! The bus is how events arrive quickly, the log is what is counted: the engine keeps, per instance, the last
//! seq it counted. An event whose seq is not the next one (the bus delivered a later batch first) and a bus that
//! dropped events because the engine fell behind it are both answered by reading the missing records from the
//! log, so every durable event is counted once, in its instance's order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use acta_query::{Compiled, PreparedEvent};
use acta_store::{Alert, NewFiring, Store, View};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::notify::Alerts;
use acta_store::{InstanceScope, LiveEvent, Record};

/// Matching events kept per window, for the notification.
const MAX_SAMPLES: usize = 10;

/// How long after its end a window is closed by the timer. An event's arrival time is assigned when the log
/// appends it, a little before the engine sees it on the bus; closing a window the instant its end passes would
/// drop an event that arrived just before the end but reached the engine just after. (A later event closes
/// the window at once, by its own arrival time, so immediate firings never wait for this.)
const LATE_EVENT_GRACE_NS: i64 = 250_000_000;

struct Window {
    start: i64,
    end: i64,
    count: i64,
    fired: bool,
    samples: Vec<Value>,
}

struct Runtime {
    alert: Alert,
    view: View,
    compiled: Compiled,
    window_ns: i64,
    window: Window,
}

impl Runtime {
    fn new(alert: Alert, view: View, divisor: u32) -> Option<Runtime> {
        let query = match acta_query::parse(&view.query) {
            Ok(query) => query,
            Err(error) => {
                tracing::error!(alert = %alert.id, %error, "the view's query no longer parses; alert skipped");
                return None;
            }
        };
        let nominal = alert.window_secs.saturating_mul(1_000_000_000);
        let window_ns = (nominal / i64::from(divisor.max(1))).max(1_000_000);
        let window = Window { start: 0, end: 0, count: 0, fired: false, samples: Vec::new() };
        let mut runtime = Runtime { compiled: Compiled::new(&query), alert, view, window_ns, window };
        runtime.window = runtime.window_at(crate::clock::now_ns());
        Some(runtime)
    }

    /// The (empty) window holding time `at`.
    fn window_at(&self, at: i64) -> Window {
        let k = (at - self.alert.anchor_ns).div_euclid(self.window_ns);
        let start = self.alert.anchor_ns + k * self.window_ns;
        Window { start, end: start + self.window_ns, count: 0, fired: false, samples: Vec::new() }
    }
}

struct Engine {
    store: Arc<Store>,
    alerts: Arc<Alerts>,
    by_account: HashMap<String, Vec<Runtime>>,
    /// Per instance, the last seq counted (or skipped as replayed).
    counted: HashMap<String, u64>,
}

/// Runs the engine until the server stops. `live` must have subscribed before the server accepts events.
pub(crate) async fn run(
    store: Arc<Store>,
    alerts: Arc<Alerts>,
    mut live: broadcast::Receiver<Arc<LiveEvent>>,
    mut reloads: mpsc::Receiver<oneshot::Sender<()>>,
    mut stopping: watch::Receiver<bool>,
) {
    let mut engine = Engine { store, alerts, by_account: HashMap::new(), counted: HashMap::new() };
    engine.load(true).await;
    engine.replay().await;
    engine.tick(crate::clock::now_ns()).await;
    loop {
        let now = crate::clock::now_ns();
        let next_end = engine.by_account.values().flatten().map(|runtime| runtime.window.end).min();
        let wait = next_end.map_or(Duration::from_secs(1), |end| {
            Duration::from_nanos(u64::try_from(end + LATE_EVENT_GRACE_NS - now).unwrap_or(0))
                .clamp(Duration::from_millis(1), Duration::from_secs(1))
        });
        tokio::select! {
            biased;
            () = super::stopped(&mut stopping) => return,
            Some(reply) = reloads.recv() => {
                engine.load(false).await;
                let _ = reply.send(());
            }
            next = live.recv() => match next {
                Ok(event) => engine.follow(&event).await,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the alert engine fell behind the live bus; reading those events from the log");
                    engine.catch_up().await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(wait) => engine.tick(crate::clock::now_ns()).await,
        }
    }
}

impl Engine {
    /// (Re)loads alert definitions. A reloaded alert keeps its window unless its anchor moved (its condition
    /// changed). At start, an alert whose previous window ended unevaluated starts from that window.
    async fn load(&mut self, at_start: bool) {
        let definitions = match self.store.meta().all_alerts_with_views().await {
            Ok(definitions) => definitions,
            Err(error) => {
                tracing::error!(%error, "loading alerts");
                return;
            }
        };
        let divisor = self.alerts.settings.window_divisor;
        let mut old: HashMap<String, Runtime> =
            self.by_account.drain().flat_map(|(_, runtimes)| runtimes).map(|r| (r.alert.id.clone(), r)).collect();
        let now = crate::clock::now_ns();
        for (alert, view) in definitions {
            let previous = old.remove(&alert.id).filter(|runtime| runtime.alert.anchor_ns == alert.anchor_ns);
            let Some(mut runtime) = Runtime::new(alert, view, divisor) else {
                continue;
            };
            if let Some(previous) = previous {
                runtime.alert.evaluated_until_ns =
                    runtime.alert.evaluated_until_ns.max(previous.alert.evaluated_until_ns);
                runtime.window = previous.window;
            } else if at_start {
                let current = runtime.window_at(now);
                let previous_start = current.start - runtime.window_ns;
                if runtime.alert.evaluated_until_ns < current.start && previous_start >= runtime.alert.anchor_ns {
                    runtime.window = runtime.window_at(previous_start);
                }
            }
            self.by_account.entry(runtime.alert.account.clone()).or_default().push(runtime);
        }
    }

    /// Replays, from the log, what arrived since each account's oldest open window started, up to each
    /// instance's last seq at this moment (from which live events are counted).
    async fn replay(&mut self) {
        let log = self.store.log().clone();
        let marks: HashMap<String, u64> =
            log.instances().into_iter().map(|instance| (instance.clone(), log.last_seq(&instance))).collect();
        let accounts: Vec<(String, i64, Vec<String>)> = self
            .by_account
            .iter()
            .filter_map(|(account, runtimes)| {
                let from = runtimes.iter().map(|runtime| runtime.window.start).min()?;
                let queries = runtimes.iter().map(|runtime| runtime.view.query.clone()).collect();
                Some((account.clone(), from, queries))
            })
            .collect();
        let mut replayed = 0usize;
        for (account, from, queries) in accounts {
            let instances = match self.store.meta().instances(&account).await {
                Ok(instances) => instances,
                Err(error) => {
                    tracing::error!(%error, %account, "listing instances for the alert replay");
                    continue;
                }
            };
            let scopes: Vec<(String, String, u64)> = instances
                .iter()
                .map(|instance| {
                    (instance.id.clone(), instance.region.clone(), marks.get(&instance.id).copied().unwrap_or(0))
                })
                .collect();
            let log = log.clone();
            let scan_account = account.clone();
            let scanned =
                tokio::task::spawn_blocking(move || scan_matching(&log, &scan_account, &scopes, from, &queries)).await;
            let mut records = match scanned {
                Ok(records) => records,
                Err(error) => {
                    tracing::error!(%error, %account, "alert replay failed");
                    continue;
                }
            };
            records.sort_by_key(|record| (record.received_ns, record.seq));
            for record in &records {
                self.observe(record).await;
            }
            replayed += records.len();
        }
        if replayed > 0 {
            tracing::info!(replayed, "alert windows recounted from the log");
        }
        self.counted = marks;
    }

    /// Counts a live event, after what the log holds before it that the bus has not brought.
    async fn follow(&mut self, event: &LiveEvent) {
        let counted = self.counted.get(&event.instance).copied().unwrap_or(0);
        if event.seq <= counted {
            return;
        }
        if event.seq > counted + 1 && self.by_account.contains_key(&event.account) {
            let missing = self.read_log(vec![(event.instance.clone(), counted, event.seq - 1)]).await;
            for earlier in &missing {
                self.observe(earlier).await;
            }
        }
        self.counted.insert(event.instance.clone(), event.seq);
        self.observe(event).await;
    }

    /// Counts, from the log, everything durable the bus dropped: every instance up to its last durable seq, in
    /// arrival order across instances.
    async fn catch_up(&mut self) {
        let log = self.store.log().clone();
        let ranges: Vec<(String, u64, u64)> = log
            .instances()
            .into_iter()
            .filter_map(|instance| {
                let counted = self.counted.get(&instance).copied().unwrap_or(0);
                let durable = log.last_seq(&instance);
                (durable > counted).then_some((instance, counted, durable))
            })
            .collect();
        let ends: Vec<(String, u64)> =
            ranges.iter().map(|(instance, _, durable)| (instance.clone(), *durable)).collect();
        let mut missing = self.read_log(ranges).await;
        missing.sort_by_key(|event| (event.received_ns, event.seq));
        for event in &missing {
            self.observe(event).await;
        }
        self.counted.extend(ends);
    }

    /// The records of each `(instance, after, through)` with `after < seq <= through`, as events, for the
    /// instances of accounts that have alerts (the others are skipped unread).
    async fn read_log(&self, ranges: Vec<(String, u64, u64)>) -> Vec<LiveEvent> {
        let instances = match self.store.meta().all_instances().await {
            Ok(instances) => instances,
            Err(error) => {
                tracing::error!(%error, "listing instances to read the log for the alert engine");
                return Vec::new();
            }
        };
        let scopes: Vec<(InstanceScope, u64, u64)> = ranges
            .into_iter()
            .filter_map(|(id, after, through)| {
                let instance = instances.iter().find(|instance| instance.id == id)?;
                self.by_account.contains_key(&instance.account).then(|| {
                    let scope = InstanceScope {
                        instance: id,
                        account: instance.account.clone(),
                        region: instance.region.clone(),
                    };
                    (scope, after, through)
                })
            })
            .collect();
        let log = self.store.log().clone();
        let read = tokio::task::spawn_blocking(move || {
            scopes
                .iter()
                .flat_map(|(scope, after, through)| {
                    read_records(&log, &scope.instance, *after, *through, None)
                        .into_iter()
                        .filter_map(|record| LiveEvent::of_record(scope, record))
                })
                .collect::<Vec<_>>()
        })
        .await;
        read.unwrap_or_else(|error| {
            tracing::error!(%error, "reading the log for the alert engine");
            Vec::new()
        })
    }

    /// Counts an event in every alert of its account whose query it matches.
    async fn observe(&mut self, seen: &LiveEvent) {
        let Some(runtimes) = self.by_account.get_mut(&seen.account) else {
            return;
        };
        let mut to_fire = Vec::new();
        seen.with_view(|view| {
            // The event is tokenized once for all alerts of the account.
            let prepared = PreparedEvent::new(*view);
            for (index, runtime) in runtimes.iter_mut().enumerate() {
                if seen.received_ns >= runtime.window.end {
                    // Whether it matches is asked in its own window, once the current one is closed.
                    to_fire.push((index, true, runtime.compiled.matches(&prepared)));
                    continue;
                }
                if seen.received_ns >= runtime.window.start && runtime.compiled.matches(&prepared) {
                    to_fire.push((index, false, true));
                }
            }
        });
        for (index, closes_window, matches) in to_fire {
            let Some(runtime) = self.by_account.get_mut(&seen.account).and_then(|r| r.get_mut(index)) else {
                continue;
            };
            if closes_window {
                close_window(&self.store, &self.alerts, runtime, seen.received_ns).await;
                // Now in the event's window: count it there if it matches.
                if !matches {
                    continue;
                }
            }
            count_match(&self.store, &self.alerts, runtime, seen).await;
        }
    }

    /// Closes every window that ended at least the grace period before `now`.
    async fn tick(&mut self, now: i64) {
        let horizon = now - LATE_EVENT_GRACE_NS;
        for runtime in self.by_account.values_mut().flatten() {
            if horizon >= runtime.window.end {
                close_window(&self.store, &self.alerts, runtime, horizon).await;
            }
        }
    }
}

async fn count_match(store: &Store, alerts: &Alerts, runtime: &mut Runtime, seen: &LiveEvent) {
    runtime.window.count += 1;
    if runtime.window.samples.len() < MAX_SAMPLES {
        let mut event = (*seen.value).clone();
        if let Value::Object(object) = &mut event {
            object.insert(
                "_acta".to_string(),
                json!({"id": seen.id, "instance": seen.instance, "received": acta_cadf::format_time(seen.received_ns),
                       "received_ns": seen.received_ns}),
            );
        }
        runtime.window.samples.push(event);
    }
    let alert = &runtime.alert;
    if alert.kind == "presence" && alert.immediate && !runtime.window.fired && runtime.window.count >= alert.threshold {
        let window = (runtime.window.start, runtime.window.end);
        fire(store, alerts, runtime, "immediate", Some(window)).await;
        // Fired now or (after a restart) already: either way not again in this window.
        runtime.window.fired = true;
    }
}

/// Runs the end-of-window checks of the current window (once), then moves to the window holding `at`.
async fn close_window(store: &Store, alerts: &Alerts, runtime: &mut Runtime, at: i64) {
    let (start, end) = (runtime.window.start, runtime.window.end);
    if end > runtime.alert.evaluated_until_ns {
        let alert = &runtime.alert;
        let reason = match alert.kind.as_str() {
            "presence" if alert.at_end && !runtime.window.fired && runtime.window.count >= alert.threshold => {
                Some("at_end")
            }
            "absence" if runtime.window.count < alert.threshold => Some("absence"),
            _ => None,
        };
        let recorded = match reason {
            Some(reason) => fire(store, alerts, runtime, reason, Some((start, end))).await,
            None => false,
        };
        // Only end-of-window checks need to remember how far they ran (an immediate-only alert has none).
        let checks_at_end = runtime.alert.kind == "absence" || runtime.alert.at_end;
        if !recorded
            && checks_at_end
            && let Err(error) = store.meta().set_alert_evaluated(&runtime.alert.id, end).await
        {
            tracing::error!(%error, alert = %runtime.alert.id, "recording an evaluated window");
        }
        runtime.alert.evaluated_until_ns = end;
    }
    runtime.window = runtime.window_at(at);
}

fn muted(alert: &Alert, now: i64) -> bool {
    alert.muted_until.as_deref().and_then(|text| acta_cadf::parse_time(text).ok()).is_some_and(|until| until > now)
}

/// What a firing's notifications say; kept with the firing, so deliveries and history show the same thing.
fn message(runtime: &Runtime, firing: &str, reason: &str, window: Option<(i64, i64)>) -> Value {
    let alert = &runtime.alert;
    json!({
        "firing": firing,
        "alert": {"id": alert.id, "name": alert.name},
        "view": {"id": runtime.view.id, "name": runtime.view.name, "query": runtime.view.query},
        "kind": alert.kind,
        "reason": reason,
        "threshold": alert.threshold,
        "count": runtime.window.count,
        "window": {
            "length": crate::notify::window_text(alert.window_secs),
            "start": window.map(|window| window.0),
            "end": window.map(|window| window.1),
        },
        "timezone": alert.timezone,
        "matches": runtime.window.samples,
    })
}

/// Records a firing with one outbox row per channel (none when muted) in one transaction and wakes the
/// delivery worker. Returns whether a firing was recorded (false: this window already fired, or an error).
async fn fire(store: &Store, alerts: &Alerts, runtime: &Runtime, reason: &str, window: Option<(i64, i64)>) -> bool {
    let now = crate::clock::now_ns();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let is_muted = reason != "test" && muted(&runtime.alert, now);
    let deliveries = if is_muted {
        Vec::new()
    } else {
        let channels = runtime.alert.channels.as_array().cloned().unwrap_or_default();
        channels.into_iter().map(|channel| (uuid::Uuid::now_v7().simple().to_string(), channel)).collect()
    };
    let firing = NewFiring {
        id: id.clone(),
        alert: runtime.alert.id.clone(),
        account: runtime.alert.account.clone(),
        reason: reason.to_string(),
        window,
        count: runtime.window.count,
        muted: is_muted,
        fired_at: acta_cadf::format_time(now),
        message: message(runtime, &id, reason, window),
        deliveries,
        due_ns: now,
    };
    match store.meta().record_firing(&firing).await {
        Ok(true) => {
            tracing::info!(alert = %runtime.alert.id, reason, count = firing.count, muted = is_muted, "alert fired");
            alerts.outbox_wake.notify_one();
            true
        }
        Ok(false) => false,
        Err(error) => {
            tracing::error!(%error, alert = %runtime.alert.id, "recording a firing");
            false
        }
    }
}

/// `POST /v1/alerts/{id}/test`: a firing outside any window, sent on every channel even when muted.
pub(crate) async fn fire_test(store: &Store, alerts: &Alerts, alert: Alert, view: View) -> Option<String> {
    let runtime = Runtime::new(alert, view, alerts.settings.window_divisor)?;
    let now = crate::clock::now_ns();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let channels = runtime.alert.channels.as_array().cloned().unwrap_or_default();
    let firing = NewFiring {
        id: id.clone(),
        alert: runtime.alert.id.clone(),
        account: runtime.alert.account.clone(),
        reason: "test".to_string(),
        window: None,
        count: 0,
        muted: false,
        fired_at: acta_cadf::format_time(now),
        message: message(&runtime, &id, "test", None),
        deliveries: channels.into_iter().map(|channel| (uuid::Uuid::now_v7().simple().to_string(), channel)).collect(),
        due_ns: now,
    };
    match store.meta().record_firing(&firing).await {
        Ok(_) => {
            alerts.outbox_wake.notify_one();
            Some(id)
        }
        Err(error) => {
            tracing::error!(%error, "recording a test firing");
            None
        }
    }
}

/// Reads the account's records that arrived at or after `from` (up to each instance's mark) and keeps those
/// matching at least one of `queries`: matches are few, the records of a day may be many.
fn scan_matching(
    log: &acta_store::Log,
    account: &str,
    scopes: &[(String, String, u64)],
    from: i64,
    queries: &[String],
) -> Vec<LiveEvent> {
    let compiled: Vec<Compiled> =
        queries.iter().filter_map(|query| acta_query::parse(query).ok()).map(|query| Compiled::new(&query)).collect();
    let mut kept = Vec::new();
    for (instance, region, mark) in scopes {
        let scope = InstanceScope { instance: instance.clone(), account: account.to_string(), region: region.clone() };
        for record in read_records(log, instance, 0, *mark, Some(from)) {
            let Some(event) = LiveEvent::of_record(&scope, record) else {
                continue;
            };
            if event.with_view(|view| compiled.iter().any(|query| query.matches(&PreparedEvent::new(*view)))) {
                kept.push(event);
            }
        }
    }
    kept
}

/// An instance's records with `after < seq <= through` (and, when given, that arrived at or after `from`), in
/// seq order. A read error ends the read where it happened, logged: what was read before it is counted.
fn read_records(log: &acta_store::Log, instance: &str, after: u64, through: u64, from: Option<i64>) -> Vec<Record> {
    let from_day = from.map(acta_store::Day::from_ns);
    let mut records = Vec::new();
    for segment in log.segments(instance) {
        if segment.last_seq <= after || from_day.is_some_and(|day| segment.day < day) {
            continue;
        }
        if segment.first_seq > through {
            break;
        }
        let scan = match log.scan(instance, segment.day, (after + 1).max(segment.first_seq)) {
            Ok(scan) => scan,
            Err(error) => {
                tracing::error!(%error, %instance, "scanning the log for the alert engine");
                return records;
            }
        };
        for record in scan {
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    tracing::error!(%error, %instance, "reading the log for the alert engine");
                    return records;
                }
            };
            if record.seq > through {
                return records;
            }
            if from.is_none_or(|from| record.received_ns >= from) {
                records.push(record);
            }
        }
    }
    records
}
