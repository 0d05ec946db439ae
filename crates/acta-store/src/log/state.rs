//! The state shared by the `Log` handle, the writer thread and the sealer thread, and the two
//! operations that replace files: sealing and removal.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::active::ActiveSegment;
use super::error::LogError;
use super::fsio::Io;
use super::sealed::{BlockCache, SealSettings, SealedSegment, write_sealed};
use super::{Day, LogOptions, LogStats, lock, read_lock, write_lock};

/// A segment as readers find it.
#[derive(Debug, Clone)]
pub(crate) enum Segment {
    Active(Arc<ActiveSegment>),
    Sealed(Arc<SealedSegment>),
}

/// One instance's segments and progress, as readers see them.
#[derive(Debug)]
pub(crate) struct InstanceEntry {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) segments: RwLock<BTreeMap<Day, Segment>>,
    /// The last durable seq (0 when none): published by the writer after each sync, restored
    /// from the segments (or the retirement note) at open.
    pub(crate) last_seq: AtomicU64,
}

impl InstanceEntry {
    pub(crate) fn new(name: &str, dir: PathBuf) -> InstanceEntry {
        InstanceEntry {
            name: name.to_owned(),
            dir,
            segments: RwLock::new(BTreeMap::new()),
            last_seq: AtomicU64::new(0),
        }
    }

    pub(crate) fn segment(&self, day: Day) -> Option<Segment> {
        read_lock(&self.segments).get(&day).cloned()
    }
}

/// Counters behind [`LogStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) records: AtomicU64,
    pub(crate) appends: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) file_syncs: AtomicU64,
    pub(crate) dir_syncs: AtomicU64,
    pub(crate) sealed: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> LogStats {
        LogStats {
            records: self.records.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            file_syncs: self.file_syncs.load(Ordering::Relaxed),
            dir_syncs: self.dir_syncs.load(Ordering::Relaxed),
            sealed_segments: self.sealed.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) root: PathBuf,
    pub(crate) opts: LogOptions,
    pub(crate) io: Io,
    pub(crate) instances: RwLock<BTreeMap<String, Arc<InstanceEntry>>>,
    poisoned: AtomicBool,
    /// When the last group failed for want of space (clock nanoseconds), or 0 once a group
    /// succeeded since.
    no_space_since: AtomicI64,
    pub(crate) counters: Counters,
    pub(crate) cache: Mutex<BlockCache>,
    /// Set when the log is dropped, so the sealer stops taking new work.
    pub(crate) stopping: AtomicBool,
}

impl Shared {
    pub(crate) fn new(root: PathBuf, opts: LogOptions) -> Shared {
        Shared {
            root,
            io: Io::new(opts.io_hook.clone()),
            cache: Mutex::new(BlockCache::new(opts.cache_blocks)),
            opts,
            instances: RwLock::new(BTreeMap::new()),
            poisoned: AtomicBool::new(false),
            no_space_since: AtomicI64::new(0),
            counters: Counters::default(),
            stopping: AtomicBool::new(false),
        }
    }

    pub(crate) fn instance(&self, name: &str) -> Option<Arc<InstanceEntry>> {
        read_lock(&self.instances).get(name).cloned()
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Notes that a group failed for want of space (the first time of a run of such failures counts).
    pub(crate) fn note_no_space(&self, error: &dyn std::fmt::Display) {
        let now = (self.opts.clock)().max(1);
        if self.no_space_since.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            tracing::error!(%error, "event log: no space left; batches are refused until space is freed");
        }
    }

    /// Notes that a group was durable: a shortage of space, if there was one, is over.
    pub(crate) fn note_written(&self) {
        if self.no_space_since.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("event log: space is back; batches are accepted again");
        }
    }

    /// Since when appends fail for want of space (clock nanoseconds), if they do.
    pub(crate) fn no_space_since(&self) -> Option<i64> {
        Some(self.no_space_since.load(Ordering::Acquire)).filter(|since| *since != 0)
    }

    /// Stops all further writes. Called on any failed write or sync whose effect on disk is
    /// unknown: after a failed fsync the kernel may have dropped the dirty pages and a second
    /// fsync would report success for data that is gone, so nothing is retried.
    pub(crate) fn poison(&self, what: &str, error: &dyn std::fmt::Display) {
        if !self.poisoned.swap(true, Ordering::AcqRel) {
            tracing::error!(%error, what, "event log poisoned: no more appends until restart");
        }
    }
}

