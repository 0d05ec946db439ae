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
//!
//! Which checkpoints speak for the segment is [`Expected`]: one exact origin, or the segment of
//! an instance whatever node signed it, in the account its first checkpoint names (what a
//! verifier that finds segments by where their files lie knows). A log may keep beside each
//! note the link its leaf 0 was made from and whether the note closed the segment ([`Listed`]):
//! every checkpoint must then give the same link, and a closing one must cover every leaf.
//! Checkpoints saved outside the log (an auditor's copies) are compared with the same leaves:
//! each must be a prefix of them, else the log was rolled back or rewritten since.

use std::fmt;

use crate::checkpoint::{Checkpoint, Origin};
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
    /// A valid checkpoint of this segment, but of another account than the first checkpoint
    /// that names the segment: a segment holds one account's events.
    OtherAccount {
        /// Position in the checkpoint list.
        checkpoint: usize,
        /// The account of the first checkpoint.
        expected: String,
        /// The account this one names.
        found: String,
    },
    /// The checkpoint is listed with another link than the checkpoints before it: a segment has
    /// one leaf 0.
    OtherLink {
        /// Position in the checkpoint list.
        checkpoint: usize,
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
    /// The checkpoint is listed as the one that closed the segment, but the segment holds another
    /// number of events: events were added after it was closed, or removed.
    FinalNotAtEnd {
        /// Position in the checkpoint list.
        checkpoint: usize,
        /// Its tree size.
        size: u64,
        /// The number of events present.
        events: u64,
    },
}

impl Problem {
    /// The 0-based position of the checkpoint the problem is about.
    pub fn checkpoint(&self) -> usize {
        match self {
            Problem::Unreadable { checkpoint, .. }
            | Problem::WrongOrigin { checkpoint, .. }
            | Problem::OtherAccount { checkpoint, .. }
            | Problem::OtherLink { checkpoint }
            | Problem::OutOfOrder { checkpoint, .. }
            | Problem::BeyondEnd { checkpoint, .. }
            | Problem::Mismatch { checkpoint, .. }
            | Problem::Inconsistent { checkpoint, .. }
            | Problem::FinalNotAtEnd { checkpoint, .. } => *checkpoint,
        }
    }

    /// The tree size of the checkpoint, for the problems found once it was opened and named this
    /// segment.
    pub fn size(&self) -> Option<u64> {
        match self {
            Problem::Unreadable { .. }
            | Problem::WrongOrigin { .. }
            | Problem::OtherAccount { .. }
            | Problem::OtherLink { .. } => None,
            Problem::OutOfOrder { size, .. }
            | Problem::BeyondEnd { size, .. }
            | Problem::Mismatch { size, .. }
            | Problem::Inconsistent { size, .. }
            | Problem::FinalNotAtEnd { size, .. } => Some(*size),
        }
    }

    /// True for the checkpoints that were accepted but that the events do not bear out.
    fn is_failure(&self) -> bool {
        matches!(self, Problem::BeyondEnd { .. } | Problem::Mismatch { .. } | Problem::Inconsistent { .. })
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
            Problem::OtherAccount { expected, found, .. } => write!(
                f,
                "checkpoint {number} is for account {found}, not {expected}: a segment holds one \
                 account's events"
            ),
            Problem::OtherLink { .. } => write!(
                f,
                "checkpoint {number} gives another link than the checkpoints before it: a segment \
                 has one leaf 0"
            ),
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
            Problem::FinalNotAtEnd { size, events, .. } => {
                write!(f, "checkpoint {number} closed the segment at size {size}, but it holds {events} events")
            }
        }
    }
}

/// The outcome of verifying one segment. Printed, it reads
/// `3/3 checkpoints valid, 1200/1204 events verified, 4 unsigned`, then one line per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    /// The segment's origin: the one given to the verifier, or, for [`Expected::Segment`], the
    /// one of its first accepted checkpoint (`*/*/<instance>/<segment>` when none was).
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
    /// The position of the last valid checkpoint, the one of `events_verified` events.
    pub latest_valid: Option<usize>,
    /// Per saved checkpoint, in the order given: `None` when the events extend it, else why they
    /// do not. [`Problem::BeyondEnd`] says the log was rolled back or truncated since it was
    /// saved, [`Problem::Mismatch`] and [`Problem::Inconsistent`] that it was rewritten (`valid`
    /// then is a position in the segment's own list). `checkpoint` is the position among the
    /// saved ones.
    pub saved: Vec<Option<Problem>>,
}

