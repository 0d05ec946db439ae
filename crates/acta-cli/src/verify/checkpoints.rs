//! One segment's checkpoints against its records, and the link from each segment to the one
//! before it.
//!
//! Every line of a segment's `.notes` goes to the ledger verifier
//! ([`acta_ledger::SegmentVerifier`]), which refuses the ones that cannot vouch for the segment
//! (unreadable, not signed by a key of the ring, naming another segment or account, listed with
//! another link, smaller than the one before) and compares the rest with the tree of the
//! records, link leaf first. This module decides what the link must be, hands the verifier the
//! leaves, and words what it finds by checkpoint line and seq.
//!
//! The link: leaf 0 of a segment must name the final checkpoint of the segment before it (the
//! zero hash for an instance's first segment). When a checkpoint does not match, the segment's
//! `.leaves` file may name the record that differs ([`super::diagnosis`]); otherwise the report
//! gives the range between the last matching and the first failing checkpoint.

use std::path::{Path, PathBuf};

use acta_ledger::{Checkpoint, Expected, Hash, KeyRing, Listed, Origin, Problem, SegmentReport, SegmentVerifier};
use acta_store::Day;
use acta_store::integrity::files::{GENESIS, NoteEntry, NotesFile, link_leaf, note_hash};

use super::diagnosis;
use super::report::Report;
use super::saved::{self, Saved};
use super::segments::Records;

/// An origin that names a day's segment (`<node>/<account>/<instance>/<day>`), with that day.
pub(super) fn day_segment(origin: &str) -> Option<(Origin<'_>, Day)> {
    let origin = Origin::parse(origin)?;
    Some((origin, origin.segment.parse().ok()?))
}

/// What the previous segment leaves for the next one's link.
pub(super) enum LinkTarget {
    /// No segment before: the link must be [`GENESIS`].
    Genesis,
    /// The SHA-256 of the previous segment's final note.
    Note { day: Day, hash: Hash },
    /// The previous segment has no valid checkpoint covering all of it.
    Unknown { day: Day },
    /// The previous segment is not here (an archive's first day, or after days missing from it): any link.
    Any,
}

impl LinkTarget {
    /// The link the segment must have, when it is known.
    fn expected(&self) -> Option<Hash> {
        match self {
            LinkTarget::Genesis => Some(GENESIS),
            LinkTarget::Note { hash, .. } => Some(*hash),
            LinkTarget::Unknown { .. } | LinkTarget::Any => None,
        }
    }

    /// What is wrong with `link`, the link the segment's checkpoints give.
    fn check(&self, link: Option<Hash>) -> Option<String> {
        match (link, self) {
            (Some(link), LinkTarget::Genesis) if link != GENESIS => Some(
                "the segment links to a previous segment, but the instance has none before it: earlier segments \
                 were deleted"
                    .to_owned(),
            ),
            (Some(link), LinkTarget::Note { day, hash }) if link != *hash => Some(format!(
                "the segment does not link to the final checkpoint of {day}: a segment between them was removed, or \
                 one of them was replaced"
            )),
            (_, LinkTarget::Unknown { day }) => Some(format!(
                "the segment cannot be linked: {day} has no valid final checkpoint covering all its records"
            )),
            _ => None,
        }
    }
}

/// One day's segment of an instance, and what it is checked with.
pub(super) struct Segment<'a> {
    /// The segment's `.leaves` file (it may not exist).
    pub(super) leaves: PathBuf,
    pub(super) instance: &'a str,
    pub(super) day: Day,
    pub(super) ring: &'a KeyRing,
    pub(super) saved: &'a [Saved],
}

/// What a verified segment leaves for the next one.
pub(super) struct Outcome {
    pub(super) next_seq: u64,
    pub(super) link: LinkTarget,
}

/// A segment's checkpoint lines as the ledger verifier took them.
struct Lines<'n> {
    /// The lines that parse, with their line numbers: the list the verifier is given, whose
    /// positions its problems name.
    listed: Vec<(usize, &'n NoteEntry)>,
    /// How many of them the verifier accepted.
    accepted: usize,
    /// The largest accepted checkpoint: the history the segment claims.
    largest: Option<Checkpoint>,
}

impl<'n> Lines<'n> {
    /// The lines of a `.notes` file that parse.
    fn parse(notes: &'n NotesFile) -> Self {
        let listed =
            notes.lines.iter().filter_map(|(line, entry)| entry.as_ref().ok().map(|entry| (*line, entry))).collect();
        Lines { listed, accepted: 0, largest: None }
    }

