//! Export bundles: the log segments and checkpoint files of some instances in one tar stream,
//! which `acta verify` checks like a data directory, without access to the server.
//!
//! ```text
//! checkpoints/keys
//! checkpoints/<instance>/<day>.notes     for each segment, oldest first, then
//! checkpoints/<instance>/<day>.leaves
//! log/<instance>/<day>.seg | .log        the segment file (an active one up to its durable end)
//! ```
//! POSIX ustar, regular files only, the directory part of each name in the prefix field. Each
//! segment's notes are read before its log file, so every checkpoint in the bundle covers records
//! that are in it. A file is at most 8 GiB (the ustar size field).
//!
//! Extraction accepts exactly these names, each part checked (instance id, day), so a bundle
//! cannot write outside the directory it is unpacked into.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::files::{checkpoints_dir, keys_path, leaves_path, note_days, notes_path};
use crate::log::{Day, Log, validate_instance};

const BLOCK: usize = 512;
/// The ustar size field holds 11 octal digits.
const MAX_FILE_BYTES: u64 = (1 << 33) - 1;

/// Writes the bundle of `instances` of the data directory to `out`.
pub fn write_bundle(data_dir: &Path, log: &Log, instances: &[String], out: &mut dyn Write) -> io::Result<()> {
    let keys = keys_path(data_dir);
    if keys.exists() {
        append_file(out, "checkpoints", "keys", &keys, None)?;
    }
    for instance in instances {
        validate_instance(instance).map_err(io::Error::other)?;
        let checkpoint_dir = checkpoints_dir(data_dir).join(instance);
        let mut days: Vec<Day> = note_days(&checkpoint_dir)?;
        days.extend(log.segments(instance).iter().map(|segment| segment.day));
        days.sort();
        days.dedup();
        for day in days {
            let dir = format!("checkpoints/{instance}");
            // Notes before leaves before records: each covers no more than what follows it.
            let notes = fs::read(notes_path(data_dir, instance, day)).or_else(empty_if_missing)?;
            let complete = notes.iter().rposition(|b| *b == b'\n').map_or(0, |end| end + 1);
            append_bytes(out, &dir, &format!("{day}.notes"), &notes[..complete])?;
            let leaves = leaves_path(data_dir, instance, day);
            if leaves.exists() {
                append_file(out, &dir, &format!("{day}.leaves"), &leaves, Some(32))?;
            }
            append_segment(out, log, instance, day)?;
        }
    }
    out.write_all(&[0; 2 * BLOCK])?;
    out.flush()
}

fn empty_if_missing(error: io::Error) -> io::Result<Vec<u8>> {
    if error.kind() == io::ErrorKind::NotFound { Ok(Vec::new()) } else { Err(error) }
}

/// The segment's file: all of a sealed one, the durable part of an active one.
fn append_segment(out: &mut dyn Write, log: &Log, instance: &str, day: Day) -> io::Result<()> {
    // Sealing may replace the .log by the .seg between listing and opening: look again once.
    for _ in 0..2 {
        let Some(info) = log.segments(instance).into_iter().find(|segment| segment.day == day) else {
            return Ok(()); // removed since (retention): its checkpoints are in the bundle
        };
        let path = log.segment_path(instance, day);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        let len = if info.sealed { file.metadata()?.len() } else { info.bytes };
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
        return append_reader(out, &format!("log/{instance}"), &name, file, len);
    }
    Err(io::Error::other(format!("the segment {instance}/{day} kept moving while being exported")))
}

/// A file as it is now; with `unit`, cut to a multiple of it (a `.leaves` file being appended).
fn append_file(out: &mut dyn Write, dir: &str, name: &str, path: &Path, unit: Option<u64>) -> io::Result<()> {
    let file = File::open(path)?;
    let mut len = file.metadata()?.len();
    if let Some(unit) = unit {
        len -= len % unit;
    }
    append_reader(out, dir, name, file, len)
}

fn append_bytes(out: &mut dyn Write, dir: &str, name: &str, bytes: &[u8]) -> io::Result<()> {
    append_reader(out, dir, name, bytes, bytes.len() as u64)
}

fn append_reader(out: &mut dyn Write, dir: &str, name: &str, reader: impl Read, len: u64) -> io::Result<()> {
    out.write_all(&header(dir, name, len)?)?;
    let copied = io::copy(&mut reader.take(len), out)?;
    if copied != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{dir}/{name} ended early")));
    }
    let padding = (BLOCK - (len as usize % BLOCK)) % BLOCK;
    out.write_all(&vec![0; padding])
}

