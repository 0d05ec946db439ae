//! Recovery at open: check every file, decide what to repair, and only then repair.
//!
//! Phase one only reads. It scans every active segment frame by frame, opens every sealed
//! segment, checks that seqs continue from segment to segment, and plans the few repairs that
//! are known to be safe: cutting a torn tail, deleting an empty active segment, finishing an
//! interrupted sealing or removal, deleting temporary files. Any corruption makes open fail
//! during this phase, so a refused data directory is left exactly as it was found.
//! Phase two applies the plan; phase three opens the files for reading and appending.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::active::{ActiveSegment, ScannedLog, scan_log_file};
use super::error::LogError;
use super::fsio::Io;
use super::record::Tail;
use super::sealed::SealedSegment;
use super::state::{RETIRED_FILE, Retired, Segment};
use super::{Day, validate_instance};

/// An instance as found on disk, ready to serve.
pub(crate) struct RecoveredInstance {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) segments: BTreeMap<Day, Segment>,
    /// 0 when the instance never held a record.
    pub(crate) last_seq: u64,
    pub(crate) last_received_ns: Option<i64>,
    /// The start of the day after the newest sealed or retired day: no record may arrive
    /// before it, or it would need a segment for a day that is already closed.
    pub(crate) floor_ns: i64,
}

enum Planned {
    Active(ScannedLog),
    Sealed(SealedSegment),
}

impl Planned {
    fn span(&self) -> Option<super::active::Span> {
        match self {
            Planned::Active(scanned) => scanned.span,
            Planned::Sealed(sealed) => Some(sealed.span()),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Planned::Active(scanned) => &scanned.path,
            Planned::Sealed(sealed) => &sealed.path,
        }
    }
}

enum Repair {
    Truncate { path: PathBuf, len: u64 },
    Remove(PathBuf),
    Rename { from: PathBuf, to: PathBuf },
}

struct InstancePlan {
    name: String,
    dir: PathBuf,
    segments: BTreeMap<Day, Planned>,
    retired: Option<Retired>,
    repairs: Vec<Repair>,
}

/// Recovers every instance under `root`.
pub(crate) fn recover(root: &Path, io: &Io) -> Result<Vec<RecoveredInstance>, LogError> {
    let mut plans = Vec::new();
    for (name, dir) in instance_dirs(root)? {
        plans.push(plan_instance(name, dir)?);
    }
    for plan in &plans {
        apply_repairs(io, plan)?;
    }
    plans.into_iter().map(open_instance).collect()
}

fn instance_dirs(root: &Path) -> Result<Vec<(String, PathBuf)>, LogError> {
    let io_err = |e| LogError::io(root, e);
    let mut dirs = Vec::new();
    for dir_entry in fs::read_dir(root).map_err(io_err)? {
        let dir_entry = dir_entry.map_err(io_err)?;
        let path = dir_entry.path();
        let name = dir_entry.file_name().to_string_lossy().into_owned();
        if name == super::LOCK_FILE {
            continue;
        }
        let is_dir = dir_entry.file_type().map_err(io_err)?.is_dir();
        if !is_dir || validate_instance(&name).is_err() {
            tracing::warn!(path = %path.display(), "ignoring an entry that is not an instance log");
            continue;
        }
        dirs.push((name, path));
    }
    dirs.sort();
    Ok(dirs)
}

/// The files of an instance directory, by role.
#[derive(Default)]
struct Listing {
    logs: BTreeMap<Day, PathBuf>,
    seals: BTreeMap<Day, PathBuf>,
    temps: Vec<PathBuf>,
    retired: Option<PathBuf>,
}

