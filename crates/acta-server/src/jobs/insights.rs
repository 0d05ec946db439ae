//! Insights: per account, the hours whose activity is unusual against the account's own baseline, each written
//! as an Acta event (`acta.insight.*`) in the account (docs/insights.md).
//!
//! Three dimensions are counted per eventTime hour (UTC): the events of each action (`action`), the failures
//! of each action (`action_failures`), the events of each principal, `initiator.id` (`principal`). The counts
//! come from the index's exact aggregations and are kept in the metadata database (`insight_counts`): each run
//! counts only the hours not yet final (the current one and the one before), so a baseline reads 7 rows and no
//! hourly run rescans days of events. The last 8 days are counted at an account's first run with events and
//! once a day after, and at once when a run finds that events arrived late (an eventTime before the hours it
//! counts: more events indexed since the last run than those hours gained, [`late_events`]), so a week loaded
//! at once never meets a baseline counted before it came. Acta's own insight events are not counted: an insight
//! must not feed the next one.
//!
//! An hour's count is compared with the same hour of each of the 7 days before (a missing hour is 0) by a
//! robust statistic: the median and the median absolute deviation, which one unusual day in the week does not
//! move. It is unusual when all of [`MIN_COUNT`], [`MIN_RATIO`] and [`MIN_SCORE`] hold. The current hour is
//! judged while it runs, so an officer hears of a burst within a run of it starting.
//!
//! One insight per (account, dimension, key, hour): its event id is derived from those, so a repeated run, a
//! restart or a second detection within the hour is a duplicate the store does not write again. The insight
//! says the count when it was first found: a count still rising in the same hour is not reported again, so an
//! alert on insights pages once per burst and hour, not at every run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use acta_query::Field;
use acta_store::{Aggregation, CountedHours, HourCount, InstanceScope, Store};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};

const HOUR_NS: i64 = 3_600_000_000_000;
/// The baseline of hour H: H-24h, H-48h ... H-(24·7)h.
pub(crate) const BASELINE_DAYS: i64 = 7;
/// The first run of an account counts this many hours back: a week of baseline for the hours judged, and a day
/// more.
const BACKFILL_HOURS: i64 = 8 * 24;
/// All hours a baseline reads are counted again this often (and at an account's first run), so that events
/// arriving late, with an eventTime before the previous hour, reach the baselines within a day.
const FULL_COUNT_HOURS: i64 = 24;
/// Counts older than this are no longer in any baseline and are removed.
const KEEP_HOURS: i64 = BACKFILL_HOURS + 2;
/// Fewer events than this in the hour is never unusual, so that a quiet key (0-2 an hour) does not flap.
pub(crate) const MIN_COUNT: i64 = 10;
/// An hour is judged only when the account's events reach back this many days before it: without a history
/// there is no usual rate, and everything in a new account's first busy hour would be "unusual".
pub(crate) const MIN_HISTORY_DAYS: i64 = BASELINE_DAYS - 1;
/// The hour must hold at least this many times the baseline's median (a median under 1 counts as 1).
pub(crate) const MIN_RATIO: f64 = 3.0;
/// The robust score `(count - median) / (1.4826 · MAD)` must reach this: Iglewicz and Hoaglin's cut-off for an
/// outlier by the modified z-score.
pub(crate) const MIN_SCORE: f64 = 3.5;
/// Scales the MAD to a standard deviation's size for normally spread counts.
const MAD_SCALE: f64 = 1.4826;
/// The spread never counts as less than one event: a baseline of seven equal hours (MAD 0) would make any
/// change infinitely unusual.
const MIN_SPREAD: f64 = 1.0;
/// Keys counted per dimension and run (the most frequent): beyond them an account's keys are not judged.
const MAX_KEYS: usize = 10_000;
/// How the insight events are named, and how the counting leaves them out.
pub(crate) const INSIGHT_QUERY: &str = "action:acta.insight";

/// What is counted: the dimension's name, the action of its insights, the field whose values are its keys, and
/// the events counted (Acta's own insights are never counted).
struct Dimension {
    name: &'static str,
    action: &'static str,
    field: &'static str,
    query: &'static str,
}

const DIMENSIONS: [Dimension; 3] = [
    Dimension { name: "action", action: "acta.insight.rate", field: "action", query: "-action:acta.insight" },
    Dimension {
        name: "action_failures",
        action: "acta.insight.failures",
        field: "action",
        query: "outcome:==failure -action:acta.insight",
    },
    Dimension {
        name: "principal",
        action: "acta.insight.principal",
        field: "initiator.id",
        query: "-action:acta.insight",
    },
];

