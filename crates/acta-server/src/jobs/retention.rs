//! Retention: archive sealed segments, then delete the partitions (instance, arrival day) older than each
//! instance's plan.
//!
//! A partition goes once its whole UTC day is older than the plan (`day end + retention_days <= now`), so it can
//! hold no event inside retention; oldest first, never the segment still receiving events. Each deletion is a
//! sequence of steps, each durable before the next, so that a crash anywhere leaves a state the next run
//! finishes:
//! 1. seal the segment if its day is over but it is still open;
//! 2. when the instance has an archive, a confirmed copy of the segment (else wait: nothing is lost early);
//! 3. an `acta.retention.delete` event in the account (instance, day, seqs, arrival range, count, final
//!    checkpoint), stored durably like any event. Its id is derived from (instance, day), so a run repeated
//!    after a crash finds it already stored instead of writing a second one;
//! 4. its documents in the shared index partition of that day (a restart before step 5 indexes them again from
//!    the log, and the next run removes them);
//! 5. `Log::remove_segment`, which writes the `RETIRED` note before it deletes the file;
//! 6. the `.leaves` file; the `.notes` stay, so `acta verify` links the next segment to the final checkpoint.
//!    Leftover `.leaves` of retired days (a crash after step 5) are removed at the start of every run.
//!
//! The archive worker runs in the same task: every sealed segment of an instance with an archive is copied once
//! sealed, not only before deletion. A failure is retried with a doubling delay (2 s to 15 min), written as an
//! `acta.archive.failure` event once per failure streak, and `acta.archive.success` when it recovers. In a
//! cluster every node runs this job over its own copy, and an instance's archive pass runs on one node at a time
//! (`Store::claim_archiving`), which then finds what another node archived before it in the shared metadata.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acta_store::log::SegmentInfo;
use acta_store::{Day, Instance};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use acta_store::{IngestError, LogError, MetaError, Store, StoreError};

use crate::clock::Clock;
use crate::jobs::archive::{self, ArchiveConfig, ArchiveError};

const DAY_NS: i64 = 86_400_000_000_000;

/// Operator settings of retention and archives.
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// How often deletion runs (it also runs at start). `acta serve --retention-period`.
    pub period: Duration,
    /// How often sealed segments are looked for to archive.
    pub archive_period: Duration,
    /// The directories under which managers may put directory archives (`--archive-root`, repeatable).
    pub archive_roots: Vec<PathBuf>,
    /// Networks an S3 archive endpoint may reach although loopback, private or link-local
    /// (`--archive-endpoint-allow`, `ACTA_ARCHIVE_ENDPOINT_ALLOW`); empty refuses them all.
    pub archive_endpoint_allow: Vec<ipnet::IpNet>,
    /// Arrival times and "now" for retention. A test knob (like `AlertSettings::window_divisor`): tests put
    /// now 40 days ahead; production uses the system clock.
    pub clock: Clock,
    /// Test knob: a deletion stops as if the process died right after this step (1-6), so tests can check
    /// that the next run, after a restart, finishes it. `None` in production.
    pub crash_after_step: Option<u8>,
}

impl Default for RetentionSettings {
    fn default() -> RetentionSettings {
        RetentionSettings {
            period: Duration::from_secs(300),
            archive_period: Duration::from_secs(60),
            archive_roots: Vec::new(),
            archive_endpoint_allow: Vec::new(),
            clock: Clock::default(),
            crash_after_step: None,
        }
    }
}

/// A partition that retention would delete (or did).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Partition {
    /// Arrival day.
    pub day: String,
    /// Events in it.
    pub events: u64,
}

/// What one run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Partitions deleted, as `(instance, day)`.
    pub deleted: Vec<(String, String)>,
    /// Segments archived, as `(instance, day)`.
    pub archived: Vec<(String, String)>,
    /// Problems met (each also logged); they block only their own instance.
    pub errors: Vec<String>,
}

/// Why retention stopped for an instance in a run (the next run tries again).
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The metadata failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Writing the deletion or archive health event failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// Archiving failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The segment of a finished day is still open.
    #[error("the segment of {0} could not be sealed yet")]
    NotSealed(Day),
    /// The instance has an archive that does not yet hold this day.
    #[error("the segment of {0} waits for a confirmed archive")]
    WaitsForArchive(Day),
    /// The instance's archive configuration does not read back.
    #[error("archive configuration: {0}")]
    Configuration(serde_json::Error),
    /// The test knob `crash_after_step` stopped the deletion.
    #[error("simulated crash after step {0}")]
    SimulatedCrash(u8),
}

