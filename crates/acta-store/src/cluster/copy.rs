//! A node's copy of the cluster's log: what any node commits to PostgreSQL, copied into the local log in seq
//! order, then shown to the index and published on the live bus.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::index::{EventIndex, InstanceScope};
use crate::ingest::{LiveEvent, Publisher};
use crate::log::{Log, Record};
use crate::meta::Meta;
use crate::pglog::PgLog;

/// After a failure (PostgreSQL unreachable, a copy refused), how long before following again from the local log.
const RETRY: Duration = Duration::from_secs(1);

/// The task that copies; stopped when dropped.
pub(crate) struct Copier {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Copier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the copy feeds.
pub(crate) struct Followers {
    pub(crate) log: Arc<Log>,
    pub(crate) index: Arc<EventIndex>,
    pub(crate) publisher: Publisher,
    pub(crate) meta: Meta,
    /// Woken after each copy (an answer waits for its batch to be here).
    pub(crate) copied: Arc<tokio::sync::Notify>,
}

impl Copier {
    /// Starts copying `cluster_log` into `followers.log`, from what the local log holds.
    pub(crate) fn start(cluster_log: Arc<PgLog>, followers: Followers) -> Copier {
        let task = tokio::spawn(async move {
            let mut scopes = Scopes::default();
            loop {
                if let Err(error) = follow(&cluster_log, &followers, &mut scopes).await {
                    tracing::warn!(%error, "copying the cluster's log stopped; following again from the local log");
                }
                tokio::time::sleep(RETRY).await;
            }
        });
        Copier { task }
    }
}

/// Follows the cluster's log after the local log's last seqs until something fails.
async fn follow(cluster_log: &PgLog, followers: &Followers, scopes: &mut Scopes) -> Result<(), String> {
    let log = &followers.log;
    let cursors: HashMap<String, u64> =
        log.instances().into_iter().map(|instance| (instance.clone(), log.last_seq(&instance))).collect();
    let mut follower = cluster_log.follow_from(cursors).await.map_err(|error| error.to_string())?;
    loop {
        let records = follower.next().await.map_err(|error| error.to_string())?;
        let mut by_instance: Vec<(String, Vec<Record>)> = Vec::new();
        for record in records {
            match by_instance.last_mut() {
                Some((instance, batch)) if *instance == record.instance => batch.push(record),
                _ => by_instance.push((record.instance.clone(), vec![record])),
            }
        }
        for (instance, records) in by_instance {
            let copied = records.clone();
            let copy_log = log.clone();
            let copy_instance = instance.clone();
            tokio::task::spawn_blocking(move || copy_log.copy(&copy_instance, copied))
                .await
                .map_err(|error| error.to_string())?
                .map_err(|error| error.to_string())?;
            let copied: Vec<(&str, &str, u64)> =
                records.iter().map(|record| (record.account.as_str(), record.event_id.as_str(), record.seq)).collect();
            followers.index.note_copied(&instance, &copied);
            followers.copied.notify_waiters();
            followers.index.notify(&instance);
            let account = records.first().map(|record| record.account.clone()).unwrap_or_default();
            let scope = scopes.of(&followers.meta, &instance, &account).await;
            for record in records {
                if let Some(event) = LiveEvent::of_record(&scope, record) {
                    followers.publisher.publish(event);
                }
            }
        }
    }
}

/// The account and region of each instance, as the live bus names them.
#[derive(Default)]
struct Scopes {
    known: HashMap<String, InstanceScope>,
}

impl Scopes {
    /// The scope of `instance` (of `account`), reading the instances again when it is new (created on another
    /// node).
    async fn of(&mut self, meta: &Meta, instance: &str, account: &str) -> InstanceScope {
        if !self.known.contains_key(instance) {
            match meta.all_instances().await {
                Ok(instances) => {
                    for known in instances {
                        let scope = InstanceScope {
                            instance: known.id.clone(),
                            account: known.account.clone(),
                            region: known.region.clone(),
                        };
                        self.known.insert(known.id, scope);
                    }
                }
                Err(error) => tracing::warn!(%error, "reading the instances for the live bus failed"),
            }
        }
        self.known.get(instance).cloned().unwrap_or_else(|| InstanceScope {
            instance: instance.to_owned(),
            account: account.to_owned(),
            region: String::new(),
        })
    }
}