/// How an hour compares with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Events in the hour.
    pub count: i64,
    /// The baseline's median.
    pub median: f64,
    /// The baseline's median absolute deviation (unscaled).
    pub mad: f64,
    /// `count / max(median, 1)`.
    pub ratio: f64,
    /// `(count - median) / max(1.4826 · MAD, 1)`.
    pub score: f64,
}

/// Whether `count` is unusual against `baseline` (the same hour of the previous days): the finding when it is.
pub fn unusual(count: i64, baseline: &[i64]) -> Option<Finding> {
    let finding = compare(count, baseline);
    (count >= MIN_COUNT && finding.ratio >= MIN_RATIO && finding.score >= MIN_SCORE).then_some(finding)
}

fn compare(count: i64, baseline: &[i64]) -> Finding {
    let values: Vec<f64> = baseline.iter().map(|&value| value as f64).collect();
    let middle = median(&values);
    let deviations: Vec<f64> = values.iter().map(|value| (value - middle).abs()).collect();
    let mad = median(&deviations);
    let spread = (MAD_SCALE * mad).max(MIN_SPREAD);
    let count_f = count as f64;
    Finding { count, median: middle, mad, ratio: count_f / middle.max(1.0), score: (count_f - middle) / spread }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// What one run did, for tests and benchmarks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InsightRun {
    /// Accounts counted.
    pub accounts: usize,
    /// Account-hours counted.
    pub hours: i64,
    /// Events counted (each once, in the `action` dimension).
    pub events: u64,
    /// The ids of the insight events written by this run.
    pub insights: Vec<String>,
}

