//! The alert engine: one task that sees every accepted event on the live bus and keeps, per alert, the count of
//! the current window.
//!
//! Windows are consecutive, `[anchor + k·w, anchor + (k+1)·w)`, by arrival time; the anchor is when the alert's
//! condition was last set, so a fresh alert starts a fresh window. Immediate presence fires when the Nth match
//! of a window arrives (once per window); when a window ends, at-end presence fires if it reached N and had not
//! fired, absence fires if it stayed below N. The `UNIQUE (alert, window)` firing row makes "at most once per
//! window" hold across restarts.
//!
//! Firings and marks are recorded by [`alert_writer`], off the engine's path: the engine never waits for a
//! disk sync while events arrive.
//!
//! Restart: window state is not persisted; it is recounted from the log. Each alert's `evaluated_until_ns` (in
//! the metadata database) is the end of the last window whose checks ran; it moves when a window closes,
//! committed after (or with) every firing the engine made before. At start the engine notes each instance's last durable seq,
//! replays the records that arrived since the oldest window still to evaluate (the one after the mark, at most
//! [`MAX_CATCH_UP_WINDOWS`] windows back), closes every window that ended meanwhile, empty ones included (an
//! absence), then takes live events with higher seqs only. The log is exact and ordered by arrival, which the
//! index (ordered by eventTime and committed about once a second) is not.
//!
//! Late firings: a firing whose condition was met before the engine started (a window that ended during the
//! downtime, or an immediate threshold reached by events accepted before a stop) says `late: true`, with when
//! it was evaluated. Every such window gets its own firing row (the history is complete, and the unique row keeps
//! "at most once per window"), but one notification per alert carries them all: the last late firing is sent,
//! with `late_windows` (how many, from when to when), and the others name it in `notified_in`. A day's downtime
//! of a 1-minute absence alert is one page saying 1,440 windows were missed, not 1,440 pages. Windows older than
//! the bound are not evaluated; the late notification and the server's log say which.
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

use super::alert_writer::{self, Write};
use crate::notify::Alerts;
use acta_store::{InstanceScope, LiveEvent, Record};

/// Matching events kept per window, for the notification.
const MAX_SAMPLES: usize = 10;

/// The most windows of one alert evaluated after a downtime (a day of 1-minute windows, 60 days of hourly
/// ones). Older windows are not evaluated: the late notification says how many and which.
const MAX_CATCH_UP_WINDOWS: i64 = 1_440;

/// How often the marks of closed windows are written (in one transaction for all alerts). A mark behind by this
/// much only makes a restart evaluate a window again, which gives the same answer (the log is the same, and
/// a window that fired has its unique row).
const MARK_WRITE_INTERVAL_NS: i64 = 1_000_000_000;

/// How long after its end a window is closed by the timer. An event's arrival time is assigned when the log
/// appends it, a little before the engine sees it on the bus; closing a window the instant its end passes would
/// drop an event that arrived just before the end but reached the engine just after. (A later event closes
/// the window at once, by its own arrival time, so immediate firings never wait for this.)
const LATE_EVENT_GRACE_NS: i64 = 250_000_000;

/// The grace in a cluster, where an event reaches the engine after another node's commit and this node's copy
/// of it (a few milliseconds normally, 6 ms at the median in `acta-cli/tests/cluster.rs`; more under load).
const CLUSTER_LATE_EVENT_GRACE_NS: i64 = 1_000_000_000;

/// How often the engine reloads the alert definitions in a cluster, where they may have changed on another node.
const CLUSTER_RELOAD: Duration = Duration::from_secs(1);

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
    /// Late firings found while catching up at start, recorded together at its end.
    late: Vec<NewFiring>,
    /// Windows ended during a downtime that were not evaluated (beyond the bound): how many, from, to.
    not_evaluated: Option<(i64, i64, i64)>,
    /// The mark as the database holds it; `alert.evaluated_until_ns` is ahead of it until the next write.
    saved_mark: i64,
}

