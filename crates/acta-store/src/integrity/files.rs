//! The integrity files of a data directory, their formats, and the link leaf.
//!
//! ```text
//! <data>/checkpoints/keys                      verifier keys that ever signed here (key history)
//! <data>/checkpoints/<instance>/<day>.notes    the segment's signed checkpoints, one JSON line each
//! <data>/checkpoints/<instance>/<day>.leaves   the segment's leaf hashes, 32 bytes each, in tree order
//! ```
//!
//! A `.notes` line is `{"link":"<64 hex>","final":<bool>,"note":"<C2SP signed note>"}`. The note is
//! the only signed part; `link` (the SHA-256 of the previous segment's final note, see
//! [`link_leaf`]) is bound to it because the link leaf is leaf 0 of the signed tree, and `final`
//! only says that the writer considered the segment closed, which a verifier checks against the
//! events. Lines are appended and synced one checkpoint at a time, so a crash can only leave an
//! incomplete last line, which the checkpointer cuts at its next start.
//!
//! The `.leaves` file is a copy of what the checkpointer hashed. It is not trusted: whoever
//! reads it first checks that its leaves give the root of a signed checkpoint. Once they do,
//! they are the signed history leaf by leaf, which is how `acta verify` names the exact record
//! that was changed, removed, added or reordered, and how proofs are built without reading the
//! log.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use acta_ledger::{Hash, leaf_hash};
use sha2::{Digest, Sha256};

use crate::log::Day;

/// What the first segment of an instance links to: there is no previous checkpoint.
pub const GENESIS: Hash = [0; 32];

/// The domain tag of a link leaf, so it can never be mistaken for a record payload (those start
/// with the record version byte, 1).
pub const LINK_TAG: &[u8] = b"acta-link\n";

/// Leaf 0 of every segment's tree: `leaf_hash("acta-link\n" || previous)`, where `previous` is the
/// SHA-256 of the previous segment's final signed note ([`note_hash`]), or [`GENESIS`] for an
/// instance's first segment. Signing a segment thus signs the whole chain of segments before it.
pub fn link_leaf(previous: &Hash) -> Hash {
    let mut data = Vec::with_capacity(LINK_TAG.len() + previous.len());
    data.extend_from_slice(LINK_TAG);
    data.extend_from_slice(previous);
    leaf_hash(&data)
}

/// The SHA-256 of a signed note's full text (body, blank line and signature lines), as a link
/// refers to it.
pub fn note_hash(note: &str) -> Hash {
    Sha256::digest(note.as_bytes()).into()
}

/// `<data>/checkpoints`.
pub fn checkpoints_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("checkpoints")
}

/// `<data>/checkpoints/<instance>`.
pub fn instance_dir(data_dir: &Path, instance: &str) -> PathBuf {
    checkpoints_dir(data_dir).join(instance)
}

/// `<data>/checkpoints/<instance>/<day>.notes`.
pub fn notes_path(data_dir: &Path, instance: &str, day: Day) -> PathBuf {
    instance_dir(data_dir, instance).join(format!("{day}.notes"))
}

/// `<data>/checkpoints/<instance>/<day>.leaves`.
pub fn leaves_path(data_dir: &Path, instance: &str, day: Day) -> PathBuf {
    instance_dir(data_dir, instance).join(format!("{day}.leaves"))
}

/// `<data>/checkpoints/keys`: the key history, one verifier key text per line.
pub fn keys_path(data_dir: &Path) -> PathBuf {
    checkpoints_dir(data_dir).join("keys")
}

/// The days that have a `.notes` file in a checkpoint instance directory, ascending.
pub fn note_days(instance_dir: &Path) -> io::Result<Vec<Day>> {
    let mut days = Vec::new();
    let entries = match fs::read_dir(instance_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(days),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let name = entry?.file_name();
        let day = name.to_str().and_then(|name| name.strip_suffix(".notes")).and_then(|day| day.parse().ok());
        if let Some(day) = day {
            days.push(day);
        }
    }
    days.sort();
    Ok(days)
}

/// One line of a `.notes` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteEntry {
    /// The SHA-256 of the previous segment's final note ([`GENESIS`] for the first segment).
    pub link: Hash,
    /// Written when the segment was closed: no record can join it any more.
    pub is_final: bool,
    /// The signed checkpoint note.
    pub note: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteLine {
    link: String,
    #[serde(rename = "final")]
    is_final: bool,
    note: String,
}

