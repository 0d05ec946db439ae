//! The search index: tantivy partitions per (instance, arrival day), derived from the log.
//!
//! Invariants:
//! - The index holds no copy of an event, only what finds it and its sequence number in the log; it can
//!   always be rebuilt from the log (`EventIndex::open` catches up and recreates missing partitions).
//! - The indexer follows the log, so it indexes every durable record exactly once and in sequence order, and
//!   each commit records (in tantivy's commit payload) how far the partition is indexed.
//! - A query opens only the partitions of the instances it is given, so the caller's account scope is the
//!   only way in.

mod aggregate;
mod collect;
mod schema;
mod translate;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use acta_query::{Compiled, EventView, PreparedEvent, Query};
use serde::{Deserialize, Serialize};
use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, Occur, Query as TantivyQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

use crate::log::{Day, Log, LogError, Record};
pub use aggregate::{Aggregation, Breakdown, Histogram, Series, Terms};
use collect::{LocalKey, SortedCollector};
use schema::{EventDoc, Fields};
use translate::{PartitionFacts, time_range, translate};

/// Errors of the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy failed.
    #[error("index {partition}: {source}")]
    Tantivy {
        /// The partition (`instance/day`).
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
}

/// Tuning of the index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// How often new events are committed (made searchable).
    pub commit_interval: Duration,
    /// Memory budget of one partition writer.
    pub writer_heap_bytes: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions { commit_interval: Duration::from_millis(1000), writer_heap_bytes: 50_000_000 }
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

/// What the indexer committed in a partition; kept as tantivy's commit payload.
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

struct Partition {
    name: String,
    index: Index,
    reader: IndexReader,
    info: Mutex<PartitionInfo>,
}

/// Ids accepted but not yet searchable, so duplicates are recognized before the index sees them.
#[derive(Default)]
struct PendingIds {
    /// account -> id -> (instance, seq), `None` while its append is under way.
    by_account: HashMap<String, HashMap<String, Option<(String, u64)>>>,
    /// instance -> (seq, account, id) in seq order, to forget them once committed.
    by_instance: HashMap<String, VecDeque<(u64, String, String)>>,
}

struct Inner {
    dir: PathBuf,
    fields: Fields,
    log: Arc<Log>,
    options: IndexOptions,
    partitions: RwLock<BTreeMap<(String, Day), Arc<Partition>>>,
    committed: Mutex<HashMap<String, u64>>,
    pending: Mutex<PendingIds>,
    wakeup: (Mutex<HashSet<String>>, Condvar),
    stop: AtomicBool,
    /// Partitions removed by retention whose writers the indexer thread must drop.
    removed: Mutex<Vec<(String, Day)>>,
}

/// The index of all instances of a data directory.
pub struct EventIndex {
    inner: Arc<Inner>,
    indexer: Mutex<Option<JoinHandle<()>>>,
}