/// What closing windows and firing need besides the alert.
struct Context<'a> {
    /// Where firings go to be recorded, off the engine's path.
    writes: &'a mpsc::UnboundedSender<Write>,
    /// When this engine started: a condition met before it is reported late.
    started_ns: i64,
    /// Late firings are collected rather than recorded (the start-up catch-up).
    catching_up: bool,
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
        let mut runtime = Runtime {
            compiled: Compiled::new(&query),
            alert,
            view,
            window_ns,
            window,
            late: Vec::new(),
            not_evaluated: None,
            saved_mark: i64::MIN,
        };
        runtime.window = runtime.window_at(crate::clock::now_ns());
        Some(runtime)
    }

    /// The (empty) window holding time `at`.
    fn window_at(&self, at: i64) -> Window {
        let k = (at - self.alert.anchor_ns).div_euclid(self.window_ns);
        let start = self.alert.anchor_ns + k * self.window_ns;
        Window { start, end: start + self.window_ns, count: 0, fired: false, samples: Vec::new() }
    }

    /// At start: the oldest window still to evaluate, the one after the alert's mark, at most
    /// [`MAX_CATCH_UP_WINDOWS`] before the current one (the skipped ones are noted).
    fn first_unevaluated(&mut self, now: i64) -> Window {
        let current = self.window_at(now);
        let mark = self.alert.evaluated_until_ns.max(self.alert.anchor_ns);
        let first = self.window_at(mark);
        // A mark exactly at a window's end is that window evaluated: `window_at` gives the next one.
        let missed = (current.start - first.start).div_euclid(self.window_ns);
        if missed <= MAX_CATCH_UP_WINDOWS {
            return if first.start < current.start { first } else { current };
        }
        let oldest = current.start - MAX_CATCH_UP_WINDOWS * self.window_ns;
        tracing::warn!(alert = %self.alert.id, windows = missed - MAX_CATCH_UP_WINDOWS,
                       from = %acta_cadf::format_time(first.start), to = %acta_cadf::format_time(oldest),
                       "windows that ended during the downtime are too many to evaluate; the oldest are not");
        self.not_evaluated = Some((missed - MAX_CATCH_UP_WINDOWS, first.start, oldest));
        self.window_at(oldest)
    }
}

struct Engine {
    store: Arc<Store>,
    alerts: Arc<Alerts>,
    by_account: HashMap<String, Vec<Runtime>>,
    /// Per instance, the last seq counted (or skipped as replayed).
    counted: HashMap<String, u64>,
    started_ns: i64,
    catching_up: bool,
    /// When the marks were last written.
    marks_written_ns: i64,
    /// How long after its end a window is closed by the timer.
    grace_ns: i64,
    writes: mpsc::UnboundedSender<Write>,
}

