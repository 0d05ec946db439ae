//! Naming the leaf that differs from the signed history, where the checkpoints alone can only
//! give a range between the last one that matches and the first one that does not.
//!
//! A copy of the signed leaves (Acta keeps one beside each segment) is not trusted: it is used
//! only once its leaves give the root of a signed checkpoint, and then it is the signed history
//! leaf by leaf.

use crate::checkpoint::Checkpoint;
use crate::hash::Hash;
use crate::tree::root;

/// How the leaves at hand differ from the signed ones, at the first difference (leaf indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// Leaf 0 differs: the segment's link to the one before it ([`crate::Listed::link`]). The
    /// rest is not compared: it belongs to another chain.
    Link,
    /// The leaf at this index is another one, and all after it are the same.
    Changed(usize),
    /// `count` signed leaves are missing at `at`; the ones after them follow.
    Removed {
        /// Where the first missing leaf stood.
        at: usize,
        /// How many are missing.
        count: usize,
    },
    /// `count` leaves at `at` are not in the signed history; the signed ones follow.
    Added {
        /// The first added leaf.
        at: usize,
        /// How many were added.
        count: usize,
    },
    /// The leaves at `at` and `with` exchanged places.
    Swapped {
        /// The first of the two.
        at: usize,
        /// The second.
        with: usize,
    },
    /// The leaves end at this index, before the signed ones do.
    Truncated(usize),
    /// From this index on the leaves differ in a way none of the above explains.
    Diverged(usize),
}

/// Where `actual` first departs from the history `checkpoint` signed, given `signed`, a claimed
/// copy of its leaves. `None` when the copy is not that history (another count of leaves, or
/// another root), or when `actual` extends it.
pub fn locate(actual: &[Hash], signed: &[Hash], checkpoint: &Checkpoint) -> Option<Difference> {
    if signed.len() as u64 != checkpoint.size || root(signed) != checkpoint.root {
        return None;
    }
    diff(actual, signed)
}

/// Compares the leaves at hand with the signed ones; `None` when the signed ones are a prefix of
/// them. Leaf 0 is taken to be a segment's link, so a difference there is [`Difference::Link`].
pub fn diff(actual: &[Hash], signed: &[Hash]) -> Option<Difference> {
    let at = (0..signed.len()).find(|&i| actual.get(i) != Some(&signed[i]))?;
    if at == 0 {
        return Some(Difference::Link);
    }
    if at >= actual.len() {
        return Some(Difference::Truncated(at));
    }
    // Both sides agree on everything they share from these positions on.
    let aligned = |a: usize, s: usize| {
        let len = (actual.len() - a).min(signed.len() - s);
        actual[a..a + len] == signed[s..s + len]
    };
    if let Some(with) = (at + 1..signed.len()).find(|&j| signed[j] == actual[at]) {
        let swapped = actual.get(with) == Some(&signed[at])
            && actual[at + 1..with] == signed[at + 1..with]
            && aligned(with + 1, with + 1);
        if swapped {
            return Some(Difference::Swapped { at, with });
        }
        if aligned(at, with) {
            return Some(Difference::Removed { at, count: with - at });
        }
    }
    if let Some(next) = (at + 1..actual.len()).find(|&k| actual[k] == signed[at])
        && aligned(next, at)
    {
        return Some(Difference::Added { at, count: next - at });
    }
    if aligned(at + 1, at + 1) {
        return Some(Difference::Changed(at));
    }
    Some(Difference::Diverged(at))
}