impl SegmentReport {
    /// True when nothing is wrong. Unsigned events are not a problem here: whether they may
    /// exist (open segment) or not (sealed segment) is the caller's knowledge.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.saved.iter().all(Option::is_none)
    }

    /// The problem with the first checkpoint that failed, if any.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }

    /// The accepted checkpoints that the events do not bear out, in list order:
    /// [`Problem::BeyondEnd`], [`Problem::Mismatch`] and [`Problem::Inconsistent`].
    pub fn failed(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|problem| problem.is_failure())
    }

    /// The position of the valid checkpoint that vouches for every event, when no accepted
    /// checkpoint contradicts the events: what the segment after this one may link to.
    pub fn covering(&self) -> Option<usize> {
        self.latest_valid.filter(|_| self.events_verified == self.events && self.failed().next().is_none())
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
        for problem in self.saved.iter().flatten() {
            write!(f, "\n  saved {problem}")?;
        }
        Ok(())
    }
}

/// Which checkpoints speak for the segment being verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected<'a> {
    /// Those of exactly this origin.
    Origin(&'a str),
    /// Those whose [`Origin`] names this instance and segment, signed by any node, all of the
    /// account that the first of them names. This is what is known of a segment found by where
    /// its files lie: the account is only in its checkpoints.
    Segment {
        /// The instance of the segment.
        instance: &'a str,
        /// The segment's name (Acta's is its day).
        segment: &'a str,
    },
}

impl Expected<'_> {
    /// The origin a checkpoint must have, `*` standing for any part.
    fn pattern(&self) -> String {
        match self {
            Expected::Origin(origin) => (*origin).to_owned(),
            Expected::Segment { instance, segment } => format!("*/*/{instance}/{segment}"),
        }
    }
}

/// A checkpoint note as a log lists it, with what the log keeps beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed<'a> {
    /// The signed checkpoint note.
    pub note: &'a str,
    /// What the segment's leaf 0 was made from (Acta: the hash of the previous segment's final
    /// note), when the log keeps it with each note. It is signed only through leaf 0, so a
    /// checkpoint listed with another link than the ones before it is refused.
    pub link: Option<Hash>,
    /// The writer closed the segment with this checkpoint: it must cover every event.
    pub is_final: bool,
}

impl<'a> Listed<'a> {
    /// A bare note: no link, not final.
    pub fn note(note: &'a str) -> Self {
        Self { note, link: None, is_final: false }
    }
}

/// A checkpoint that was compared with the leaves.
#[derive(Debug)]
struct Compared {
    checkpoint: usize,
    size: u64,
    matched: bool,
}

/// Checkpoints waiting for the tree to reach their size, smallest first.
#[derive(Debug, Default)]
struct Due {
    /// Position, size and root.
    waiting: Vec<(usize, u64, Hash)>,
    /// How many of `waiting` have been compared.
    next: usize,
    compared: Vec<Compared>,
}

impl Due {
    /// Compares every waiting checkpoint whose size the tree has just reached.
    fn compare(&mut self, tree: &Frontier) {
        while let Some(&(checkpoint, size, root)) = self.waiting.get(self.next) {
            if size != tree.size() {
                break;
            }
            self.compared.push(Compared { checkpoint, size, matched: root == tree.root() });
            self.next += 1;
        }
    }

    /// The checkpoints the tree never reached: they cover more events than there are.
    fn beyond_end(&self, events: u64) -> impl Iterator<Item = Problem> + '_ {
        self.waiting[self.next..].iter().map(move |&(checkpoint, size, _)| Problem::BeyondEnd {
            checkpoint,
            size,
            events,
        })
    }
}

/// An accepted checkpoint: signed by a known key, naming this segment, in order.
#[derive(Debug)]
struct Accepted {
    position: usize,
    checkpoint: Checkpoint,
    is_final: bool,
}

