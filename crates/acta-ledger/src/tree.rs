//! RFC 6962 Merkle trees: the tree hash of a list of leaves, an incremental [`Frontier`], and
//! inclusion and consistency proofs with their verification.
//!
//! Proofs are *generated* by the recursive definitions of RFC 6962 section 2.1 (`MTH`, `PATH`,
//! `SUBPROOF`) over a slice of leaf hashes, because those read like the standard. They are
//! *verified* with the iterative algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2, which need
//! no leaves at all. Tests hold the two against each other for every small tree.

use crate::hash::{Hash, empty_root, node_hash};

/// Why a proof could not be produced or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index asked for (0-based).
        index: u64,
        /// The number of leaves in the tree.
        size: u64,
    },
    /// A consistency proof was asked for from a tree larger than the newer one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeTooLarge {
        /// The older tree's size.
        old_size: u64,
        /// The newer tree's size.
        new_size: u64,
    },
    /// The number of hashes does not fit the tree sizes: the proof is for another tree, or it
    /// was truncated or padded.
    #[error("expected {expected} hashes for these tree sizes, got {got}")]
    WrongLength {
        /// How many hashes the tree shape needs.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// The inclusion proof leads to a different root: the leaf, index, size, proof or root was
    /// altered.
    #[error("the inclusion proof does not lead to the expected root")]
    RootMismatch,
    /// The consistency proof does not reproduce the old root.
    #[error("the consistency proof does not reproduce the old root")]
    OldRootMismatch,
    /// The consistency proof does not reproduce the new root: the newer tree does not extend
    /// the older one.
    #[error("the consistency proof does not reproduce the new root")]
    NewRootMismatch,
}

/// The RFC 6962 split point of a tree of `n >= 2` leaves: the largest power of two below `n`.
/// The left subtree is always perfect (a power of two), the right one holds the rest.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let bits_below_n = usize::BITS - 1 - (n - 1).leading_zeros();
    1 << bits_below_n
}

/// The RFC 6962 Merkle tree hash (`MTH`) of a list of leaf hashes.
///
/// Costs one hash per interior node (`n - 1`), with recursion depth `log2(n)`.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [single] => *single,
        _ => {
            let k = split(leaves.len());
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The tree hash of a log that only grows, keeping `O(log n)` hashes instead of every leaf.
///
/// A tree of `size` leaves is a row of perfect subtrees, one per set bit of `size`, from the
/// largest (leftmost) to the smallest; RFC 6962 joins them right to left. `push` merges equal
/// subtrees like a binary counter carries, so the frontier never holds more than 64 hashes.
/// [`Frontier::root`] equals [`root`] of all leaves pushed so far, for every size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Roots of the perfect subtrees, largest first. Invariant: `subtrees.len() == size.count_ones()`.
    subtrees: Vec<Hash>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from what [`Frontier::size`] and [`Frontier::subtrees`] returned, so a
    /// writer can resume without replaying every leaf. Fails if the number of hashes does not
    /// fit the size.
    pub fn from_parts(size: u64, subtrees: Vec<Hash>) -> Result<Self, ProofError> {
        let expected = size.count_ones() as usize;
        if subtrees.len() != expected {
            return Err(ProofError::WrongLength { expected, got: subtrees.len() });
        }
        Ok(Self { size, subtrees })
    }

    /// Appends one leaf hash (already hashed with [`crate::leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        // Each trailing one bit of the old size is a subtree of the same height as the carry;
        // merge them smallest first, exactly as adding 1 to a binary counter.
        let merges = self.size.trailing_ones() as usize;
        let keep = self.subtrees.len().saturating_sub(merges);
        let mut carry = leaf;
        for left in self.subtrees.drain(keep..).rev() {
            carry = node_hash(&left, &carry);
        }
        self.subtrees.push(carry);
        self.size += 1;
        debug_assert_eq!(self.subtrees.len(), self.size.count_ones() as usize);
    }

    /// The number of leaves pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 tree hash of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut from_right = self.subtrees.iter().rev();
        match from_right.next() {
            None => empty_root(),
            Some(smallest) => from_right.fold(*smallest, |acc, left| node_hash(left, &acc)),
        }
    }

    /// The perfect subtree roots, largest first: what [`Frontier::from_parts`] takes back.
    pub fn subtrees(&self) -> &[Hash] {
        &self.subtrees
    }
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of `size` leaves,
/// following the shape of `PATH` without hashing anything.
fn inclusion_proof_len(mut index: u64, mut size: u64) -> usize {
    let mut len = 0;
    while size > 1 {
        let k = split_u64(size);
        if index < k {
            size = k;
        } else {
            index -= k;
            size -= k;
        }
        len += 1;
    }
    len
}

/// The number of hashes in the consistency proof from `old_size` to `new_size`, following the
/// shape of `SUBPROOF` without hashing anything.
fn consistency_proof_len(mut old_size: u64, mut new_size: u64) -> usize {
    if old_size == 0 || old_size >= new_size {
        return 0;
    }
    let mut old_is_whole_subtree = true;
    let mut len = 0;
    while old_size != new_size {
        let k = split_u64(new_size);
        if old_size <= k {
            new_size = k;
        } else {
            old_size -= k;
            new_size -= k;
            old_is_whole_subtree = false;
        }
        len += 1;
    }
    if !old_is_whole_subtree {
        len += 1;
    }
    len
}

