//! The indexer: one thread that follows every instance's log into the day partitions and owns their writers.
//! Rebuilds and retention's removals are requests to it, so no partition ever has two writers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use tantivy::{IndexWriter, TantivyDocument, Term};

use super::schema::{self, EventDoc};
use super::{IndexError, Inner, PartitionInfo, Payload, lock, tantivy_error, write};
use crate::log::{Day, Record};

/// While the indexer is behind the log, it commits every this many commit intervals instead of every one.
const BACKLOG_COMMIT_FACTOR: u32 = 10;

/// How often the catch-up at start says how far it is.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// The first pause after indexing failed, doubled at each failure in a row up to [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(500);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(10);

/// What the indexer thread is woken for.
#[derive(Default)]
pub(super) struct Wakeup {
    /// Instances whose log has new durable records.
    pub(super) instances: HashSet<String>,
    pub(super) requests: Vec<Request>,
}

/// Work for the writers' owner, answered on `done`.
pub(super) enum Request {
    /// Index an instance's segment of a day again (`acta reindex`).
    Rebuild { instance: String, day: Day, done: Sender<Result<(), IndexError>> },
    /// Drop an instance's documents of a day (retention).
    Remove { instance: String, day: Day, done: Sender<Result<(), IndexError>> },
}

/// Follows the log into the partitions. Owned by the indexer thread (and, before it starts, by `open`).
pub(super) struct Indexer {
    inner: Arc<Inner>,
    /// The writer of the day being written, and briefly of a day a request touches.
    writers: HashMap<Day, IndexWriter>,
    /// Partitions with uncommitted changes, and what their commit will record per instance.
    dirty: HashMap<Day, BTreeMap<String, PartitionInfo>>,
    /// Per instance, the next sequence number to index.
    next_seq: HashMap<String, u64>,
    last_commit: Instant,
    /// Whether the writers merge segments: not while the index is behind the log, where merging segments that
    /// the next commits make bigger anyway cost a fifth of the indexing time (200k events reindexed in 13.3 s
    /// without merges, 17.0 s with).
    merging: bool,
    /// After a failure: when to start over from the log, and the pause after the next failure.
    retry: Option<(Instant, Duration)>,
    /// Writers of older days finishing their merges on threads of their own: each holds its partition's lock
    /// until it is done, so a new writer of that day waits for it.
    retiring: HashMap<Day, std::thread::JoinHandle<()>>,
}

impl Indexer {
    pub(super) fn new(inner: Arc<Inner>) -> Indexer {
        Indexer {
            inner,
            writers: HashMap::new(),
            dirty: HashMap::new(),
            next_seq: HashMap::new(),
            last_commit: Instant::now(),
            merging: true,
            retry: None,
            retiring: HashMap::new(),
        }
    }

    /// After a failed add or commit, what the writers hold is unknown (a full device may have cut a
    /// segment file, tantivy may have lost a thread): the uncommitted work is dropped and, after a pause,
    /// indexed again from the log, where every durable event still is. Committed partitions are untouched,
    /// so searches keep answering from them meanwhile.
    fn start_over(&mut self, error: &IndexError) {
        let pause = self.retry.map_or(FIRST_RETRY_PAUSE, |(_, pause)| (pause * 2).min(MAX_RETRY_PAUSE));
        tracing::error!(%error, retry_in_ms = pause.as_millis() as u64, "indexing failed; uncommitted work is indexed again from the log");
        *lock(&self.inner.fault) = Some(error.to_string());
        // Dropping a writer discards what it had not committed.
        self.writers.clear();
        self.dirty.clear();
        self.next_seq.clear();
        self.retry = Some((Instant::now() + pause, pause));
    }

    /// After catching up: each instance is followed from its log's end. The seqs before the log's first record
    /// were removed by retention: none of them is to be found, so none is waited for (an instance whose every
    /// day was removed has nothing left to index).
    fn follow_from_the_end(&mut self, instances: Vec<String>) {
        for instance in instances {
            let last = self.inner.log.last_seq(&instance);
            let removed_through =
                self.inner.log.segments(&instance).first().map_or(last, |segment| segment.first_seq.saturating_sub(1));
            {
                let mut committed = lock(&self.inner.committed);
                let entry = committed.entry(instance.clone()).or_insert(0);
                *entry = (*entry).max(removed_through);
            }
            self.next_seq.insert(instance, last + 1);
        }
    }

