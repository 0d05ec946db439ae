//! Active segments (`<day>.log`): the reader's view of a file the writer appends to, and the
//! scan that recovers one at open.
//!
//! The writer thread owns appending; readers see only the frames whose offsets it published
//! after they were synced, so a read never returns a record that was not yet acknowledged.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

use super::error::LogError;
use super::record::{FrameError, FrameReader, NextFrame, Tail, classify_tail, decode_envelope, frame_at};
use super::{Day, Envelope, Record, SegmentInfo, read_lock, write_lock};

/// An active segment as readers see it.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub(crate) day: Day,
    pub(crate) path: PathBuf,
    /// Read handle; reads use `pread`, so they never disturb the writer or each other. It stays
    /// valid after sealing unlinks the file, so a scan that started before sealing finishes.
    file: File,
    pub(crate) first_seq: u64,
    index: RwLock<ActiveIndex>,
    /// Set by the writer once it will never append here again; only then may the segment be
    /// sealed.
    closed: AtomicBool,
    /// Held while sealing, so the background sealer and `seal_before` never seal twice.
    pub(crate) seal_lock: Mutex<()>,
}

/// The durable part of an active segment.
#[derive(Debug, Default)]
struct ActiveIndex {
    /// `offsets[i]` is the byte offset of the frame of seq `first_seq + i`.
    offsets: Vec<u64>,
    /// The byte length covered by the published frames.
    end: u64,
}

/// A snapshot of how far an active segment is durable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Durable {
    pub(crate) records: u64,
    pub(crate) end: u64,
}

impl ActiveSegment {
    pub(crate) fn new(day: Day, path: PathBuf, file: File, first_seq: u64) -> ActiveSegment {
        ActiveSegment {
            day,
            path,
            file,
            first_seq,
            index: RwLock::new(ActiveIndex::default()),
            closed: AtomicBool::new(false),
            seal_lock: Mutex::new(()),
        }
    }

    /// An active segment recovered at open, with its frames already known.
    pub(crate) fn recovered(scanned: &ScannedLog, file: File) -> Option<ActiveSegment> {
        let span = scanned.span?;
        let segment = ActiveSegment::new(scanned.day, scanned.path.clone(), file, span.first_seq);
        let mut index = write_lock(&segment.index);
        index.offsets.clone_from(&scanned.offsets);
        index.end = scanned.valid_len;
        drop(index);
        Some(segment)
    }

