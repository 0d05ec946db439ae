//! C2SP signed notes and the [`KeyRing`] that opens them.
//!
//! ```text
//! <text, ending in a newline>
//!
//! — <key name> <base64(4-byte big-endian key id || 64-byte Ed25519 signature)>
//! ```
//!
//! The signature covers the text including its final newline, not the blank line. Following the
//! spec, signatures by keys the ring does not know are ignored (that is what lets a note carry
//! a new key's signature alongside an old one), a failing signature by a known key rejects the
//! whole note, and a note with no verified signature is rejected.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::keys::{KeyError, VerifierKey, check_key_name};

/// The em dash (U+2014) that starts every signature line; a space follows it.
pub(crate) const EM_DASH: &str = "\u{2014}";

/// At most this many signature lines are read. The spec asks verifiers to bound the work a note
/// can cause and to accept at least 16; Go's reference implementation stops at 100 too.
const MAX_SIGNATURES: usize = 100;

/// Why a signed note was not accepted. Malformed, unknown key and bad signature are kept apart
/// because they mean different things to an operator: a damaged file, a missing key, tampering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The text is not a well-formed signed note.
    #[error("malformed signed note: {0}")]
    Malformed(String),
    /// No signature is by a key in the ring: the key is missing from the ring (a rotated key
    /// not added?) or the note was signed by someone else.
    #[error("the note is not signed by any known key; it carries signatures by {}", SignerList(.signers))]
    UnknownKey {
        /// The (key name, key id) of every signature on the note.
        signers: Vec<(String, u32)>,
    },
    /// A signature by a known key does not match the text: the note was altered after signing,
    /// or the signature is corrupt.
    #[error(
        "the signature by key {name} ({key_id:08x}) does not match the note: \
         the note was altered after signing, or the signature is damaged"
    )]
    BadSignature {
        /// The key name on the failing signature line.
        name: String,
        /// Its key id.
        key_id: u32,
    },
    /// The note is properly signed but its text is not a checkpoint.
    #[error("the signed note is not a valid checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}

/// Formats `name (id), name (id)` for [`NoteError::UnknownKey`].
struct SignerList<'a>(&'a [(String, u32)]);

impl fmt::Display for SignerList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, (name, key_id)) in self.0.iter().enumerate() {
            if position > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name} ({key_id:08x})")?;
        }
        Ok(())
    }
}

/// Checks the C2SP rules for a note text or a whole note: it ends with a newline and holds no
/// control characters other than newline.
pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text does not end with a newline".to_owned()));
    }
    if text.contains('\r') {
        return Err(NoteError::Malformed(
            "it contains a carriage return; was the file converted to CRLF line endings?".to_owned(),
        ));
    }
    if let Some(bad) = text.chars().find(|c| *c < ' ' && *c != '\n') {
        return Err(NoteError::Malformed(format!("it contains the control character {bad:?}")));
    }
    Ok(())
}

/// One parsed signature line.
struct SignatureLine<'a> {
    name: &'a str,
    key_id: u32,
    signature: Vec<u8>,
}

/// Splits a note into its text and signature lines without checking any signature.
fn parse(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    check_text(note)?;
    // The text may contain blank lines itself; the last blank line is the separator.
    let Some(separator) = note.rfind("\n\n") else {
        return Err(NoteError::Malformed("no blank line separates the text from the signatures".to_owned()));
    };
    let text = &note[..=separator];
    let block = &note[separator + 2..];
    let Some(block) = block.strip_suffix('\n') else {
        return Err(NoteError::Malformed("there are no signature lines after the blank line".to_owned()));
    };

    let mut signatures = Vec::new();
    for (position, line) in block.split('\n').enumerate() {
        if position == MAX_SIGNATURES {
            return Err(NoteError::Malformed(format!("more than {MAX_SIGNATURES} signature lines")));
        }
        signatures.push(parse_signature_line(line, position + 1)?);
    }
    Ok((text, signatures))
}

