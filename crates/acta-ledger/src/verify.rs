//! The offline verifier of one log segment: its leaf hashes, in log order, against its signed
//! checkpoints.
//!
//! The leaves are read once, through a [`Frontier`]; when the tree reaches a checkpoint's size,
//! the checkpoint's root must equal the tree's root. Every checkpoint that matches is then a
//! root of a prefix of the same leaves, so any two of them are consistent in the RFC 6962 sense
//! (the leaves themselves are the consistency proof, and a stronger one). A checkpoint that does
//! not match while a later, larger one does is reported as inconsistent with it: the log signed
//! two different histories. Cost: one pass, `O(n)` hashes, `O(log n)` memory besides the
//! checkpoints.

use std::fmt;

use crate::checkpoint::Checkpoint;
use crate::hash::Hash;
use crate::note::{KeyRing, NoteError};
use crate::tree::Frontier;

/// One thing wrong with a segment. `checkpoint` is the 0-based position of the checkpoint in the
/// list given to the verifier; messages count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The checkpoint note could not be opened: malformed, unknown key or bad signature.
    Unreadable {
        /// Position in the checkpoint list.
        checkpoint: usize,
        /// Why it was refused.
        error: NoteError,
    },
    /// A valid checkpoint of another log: it does not vouch for this segment.
    WrongOrigin {
        /// Position in the checkpoint list.
        checkpoint: usize,
        /// The origin the segment has.
        expected: String,
        /// The origin the checkpoint names.
        found: String,
    },
    /// The checkpoint is smaller than one listed before it: the list is out of order or a log
    /// shrank. It is not compared with the leaves.
    OutOfOrder {
        /// Position in the checkpoint list.
        checkpoint: usize,
        /// Its tree size.
        size: u64,
        /// The size of the checkpoint before it.
        previous_size: u64,
    },
    /// The checkpoint covers more events than the segment holds: events were removed.
    BeyondEnd {
        /// Position in the checkpoint list.
        checkpoint: usize,
        /// Its tree size.
        size: u64,
        /// The number of events present.
        events: u64,
    },
    /// The checkpoint's root is not the root of the first `size` events, and no later checkpoint
    /// vouches for them either: some event in `verified_before..size` (0-based leaf indices)
    /// was changed, removed, added or reordered.
    Mismatch {
        /// Position in the checkpoint list.
        checkpoint: usize,
        /// Its tree size.
        size: u64,
        /// The events before this index are covered by a valid checkpoint.
        verified_before: u64,
    },
    /// The checkpoint's root is not the root of the first `size` events, but a later checkpoint
    /// of at least that size matches them: the two checkpoints are inconsistent, the log signed
    /// two different histories.
    Inconsistent {
        /// Position in the checkpoint list.
        checkpoint: usize,
        /// Its tree size.
        size: u64,
        /// The position of the valid checkpoint it contradicts.
        valid: usize,
        /// That checkpoint's size.
        valid_size: u64,
    },
}

impl Problem {
    /// The 0-based position of the checkpoint the problem is about.
    pub fn checkpoint(&self) -> usize {
        match self {
            Problem::Unreadable { checkpoint, .. }
            | Problem::WrongOrigin { checkpoint, .. }
            | Problem::OutOfOrder { checkpoint, .. }
            | Problem::BeyondEnd { checkpoint, .. }
            | Problem::Mismatch { checkpoint, .. }
            | Problem::Inconsistent { checkpoint, .. } => *checkpoint,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.checkpoint() + 1;
        match self {
            Problem::Unreadable { error, .. } => write!(f, "checkpoint {number}: {error}"),
            Problem::WrongOrigin { expected, found, .. } => {
                write!(f, "checkpoint {number} is for {found}, not {expected}: it belongs to another log")
            }
            Problem::OutOfOrder { size, previous_size, .. } => write!(
                f,
                "checkpoint {number} (size {size}) comes after a checkpoint of size \
                 {previous_size}: a log never shrinks"
            ),
            Problem::BeyondEnd { size, events, .. } => write!(
                f,
                "checkpoint {number} covers {size} events but only {events} are present: \
                 events were removed"
            ),
            Problem::Mismatch { size, verified_before, .. } => write!(
                f,
                "checkpoint {number} (size {size}) does not match the events: one of events \
                 {} to {size} (counting from 1) was changed, removed, added or reordered",
                verified_before + 1
            ),
            Problem::Inconsistent { size, valid, valid_size, .. } => write!(
                f,
                "checkpoint {number} (size {size}) is inconsistent with checkpoint {} \
                 (size {valid_size}), which matches the events: the log signed two different \
                 histories",
                valid + 1
            ),
        }
    }
}

/// The outcome of verifying one segment. Printed, it reads
/// `3/3 checkpoints valid, 1200/1204 events verified, 4 unsigned`, then one line per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    /// The segment's origin, as given to the verifier.
    pub origin: String,
    /// The number of events (leaves) read.
    pub events: u64,
    /// Events covered by a valid checkpoint: the size of the largest one.
    pub events_verified: u64,
    /// Events after the last checkpoint compared with the leaves: not signed (yet). Normal for
    /// the open end of a live segment; a sealed segment should have none.
    pub events_unsigned: u64,
    /// The number of checkpoints given.
    pub checkpoints: usize,
    /// Checkpoints that are signed by a known key, name this segment and match the events.
    pub checkpoints_valid: usize,
    /// Everything wrong, ordered by checkpoint position.
    pub problems: Vec<Problem>,
    /// The RFC 6962 root of all events read.
    pub root: Hash,
}

