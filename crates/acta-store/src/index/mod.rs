//! The search index: tantivy partitions per arrival day, shared by every instance of every account, derived
//! from the log.
//!
//! Invariants:
//! - The index holds no copy of an event, only what finds it, its instance and its sequence number in the
//!   log; it can always be rebuilt from the log (`EventIndex::open` catches up and recreates what is missing).
//! - One indexer thread follows the log and owns every writer, so it indexes each durable record exactly once
//!   and in sequence order per instance; each commit records (in tantivy's commit payload) how far each
//!   instance is indexed in that partition.
//! - The cost is bounded by volume, not tenants: one partition per arrival day whatever the number of
//!   accounts, and a writer (its memory budget and threads) only for the day being written.
//! - Every read goes through [`scope::restrict`]: a query reaches only the documents of the instances it is
//!   given, so the caller's account scope is the only way in.

mod aggregate;
mod collect;
mod ids;
mod indexer;
mod pipe;
mod schema;
mod scope;
mod translate;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use acta_query::{Compiled, PreparedEvent, Query};
use serde::{Deserialize, Serialize};
use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, Occur, Query as TantivyQuery, TermQuery, TermSetQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Index, IndexReader, ReloadPolicy, Term};

use crate::log::{Day, Log, LogError, Record};
pub use aggregate::{Aggregation, Breakdown, Histogram, Series, Terms};
use collect::{LocalKey, NewestFirst, OldestFirst, Order, SortedCollector};
pub(crate) use ids::stored_digest;
pub use ids::{Duplicates, IdCheck, NewId, Reservation};
use indexer::{Indexer, Request, Wakeup};
use schema::Fields;
use scope::{Scopes, restrict};
use translate::{PartitionFacts, time_range, translate};

/// Where the shared partitions live under the index directory: `days/<YYYY-MM-DD>`. Anything else there was
/// written by an earlier layout (one partition per instance and day) and is rebuilt from the log.
const DAYS_DIR: &str = "days";

/// Errors of the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy failed.
    #[error("index {partition}: {source}")]
    Tantivy {
        /// The partition (`days/<day>`).
        partition: String,
        /// The cause.
        source: tantivy::TantivyError,
    },
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A file of the index directory could not be handled.
    #[error("index directory {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The query's deadline passed before it finished.
    #[error("the query did not finish within its deadline; {examined} candidate events were examined")]
    Deadline {
        /// How many candidates had been checked.
        examined: u64,
    },
    /// A partition of an instance's segment cannot be removed yet.
    #[error("index partition {day} of {instance} not fully indexed yet ({committed} of {last_seq}); retry later")]
    NotIndexedYet {
        /// The instance.
        instance: String,
        /// The day.
        day: Day,
        /// What is committed.
        committed: u64,
        /// The segment's last record.
        last_seq: u64,
    },
    /// The indexer thread has stopped.
    #[error("the indexer has stopped")]
    Stopped,
    /// A pipeline reached one of its limits.
    #[error(transparent)]
    Pipe(#[from] acta_query::PipeError),
}

/// Tuning of the index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// How often new events are committed (made searchable).
    pub commit_interval: Duration,
    /// Memory budget of the writer of the day being written (shared by its threads).
    pub writer_heap_bytes: usize,
    /// Indexing threads of that writer.
    pub writer_threads: usize,
    /// Most threads an aggregation collects a partition's segments on: collecting is nearly all of a large
    /// aggregation's work, and one thread leaves the other cores of an idle machine unused.
    pub aggregation_threads: usize,
    /// Documents a partition holds from which its segments are collected on several threads: below it,
    /// starting a thread costs more than it saves.
    pub parallel_from_documents: u64,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            commit_interval: Duration::from_millis(1000),
            writer_heap_bytes: 96_000_000,
            writer_threads: 2,
            aggregation_threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(4),
            parallel_from_documents: 100_000,
        }
    }
}

/// An instance a query may read, with what the query language knows of it.
#[derive(Debug, Clone)]
pub struct InstanceScope {
    /// Instance id.
    pub instance: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
}

/// The position of an event in result order: newest eventTime first, then latest arrival, instance, sequence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SortKey {
    /// eventTime, unix ns.
    pub time: i64,
    /// Arrival time, unix ns.
    pub received: i64,
    /// Instance id.
    pub instance: String,
    /// Sequence number in the instance's log.
    pub seq: u64,
}

