//! Acta's integrity layer: proves that an account's audit log was not changed after the fact.
//!
//! # Roles
//!
//! - **Hashing** ([`leaf_hash`], [`node_hash`], [`empty_root`]): RFC 6962 SHA-256 with the
//!   `0x00` leaf and `0x01` node prefixes. A leaf is one log record exactly as stored.
//! - **Trees** ([`root`], [`Frontier`]): the RFC 6962 Merkle tree hash. The writer keeps a
//!   [`Frontier`], `O(log n)` hashes, and gets the root of everything appended so far.
//! - **Proofs** ([`inclusion_proof`], [`verify_inclusion`], [`consistency_proof`],
//!   [`verify_consistency`]): "this event is in that signed tree" and "that signed tree extends
//!   this older one", checkable with hashes alone.
//! - **Checkpoints** ([`Checkpoint`], [`SigningKey`], [`VerifierKey`], [`KeyRing`]): a tree head
//!   (origin, size, root) as a C2SP tlog-checkpoint, signed with Ed25519 as a C2SP signed note.
//!   The origin is `<acta node>/<account>/<instance>/<segment>`. The ring keeps every key that
//!   ever signed, so checkpoints made before a key rotation still verify.
//! - **Verification** ([`SegmentVerifier`], [`verify_leaves`]): a segment's leaves against its
//!   checkpoints (and against copies saved elsewhere), giving a [`SegmentReport`] that says what
//!   holds and exactly what does not. Which checkpoints speak for a segment is [`Expected`]:
//!   an exact origin, or an instance's segment in the account of its first checkpoint
//!   ([`Origin`] splits an origin into its parts).
//! - **Locating** ([`locate`], [`diff`]): once a copy of the signed leaves gives a checkpoint's
//!   root, comparing it with the leaves at hand names the leaf that was changed, removed,
//!   added or reordered ([`Difference`]).
//!
//! # Invariants
//!
//! - No async, no threads, no storage: callers hand in hashes and note texts and get values
//!   back. The only I/O is [`SigningKey::save`] and [`SigningKey::load`] for key files.
//! - Byte formats follow the public specifications (RFC 6962 / 9162, C2SP tlog-checkpoint and
//!   signed-note, Go's `sumdb/note` key texts), so anyone can check Acta's logs with other tools.
//!   Tests pin them to published vectors.
//! - Parsers are strict: a value has one accepted spelling, and anything else is an error that
//!   says what is wrong. Nothing panics on input.
//!
//! # What is trusted
//!
//! - SHA-256 and Ed25519 (`sha2`, `ed25519-dalek` with strict verification).
//! - The [`KeyRing`]: a checkpoint is believed exactly when a key in the ring signed it. Getting
//!   the right public keys into the ring (out of band, not from the data directory being
//!   checked) is the caller's job.
//! - Nothing else: not the leaves, not the checkpoints' order, not their origins. Those are what
//!   gets checked.

#![warn(missing_docs)]

mod checkpoint;
mod hash;
mod keys;
mod locate;
mod note;
mod tree;
mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, Origin};
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use keys::{KeyError, SigningKey, VerifierKey};
pub use locate::{Difference, diff, locate};
pub use note::{KeyRing, NoteError};
pub use tree::{Frontier, ProofError, consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion};
pub use verify::{Expected, Listed, Problem, SegmentReport, SegmentVerifier, verify_leaves};
