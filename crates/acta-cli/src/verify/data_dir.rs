//! A data directory, or an export holding its `log/` and `checkpoints/`: per instance, its
//! segments in day order, from the first seq retention left, each checked against its
//! checkpoints and linked to the one before. Days may have checkpoints without a segment
//! (retention removed it, or someone deleted it), or be named only by saved checkpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use acta_ledger::KeyRing;
use acta_store::Day;
use acta_store::integrity::files::{self, note_days, notes_path, read_notes};
use acta_store::log::read_retired;

use super::checkpoints::{LinkTarget, Segment};
use super::keys::key_ring;
use super::report::Report;
use super::saved::{self, Saved, SavedCheckpoints};
use super::{Usage, VerifyArgs};

pub(super) fn verify(args: &VerifyArgs) -> Result<Report, Usage> {
    let log_root = args.path.join("log");
    if !log_root.is_dir() {
        return Err(Usage(format!("{} is not a data directory or an export: it has no log/ directory", args.shown())));
    }
    let mut report = Report::default();
    let ring = key_ring(args, &mut report)?;
    let saved = SavedCheckpoints::read(args, &ring, &mut report)?;

    let checkpoints_root = files::checkpoints_dir(&args.path);
    let mut instances = subdirectories(&log_root)?;
    instances.extend(subdirectories(&checkpoints_root)?);
    instances.extend(saved.instances().cloned());
    for instance in &instances {
        verify_instance(&args.path, instance, &ring, &saved.of_instance(instance), &mut report)?;
    }
    Ok(report)
}

/// The entries of `dir`; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, Usage> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(Usage(format!("{}: {error}", dir.display()))),
    };
    listing
        .map(|entry| entry.map(|entry| entry.path()).map_err(|error| Usage(format!("{}: {error}", dir.display()))))
        .collect()
}

fn subdirectories(dir: &Path) -> Result<BTreeSet<String>, Usage> {
    let paths = entries(dir)?;
    let names = paths.iter().filter(|path| path.is_dir()).filter_map(|path| path.file_name()?.to_str());
    Ok(names.map(str::to_owned).collect())
}

/// The segment files of an instance directory by day (`.seg` preferred over a `.log` left by a
/// crash while sealing).
fn segment_files(dir: &Path) -> Result<BTreeMap<Day, PathBuf>, Usage> {
    let mut found = BTreeMap::new();
    for path in entries(dir)? {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        let (day, sealed) = match (name.strip_suffix(".seg"), name.strip_suffix(".log")) {
            (Some(day), _) => (day, true),
            (None, Some(day)) => (day, false),
            _ => continue,
        };
        let Ok(day) = day.parse::<Day>() else { continue };
        if sealed || !found.contains_key(&day) {
            found.insert(day, path);
        }
    }
    Ok(found)
}

fn verify_instance(
    data: &Path,
    instance: &str,
    ring: &KeyRing,
    saved: &BTreeMap<Day, Vec<Saved>>,
    report: &mut Report,
) -> Result<(), Usage> {
    let log_dir = data.join("log").join(instance);
    let segments = segment_files(&log_dir)?;
    let checkpoint_dir = files::instance_dir(data, instance);
    let note_days =
        note_days(&checkpoint_dir).map_err(|error| Usage(format!("{}: {error}", checkpoint_dir.display())))?;
    let retired = match read_retired(&log_dir) {
        Ok(retired) => retired,
        Err(error) => {
            report.problem(instance, None, None, error.to_string());
            None
        }
    };
    let mut days: BTreeSet<Day> = segments.keys().copied().collect();
    days.extend(note_days.iter().copied());
    days.extend(saved.keys().copied());

    let mut next_seq = retired.map_or(1, |(_, last_seq)| last_seq + 1);
    let mut link = LinkTarget::Genesis;
    for day in days {
        let saved_here = saved.get(&day).map_or(&[][..], Vec::as_slice);
        let notes = read_notes(&notes_path(data, instance, day))
            .map_err(|error| Usage(format!("{}: {error}", notes_path(data, instance, day).display())))?;
        let segment =
            Segment { leaves: files::leaves_path(data, instance, day), instance, day, ring, saved: saved_here };
        match segments.get(&day) {
            Some(path) => {
                let outcome = segment.verify(path, &notes, &link, next_seq, report);
                next_seq = outcome.next_seq;
                link = outcome.link;
            }
            None if notes.lines.is_empty() => saved::report_missing_segment(instance, day, saved_here, report),
            None => link = segment.retired(&notes, retired, report),
        }
    }
    Ok(())
}