/// Seals one closed active segment: writes `<day>.seg.tmp`, syncs it, renames it to
/// `<day>.seg`, syncs the directory, switches readers over, then removes the `.log`.
///
/// Failing before the rename leaves the `.log` as it was and deletes the temporary file, so
/// it does not poison the log (sealing is retried later). Failing at the rename or after does
/// poison: the directory's state is then unknown, and open sorts it out.
pub(crate) fn seal_segment(
    shared: &Shared,
    entry: &InstanceEntry,
    active: &Arc<ActiveSegment>,
) -> Result<(), LogError> {
    let _sealing = lock(&active.seal_lock);
    let still_active = matches!(
        entry.segment(active.day),
        Some(Segment::Active(current)) if Arc::ptr_eq(&current, active)
    );
    if !still_active {
        return Ok(()); // sealed meanwhile by the sealer thread or another caller
    }
    if shared.is_poisoned() {
        return Err(LogError::Poisoned);
    }
    if !active.is_closed() {
        let reason = "refusing to seal a segment the writer may still append to";
        return Err(LogError::corrupt(&active.path, 0, reason));
    }
    let io = &shared.io;
    let seg_path = entry.dir.join(format!("{}.seg", active.day));
    let temp_path = entry.dir.join(format!("{}.seg.tmp", active.day));
    let settings = SealSettings {
        io,
        instance: &entry.name,
        block_bytes: shared.opts.block_bytes,
        zstd_level: shared.opts.zstd_level,
    };
    if let Err(error) = write_sealed(&settings, active, &temp_path) {
        // Nothing acknowledged depends on the temporary file; the .log is untouched.
        let _ = fs::remove_file(&temp_path);
        return Err(error);
    }

    let poison = |error: std::io::Error, path: &Path| {
        shared.poison("sealing a segment", &error);
        LogError::io(path, error)
    };
    io.rename(&temp_path, &seg_path).map_err(|e| poison(e, &seg_path))?;
    io.sync_dir(&entry.dir).map_err(|e| poison(e, &entry.dir))?;
    Counters::add(&shared.counters.dir_syncs, 1);
    let sealed = SealedSegment::open(&seg_path, active.day, Some(&entry.name)).inspect_err(|error| {
        shared.poison("reopening a segment just sealed", error);
    })?;
    write_lock(&entry.segments).insert(active.day, Segment::Sealed(Arc::new(sealed)));
    // Readers that fetched the active segment before the switch keep reading through its open
    // handle, which outlives the unlink.
    io.remove(&active.path).map_err(|e| poison(e, &active.path))?;
    io.sync_dir(&entry.dir).map_err(|e| poison(e, &entry.dir))?;
    Counters::add(&shared.counters.dir_syncs, 1);
    Counters::add(&shared.counters.sealed, 1);
    tracing::debug!(instance = %entry.name, day = %active.day, "segment sealed");
    Ok(())
}

/// What the most recent removal (retention) took away; kept in `<instance>/RETIRED` so the
/// seq numbers and arrival times continue where they were even when no segment is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retired {
    pub(crate) day: Day,
    pub(crate) last_seq: u64,
    pub(crate) last_received_ns: i64,
}

pub(crate) const RETIRED_FILE: &str = "RETIRED";
const RETIRED_TAG: &str = "acta-log-retired 1";

impl Retired {
    /// One line: `acta-log-retired 1 <day> <last_seq> <last_received_ns> <crc32c hex>`.
    fn encode(&self) -> String {
        let body = format!("{RETIRED_TAG} {} {} {}", self.day, self.last_seq, self.last_received_ns);
        let crc = crc32c::crc32c(body.as_bytes());
        format!("{body} {crc:08x}\n")
    }

    pub(crate) fn read(path: &Path) -> Result<Retired, LogError> {
        let text = fs::read_to_string(path).map_err(|e| LogError::io(path, e))?;
        Retired::parse(&text).ok_or_else(|| LogError::corrupt(path, 0, "unreadable retirement note"))
    }

