//! Checkpoints: the C2SP tlog-checkpoint note text naming one tree head (origin, size, root).
//!
//! ```text
//! node-1.example/acct-42/prod/2025-01-31-s0
//! 1204
//! Vi3Wj1K6eHVmRvTtB6ybNDnJ0H7bV4T+sOSqUNxOZZ4=
//! ```
//!
//! Acta writes no extension lines and refuses them when parsing: they would be signed text that
//! nothing checks.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::Hash;

/// A checkpoint whose text is malformed, or an origin that cannot be written into one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid checkpoint: {reason}")]
pub struct CheckpointError {
    reason: String,
}

impl CheckpointError {
    fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into() }
    }
}

/// One signed statement about a log segment: "the tree of the first `size` records of the log
/// named `origin` has root hash `root`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, `<acta node>/<account>/<instance>/<segment>` for Acta (see
    /// [`Checkpoint::origin_for`]). Binds a checkpoint to one segment, so a valid checkpoint
    /// of one segment cannot be passed off as one of another.
    pub origin: String,
    /// The number of leaves the tree covers.
    pub size: u64,
    /// The RFC 6962 root of those leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The origin of an Acta segment: `<acta node>/<account>/<instance>/<segment>`.
    ///
    /// Each part must be non-empty and free of `/` (so the origin splits back unambiguously),
    /// whitespace and `+` (which C2SP recommends keeping out of origins and key names), and
    /// control characters.
    pub fn origin_for(node: &str, account: &str, instance: &str, segment: &str) -> Result<String, CheckpointError> {
        for (what, part) in [("node", node), ("account", account), ("instance", instance), ("segment", segment)] {
            if part.is_empty() {
                return Err(CheckpointError::new(format!("the {what} part of the origin is empty")));
            }
            if let Some(bad) = part.chars().find(|c| *c == '/' || *c == '+' || c.is_whitespace() || c.is_control()) {
                return Err(CheckpointError::new(format!(
                    "the {what} part of the origin {part:?} contains {bad:?}; \
                     '/', '+', whitespace and control characters are not allowed"
                )));
            }
        }
        Ok(format!("{node}/{account}/{instance}/{segment}"))
    }

    /// The note text: `<origin>\n<size>\n<base64 root>\n`. This is exactly what gets signed.
    pub fn body(&self) -> Result<String, CheckpointError> {
        check_origin(&self.origin)?;
        Ok(format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root)))
    }

    /// Parses a note text written by [`Checkpoint::body`]. Strict: every value has exactly one
    /// accepted spelling (no leading zeros, canonical base64), so one tree head has one text.
    pub fn parse(body: &str) -> Result<Self, CheckpointError> {
        let Some(lines) = body.strip_suffix('\n') else {
            return Err(CheckpointError::new("the text does not end with a newline"));
        };
        let mut lines = lines.split('\n');
        let mut next_line =
            |what: &str| lines.next().ok_or_else(|| CheckpointError::new(format!("the {what} line is missing")));
        let origin = next_line("origin")?;
        let size = next_line("tree size")?;
        let root = next_line("root hash")?;
        if lines.next().is_some() {
            return Err(CheckpointError::new(
                "the text has lines after the root hash; Acta does not use extension lines",
            ));
        }

        check_origin(origin)?;
        let size = parse_size(size)?;
        let root = parse_root(root)?;
        Ok(Self { origin: origin.to_owned(), size, root })
    }
}

/// The parts of an Acta origin, `<acta node>/<account>/<instance>/<segment>`, as
/// [`Checkpoint::origin_for`] joins them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The node that signed.
    pub node: &'a str,
    /// The account whose events the segment holds.
    pub account: &'a str,
    /// The instance whose log the segment is part of.
    pub instance: &'a str,
    /// The segment (Acta names a segment by its day).
    pub segment: &'a str,
}

impl<'a> Origin<'a> {
    /// Splits an origin at its `/`s; `None` unless there are exactly four parts. The parts are
    /// not checked against [`Checkpoint::origin_for`]'s rules: an origin is only read from a
    /// checkpoint whose signature holds, and what matters is whether it names the segment at hand.
    pub fn parse(origin: &'a str) -> Option<Self> {
        let mut parts = origin.split('/');
        let (node, account, instance, segment) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Self { node, account, instance, segment })
    }
}

/// The C2SP rules an origin must meet to survive a round trip through the note text.
fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() {
        return Err(CheckpointError::new("the origin is empty"));
    }
    if origin.chars().any(|c| c < ' ') {
        return Err(CheckpointError::new(format!("the origin {origin:?} contains a control character")));
    }
    Ok(())
}

/// Decimal, no sign, no leading zeros (C2SP tlog-checkpoint, line 2).
fn parse_size(text: &str) -> Result<u64, CheckpointError> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(CheckpointError::new(format!(
            "the tree size {text:?} is not a decimal number without leading zeros"
        )));
    }
    text.parse().map_err(|_| CheckpointError::new(format!("the tree size {text} is too large")))
}

/// Standard, padded base64 of exactly 32 bytes (C2SP tlog-checkpoint, line 3).
fn parse_root(text: &str) -> Result<Hash, CheckpointError> {
    let bytes =
        BASE64.decode(text).map_err(|e| CheckpointError::new(format!("the root hash {text:?} is not base64: {e}")))?;
    Hash::try_from(bytes.as_slice())
        .map_err(|_| CheckpointError::new(format!("the root hash is {} bytes, not 32", bytes.len())))
}