/// Verifies a segment while its leaf hashes stream by, so a day of events never has to be in
/// memory at once: [`SegmentVerifier::new`] (or [`SegmentVerifier::from_listed`]),
/// [`SegmentVerifier::push`] each leaf in log order, then [`SegmentVerifier::finish`].
#[derive(Debug)]
pub struct SegmentVerifier {
    origin: String,
    checkpoints: usize,
    tree: Frontier,
    /// In list order, so in non-decreasing size.
    accepted: Vec<Accepted>,
    /// The link every accepted checkpoint is listed with.
    link: Option<Hash>,
    own: Due,
    saved: Due,
    saved_problems: Vec<Option<Problem>>,
    problems: Vec<Problem>,
}

impl SegmentVerifier {
    /// Opens every checkpoint note with `ring` and prepares to compare them with the segment
    /// `origin`. Notes are expected in ascending size, the order they were signed in.
    pub fn new<S: AsRef<str>>(ring: &KeyRing, origin: &str, notes: &[S]) -> Self {
        let listed: Vec<Listed<'_>> = notes.iter().map(|note| Listed::note(note.as_ref())).collect();
        Self::from_listed(ring, Expected::Origin(origin), &listed, &[])
    }

    /// Opens every listed note with `ring` and prepares to compare the ones that speak for the
    /// `expected` segment with it, in ascending size, the order they were signed in. `saved`
    /// checkpoints (opened by the caller with a ring it trusts) must each name the segment too,
    /// and be a prefix of its events; they may come in any order.
    pub fn from_listed(ring: &KeyRing, expected: Expected<'_>, listed: &[Listed<'_>], saved: &[Checkpoint]) -> Self {
        let mut verifier = Self {
            origin: expected.pattern(),
            checkpoints: listed.len(),
            tree: Frontier::new(),
            accepted: Vec::new(),
            link: None,
            own: Due::default(),
            saved: Due::default(),
            saved_problems: vec![None; saved.len()],
            problems: Vec::new(),
        };
        for (position, entry) in listed.iter().enumerate() {
            match verifier.accept(ring, expected, position, entry) {
                Ok(checkpoint) => {
                    verifier.accepted.push(Accepted { position, checkpoint, is_final: entry.is_final });
                }
                Err(problem) => verifier.problems.push(problem),
            }
        }
        if let (Expected::Segment { .. }, Some(first)) = (expected, verifier.accepted.first()) {
            verifier.origin = first.checkpoint.origin.clone();
        }
        verifier.own.waiting = verifier
            .accepted
            .iter()
            .map(|entry| (entry.position, entry.checkpoint.size, entry.checkpoint.root))
            .collect();
        for (index, checkpoint) in saved.iter().enumerate() {
            match verifier.names_segment(expected, index, checkpoint) {
                Ok(()) => verifier.saved.waiting.push((index, checkpoint.size, checkpoint.root)),
                Err(problem) => verifier.saved_problems[index] = Some(problem),
            }
        }
        verifier.saved.waiting.sort_by_key(|&(_, size, _)| size);
        // Checkpoints of the empty tree are due before any leaf arrives.
        verifier.compare_due();
        verifier
    }

    /// Opens a listed note and checks that it may be compared with the segment.
    fn accept(
        &mut self,
        ring: &KeyRing,
        expected: Expected<'_>,
        position: usize,
        entry: &Listed<'_>,
    ) -> Result<Checkpoint, Problem> {
        let checkpoint = ring.open(entry.note).map_err(|error| Problem::Unreadable { checkpoint: position, error })?;
        self.names_segment(expected, position, &checkpoint)?;
        if let Some(link) = entry.link
            && *self.link.get_or_insert(link) != link
        {
            return Err(Problem::OtherLink { checkpoint: position });
        }
        if let Some(previous) = self.accepted.last()
            && checkpoint.size < previous.checkpoint.size
        {
            return Err(Problem::OutOfOrder {
                checkpoint: position,
                size: checkpoint.size,
                previous_size: previous.checkpoint.size,
            });
        }
        Ok(checkpoint)
    }

    /// Whether an opened checkpoint speaks for this segment.
    fn names_segment(&self, expected: Expected<'_>, position: usize, checkpoint: &Checkpoint) -> Result<(), Problem> {
        let named = match expected {
            Expected::Origin(origin) => checkpoint.origin == origin,
            Expected::Segment { instance, segment } => {
                let named = Origin::parse(&checkpoint.origin)
                    .filter(|named| named.instance == instance && named.segment == segment);
                if let (Some(named), Some(account)) = (named, self.account())
                    && named.account != account
                {
                    return Err(Problem::OtherAccount {
                        checkpoint: position,
                        expected: account.to_owned(),
                        found: named.account.to_owned(),
                    });
                }
                named.is_some()
            }
        };
        if named {
            Ok(())
        } else {
            Err(Problem::WrongOrigin {
                checkpoint: position,
                expected: expected.pattern(),
                found: checkpoint.origin.clone(),
            })
        }
    }

    /// The checkpoints that speak for the segment, with their list positions, in list order
    /// (so in non-decreasing size). Known before any leaf: a segment whose events are gone still
    /// has them.
    pub fn accepted(&self) -> impl Iterator<Item = (usize, &Checkpoint)> {
        self.accepted.iter().map(|entry| (entry.position, &entry.checkpoint))
    }

    /// The account the accepted checkpoints name, if their origin has the Acta form.
    pub fn account(&self) -> Option<&str> {
        self.accepted.first().and_then(|first| Origin::parse(&first.checkpoint.origin)).map(|origin| origin.account)
    }

    /// The link the accepted checkpoints are listed with: what leaf 0 must be made from.
    pub fn link(&self) -> Option<Hash> {
        self.link
    }

    /// Adds the next leaf hash of the segment.
    pub fn push(&mut self, leaf: Hash) {
        self.tree.push(leaf);
        self.compare_due();
    }

    fn compare_due(&mut self) {
        self.own.compare(&self.tree);
        self.saved.compare(&self.tree);
    }

    /// Ends the segment and reports.
    pub fn finish(mut self) -> SegmentReport {
        let events = self.tree.size();
        self.problems.extend(self.own.beyond_end(events));

        let valid: Vec<&Compared> = self.own.compared.iter().filter(|c| c.matched).collect();
        let events_verified = valid.iter().map(|c| c.size).max().unwrap_or(0);
        let last_signed = self.own.compared.iter().map(|c| c.size).max().unwrap_or(0);

        for failed in self.own.compared.iter().filter(|c| !c.matched) {
            self.problems.push(judge(failed, &valid));
        }
        for entry in self.accepted.iter().filter(|entry| entry.is_final && entry.checkpoint.size != events) {
            self.problems.push(Problem::FinalNotAtEnd {
                checkpoint: entry.position,
                size: entry.checkpoint.size,
                events,
            });
        }
        self.problems.sort_by_key(Problem::checkpoint);

        let mut saved = self.saved_problems;
        let saved_failures = self
            .saved
            .beyond_end(events)
            .chain(self.saved.compared.iter().filter(|c| !c.matched).map(|c| judge(c, &valid)));
        for problem in saved_failures {
            if let Some(slot) = saved.get_mut(problem.checkpoint()) {
                *slot = Some(problem);
            }
        }

        SegmentReport {
            origin: self.origin,
            events,
            events_verified,
            events_unsigned: events - last_signed,
            checkpoints: self.checkpoints,
            checkpoints_valid: valid.len(),
            latest_valid: valid.last().map(|c| c.checkpoint),
            problems: self.problems,
            root: self.tree.root(),
            saved,
        }
    }
}

/// What a checkpoint that does not match the events says: a valid checkpoint at least as large
/// vouches for every event this one covers, so then this one, not the events, is wrong.
fn judge(failed: &Compared, valid: &[&Compared]) -> Problem {
    match valid.iter().find(|v| v.size >= failed.size) {
        Some(vouching) => Problem::Inconsistent {
            checkpoint: failed.checkpoint,
            size: failed.size,
            valid: vouching.checkpoint,
            valid_size: vouching.size,
        },
        None => Problem::Mismatch {
            checkpoint: failed.checkpoint,
            size: failed.size,
            verified_before: valid.iter().map(|v| v.size).filter(|size| *size < failed.size).max().unwrap_or(0),
        },
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