/// [`split`] for `u64` sizes.
fn split_u64(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// Converts a tree size or index to a slice position; only fails on targets where `usize` is
/// narrower than the value, and then the leaves cannot be in memory anyway.
fn to_usize(value: u64) -> Option<usize> {
    usize::try_from(value).ok()
}

/// The inclusion proof (RFC 6962 `PATH`, "audit path") of leaf `index` in the tree of all
/// `leaves`: the sibling hashes from the leaf up to the root.
///
/// For a proof in an older, smaller tree pass the prefix `&leaves[..size]`.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    let size = leaves.len() as u64;
    let position = match to_usize(index) {
        Some(position) if position < leaves.len() => position,
        _ => return Err(ProofError::IndexOutOfRange { index, size }),
    };
    let mut proof = Vec::with_capacity(inclusion_proof_len(index, size));
    path(position, leaves, &mut proof);
    Ok(proof)
}

/// RFC 6962 `PATH(m, D[n])`, appending bottom-up so the first hash is the leaf's sibling.
fn path(m: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    if m < k {
        path(m, &leaves[..k], proof);
        proof.push(root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162, section 2.1.3.2).
///
/// The proof binds the leaf and its position to the root; the size is bound through the root,
/// which a signed checkpoint vouches for together with its size.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength { expected, got: proof.len() });
    }
    // `node` walks the leaf's position up the tree and `last` the rightmost position; where
    // they meet, the leaf is the right edge of an incomplete level and has no right sibling
    // there, so those levels are skipped.
    let mut node = index;
    let mut last = size - 1;
    let mut hash = *leaf;
    for sibling in proof {
        if last == 0 {
            return Err(ProofError::WrongLength { expected, got: proof.len() });
        }
        if node & 1 == 1 || node == last {
            hash = node_hash(sibling, &hash);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(ProofError::WrongLength { expected, got: proof.len() });
    }
    if hash != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The consistency proof (RFC 6962 `PROOF(m, D[n])`) that the tree of the first `old_size`
/// leaves is a prefix of the tree of all `leaves`.
///
/// Empty when `old_size` is 0 or equals the number of leaves: those are consistent trivially.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, ProofError> {
    let new_size = leaves.len() as u64;
    if old_size > new_size {
        return Err(ProofError::OldSizeTooLarge { old_size, new_size });
    }
    let mut proof = Vec::with_capacity(consistency_proof_len(old_size, new_size));
    if old_size == 0 || old_size == new_size {
        return Ok(proof);
    }
    let m = to_usize(old_size).ok_or(ProofError::OldSizeTooLarge { old_size, new_size })?;
    subproof(m, leaves, true, &mut proof);
    Ok(proof)
}

/// RFC 6962 `SUBPROOF(m, D[n], b)`; `old_is_whole_subtree` is `b`: true while the old tree is
/// exactly the subtree at hand, whose root the verifier already has.
fn subproof(m: usize, leaves: &[Hash], old_is_whole_subtree: bool, proof: &mut Vec<Hash>) {
    if m == leaves.len() {
        if !old_is_whole_subtree {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(leaves.len());
    if m <= k {
        subproof(m, &leaves[..k], old_is_whole_subtree, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Checks that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root`: same first leaves, in the same order
/// (RFC 9162, section 2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. An old size of 0 needs an empty proof and
/// the empty root, and says nothing about the new root: every tree extends the empty one.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeTooLarge { old_size, new_size });
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength { expected, got: proof.len() });
    }
    if old_size == 0 {
        return if *old_root == empty_root() { Ok(()) } else { Err(ProofError::OldRootMismatch) };
    }
    if old_size == new_size {
        return if old_root == new_root { Ok(()) } else { Err(ProofError::NewRootMismatch) };
    }

    // When the old tree is a perfect subtree of the new one, its root is the proof's implicit
    // first node; RFC 9162 prepends it, we chain it in front instead of copying the proof.
    let old_is_power_of_two = old_size & (old_size - 1) == 0;
    let implicit_first = old_is_power_of_two.then_some(old_root);
    let mut nodes = implicit_first.into_iter().chain(proof);

    let mut node = old_size - 1;
    let mut last = new_size - 1;
    // Skip the levels where the old tree's last leaf is a right child: those nodes are inside
    // the first proof hash already.
    while node & 1 == 1 {
        node >>= 1;
        last >>= 1;
    }
    let Some(first) = nodes.next() else {
        return Err(ProofError::WrongLength { expected, got: proof.len() });
    };
    let mut old_hash = *first;
    let mut new_hash = *first;
    for sibling in nodes {
        if last == 0 {
            return Err(ProofError::WrongLength { expected, got: proof.len() });
        }
        if node & 1 == 1 || node == last {
            old_hash = node_hash(sibling, &old_hash);
            new_hash = node_hash(sibling, &new_hash);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            new_hash = node_hash(&new_hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(ProofError::WrongLength { expected, got: proof.len() });
    }
    if old_hash != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if new_hash != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}
