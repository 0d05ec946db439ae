//! Checkpoints shared by the nodes of a cluster: one node signs, every node writes the same lines.
//!
//! The signer (the node holding the cluster's signer lease) publishes each checkpoint before writing it to its
//! own files, so nothing it wrote is missing from what another node may adopt. Every node, the signer included,
//! first adopts what was published beyond its files: it hashes its own copy of the segment up to the published
//! size and writes the published line only when its root is the one signed, so a node whose copy differs from
//! the signer's stops that instance's checkpoints rather than vouch for either. A node that becomes the signer
//! then goes on from the published tree, with its origin. Implemented over PostgreSQL in `cluster/signing.rs`.

use super::IntegrityError;
use super::files::NoteEntry;
use crate::log::Day;

/// A segment's latest checkpoint as the cluster published it.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    /// The tree size.
    pub(crate) size: u64,
    /// The line, as parsed.
    pub(crate) entry: NoteEntry,
    /// The line exactly as published, with its newline: what every node writes.
    pub(crate) line: String,
}

/// Where a node's checkpointer finds the cluster's checkpoints and publishes its own.
pub(crate) trait SharedCheckpoints: Send + Sync {
    /// Whether this node signs now.
    fn signs(&self) -> bool;

    /// Makes `entry` (of tree size `size`, note origin `origin`) the segment's published checkpoint, before the
    /// signer writes it. An error when the cluster cannot be reached or the segment's published history does not
    /// go on with it (another signer's): the signer then writes nothing and adopts what is published.
    fn publish(
        &self,
        instance: &str,
        day: Day,
        size: u64,
        origin: &str,
        entry: &NoteEntry,
    ) -> Result<(), IntegrityError>;

    /// The segments whose published checkpoint changed since the last call (every one at the first).
    fn changed(&self) -> Result<Vec<(String, Day, Published)>, IntegrityError>;
}