impl EventIndex {
    /// Opens the index at `dir`, brings every partition up to date with the log (recreating missing ones),
    /// and starts the indexer thread.
    pub fn open(dir: &Path, log: Arc<Log>, options: IndexOptions) -> Result<EventIndex, IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io { path: dir.to_path_buf(), source })?;
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            fields: Fields::new(),
            log,
            options,
            partitions: RwLock::new(BTreeMap::new()),
            committed: Mutex::new(HashMap::new()),
            pending: Mutex::new(PendingIds::default()),
            wakeup: (Mutex::new(HashSet::new()), Condvar::new()),
            stop: AtomicBool::new(false),
            removed: Mutex::new(Vec::new()),
        });
        let mut indexer = Indexer::new(inner.clone());
        indexer.catch_up_all()?;
        let handle = std::thread::Builder::new()
            .name("acta-indexer".into())
            .spawn(move || indexer.run())
            .map_err(|source| IndexError::Io { path: dir.to_path_buf(), source })?;
        Ok(EventIndex { inner, indexer: Mutex::new(Some(handle)) })
    }

    /// Tells the indexer that an instance's log has new durable records.
    pub fn notify(&self, instance: &str) {
        let (set, condvar) = &self.inner.wakeup;
        lock(set).insert(instance.to_string());
        condvar.notify_one();
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

    /// Waits until everything durable now is searchable (tests and `acta reindex`).
    pub fn wait_caught_up(&self, timeout: Duration) -> bool {
        let targets: Vec<(String, u64)> = self
            .inner
            .log
            .instances()
            .into_iter()
            .map(|instance| {
                let last = self.inner.log.last_seq(&instance);
                (instance, last)
            })
            .collect();
        let deadline = Instant::now() + timeout;
        loop {
            let done = {
                let committed = lock(&self.inner.committed);
                targets.iter().all(|(instance, last)| committed.get(instance).copied().unwrap_or(0) >= *last)
            };
            if done {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            for (instance, _) in &targets {
                self.notify(instance);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The partitions and what each holds, for the catalog and storage figures.
    pub fn partitions(&self) -> Vec<(String, Day, PartitionInfo)> {
        let partitions = read(&self.inner.partitions);
        partitions
            .iter()
            .map(|((instance, day), partition)| (instance.clone(), *day, lock(&partition.info).clone()))
            .collect()
    }

    /// Marks which of `ids` are already stored in any of the account's `instances` (or are being stored
    /// now, or repeat an earlier id of the same list), and reserves the others until [`Self::confirm_ids`]
    /// or [`Self::release_ids`].
    pub fn reserve_ids(&self, account: &str, instances: &[String], ids: &[String]) -> Result<Vec<bool>, IndexError> {
        let mut pending = lock(&self.inner.pending);
        let mut duplicates = Vec::with_capacity(ids.len());
        for id in ids {
            let reserved = pending.by_account.get(account).is_some_and(|ids| ids.contains_key(id));
            let duplicate = reserved || self.inner.find_indexed_id(instances, id)?.is_some();
            if !duplicate {
                pending.by_account.entry(account.to_string()).or_default().insert(id.clone(), None);
            }
            duplicates.push(duplicate);
        }
        Ok(duplicates)
    }

    /// Records where reserved ids were stored.
    pub fn confirm_ids(&self, account: &str, instance: &str, stored: &[(String, u64)]) {
        let committed = lock(&self.inner.committed).get(instance).copied().unwrap_or(0);
        let mut pending = lock(&self.inner.pending);
        for (id, seq) in stored {
            if *seq <= committed {
                if let Some(ids) = pending.by_account.get_mut(account) {
                    ids.remove(id);
                }
                continue;
            }
            pending
                .by_account
                .entry(account.to_string())
                .or_default()
                .insert(id.clone(), Some((instance.to_string(), *seq)));
            pending.by_instance.entry(instance.to_string()).or_default().push_back((
                *seq,
                account.to_string(),
                id.clone(),
            ));
        }
    }

    /// Gives back reservations whose append failed.
    pub fn release_ids(&self, account: &str, ids: &[String]) {
        let mut pending = lock(&self.inner.pending);
        if let Some(reserved) = pending.by_account.get_mut(account) {
            for id in ids {
                if reserved.get(id).is_some_and(Option::is_none) {
                    reserved.remove(id);
                }
            }
        }
    }

    /// Finds an event by id in the given instances (searchable or just accepted).
    pub fn find_id(&self, account: &str, instances: &[String], id: &str) -> Result<Option<Record>, IndexError> {
        let pending_location =
            lock(&self.inner.pending).by_account.get(account).and_then(|ids| ids.get(id).cloned().flatten());
        let location = match pending_location {
            Some(location) if instances.contains(&location.0) => Some(location),
            _ => self.inner.find_indexed_id(instances, id)?,
        };
        let Some((instance, seq)) = location else {
            return Ok(None);
        };
        Ok(Some(self.inner.read_record(&instance, seq)?))
    }

    /// Events matching a search, in result order.
    pub fn search(&self, search: &Search<'_>) -> Result<Vec<Hit>, IndexError> {
        let mut candidates: Vec<(SortKey, bool, usize)> = Vec::new();
        let compiled = Compiled::new(search.query);
        let partitions = self.inner.partitions_for(search.scopes, search.from, search.to, search.after);
        let mut any_inexact = false;
        for (scope_index, partition) in &partitions {
            let scope = &search.scopes[*scope_index];
            let PartitionQuery { searcher, query, exact } =
                self.inner.partition_query(scope, partition, search.query, search.from, search.to);
            let below = search.after.map(|after| local_bound(after, &scope.instance));
            let limit = exact.then_some(search.limit);
            any_inexact |= !exact;
            let keys = searcher
                .search(&query, &SortedCollector { limit, below })
                .map_err(|source| tantivy_error(&partition.name, source))?;
            candidates.extend(keys.into_iter().map(|(time, received, seq)| {
                (SortKey { time, received, instance: scope.instance.clone(), seq }, exact, *scope_index)
            }));
        }
        candidates.sort_unstable_by(|a, b| b.0.cmp(&a.0));
        let mut hits = Vec::with_capacity(search.limit.min(candidates.len()));
        for (examined, (key, exact, scope_index)) in (0u64..).zip(candidates) {
            if hits.len() >= search.limit {
                break;
            }
            if any_inexact && search.deadline.is_some_and(|deadline| Instant::now() > deadline) {
                return Err(IndexError::Deadline { examined });
            }
            let record = self.inner.read_record(&key.instance, key.seq)?;
            if !exact && !verify(&compiled, &search.scopes[scope_index], &record) {
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
        let compiled = Compiled::new(query);
        let mut total = 0u64;
        let mut examined = 0u64;
        for (scope_index, partition) in self.inner.partitions_for(scopes, from, to, None) {
            let scope = &scopes[scope_index];
            let PartitionQuery { searcher, query: tantivy_query, exact } =
                self.inner.partition_query(scope, &partition, query, from, to);
            if exact {
                let count =
                    searcher.search(&tantivy_query, &Count).map_err(|source| tantivy_error(&partition.name, source))?;
                total += count as u64;
                continue;
            }
            let keys = searcher
                .search(&tantivy_query, &SortedCollector { limit: None, below: None })
                .map_err(|source| tantivy_error(&partition.name, source))?;
            for (_, _, seq) in keys {
                if deadline.is_some_and(|deadline| Instant::now() > deadline) {
                    return Err(IndexError::Deadline { examined });
                }
                examined += 1;
                let record = self.inner.read_record(&scope.instance, seq)?;
                if verify(&compiled, scope, &record) {
                    total += 1;
                }
            }
        }
        Ok(total)
    }

    /// Deletes a partition's index files and rebuilds it from the log (`acta reindex`, server stopped).
    pub fn rebuild(&self, instance: &str, day: Day) -> Result<(), IndexError> {
        let mut indexer = Indexer::new(self.inner.clone());
        indexer.rebuild_partition(instance, day)?;
        indexer.commit_all()
    }

    /// Removes the partition of a log segment that retention is about to remove. Refused while the indexer
    /// has not committed up to `last_seq` (the segment's last record): a partition still being written would
    /// be recreated by the indexer. The log segment must go right after; until it does, a restart rebuilds
    /// the partition from it, which is harmless.
    pub fn remove_partition(&self, instance: &str, day: Day, last_seq: u64) -> Result<(), IndexError> {
        let committed = lock(&self.inner.committed).get(instance).copied().unwrap_or(0);
        if committed < last_seq {
            return Err(IndexError::Io {
                path: self.inner.partition_path(instance, day),
                source: std::io::Error::other(format!(
                    "partition not fully indexed yet ({committed} of {last_seq}); retry later"
                )),
            });
        }
        write(&self.inner.partitions).remove(&(instance.to_string(), day));
        lock(&self.inner.removed).push((instance.to_string(), day));
        self.notify(instance);
        let path = self.inner.partition_path(instance, day);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(IndexError::Io { path, source }),
        }
    }

    /// The bytes on disk of an instance's partitions.
    pub fn instance_bytes(&self, instance: &str) -> u64 {
        dir_bytes(&self.inner.dir.join(instance))
    }

    /// Stops the indexer after a last commit.
    pub fn close(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.wakeup.1.notify_all();
        if let Some(handle) = lock(&self.indexer).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for EventIndex {
    fn drop(&mut self) {
        self.close();
    }
}

impl Inner {
    fn partition_path(&self, instance: &str, day: Day) -> PathBuf {
        self.dir.join(instance).join(day.to_string())
    }

    /// The partition of (instance, day), opened or created.
    fn partition(&self, instance: &str, day: Day) -> Result<Arc<Partition>, IndexError> {
        let key = (instance.to_string(), day);
        if let Some(partition) = read(&self.partitions).get(&key) {
            return Ok(partition.clone());
        }
        let mut partitions = write(&self.partitions);
        if let Some(partition) = partitions.get(&key) {
            return Ok(partition.clone());
        }
        let name = format!("{instance}/{day}");
        let path = self.partition_path(instance, day);
        std::fs::create_dir_all(&path).map_err(|source| IndexError::Io { path: path.clone(), source })?;
        let index = match Index::open_or_create(mmap_directory(&path)?, self.fields.schema.clone()) {
            Ok(index) => index,
            // A partition written by a version of Acta with other fields (the aggregation columns were added
            // later): its documents lack what queries now read, so it starts over empty and the indexer,
            // seeing nothing indexed, fills it again from the log. Only the indexer opens partitions, so
            // no query sees it half-built; at start-up this happens before the server answers.
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
        let info = index
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
        let partition = Arc::new(Partition { name, index, reader, info: Mutex::new(info) });
        partitions.insert(key, partition.clone());
        Ok(partition)
    }

    /// The partitions of the scopes that may hold events in the time range (and before the cursor).
    fn partitions_for(
        &self,
        scopes: &[InstanceScope],
        from: Option<i64>,
        to: Option<i64>,
        after: Option<&SortKey>,
    ) -> Vec<(usize, Arc<Partition>)> {
        let partitions = read(&self.partitions);
        let mut selected = Vec::new();
        for (scope_index, scope) in scopes.iter().enumerate() {
            let range = (scope.instance.clone(), Day::MIN)..=(scope.instance.clone(), Day::MAX);
            for (_, partition) in partitions.range(range) {
                let info = lock(&partition.info);
                let (Some(min), Some(max)) = (info.time_min, info.time_max) else {
                    continue;
                };
                let before_cursor = after.is_none_or(|after| min <= after.time);
                let overlaps = from.is_none_or(|from| max >= from) && to.is_none_or(|to| min < to);
                if overlaps && before_cursor {
                    selected.push((scope_index, partition.clone()));
                }
            }
        }
        selected
    }

    /// A partition's searcher and a query translated for it, restricted to the time range: what search, count
    /// and the aggregations all start from.
    fn partition_query(
        &self,
        scope: &InstanceScope,
        partition: &Partition,
        query: &Query,
        from: Option<i64>,
        to: Option<i64>,
    ) -> PartitionQuery {
        let searcher = partition.reader.searcher();
        let facts = PartitionFacts {
            searcher: &searcher,
            account: &scope.account,
            instance: &scope.instance,
            region: &scope.region,
        };
        let translated = translate(&self.fields, &facts, query);
        let query = self.with_time(translated.query, from, to);
        PartitionQuery { searcher, query, exact: translated.exact }
    }

    fn with_time(&self, query: Box<dyn TantivyQuery>, from: Option<i64>, to: Option<i64>) -> Box<dyn TantivyQuery> {
        if from.is_none() && to.is_none() {
            return query;
        }
        Box::new(BooleanQuery::new(vec![(Occur::Must, query), (Occur::Must, time_range(&self.fields, from, to))]))
    }

    fn find_indexed_id(&self, instances: &[String], id: &str) -> Result<Option<(String, u64)>, IndexError> {
        let term = Term::from_field_text(self.fields.id, id);
        let partitions = read(&self.partitions);
        for instance in instances {
            let range = (instance.clone(), Day::MIN)..=(instance.clone(), Day::MAX);
            for (_, partition) in partitions.range(range) {
                let searcher = partition.reader.searcher();
                let found = searcher
                    .search(
                        &TermQuery::new(term.clone(), IndexRecordOption::Basic),
                        &SortedCollector { limit: Some(1), below: None },
                    )
                    .map_err(|source| tantivy_error(&partition.name, source))?;
                if let Some((_, _, seq)) = found.first() {
                    return Ok(Some((instance.clone(), *seq)));
                }
            }
        }
        Ok(None)
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
}

/// The reference evaluator's verdict on a stored event.
fn verify(compiled: &Compiled, scope: &InstanceScope, record: &Record) -> bool {
    let raw = String::from_utf8_lossy(&record.event);
    let Ok(event) = serde_json::from_str::<serde_json::Value>(&raw) else {
        return false;
    };
    let received = acta_cadf::format_time(record.received_ns);
    let view = EventView {
        raw: &raw,
        event: &event,
        account: &scope.account,
        instance: &scope.instance,
        region: &scope.region,
        received: &received,
    };
    compiled.matches(&PreparedEvent::new(view))
}

/// The cursor as a bound on the keys of one instance's partition (see [`SortKey`] for the order).
fn local_bound(after: &SortKey, instance: &str) -> LocalKey {
    let seq_bound = match instance.cmp(after.instance.as_str()) {
        std::cmp::Ordering::Less => u64::MAX,
        std::cmp::Ordering::Equal => after.seq,
        std::cmp::Ordering::Greater => 0,
    };
    (after.time, after.received, seq_bound)
}

/// While the indexer is behind the log, it commits every this many commit intervals instead of every one.
const BACKLOG_COMMIT_FACTOR: u32 = 10;

/// Follows the log into the partitions. Owned by the indexer thread (and by `rebuild`).
struct Indexer {
    inner: Arc<Inner>,
    writers: HashMap<(String, Day), IndexWriter>,
    /// Partitions with uncommitted documents, and what their commit will record.
    dirty: HashMap<(String, Day), PartitionInfo>,
    /// Per instance, the next sequence number to index.
    next_seq: HashMap<String, u64>,
    last_commit: Instant,
}

impl Indexer {
    fn new(inner: Arc<Inner>) -> Indexer {
        Indexer {
            inner,
            writers: HashMap::new(),
            dirty: HashMap::new(),
            next_seq: HashMap::new(),
            last_commit: Instant::now(),
        }
    }

    fn catch_up_all(&mut self) -> Result<(), IndexError> {
        self.drop_partitions_without_segment()?;
        for instance in self.inner.log.instances() {
            for segment in self.inner.log.segments(&instance) {
                self.catch_up_segment(&instance, segment.day)?;
            }
            let last = self.inner.log.last_seq(&instance);
            self.next_seq.insert(instance.clone(), last + 1);
        }
        self.commit_all()
    }

    /// The index may only hold what the log holds: a partition whose log segment is gone is deleted.
    fn drop_partitions_without_segment(&self) -> Result<(), IndexError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IndexError::Io { path, source }
        };
        for instance_dir in std::fs::read_dir(&self.inner.dir).map_err(io(&self.inner.dir))? {
            let instance_dir = instance_dir.map_err(io(&self.inner.dir))?.path();
            let Some(instance) = instance_dir.file_name().and_then(|name| name.to_str()).map(str::to_string) else {
                continue;
            };
            let days: HashSet<Day> = self.inner.log.segments(&instance).iter().map(|segment| segment.day).collect();
            for day_dir in std::fs::read_dir(&instance_dir).map_err(io(&instance_dir))? {
                let day_dir = day_dir.map_err(io(&instance_dir))?.path();
                let day = day_dir.file_name().and_then(|name| name.to_str()).and_then(|name| name.parse::<Day>().ok());
                if day.is_some_and(|day| days.contains(&day)) {
                    continue;
                }
                tracing::warn!(partition = %day_dir.display(), "index partition without log segment removed");
                std::fs::remove_dir_all(&day_dir).map_err(io(&day_dir))?;
            }
        }
        Ok(())
    }

    fn catch_up_segment(&mut self, instance: &str, day: Day) -> Result<(), IndexError> {
        let partition = self.inner.partition(instance, day)?;
        let indexed = lock(&partition.info).indexed_seq;
        let mut committed = lock(&self.inner.committed);
        let entry = committed.entry(instance.to_string()).or_insert(0);
        *entry = (*entry).max(indexed);
        drop(committed);
        let Some(segment) = self.inner.log.segments(instance).into_iter().find(|segment| segment.day == day) else {
            return Ok(());
        };
        if indexed > segment.last_seq {
            // Recovery cut the log below what the index had committed (a torn tail that had been indexed, or
            // a restored log): the partition holds events the log does not, so it is rebuilt from the log.
            tracing::warn!(instance, %day, indexed, last = segment.last_seq, "index ahead of the log; rebuilding");
            return self.rebuild_partition(instance, day);
        }
        if indexed == segment.last_seq {
            return Ok(());
        }
        let from = (indexed + 1).max(segment.first_seq);
        self.index_from(instance, day, from)
    }

    /// Indexes a segment's records from `from` to its durable end, one at a time, so a backlog is never held
    /// in memory. A long backlog becomes searchable in steps of [`BACKLOG_COMMIT_FACTOR`] commit intervals.
    fn index_from(&mut self, instance: &str, day: Day, from: u64) -> Result<(), IndexError> {
        let log = self.inner.log.clone();
        for record in log.scan(instance, day, from)? {
            self.add(instance, day, &record?)?;
            if self.last_commit.elapsed() >= self.inner.options.commit_interval * BACKLOG_COMMIT_FACTOR {
                self.commit_all()?;
            }
        }
        Ok(())
    }

    /// Whether every instance's durable records have been added (committed or not).
    fn caught_up(&self) -> bool {
        self.inner
            .log
            .instances()
            .iter()
            .all(|instance| self.next_seq.get(instance).copied().unwrap_or(1) > self.inner.log.last_seq(instance))
    }

    fn rebuild_partition(&mut self, instance: &str, day: Day) -> Result<(), IndexError> {
        let key = (instance.to_string(), day);
        self.writers.remove(&key);
        self.dirty.remove(&key);
        let path = self.inner.partition_path(instance, day);
        write(&self.inner.partitions).remove(&key);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|source| IndexError::Io { path: path.clone(), source })?;
        }
        // The instance's progress is what its remaining partitions hold; the rebuild raises it again.
        let remaining = read(&self.inner.partitions)
            .range((instance.to_string(), Day::MIN)..=(instance.to_string(), Day::MAX))
            .map(|(_, partition)| lock(&partition.info).indexed_seq)
            .max()
            .unwrap_or(0);
        lock(&self.inner.committed).insert(instance.to_string(), remaining);
        self.catch_up_segment(instance, day)
    }

    fn run(mut self) {
        loop {
            let notified: Vec<String> = {
                let (set, condvar) = &self.inner.wakeup;
                let mut guard = lock(set);
                if guard.is_empty() && !self.inner.stop.load(Ordering::SeqCst) {
                    let wait = self.inner.options.commit_interval / 4;
                    guard = match condvar.wait_timeout(guard, wait) {
                        Ok((guard, _)) => guard,
                        Err(poisoned) => poisoned.into_inner().0,
                    };
                }
                guard.drain().collect()
            };
            let removed: Vec<(String, Day)> = lock(&self.inner.removed).drain(..).collect();
            for key in removed {
                self.writers.remove(&key);
                self.dirty.remove(&key);
            }
            for instance in notified {
                if let Err(error) = self.follow(&instance) {
                    tracing::error!(%error, instance, "indexing failed; will retry");
                }
            }
            let stopping = self.inner.stop.load(Ordering::SeqCst);
            // Behind the log, commits are spaced out: each makes a segment whose term dictionary is built and
            // later merged again, which is most of the indexing cost, so a burst is absorbed in fewer, larger
            // segments; once caught up, the last events are committed at the usual interval.
            let interval = self.inner.options.commit_interval;
            let elapsed = self.last_commit.elapsed();
            let due =
                stopping || (elapsed >= interval && (elapsed >= interval * BACKLOG_COMMIT_FACTOR || self.caught_up()));
            if !self.dirty.is_empty()
                && due
                && let Err(error) = self.commit_all()
            {
                tracing::error!(%error, "index commit failed; will retry");
            }
            if stopping {
                return;
            }
        }
    }

    /// Indexes an instance's durable records from where it stopped.
    fn follow(&mut self, instance: &str) -> Result<(), IndexError> {
        let next = *self.next_seq.entry(instance.to_string()).or_insert(1);
        let last = self.inner.log.last_seq(instance);
        if next > last {
            return Ok(());
        }
        for segment in self.inner.log.segments(instance) {
            if segment.last_seq < next {
                continue;
            }
            self.index_from(instance, segment.day, next.max(segment.first_seq))?;
        }
        Ok(())
    }

    fn add(&mut self, instance: &str, day: Day, record: &Record) -> Result<(), IndexError> {
        let key = (instance.to_string(), day);
        let partition = self.inner.partition(instance, day)?;
        if !self.writers.contains_key(&key) {
            let writer = partition
                .index
                .writer_with_num_threads(1, self.inner.options.writer_heap_bytes)
                .map_err(|source| tantivy_error(&partition.name, source))?;
            self.writers.insert(key.clone(), writer);
        }
        let raw = String::from_utf8_lossy(&record.event);
        let value: serde_json::Value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null);
        let event_time = value
            .get("eventTime")
            .and_then(serde_json::Value::as_str)
            .and_then(|text| acta_cadf::parse_time(text).ok())
            .unwrap_or(record.received_ns);
        let received_text = acta_cadf::format_time(record.received_ns);
        let document = schema::document(
            &self.inner.fields,
            &EventDoc {
                seq: record.seq,
                event_time,
                received_ns: record.received_ns,
                received_text: &received_text,
                id: &record.event_id,
                raw: &raw,
                value: &value,
            },
        );
        if let Some(writer) = self.writers.get(&key) {
            writer.add_document(document).map_err(|source| tantivy_error(&partition.name, source))?;
        }
        let info = self.dirty.entry(key).or_insert_with(|| lock(&partition.info).clone());
        info.indexed_seq = info.indexed_seq.max(record.seq);
        info.time_min = Some(info.time_min.map_or(event_time, |min| min.min(event_time)));
        info.time_max = Some(info.time_max.map_or(event_time, |max| max.max(event_time)));
        info.events += 1;
        self.next_seq.insert(instance.to_string(), record.seq + 1);
        Ok(())
    }

    fn commit_all(&mut self) -> Result<(), IndexError> {
        let dirty: Vec<((String, Day), PartitionInfo)> = self.dirty.drain().collect();
        let mut newest_day: HashMap<String, Day> = HashMap::new();
        for ((instance, day), info) in dirty {
            let partition = self.inner.partition(&instance, day)?;
            if let Some(writer) = self.writers.get_mut(&(instance.clone(), day)) {
                let payload = serde_json::to_string(&info).unwrap_or_default();
                let mut prepared = writer.prepare_commit().map_err(|source| tantivy_error(&partition.name, source))?;
                prepared.set_payload(&payload);
                prepared.commit().map_err(|source| tantivy_error(&partition.name, source))?;
                partition.reader.reload().map_err(|source| tantivy_error(&partition.name, source))?;
            }
            let indexed = info.indexed_seq;
            *lock(&partition.info) = info;
            // Visible now: forget pending ids up to here only after the reader sees them.
            self.forget_pending(&instance, indexed);
            let newest = newest_day.entry(instance).or_insert(day);
            *newest = (*newest).max(day);
        }
        // Only the newest day of an instance still receives events; older writers release their memory.
        self.writers.retain(|(instance, day), _| newest_day.get(instance).is_none_or(|newest| day >= newest));
        self.last_commit = Instant::now();
        Ok(())
    }

    fn forget_pending(&self, instance: &str, indexed: u64) {
        {
            let mut committed = lock(&self.inner.committed);
            let entry = committed.entry(instance.to_string()).or_insert(0);
            *entry = (*entry).max(indexed);
        }
        let mut pending = lock(&self.inner.pending);
        let PendingIds { by_account, by_instance } = &mut *pending;
        if let Some(queue) = by_instance.get_mut(instance) {
            while queue.front().is_some_and(|(seq, _, _)| *seq <= indexed) {
                if let Some((_, account, id)) = queue.pop_front()
                    && let Some(ids) = by_account.get_mut(&account)
                {
                    ids.remove(&id);
                }
            }
        }
    }
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