    /// Makes frames visible to readers; called by the writer after they are synced.
    pub(crate) fn publish(&self, offsets: &[u64], end: u64) {
        let mut index = write_lock(&self.index);
        debug_assert!(end >= index.end);
        index.offsets.extend_from_slice(offsets);
        index.end = end;
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn durable(&self) -> Durable {
        let index = read_lock(&self.index);
        Durable { records: index.offsets.len() as u64, end: index.end }
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    pub(crate) fn info(&self, instance: &str) -> Option<SegmentInfo> {
        let durable = self.durable();
        let last_seq = (self.first_seq + durable.records).checked_sub(1)?;
        (durable.records > 0).then(|| SegmentInfo {
            instance: instance.to_owned(),
            day: self.day,
            first_seq: self.first_seq,
            last_seq,
            records: durable.records,
            bytes: durable.end,
            sealed: false,
        })
    }

    /// Reads the records from `from_seq` up to `last_seq` (inclusive), stopping after about
    /// `max_bytes` of frames; returns at least one record if any is in range.
    pub(crate) fn read_batch(&self, from_seq: u64, last_seq: u64, max_bytes: u64) -> Result<Vec<Record>, LogError> {
        let Some((start, stop)) = self.byte_range(from_seq, last_seq, max_bytes) else {
            return Ok(Vec::new());
        };
        let mut bytes = vec![0; (stop - start) as usize];
        self.file.read_exact_at(&mut bytes, start).map_err(|e| LogError::io(&self.path, e))?;
        let mut records = Vec::new();
        let mut at = 0;
        let mut seq = from_seq;
        while at < bytes.len() {
            let offset = start + at as u64;
            let (payload, frame_len) =
                frame_at(&bytes[at..]).map_err(|e| LogError::corrupt(&self.path, offset, e.to_string()))?;
            let record = Record::from_payload(payload.to_vec())
                .map_err(|reason| LogError::corrupt(&self.path, offset, reason))?;
            if record.seq != seq {
                let reason = format!("expected seq {seq}, found {}", record.seq);
                return Err(LogError::corrupt(&self.path, offset, reason));
            }
            records.push(record);
            seq += 1;
            at += frame_len;
        }
        Ok(records)
    }

    /// The byte range of the published frames from `from_seq` to at most `last_seq`, cut after
    /// `max_bytes` (but never empty when `from_seq` is published).
    fn byte_range(&self, from_seq: u64, last_seq: u64, max_bytes: u64) -> Option<(u64, u64)> {
        let index = read_lock(&self.index);
        let first = usize::try_from(from_seq.checked_sub(self.first_seq)?).ok()?;
        let last = usize::try_from(last_seq.checked_sub(self.first_seq)?).ok()?;
        let last = last.min(index.offsets.len().checked_sub(1)?);
        if first > last {
            return None;
        }
        let start = index.offsets[first];
        let end_of = |i: usize| index.offsets.get(i + 1).copied().unwrap_or(index.end);
        let mut stop = end_of(first);
        for i in first + 1..=last {
            if stop - start >= max_bytes {
                break;
            }
            stop = end_of(i);
        }
        Some((start, stop))
    }
}

/// `Read` over a file through `pread`, with a private position (so a shared handle's cursor is
/// never used).
pub(crate) struct PositionedReader<'a> {
    pub(crate) file: &'a File,
    pub(crate) pos: u64,
}

impl Read for PositionedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// The checks every record of a segment must pass beyond its checksum: it belongs to this
/// instance and day, seqs follow one another, and arrival times never go back.
pub(crate) struct Continuity<'p> {
    path: &'p Path,
    instance: Option<String>,
    day: Option<Day>,
    next_seq: Option<u64>,
    last_received_ns: Option<i64>,
}

impl<'p> Continuity<'p> {
    pub(crate) fn new(path: &'p Path, instance: Option<&str>, day: Option<Day>) -> Continuity<'p> {
        Continuity { path, instance: instance.map(str::to_owned), day, next_seq: None, last_received_ns: None }
    }

    /// Requires the next record to carry `seq`.
    pub(crate) fn expect_seq(mut self, seq: u64) -> Continuity<'p> {
        self.next_seq = Some(seq);
        self
    }

    pub(crate) fn check(&mut self, offset: u64, envelope: &Envelope<'_>) -> Result<(), LogError> {
        let fail = |reason: String| Err(LogError::corrupt(self.path, offset, reason));
        match &self.instance {
            Some(instance) if instance != envelope.instance => {
                return fail(format!("record of instance {:?} in the log of {instance:?}", envelope.instance));
            }
            Some(_) => {}
            None => self.instance = Some(envelope.instance.to_owned()),
        }
        let day = envelope.day();
        match self.day {
            Some(expected) if expected != day => {
                return fail(format!("record received on {day} in the segment of {expected}"));
            }
            Some(_) => {}
            None => self.day = Some(day),
        }
        if envelope.seq == 0 {
            return fail("record with seq 0".to_owned());
        }
        if let Some(expected) = self.next_seq
            && envelope.seq != expected
        {
            return fail(format!("expected seq {expected}, found {}", envelope.seq));
        }
        if let Some(last) = self.last_received_ns
            && envelope.received_ns < last
        {
            let reason = format!("arrival time goes back from {last} to {}", envelope.received_ns);
            return fail(reason);
        }
        self.next_seq = envelope.seq.checked_add(1);
        self.last_received_ns = Some(envelope.received_ns);
        Ok(())
    }
}

/// The seq and time span of a non-empty segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) first_received_ns: i64,
    pub(crate) last_received_ns: i64,
}