fn header(dir: &str, name: &str, len: u64) -> io::Result<[u8; BLOCK]> {
    if name.len() > 100 || dir.len() > 155 || len > MAX_FILE_BYTES {
        return Err(io::Error::other(format!("{dir}/{name} does not fit a ustar header")));
    }
    let mut header = [0u8; BLOCK];
    let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, name.as_bytes());
    put(100, b"0000644\0");
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{len:011o}\0").as_bytes());
    put(136, b"00000000000\0");
    put(148, b"        ");
    put(156, b"0");
    put(257, b"ustar\0");
    put(263, b"00");
    put(345, dir.as_bytes());
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(header)
}

/// Unpacks a bundle into `dest` (which should be empty), refusing any entry that is not one of
/// the bundle's file names. Returns the number of files.
pub fn extract_bundle(reader: &mut dyn Read, dest: &Path) -> io::Result<usize> {
    let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidData, reason);
    let mut files = 0;
    loop {
        let mut header = [0u8; BLOCK];
        reader.read_exact(&mut header)?;
        if header.iter().all(|b| *b == 0) {
            return Ok(files);
        }
        let stored: u32 = octal(&header[148..156]).ok_or_else(|| invalid("a header checksum is not octal".into()))?;
        let sum: u32 =
            header.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u32::from(*b) }).sum();
        if stored != sum {
            return Err(invalid("a header checksum does not match: not a bundle, or a damaged one".into()));
        }
        if header[156] != b'0' && header[156] != 0 {
            return Err(invalid("a bundle holds regular files only".into()));
        }
        let len = octal(&header[124..136]).ok_or_else(|| invalid("a size is not octal".into()))?;
        let name = format!("{}/{}", text(&header[345..500])?, text(&header[..100])?);
        let path = dest.join(bundle_path(&name).ok_or_else(|| invalid(format!("unexpected entry {name:?}")))?);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = File::create(&path)?;
        let copied = io::copy(&mut reader.take(len), &mut file)?;
        if copied != len {
            return Err(invalid(format!("{name} is cut short")));
        }
        let padding = (BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64;
        io::copy(&mut reader.take(padding), &mut io::sink())?;
        files += 1;
    }
}

fn octal<T: TryFrom<u64>>(field: &[u8]) -> Option<T> {
    let digits: &[u8] = field.split(|b| *b == 0 || *b == b' ').find(|part| !part.is_empty()).unwrap_or(b"0");
    let text = std::str::from_utf8(digits).ok()?;
    T::try_from(u64::from_str_radix(text, 8).ok()?).ok()
}

fn text(field: &[u8]) -> io::Result<&str> {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    std::str::from_utf8(&field[..end]).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a name is not UTF-8"))
}

/// The relative path of an allowed entry name, `None` for anything else.
fn bundle_path(name: &str) -> Option<PathBuf> {
    if name == "checkpoints/keys" {
        return Some(PathBuf::from(name));
    }
    let mut parts = name.split('/');
    let (top, instance, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || validate_instance(instance).is_err() {
        return None;
    }
    let (day, extensions): (&str, &[&str]) = match top {
        "log" => (file.split_once('.')?.0, &["log", "seg"]),
        "checkpoints" => (file.split_once('.')?.0, &["notes", "leaves"]),
        _ => return None,
    };
    let extension = file.split_once('.')?.1;
    (day.parse::<Day>().is_ok() && extensions.contains(&extension)).then(|| PathBuf::from(name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_bundle_names_are_extracted() {
        assert!(bundle_path("log/prod/2026-11-21.seg").is_some());
        assert!(bundle_path("checkpoints/prod/2026-11-21.leaves").is_some());
        assert!(bundle_path("checkpoints/keys").is_some());
        for bad in ["log/../x/2026-11-21.log", "log/prod/../../etc", "/etc/passwd", "log/prod/2026-11-21.sh", "x/y/z"] {
            assert_eq!(bundle_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_file_round_trips_through_a_header() {
        let mut tar = Vec::new();
        append_bytes(&mut tar, "checkpoints/prod", "2026-11-21.notes", b"hello\n").unwrap();
        tar.extend_from_slice(&[0; 2 * BLOCK]);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(extract_bundle(&mut tar.as_slice(), dir.path()).unwrap(), 1);
        assert_eq!(fs::read(dir.path().join("checkpoints/prod/2026-11-21.notes")).unwrap(), b"hello\n");
    }
}
