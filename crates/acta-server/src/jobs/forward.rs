//! Forwarding: one task per enabled route sends its account's events, in order per instance, to the route's
//! destination ([`crate::forward`]), and moves the route's durable cursor past what the destination has.
//!
//! What each task keeps:
//! - per instance, `delivered`: the durable cursor (every record up to it was delivered, or did not match the
//!   route's query), and `sent`: how far it has read and sent (at least `delivered`);
//! - `unconfirmed`: batches sent but not yet counted as delivered (a syslog batch waits `confirm_after` on a
//!   connection that stays up), oldest first.
//!
//! A failure (a refused batch, a broken connection) rewinds `sent` to `delivered` and tries again after a backoff
//! (1 s, doubling, at most `max_backoff`), so nothing accepted is skipped: delivery is at least once, and an
//! event sent twice carries the same instance and seq (and id). Records come from the log, never from the live
//! bus: a route that was down for an hour, or a server restarted, reads on from its cursor. The bus only wakes
//! an idle task when its account's events arrive.
//!
//! The manager starts a task per enabled route, and stops and starts them again when routes change.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acta_query::{Compiled, PreparedEvent};
use acta_store::{InstanceScope, Route, Store};
use tokio::sync::watch;

use crate::clock::now_text;
use crate::forward::{Allow, BATCH_BYTES, Forwarding, Outgoing, Sender, one_line};

