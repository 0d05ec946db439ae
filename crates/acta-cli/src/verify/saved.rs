//! Checkpoints kept outside the data (`--checkpoints`: what an auditor saved from
//! `GET /v1/integrity/checkpoints`, or a `.notes` file). Each must be a prefix of what is here, so
//! a directory rolled back to an older state that is consistent in itself is still caught. The
//! comparison is the ledger verifier's ([`acta_ledger::SegmentReport::saved`]); this module
//! reads the files, sorts the checkpoints by the segment they name, and words the outcome.

use std::collections::BTreeMap;

use acta_ledger::{Checkpoint, KeyRing, Problem};
use acta_store::Day;
use serde_json::Value;

use super::checkpoints::{Segment, day_segment};
use super::report::Report;
use super::{Usage, VerifyArgs};

/// A checkpoint kept outside the data directory.
#[derive(Debug, Clone)]
pub(super) struct Saved {
    /// Where it came from, for messages: `FILE, checkpoint N`.
    pub(super) source: String,
    pub(super) checkpoint: Checkpoint,
}

/// The `--checkpoints` that open with the ring, by the (instance, day) their origins name.
#[derive(Debug, Default)]
pub(super) struct SavedCheckpoints(BTreeMap<(String, Day), Vec<Saved>>);

impl SavedCheckpoints {
    /// Reads the `--checkpoints` files; a checkpoint that does not open, or names no Acta segment,
    /// is reported.
    pub(super) fn read(args: &VerifyArgs, ring: &KeyRing, report: &mut Report) -> Result<Self, Usage> {
        let mut saved: BTreeMap<(String, Day), Vec<Saved>> = BTreeMap::new();
        for path in &args.checkpoints {
            let text = std::fs::read_to_string(path)
                .map_err(|error| Usage(format!("--checkpoints {}: {error}", path.display())))?;
            let notes =
                parse_saved(&text).map_err(|reason| Usage(format!("--checkpoints {}: {reason}", path.display())))?;
            for (position, note) in notes.iter().enumerate() {
                report.external += 1;
                let source = format!("{}, checkpoint {}", path.display(), position + 1);
                let checkpoint = match ring.open(note) {
                    Ok(checkpoint) => checkpoint,
                    Err(error) => {
                        report.problem("-", None, None, format!("saved checkpoint ({source}): {error}"));
                        continue;
                    }
                };
                let Some((origin, day)) = day_segment(&checkpoint.origin) else {
                    report.problem(
                        "-",
                        None,
                        None,
                        format!("saved checkpoint ({source}): origin {:?} is not an Acta segment", checkpoint.origin),
                    );
                    continue;
                };
                let key = (origin.instance.to_owned(), day);
                saved.entry(key).or_default().push(Saved { source, checkpoint });
            }
        }
        Ok(Self(saved))
    }

    /// The instances some saved checkpoint names.
    pub(super) fn instances(&self) -> impl Iterator<Item = &String> {
        self.0.keys().map(|(instance, _)| instance)
    }

    /// The saved checkpoints of one instance, by day.
    pub(super) fn of_instance(&self, instance: &str) -> BTreeMap<Day, Vec<Saved>> {
        self.0.iter().filter(|((name, _), _)| name == instance).map(|((_, day), saved)| (*day, saved.clone())).collect()
    }
}

/// The notes of a saved-checkpoints file: the JSON answer of `GET /v1/integrity/checkpoints`,
/// a JSON array of those objects or of note strings, or JSON lines (a `.notes` file).
fn parse_saved(text: &str) -> Result<Vec<String>, String> {
    fn note_of(item: &Value) -> Option<String> {
        item.as_str().or_else(|| item.get("note").and_then(Value::as_str)).map(str::to_owned)
    }
    let items: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => match object.get("checkpoints") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err("a JSON object without a \"checkpoints\" array".to_owned()),
        },
        Ok(Value::Array(items)) => items,
        Ok(other) => vec![other],
        Err(_) => text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(number, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", number + 1)))
            .collect::<Result<_, _>>()?,
    };
    items
        .iter()
        .enumerate()
        .map(|(n, item)| note_of(item).ok_or_else(|| format!("item {} has no note", n + 1)))
        .collect()
}

/// Reports how a segment's leaves (`leaves` of them, the link leaf included; leaf `i` is seq
/// `first_seq + i - 1`) held against each of its saved checkpoints, as the ledger verifier found.
pub(super) fn report_outcomes(
    segment: &Segment<'_>,
    outcomes: &[Option<Problem>],
    leaves: u64,
    first_seq: u64,
    report: &mut Report,
) {
    for (saved, outcome) in segment.saved.iter().zip(outcomes) {
        let size = saved.checkpoint.size;
        match outcome {
            None => report.external_consistent += 1,
            Some(Problem::OtherAccount { .. }) => {
                segment.problem(report, None, format!("the saved checkpoint ({}) is of another account", saved.source));
            }
            Some(Problem::BeyondEnd { .. }) => {
                // The first missing leaf is `leaves`.
                let (missing_from, missing_to) = (first_seq + leaves - 1, first_seq + size - 2);
                segment.problem(
                    report,
                    Some(missing_from),
                    format!(
                        "a saved checkpoint ({}) covers {} records, but the segment holds only {}: the log was \
                         rolled back or truncated, and the records seq {missing_from} to {missing_to} are missing",
                        saved.source,
                        size - 1,
                        leaves - 1,
                    ),
                );
            }
            Some(Problem::Mismatch { .. } | Problem::Inconsistent { .. }) => segment.problem(
                report,
                None,
                format!(
                    "a saved checkpoint ({}) of {} records does not match them: the history was rewritten since it \
                     was saved",
                    saved.source,
                    size.saturating_sub(1)
                ),
            ),
            // The checkpoints were sorted to this segment by its instance and day.
            Some(other) => segment.problem(report, None, format!("the saved checkpoint ({}): {other}", saved.source)),
        }
    }
}

/// Saved checkpoints of a day the data directory has neither a segment nor checkpoints of.
pub(super) fn report_missing_segment(instance: &str, day: Day, saved: &[Saved], report: &mut Report) {
    for saved in saved {
        report.problem(
            instance,
            Some(day),
            None,
            format!(
                "a saved checkpoint of size {} ({}) names this segment, but the data directory has neither the \
                 segment nor its checkpoints: it was rolled back or deleted",
                saved.checkpoint.size, saved.source
            ),
        );
    }
}