impl SegmentReport {
    /// True when nothing is wrong. Unsigned events are not a problem here: whether they may
    /// exist (open segment) or not (sealed segment) is the caller's knowledge.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problem with the first checkpoint that failed, if any.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

impl fmt::Display for SegmentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} checkpoints valid, {}/{} events verified",
            self.checkpoints_valid, self.checkpoints, self.events_verified, self.events
        )?;
        if self.events_unsigned > 0 {
            write!(f, ", {} unsigned", self.events_unsigned)?;
        }
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// A checkpoint that was compared with the leaves.
#[derive(Debug)]
struct Compared {
    checkpoint: usize,
    size: u64,
    matched: bool,
}

/// Verifies a segment while its leaf hashes stream by, so a day of events never has to be in
/// memory at once: [`SegmentVerifier::new`], [`SegmentVerifier::push`] each leaf in log order,
/// then [`SegmentVerifier::finish`].
#[derive(Debug)]
pub struct SegmentVerifier {
    origin: String,
    checkpoints: usize,
    tree: Frontier,
    /// Opened checkpoints of this origin in non-decreasing size, with their list position.
    pending: Vec<(usize, Checkpoint)>,
    /// How many of `pending` have been compared.
    next: usize,
    compared: Vec<Compared>,
    problems: Vec<Problem>,
}

impl SegmentVerifier {
    /// Opens every checkpoint note with `ring` and prepares to compare them with the segment
    /// `origin`. Notes are expected in ascending size, the order they were signed in.
    pub fn new<S: AsRef<str>>(ring: &KeyRing, origin: &str, notes: &[S]) -> Self {
        let mut pending = Vec::new();
        let mut problems = Vec::new();
        let mut previous_size: Option<u64> = None;
        for (position, note) in notes.iter().enumerate() {
            let checkpoint = match ring.open(note.as_ref()) {
                Ok(checkpoint) => checkpoint,
                Err(error) => {
                    problems.push(Problem::Unreadable { checkpoint: position, error });
                    continue;
                }
            };
            if checkpoint.origin != origin {
                problems.push(Problem::WrongOrigin {
                    checkpoint: position,
                    expected: origin.to_owned(),
                    found: checkpoint.origin,
                });
                continue;
            }
            match previous_size {
                Some(previous_size) if checkpoint.size < previous_size => {
                    problems.push(Problem::OutOfOrder { checkpoint: position, size: checkpoint.size, previous_size });
                }
                _ => {
                    previous_size = Some(checkpoint.size);
                    pending.push((position, checkpoint));
                }
            }
        }
        let mut verifier = Self {
            origin: origin.to_owned(),
            checkpoints: notes.len(),
            tree: Frontier::new(),
            pending,
            next: 0,
            compared: Vec::new(),
            problems,
        };
        // Checkpoints of the empty tree are due before any leaf arrives.
        verifier.compare_due();
        verifier
    }

    /// Adds the next leaf hash of the segment.
    pub fn push(&mut self, leaf: Hash) {
        self.tree.push(leaf);
        self.compare_due();
    }

    /// Compares every pending checkpoint whose size the tree has just reached.
    fn compare_due(&mut self) {
        while let Some((position, checkpoint)) = self.pending.get(self.next) {
            if checkpoint.size != self.tree.size() {
                break;
            }
            let compared =
                Compared { checkpoint: *position, size: checkpoint.size, matched: checkpoint.root == self.tree.root() };
            self.compared.push(compared);
            self.next += 1;
        }
    }

    /// Ends the segment and reports.
    pub fn finish(mut self) -> SegmentReport {
        let events = self.tree.size();
        for (position, checkpoint) in &self.pending[self.next..] {
            self.problems.push(Problem::BeyondEnd { checkpoint: *position, size: checkpoint.size, events });
        }

        let valid = || self.compared.iter().filter(|c| c.matched);
        let events_verified = valid().map(|c| c.size).max().unwrap_or(0);
        let last_signed = self.compared.iter().map(|c| c.size).max().unwrap_or(0);

        for failed in self.compared.iter().filter(|c| !c.matched) {
            // A valid checkpoint at least as large vouches for every event this one covers, so
            // this one, not the events, is wrong.
            let problem = match valid().find(|v| v.size >= failed.size) {
                Some(vouching) => Problem::Inconsistent {
                    checkpoint: failed.checkpoint,
                    size: failed.size,
                    valid: vouching.checkpoint,
                    valid_size: vouching.size,
                },
                None => Problem::Mismatch {
                    checkpoint: failed.checkpoint,
                    size: failed.size,
                    verified_before: valid().map(|v| v.size).filter(|size| *size < failed.size).max().unwrap_or(0),
                },
            };
            self.problems.push(problem);
        }
        self.problems.sort_by_key(Problem::checkpoint);
        let checkpoints_valid = valid().count();

        SegmentReport {
            origin: self.origin,
            events,
            events_verified,
            events_unsigned: events - last_signed,
            checkpoints: self.checkpoints,
            checkpoints_valid,
            problems: self.problems,
            root: self.tree.root(),
        }
    }
}

/// Verifies a segment whose leaf hashes are all in memory; see [`SegmentVerifier`].
pub fn verify_leaves<S: AsRef<str>>(ring: &KeyRing, origin: &str, leaves: &[Hash], notes: &[S]) -> SegmentReport {
    let mut verifier = SegmentVerifier::new(ring, origin, notes);
    for leaf in leaves {
        verifier.push(*leaf);
    }
    verifier.finish()
}