impl NoteEntry {
    /// The line as written, with its newline.
    pub fn to_line(&self) -> String {
        let line = NoteLine { link: to_hex(&self.link), is_final: self.is_final, note: self.note.clone() };
        // Serializing three plain fields cannot fail; the fallback keeps this total anyway.
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses one line (without its newline).
    pub fn parse(line: &str) -> Result<NoteEntry, String> {
        let parsed: NoteLine = serde_json::from_str(line).map_err(|error| format!("not a checkpoint line: {error}"))?;
        let link = from_hex(&parsed.link).ok_or_else(|| format!("link {:?} is not 64 hex digits", parsed.link))?;
        Ok(NoteEntry { link, is_final: parsed.is_final, note: parsed.note })
    }
}

/// A `.notes` file as read: every complete line (1-based line number and parse result), and
/// where an incomplete last line starts, if there is one.
#[derive(Debug, Default)]
pub struct NotesFile {
    /// Complete lines, in order.
    pub lines: Vec<(usize, Result<NoteEntry, String>)>,
    /// Byte offset of a last line without its newline: what a crash during an append leaves.
    pub torn_at: Option<u64>,
}

impl NotesFile {
    /// The entries that parse, in order.
    pub fn entries(&self) -> impl Iterator<Item = &NoteEntry> {
        self.lines.iter().filter_map(|(_, entry)| entry.as_ref().ok())
    }
}

/// Reads a `.notes` file; a missing file reads as empty.
pub fn read_notes(path: &Path) -> io::Result<NotesFile> {
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(NotesFile::default()),
        Err(error) => return Err(error),
    };
    Ok(parse_notes(&text))
}

/// Parses the bytes of a `.notes` file.
pub fn parse_notes(bytes: &[u8]) -> NotesFile {
    let mut file = NotesFile::default();
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let Some(length) = bytes[start..].iter().position(|b| *b == b'\n') else {
            file.torn_at = Some(start as u64);
            break;
        };
        let line = &bytes[start..start + length];
        let entry = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned()).and_then(NoteEntry::parse);
        file.lines.push((number, entry));
        start += length + 1;
    }
    file
}

/// The last complete line of a `.notes` file, read from its end (the file of a busy day holds
/// tens of thousands of lines; the latest checkpoint is all most callers need).
pub fn last_note(path: &Path) -> io::Result<Option<NoteEntry>> {
    const CHUNK: u64 = 64 << 10;
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let len = file.metadata()?.len();
    let mut from = len.saturating_sub(CHUNK);
    loop {
        let mut tail = Vec::new();
        std::io::Seek::seek(&mut file, io::SeekFrom::Start(from))?;
        (&mut file).take(len - from).read_to_end(&mut tail)?;
        // Only complete lines count: drop an incomplete last one.
        let complete = match tail.iter().rposition(|b| *b == b'\n') {
            Some(end) => &tail[..end],
            None if from == 0 => return Ok(None),
            None => {
                from = from.saturating_sub(CHUNK);
                continue;
            }
        };
        match complete.iter().rposition(|b| *b == b'\n') {
            Some(start) => return parse_last(&complete[start + 1..]).map(Some),
            None if from == 0 => return parse_last(complete).map(Some),
            None => from = from.saturating_sub(CHUNK),
        }
    }
}

fn parse_last(line: &[u8]) -> io::Result<NoteEntry> {
    let text = std::str::from_utf8(line).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))?;
    NoteEntry::parse(text).map_err(|reason| io::Error::new(io::ErrorKind::InvalidData, reason))
}

/// Reads a `.leaves` file: its whole 32-byte hashes (a partial last one, from a crash, is left
/// out). A missing file reads as empty.
pub fn read_leaves(path: &Path) -> io::Result<Vec<Hash>> {
    read_leaves_prefix(path, u64::MAX)
}

/// The first `count` leaves of a `.leaves` file (fewer if it is shorter).
pub fn read_leaves_prefix(path: &Path, count: u64) -> io::Result<Vec<Hash>> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let bytes = count.saturating_mul(32);
    let mut data = Vec::new();
    io::BufReader::new(file).take(bytes).read_to_end(&mut data)?;
    Ok(data.chunks_exact(32).filter_map(|chunk| Hash::try_from(chunk).ok()).collect())
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Parses exactly 64 hex digits (either case).
pub fn from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut hash = [0; 32];
    for (byte, pair) in hash.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(hash)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn note_lines_round_trip_and_a_torn_last_line_is_found() {
        let entry = NoteEntry { link: [7; 32], is_final: true, note: "o/a/i/d\n1\nAAAA\n\n\u{2014} k AAAA\n".into() };
        let line = entry.to_line();
        assert_eq!(line.matches('\n').count(), 1, "one line: {line}");
        let mut bytes = line.clone().into_bytes();
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(&line.as_bytes()[..10]);
        let file = parse_notes(&bytes);
        assert_eq!(file.entries().count(), 2);
        assert_eq!(file.torn_at, Some(2 * line.len() as u64));
        assert_eq!(file.entries().next(), Some(&entry));
    }

    #[test]
    fn link_leaf_is_tagged_and_hex_round_trips() {
        assert_ne!(link_leaf(&GENESIS), leaf_hash(&GENESIS));
        let hash = note_hash("x\n");
        assert_eq!(from_hex(&to_hex(&hash)), Some(hash));
        assert_eq!(from_hex("zz"), None);
    }
}