    /// Notes what the verifier accepted of them.
    fn accepted_by(&mut self, verifier: &SegmentVerifier) {
        self.accepted = verifier.accepted().count();
        self.largest = verifier.accepted().last().map(|(_, checkpoint)| checkpoint.clone());
    }

    /// The entry at a verifier position.
    fn entry(&self, position: usize) -> Option<&'n NoteEntry> {
        self.listed.get(position).map(|(_, entry)| *entry)
    }

    /// The line number of a verifier position.
    fn line(&self, position: usize) -> usize {
        self.listed.get(position).map_or(0, |(line, _)| *line)
    }
}

/// How a refused checkpoint line reads; `None` for the problems of accepted ones.
fn refusal(problem: &Problem, line: usize) -> Option<String> {
    Some(match problem {
        Problem::Unreadable { error, .. } => format!("checkpoint line {line}: {error}"),
        Problem::WrongOrigin { found, .. } => {
            format!("checkpoint line {line} is a valid checkpoint of {found}, not of this segment: it was moved here")
        }
        Problem::OtherAccount { .. } => format!("checkpoint line {line} names another account than line 1"),
        Problem::OtherLink { .. } => format!("checkpoint line {line} gives another link than the lines before it"),
        Problem::OutOfOrder { size, previous_size, .. } => {
            format!("checkpoint line {line} (size {size}) follows one of size {previous_size}: a tree never shrinks")
        }
        _ => return None,
    })
}