/// Runs the engine until the server stops. `live` must have subscribed before the server accepts events.
pub(crate) async fn run(
    store: Arc<Store>,
    alerts: Arc<Alerts>,
    mut live: broadcast::Receiver<Arc<LiveEvent>>,
    mut reloads: mpsc::Receiver<oneshot::Sender<()>>,
    mut stopping: watch::Receiver<bool>,
) {
    let started_ns = crate::clock::now_ns();
    let (writes, writer) = alert_writer::spawn(store.clone(), alerts.clone());
    let store_is_cluster = store.is_cluster();
    let mut engine = Engine {
        store,
        alerts,
        writes,
        by_account: HashMap::new(),
        counted: HashMap::new(),
        started_ns,
        catching_up: true,
        marks_written_ns: started_ns,
        grace_ns: if store_is_cluster { CLUSTER_LATE_EVENT_GRACE_NS } else { LATE_EVENT_GRACE_NS },
    };
    engine.load(true).await;
    engine.replay().await;
    engine.tick(crate::clock::now_ns()).await;
    engine.record_late().await;
    // In a cluster, alerts change on any node, and only this one's handlers can ask for a reload.
    let cluster = store_is_cluster;
    let mut cluster_reloads = tokio::time::interval(CLUSTER_RELOAD);
    loop {
        let now = crate::clock::now_ns();
        let next_end = engine.by_account.values().flatten().map(|runtime| runtime.window.end).min();
        let wait = next_end.map_or(Duration::from_secs(1), |end| {
            Duration::from_nanos(u64::try_from(end + engine.grace_ns - now).unwrap_or(0))
                .clamp(Duration::from_millis(1), Duration::from_secs(1))
        });
        tokio::select! {
            biased;
            () = super::stopped(&mut stopping) => {
                engine.write_marks().await;
                break;
            }
            Some(reply) = reloads.recv() => {
                engine.load(false).await;
                let _ = reply.send(());
            }
            _ = cluster_reloads.tick(), if cluster => engine.load(false).await,
            next = live.recv() => match next {
                Ok(event) => engine.follow(&event).await,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the alert engine fell behind the live bus; reading those events from the log");
                    engine.catch_up().await;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = tokio::time::sleep(wait) => engine.tick(crate::clock::now_ns()).await,
        }
        if crate::clock::now_ns() - engine.marks_written_ns >= MARK_WRITE_INTERVAL_NS {
            engine.write_marks().await;
        }
    }
    // The writer ends once it has committed what the engine sent and the engine's sender is gone.
    drop(engine);
    if let Err(error) = writer.await {
        tracing::error!(%error, "the alert writer ended abnormally");
    }
}

impl Engine {
    /// (Re)loads alert definitions. A reloaded alert keeps its window unless its anchor moved (its condition
    /// changed). At start, an alert starts from its oldest window not yet evaluated.
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
            runtime.saved_mark = runtime.alert.evaluated_until_ns;
            if let Some(previous) = previous {
                runtime.alert.evaluated_until_ns =
                    runtime.alert.evaluated_until_ns.max(previous.alert.evaluated_until_ns);
                runtime.window = previous.window;
            } else if at_start {
                runtime.window = runtime.first_unevaluated(now);
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
        let context = Context { writes: &self.writes, started_ns: self.started_ns, catching_up: self.catching_up };
        for (index, closes_window, matches) in to_fire {
            let Some(runtime) = self.by_account.get_mut(&seen.account).and_then(|r| r.get_mut(index)) else {
                continue;
            };
            if closes_window {
                close_windows(&context, runtime, seen.received_ns);
                // Now in the event's window: count it there if it matches.
                if !matches {
                    continue;
                }
            }
            count_match(&context, runtime, seen);
        }
    }

    /// Closes every window that ended at least the grace period before `now`.
    async fn tick(&mut self, now: i64) {
        let horizon = now - self.grace_ns;
        let context = Context { writes: &self.writes, started_ns: self.started_ns, catching_up: self.catching_up };
        for runtime in self.by_account.values_mut().flatten() {
            if horizon >= runtime.window.end {
                close_windows(&context, runtime, horizon);
            }
        }
    }

    /// Ends the start-up catch-up: per alert, records the late firings it found and the new mark in one
    /// transaction, the last late firing carrying the notifications for all of them.
    async fn record_late(&mut self) {
        self.catching_up = false;
        let now = crate::clock::now_ns();
        for runtime in self.by_account.values_mut().flatten() {
            let mut late = std::mem::take(&mut runtime.late);
            let not_evaluated = runtime.not_evaluated.take();
            // The windows evaluated at start (its mark moved) or firing late: nothing to record otherwise.
            let mark = runtime.alert.evaluated_until_ns;
            if late.is_empty() {
                if let Some((windows, from, to)) = not_evaluated {
                    tracing::warn!(alert = %runtime.alert.id, windows, from = %acta_cadf::format_time(from),
                                   to = %acta_cadf::format_time(to), "windows not evaluated after a downtime");
                }
                // Its mark is written with the others.
                continue;
            }
            // A window that fired before the stop (an immediate firing, replayed) is not fired again.
            let starts: Vec<i64> = late.iter().filter_map(|firing| firing.window.map(|window| window.0)).collect();
            let (from, to) = (starts.iter().min().copied(), starts.iter().max().copied());
            if let (Some(from), Some(to)) = (from, to) {
                match self.store.meta().fired_windows(&runtime.alert.id, from, to).await {
                    Ok(fired) => late.retain(|firing| firing.window.is_none_or(|window| !fired.contains(&window.0))),
                    Err(error) => {
                        tracing::error!(%error, alert = %runtime.alert.id, "reading firings; late windows kept for the next start");
                        continue;
                    }
                }
            }
            summarise_late(runtime, &mut late, not_evaluated, now);
            match self.store.meta().record_late_firings(&runtime.alert.id, &late, mark).await {
                Ok(recorded) => {
                    runtime.saved_mark = runtime.saved_mark.max(mark);
                    if recorded > 0 {
                        tracing::info!(alert = %runtime.alert.id, firings = recorded, "late alert firings recorded after a downtime");
                        self.alerts.outbox_wake.notify_one();
                    }
                }
                Err(error) => tracing::error!(%error, alert = %runtime.alert.id, "recording late firings"),
            }
        }
        self.write_marks().await;
    }

    /// Writes, in one transaction, the marks of the alerts whose windows closed since the last write.
    async fn write_marks(&mut self) {
        self.marks_written_ns = crate::clock::now_ns();
        let moved: Vec<(String, i64)> = self
            .by_account
            .values()
            .flatten()
            .filter(|runtime| runtime.alert.evaluated_until_ns > runtime.saved_mark)
            .map(|runtime| (runtime.alert.id.clone(), runtime.alert.evaluated_until_ns))
            .collect();
        if moved.is_empty() {
            return;
        }
        // The writer commits them after every firing sent before, and tries again until it can.
        if self.writes.send(Write::Marks(moved)).is_err() {
            tracing::error!("the alert writer has stopped; marks not recorded");
            return;
        }
        for runtime in self.by_account.values_mut().flatten() {
            runtime.saved_mark = runtime.saved_mark.max(runtime.alert.evaluated_until_ns);
        }
    }
}

/// Makes the last of an alert's late firings the one notification of them all: its message says how many
/// windows were late and over which range (and which were not evaluated); the others are recorded without
/// notifications and name it.
fn summarise_late(runtime: &Runtime, late: &mut [NewFiring], not_evaluated: Option<(i64, i64, i64)>, now: i64) {
    let windows: Vec<(i64, i64)> = late.iter().filter_map(|firing| firing.window).collect();
    let first_start = windows.iter().map(|window| window.0).min();
    let last_end = windows.iter().map(|window| window.1).max();
    let Some((last, others)) = late.split_last_mut() else {
        return;
    };
    for firing in others.iter_mut() {
        firing.deliveries.clear();
        firing.message["notified_in"] = json!(last.id);
    }
    let mut summary = json!({
        "count": windows.len(),
        "first_start": first_start,
        "last_end": last_end,
    });
    if let Some((windows, from, to)) = not_evaluated {
        summary["not_evaluated"] = json!({"windows": windows, "from": from, "to": to});
    }
    last.message["late_windows"] = summary;
    if !last.muted && last.deliveries.is_empty() {
        last.deliveries = deliveries(&runtime.alert);
    }
    last.due_ns = now;
}

/// One outbox id per channel of the alert.
fn deliveries(alert: &Alert) -> Vec<(String, Value)> {
    let channels = alert.channels.as_array().cloned().unwrap_or_default();
    channels.into_iter().map(|channel| (uuid::Uuid::now_v7().simple().to_string(), channel)).collect()
}

/// The event as a notification shows it, with where and when Acta received it.
fn sample(seen: &LiveEvent) -> Value {
    let mut event = (*seen.value).clone();
    if let Value::Object(object) = &mut event {
        object.insert(
            "_acta".to_string(),
            json!({"id": seen.id, "instance": seen.instance, "received": acta_cadf::format_time(seen.received_ns),
                   "received_ns": seen.received_ns}),
        );
    }
    event
}

/// Whether an event is an insight Acta wrote (docs/insights.md): its action and its `requestData.insight`.
fn is_insight(seen: &LiveEvent) -> bool {
    let action = seen.value.get("action").and_then(Value::as_str).unwrap_or_default();
    action.starts_with("acta.insight.") && seen.value.pointer("/requestData/insight").is_some_and(Value::is_object)
}

/// An insight alert fires once per insight event its view matches. Its firing's window is the event's arrival
/// instant, so the `UNIQUE (alert, window)` row keeps a replayed insight from firing twice.
fn fire_insight(context: &Context<'_>, runtime: &mut Runtime, seen: &LiveEvent) {
    let at = seen.received_ns;
    let one = Window { start: at, end: at + 1, count: 1, fired: true, samples: vec![sample(seen)] };
    // The firing's message is built from the runtime's window: it is this one event's for the firing.
    let current = std::mem::replace(&mut runtime.window, one);
    fire(context, runtime, "insight", (at, at + 1), at < context.started_ns);
    runtime.window = current;
}

fn count_match(context: &Context<'_>, runtime: &mut Runtime, seen: &LiveEvent) {
    if runtime.alert.kind == "insight" {
        if is_insight(seen) {
            fire_insight(context, runtime, seen);
        }
        return;
    }
    runtime.window.count += 1;
    if runtime.window.samples.len() < MAX_SAMPLES {
        runtime.window.samples.push(sample(seen));
    }
    let alert = &runtime.alert;
    if alert.kind == "presence" && alert.immediate && !runtime.window.fired && runtime.window.count >= alert.threshold {
        let window = (runtime.window.start, runtime.window.end);
        // Late when the threshold was reached by events accepted before this engine started.
        fire(context, runtime, "immediate", window, seen.received_ns < context.started_ns);
        // Fired now or (after a restart) already: either way not again in this window.
        runtime.window.fired = true;
    }
}

/// Runs the end-of-window checks of the current window and of every later one that ended by `at` (an empty
/// window counts 0: absence fires for it), then moves to the window holding `at`. More than
/// [`MAX_CATCH_UP_WINDOWS`] ended windows (the clock jumped, the host slept) are skipped, logged.
fn close_windows(context: &Context<'_>, runtime: &mut Runtime, at: i64) {
    let behind = (at - runtime.window.end).div_euclid(runtime.window_ns);
    if behind > MAX_CATCH_UP_WINDOWS {
        close_window(context, runtime);
        tracing::warn!(alert = %runtime.alert.id, windows = behind - MAX_CATCH_UP_WINDOWS,
                       "the clock moved past more windows than are evaluated at once; the oldest are not");
        let oldest = runtime.window_at(at - MAX_CATCH_UP_WINDOWS * runtime.window_ns);
        runtime.window = oldest;
    }
    loop {
        close_window(context, runtime);
        let next = runtime.window.end;
        runtime.window =
            Window { start: next, end: next + runtime.window_ns, count: 0, fired: false, samples: Vec::new() };
        if at < runtime.window.end {
            return;
        }
    }
}

/// Runs the end-of-window checks of the current window (once) and moves the alert's mark past it.
fn close_window(context: &Context<'_>, runtime: &mut Runtime) {
    let (start, end) = (runtime.window.start, runtime.window.end);
    if end <= runtime.alert.evaluated_until_ns {
        return;
    }
    let alert = &runtime.alert;
    let reason = match alert.kind.as_str() {
        "presence" if alert.at_end && !runtime.window.fired && runtime.window.count >= alert.threshold => {
            Some("at_end")
        }
        "absence" if runtime.window.count < alert.threshold => Some("absence"),
        _ => None,
    };
    if let Some(reason) = reason {
        fire(context, runtime, reason, (start, end), end < context.started_ns);
    }
    // Written with the others soon (a firing's transaction also moves it).
    runtime.alert.evaluated_until_ns = end;
}

fn muted(alert: &Alert, now: i64) -> bool {
    alert.muted_until.as_deref().and_then(|text| acta_cadf::parse_time(text).ok()).is_some_and(|until| until > now)
}

/// What a firing's notifications say; kept with the firing, so deliveries and history show the same thing.
fn message(runtime: &Runtime, firing: &str, reason: &str, window: Option<(i64, i64)>, late: bool, now: i64) -> Value {
    let alert = &runtime.alert;
    json!({
        "firing": firing,
        "late": late,
        "evaluated_at": acta_cadf::format_time(now),
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

/// Sends a firing with one outbox row per channel (none when muted) to be recorded in one transaction (see
/// [`alert_writer`]); a late firing found while catching up is kept to be recorded with the others (see
/// [`Engine::record_late`]).
fn fire(context: &Context<'_>, runtime: &mut Runtime, reason: &str, window: (i64, i64), late: bool) {
    let now = crate::clock::now_ns();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let is_muted = muted(&runtime.alert, now);
    let firing = NewFiring {
        id: id.clone(),
        alert: runtime.alert.id.clone(),
        account: runtime.alert.account.clone(),
        reason: reason.to_string(),
        window: Some(window),
        count: runtime.window.count,
        muted: is_muted,
        fired_at: acta_cadf::format_time(now),
        message: message(runtime, &id, reason, Some(window), late, now),
        deliveries: if is_muted { Vec::new() } else { deliveries(&runtime.alert) },
        due_ns: now,
    };
    if late && context.catching_up {
        runtime.late.push(firing);
    } else if context.writes.send(Write::Firing(Box::new(firing))).is_err() {
        tracing::error!(alert = %runtime.alert.id, "the alert writer has stopped; firing not recorded");
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
        message: message(&runtime, &id, "test", None, false, now),
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
    let mut records = Vec::new();
    for record in log.records(instance, after, through, from) {
        match record {
            Ok(record) => records.push(record),
            Err(error) => {
                tracing::error!(%error, %instance, "reading the log for the alert engine");
                break;
            }
        }
    }
    records
}
