//! Which record differs from the signed history. A segment's `.leaves` file is not trusted; the
//! ledger uses it only when its leaves give the root of the largest checkpoint
//! ([`acta_ledger::locate`]), and then names the leaf that was changed, removed, added or
//! reordered. What the ledger cannot tell, because it knows nothing of records, is a removal,
//! insertion or swap hidden by renumbering the seqs after it: that is tried here, by hashing the
//! records again with other seqs.

use std::path::Path;

use acta_ledger::{Checkpoint, Difference, Hash, leaf_hash, locate};
use acta_store::Record;
use acta_store::integrity::files::read_leaves_prefix;
use acta_store::log::{Envelope, encode_payload, visit_segment_file};

/// What differs, as far as the records tell.
enum Found {
    /// As the leaves alone show it.
    Leaves(Difference),
    /// The signed record at this leaf is gone and the ones after it carry seqs one lower.
    RemovedRenumbered(usize),
    /// The record at this leaf is new and the ones after it carry seqs one higher.
    AddedRenumbered(usize),
}

/// Names the first record of the segment at `path` (its leaves `actual`, leaf 1 being seq
/// `first_seq`) that differs from the history `largest` signed, when the `.leaves` file at
/// `leaves` proves to be that history: the seq it names, and why.
pub(super) fn name_record(
    leaves: &Path,
    path: &Path,
    actual: &[Hash],
    largest: &Checkpoint,
    first_seq: u64,
) -> Option<(Option<u64>, String)> {
    let signed = read_leaves_prefix(leaves, largest.size).ok()?;
    let found = match locate(actual, &signed, largest)? {
        Difference::Diverged(at) => renumbered(path, at, &signed).unwrap_or(Found::Leaves(Difference::Diverged(at))),
        difference => Found::Leaves(difference),
    };
    let seq = |leaf: usize| first_seq + leaf as u64 - 1;
    Some(match found {
        Found::Leaves(Difference::Link) => {
            (None, "leaf 0, the link to the previous segment, is not the one that was signed".to_owned())
        }
        Found::Leaves(Difference::Changed(at)) => {
            (Some(seq(at)), "the record was changed: it is not the record that was signed".to_owned())
        }
        Found::Leaves(Difference::Removed { at, count }) => (
            Some(seq(at)),
            format!("{count} signed record(s) are missing here: removed (the records after it were shifted)"),
        ),
        Found::RemovedRenumbered(at) => (
            Some(seq(at)),
            "the signed record with this seq is missing: removed, and the records after it were renumbered".to_owned(),
        ),
        Found::Leaves(Difference::Added { at, count }) => {
            (Some(seq(at)), format!("{count} record(s) here are not in the signed history: added"))
        }
        Found::AddedRenumbered(at) => (
            Some(seq(at)),
            "the record is not in the signed history: added, and the records after it were renumbered".to_owned(),
        ),
        Found::Leaves(Difference::Swapped { at, with }) => (
            Some(seq(at)),
            format!("the records seq {} and seq {} are not in the signed order: reordered", seq(at), seq(with)),
        ),
        Found::Leaves(Difference::Truncated(at)) => (
            Some(seq(at)),
            format!(
                "the signed records from seq {} to {} are missing: the segment was truncated",
                seq(at),
                seq(signed.len() - 1)
            ),
        ),
        Found::Leaves(Difference::Diverged(at)) => {
            (Some(seq(at)), "the records from here on differ from the signed history".to_owned())
        }
    })
}

/// Explains a divergence at leaf `at` by records whose seq was rewritten to hide a removal, an
/// insertion or a swap: the seq is part of the hashed envelope, so renumbering changes every
/// later leaf, but the records hashed with their original seqs give the signed leaves back.
fn renumbered(path: &Path, at: usize, signed: &[Hash]) -> Option<Found> {
    // Leaf `at` is record `at - 1`; the records at leaves `at` and `at + 1` are needed.
    let mut records = Vec::with_capacity(2);
    let mut position = 0usize;
    let _ = visit_segment_file(path, &mut |record| {
        position += 1;
        if position == at || position == at + 1 {
            records.push(record);
        }
    });
    let here = records.first()?;
    let next = records.get(1);
    // The leaf a record would have with other positional fields (seq, arrival time).
    let placed = |record: &Record, seq: u64, received_ns: i64| {
        let envelope = Envelope {
            seq,
            received_ns,
            stream: &record.stream,
            account: &record.account,
            instance: &record.instance,
            event_id: &record.event_id,
        };
        encode_payload(&envelope, &record.event).ok().map(|payload| leaf_hash(&payload))
    };
    let is_signed = |leaf: Option<Hash>, position: usize| leaf.is_some_and(|leaf| signed.get(position) == Some(&leaf));
    let swapped = Found::Leaves(Difference::Swapped { at, with: at + 1 });
    // Two records exchanged while the seqs and arrival times stayed in place, so the chain of
    // both still looks right.
    if let Some(next) = next
        && is_signed(placed(here, next.seq, next.received_ns), at + 1)
        && is_signed(placed(next, here.seq, here.received_ns), at)
    {
        return Some(swapped);
    }
    let here_was_next =
        here.seq.checked_add(1).is_some_and(|seq| is_signed(placed(here, seq, here.received_ns), at + 1));
    let next_was_here = next
        .and_then(|next| Some(placed(next, next.seq.checked_sub(1)?, next.received_ns)))
        .is_some_and(|leaf| is_signed(leaf, at));
    match (here_was_next, next_was_here) {
        (true, true) => Some(swapped),
        (true, false) => Some(Found::RemovedRenumbered(at)),
        (false, true) => Some(Found::AddedRenumbered(at)),
        (false, false) => None,
    }
}