impl Segment<'_> {
    pub(super) fn problem(&self, report: &mut Report, seq: Option<u64>, reason: impl Into<String>) {
        report.problem(self.instance, Some(self.day), seq, reason);
    }

    /// Opens the segment's checkpoints (and the `saved` ones) in a ledger verifier.
    fn verifier(&self, lines: &mut Lines<'_>, saved: &[Checkpoint]) -> SegmentVerifier {
        let day = self.day.to_string();
        let notes: Vec<Listed<'_>> = lines
            .listed
            .iter()
            .map(|(_, entry)| Listed { note: &entry.note, link: Some(entry.link), is_final: entry.is_final })
            .collect();
        let expected = Expected::Segment { instance: self.instance, segment: &day };
        let verifier = SegmentVerifier::from_listed(self.ring, expected, &notes, saved);
        lines.accepted_by(&verifier);
        verifier
    }

    /// Counts the segment's checkpoint lines and reports the ones that cannot be trusted, in
    /// line order.
    fn report_refused(&self, notes: &NotesFile, lines: &Lines<'_>, result: &SegmentReport, report: &mut Report) {
        report.checkpoints += notes.lines.len() as u64;
        let unparsed = notes.lines.iter().filter_map(|(line, entry)| {
            entry.as_ref().err().map(|reason| (*line, format!("checkpoint line {line}: {reason}")))
        });
        let refused = result.problems.iter().filter_map(|problem| {
            let line = lines.line(problem.checkpoint());
            refusal(problem, line).map(|reason| (line, reason))
        });
        let mut found: Vec<(usize, String)> = unparsed.chain(refused).collect();
        found.sort_by_key(|(line, _)| *line);
        for (_, reason) in found {
            self.problem(report, None, reason);
        }
        if let Some(torn_at) = notes.torn_at {
            // What a crash during an append leaves (the server cuts it at its next start). It
            // vouches for nothing, so it is ignored; were it a checkpoint hidden on purpose, the
            // records it covered show up as unsigned, and a saved copy (--checkpoints) catches it.
            report.notes.push(format!(
                "{} {}: the checkpoint file ends in an incomplete line at byte {torn_at} (a crash during a write?); \
                 it is ignored",
                self.instance, self.day
            ));
        }
    }

    /// A day with checkpoints but no segment: allowed when retention removed it (its final
    /// checkpoint is kept for the link), a deletion otherwise.
    pub(super) fn retired(&self, notes: &NotesFile, retired: Option<(Day, u64)>, report: &mut Report) -> LinkTarget {
        let mut lines = Lines::parse(notes);
        let verifier = self.verifier(&mut lines, &[]);
        let last = verifier.accepted().last().and_then(|(position, _)| lines.entry(position));
        let result = verifier.finish();
        self.report_refused(notes, &lines, &result, report);
        report.checkpoints_valid += lines.accepted as u64;
        if retired.is_none_or(|(day, _)| self.day > day) {
            self.problem(
                report,
                None,
                format!(
                    "{} checkpoints name this segment but the log has no such segment: it was deleted",
                    notes.lines.len()
                ),
            );
        }
        match last {
            Some(last) if last.is_final => LinkTarget::Note { day: self.day, hash: note_hash(&last.note) },
            _ => LinkTarget::Unknown { day: self.day },
        }
    }

    /// Checks the segment file at `path`, whose first record should be seq `first_seq`.
    pub(super) fn verify(
        &self,
        path: &Path,
        notes: &NotesFile,
        link_target: &LinkTarget,
        first_seq: u64,
        report: &mut Report,
    ) -> Outcome {
        let mut lines = Lines::parse(notes);
        let saved: Vec<Checkpoint> = self.saved.iter().map(|saved| saved.checkpoint.clone()).collect();
        let mut verifier = self.verifier(&mut lines, &saved);
        let claimed = verifier.link();
        let link = claimed.or(link_target.expected()).unwrap_or(GENESIS);
        let records = Records::read(path, self.instance, verifier.account(), first_seq, link_leaf(&link));
        for leaf in &records.leaves {
            verifier.push(*leaf);
        }
        let result = verifier.finish();

        self.report_refused(notes, &lines, &result, report);
        if let Some(reason) = link_target.check(claimed) {
            self.problem(report, None, reason);
        }
        report.events += records.count();
        for (seq, reason) in &records.problems {
            self.problem(report, *seq, reason.clone());
        }
        report.checkpoints_valid += result.checkpoints_valid as u64;
        let failed = result.failed().count();
        self.report_failed(path, &records, &result, &lines, report);
        for problem in &result.problems {
            if let Problem::FinalNotAtEnd { checkpoint, size, .. } = problem
                && records.readable
            {
                let line = lines.line(*checkpoint);
                self.problem(
                    report,
                    None,
                    format!(
                        "checkpoint line {line} is marked final with {} records, but the segment holds {}",
                        size.saturating_sub(1),
                        records.count()
                    ),
                );
            }
        }
        report.events_valid += result.events_verified.saturating_sub(1);
        // Unsigned: after the last checkpoint of a segment whose checkpoints all hold, or in a
        // segment without any (leaf 0, the link, is never an event). Records under checkpoints
        // that fail are reported as such.
        if failed == 0 && lines.accepted == notes.lines.len() && records.readable {
            report.events_unsigned += result.events_unsigned.min(result.events.saturating_sub(1));
        }
        saved::report_outcomes(self, &result.saved, records.leaves.len() as u64, records.first_seq, report);

        let link = match result.covering().and_then(|position| lines.entry(position)) {
            Some(entry) => LinkTarget::Note { day: self.day, hash: note_hash(&entry.note) },
            None => LinkTarget::Unknown { day: self.day },
        };
        Outcome { next_seq: records.next_seq, link }
    }

    /// Reports the accepted checkpoints that the records do not bear out: where the records
    /// differ, as precisely as the evidence allows, then how many checkpoints fail.
    fn report_failed(
        &self,
        path: &Path,
        records: &Records,
        result: &SegmentReport,
        lines: &Lines<'_>,
        report: &mut Report,
    ) {
        let mut failed = result.failed();
        let Some(first) = failed.next() else { return };
        let line = lines.line(first.checkpoint());
        // Every failure is of an opened checkpoint, which has a size.
        let size = first.size().unwrap_or_default();
        let leaves = records.leaves.len() as u64;
        // Past an unreadable record the leaves are unknown: the read error names it.
        let located = (lines.largest.as_ref()).filter(|_| records.readable).and_then(|largest| {
            diagnosis::name_record(&self.leaves, path, &records.leaves, largest, records.first_seq)
        });
        match located {
            Some((seq, reason)) => self.problem(report, seq, reason),
            None if !records.readable => {}
            None if matches!(first, Problem::BeyondEnd { .. }) => self.problem(
                report,
                Some(records.seq_of(leaves)),
                format!(
                    "checkpoint line {line} covers records up to seq {} but the segment ends before seq {}: records \
                     were removed or the segment truncated",
                    records.seq_of(size - 1),
                    records.seq_of(leaves)
                ),
            ),
            None => {
                let from = records.seq_of(result.events_verified.max(1));
                self.problem(
                    report,
                    Some(from),
                    format!(
                        "one of the records seq {from} to {} was changed, removed, added or reordered (checkpoint line \
                         {line} does not match; no leaf file to say which)",
                        records.seq_of(size.saturating_sub(1)),
                    ),
                );
            }
        }
        let what =
            if records.readable { "do not match the records" } else { "cannot be checked past the unreadable record" };
        self.problem(
            report,
            None,
            format!(
                "{} of {} checkpoints {what} (first: line {line}, size {size})",
                1 + failed.count(),
                lines.accepted
            ),
        );
    }
}