/// Why counting an account failed (it is counted again at the next run).
#[derive(Debug, thiserror::Error)]
enum InsightError {
    #[error(transparent)]
    Meta(#[from] acta_store::MetaError),
    #[error(transparent)]
    Index(#[from] acta_store::IndexError),
    #[error(transparent)]
    Ingest(#[from] acta_store::IngestError),
    #[error("counting task failed: {0}")]
    Task(String),
    #[error("the insight query {0:?} does not parse: {1}")]
    Query(&'static str, String),
}

/// The insights job: counts, judges, writes.
pub struct Insights {
    store: Arc<Store>,
    /// Insight ids written per hour, so a finding repeated at every run of the hour is not sent to the store
    /// again (the store would call it a duplicate; this saves the round trip).
    written: Mutex<HashMap<String, i64>>,
    /// Per account, what the last run saw: the events indexed then, and the insights it wrote after (Acta's own
    /// events, never counted). The next run tells from them whether events arrived late (see [`late_events`]).
    seen: Mutex<HashMap<String, Seen>>,
}

/// What a run saw of an account.
#[derive(Debug, Clone, Copy)]
struct Seen {
    indexed: u64,
    insights_written: u64,
}

/// Whether events arrived since the last run that the hours counted now do not explain: events with an eventTime
/// before those hours (a bulk import, a shipper catching up, a week of events loaded at once). Their hours feed
/// baselines, so the week is counted again before anything is judged; without this, a baseline counted before
/// the late events came would make every hour that has them look unusual.
///
/// `indexed` is the account's events indexed now (read before counting), `recounted` the events counted now in
/// the hours counted again, `before` what those hours held at the last run.
fn late_events(seen: Option<Seen>, indexed: u64, recounted: i64, before: i64) -> bool {
    let Some(seen) = seen else {
        // No last run in this process (a start): what came meanwhile is unknown.
        return true;
    };
    let arrived = indexed.saturating_sub(seen.indexed);
    let explained = u64::try_from(recounted.saturating_sub(before)).unwrap_or(0) + seen.insights_written;
    arrived > explained
}

impl Insights {
    /// The job over a store.
    pub(crate) fn new(store: Arc<Store>) -> Insights {
        Insights { store, written: Mutex::new(HashMap::new()), seen: Mutex::new(HashMap::new()) }
    }

    /// Runs every `period` until the server stops.
    pub(crate) async fn run(self: Arc<Self>, period: Duration, mut stopping: watch::Receiver<bool>) {
        let mut every = tokio::time::interval(period.max(Duration::from_millis(100)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = super::stopped(&mut stopping) => return,
                _ = every.tick() => {
                    self.run_once(crate::clock::now_ns()).await;
                }
            }
        }
    }

    /// Counts the hours not yet final of every account and writes the insights found in the current and the
    /// previous hour of `now`. An account that fails is logged and counted again at the next run.
    pub async fn run_once(&self, now: i64) -> InsightRun {
        // One run at a time: the written set and the counts of an account are a run's own.
        let mut written = self.written.lock().await;
        let mut report = InsightRun::default();
        let accounts = match self.store.meta().accounts().await {
            Ok(accounts) => accounts,
            Err(error) => {
                tracing::error!(%error, "listing accounts for insights");
                return report;
            }
        };
        let now_hour = now.div_euclid(HOUR_NS);
        written.retain(|_, hour| *hour >= now_hour - 1);
        for account in accounts {
            if let Err(error) = self.account(&account.id, now, &mut written, &mut report).await {
                tracing::error!(%error, account = %account.id, "computing insights failed; the next run tries again");
            }
        }
        report
    }

    async fn account(
        &self,
        account: &str,
        now: i64,
        written: &mut HashMap<String, i64>,
        report: &mut InsightRun,
    ) -> Result<(), InsightError> {
        let meta = self.store.meta();
        let instances = meta.instances(account).await?;
        if instances.is_empty() {
            return Ok(());
        }
        let scopes: Vec<InstanceScope> = instances
            .iter()
            .map(|instance| InstanceScope {
                instance: instance.id.clone(),
                account: instance.account.clone(),
                region: instance.region.clone(),
            })
            .collect();
        let now_hour = now.div_euclid(HOUR_NS);
        let oldest = now_hour - BACKFILL_HOURS;
        let mut from = match meta.insight_progress(account).await? {
            Some((final_before, full_count)) if now_hour - full_count < FULL_COUNT_HOURS => {
                final_before.clamp(oldest, now_hour - 1)
            }
            _ => oldest,
        };
        let seen = self.seen.lock().await.get(account).copied();
        let index = self.store.index().clone();
        let indexed = index.indexed_events(&scopes);
        let count = |hours: (i64, i64)| {
            let (index, scopes) = (index.clone(), scopes.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    count_hours(&index, &scopes, hours)
                        .map(|counts| (counts, index.time_bounds(&scopes).map(|(min, _)| min)))
                })
                .await
                .map_err(|error| InsightError::Task(error.to_string()))?
            }
        };
        let (mut counts, mut earliest) = count((from, now_hour + 1)).await?;
        if from > oldest {
            let recounted_hours: Vec<i64> = (from..=now_hour).collect();
            let before: i64 = meta
                .insight_counts(account, &recounted_hours)
                .await?
                .iter()
                .filter(|row| row.dimension == "action")
                .map(|row| row.count)
                .sum();
            let recounted = counts.iter().filter(|row| row.dimension == "action").map(|row| row.count).sum();
            if late_events(seen, indexed, recounted, before) {
                from = oldest;
                (counts, earliest) = count((from, now_hour + 1)).await?;
            }
        }
        let hours = (from, now_hour + 1);
        let written_before = report.insights.len();
        if counts.is_empty() {
            // Nothing to judge, and an account whose events are still to come (an import, a new source) gets its
            // first count, the full one, when they are there.
            self.seen.lock().await.insert(account.to_string(), Seen { indexed, insights_written: 0 });
            return Ok(());
        }
        report.accounts += 1;
        report.hours += hours.1 - hours.0;
        report.events += counts
            .iter()
            .filter(|row| row.dimension == "action")
            .map(|row| u64::try_from(row.count).unwrap_or(0))
            .sum::<u64>();
        meta.record_insight_counts(&CountedHours {
            account,
            hours,
            counts: &counts,
            final_before: now_hour - 1,
            full: from == oldest,
            forget_before: now_hour - KEEP_HOURS,
        })
        .await?;

        let has_history = |hour: i64| earliest.is_some_and(|min| min < (hour - 24 * MIN_HISTORY_DAYS) * HOUR_NS);
        let judged: Vec<i64> = [now_hour - 1, now_hour].into_iter().filter(|hour| has_history(*hour)).collect();
        let baseline_hours: Vec<i64> =
            judged.iter().flat_map(|hour| (1..=BASELINE_DAYS).map(move |day| hour - 24 * day)).collect();
        let baseline: HashMap<(String, String, i64), i64> = meta
            .insight_counts(account, &baseline_hours)
            .await?
            .into_iter()
            .map(|row| ((row.dimension, row.key, row.hour), row.count))
            .collect();
        for row in counts.iter().filter(|row| judged.contains(&row.hour)) {
            let samples: Vec<i64> = (1..=BASELINE_DAYS)
                .map(|day| {
                    let at = (row.dimension.clone(), row.key.clone(), row.hour - 24 * day);
                    baseline.get(&at).copied().unwrap_or(0)
                })
                .collect();
            let Some(finding) = unusual(row.count, &samples) else {
                continue;
            };
            let id = insight_id(account, &row.dimension, &row.key, row.hour);
            if written.contains_key(&id) {
                continue;
            }
            let event = insight_event(account, &id, row, &finding, &samples, now);
            self.store.accept_own(account, &event, crate::clock::now_ns()).await?;
            written.insert(id.clone(), row.hour);
            report.insights.push(id);
        }
        let insights_written = u64::try_from(report.insights.len() - written_before).unwrap_or(0);
        self.seen.lock().await.insert(account.to_string(), Seen { indexed, insights_written });
        Ok(())
    }
}

/// The counts of every dimension in the hours `[from, to)`, from the index: one histogram per dimension with a
/// bucket per hour, split by the dimension's field.
fn count_hours(
    index: &acta_store::EventIndex,
    scopes: &[InstanceScope],
    (from, to): (i64, i64),
) -> Result<Vec<HourCount>, InsightError> {
    let boundaries: Vec<i64> = (from + 1..to).map(|hour| hour * HOUR_NS).collect();
    let mut rows = Vec::new();
    for dimension in &DIMENSIONS {
        let query = acta_query::parse(dimension.query)
            .map_err(|error| InsightError::Query(dimension.query, error.to_string()))?;
        let field = Field::Path(dimension.field.split('.').map(str::to_string).collect());
        let on =
            Aggregation { scopes, query: &query, from: Some(from * HOUR_NS), to: Some(to * HOUR_NS), deadline: None };
        let histogram = index.histogram(&on, &boundaries, Some(&field), MAX_KEYS)?;
        let Some(breakdown) = histogram.breakdown else {
            continue;
        };
        for series in breakdown.top {
            for (offset, &count) in series.counts.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                rows.push(HourCount {
                    dimension: dimension.name.to_string(),
                    key: series.value.clone(),
                    hour: from + i64::try_from(offset).unwrap_or(i64::MAX),
                    count: i64::try_from(count).unwrap_or(i64::MAX),
                });
            }
        }
    }
    Ok(rows)
}

/// The id of the one insight of (account, dimension, key, hour), as a UUID's text: the same finding always
/// gets the same id, which the store's duplicate detection then keeps from being written twice.
fn insight_id(account: &str, dimension: &str, key: &str, hour: i64) -> String {
    let mut hash = Sha256::new();
    for part in [account, dimension, key, &hour.to_string()] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // Version 8 (custom) and the RFC 4122 variant, so that it reads as a UUID to anyone checking.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

fn hour_text(hour: i64) -> String {
    acta_cadf::format_time(hour * HOUR_NS)
}

/// "14:00-15:00 UTC".
fn hour_span(hour: i64) -> String {
    let clock = |hour: i64| format!("{:02}:00", hour.rem_euclid(24));
    format!("{}-{} UTC", clock(hour), clock(hour + 1))
}

fn ratio_text(ratio: f64) -> String {
    if ratio >= 10.0 { format!("{ratio:.0}") } else { format!("{:.1}", (ratio * 10.0).floor() / 10.0) }
}

fn median_text(median: f64) -> String {
    if median.fract() == 0.0 { format!("{median:.0}") } else { format!("{median:.1}") }
}

/// What an officer reads: "iam-identity.user-apikey.delete is 12x its usual rate (48 in 14:00-15:00 UTC,
/// usual 4)".
fn message(dimension: &str, key: &str, hour: i64, finding: &Finding) -> String {
    let subject = match dimension {
        "action_failures" => format!("failures of {key} are"),
        "principal" => format!("calls by {key} are"),
        _ => format!("{key} is"),
    };
    let (count, span) = (finding.count, hour_span(hour));
    if finding.median < 1.0 {
        let what = if dimension == "action" { "its" } else { "their" };
        return format!("{subject} far above {what} usual rate ({count} in {span}, usually none)");
    }
    let what = if dimension == "action" { "its" } else { "their" };
    format!(
        "{subject} {}x {what} usual rate ({count} in {span}, usual {})",
        ratio_text(finding.ratio),
        median_text(finding.median)
    )
}

/// The insight as a CADF event of the account. `requestData.insight` holds what the console draws: the hour's
/// count and its baseline, oldest day first.
fn insight_event(account: &str, id: &str, row: &HourCount, finding: &Finding, baseline: &[i64], now: i64) -> Value {
    let dimension = DIMENSIONS.iter().find(|dimension| dimension.name == row.dimension);
    let action = dimension.map_or("acta.insight.rate", |dimension| dimension.action);
    let field = dimension.map_or("action", |dimension| dimension.field);
    let days: Vec<Value> = (1..=BASELINE_DAYS)
        .rev()
        .zip(baseline.iter().rev())
        .map(|(day, count)| json!({"hour": hour_text(row.hour - 24 * day), "count": count}))
        .collect();
    json!({
        "id": id,
        "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
        "eventType": "monitor",
        "eventTime": acta_cadf::format_time(now),
        "action": action,
        "outcome": "success",
        "severity": "warning",
        "message": message(&row.dimension, &row.key, row.hour, finding),
        "logSourceCRN": format!("crn:v1:acta:public:acta:global:a/{account}::"),
        "initiator": {"id": "acta", "name": "Acta insights", "typeURI": "service"},
        "target": {
            "id": format!("crn:v1:acta:public:acta:global:a/{account}::insight:{}:{}", row.dimension, row.key),
            "name": row.key,
            "typeURI": "acta/insight",
        },
        "observer": {"id": "acta", "name": "ActivityTracker"},
        "requestData": {
            "insight": {
                "dimension": row.dimension,
                "field": field,
                "key": row.key,
                "hour": hour_text(row.hour),
                "hour_end": hour_text(row.hour + 1),
                "count": finding.count,
                "median": finding.median,
                "mad": finding.mad,
                "ratio": finding.ratio,
                "score": finding.score,
                "baseline": days,
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acta_query::Query;

    #[test]
    fn a_burst_over_a_steady_baseline_is_unusual() {
        let finding = unusual(48, &[4, 3, 5, 4, 4, 2, 6]);
        assert_eq!(finding.as_ref().map(|finding| finding.median), Some(4.0));
        assert_eq!(finding.as_ref().map(|finding| finding.ratio), Some(12.0));
    }

    #[test]
    fn a_quiet_key_is_never_unusual() {
        assert_eq!(unusual(2, &[0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(unusual(MIN_COUNT - 1, &[0, 1, 0, 2, 0, 0, 1]), None);
    }

    #[test]
    fn a_busy_key_within_its_usual_spread_is_not_unusual() {
        assert_eq!(unusual(31, &[20, 18, 25, 22, 17, 21, 24]), None);
    }

    #[test]
    fn one_unusual_day_in_the_baseline_does_not_hide_a_burst() {
        // A mean and standard deviation would be dragged up by the 200; the median and MAD are not.
        let finding = unusual(60, &[4, 200, 5, 3, 4, 6, 4]);
        assert!(finding.is_some_and(|finding| finding.median == 4.0 && finding.mad == 1.0));
    }

    #[test]
    fn a_flat_baseline_does_not_divide_by_zero() {
        let finding = compare(12, &[4; 7]);
        assert_eq!(finding.mad, 0.0);
        assert_eq!(finding.score, 8.0);
    }

    #[test]
    fn the_counting_queries_parse_and_leave_insights_out() {
        for dimension in &DIMENSIONS {
            let query = acta_query::parse(dimension.query);
            assert!(query.is_ok(), "{} does not parse", dimension.query);
        }
        assert!(matches!(acta_query::parse(INSIGHT_QUERY), Ok(Query::Field(..))));
    }

    #[test]
    fn an_insight_id_is_the_same_for_the_same_finding_only() {
        let id = insight_id("acc", "action", "a.b.delete", 100);
        assert_eq!(id, insight_id("acc", "action", "a.b.delete", 100));
        assert_ne!(id, insight_id("acc", "action", "a.b.delete", 101));
        assert_ne!(id, insight_id("acc", "principal", "a.b.delete", 100));
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }

    #[test]
    fn the_message_says_how_many_times_the_usual_rate() {
        let finding = compare(48, &[4, 3, 5, 4, 4, 2, 6]);
        assert_eq!(
            message("action", "iam-identity.user-apikey.delete", 14, &finding),
            "iam-identity.user-apikey.delete is 12x its usual rate (48 in 14:00-15:00 UTC, usual 4)"
        );
    }
}
