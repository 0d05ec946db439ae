//! The records of one segment file: framing and checksums (as the store's reader checks them), the
//! seq chain, and that every record names the instance of its directory and the account of its
//! segment's checkpoints. What comes out is the segment's leaves, for the checkpoints to be
//! checked against.

use std::path::Path;

use acta_ledger::{Hash, leaf_hash};
use acta_store::log::visit_segment_file;

/// A segment file as read.
pub(super) struct Records {
    /// Leaf 0 (the link), then one leaf per record read.
    pub(super) leaves: Vec<Hash>,
    /// The seq of the segment's first record (the one due, when it has none).
    pub(super) first_seq: u64,
    /// The seq due after the last record read.
    pub(super) next_seq: u64,
    /// False when a record could not be read: the leaves stop before it.
    pub(super) readable: bool,
    /// What is wrong, in the order to report it: the seq it is about, and why.
    pub(super) problems: Vec<(Option<u64>, String)>,
}

impl Records {
    /// Reads the segment at `path` whose first record should be seq `first_seq`, of `instance`
    /// and (when its checkpoints say) `account`, after the link leaf `link_leaf`.
    pub(super) fn read(path: &Path, instance: &str, account: Option<&str>, first_seq: u64, link_leaf: Hash) -> Self {
        let mut leaves = vec![link_leaf];
        let mut next_seq = first_seq;
        let mut seq_reported = false;
        let mut problems = Vec::new();
        let mut segment_first_seq = None;
        let read = visit_segment_file(path, &mut |record| {
            segment_first_seq.get_or_insert(record.seq);
            if record.seq != next_seq && !seq_reported {
                seq_reported = true;
                let reason = if record.seq > next_seq {
                    format!("found seq {} where seq {next_seq} was due: records are missing", record.seq)
                } else {
                    format!(
                        "found seq {} again after seq {}: a record was inserted or repeated",
                        record.seq,
                        next_seq - 1
                    )
                };
                problems.push((Some(next_seq), reason));
            }
            if record.instance != instance {
                problems.push((
                    Some(record.seq),
                    format!(
                        "the record (event {}) belongs to instance {}, not {instance}",
                        record.event_id, record.instance
                    ),
                ));
            }
            if let Some(account) = account
                && record.account != account
            {
                problems.push((
                    Some(record.seq),
                    format!(
                        "the record (event {}) belongs to account {}, but this segment is account {account}'s",
                        record.event_id, record.account
                    ),
                ));
            }
            leaves.push(leaf_hash(&record.payload));
            next_seq = record.seq.max(next_seq) + 1;
        });
        if let Err(error) = &read {
            let after =
                if leaves.len() > 1 { format!(" (the record after seq {})", next_seq - 1) } else { String::new() };
            // The reading stopped here: this comes before what the records read so far show.
            problems.insert(0, (Some(next_seq), format!("unreadable{after}: {error}")));
        }
        Records {
            leaves,
            // Leaves are named by seq from the segment's own first record (the chain check above
            // has already said if that one is not where the previous segment left off).
            first_seq: segment_first_seq.unwrap_or(first_seq),
            next_seq,
            readable: read.is_ok(),
            problems,
        }
    }

    /// The number of records read.
    pub(super) fn count(&self) -> u64 {
        self.leaves.len() as u64 - 1
    }

    /// The seq of leaf `leaf` (leaf 0 is the link, leaf 1 the first record).
    pub(super) fn seq_of(&self, leaf: u64) -> u64 {
        (self.first_seq + leaf).saturating_sub(1)
    }
}
