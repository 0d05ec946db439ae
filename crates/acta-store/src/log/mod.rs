//! The embedded event log: the source of truth.
//!
//! Every accepted event is a record in the append-only log of its instance. The index, the
//! ledger, exports and archives are all derived from it. "An accepted event is never lost,
//! never silently changed": an append returns only once its records are on disk (fsync), and
//! every byte read back is checked against a CRC.
//!
//! # Roles
//! - [`Log`] is the handle (`Send + Sync`, shared through an `Arc`). One log manages every
//!   instance of a data directory.
//! - The **writer thread** (`writer.rs`) owns all appends. Group commit: it takes every batch
//!   queued, writes each touched file once, `fdatasync`s each once, then answers them all.
//! - The **sealer thread** compresses the segment of a finished day in the background
//!   (`sealed.rs`); [`Log::seal_before`] does the same synchronously.
//! - **Recovery** (`recovery.rs`) runs inside [`Log::open`]: it checks everything before it
//!   repairs anything.
//!
//! # Files
//! ```text
//! <dir>/<instance>/<YYYY-MM-DD>.log   the active segment of an arrival day (UTC): frames
//! <dir>/<instance>/<YYYY-MM-DD>.seg   a sealed segment: the same frames in zstd blocks
//! <dir>/<instance>/RETIRED            what retention removed last (see below)
//! <dir>/LOCK                          locked (flock) while a `Log` has the directory open
//! ```
//! Instance ids are 1 to 128 characters of `[a-z0-9_-]`.
//!
//! # Record format (frozen: integrity hashes the payload bytes)
//! ```text
//! frame   = len u32 LE | crc32c(payload) u32 LE | payload            (len = payload length)
//! payload = version u8 (=1)
//!         | seq u64 LE | received_ns i64 LE
//!         | stream   (u16 LE length + UTF-8)
//!         | account  (u16 LE length + UTF-8)
//!         | instance (u16 LE length + UTF-8)
//!         | event_id (u16 LE length + UTF-8)
//!         | event bytes, exactly as received (the rest of the payload)
//! ```
//! A payload is at most [`MAX_PAYLOAD_BYTES`]. The sealed segment layout is documented in
//! `sealed.rs`; a sealed block inflates to the very frames of the `.log`, so the payload bytes
//! are identical before and after sealing.
//!
//! `RETIRED` is one line, `acta-log-retired 1 <day> <last_seq> <last_received_ns> <crc32c hex>`,
//! written (atomically) before retention deletes a segment, so seqs and arrival times carry on
//! even when every segment of an instance is gone.
//!
//! # Invariants
//! - Per instance, `seq` starts at 1 and has no gaps, across days; `received_ns` (from
//!   [`LogOptions::clock`]) never decreases, even when the clock does. A record lives in the
//!   segment of the UTC day of its `received_ns`.
//! - An append is acknowledged only after its frames are written and synced; a new file is
//!   synced together with its directory. Readers see only synced frames.
//! - If a write or a file creation fails because the device is full or over quota, the group
//!   is undone: its files are cut back to their last durable frame (a segment it created is
//!   removed), its sequence numbers are given back, and its batches fail with
//!   [`LogError::NoSpace`]. The next group tries again, so the log accepts once space is back.
//! - Any other failed write or sync poisons the log: that append and all later ones fail with
//!   [`LogError::Poisoned`]. A failed fsync is never retried and trusted (the kernel may have
//!   dropped the pages it could not write), even when it reports a full device. Reopening runs
//!   recovery.
//! - A batch is all-or-nothing with respect to acknowledgement. (A crash may leave records of
//!   an unacknowledged batch on disk: at-least-once, which event ids deduplicate upstream.)
//! - A sealed segment never changes. Only sealed segments are removed, oldest first.
//! - Recovery cuts only a torn tail: a bad last frame after which no valid frame exists (an
//!   incomplete frame, garbage, or zeros). A bad frame with a valid frame after it, a valid
//!   frame that breaks the seq chain, or a damaged sealed segment makes open fail with the
//!   file and byte offset, leaving every file untouched.
//!
//! Known limit: if a crash tears a multi-page write so that a later page reached the disk
//! while an earlier one did not, the valid frame after the hole makes open refuse (as for
//! corruption) although those records were never acknowledged; an operator decides.
//!
//! The log uses `pread` (`std::os::unix::fs::FileExt`), so it builds on Unix only.