impl From<LogError> for RetentionError {
    fn from(error: LogError) -> RetentionError {
        RetentionError::Store(error.into())
    }
}

impl From<acta_store::IndexError> for RetentionError {
    fn from(error: acta_store::IndexError) -> RetentionError {
        RetentionError::Store(error.into())
    }
}

/// The retention job: its settings, one run at a time, and the archive backoff per instance.
pub struct Retention {
    store: Arc<Store>,
    settings: RetentionSettings,
    backoff: Mutex<HashMap<String, (u32, Instant)>>,
    /// Runs never overlap (the periodic task and an explicit run).
    running: Mutex<()>,
}

/// The segments of an instance that a plan of `retention_days` deletes at `now`: the oldest ones whose whole
/// day ended at least `retention_days` ago, stopping at the first that did not (oldest first, no holes).
pub fn due(segments: &[SegmentInfo], retention_days: i64, now: i64) -> Vec<SegmentInfo> {
    let keep_ns = retention_days.saturating_mul(DAY_NS);
    segments
        .iter()
        .take_while(|segment| segment.day.next().start_ns().saturating_add(keep_ns) <= now)
        .cloned()
        .collect()
}

impl Retention {
    /// The job over a store, with the operator's settings.
    pub fn new(store: Arc<Store>, settings: RetentionSettings) -> Retention {
        Retention { store, settings, backoff: Mutex::default(), running: Mutex::default() }
    }

    /// The operator's settings (archive roots and endpoints are checked against them when a manager sets an
    /// archive).
    pub fn settings(&self) -> &RetentionSettings {
        &self.settings
    }

    /// The partitions a plan would delete now, for dry runs and confirmations.
    pub fn plan(&self, instance: &str, retention_days: i64) -> Vec<Partition> {
        let now = self.settings.clock.now();
        due(&self.store.log().segments(instance), retention_days, now)
            .into_iter()
            .map(|segment| Partition { day: segment.day.to_string(), events: segment.records })
            .collect()
    }

