//! An archive (`account=*/instance=*/year=*/month=*/day=*/`, see `crate::archive`): per day, the
//! manifest and the SHA-256 of every file; per instance, its days in order checked like the
//! segments of a data directory. An instance's chain may start at any archived day, and days may
//! be missing from an archive (retention ran while archiving was off): where the seqs jump, the
//! days in between are named as missing and the next day's link cannot be checked; where they do
//! not, the link must name the previous day's final checkpoint.

use std::collections::BTreeMap;
use std::path::PathBuf;

use acta_ledger::KeyRing;
use acta_store::Day;
use acta_store::integrity::files;

use super::checkpoints::{LinkTarget, Segment, day_segment};
use super::keys::key_ring;
use super::report::Report;
use super::saved::{Saved, SavedCheckpoints};
use super::{Usage, VerifyArgs};

pub(super) fn verify(args: &VerifyArgs) -> Result<Report, Usage> {
    let listing = crate::archive::list_local_as(&args.path, &args.shown())
        .map_err(|error| Usage(format!("{}: {error}", args.shown())))?;
    let (instances, strays) = crate::archive::days(listing);
    let mut report = Report::default();
    for stray in strays {
        report.problem("-", None, None, format!("{stray} is not a file of the archive layout"));
    }
    let ring = archive_key_ring(args, &instances, &mut report)?;
    let saved = SavedCheckpoints::read(args, &ring, &mut report)?;
    let mut day_count = 0;
    for ((account, instance), days) in &instances {
        day_count += days.len();
        verify_instance(account, instance, days, &ring, &saved.of_instance(instance), &mut report);
    }
    report.notes.insert(
        0,
        format!("verified the archive {}: {} instance(s), {day_count} day(s)", args.shown(), instances.len()),
    );
    Ok(report)
}

/// `--key`, else every key the archive's `keys` files record (consistency, not authenticity, as for a data
/// directory). Each `keys` file must be readable either way.
fn archive_key_ring(
    args: &VerifyArgs,
    instances: &crate::archive::Instances,
    report: &mut Report,
) -> Result<KeyRing, Usage> {
    let mut recorded = KeyRing::new();
    for days in instances.values() {
        for archived in days.values() {
            let Some(file) = archived.files.get("keys") else { continue };
            let parsed = file
                .read()
                .map_err(|error| error.to_string())
                .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned()))
                .and_then(|text| KeyRing::from_text(&text).map_err(|error| error.to_string()));
            let added = parsed.and_then(|ring| {
                ring.keys().iter().try_for_each(|key| recorded.add(key.clone()).map_err(|error| error.to_string()))
            });
            if let Err(reason) = added {
                report.problem(&archived.instance, Some(archived.day), None, format!("{}: {reason}", file.name));
            }
        }
    }
    if !args.keys.is_empty() {
        return key_ring(args, report);
    }
    if recorded.keys().is_empty() {
        return Err(Usage("no --key given and the archive holds no readable keys file".to_owned()));
    }
    report.notes.push(
        "signatures were checked with the keys recorded in the archive (its keys files); pass --key with the key \
         the server publishes (GET /v1/integrity/keys) to know they are genuine"
            .to_owned(),
    );
    Ok(recorded)
}

fn verify_instance(
    account: &str,
    instance: &str,
    days: &BTreeMap<Day, crate::archive::ArchiveDay>,
    ring: &KeyRing,
    saved: &BTreeMap<Day, Vec<Saved>>,
    report: &mut Report,
) {
    // What the last verified day leaves: its day, the seq due next, and the link it allows.
    let mut previous: Option<(Day, u64, LinkTarget)> = None;
    for (day, archived) in days {
        let day = *day;
        let manifest = match archived.manifest() {
            Ok(Some(manifest)) => manifest,
            Ok(None) => {
                report.problem(
                    instance,
                    Some(day),
                    None,
                    format!(
                        "{} has no MANIFEST.json: the day is incomplete (its archiving did not finish), so its files \
                         were not verified",
                        archived.dir
                    ),
                );
                continue;
            }
            Err(reason) => {
                report.problem(instance, Some(day), None, reason);
                continue;
            }
        };
        for problem in archived.check_files(&manifest) {
            report.problem(instance, Some(day), None, problem);
        }
        let origin_account = manifest
            .final_checkpoint
            .as_deref()
            .unwrap_or_default()
            .lines()
            .next()
            .and_then(day_segment)
            .map(|(origin, _)| origin.account);
        if origin_account.is_some_and(|origin| origin != account) {
            report.problem(
                instance,
                Some(day),
                None,
                format!("the final checkpoint is of another account than the directory's ({account})"),
            );
        }
        let Some(segment_file) = archived.files.get(&archived.segment_name()) else { continue };
        let notes = match archived.files.get(&archived.notes_name()).map(crate::archive::NamedFile::read) {
            Some(Ok(bytes)) => files::parse_notes(&bytes),
            Some(Err(error)) => {
                report.problem(instance, Some(day), None, format!("{}: {error}", archived.notes_name()));
                files::NotesFile::default()
            }
            None => files::NotesFile::default(),
        };
        let (first_seq, link_target) = match previous.take() {
            // Seq 1 is the instance's first record ever: its day links to nothing.
            None if manifest.first_seq == 1 => (1, LinkTarget::Genesis),
            None => {
                report.notes.push(format!("{instance}: the chain starts at {day} (seq {})", manifest.first_seq));
                (manifest.first_seq, LinkTarget::Any)
            }
            Some((before, next_seq, _)) if manifest.first_seq > next_seq => {
                report.notes.push(format!(
                    "{instance}: the days after {before} and before {day} are missing from the archive (seqs \
                     {next_seq} to {}); the chain starts again at {day}",
                    manifest.first_seq - 1
                ));
                (manifest.first_seq, LinkTarget::Any)
            }
            Some((_, next_seq, link)) => (next_seq, link),
        };
        let leaves = archived
            .files
            .get(&archived.leaves_name())
            .map_or_else(|| PathBuf::from("/nonexistent/acta/leaves"), |file| file.path.clone());
        let saved_here = saved.get(&day).map_or(&[][..], Vec::as_slice);
        let segment = Segment { leaves, instance, day, ring, saved: saved_here };
        let outcome = segment.verify(&segment_file.path, &notes, &link_target, first_seq, report);
        let held = outcome.next_seq.saturating_sub(first_seq);
        if outcome.next_seq != manifest.last_seq + 1 || held != manifest.events {
            report.problem(
                instance,
                Some(day),
                None,
                format!(
                    "the manifest says seqs {} to {} ({} events), the segment holds seqs {first_seq} to {} ({held})",
                    manifest.first_seq,
                    manifest.last_seq,
                    manifest.events,
                    outcome.next_seq.saturating_sub(1)
                ),
            );
        }
        let last = notes.entries().last();
        if !last.is_some_and(|last| last.is_final && Some(&last.note) == manifest.final_checkpoint.as_ref()) {
            report.problem(
                instance,
                Some(day),
                None,
                "the manifest's final_checkpoint is not the final line of the day's checkpoints",
            );
        }
        previous = Some((day, outcome.next_seq, outcome.link));
    }
}
