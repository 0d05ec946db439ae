//! RFC 6962 hashing: the two domain-separated hash functions every tree, proof and checkpoint is
//! built from.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The hash of one log record as a tree leaf: `SHA-256(0x00 || data)` (RFC 6962, section 2.1).
///
/// The `0x00` prefix keeps leaves and interior nodes in separate domains, so nobody can present
/// an interior node as if it were a leaf (second-preimage attack on the tree).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an interior node from its two children: `SHA-256(0x01 || left || right)`
/// (RFC 6962, section 2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: `SHA-256("")` (RFC 6962, section 2.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}