/// A search over some instances.
pub struct Search<'a> {
    /// Where to look.
    pub scopes: &'a [InstanceScope],
    /// What to match.
    pub query: &'a Query,
    /// eventTime lower bound, inclusive.
    pub from: Option<i64>,
    /// eventTime upper bound, exclusive.
    pub to: Option<i64>,
    /// Only events after this one in result order (the cursor).
    pub after: Option<&'a SortKey>,
    /// How many events at most.
    pub limit: usize,
    /// When to give up.
    pub deadline: Option<Instant>,
}

/// One event found.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Its position in result order.
    pub key: SortKey,
    /// The log record (envelope and event bytes).
    pub record: Record,
}

/// What the indexer committed of one instance in one partition.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// The highest sequence number indexed and committed.
    pub indexed_seq: u64,
    /// Smallest eventTime, unix ns.
    pub time_min: Option<i64>,
    /// Largest eventTime, unix ns.
    pub time_max: Option<i64>,
    /// Number of events.
    pub events: u64,
}

/// A partition's commit payload: what each instance has in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Payload {
    instances: BTreeMap<String, PartitionInfo>,
}

/// The shared partition of one arrival day.
struct Partition {
    name: String,
    path: PathBuf,
    index: Index,
    reader: IndexReader,
    /// As of the last commit.
    info: Mutex<BTreeMap<String, PartitionInfo>>,
}

impl Partition {
    fn indexed(&self, instance: &str) -> u64 {
        lock(&self.info).get(instance).map_or(0, |info| info.indexed_seq)
    }
}

struct Inner {
    dir: PathBuf,
    fields: Fields,
    log: Arc<Log>,
    options: IndexOptions,
    partitions: RwLock<BTreeMap<Day, Arc<Partition>>>,
    /// Per instance, the highest sequence number committed (searchable).
    committed: Mutex<HashMap<String, u64>>,
    pending: Mutex<ids::PendingIds>,
    wakeup: (Mutex<Wakeup>, Condvar),
    stop: AtomicBool,
    /// Why indexing is failing, while it is (cleared by the next successful commit).
    fault: Mutex<Option<String>>,
}

/// The index of all instances of a data directory.
pub struct EventIndex {
    inner: Arc<Inner>,
    indexer: Mutex<Option<JoinHandle<()>>>,
}

