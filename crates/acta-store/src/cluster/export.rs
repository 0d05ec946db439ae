//! The cluster's log as `acta verify postgres://...` checks it: PostgreSQL's records and published checkpoints,
//! with the sealed days of object storage when given, written into a directory in a data directory's layout. The
//! directory verifier then checks it without trusting any node's copy.
//!
//! Read in the order that keeps the parts consistent: the sealed days first, then the published checkpoints,
//! then the records up to the heads read after them, so no checkpoint covers a record that is not written.

use std::path::Path;
use std::sync::Arc;

use super::days::{SealedDays, restore};
use crate::integrity::files::notes_path;
use crate::log::{Log, LogOptions};
use crate::pglog::{PgLog, PgLogOptions};
use crate::{StoreError, integrity};

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedCluster {
    /// Instances with records in PostgreSQL or object storage.
    pub instances: usize,
    /// Records read from PostgreSQL.
    pub records: u64,
    /// Sealed days taken from object storage.
    pub sealed_days: usize,
    /// Sealed days left out (no object storage given): their records are not checked, their final checkpoints
    /// still link the days after them.
    pub sealed_days_left_out: usize,
}

/// How many records are read from PostgreSQL at a time.
const CHUNK: u64 = 10_000;

/// Writes the cluster's log and checkpoints at `postgres_url` (and its sealed days at `object_store`) into `dir`,
/// an empty directory.
pub async fn export_for_verify(
    postgres_url: &str,
    object_store: Option<&str>,
    dir: &Path,
) -> Result<ExportedCluster, StoreError> {
    let options = PgLogOptions { max_connections: 2, ..PgLogOptions::node("acta-verify") };
    let cluster_log = PgLog::connect(postgres_url, options).await?;
    let mut exported = ExportedCluster::default();
    let sealed = cluster_log.sealed_days().await?;
    match object_store {
        Some(url) => {
            let days = SealedDays::open(url)?;
            exported.sealed_days = restore(dir, &cluster_log, &days, None).await?.len();
        }
        None => {
            // As retention would have left them: where each instance ended the day, and (below) the day's final
            // checkpoints, which the next day links to.
            for listed in &sealed {
                for (instance, end) in listed.last_seqs.iter().chain(&listed.retired) {
                    crate::log::validate_instance(instance)?;
                    let instance_dir = dir.join("log").join(instance);
                    crate::log::retire_unopened(&instance_dir, listed.day, end.last_seq, end.last_received_ns)?;
                }
            }
            exported.sealed_days_left_out = sealed.len();
        }
    }
    let (published, _) = cluster_log.checkpoints_after(0).await?;
    let heads = cluster_log.heads().await?;
    let log_dir = dir.join("log");
    let log = tokio::task::spawn_blocking(move || Log::open(&log_dir, LogOptions::default()))
        .await
        .map_err(|error| StoreError::Task(error.to_string()))??;
    let log = Arc::new(log);
    for (instance, head) in &heads {
        let mut after = log.last_seq(instance);
        while after < *head {
            let records = cluster_log.records(instance, after, (after + CHUNK).min(*head)).await?;
            let Some(last) = records.last().map(|record| record.seq) else {
                return Err(StoreError::Cluster(crate::pglog::PgLogError::Inconsistent(format!(
                    "instance {instance} ends at seq {head}, but PostgreSQL holds no record after seq {after}"
                ))));
            };
            exported.records += records.len() as u64;
            let (copy_log, copy_instance) = (log.clone(), instance.clone());
            tokio::task::spawn_blocking(move || copy_log.copy(&copy_instance, records))
                .await
                .map_err(|error| StoreError::Task(error.to_string()))??;
            after = last;
        }
    }
    exported.instances = log.instances().len();
    drop(log);
    for checkpoint in published {
        let path = notes_path(dir, &checkpoint.instance, checkpoint.day);
        // A sealed day taken from object storage came with its own (the same lines, and the earlier ones).
        if path.exists() {
            continue;
        }
        let io = |source| StoreError::Integrity(integrity::IntegrityError::Io { path: path.clone(), source });
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, format!("{}\n", checkpoint.line)).map_err(io)?;
    }
    cluster_log.close().await;
    Ok(exported)
}