    /// Indexes again, from each partition's last commit, what a failure dropped.
    fn resume(&mut self) -> Result<(), IndexError> {
        let instances = self.inner.log.instances();
        for instance in &instances {
            for segment in self.inner.log.segments(instance) {
                self.catch_up_segment(instance, segment.day)?;
            }
        }
        self.follow_from_the_end(instances);
        self.commit_all()
    }

    /// Turns the writers' merging on or off (see `merging`). Turned on before a commit, which is when tantivy
    /// looks for segments to merge, so the segments a backlog left are merged right after it is indexed.
    fn set_merging(&mut self, merging: bool) {
        if self.merging == merging {
            return;
        }
        self.merging = merging;
        for writer in self.writers.values() {
            writer.set_merge_policy(merge_policy(merging));
        }
    }

    /// Brings the index level with the log: drops what the log no longer has, then indexes what it lacks,
    /// saying in the server's log how far it is when that takes a while (a new layout, a lost index).
    pub(super) fn catch_up_all(&mut self) -> Result<(), IndexError> {
        self.drop_partitions_without_segment()?;
        self.set_merging(false);
        let instances = self.inner.log.instances();
        let mut behind = 0u64;
        let mut work = Vec::new();
        for instance in &instances {
            for segment in self.inner.log.segments(instance) {
                let indexed = self.inner.partition(segment.day)?.indexed(instance);
                behind += segment.last_seq.saturating_sub(indexed.max(segment.first_seq.saturating_sub(1)));
                work.push((instance.clone(), segment.day));
            }
        }
        let started = Instant::now();
        if behind > 0 {
            tracing::info!(events = behind, "indexing the log's events that the index lacks");
        }
        let mut last_report = Instant::now();
        let mut done = 0u64;
        for (instance, day) in work {
            done += self.catch_up_segment(&instance, day)?;
            if last_report.elapsed() >= PROGRESS_INTERVAL {
                tracing::info!(done, of = behind, "index catch-up");
                last_report = Instant::now();
            }
        }
        self.follow_from_the_end(instances);
        self.set_merging(true);
        self.commit_all()?;
        if behind > 0 {
            tracing::info!(events = done, seconds = started.elapsed().as_secs_f64(), "index caught up with the log");
        }
        Ok(())
    }