impl EventIndex {
    /// Opens the index at `dir`, brings every partition up to date with the log (recreating missing ones and
    /// replacing an index of an earlier layout), and starts the indexer thread.
    pub fn open(dir: &Path, log: Arc<Log>, options: IndexOptions) -> Result<EventIndex, IndexError> {
        let days = dir.join(DAYS_DIR);
        std::fs::create_dir_all(&days).map_err(|source| IndexError::Io { path: days.clone(), source })?;
        remove_earlier_layout(dir)?;
        let inner = Arc::new(Inner {
            dir: days,
            fields: Fields::new(),
            log,
            options,
            partitions: RwLock::new(BTreeMap::new()),
            committed: Mutex::new(HashMap::new()),
            pending: Mutex::new(ids::PendingIds::default()),
            wakeup: (Mutex::new(Wakeup::default()), Condvar::new()),
            stop: AtomicBool::new(false),
            fault: Mutex::new(None),
        });
        // The indexer's thread catches up and then follows the log. It opens the partitions' writers, so the
        // threads tantivy starts for them inherit its lower priority.
        let (caught_up, catching_up) = std::sync::mpsc::sync_channel(1);
        let mut indexer = Indexer::new(inner.clone());
        let handle = std::thread::Builder::new()
            .name("acta-indexer".into())
            .spawn(move || {
                lower_priority();
                let result = indexer.catch_up_all();
                let ok = result.is_ok();
                let _ = caught_up.send(result);
                if ok {
                    indexer.run();
                }
            })
            .map_err(|source| IndexError::Io { path: dir.to_path_buf(), source })?;
        match catching_up.recv() {
            Ok(Ok(())) => Ok(EventIndex { inner, indexer: Mutex::new(Some(handle)) }),
            Ok(Err(error)) => {
                let _ = handle.join();
                Err(error)
            }
            Err(_) => Err(IndexError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::other("the indexer thread ended while catching up with the log"),
            }),
        }
    }

    /// The directory of a day's partition (whether or not it exists).
    pub fn partition_dir(&self, day: Day) -> PathBuf {
        self.inner.partition_path(day)
    }

    /// Tells the indexer that an instance's log has new durable records.
    pub fn notify(&self, instance: &str) {
        self.inner.notify(instance);
    }

    /// Why indexing fails, while it does (a full device, an I/O error): what was searchable stays
    /// searchable, new events wait in the log and are indexed once a retry succeeds.
    pub fn fault(&self) -> Option<String> {
        lock(&self.inner.fault).clone()
    }

    /// How many durable events are not yet searchable, over all instances.
    pub fn lag(&self) -> u64 {
        let committed = lock(&self.inner.committed);
        self.inner
            .log
            .instances()
            .iter()
            .map(|instance| {
                let done = committed.get(instance).copied().unwrap_or(0);
                self.inner.log.last_seq(instance).saturating_sub(done)
            })
            .sum()
    }

    /// Each instance's durable seq now: once [`EventIndex::searchable`] says these are reached, every event
    /// stored so far can be found (`POST /v1/events?wait=searchable`).
    pub fn durable_marks(&self) -> Vec<(String, u64)> {
        let log = &self.inner.log;
        log.instances().into_iter().map(|instance| (instance.clone(), log.last_seq(&instance))).collect()
    }

    /// Whether every instance's committed (searchable) seq has reached its mark; asks the indexer to hurry for
    /// the instances that have not.
    pub fn searchable(&self, marks: &[(String, u64)]) -> bool {
        let behind: Vec<&String> = {
            let committed = lock(&self.inner.committed);
            marks
                .iter()
                .filter(|(instance, mark)| committed.get(instance).copied().unwrap_or(0) < *mark)
                .map(|(instance, _)| instance)
                .collect()
        };
        for instance in &behind {
            self.notify(instance);
        }
        behind.is_empty()
    }

    /// Waits until everything durable now is searchable (tests and `acta reindex`).
    pub fn wait_caught_up(&self, timeout: Duration) -> bool {
        let marks = self.durable_marks();
        let deadline = Instant::now() + timeout;
        while !self.searchable(&marks) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// What each instance has in each partition, by instance and day.
    pub fn partitions(&self) -> Vec<(String, Day, PartitionInfo)> {
        let partitions = read(&self.inner.partitions);
        let mut listed: Vec<(String, Day, PartitionInfo)> = partitions
            .iter()
            .flat_map(|(day, partition)| {
                lock(&partition.info)
                    .iter()
                    .map(|(instance, info)| (instance.clone(), *day, info.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        listed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        listed
    }

    /// Finds an event by id in the given instances (searchable or just accepted).
    pub fn find_id(&self, account: &str, instances: &[String], id: &str) -> Result<Option<Record>, IndexError> {
        let Some((instance, seq)) = self.locate_id(account, instances, id)? else {
            return Ok(None);
        };
        Ok(Some(self.inner.read_record(&instance, seq)?))
    }

    /// Events matching a search, in result order (newest first). `after` is a key of this order: only events
    /// after it, that is strictly smaller in [`SortKey`] order, are returned.
    pub fn search(&self, search: &Search<'_>) -> Result<Vec<Hit>, IndexError> {
        self.search_in::<NewestFirst>(search)
    }

    /// Events matching a search, oldest first (a resource's history, a principal's first sighting). `after` is a
    /// key of this order: only events after it, that is strictly greater in [`SortKey`] order, are returned.
    /// The same partitions, translation and verification as `search`: only the order differs.
    pub fn search_oldest_first(&self, search: &Search<'_>) -> Result<Vec<Hit>, IndexError> {
        self.search_in::<OldestFirst>(search)
    }

    fn search_in<O: Order>(&self, search: &Search<'_>) -> Result<Vec<Hit>, IndexError> {
        let scopes = Scopes::new(search.scopes);
        let mut candidates: Vec<(SortKey, bool, usize)> = Vec::new();
        let compiled = Compiled::new(search.query);
        let after = search.after.map(|after| local_bound(after, &scopes));
        let mut any_inexact = false;
        let (from, cursor) = O::partition_window(search.from, search.after);
        for (partition, present) in self.inner.partitions_for(&scopes, from, search.to, cursor) {
            let PartitionQuery { searcher, query, exact, .. } =
                self.inner.partition_query(&scopes, &present, &partition, search.query, search.from, search.to);
            let limit = exact.then_some(search.limit);
            any_inexact |= !exact;
            let collector = SortedCollector::<O>::new(scopes.instances().clone(), limit, after);
            let keys = searcher.search(&query, &collector).map_err(|source| tantivy_error(&partition.name, source))?;
            candidates.extend(keys.into_iter().map(|(time, received, position, seq)| {
                let position = position as usize;
                let instance = scopes.get(position).instance.clone();
                (SortKey { time, received, instance, seq }, exact, position)
            }));
        }
        candidates.sort_unstable_by(|a, b| O::first(&a.0, &b.0));
        let mut hits = Vec::with_capacity(search.limit.min(candidates.len()));
        for (examined, (key, exact, position)) in (0u64..).zip(candidates) {
            if hits.len() >= search.limit {
                break;
            }
            if any_inexact && search.deadline.is_some_and(|deadline| Instant::now() > deadline) {
                return Err(IndexError::Deadline { examined });
            }
            let record = self.inner.read_record(&key.instance, key.seq)?;
            if !exact && !verify(&compiled, scopes.get(position), &record) {
                continue;
            }
            hits.push(Hit { key, record });
        }
        Ok(hits)
    }

    /// How many events match.
    pub fn count(
        &self,
        scopes: &[InstanceScope],
        query: &Query,
        from: Option<i64>,
        to: Option<i64>,
        deadline: Option<Instant>,
    ) -> Result<u64, IndexError> {
        let scopes = Scopes::new(scopes);
        let compiled = Compiled::new(query);
        let mut total = 0u64;
        let mut examined = 0u64;
        for (partition, present) in self.inner.partitions_for(&scopes, from, to, None) {
            let PartitionQuery { searcher, query: tantivy_query, exact, .. } =
                self.inner.partition_query(&scopes, &present, &partition, query, from, to);
            if exact {
                let count =
                    searcher.search(&tantivy_query, &Count).map_err(|source| tantivy_error(&partition.name, source))?;
                total += count as u64;
                continue;
            }
            let collector = SortedCollector::<NewestFirst>::new(scopes.instances().clone(), None, None);
            let keys =
                searcher.search(&tantivy_query, &collector).map_err(|source| tantivy_error(&partition.name, source))?;
            for (_, _, position, seq) in keys {
                if deadline.is_some_and(|deadline| Instant::now() > deadline) {
                    return Err(IndexError::Deadline { examined });
                }
                examined += 1;
                let scope = scopes.get(position as usize);
                let record = self.inner.read_record(&scope.instance, seq)?;
                if verify(&compiled, scope, &record) {
                    total += 1;
                }
            }
        }
        Ok(total)
    }

    /// Rebuilds what an instance has in a day's partition from its log segment (`acta reindex`). The old
    /// documents are deleted and the new ones added in one commit, so searches see one or the other.
    pub fn rebuild(&self, instance: &str, day: Day) -> Result<(), IndexError> {
        self.inner.request(|done| Request::Rebuild { instance: instance.to_string(), day, done })
    }

    /// Removes what an instance has in a day's partition, for retention, which removes the log segment right
    /// after (until it does, a restart indexes the segment again, which is harmless). Refused while the
    /// indexer has not committed up to `last_seq` (the segment's last record): documents still on their way
    /// would come back.
    pub fn remove_partition(&self, instance: &str, day: Day, last_seq: u64) -> Result<(), IndexError> {
        let committed = lock(&self.inner.committed).get(instance).copied().unwrap_or(0);
        if committed < last_seq {
            return Err(IndexError::NotIndexedYet { instance: instance.to_string(), day, committed, last_seq });
        }
        self.inner.request(|done| Request::Remove { instance: instance.to_string(), day, done })
    }

    /// The bytes on disk of an instance's share of the partitions: each partition's size in proportion to the
    /// instance's events in it.
    pub fn instance_bytes(&self, instance: &str) -> u64 {
        let partitions: Vec<Arc<Partition>> = read(&self.inner.partitions).values().cloned().collect();
        partitions
            .iter()
            .map(|partition| {
                let (mine, all) = {
                    let info = lock(&partition.info);
                    let mine = info.get(instance).map_or(0, |info| info.events);
                    (mine, info.values().map(|info| info.events).sum::<u64>())
                };
                if mine == 0 || all == 0 {
                    return 0;
                }
                let bytes = u128::from(dir_bytes(&partition.path));
                u64::try_from(bytes * u128::from(mine) / u128::from(all)).unwrap_or(u64::MAX)
            })
            .sum()
    }

    /// Stops the indexer after a last commit.
    pub fn close(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.wakeup.1.notify_all();
        if let Some(handle) = lock(&self.indexer).take() {
            let _ = handle.join();
        }
        // Requests that came too late get their channel closed, which their callers read as `Stopped`.
        lock(&self.inner.wakeup.0).requests.clear();
    }
}

impl Drop for EventIndex {
    fn drop(&mut self) {
        self.close();
    }
}

/// Deletes the partitions of the earlier layout (`<instance>/<day>`): the log rebuilds them in the shared one.
fn remove_earlier_layout(dir: &Path) -> Result<(), IndexError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.file_name().is_some_and(|name| name == DAYS_DIR) || !path.is_dir() {
            continue;
        }
        tracing::warn!(
            path = %path.display(),
            "removing an index written by an earlier version (one partition per instance); it is rebuilt from the log"
        );
        std::fs::remove_dir_all(&path).map_err(io(&path))?;
    }
    Ok(())
}

impl Inner {
    fn notify(&self, instance: &str) {
        let (wakeup, condvar) = &self.wakeup;
        lock(wakeup).instances.insert(instance.to_string());
        condvar.notify_one();
    }

    /// Hands a request to the indexer thread, which owns the writers, and waits for its answer.
    fn request(
        &self,
        make: impl FnOnce(std::sync::mpsc::Sender<Result<(), IndexError>>) -> Request,
    ) -> Result<(), IndexError> {
        if self.stop.load(Ordering::SeqCst) {
            return Err(IndexError::Stopped);
        }
        let (done, answer) = std::sync::mpsc::channel();
        let (wakeup, condvar) = &self.wakeup;
        lock(wakeup).requests.push(make(done));
        condvar.notify_one();
        answer.recv().unwrap_or(Err(IndexError::Stopped))
    }

    fn partition_path(&self, day: Day) -> PathBuf {
        self.dir.join(day.to_string())
    }

    /// The partition of a day, opened or created.
    fn partition(&self, day: Day) -> Result<Arc<Partition>, IndexError> {
        if let Some(partition) = read(&self.partitions).get(&day) {
            return Ok(partition.clone());
        }
        let mut partitions = write(&self.partitions);
        if let Some(partition) = partitions.get(&day) {
            return Ok(partition.clone());
        }
        let name = format!("{DAYS_DIR}/{day}");
        let path = self.partition_path(day);
        std::fs::create_dir_all(&path).map_err(|source| IndexError::Io { path: path.clone(), source })?;
        let index = match Index::open_or_create(mmap_directory(&path)?, self.fields.schema.clone()) {
            Ok(index) => index,
            // A partition written by a version of Acta with other fields: its documents lack what queries now
            // read, so it starts over empty and the indexer, seeing nothing indexed, fills it again from the
            // log. Only the indexer opens partitions, so no query sees it half-built; at start-up this happens
            // before the server answers.
            Err(tantivy::TantivyError::SchemaError(reason)) => {
                tracing::warn!(partition = %name, %reason, "index partition has another schema; rebuilding it from the log");
                std::fs::remove_dir_all(&path).map_err(|source| IndexError::Io { path: path.clone(), source })?;
                std::fs::create_dir_all(&path).map_err(|source| IndexError::Io { path: path.clone(), source })?;
                Index::create(mmap_directory(&path)?, self.fields.schema.clone(), tantivy::IndexSettings::default())
                    .map_err(|source| tantivy_error(&name, source))?
            }
            Err(source) => return Err(tantivy_error(&name, source)),
        };
        // The positioned fields' tokenizer: tantivy needs it to index documents (queries build their terms).
        index.tokenizers().register(schema::ENCODED_TOKENIZER, schema::EncodedTokenizer::default());
        let payload: Payload = index
            .load_metas()
            .ok()
            .and_then(|metas| metas.payload)
            .and_then(|payload| serde_json::from_str(&payload).ok())
            .unwrap_or_default();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|source| tantivy_error(&name, source))?;
        let partition = Arc::new(Partition { name, path, index, reader, info: Mutex::new(payload.instances) });
        partitions.insert(day, partition.clone());
        Ok(partition)
    }

    /// The partitions that may hold events of the scopes in the time range (and before the cursor), each with
    /// the positions of the scopes that have events there.
    fn partitions_for(
        &self,
        scopes: &Scopes,
        from: Option<i64>,
        to: Option<i64>,
        after: Option<&SortKey>,
    ) -> Vec<(Arc<Partition>, Vec<usize>)> {
        let partitions: Vec<Arc<Partition>> = read(&self.partitions).values().cloned().collect();
        let mut selected = Vec::new();
        for partition in partitions {
            let info = lock(&partition.info);
            let present: Vec<usize> = if info.len() < scopes.instances().len() {
                // Walk the smaller side: a partition of few instances read by the platform admin, or a
                // partition of thousands read by one account.
                info.keys().filter_map(|instance| scopes.position(instance).ok()).collect()
            } else {
                (0..scopes.instances().len())
                    .filter(|position| info.contains_key(&scopes.get(*position).instance))
                    .collect()
            };
            let present: Vec<usize> = present
                .into_iter()
                .filter(|position| {
                    let Some(info) = info.get(&scopes.get(*position).instance) else {
                        return false;
                    };
                    let (Some(min), Some(max)) = (info.time_min, info.time_max) else {
                        return false;
                    };
                    let before_cursor = after.is_none_or(|after| min <= after.time);
                    let overlaps = from.is_none_or(|from| max >= from) && to.is_none_or(|to| min < to);
                    overlaps && before_cursor
                })
                .collect();
            drop(info);
            if !present.is_empty() {
                selected.push((partition, present));
            }
        }
        selected
    }

    /// A partition's searcher and a query translated for it, restricted to the present scopes' instances and
    /// to the time range: what search, count and the aggregations all start from.
    fn partition_query(
        &self,
        scopes: &Scopes,
        present: &[usize],
        partition: &Partition,
        query: &Query,
        from: Option<i64>,
        to: Option<i64>,
    ) -> PartitionQuery {
        let searcher = partition.reader.searcher();
        let present: Vec<&InstanceScope> = present.iter().map(|position| scopes.get(*position)).collect();
        let facts = PartitionFacts { searcher: &searcher, present: &present };
        let translated = translate(&self.fields, &facts, query);
        let unrestricted = translated.query.box_clone();
        let query = self.with_time(translated.query, from, to);
        let query = restrict(&self.fields, present.iter().map(|scope| scope.instance.as_str()), query);
        PartitionQuery { searcher, query, exact: translated.exact, unrestricted }
    }

    fn with_time(&self, query: Box<dyn TantivyQuery>, from: Option<i64>, to: Option<i64>) -> Box<dyn TantivyQuery> {
        if from.is_none() && to.is_none() {
            return query;
        }
        Box::new(BooleanQuery::new(vec![(Occur::Must, query), (Occur::Must, time_range(&self.fields, from, to))]))
    }

    /// Which of `ids` are stored among the scopes' instances: one query per partition for the whole list, and a
    /// query per id only in a partition that holds some of them (a batch sent again), since one query per id
    /// and partition made duplicate detection the bottleneck of ingest into a large partition.
    fn indexed_ids(&self, scopes: &Scopes, ids: &[String]) -> Result<HashSet<String>, IndexError> {
        let mut found = HashSet::new();
        if ids.is_empty() {
            return Ok(found);
        }
        let terms: Vec<Term> = ids.iter().map(|id| Term::from_field_text(self.fields.id, id)).collect();
        for (partition, present) in self.partitions_for(scopes, None, None, None) {
            let searcher = partition.reader.searcher();
            let instances = || present.iter().map(|position| scopes.get(*position).instance.as_str());
            let any = restrict(&self.fields, instances(), Box::new(TermSetQuery::new(terms.clone())));
            if searcher.search(&any, &Count).map_err(|source| tantivy_error(&partition.name, source))? == 0 {
                continue;
            }
            for (id, term) in ids.iter().zip(&terms) {
                if found.contains(id) {
                    continue;
                }
                let one = restrict(
                    &self.fields,
                    instances(),
                    Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
                );
                if searcher.search(&one, &Count).map_err(|source| tantivy_error(&partition.name, source))? > 0 {
                    found.insert(id.clone());
                }
            }
        }
        Ok(found)
    }

    /// Where an id is stored among the scopes' instances, newest partition first.
    fn find_indexed_id(&self, scopes: &Scopes, id: &str) -> Result<Option<(String, u64)>, IndexError> {
        Ok(self.id_locations(scopes, id, 1)?.into_iter().next())
    }

    fn read_record(&self, instance: &str, seq: u64) -> Result<Record, IndexError> {
        let day = self
            .log
            .segments(instance)
            .into_iter()
            .find(|segment| segment.first_seq <= seq && seq <= segment.last_seq)
            .map(|segment| segment.day)
            .ok_or_else(|| LogError::NotFound { instance: instance.to_string(), day: Day::MIN, seq: Some(seq) })?;
        Ok(self.log.read(instance, day, seq)?)
    }
}

/// What [`Inner::partition_query`] prepares.
struct PartitionQuery {
    searcher: tantivy::Searcher,
    query: Box<dyn TantivyQuery>,
    /// Whether the index alone answers the query (else each candidate is checked on the log).
    exact: bool,
    /// The translated query alone, without the time range or the restriction to the present instances: only
    /// for a segment [`scope::owned`] finds wholly theirs, and only by a collector that checks the time range.
    unrestricted: Box<dyn TantivyQuery>,
}

/// The cursor as a bound on the collectors' keys (see [`LocalKey`]): an instance not in scope bounds at the
/// position it would take, which is below every in-scope instance ordered after it.
fn local_bound(after: &SortKey, scopes: &Scopes) -> LocalKey {
    let (position, seq) = match scopes.position(&after.instance) {
        Ok(position) => (position, after.seq),
        Err(position) => (position, 0),
    };
    (after.time, after.received, u32::try_from(position).unwrap_or(u32::MAX), seq)
}

/// The reference evaluator's verdict on a stored event (an event whose bytes are not JSON matches nothing).
fn verify(compiled: &Compiled, scope: &InstanceScope, record: &Record) -> bool {
    crate::ingest::publish::with_record_view(scope, record, |view| compiled.matches(&PreparedEvent::new(*view)))
        .unwrap_or(false)
}

/// The size of the files under `path`, 0 when it does not exist.
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |metadata| metadata.len()),
            Err(_) => 0,
        })
        .sum()
}