mod active;
mod day;
mod error;
mod fsio;
mod record;
mod recovery;
mod sealed;
mod state;
mod writer;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

pub use day::{Day, ParseDayError};
pub use error::LogError;
pub use fsio::{IoHook, IoOp};
pub(crate) use record::payload_len;
pub use record::{Envelope, MAX_PAYLOAD_BYTES, RECORD_VERSION, Record, encode_payload};

use active::ActiveSegment;
use sealed::SealedSegment;
use state::{InstanceEntry, Segment, Shared};
use writer::{Command, Current, SealJob, Writer, WriterInstance};

/// How a [`Log`] runs.
#[derive(Clone)]
pub struct LogOptions {
    /// The time source for arrival times, unix nanoseconds UTC. Defaults to the system clock;
    /// tests set a fake one to cross days.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// The stream written into every record's envelope (`local` for the embedded store).
    pub stream: String,
    /// About how many bytes of frames go into one compressed block of a sealed segment
    /// (default 64 KiB; at most 64 MiB). A read inflates one block.
    pub block_bytes: usize,
    /// How many inflated blocks of sealed segments to keep for point reads (default 64).
    pub cache_blocks: usize,
    /// zstd level for sealed segments (default 3).
    pub zstd_level: i32,
    /// Fault injection, for tests only: called before every file operation of the log; an
    /// `Err` makes that operation fail with it. `None` in production.
    pub io_hook: Option<IoHook>,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            clock: Arc::new(system_clock_ns),
            stream: "local".to_owned(),
            block_bytes: 64 << 10,
            cache_blocks: 64,
            zstd_level: 3,
            io_hook: None,
        }
    }
}

impl fmt::Debug for LogOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogOptions")
            .field("stream", &self.stream)
            .field("block_bytes", &self.block_bytes)
            .field("cache_blocks", &self.cache_blocks)
            .field("zstd_level", &self.zstd_level)
            .field("io_hook", &self.io_hook.is_some())
            .finish_non_exhaustive()
    }
}

/// The system clock in unix nanoseconds (saturating far outside 1677..2262).
pub fn system_clock_ns() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// An event to append: the log adds seq, arrival time, stream and instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// The account owning the event.
    pub account: String,
    /// The event's id.
    pub event_id: String,
    /// The event bytes, stored exactly as given.
    pub event: Vec<u8>,
}

/// Where an appended record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Its seq in the instance's log.
    pub seq: u64,
    /// Its arrival time.
    pub received_ns: i64,
    /// Its arrival day: the segment holding it.
    pub day: Day,
}

/// A segment's extent, as listed by [`Log::segments`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The instance.
    pub instance: String,
    /// The arrival day.
    pub day: Day,
    /// The first seq it holds.
    pub first_seq: u64,
    /// The last seq it holds (durable ones only, for an active segment).
    pub last_seq: u64,
    /// `last_seq - first_seq + 1`.
    pub records: u64,
    /// The file's size (the durable part, for an active segment).
    pub bytes: u64,
    /// Whether the segment is sealed (compressed, immutable).
    pub sealed: bool,
}

/// Counters for metrics and tests, since the log was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Records appended (durable).
    pub records: u64,
    /// Append calls acknowledged.
    pub appends: u64,
    /// Group commits (each acknowledges one or more appends).
    pub commits: u64,
    /// fsync/fdatasync calls on segment files by group commits.
    pub file_syncs: u64,
    /// fsync calls on directories.
    pub dir_syncs: u64,
    /// Segments sealed.
    pub sealed_segments: u64,
}