/// Parses `— <name> <base64(key id || signature)>`; `number` counts signature lines from 1,
/// for the error message.
fn parse_signature_line(line: &str, number: usize) -> Result<SignatureLine<'_>, NoteError> {
    let malformed = |what: String| NoteError::Malformed(format!("signature line {number}: {what}"));
    let Some(rest) = line.strip_prefix(EM_DASH).and_then(|rest| rest.strip_prefix(' ')) else {
        return Err(malformed("does not start with an em dash (U+2014) and a space".to_owned()));
    };
    let Some((name, encoded)) = rest.split_once(' ') else {
        return Err(malformed("expected a key name, a space and a signature".to_owned()));
    };
    check_key_name(name).map_err(|e| malformed(e.to_string()))?;
    let blob = BASE64.decode(encoded).map_err(|e| malformed(format!("the signature is not base64: {e}")))?;
    // Four bytes of key id, then at least one byte of signature.
    let Some((id, signature)) = blob.split_first_chunk::<4>().filter(|(_, sig)| !sig.is_empty()) else {
        return Err(malformed(format!(
            "the signature is {} bytes, too short to hold a key id and a signature",
            blob.len()
        )));
    };
    Ok(SignatureLine { name, key_id: u32::from_be_bytes(*id), signature: signature.to_vec() })
}

/// The verifier keys whose signatures are trusted: the current key and every earlier one, so
/// checkpoints signed before a rotation still verify.
///
/// To stop trusting a key (it leaked), remove it: its old checkpoints then fail as signed by an
/// unknown key, which is the honest answer. Signatures carry no time, so the ring cannot
/// express "valid until".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<VerifierKey>,
}

impl KeyRing {
    /// An empty ring, which trusts nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key. Adding the same key twice is harmless; a *different* key with the same name
    /// and key id is refused, since a signature line could not say which of the two signed.
    pub fn add(&mut self, key: VerifierKey) -> Result<(), KeyError> {
        match self.find(key.name(), key.key_id()) {
            Some(existing) if *existing == key => Ok(()),
            Some(_) => Err(KeyError::DuplicateKey { name: key.name().to_owned(), key_id: key.key_id() }),
            None => {
                self.keys.push(key);
                Ok(())
            }
        }
    }

    /// The keys, in the order they were added.
    pub fn keys(&self) -> &[VerifierKey] {
        &self.keys
    }

    /// Parses a key history file: one [`VerifierKey`] text per line; blank lines and lines
    /// starting with `#` (notes such as "retired 2025-06-01") are skipped.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let mut ring = Self::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            ring.add(VerifierKey::from_text(line)?)?;
        }
        Ok(ring)
    }

    /// One key text per line, in order; [`KeyRing::from_text`] reads it back.
    pub fn to_text(&self) -> String {
        self.keys.iter().map(|key| format!("{}\n", key.to_text())).collect()
    }

    fn find(&self, name: &str, key_id: u32) -> Option<&VerifierKey> {
        self.keys.iter().find(|key| key.name() == name && key.key_id() == key_id)
    }

    /// Verifies a signed note and returns its text (with the final newline), which is only to
    /// be believed after this returns `Ok`.
    pub fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (text, signatures) = parse(note)?;
        let mut verified = false;
        for line in &signatures {
            // Name *and* id must match: a key sharing only one of them is someone else's.
            let Some(key) = self.find(line.name, line.key_id) else {
                continue;
            };
            if !key.verify(text.as_bytes(), &line.signature) {
                return Err(NoteError::BadSignature { name: line.name.to_owned(), key_id: line.key_id });
            }
            verified = true;
        }
        if !verified {
            return Err(NoteError::UnknownKey {
                signers: signatures.iter().map(|line| (line.name.to_owned(), line.key_id)).collect(),
            });
        }
        Ok(text)
    }

    /// Verifies a signed checkpoint note and returns the checkpoint.
    pub fn open(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let text = self.verify_note(note)?;
        Ok(Checkpoint::parse(text)?)
    }
}