    /// The index may only hold what the log holds: a day partition no segment of that day backs is deleted,
    /// and so are an instance's documents in a partition of a day its log has no segment of.
    fn drop_partitions_without_segment(&mut self) -> Result<(), IndexError> {
        let mut days_of: HashMap<String, HashSet<Day>> = HashMap::new();
        for instance in self.inner.log.instances() {
            let days = self.inner.log.segments(&instance).iter().map(|segment| segment.day).collect();
            days_of.insert(instance, days);
        }
        let all_days: HashSet<Day> = days_of.values().flatten().copied().collect();
        let dir = self.inner.dir.clone();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IndexError::Io { path, source }
        };
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            let day = path.file_name().and_then(|name| name.to_str()).and_then(|name| name.parse::<Day>().ok());
            match day {
                Some(day) if all_days.contains(&day) => {
                    let partition = self.inner.partition(day)?;
                    let orphans: Vec<String> = lock(&partition.info)
                        .keys()
                        .filter(|instance| !days_of.get(*instance).is_some_and(|days| days.contains(&day)))
                        .cloned()
                        .collect();
                    for instance in orphans {
                        tracing::warn!(instance, %day, "index documents without log segment removed");
                        self.delete_instance(&instance, day)?;
                    }
                }
                _ => {
                    tracing::warn!(partition = %path.display(), "index partition without log segment removed");
                    std::fs::remove_dir_all(&path).map_err(io(&path))?;
                }
            }
        }
        self.commit_all()
    }

    /// Indexes what a segment has beyond its partition; returns how many records that was.
    fn catch_up_segment(&mut self, instance: &str, day: Day) -> Result<u64, IndexError> {
        let partition = self.inner.partition(day)?;
        let indexed = partition.indexed(instance);
        {
            let mut committed = lock(&self.inner.committed);
            let entry = committed.entry(instance.to_string()).or_insert(0);
            *entry = (*entry).max(indexed);
        }
        let Some(segment) = self.inner.log.segments(instance).into_iter().find(|segment| segment.day == day) else {
            return Ok(0);
        };
        if indexed > segment.last_seq {
            // Recovery cut the log below what the index had committed (a torn tail that had been indexed, or
            // a restored log): the partition holds events the log does not, so they are indexed again.
            tracing::warn!(instance, %day, indexed, last = segment.last_seq, "index ahead of the log; rebuilding");
            self.delete_instance(instance, day)?;
            return self.index_from(instance, day, segment.first_seq);
        }
        if indexed == segment.last_seq {
            return Ok(0);
        }
        self.index_from(instance, day, (indexed + 1).max(segment.first_seq))
    }

    /// Indexes a segment's records from `from` to its durable end, one at a time, so a backlog is never held
    /// in memory. A long backlog becomes searchable in steps of [`BACKLOG_COMMIT_FACTOR`] commit intervals.
    fn index_from(&mut self, instance: &str, day: Day, from: u64) -> Result<u64, IndexError> {
        let log = self.inner.log.clone();
        let mut added = 0;
        for record in log.scan(instance, day, from)? {
            self.add(instance, day, &record?)?;
            added += 1;
            if self.last_commit.elapsed() >= self.inner.options.commit_interval * BACKLOG_COMMIT_FACTOR {
                self.commit_all()?;
            }
        }
        Ok(added)
    }

    /// Whether every instance's durable records have been added (committed or not).
    fn caught_up(&self) -> bool {
        self.inner
            .log
            .instances()
            .iter()
            .all(|instance| self.next_seq.get(instance).copied().unwrap_or(1) > self.inner.log.last_seq(instance))
    }

    pub(super) fn run(mut self) {
        loop {
            let (notified, requests) = {
                let (wakeup, condvar) = &self.inner.wakeup;
                let mut guard = lock(wakeup);
                if guard.instances.is_empty() && guard.requests.is_empty() && !self.inner.stop.load(Ordering::SeqCst) {
                    let wait = self.inner.options.commit_interval / 4;
                    guard = match condvar.wait_timeout(guard, wait) {
                        Ok((guard, _)) => guard,
                        Err(poisoned) => poisoned.into_inner().0,
                    };
                }
                let notified: Vec<String> = guard.instances.drain().collect();
                (notified, std::mem::take(&mut guard.requests))
            };
            for request in requests {
                self.answer(request);
            }
            if let Some((at, _)) = self.retry {
                if self.inner.stop.load(Ordering::SeqCst) {
                    // What was not committed is indexed from the log at the next start.
                    return;
                }
                let now = Instant::now();
                if now < at {
                    std::thread::sleep((at - now).min(Duration::from_millis(100)));
                    continue;
                }
                match self.resume() {
                    Ok(()) => self.retry = None,
                    Err(error) => {
                        self.start_over(&error);
                        continue;
                    }
                }
            }
            for instance in notified {
                if let Err(error) = self.follow(&instance) {
                    self.start_over(&error);
                    break;
                }
            }
            if self.retry.is_some() {
                continue;
            }
            let stopping = self.inner.stop.load(Ordering::SeqCst);
            let caught_up = self.caught_up();
            self.set_merging(caught_up || stopping);
            // Behind the log, commits are spaced out: each makes a segment whose term dictionary is built and
            // later merged again, which is most of the indexing cost, so a burst is absorbed in fewer, larger
            // segments; once caught up, the last events are committed at the usual interval.
            let interval = self.inner.options.commit_interval;
            let elapsed = self.last_commit.elapsed();
            let due = stopping || (elapsed >= interval && (elapsed >= interval * BACKLOG_COMMIT_FACTOR || caught_up));
            if !self.dirty.is_empty()
                && due
                && let Err(error) = self.commit_all()
            {
                self.start_over(&error);
            }
            if stopping {
                // Segments a backlog left unmerged would stay so in a partition no longer written.
                for (day, writer) in self.writers.drain() {
                    if let Err(error) = writer.wait_merging_threads() {
                        tracing::warn!(%error, %day, "index merges did not finish");
                    }
                }
                return;
            }
        }
    }

    fn answer(&mut self, request: Request) {
        let (result, done) = match request {
            Request::Rebuild { instance, day, done } => (self.rebuild(&instance, day), done),
            Request::Remove { instance, day, done } => (self.remove(&instance, day), done),
        };
        // The caller may have given up waiting; nothing is lost either way.
        let _ = done.send(result);
    }

    /// Deletes an instance's documents of a day and adds its segment's records again, in one commit.
    fn rebuild(&mut self, instance: &str, day: Day) -> Result<(), IndexError> {
        self.delete_instance(instance, day)?;
        if let Some(segment) = self.inner.log.segments(instance).into_iter().find(|segment| segment.day == day) {
            self.index_from(instance, day, segment.first_seq)?;
        }
        self.commit_all()
    }

    /// Drops an instance's documents of a day, and the whole partition once nothing is left in it.
    fn remove(&mut self, instance: &str, day: Day) -> Result<(), IndexError> {
        self.delete_instance(instance, day)?;
        self.commit_all()?;
        let partition = self.inner.partition(day)?;
        if !lock(&partition.info).is_empty() {
            return Ok(());
        }
        self.writers.remove(&day);
        write(&self.inner.partitions).remove(&day);
        match std::fs::remove_dir_all(&partition.path) {
            Ok(()) => Ok(()),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(IndexError::Io { path: partition.path.clone(), source }),
        }
    }

    /// Deletes an instance's documents of a day (visible at the next commit, with whatever is added after).
    fn delete_instance(&mut self, instance: &str, day: Day) -> Result<(), IndexError> {
        let term = Term::from_field_text(self.inner.fields.instance, instance);
        self.writer(day)?.delete_term(term);
        self.dirty_info(day)?.remove(instance);
        Ok(())
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

    /// The day's writer, created when needed.
    fn writer(&mut self, day: Day) -> Result<&IndexWriter, IndexError> {
        if !self.writers.contains_key(&day) {
            // A retired writer of this day still holds the partition's lock while its merges finish (retention
            // touching a day just after its last commit met `LockBusy` here).
            if let Some(retiring) = self.retiring.remove(&day) {
                let _ = retiring.join();
            }
            let partition = self.inner.partition(day)?;
            let options = &self.inner.options;
            let writer = partition
                .index
                .writer_with_num_threads(options.writer_threads.max(1), options.writer_heap_bytes)
                .map_err(|source| tantivy_error(&partition.name, source))?;
            writer.set_merge_policy(merge_policy(self.merging));
            self.writers.insert(day, writer);
        }
        self.writers.get(&day).ok_or(IndexError::Stopped)
    }

    /// What the next commit of a day will record, starting from what its last commit recorded.
    fn dirty_info(&mut self, day: Day) -> Result<&mut BTreeMap<String, PartitionInfo>, IndexError> {
        if !self.dirty.contains_key(&day) {
            let partition = self.inner.partition(day)?;
            let info = lock(&partition.info).clone();
            self.dirty.insert(day, info);
        }
        self.dirty.get_mut(&day).ok_or(IndexError::Stopped)
    }

    fn add(&mut self, instance: &str, day: Day, record: &Record) -> Result<(), IndexError> {
        let (document, event_time) = document(&self.inner.fields, instance, record);
        let name = format!("{}/{day}", super::DAYS_DIR);
        self.writer(day)?.add_document(document).map_err(|source| tantivy_error(&name, source))?;
        let info = self.dirty_info(day)?.entry(instance.to_string()).or_default();
        info.indexed_seq = info.indexed_seq.max(record.seq);
        info.time_min = Some(info.time_min.map_or(event_time, |min| min.min(event_time)));
        info.time_max = Some(info.time_max.map_or(event_time, |max| max.max(event_time)));
        info.events += 1;
        let next = self.next_seq.entry(instance.to_string()).or_insert(1);
        *next = (*next).max(record.seq + 1);
        Ok(())
    }

    fn commit_all(&mut self) -> Result<(), IndexError> {
        let mut dirty: Vec<(Day, BTreeMap<String, PartitionInfo>)> = self.dirty.drain().collect();
        // Oldest first: each instance's events then become searchable in order, whatever fails.
        dirty.sort_unstable_by_key(|(day, _)| *day);
        for (day, instances) in dirty {
            let partition = self.inner.partition(day)?;
            if let Some(writer) = self.writers.get_mut(&day) {
                let payload = serde_json::to_string(&Payload { instances: instances.clone() }).unwrap_or_default();
                let mut prepared = writer.prepare_commit().map_err(|source| tantivy_error(&partition.name, source))?;
                prepared.set_payload(&payload);
                prepared.commit().map_err(|source| tantivy_error(&partition.name, source))?;
            }
            *lock(&partition.info) = instances.clone();
            partition.reader.reload().map_err(|source| tantivy_error(&partition.name, source))?;
            // Visible now: forget pending ids up to here only after the reader sees them.
            for (instance, info) in &instances {
                self.forget_pending(instance, info.indexed_seq);
            }
        }
        // Only the newest day still receives events; older writers release their memory and threads once their
        // merges are done (dropping a writer would abandon them), on a thread of their own.
        if let Some(newest) = self.writers.keys().max().copied() {
            let older: Vec<Day> = self.writers.keys().filter(|day| **day < newest).copied().collect();
            for day in older {
                if let Some(writer) = self.writers.remove(&day) {
                    let finish = move || {
                        if let Err(error) = writer.wait_merging_threads() {
                            tracing::warn!(%error, %day, "index merges did not finish");
                        }
                    };
                    match std::thread::Builder::new().name("acta-index-retire".into()).spawn(finish) {
                        Ok(thread) => {
                            self.retiring.insert(day, thread);
                        }
                        Err(error) => tracing::warn!(%error, %day, "no thread to finish the index merges"),
                    }
                }
            }
        }
        // Threads done with their merges need no joining.
        self.retiring.retain(|_, thread| !thread.is_finished());
        self.last_commit = Instant::now();
        if lock(&self.inner.fault).take().is_some() {
            tracing::info!("indexing works again");
        }
        Ok(())
    }

    fn forget_pending(&self, instance: &str, indexed: u64) {
        {
            let mut committed = lock(&self.inner.committed);
            let entry = committed.entry(instance.to_string()).or_insert(0);
            *entry = (*entry).max(indexed);
        }
        lock(&self.inner.pending).forget(instance, indexed);
    }
}

fn merge_policy(merging: bool) -> Box<dyn tantivy::indexer::MergePolicy> {
    if merging {
        Box::new(tantivy::indexer::LogMergePolicy::default())
    } else {
        Box::new(tantivy::indexer::NoMergePolicy)
    }
}

/// The tantivy document of a record, and the eventTime it is sorted by (its arrival when it has none).
fn document(fields: &schema::Fields, instance: &str, record: &Record) -> (TantivyDocument, i64) {
    let raw = String::from_utf8_lossy(&record.event);
    let value: serde_json::Value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null);
    let event_time = value
        .get("eventTime")
        .and_then(serde_json::Value::as_str)
        .and_then(|text| acta_cadf::parse_time(text).ok())
        .unwrap_or(record.received_ns);
    let received_text = acta_cadf::format_time(record.received_ns);
    let document = schema::document(
        fields,
        &EventDoc {
            instance,
            seq: record.seq,
            event_time,
            received_ns: record.received_ns,
            received_text: &received_text,
            id: &record.event_id,
            raw: &raw,
            value: &value,
        },
    );
    (document, event_time)
}