/// Runs the routes until the server stops.
pub async fn run(store: Arc<Store>, forwarding: Arc<Forwarding>, allow: Allow, mut stopping: watch::Receiver<bool>) {
    let mut running: HashMap<String, (String, watch::Sender<bool>, tokio::task::JoinHandle<()>)> = HashMap::new();
    loop {
        match store.meta().all_routes().await {
            Ok(routes) => {
                let wanted: HashMap<&str, &Route> =
                    routes.iter().filter(|route| route.enabled).map(|route| (route.id.as_str(), route)).collect();
                // A changed route starts over from its durable cursor with its new query and destination.
                let stale: Vec<String> = running
                    .iter()
                    .filter(|(id, (updated, _, _))| {
                        wanted.get(id.as_str()).is_none_or(|route| route.updated_at != *updated)
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in stale {
                    if let Some((_, stop, task)) = running.remove(&id) {
                        let _ = stop.send(true);
                        let _ = task.await;
                    }
                }
                for route in &routes {
                    if !route.enabled {
                        // A disabled route still answers its status (how far it is).
                        let cursors = store.meta().route_cursors(&route.id).await.unwrap_or_default();
                        forwarding.update(&route.id, |status| {
                            status.account = route.account.clone();
                            status.delivered_seq = cursors;
                        });
                    }
                }
                let known: Vec<String> = routes.iter().map(|route| route.id.clone()).collect();
                for (id, _) in forwarding.all_statuses() {
                    if !known.contains(&id) {
                        forwarding.forget(&id);
                    }
                }
                for (id, route) in wanted {
                    if running.contains_key(id) {
                        continue;
                    }
                    let (stop, stopped) = watch::channel(false);
                    let task = RouteTask::new(store.clone(), forwarding.clone(), allow.clone(), (*route).clone());
                    let handle = tokio::spawn(task.run(stopped, stopping.clone()));
                    running.insert(id.to_string(), (route.updated_at.clone(), stop, handle));
                }
            }
            Err(error) => tracing::error!(%error, "listing routes for forwarding"),
        }
        tokio::select! {
            _ = super::stopped(&mut stopping) => break,
            _ = forwarding.changed.notified() => {}
            // Routes listed again now and then, in case a change was made while the list above was read.
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
    for (_, (_, stop, task)) in running {
        let _ = stop.send(true);
        let _ = task.await;
    }
}

struct Unconfirmed {
    instance: String,
    through: u64,
    sent_at: Instant,
}

struct RouteTask {
    store: Arc<Store>,
    forwarding: Arc<Forwarding>,
    route: Route,
    filter: Filter,
    sender: Sender,
    delivered: HashMap<String, u64>,
    sent: HashMap<String, u64>,
    unconfirmed: VecDeque<Unconfirmed>,
}

/// Which events a route sends.
enum Filter {
    Every,
    Matching(Compiled),
    /// A saved query that no longer parses (the language changed): nothing rather than everything.
    Nothing,
}

/// What one pass over the account's instances did.
enum Pass {
    /// Sent (or skipped) something: go on at once.
    Worked,
    /// Nothing new.
    Idle,
    /// The destination failed; wait before the next try.
    Failed,
}

impl RouteTask {
    fn new(store: Arc<Store>, forwarding: Arc<Forwarding>, allow: Allow, route: Route) -> RouteTask {
        let filter = match route.query.as_deref().map(acta_query::parse) {
            None => Filter::Every,
            Some(Ok(query)) => Filter::Matching(Compiled::new(&query)),
            Some(Err(error)) => {
                tracing::error!(route = %route.id, %error, "a route's query does not parse; it forwards nothing");
                Filter::Nothing
            }
        };
        let sender = Sender::new(&route.destination, &forwarding.settings, &allow);
        RouteTask {
            store,
            forwarding,
            route,
            filter,
            sender,
            delivered: HashMap::new(),
            sent: HashMap::new(),
            unconfirmed: VecDeque::new(),
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>, mut stopping: watch::Receiver<bool>) {
        let mut bus = self.store.publisher().subscribe();
        match self.store.meta().route_cursors(&self.route.id).await {
            Ok(cursors) => {
                self.sent = cursors.clone();
                self.delivered = cursors;
            }
            Err(error) => {
                tracing::error!(route = %self.route.id, %error, "reading a route's cursors");
                return;
            }
        }
        let (account, delivered) = (self.route.account.clone(), self.delivered.clone());
        self.forwarding.update(&self.route.id, |status| {
            status.account = account;
            status.delivered_seq = delivered;
        });
        let mut backoff = Duration::from_secs(1);
        loop {
            let wait = match self.pass().await {
                Pass::Worked => {
                    backoff = Duration::from_secs(1);
                    Duration::ZERO
                }
                Pass::Idle => {
                    backoff = Duration::from_secs(1);
                    Duration::from_secs(1)
                }
                Pass::Failed => {
                    let wait = backoff;
                    let next =
                        crate::clock::now_ns().saturating_add(i64::try_from(wait.as_nanos()).unwrap_or(i64::MAX));
                    self.forwarding.update(&self.route.id, |status| {
                        status.next_attempt = Some(acta_cadf::format_time(next));
                    });
                    backoff = (backoff * 2).min(self.forwarding.settings.max_backoff.max(Duration::from_secs(1)));
                    wait
                }
            };
            if wait.is_zero() {
                if *stop.borrow() || *stopping.borrow() {
                    return;
                }
                continue;
            }
            let idle = wait == Duration::from_secs(1) && self.unconfirmed.is_empty();
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                tokio::select! {
                    _ = super::stopped(&mut stop) => return,
                    _ = super::stopped(&mut stopping) => return,
                    _ = tokio::time::sleep_until(deadline) => break,
                    // An idle route wakes when its account's events arrive; a failing one waits out its backoff.
                    received = bus.recv(), if idle => match received {
                        Ok(event) if event.account == self.route.account => break,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            tokio::time::sleep_until(deadline).await;
                            break;
                        }
                    },
                }
            }
        }
    }

    /// Confirms what may be confirmed, then reads and sends one batch per instance that has new records.
    async fn pass(&mut self) -> Pass {
        if let Err(error) = self.confirm().await {
            self.failed(&error.0);
            return Pass::Failed;
        }
        let instances = match self.store.meta().instances(&self.route.account).await {
            Ok(instances) => instances,
            Err(error) => {
                tracing::error!(route = %self.route.id, %error, "listing a route's instances");
                return Pass::Failed;
            }
        };
        let mut worked = false;
        for instance in instances {
            let after = self.sent.get(&instance.id).copied().unwrap_or(0);
            if self.store.log().last_seq(&instance.id) <= after {
                continue;
            }
            let log = self.store.log().clone();
            let (id, batch_events) = (instance.id.clone(), self.forwarding.settings.batch_events.max(1));
            let read = tokio::task::spawn_blocking(move || log.read_after(&id, after, batch_events, BATCH_BYTES)).await;
            let records = match read {
                Ok(Ok(records)) => records,
                Ok(Err(error)) => {
                    tracing::error!(route = %self.route.id, instance = %instance.id, %error, "reading the log to forward");
                    return Pass::Failed;
                }
                Err(error) => {
                    tracing::error!(route = %self.route.id, %error, "reading the log to forward");
                    return Pass::Failed;
                }
            };
            let Some(through) = records.last().map(|record| record.seq) else {
                continue;
            };
            let scope = InstanceScope {
                instance: instance.id.clone(),
                account: instance.account.clone(),
                region: instance.region.clone(),
            };
            let batch: Vec<Outgoing> = records
                .iter()
                .filter(|record| match &self.filter {
                    Filter::Every => true,
                    Filter::Nothing => false,
                    Filter::Matching(query) => acta_store::ingest::publish::with_record_view(&scope, record, |view| {
                        query.matches(&PreparedEvent::new(*view))
                    })
                    .unwrap_or(false),
                })
                .map(|record| Outgoing {
                    account: scope.account.clone(),
                    instance: scope.instance.clone(),
                    region: scope.region.clone(),
                    seq: record.seq,
                    received_ns: record.received_ns,
                    id: record.event_id.clone(),
                    event: one_line(&record.event),
                })
                .collect();
            if let Err(error) = self.sender.send(&batch).await {
                self.failed(&error.0);
                return Pass::Failed;
            }
            self.sent.insert(instance.id.clone(), through);
            self.unconfirmed.push_back(Unconfirmed { instance: instance.id.clone(), through, sent_at: Instant::now() });
            let sent = batch.len() as u64;
            self.forwarding.update(&self.route.id, |status| {
                status.delivered_events += sent;
                if sent > 0 {
                    status.last_delivery = Some(now_text());
                }
            });
            worked = true;
        }
        if let Err(error) = self.confirm().await {
            self.failed(&error.0);
            return Pass::Failed;
        }
        if worked { Pass::Worked } else { Pass::Idle }
    }

    /// Moves the durable cursors past the batches that count as delivered: those sent at least `confirm_after`
    /// ago on a connection that is still up.
    async fn confirm(&mut self) -> Result<(), crate::forward::SendError> {
        if self.unconfirmed.is_empty() {
            return Ok(());
        }
        let wait = self.sender.confirm_after(&self.forwarding.settings);
        if !wait.is_zero() {
            self.sender.still_connected().await?;
        }
        let mut through: HashMap<String, u64> = HashMap::new();
        while let Some(oldest) = self.unconfirmed.front() {
            if oldest.sent_at.elapsed() < wait {
                break;
            }
            through.insert(oldest.instance.clone(), oldest.through);
            self.unconfirmed.pop_front();
        }
        for (instance, seq) in through {
            if let Err(error) = self.store.meta().advance_route_cursor(&self.route.id, &instance, seq).await {
                // Not durable: keep it in memory only as sent, and try the confirmation again later.
                tracing::error!(route = %self.route.id, %error, "saving a route's cursor");
                self.unconfirmed.push_front(Unconfirmed { instance, through: seq, sent_at: Instant::now() - wait });
                return Ok(());
            }
            self.delivered.insert(instance, seq);
        }
        let delivered = self.delivered.clone();
        self.forwarding.update(&self.route.id, |status| {
            status.delivered_seq = delivered;
            status.failing_for = 0;
            status.next_attempt = None;
        });
        Ok(())
    }

    /// After a failure: what was sent and not confirmed is sent again, from the durable cursors.
    fn failed(&mut self, error: &str) {
        tracing::warn!(route = %self.route.id, error, "forwarding failed; retrying from the route's cursor");
        self.sender.reset();
        self.unconfirmed.clear();
        self.sent = self.delivered.clone();
        let error = error.to_string();
        self.forwarding.update(&self.route.id, |status| {
            status.failures += 1;
            status.failing_for += 1;
            status.last_error = Some(error);
            status.last_error_at = Some(now_text());
        });
    }
}
