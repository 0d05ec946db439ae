//! Ed25519 keys in the text formats of Go's `golang.org/x/mod/sumdb/note`, which C2SP
//! signed-note tools share:
//!
//! ```text
//! PRIVATE+KEY+<name>+<key id, 8 hex digits>+<base64(0x01 || 32-byte seed)>   signing key
//! <name>+<key id, 8 hex digits>+<base64(0x01 || 32-byte public key)>          verifier key
//! ```
//!
//! The key id is `SHA-256(name || "\n" || 0x01 || public key)[..4]` (C2SP signed-note). Both
//! parsers recompute it and refuse a text whose stated id differs, so a typo or a swapped key
//! is caught when the key is loaded, not as a mysterious failure later.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;
use crate::note::{self, NoteError};

/// The C2SP signed-note signature type byte of Ed25519.
pub(crate) const ED25519_TYPE: u8 = 0x01;

/// Why a key could not be created, parsed, added, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key name breaks the signed-note rules.
    #[error("invalid key name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The key text does not have the expected shape.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// The key id written in the text is not the one the name and public key hash to.
    #[error(
        "key {name}: the text says key id {stated:08x} but the key's id is {computed:08x}; \
         the text was altered or mixes two keys"
    )]
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The id written in the text.
        stated: u32,
        /// The id computed from the name and public key.
        computed: u32,
    },
    /// A different key with the same name and key id is already in the ring; signatures could
    /// not tell them apart.
    #[error("the key ring already holds a different key named {name} with key id {key_id:08x}")]
    DuplicateKey {
        /// The key name.
        name: String,
        /// The shared key id.
        key_id: u32,
    },
    /// Reading or writing a key file failed.
    #[error("key file {}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Checks a key name against C2SP signed-note: non-empty, no Unicode spaces, no `+` (the field
/// separator of the key texts). Control characters are refused too: the name is written into
/// note text, which may not contain them.
pub(crate) fn check_key_name(name: &str) -> Result<(), KeyError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.contains('+') {
        "it contains '+'"
    } else if name.chars().any(char::is_whitespace) {
        "it contains whitespace"
    } else if name.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(KeyError::InvalidName { name: name.to_owned(), reason })
}

/// The C2SP signed-note key id of an Ed25519 key.
fn key_id(name: &str, public: &ed25519_dalek::VerifyingKey) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update([ED25519_TYPE])
        .chain_update(public.as_bytes())
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Splits `<name>+<hex id>+<base64 key>` and decodes the id and the `0x01 || 32 bytes` key.
/// The base64 part may itself contain `+`, so only the first two are separators.
fn split_key_text(text: &str) -> Result<(&str, u32, [u8; 32]), KeyError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed("expected <name>+<key id>+<base64 key>".to_owned()));
    };
    check_key_name(name)?;
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::Malformed(format!("key {name}: the key id {id_hex:?} is not 8 hex digits")));
    }
    let stated = u32::from_str_radix(id_hex, 16)
        .map_err(|e| KeyError::Malformed(format!("key {name}: key id {id_hex:?}: {e}")))?;
    let bytes =
        BASE64.decode(key_b64).map_err(|e| KeyError::Malformed(format!("key {name}: the key is not base64: {e}")))?;
    match bytes.split_first() {
        Some((&ED25519_TYPE, key)) => {
            let key = <[u8; 32]>::try_from(key).map_err(|_| {
                KeyError::Malformed(format!("key {name}: an Ed25519 key is 32 bytes, this one is {}", key.len()))
            })?;
            Ok((name, stated, key))
        }
        Some((other, _)) => Err(KeyError::Malformed(format!(
            "key {name}: signature type {other:#04x} is not supported, only Ed25519 (0x01)"
        ))),
        None => Err(KeyError::Malformed(format!("key {name}: the key is empty"))),
    }
}