/// The result of scanning an active segment file at open.
#[derive(Debug)]
pub(crate) struct ScannedLog {
    pub(crate) day: Day,
    pub(crate) path: PathBuf,
    pub(crate) span: Option<Span>,
    pub(crate) offsets: Vec<u64>,
    /// The length of the valid frames: where a torn tail gets cut.
    pub(crate) valid_len: u64,
    pub(crate) file_len: u64,
    /// Why the bytes after `valid_len` are not frames (None when the file ends cleanly).
    pub(crate) torn: Option<(FrameError, Tail)>,
}

/// Reads an active segment file, checking every frame, without modifying it.
///
/// A bad frame after which no valid frame exists is a torn tail (reported in `torn`, to be
/// cut by the caller); a bad frame followed by a valid one, or a valid frame that breaks the
/// seq/instance/day/time continuity, is corruption: an error naming the file and offset.
pub(crate) fn scan_log_file(path: &Path, instance: &str, day: Day) -> Result<ScannedLog, LogError> {
    let io_err = |e| LogError::io(path, e);
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let reader = BufReader::with_capacity(1 << 20, PositionedReader { file: &file, pos: 0 });
    let mut frames = FrameReader::new(reader, file_len);
    let mut continuity = Continuity::new(path, Some(instance), Some(day));
    let mut offsets = Vec::new();
    let mut span: Option<Span> = None;
    let torn = loop {
        match frames.next_frame().map_err(io_err)? {
            NextFrame::End => break None,
            NextFrame::Frame { offset, payload } => {
                // A frame with a valid checksum was written whole by the writer: if its
                // content is wrong, that is not a torn write and must not be cut away.
                let (envelope, _) = decode_envelope(&payload).map_err(|r| LogError::corrupt(path, offset, r))?;
                continuity.check(offset, &envelope)?;
                offsets.push(offset);
                let span = span.get_or_insert(Span {
                    first_seq: envelope.seq,
                    last_seq: envelope.seq,
                    first_received_ns: envelope.received_ns,
                    last_received_ns: envelope.received_ns,
                });
                span.last_seq = envelope.seq;
                span.last_received_ns = envelope.received_ns;
            }
            NextFrame::Bad { offset, error } => {
                let read_at = |buf: &mut [u8], at: u64| file.read_exact_at(buf, at);
                let tail = classify_tail(&read_at, offset + 1, file_len).map_err(io_err)?;
                if let Tail::ValidFrameAt(next) = tail {
                    let reason = format!("{error}, yet a valid frame follows at byte {next}");
                    return Err(LogError::corrupt(path, offset, reason));
                }
                break Some((error, tail));
            }
        }
    };
    debug_assert!(frames.offset() <= file_len);
    Ok(ScannedLog { day, path: path.to_owned(), span, offsets, valid_len: frames.offset(), file_len, torn })
}

/// Reads every record of an active segment file in order, strictly: any invalid byte is an
/// error. `visit` sees each record that passed every check before the error, so an offline
/// verifier can name the record where the damage starts.
pub(crate) fn visit_log_file(path: &Path, day: Option<Day>, visit: &mut dyn FnMut(Record)) -> Result<(), LogError> {
    let io_err = |e| LogError::io(path, e);
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let reader = BufReader::with_capacity(1 << 20, PositionedReader { file: &file, pos: 0 });
    let mut frames = FrameReader::new(reader, file_len);
    let mut continuity = Continuity::new(path, None, day);
    loop {
        match frames.next_frame().map_err(io_err)? {
            NextFrame::End => return Ok(()),
            NextFrame::Frame { offset, payload } => {
                let corrupt = |reason| LogError::corrupt(path, offset, reason);
                let (envelope, _) = decode_envelope(&payload).map_err(corrupt)?;
                continuity.check(offset, &envelope)?;
                visit(Record::from_payload(payload).map_err(corrupt)?);
            }
            NextFrame::Bad { offset, error } => {
                let reason = format!("{error} (a torn tail or damage)");
                return Err(LogError::corrupt(path, offset, reason));
            }
        }
    }
}