fn list_instance(dir: &Path) -> Result<Listing, LogError> {
    let io_err = |e| LogError::io(dir, e);
    let mut listing = Listing::default();
    for dir_entry in fs::read_dir(dir).map_err(io_err)? {
        let path = dir_entry.map_err(io_err)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            tracing::warn!(path = %path.display(), "ignoring a file with a non UTF-8 name");
            continue;
        };
        let day_of = |suffix: &str| name.strip_suffix(suffix).and_then(|d| d.parse::<Day>().ok());
        if let Some(day) = day_of(".log") {
            listing.logs.insert(day, path);
        } else if let Some(day) = day_of(".seg") {
            listing.seals.insert(day, path);
        } else if day_of(".seg.tmp").is_some() || name == format!("{RETIRED_FILE}.tmp") {
            listing.temps.push(path);
        } else if name == RETIRED_FILE {
            listing.retired = Some(path);
        } else {
            tracing::warn!(path = %path.display(), "ignoring an unknown file in an instance log");
        }
    }
    Ok(listing)
}

/// Phase one for one instance: reads and checks everything, modifies nothing.
fn plan_instance(name: String, dir: PathBuf) -> Result<InstancePlan, LogError> {
    let listing = list_instance(&dir)?;
    let retired = listing.retired.as_deref().map(Retired::read).transpose()?;
    let mut repairs = Vec::new();
    for temp in listing.temps {
        tracing::warn!(path = %temp.display(), "removing a temporary file left by a crash");
        repairs.push(Repair::Remove(temp));
    }

    let days: BTreeSet<Day> = listing.logs.keys().chain(listing.seals.keys()).copied().collect();
    let mut segments = BTreeMap::new();
    for day in days {
        let log_path = listing.logs.get(&day);
        let seg_path = listing.seals.get(&day);
        let planned = match (log_path, seg_path) {
            (None, Some(seg_path)) => Some(Planned::Sealed(SealedSegment::open(seg_path, day, Some(&name))?)),
            (Some(log_path), None) => plan_active(&name, day, log_path, &mut repairs)?,
            (Some(log_path), Some(seg_path)) => {
                // A crash during sealing, after the rename: the .seg is complete if it checks
                // out entirely, and the .log is then redundant.
                let checked = SealedSegment::open(seg_path, day, Some(&name))
                    .and_then(|sealed| sealed.verify(|_| {}).map(|()| sealed));
                match checked {
                    Ok(sealed) => {
                        tracing::warn!(path = %log_path.display(), "sealing was interrupted; removing the sealed day's .log");
                        repairs.push(Repair::Remove(log_path.clone()));
                        Some(Planned::Sealed(sealed))
                    }
                    Err(error) => {
                        let aside = free_name(seg_path, "corrupt");
                        tracing::warn!(%error, moved_to = %aside.display(), "a sealed segment next to its .log does not check out; keeping the .log");
                        repairs.push(Repair::Rename { from: seg_path.clone(), to: aside });
                        plan_active(&name, day, log_path, &mut repairs)?
                    }
                }
            }
            (None, None) => None,
        };
        if let Some(planned) = planned {
            segments.insert(day, planned);
        }
    }
    check_chain(&mut segments, retired.as_ref(), &mut repairs)?;
    Ok(InstancePlan { name, dir, segments, retired, repairs })
}

fn plan_active(instance: &str, day: Day, path: &Path, repairs: &mut Vec<Repair>) -> Result<Option<Planned>, LogError> {
    let scanned = scan_log_file(path, instance, day)?;
    if let Some((error, tail)) = &scanned.torn {
        let tail = match tail {
            Tail::Zeros => "zero-filled",
            Tail::Garbage | Tail::ValidFrameAt(_) => "torn",
        };
        tracing::warn!(
            path = %path.display(),
            offset = scanned.valid_len,
            cut_bytes = scanned.file_len - scanned.valid_len,
            %error,
            "cutting a {tail} tail left by an interrupted write"
        );
        repairs.push(Repair::Truncate { path: path.to_owned(), len: scanned.valid_len });
    }
    if scanned.span.is_none() {
        // Created but never written whole: no record in it was acknowledged.
        tracing::warn!(path = %path.display(), "removing an active segment without records");
        repairs.push(Repair::Remove(path.to_owned()));
        return Ok(None);
    }
    Ok(Some(Planned::Active(scanned)))
}