/// The event log of a data directory. See the module documentation.
pub struct Log {
    shared: Arc<Shared>,
    /// `None` only while dropping: closing the channel stops the writer.
    commands: Option<mpsc::Sender<Command>>,
    writer: Option<JoinHandle<()>>,
    sealer: Option<JoinHandle<()>>,
    /// Holds an exclusive lock on `<dir>/LOCK` while the log is open: two writers on one
    /// directory would interleave seqs and frames. Released when dropped (after the threads).
    _lock_file: fs::File,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log").field("root", &self.shared.root).finish_non_exhaustive()
    }
}

impl Log {
    /// Opens (creating if needed) the log in `dir`, recovering every instance: torn tails
    /// are cut, interrupted sealing and removal finished, and corruption refused (nothing
    /// modified). Active segments of days before today are then sealed in the background.
    pub fn open(dir: &Path, opts: LogOptions) -> Result<Log, LogError> {
        check_options(&opts)?;
        let shared = Arc::new(Shared::new(dir.to_owned(), opts));
        create_durably(&shared.io, dir)?;
        let lock_file = lock_dir(dir)?;
        let recovered = recovery::recover(dir, &shared.io)?;

        let today = Day::from_ns((shared.opts.clock)());
        let (seal_sender, seal_receiver) = mpsc::channel::<SealJob>();
        let mut writer_instances = HashMap::new();
        let mut to_seal = Vec::new();
        for instance in recovered {
            let entry = Arc::new(InstanceEntry::new(&instance.name, instance.dir));
            entry.last_seq.store(instance.last_seq, Ordering::Release);
            let newest_day = instance.segments.keys().next_back().copied();
            let mut current = None;
            let mut floor_ns = instance.floor_ns;
            for (day, segment) in &instance.segments {
                let Segment::Active(active) = segment else {
                    continue;
                };
                // Appends continue in the newest segment unless its day is over; every other
                // active segment is finished and only waits to be sealed.
                if Some(*day) == newest_day && *day >= today {
                    current = Some(Current::reopen(Arc::clone(active))?);
                } else {
                    active.close();
                    floor_ns = floor_ns.max(day.next().start_ns());
                    to_seal.push(SealJob { entry: Arc::clone(&entry), segment: Arc::clone(active) });
                }
            }
            *write_lock(&entry.segments) = instance.segments;
            write_lock(&shared.instances).insert(instance.name.clone(), Arc::clone(&entry));
            let writer_instance = WriterInstance {
                entry,
                published: true,
                next_seq: instance.last_seq + 1,
                last_received_ns: instance.last_received_ns,
                floor_ns,
                current,
            };
            writer_instances.insert(instance.name, writer_instance);
        }
        for job in to_seal {
            let _ = seal_sender.send(job); // the receiver lives until the sealer starts
        }

        let writer = Writer {
            shared: Arc::clone(&shared),
            instances: writer_instances,
            // Segments of days before today were closed above: arrival times start today.
            floor_ns: today.start_ns(),
            seal_jobs: seal_sender,
        };
        let (command_sender, command_receiver) = mpsc::channel();
        let spawn_err = |e| LogError::io(dir, e);
        let sealer_shared = Arc::clone(&shared);
        let sealer = std::thread::Builder::new()
            .name("acta-log-sealer".to_owned())
            .spawn(move || run_sealer(&sealer_shared, &seal_receiver))
            .map_err(spawn_err)?;
        let writer = std::thread::Builder::new()
            .name("acta-log-writer".to_owned())
            .spawn(move || writer.run(command_receiver))
            .map_err(spawn_err)?;
        Ok(Log {
            shared,
            commands: Some(command_sender),
            writer: Some(writer),
            sealer: Some(sealer),
            _lock_file: lock_file,
        })
    }