    fn parse(text: &str) -> Option<Retired> {
        let line = text.strip_suffix('\n')?;
        let (body, crc) = line.rsplit_once(' ')?;
        if u32::from_str_radix(crc, 16).ok()? != crc32c::crc32c(body.as_bytes()) {
            return None;
        }
        let mut fields = body.strip_prefix(RETIRED_TAG)?.split_whitespace();
        let retired = Retired {
            day: fields.next()?.parse().ok()?,
            last_seq: fields.next()?.parse().ok()?,
            last_received_ns: fields.next()?.parse().ok()?,
        };
        fields.next().is_none().then_some(retired)
    }

    /// [`Retired::write`] without the log's I/O layer, for a log not open yet.
    pub(crate) fn write_unopened(&self, dir: &Path) -> std::io::Result<()> {
        fs::create_dir_all(dir)?;
        let temp_path = dir.join(format!("{RETIRED_FILE}.tmp"));
        let mut temp = fs::File::create(&temp_path)?;
        std::io::Write::write_all(&mut temp, self.encode().as_bytes())?;
        temp.sync_all()?;
        fs::rename(&temp_path, dir.join(RETIRED_FILE))?;
        fs::File::open(dir)?.sync_all()
    }

    /// Replaces the note atomically (temporary file, sync, rename, directory sync).
    fn write(&self, io: &Io, dir: &Path) -> std::io::Result<()> {
        let path = dir.join(RETIRED_FILE);
        let temp_path = dir.join(format!("{RETIRED_FILE}.tmp"));
        let temp = io.create_temp(&temp_path)?;
        io.write_all(&temp, &temp_path, self.encode().as_bytes())?;
        io.sync_all(&temp, &temp_path)?;
        io.rename(&temp_path, &path)?;
        io.sync_dir(dir)
    }
}

/// Removes the oldest segment of an instance, which must be sealed. The retirement note is
/// written first, so a crash in between leaves a segment that open recognizes as already
/// retired and deletes.
pub(crate) fn remove_segment(shared: &Shared, entry: &InstanceEntry, day: Day) -> Result<(), LogError> {
    if shared.is_poisoned() {
        return Err(LogError::Poisoned);
    }
    let not_found = || LogError::NotFound { instance: entry.name.clone(), day, seq: None };
    let sealed = {
        let mut segments = write_lock(&entry.segments);
        let (&oldest, _) = segments.first_key_value().ok_or_else(not_found)?;
        let sealed = match segments.get(&day) {
            None => return Err(not_found()),
            Some(Segment::Active(_)) => {
                return Err(LogError::NotSealed { instance: entry.name.clone(), day });
            }
            Some(Segment::Sealed(sealed)) => Arc::clone(sealed),
        };
        if oldest != day {
            return Err(LogError::NotOldest { instance: entry.name.clone(), day, oldest });
        }
        segments.remove(&day);
        sealed
    };
    lock(&shared.cache).purge(sealed.id);
    let span = sealed.span();
    let retired = Retired { day, last_seq: span.last_seq, last_received_ns: span.last_received_ns };
    let io = &shared.io;
    let poison = |error: std::io::Error, path: &Path| {
        shared.poison("removing a segment", &error);
        LogError::io(path, error)
    };
    retired.write(io, &entry.dir).map_err(|e| poison(e, &entry.dir))?;
    io.remove(&sealed.path).map_err(|e| poison(e, &sealed.path))?;
    io.sync_dir(&entry.dir).map_err(|e| poison(e, &entry.dir))?;
    tracing::info!(instance = %entry.name, %day, last_seq = span.last_seq, "segment removed");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn retirement_note_round_trips_and_rejects_damage() {
        let retired =
            Retired { day: "2024-01-02".parse().unwrap(), last_seq: 42, last_received_ns: 1_704_153_600_000_000_000 };
        let text = retired.encode();
        assert_eq!(Retired::parse(&text), Some(retired));
        assert_eq!(Retired::parse(&text.replace("42", "43")), None);
    }
}