/// Seqs continue from one segment to the next. Segments that an interrupted removal left
/// behind (wholly covered by the retirement note) are deleted; a gap before the first segment
/// is only reported (an operator may have removed old files by hand).
fn check_chain(
    segments: &mut BTreeMap<Day, Planned>,
    retired: Option<&Retired>,
    repairs: &mut Vec<Repair>,
) -> Result<(), LogError> {
    if let Some(retired) = retired {
        let leftovers: Vec<Day> = segments
            .iter()
            .filter(|(_, planned)| planned.span().is_some_and(|s| s.last_seq <= retired.last_seq))
            .map(|(day, _)| *day)
            .collect();
        for day in leftovers {
            if let Some(planned) = segments.remove(&day) {
                let path = planned.path().to_owned();
                tracing::warn!(path = %path.display(), "removing a segment whose removal was interrupted");
                repairs.push(Repair::Remove(path));
            }
        }
    }
    let mut previous_last = retired.map(|r| r.last_seq);
    for (index, planned) in segments.values().enumerate() {
        let Some(span) = planned.span() else { continue };
        let expected = previous_last.map_or(1, |last| last + 1);
        let is_first = index == 0;
        if span.first_seq != expected && !(is_first && span.first_seq > expected) {
            let reason = format!(
                "the segment starts at seq {}, but seq {expected} was expected after the previous segment",
                span.first_seq
            );
            return Err(LogError::corrupt(planned.path(), 0, reason));
        }
        if span.first_seq != expected {
            tracing::warn!(path = %planned.path().display(), first_seq = span.first_seq, "records before this segment are gone");
        }
        previous_last = Some(span.last_seq);
    }
    Ok(())
}

/// `<file>.<tag>`, or `<file>.<tag>.<n>` when taken: never overwrite earlier evidence.
fn free_name(path: &Path, tag: &str) -> PathBuf {
    let base = format!("{}.{tag}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

fn apply_repairs(io: &Io, plan: &InstancePlan) -> Result<(), LogError> {
    if plan.repairs.is_empty() {
        return Ok(());
    }
    for repair in &plan.repairs {
        match repair {
            Repair::Truncate { path, len } => {
                io.truncate(path, *len).map_err(|e| LogError::io(path, e))?;
            }
            Repair::Remove(path) => io.remove(path).map_err(|e| LogError::io(path, e))?,
            Repair::Rename { from, to } => {
                io.rename(from, to).map_err(|e| LogError::io(from, e))?;
            }
        }
    }
    io.sync_dir(&plan.dir).map_err(|e| LogError::io(&plan.dir, e))
}

/// Phase three: opens read handles and computes where the instance continues.
fn open_instance(plan: InstancePlan) -> Result<RecoveredInstance, LogError> {
    let InstancePlan { name, dir, segments: planned, retired, .. } = plan;
    let mut last_seq = retired.map_or(0, |r| r.last_seq);
    let mut last_received_ns = retired.map(|r| r.last_received_ns);
    let mut floor_ns = retired.map_or(i64::MIN, |r| r.day.next().start_ns());
    let mut segments = BTreeMap::new();
    for (day, planned) in planned {
        if let Planned::Sealed(_) = planned {
            floor_ns = floor_ns.max(day.next().start_ns());
        }
        if let Some(span) = planned.span() {
            last_seq = last_seq.max(span.last_seq);
            last_received_ns = last_received_ns.max(Some(span.last_received_ns));
        }
        let segment = match planned {
            Planned::Sealed(sealed) => Segment::Sealed(Arc::new(sealed)),
            Planned::Active(scanned) => {
                let file = File::open(&scanned.path).map_err(|e| LogError::io(&scanned.path, e))?;
                let Some(active) = ActiveSegment::recovered(&scanned, file) else {
                    continue;
                };
                Segment::Active(Arc::new(active))
            }
        };
        segments.insert(day, segment);
    }
    Ok(RecoveredInstance { name, dir, segments, last_seq, last_received_ns, floor_ns })
}
