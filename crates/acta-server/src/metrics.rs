//! The counters and process figures of `GET /metrics` (the handler is `http::metrics`), and their
//! Prometheus text exposition (format 0.0.4).
//!
//! Hand-written rather than through `prometheus-client` or `metrics`: a handful of counters and gauges, no
//! histograms, one exposition format; the text is a few lines per metric and a crate would add a registry and
//! its own types between the handlers and a few atomics.
//!
//! Process gauges are read from `/proc/self` at scrape time (Linux; absent elsewhere), under the names the
//! Prometheus client libraries use, so existing dashboards work. Counters count since this process started.
//! Open by default, like most exporters (nothing in it names an account or an event); an operator who wants
//! it closed starts the server with `--metrics-require-key`, and then only the platform admin key reads it.

use std::fmt::Write;

use acta_store::Store;
use std::sync::atomic::{AtomicU64, Ordering};

/// Linux's USER_HZ: the unit of the CPU times in `/proc/<pid>/stat`, fixed at 100 by the kernel's ABI.
const USER_HZ: f64 = 100.0;

/// Counters of the ingest path, since the process started.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    rejected: AtomicU64,
    duplicates: AtomicU64,
}

impl Metrics {
    /// Counts the events of one ingest request by what became of them.
    pub(crate) fn count_ingest(&self, accepted: usize, rejected: usize, duplicates: usize) {
        self.accepted.fetch_add(accepted as u64, Ordering::Relaxed);
        self.rejected.fetch_add(rejected as u64, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates as u64, Ordering::Relaxed);
    }
}

/// Alert notification outcomes, since the process started (kept with the alerting state the worker has).
#[derive(Debug, Default)]
pub struct NotificationCounts {
    sent: AtomicU64,
    failed_attempts: AtomicU64,
    given_up: AtomicU64,
}