/// A named Ed25519 private key that signs checkpoints. Keep it outside the data directory: whoever
/// holds it can sign a rewritten history.
///
/// `Debug` shows the name and key id, never the secret.
pub struct SigningKey {
    name: String,
    key_id: u32,
    secret: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new random key from the operating system's generator.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        check_key_name(name)?;
        let secret = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        Ok(Self::from_parts(name, secret))
    }

    fn from_parts(name: &str, secret: ed25519_dalek::SigningKey) -> Self {
        Self { name: name.to_owned(), key_id: key_id(name, &secret.verifying_key()), secret }
    }

    /// The key name that appears on signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The public half, to publish and to keep in every [`crate::KeyRing`] that must verify
    /// this key's checkpoints, also after the key is rotated.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey { name: self.name.clone(), key_id: self.key_id, public: self.secret.verifying_key() }
    }

    /// `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`. The text *is* the secret.
    pub fn to_text(&self) -> String {
        let mut encoded = Vec::with_capacity(33);
        encoded.push(ED25519_TYPE);
        encoded.extend_from_slice(self.secret.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(&encoded))
    }

    /// Parses [`SigningKey::to_text`], checking the key id against the key.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let Some(rest) = text.strip_prefix("PRIVATE+KEY+") else {
            return Err(KeyError::Malformed("a signing key starts with PRIVATE+KEY+".to_owned()));
        };
        let (name, stated, seed) = split_key_text(rest)?;
        let key = Self::from_parts(name, ed25519_dalek::SigningKey::from_bytes(&seed));
        if key.key_id != stated {
            return Err(KeyError::KeyIdMismatch { name: name.to_owned(), stated, computed: key.key_id });
        }
        Ok(key)
    }

    /// Signs a checkpoint, returning the whole signed note: body, blank line, signature line.
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<String, NoteError> {
        self.sign_note(&checkpoint.body()?)
    }

    /// Signs any note text (C2SP signed-note): `text` must end with a newline and hold no control
    /// characters other than newlines. Ed25519 is deterministic: the same key and text always
    /// give the same note.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        note::check_text(text)?;
        let signature = self.secret.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(4 + 64);
        blob.extend_from_slice(&self.key_id.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!("{text}\n{} {} {}\n", note::EM_DASH, self.name, BASE64.encode(&blob)))
    }

    /// Writes [`SigningKey::to_text`] to a new file readable only by its owner (mode 0600 on
    /// unix), synced to disk with its directory. Never overwrites: losing the current key to a
    /// slip of the command line is worse than an error.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let io_error = |source| KeyError::Io { path: path.to_owned(), source };
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            // Set at creation, so the secret is never readable by others, not even briefly.
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io_error)?;
        file.write_all(format!("{}\n", self.to_text()).as_bytes()).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        #[cfg(unix)]
        {
            // A new file survives a crash only once its directory entry is synced too.
            let parent = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            fs::File::open(parent).and_then(|dir| dir.sync_all()).map_err(io_error)?;
        }
        Ok(())
    }

    /// Reads a key file written by [`SigningKey::save`] (surrounding whitespace is ignored).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_owned(), source })?;
        Self::from_text(text.trim())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// The public half of a [`SigningKey`]: checks signatures, cannot make them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    public: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// The key name that appears on signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// `<name>+<hex key id>+<base64(0x01 || public key)>`.
    pub fn to_text(&self) -> String {
        let mut encoded = Vec::with_capacity(33);
        encoded.push(ED25519_TYPE);
        encoded.extend_from_slice(self.public.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(&encoded))
    }

    /// Parses [`VerifierKey::to_text`], checking the key id against the key. Refuses points
    /// that are not on the curve and weak (small-order) keys, which would accept forged
    /// signatures.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let (name, stated, bytes) = split_key_text(text)?;
        let public = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::Malformed(format!("key {name}: not a valid Ed25519 public key")))?;
        if public.is_weak() {
            return Err(KeyError::Malformed(format!("key {name}: a weak (small-order) Ed25519 public key")));
        }
        let computed = key_id(name, &public);
        if computed != stated {
            return Err(KeyError::KeyIdMismatch { name: name.to_owned(), stated, computed });
        }
        Ok(Self { name: name.to_owned(), key_id: computed, public })
    }

    /// Checks an Ed25519 signature over `message`. Strict verification (RFC 8032 with
    /// canonical encodings only), so one message has no second valid signature encoding.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.public.verify_strict(message, &signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyRing;

    #[test]
    fn key_ring_refuses_a_different_key_with_the_same_name_and_id() {
        let first = SigningKey::generate("node-1.acta").expect("valid name");
        let second = SigningKey::generate("node-1.acta").expect("valid name");
        // A real collision of name and 32-bit id takes ~2^32 tries; forge the id instead.
        let colliding = VerifierKey { key_id: first.key_id(), ..second.verifier() };
        let mut ring = KeyRing::new();
        ring.add(first.verifier()).expect("empty ring");
        assert!(matches!(
            ring.add(colliding),
            Err(KeyError::DuplicateKey { key_id, .. }) if key_id == first.key_id()
        ));
        assert_eq!(ring.keys().len(), 1);
    }
}