    /// The background task: a run at start, then deletion every `period` and archiving every `archive_period`.
    pub async fn run(self: Arc<Self>, mut stopping: tokio::sync::watch::Receiver<bool>) {
        let mut last_deletion: Option<Instant> = None;
        loop {
            let deletion_due = last_deletion.is_none_or(|at| at.elapsed() >= self.settings.period);
            let report = self.run_once(deletion_due, false).await;
            if deletion_due {
                last_deletion = Some(Instant::now());
            }
            if !report.errors.is_empty() {
                tracing::warn!(errors = ?report.errors, "retention run met problems; will retry");
            }
            let wait = self.settings.archive_period.min(self.settings.period);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopping.changed() => return,
            }
            if *stopping.borrow() {
                return;
            }
        }
    }

    /// One run: archive what is sealed, then (when `delete`) delete what is due. `now_retry` ignores the
    /// archive backoff (an explicit run retries at once).
    pub async fn run_once(&self, delete: bool, now_retry: bool) -> RunReport {
        let _one_at_a_time = self.running.lock().await;
        let mut report = RunReport::default();
        let instances = match self.store.meta().all_instances().await {
            Ok(instances) => instances,
            Err(error) => {
                report.errors.push(error.to_string());
                return report;
            }
        };
        // Finished days are sealed first: archives copy sealed segments only, and a quiet instance's last day
        // would otherwise wait for the hourly sealer. Finished by the log's clock: a cluster node's copy closes
        // a day a day late, for records other nodes still stamp with it.
        let today = self.store.log().today();
        if let Err(error) = self.store.seal_before(today).await {
            report.errors.push(format!("sealing finished days: {error}"));
        }
        self.archive_pass(&instances, now_retry, &mut report).await;
        if delete {
            for instance in &instances {
                if let Err(error) = self.delete_due(instance, &mut report).await {
                    tracing::error!(instance = %instance.id, %error, "retention stopped for this instance; will retry");
                    report.errors.push(format!("{}: {error}", instance.id));
                }
            }
        }
        report
    }

    async fn archive_pass(&self, instances: &[Instance], now_retry: bool, report: &mut RunReport) {
        let archives = match self.store.meta().all_archives().await {
            Ok(archives) => archives,
            Err(error) => {
                report.errors.push(error.to_string());
                return;
            }
        };
        for row in archives {
            let Some(instance) = instances.iter().find(|instance| instance.id == row.instance) else {
                continue;
            };
            if !now_retry
                && let Some((_, next)) = self.backoff.lock().await.get(&row.instance)
                && Instant::now() < *next
            {
                continue;
            }
            let claim = match self.store.claim_archiving(&instance.id).await {
                Ok(Some(claim)) => claim,
                // Another node of the cluster archives this instance now; this node's deletion waits for what
                // it confirms.
                Ok(None) => continue,
                Err(error) => {
                    report.errors.push(format!("{}: {error}", instance.id));
                    continue;
                }
            };
            self.archive_claimed(instance, &row.config, report).await;
            claim.release().await;
        }
    }

    /// Archives an instance whose archive claim this node holds, and records the outcome: the backoff, the
    /// failure streak, and its `acta.archive.failure` or `acta.archive.success` event when the streak starts
    /// or ends.
    async fn archive_claimed(&self, instance: &Instance, config: &str, report: &mut RunReport) {
        let outcome = self.archive_instance(instance, config, report).await;
        let error = outcome.err().map(|error| error.to_string());
        {
            let mut backoff = self.backoff.lock().await;
            match &error {
                None => {
                    backoff.remove(&instance.id);
                }
                Some(_) => {
                    let failures = backoff.get(&instance.id).map_or(0, |(failures, _)| *failures) + 1;
                    let delay = Duration::from_secs(2u64.saturating_pow(failures).min(900));
                    backoff.insert(instance.id.clone(), (failures, Instant::now() + delay));
                }
            }
        }
        if let Some(error) = &error {
            tracing::error!(instance = %instance.id, %error, "archiving failed; deletion waits, will retry");
            report.errors.push(format!("{}: {error}", instance.id));
        }
        let meta = self.store.meta();
        let changed = match meta.set_archive_failing(&instance.account, &instance.id, error.as_deref()).await {
            Ok(changed) => changed,
            Err(failure) => {
                report.errors.push(failure.to_string());
                return;
            }
        };
        if changed {
            let (action, message) = match &error {
                Some(error) => {
                    ("acta.archive.failure", format!("Acta: archiving instance {} failed: {error}", instance.name))
                }
                None => ("acta.archive.success", format!("Acta: archiving instance {} works again", instance.name)),
            };
            let data = json!({"instance": instance.id, "error": error});
            let event = self.system_event(instance, action, error.is_some(), &message, data, None);
            if let Err(failure) = self.store.accept_own(&instance.account, &event, self.settings.clock.now()).await {
                report.errors.push(failure.to_string());
            }
        }
    }

    /// Archives the sealed segments of an instance not yet confirmed in its destination, oldest first.
    async fn archive_instance(
        &self,
        instance: &Instance,
        config: &str,
        report: &mut RunReport,
    ) -> Result<(), RetentionError> {
        let config: ArchiveConfig = serde_json::from_str(config).map_err(RetentionError::Configuration)?;
        let destination = config.destination();
        let done = self.store.meta().archived_segments(&instance.id, &destination).await?;
        let pending: Vec<SegmentInfo> = self
            .store
            .log()
            .segments(&instance.id)
            .into_iter()
            .filter(|segment| segment.sealed && !done.iter().any(|archived| archived.day == segment.day.to_string()))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let target = config.open(&self.settings.archive_endpoint_allow).await?;
        for segment in pending {
            let archived =
                archive::archive_segment(&self.store, target.clone(), &instance.account, &segment, config.ndjson())
                    .await?;
            self.store.meta().record_archived(&instance.id, &destination, &archived).await?;
            report.archived.push((instance.id.clone(), archived.day));
        }
        Ok(())
    }

    async fn delete_due(&self, instance: &Instance, report: &mut RunReport) -> Result<(), RetentionError> {
        let store = &self.store;
        store.remove_retired_leaves(&instance.id).await?;
        let now = self.settings.clock.now();
        let due = due(&store.log().segments(&instance.id), instance.retention_days, now);
        if due.is_empty() {
            return Ok(());
        }
        let archive = match store.meta().archive(&instance.account, &instance.id).await? {
            Some(row) => {
                let config: ArchiveConfig = serde_json::from_str(&row.config).map_err(RetentionError::Configuration)?;
                Some(store.meta().archived_segments(&instance.id, &config.destination()).await?)
            }
            None => None,
        };
        for segment in due {
            let day = segment.day;
            // 1. Seal: a finished day still open (an instance that received nothing since) is sealed first.
            let segment = if segment.sealed {
                segment
            } else {
                store.seal_before(day.next()).await?;
                match store.log().segments(&instance.id).into_iter().find(|s| s.day == day) {
                    Some(sealed) if sealed.sealed => sealed,
                    _ => return Err(RetentionError::NotSealed(day)),
                }
            };
            self.crash_point(1)?;
            // 2. A confirmed archive first, when the instance has one.
            if let Some(done) = &archive
                && !done.iter().any(|archived| archived.day == day.to_string())
            {
                return Err(RetentionError::WaitsForArchive(day));
            }
            self.crash_point(2)?;
            // 3. The deletion event, durable before anything is removed.
            let final_checkpoint = store.final_checkpoint(&instance.id, day).await?;
            let (first_received, last_received) = store.received_range(&segment).await?;
            let data = json!({
                "instance": instance.id,
                "day": day.to_string(),
                "first_seq": segment.first_seq,
                "last_seq": segment.last_seq,
                "first_received": acta_cadf::format_time(first_received),
                "last_received": acta_cadf::format_time(last_received),
                "events": segment.records,
                "final_checkpoint": final_checkpoint,
            });
            let message = format!(
                "Acta: retention deleted {} events of {day} from instance {} ({} days)",
                segment.records, instance.name, instance.retention_days
            );
            let id = format!("acta-retention-{}-{day}", instance.id);
            let event = self.system_event(instance, "acta.retention.delete", false, &message, data, Some(id));
            store.accept_own(&instance.account, &event, now).await?;
            self.crash_point(3)?;
            // 4. Its documents in the index.
            store.remove_from_index(&instance.id, day, segment.last_seq).await?;
            self.crash_point(4)?;
            // 5. The log segment (the RETIRED note first).
            store.remove_segment(&instance.id, day).await?;
            self.crash_point(5)?;
            // 6. The leaves; the notes stay.
            store.remove_leaves(&instance.id, day).await?;
            self.crash_point(6)?;
            tracing::info!(instance = %instance.id, %day, events = segment.records, "retention deleted a partition");
            report.deleted.push((instance.id.clone(), day.to_string()));
        }
        Ok(())
    }

    fn crash_point(&self, step: u8) -> Result<(), RetentionError> {
        if self.settings.crash_after_step == Some(step) {
            return Err(RetentionError::SimulatedCrash(step));
        }
        Ok(())
    }

    /// An event Acta writes on its own (retention, archive health) in the instance's account.
    fn system_event(
        &self,
        instance: &Instance,
        action: &str,
        failed: bool,
        message: &str,
        data: Value,
        id: Option<String>,
    ) -> Value {
        let account = &instance.account;
        json!({
            "id": id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
            "eventType": "activity",
            "eventTime": acta_cadf::format_time(self.settings.clock.now()),
            "action": action,
            "outcome": if failed { "failure" } else { "success" },
            "message": message,
            "severity": if failed { "critical" } else { "normal" },
            "logSourceCRN": format!("crn:v1:acta:public:acta:global:a/{account}::"),
            "initiator": {"id": "acta", "name": "Acta", "typeURI": "service/acta"},
            "target": {
                "id": format!("crn:v1:acta:public:acta:global:a/{account}::instance:{}", instance.id),
                "name": instance.name,
                "typeURI": "acta/instance",
            },
            "observer": {"id": "acta", "name": "ActivityTracker"},
            "reason": {"reasonCode": if failed { 500 } else { 200 }, "reasonType": if failed { "Other" } else { "OK" }},
            "requestData": data,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn segment(day: &str) -> SegmentInfo {
        SegmentInfo {
            instance: "i".to_string(),
            day: day.parse().unwrap(),
            first_seq: 1,
            last_seq: 1,
            records: 1,
            bytes: 1,
            sealed: true,
        }
    }

    #[test]
    fn a_day_is_due_exactly_when_its_end_is_retention_days_old() {
        let segments = [segment("2026-01-01"), segment("2026-01-02")];
        let day_end: Day = "2026-01-02".parse().unwrap();
        let boundary = day_end.start_ns() + 30 * DAY_NS;
        assert!(due(&segments, 30, boundary - 1).is_empty(), "one nanosecond early");
        let at_boundary: Vec<Day> = due(&segments, 30, boundary).iter().map(|s| s.day).collect();
        assert_eq!(at_boundary, vec!["2026-01-01".parse::<Day>().unwrap()]);
    }

    #[test]
    fn due_days_are_the_oldest_ones_in_order() {
        let segments = [segment("2026-01-01"), segment("2026-01-03"), segment("2026-01-09")];
        let now = "2026-01-10".parse::<Day>().unwrap().start_ns();
        let days: Vec<String> = due(&segments, 5, now).iter().map(|s| s.day.to_string()).collect();
        assert_eq!(days, ["2026-01-01", "2026-01-03"]);
    }
}