    /// Appends a batch to an instance's log (creating the instance on its first append) and
    /// returns once every record is durable. All records of the batch are acknowledged
    /// together or not at all.
    pub fn append(&self, instance: &str, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        validate_instance(instance)?;
        if self.shared.is_poisoned() {
            return Err(LogError::Poisoned);
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        for record in &records {
            // Checked here so the writer never meets a record it cannot frame.
            let envelope = Envelope {
                seq: 0,
                received_ns: 0,
                stream: &self.shared.opts.stream,
                account: &record.account,
                instance,
                event_id: &record.event_id,
            };
            record::payload_len(&envelope, record.event.len())?;
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let command = Command::Append { instance: instance.to_owned(), records, reply };
        self.send(command, &answer)
    }

    /// Appends records numbered elsewhere (cluster mode's log in PostgreSQL) with their seqs, arrival times and
    /// streams, so that this log is a copy of that one: the same records, hence the same segments' leaves.
    /// Refused whole, with nothing written, unless they are the instance's next seqs in order and their arrival
    /// times neither go back nor fall on a day this log has closed. Returns once they are durable.
    pub fn copy(&self, instance: &str, records: Vec<Record>) -> Result<Vec<Appended>, LogError> {
        validate_instance(instance)?;
        if self.shared.is_poisoned() {
            return Err(LogError::Poisoned);
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::Copy { instance: instance.to_owned(), records, reply }, &answer)
    }

    fn send<T>(&self, command: Command, answer: &mpsc::Receiver<Result<T, LogError>>) -> Result<T, LogError> {
        let Some(commands) = &self.commands else {
            return Err(LogError::Poisoned);
        };
        // A writer that is gone (it cannot be, short of a panic) acknowledges nothing more.
        commands.send(command).map_err(|_| LogError::Poisoned)?;
        answer.recv().map_err(|_| LogError::Poisoned)?
    }

    /// Reads one record; the same before and after its segment is sealed.
    pub fn read(&self, instance: &str, day: Day, seq: u64) -> Result<Record, LogError> {
        let not_found = || LogError::NotFound { instance: instance.to_owned(), day, seq: Some(seq) };
        let record = match self.segment(instance, day)? {
            Segment::Active(active) => active.read_batch(seq, seq, 0)?.into_iter().next(),
            Segment::Sealed(sealed) => sealed.read(seq, &self.shared.cache)?,
        };
        record.ok_or_else(not_found)
    }

    /// The records of one day of an instance from `from_seq` on, in seq order. For an active
    /// segment, up to what is durable when the scan starts.
    pub fn scan(&self, instance: &str, day: Day, from_seq: u64) -> Result<Scan, LogError> {
        let segment = self.segment(instance, day)?;
        let last_seq = match &segment {
            Segment::Active(active) => active.info(instance).map_or(0, |info| info.last_seq),
            Segment::Sealed(sealed) => sealed.span().last_seq,
        };
        let first_seq = match &segment {
            Segment::Active(active) => active.first_seq,
            Segment::Sealed(sealed) => sealed.span().first_seq,
        };
        Ok(Scan { segment, next_seq: from_seq.max(first_seq), last_seq, buffered: VecDeque::new() })
    }

    /// The instances with a log, in name order.
    pub fn instances(&self) -> Vec<String> {
        read_lock(&self.shared.instances).keys().cloned().collect()
    }

    /// The segments of an instance, ascending by day (empty for an unknown instance).
    pub fn segments(&self, instance: &str) -> Vec<SegmentInfo> {
        let Some(entry) = self.shared.instance(instance) else {
            return Vec::new();
        };
        let segments = read_lock(&entry.segments);
        segments
            .values()
            .filter_map(|segment| match segment {
                Segment::Active(active) => active.info(instance),
                Segment::Sealed(sealed) => Some(sealed.info(instance)),
            })
            .collect()
    }

    /// The durable records of an instance after `after`, in seq order, at most `max_records` of them and not many
    /// more than `max_bytes` of events (at least one record when there is one). A record removed by retention is
    /// skipped: the read starts at the oldest segment still held.
    pub fn read_after(
        &self,
        instance: &str,
        after: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, LogError> {
        let mut records = Vec::new();
        let mut bytes = 0;
        for record in self.records(instance, after, self.last_seq(instance), None) {
            let record = record?;
            bytes += record.event.len();
            records.push(record);
            if records.len() >= max_records || bytes >= max_bytes {
                break;
            }
        }
        Ok(records)
    }

    /// The records of an instance with `after < seq <= through`, in seq order, and when `received_from` is
    /// given only those that arrived at or after it (segments of earlier days are not opened). Records removed
    /// by retention are skipped. The first failure to read ends the iteration.
    pub fn records(&self, instance: &str, after: u64, through: u64, received_from: Option<i64>) -> Records<'_> {
        let from_day = received_from.map(Day::from_ns);
        let segments = self
            .segments(instance)
            .into_iter()
            .filter(|segment| segment.last_seq > after && from_day.is_none_or(|day| segment.day >= day))
            .take_while(|segment| segment.first_seq <= through)
            .collect();
        Records { log: self, instance: instance.to_string(), segments, scan: None, after, through, received_from }
    }

    /// The last durable seq of an instance; 0 when it has none.
    pub fn last_seq(&self, instance: &str) -> u64 {
        self.shared.instance(instance).map_or(0, |entry| entry.last_seq.load(Ordering::Acquire))
    }

    /// Today by the log's clock: the day new records take; every day before it is closed.
    pub fn today(&self) -> Day {
        Day::from_ns((self.shared.opts.clock)())
    }

    /// Seals every active segment of a day before `day` (capped at today by the clock, so a
    /// day still receiving records is never sealed), and returns when they are sealed.
    /// Arrival times are never assigned before that day again, even if the clock goes back.
    pub fn seal_before(&self, day: Day) -> Result<(), LogError> {
        let before = day.min(self.today());
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Command::Close { before, reply }, &answer)?;

        let entries: Vec<Arc<InstanceEntry>> = read_lock(&self.shared.instances).values().cloned().collect();
        let mut first_error = None;
        for entry in entries {
            let actives: Vec<Arc<ActiveSegment>> = read_lock(&entry.segments)
                .range(..before)
                .filter_map(|(_, segment)| match segment {
                    Segment::Active(active) => Some(Arc::clone(active)),
                    Segment::Sealed(_) => None,
                })
                .collect();
            for active in actives {
                if let Err(error) = state::seal_segment(&self.shared, &entry, &active) {
                    tracing::error!(%error, instance = %entry.name, day = %active.day, "sealing failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Removes a sealed segment (retention). Only the oldest segment of an instance can go,
    /// so what remains has no hole in its seqs. The directory is synced before returning.
    pub fn remove_segment(&self, instance: &str, day: Day) -> Result<(), LogError> {
        validate_instance(instance)?;
        let entry = self.shared.instance(instance).ok_or_else(|| LogError::NotFound {
            instance: instance.to_owned(),
            day,
            seq: None,
        })?;
        state::remove_segment(&self.shared, &entry, day)
    }

    /// The file of a segment: the `.seg` once sealed, else the `.log`.
    pub fn segment_path(&self, instance: &str, day: Day) -> PathBuf {
        let dir = self.shared.root.join(instance);
        let sealed = self.shared.instance(instance).and_then(|entry| entry.segment(day));
        match sealed {
            Some(Segment::Sealed(sealed)) => sealed.path.clone(),
            Some(Segment::Active(active)) => active.path.clone(),
            None => dir.join(format!("{day}.log")),
        }
    }

    /// Whether a failed write or sync has stopped the log.
    pub fn is_poisoned(&self) -> bool {
        self.shared.is_poisoned()
    }

    /// Since when (clock nanoseconds) appends have failed for want of space, while they do: the
    /// last group failed with [`LogError::NoSpace`] and none has succeeded since.
    pub fn no_space_since(&self) -> Option<i64> {
        self.shared.no_space_since()
    }

    /// Counters since open (records, group commits, syncs...).
    pub fn stats(&self) -> LogStats {
        self.shared.counters.snapshot()
    }

    fn segment(&self, instance: &str, day: Day) -> Result<Segment, LogError> {
        validate_instance(instance)?;
        let not_found = || LogError::NotFound { instance: instance.to_owned(), day, seq: None };
        let entry = self.shared.instance(instance).ok_or_else(not_found)?;
        entry.segment(day).ok_or_else(not_found)
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        // Closing the command channel lets the writer finish the queued batches and exit; the
        // sealer stops after the segment it is on (the rest are sealed at the next open).
        self.shared.stopping.store(true, Ordering::Release);
        drop(self.commands.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        if let Some(sealer) = self.sealer.take() {
            let _ = sealer.join();
        }
    }
}

fn run_sealer(shared: &Shared, jobs: &mpsc::Receiver<SealJob>) {
    while let Ok(job) = jobs.recv() {
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        if let Err(error) = state::seal_segment(shared, &job.entry, &job.segment) {
            // The .log stays and stays readable; the next open or seal_before retries.
            tracing::error!(%error, instance = %job.entry.name, day = %job.segment.day, "sealing failed");
        }
    }
}

/// The iterator of [`Log::records`]: one [`Scan`] after another.
pub struct Records<'a> {
    log: &'a Log,
    instance: String,
    /// The segments still to read, ascending by day.
    segments: VecDeque<SegmentInfo>,
    scan: Option<Scan>,
    after: u64,
    through: u64,
    received_from: Option<i64>,
}

impl Iterator for Records<'_> {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(scan) = &mut self.scan {
                match scan.next() {
                    Some(Ok(record)) if record.seq > self.through => break,
                    Some(Ok(record)) if self.received_from.is_some_and(|from| record.received_ns < from) => {}
                    Some(Ok(record)) => return Some(Ok(record)),
                    Some(Err(error)) => {
                        self.segments.clear();
                        self.scan = None;
                        return Some(Err(error));
                    }
                    None => self.scan = None,
                }
                continue;
            }
            let segment = self.segments.pop_front()?;
            match self.log.scan(&self.instance, segment.day, (self.after + 1).max(segment.first_seq)) {
                Ok(scan) => self.scan = Some(scan),
                Err(error) => {
                    self.segments.clear();
                    return Some(Err(error));
                }
            }
        }
        self.segments.clear();
        self.scan = None;
        None
    }
}

/// The iterator of [`Log::scan`]: reads a block (sealed) or about 1 MiB (active) at a time.
#[derive(Debug)]
pub struct Scan {
    segment: Segment,
    next_seq: u64,
    last_seq: u64,
    buffered: VecDeque<Record>,
}

const SCAN_CHUNK_BYTES: u64 = 1 << 20;

impl Iterator for Scan {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(record) = self.buffered.pop_front() {
            return Some(Ok(record));
        }
        if self.next_seq > self.last_seq {
            return None;
        }
        let batch = match &self.segment {
            Segment::Active(active) => active.read_batch(self.next_seq, self.last_seq, SCAN_CHUNK_BYTES),
            Segment::Sealed(sealed) => sealed.read_batch(self.next_seq),
        };
        match batch {
            Ok(records) if records.is_empty() => {
                self.next_seq = self.last_seq + 1;
                None
            }
            Ok(records) => {
                self.next_seq += records.len() as u64;
                self.buffered = records.into();
                self.buffered.pop_front().map(Ok)
            }
            Err(error) => {
                self.next_seq = self.last_seq + 1; // an error ends the scan
                Some(Err(error))
            }
        }
    }
}

/// Reads every record of a `.log` or `.seg` file offline (`acta verify`, import), checking
/// every checksum, the seq chain, and that each record belongs to the file's day when the
/// file name gives one. Unlike open, a torn tail is an error here: nothing is repaired.
pub fn read_segment_file(path: &Path) -> Result<Vec<Record>, LogError> {
    let mut records = Vec::new();
    visit_segment_file(path, &mut |record| records.push(record))?;
    Ok(records)
}

/// [`read_segment_file`] one record at a time, so a day of events never has to be in memory:
/// `visit` gets every record, in order, that passed all checks before the first error, which
/// lets a verifier name the record where damage starts (the one after the last visited).
pub fn visit_segment_file(path: &Path, visit: &mut dyn FnMut(Record)) -> Result<(), LogError> {
    let file_name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    if let Some(day) = file_name.strip_suffix(".seg") {
        let Ok(day) = day.parse::<Day>() else {
            return Err(LogError::corrupt(path, 0, "a sealed segment is named <YYYY-MM-DD>.seg"));
        };
        let sealed = SealedSegment::open(path, day, None)?;
        return sealed.verify(visit);
    }
    let day = file_name.strip_suffix(".log").and_then(|day| day.parse::<Day>().ok());
    active::visit_log_file(path, day, visit)
}

/// What retention removed last from an instance directory (`<dir>/<instance>/RETIRED`): the day
/// and last seq of the newest removed segment, so an offline verifier knows where the remaining
/// seqs must start. `None` when nothing was ever removed.
pub fn read_retired(instance_dir: &Path) -> Result<Option<(Day, u64)>, LogError> {
    Ok(read_retired_note(instance_dir)?.map(|(day, last_seq, _)| (day, last_seq)))
}

/// [`read_retired`] with the arrival time of the last removed record.
pub(crate) fn read_retired_note(instance_dir: &Path) -> Result<Option<(Day, u64, i64)>, LogError> {
    let path = instance_dir.join(state::RETIRED_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let retired = state::Retired::read(&path)?;
    Ok(Some((retired.day, retired.last_seq, retired.last_received_ns)))
}

/// Before the log opens: records that an instance's records through `last_seq` (the end of `day`) were removed
/// by retention, as [`Log::remove_segment`] would have; the log then opens with its seqs continuing after
/// `last_seq` and deletes the segments the note covers. A note of a later day is kept; returns whether the note
/// was written.
pub(crate) fn retire_unopened(
    instance_dir: &Path,
    day: Day,
    last_seq: u64,
    last_received_ns: i64,
) -> Result<bool, LogError> {
    if read_retired(instance_dir)?.is_some_and(|(retired_day, _)| retired_day >= day) {
        return Ok(false);
    }
    let retired = state::Retired { day, last_seq, last_received_ns };
    retired.write_unopened(instance_dir).map_err(|error| LogError::io(instance_dir, error))?;
    Ok(true)
}

/// Checks an instance id: 1 to 128 characters of `[a-z0-9_-]`.
pub fn validate_instance(instance: &str) -> Result<(), LogError> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let valid = !instance.is_empty() && instance.len() <= 128 && instance.chars().all(valid_char);
    if valid { Ok(()) } else { Err(LogError::InvalidInstance(instance.to_owned())) }
}

/// Creates `dir` and any missing parents, syncing each parent that gained an entry: an
/// instance directory is synced into `dir`, but `dir` itself must not vanish in a crash.
fn create_durably(io: &fsio::Io, dir: &Path) -> Result<(), LogError> {
    let is_missing = |path: &&Path| !path.as_os_str().is_empty() && !path.exists();
    let missing: Vec<&Path> = dir.ancestors().take_while(is_missing).collect();
    if missing.is_empty() {
        return Ok(());
    }
    io.create_dir(dir).map_err(|e| LogError::io(dir, e))?;
    for created in missing {
        // A relative path's last parent is "", the current directory.
        let parent = match created.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        io.sync_dir(parent).map_err(|e| LogError::io(parent, e))?;
    }
    Ok(())
}

/// The name of the lock file in the log's directory.
const LOCK_FILE: &str = "LOCK";

fn lock_dir(dir: &Path) -> Result<fs::File, LogError> {
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LogError::io(&path, e))?;
    // A lock just released can still look held for a moment: a child process forked by another thread of
    // this process (an `acta` run by a test, a helper) shares the lock's open file until it execs. Another
    // process that holds the directory still gets `Locked`, after the wait.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => return Err(LogError::Locked { path }),
            Err(fs::TryLockError::Error(e)) => return Err(LogError::io(&path, e)),
        }
    }
}

/// How long opening waits for the directory's lock before answering `Locked`.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn check_options(opts: &LogOptions) -> Result<(), LogError> {
    if opts.stream.len() > usize::from(u16::MAX) {
        return Err(LogError::InvalidOptions("stream name longer than 65535 bytes".to_owned()));
    }
    if opts.block_bytes == 0 || opts.block_bytes > 64 << 20 {
        return Err(LogError::InvalidOptions("block_bytes must be within 1..=64 MiB".to_owned()));
    }
    Ok(())
}

// Lock helpers: a panic while holding a lock leaves data that is still consistent here (every
// update is a single insert or store), so poisoned std locks are simply entered.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Log>();
        assert_send_sync::<super::Scan>();
    }
}