impl NotificationCounts {
    /// Counts one delivery attempt; `given_up` when it failed and will not be retried.
    pub(crate) fn count_attempt(&self, ok: bool, given_up: bool) {
        let counter = if ok { &self.sent } else { &self.failed_attempts };
        counter.fetch_add(1, Ordering::Relaxed);
        if !ok && given_up {
            self.given_up.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The text of `GET /metrics`.
pub(crate) async fn exposition(
    store: &Store,
    metrics: &Metrics,
    notifications: &NotificationCounts,
) -> Result<String, tokio::task::JoinError> {
    let index = store.index().clone();
    let log = store.log().clone();
    // The index lag takes the index's locks and the /proc reads are file system calls: off the async threads.
    let (lag, durable, process) = tokio::task::spawn_blocking(move || {
        let mut durable: Vec<(String, u64)> =
            log.instances().into_iter().map(|instance| (instance.clone(), log.last_seq(&instance))).collect();
        durable.sort();
        (index.lag(), durable, ProcessStats::read())
    })
    .await?;

    let mut out = String::with_capacity(4096);
    if let Some(process) = process {
        process.write(&mut out);
    }
    let counter = |out: &mut String, name: &str, help: &str, value: u64| {
        metric(out, name, "counter", help, &[("", value as f64)]);
    };
    let m = metrics;
    counter(&mut out, "acta_events_accepted_total", "Events stored.", m.accepted.load(Ordering::Relaxed));
    counter(&mut out, "acta_events_rejected_total", "Events refused as invalid.", m.rejected.load(Ordering::Relaxed));
    counter(
        &mut out,
        "acta_events_duplicate_total",
        "Events not stored again because their id was already stored.",
        m.duplicates.load(Ordering::Relaxed),
    );
    let per_instance: Vec<(String, f64)> =
        durable.iter().map(|(instance, seq)| (format!("instance=\"{}\"", escape(instance)), *seq as f64)).collect();
    let labelled: Vec<(&str, f64)> = per_instance.iter().map(|(labels, value)| (labels.as_str(), *value)).collect();
    metric(
        &mut out,
        "acta_log_durable_seq",
        "gauge",
        "Sequence number of the last durable (fdatasynced) record of each instance's log.",
        &labelled,
    );
    let total: u64 = durable.iter().map(|(_, seq)| seq).sum();
    metric(
        &mut out,
        "acta_log_durable_records",
        "gauge",
        "Durable records over all instances' logs.",
        &[("", total as f64)],
    );
    metric(
        &mut out,
        "acta_index_lag_events",
        "gauge",
        "Durable events not yet searchable (appended to the log, not yet committed to the index).",
        &[("", lag as f64)],
    );
    let health = store.health();
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    metric(
        &mut out,
        "acta_log_failed",
        "gauge",
        "1 when the event log stopped after a write or sync failure of unknown effect (accepts nothing until restarted).",
        &[("", flag(health.log_failed))],
    );
    metric(
        &mut out,
        "acta_log_no_space",
        "gauge",
        "1 while batches are refused because the device holding the data directory is full (heals by itself).",
        &[("", flag(health.log_no_space_since_ns.is_some()))],
    );
    metric(
        &mut out,
        "acta_index_failing",
        "gauge",
        "1 while indexing fails and is retried from the log (what was searchable stays searchable).",
        &[("", flag(health.index_fault.is_some()))],
    );
    if let Some(free) = health.free_bytes {
        metric(
            &mut out,
            "acta_data_free_bytes",
            "gauge",
            "Bytes free for Acta on the data directory's device.",
            &[("", free as f64)],
        );
    }
    metric(
        &mut out,
        "acta_data_min_free_bytes",
        "gauge",
        "The free-space reserve below which client batches are refused (--min-free-space; 0: none).",
        &[("", health.min_free_bytes as f64)],
    );
    let n = notifications;
    counter(
        &mut out,
        "acta_alert_notifications_sent_total",
        "Alert notifications delivered.",
        n.sent.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "acta_alert_notification_attempts_failed_total",
        "Alert notification attempts that failed (retried or not).",
        n.failed_attempts.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "acta_alert_notifications_failed_total",
        "Alert notifications given up after their last attempt failed.",
        n.given_up.load(Ordering::Relaxed),
    );
    Ok(out)
}

/// One metric family: HELP, TYPE, and a sample per label set (`""` for none).
/// One route's figures for the exposition.
pub(crate) struct RouteFigures {
    pub(crate) route: String,
    pub(crate) lag: u64,
    pub(crate) delivered: u64,
    pub(crate) failures: u64,
}

/// The routes' figures, labelled by route id (an opaque id: the exposition names no account).
pub(crate) fn routes(out: &mut String, routes: &[RouteFigures]) {
    let labels: Vec<String> = routes.iter().map(|route| format!("route=\"{}\"", escape(&route.route))).collect();
    let samples = |value: fn(&RouteFigures) -> u64| -> Vec<(&str, f64)> {
        labels.iter().map(String::as_str).zip(routes.iter().map(|route| value(route) as f64)).collect()
    };
    metric(
        out,
        "acta_route_lag_events",
        "gauge",
        "Events held in a route's account that the route has not delivered yet (past its durable cursor).",
        &samples(|route| route.lag),
    );
    metric(
        out,
        "acta_route_delivered_events_total",
        "counter",
        "Events a route sent to its destination (a batch sent again after a failure counts again).",
        &samples(|route| route.delivered),
    );
    metric(
        out,
        "acta_route_failures_total",
        "counter",
        "Failed attempts to deliver a route's batch.",
        &samples(|route| route.failures),
    );
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// A label value as the exposition format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// What `/proc/self` tells of the process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcessStats {
    resident_bytes: u64,
    resident_peak_bytes: u64,
    virtual_bytes: u64,
    open_fds: u64,
    cpu_seconds: f64,
    start_time_seconds: f64,
}

impl ProcessStats {
    fn read() -> Option<ProcessStats> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        ProcessStats::parse(&status, &stat, &boot, open_fds)
    }

    fn parse(status: &str, stat: &str, proc_stat: &str, open_fds: u64) -> Option<ProcessStats> {
        let kib = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kib| kib * 1024)
        };
        // The command name (field 2) is in parentheses and may hold spaces: fields are counted after it.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // Fields 14, 15 (utime, stime) and 22 (starttime), numbered from 1 with the state (field 3) at index 0.
        let ticks = |field: usize| fields.get(field - 3).and_then(|text| text.parse::<u64>().ok());
        let boot_time = proc_stat.lines().find_map(|line| line.strip_prefix("btime "))?.trim().parse::<u64>().ok()?;
        Some(ProcessStats {
            resident_bytes: kib("VmRSS:")?,
            resident_peak_bytes: kib("VmHWM:")?,
            virtual_bytes: kib("VmSize:")?,
            open_fds,
            cpu_seconds: (ticks(14)? + ticks(15)?) as f64 / USER_HZ,
            start_time_seconds: boot_time as f64 + ticks(22)? as f64 / USER_HZ,
        })
    }

    fn write(&self, out: &mut String) {
        let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
            metric(out, name, "gauge", help, &[("", value)]);
        };
        gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", self.resident_bytes as f64);
        gauge(
            out,
            "process_resident_memory_max_bytes",
            "Peak resident memory size in bytes since the process started (VmHWM).",
            self.resident_peak_bytes as f64,
        );
        gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", self.virtual_bytes as f64);
        gauge(out, "process_open_fds", "Number of open file descriptors.", self.open_fds as f64);
        metric(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            &[("", self.cpu_seconds)],
        );
        gauge(
            out,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            self.start_time_seconds,
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn process_stats_parse_a_command_name_with_spaces_and_parentheses() {
        let status = "Name:\tacta\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nVmSize:\t  10240 kB\n";
        let stat = "4242 (acta (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 12345 0 0";
        let stats = ProcessStats::parse(status, stat, "cpu 1 2 3\nbtime 1700000000\n", 7).unwrap();
        assert_eq!(
            stats,
            ProcessStats {
                resident_bytes: 1024 * 1024,
                resident_peak_bytes: 2048 * 1024,
                virtual_bytes: 10240 * 1024,
                open_fds: 7,
                cpu_seconds: 3.0,
                start_time_seconds: 1_700_000_123.45,
            }
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