fn mmap_directory(path: &Path) -> Result<tantivy::directory::MmapDirectory, IndexError> {
    tantivy::directory::MmapDirectory::open(path).map_err(|source| IndexError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(source.to_string()),
    })
}

fn tantivy_error(partition: &str, source: tantivy::TantivyError) -> IndexError {
    IndexError::Tantivy { partition: partition.to_string(), source }
}

/// Locks a mutex, taking over a poisoned one: every critical section here leaves consistent state.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Lowers the calling thread's scheduling priority (about `nice 10` on Linux), for it and the threads it starts.
///
/// Indexing is the heaviest work of a busy server and can wait a little; acknowledging events, firing alerts
/// and answering searches cannot. When the cores are saturated (10,000 events/s on 2 cores), the scheduler
/// then gives them the CPU first: the alert p99 fell from about 200 ms to 18-24 ms, and the ingest p99 from
/// 52-68 ms to 33-35 ms (`docs/benchmarks.md`), while indexing takes whatever CPU is left, all of it when there
/// is any.
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    // The crate maps 0..=99 onto the nice values 19..=-20: 25 is nice 9 or 10.
    let lowered = match ThreadPriorityValue::try_from(25_u8) {
        Ok(value) => thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value))
            .map_err(|error| format!("{error:?}")),
        Err(error) => Err(error.to_string()),
    };
    if let Err(error) = lowered {
        tracing::warn!(%error, "could not lower the indexer's priority");
    }
}
