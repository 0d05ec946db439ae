//! The record payload (Acta's envelope plus the event bytes) and the frame around it.
//!
//! Both encodings are frozen: integrity hashes the payload bytes, and sealed segments keep the
//! frames verbatim inside their compressed blocks. See the module overview for the layout.

use std::io::{self, Read};

use super::Day;
use super::error::LogError;

/// The only payload version written so far.
pub const RECORD_VERSION: u8 = 1;

/// `len: u32 LE | crc32c(payload): u32 LE`.
pub(crate) const FRAME_HEADER_BYTES: usize = 8;

/// version + seq + received_ns + four empty strings.
pub(crate) const MIN_PAYLOAD_BYTES: usize = 1 + 8 + 8 + 4 * 2;

/// The largest payload the log frames. Events are limited to 64 KiB upstream; this bound only
/// keeps a corrupted length field from making recovery read or allocate gigabytes.
pub const MAX_PAYLOAD_BYTES: usize = 16 << 20;

/// The envelope fields of a record, borrowed: what the log adds around the event bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Position in the instance's log, from 1, contiguous across days.
    pub seq: u64,
    /// Arrival time assigned by the log, unix nanoseconds UTC, non-decreasing per instance.
    pub received_ns: i64,
    /// The log stream (the node's stream in cluster mode, `local` when embedded).
    pub stream: &'a str,
    /// The account owning the event.
    pub account: &'a str,
    /// The instance whose log holds the record.
    pub instance: &'a str,
    /// The event's id (as given, or assigned on ingest).
    pub event_id: &'a str,
}

impl Envelope<'_> {
    /// The UTC arrival day, which names the segment holding the record.
    pub fn day(&self) -> Day {
        Day::from_ns(self.received_ns)
    }
}

/// Encodes a payload: `version | seq | received_ns | stream | account | instance | event_id |
/// event`. Fails if a string does not fit its u16 length prefix or the payload would exceed
/// [`MAX_PAYLOAD_BYTES`].
pub fn encode_payload(envelope: &Envelope<'_>, event: &[u8]) -> Result<Vec<u8>, LogError> {
    let mut payload = Vec::with_capacity(payload_len(envelope, event.len())?);
    write_payload(&mut payload, envelope, event);
    Ok(payload)
}

/// The encoded size of a payload, or why it cannot be encoded.
pub(crate) fn payload_len(envelope: &Envelope<'_>, event_len: usize) -> Result<usize, LogError> {
    let strings = [
        ("stream", envelope.stream),
        ("account", envelope.account),
        ("instance", envelope.instance),
        ("event_id", envelope.event_id),
    ];
    let mut len = MIN_PAYLOAD_BYTES + event_len;
    for (name, value) in strings {
        if value.len() > usize::from(u16::MAX) {
            return Err(LogError::InvalidRecord(format!(
                "{name} is {} bytes long, at most {} fit",
                value.len(),
                u16::MAX
            )));
        }
        len += value.len();
    }
    if len > MAX_PAYLOAD_BYTES {
        return Err(LogError::InvalidRecord(format!(
            "the record is {len} bytes long, at most {MAX_PAYLOAD_BYTES} fit"
        )));
    }
    Ok(len)
}

/// Appends the payload to `out`. The caller has checked the lengths with [`payload_len`].
fn write_payload(out: &mut Vec<u8>, envelope: &Envelope<'_>, event: &[u8]) {
    out.push(RECORD_VERSION);
    out.extend_from_slice(&envelope.seq.to_le_bytes());
    out.extend_from_slice(&envelope.received_ns.to_le_bytes());
    for text in [envelope.stream, envelope.account, envelope.instance, envelope.event_id] {
        let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
        debug_assert_eq!(usize::from(len), text.len(), "payload_len checks string lengths");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(event);
}

/// Appends a whole frame (`len | crc | payload`) to `out`, returning the frame's length.
pub(crate) fn write_frame(out: &mut Vec<u8>, envelope: &Envelope<'_>, event: &[u8]) -> Result<usize, LogError> {
    let len = payload_len(envelope, event.len())?;
    let frame_start = out.len();
    let len_field = u32::try_from(len).map_err(|_| LogError::InvalidRecord("too long".into()))?;
    out.extend_from_slice(&len_field.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // the crc, patched once the payload is in place
    let payload_start = out.len();
    write_payload(out, envelope, event);
    debug_assert_eq!(out.len() - payload_start, len);
    let crc = crc32c::crc32c(&out[payload_start..]);
    out[frame_start + 4..payload_start].copy_from_slice(&crc.to_le_bytes());
    Ok(FRAME_HEADER_BYTES + len)
}

/// Decodes the envelope of a payload; the event bytes are the rest, from the returned offset.
pub(crate) fn decode_envelope(payload: &[u8]) -> Result<(Envelope<'_>, usize), String> {
    let mut cursor = Cursor { bytes: payload, at: 0 };
    let version = cursor.take(1)?[0];
    if version != RECORD_VERSION {
        return Err(format!("unknown record version {version}"));
    }
    let seq = u64::from_le_bytes(cursor.array()?);
    let received_ns = i64::from_le_bytes(cursor.array()?);
    let stream = cursor.string("stream")?;
    let account = cursor.string("account")?;
    let instance = cursor.string("instance")?;
    let event_id = cursor.string("event_id")?;
    let envelope = Envelope { seq, received_ns, stream, account, instance, event_id };
    Ok((envelope, cursor.at))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("payload ends inside a field at byte {}", self.at));
        };
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn string(&mut self, name: &str) -> Result<&'a str, String> {
        let len = u16::from_le_bytes(self.array()?);
        let bytes = self.take(usize::from(len))?;
        std::str::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8"))
    }
}

/// One record as stored: the decoded envelope, the event bytes exactly as received, and the
/// exact payload bytes that integrity hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the instance's log, from 1, contiguous across days.
    pub seq: u64,
    /// Arrival time assigned by the log, unix nanoseconds UTC.
    pub received_ns: i64,
    /// The log stream.
    pub stream: String,
    /// The account owning the event.
    pub account: String,
    /// The instance whose log holds the record.
    pub instance: String,
    /// The event's id.
    pub event_id: String,
    /// The event bytes exactly as received.
    pub event: Vec<u8>,
    /// The whole payload, exactly as framed on disk: what integrity hashes.
    pub payload: Vec<u8>,
}

impl Record {
    /// Decodes a payload (as found in a frame) into a record that keeps those exact bytes.
    pub fn from_payload(payload: Vec<u8>) -> Result<Record, String> {
        let (envelope, event_start) = decode_envelope(&payload)?;
        Ok(Record {
            seq: envelope.seq,
            received_ns: envelope.received_ns,
            stream: envelope.stream.to_owned(),
            account: envelope.account.to_owned(),
            instance: envelope.instance.to_owned(),
            event_id: envelope.event_id.to_owned(),
            event: payload[event_start..].to_vec(),
            payload,
        })
    }

    /// The UTC arrival day.
    pub fn day(&self) -> Day {
        Day::from_ns(self.received_ns)
    }

    /// Its envelope (what the log adds to the event).
    pub fn envelope(&self) -> Envelope<'_> {
        Envelope {
            seq: self.seq,
            received_ns: self.received_ns,
            stream: &self.stream,
            account: &self.account,
            instance: &self.instance,
            event_id: &self.event_id,
        }
    }
}

/// Why the bytes at some offset are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The data ends inside the frame header or payload.
    Incomplete,
    /// The length field is outside `MIN_PAYLOAD_BYTES..=MAX_PAYLOAD_BYTES`.
    BadLength(u32),
    /// The payload does not match its checksum.
    BadChecksum,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Incomplete => write!(f, "incomplete frame"),
            FrameError::BadLength(len) => write!(f, "impossible frame length {len}"),
            FrameError::BadChecksum => write!(f, "checksum mismatch"),
        }
    }
}

fn header_fields(header: &[u8]) -> (u32, u32) {
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    (len, crc)
}

fn plausible_len(len: u32) -> bool {
    let len = len as usize;
    (MIN_PAYLOAD_BYTES..=MAX_PAYLOAD_BYTES).contains(&len)
}

/// Parses the frame at the start of `bytes`: its payload and total length.
pub(crate) fn frame_at(bytes: &[u8]) -> Result<(&[u8], usize), FrameError> {
    if bytes.len() < FRAME_HEADER_BYTES {
        return Err(FrameError::Incomplete);
    }
    let (len, crc) = header_fields(bytes);
    if !plausible_len(len) {
        return Err(FrameError::BadLength(len));
    }
    let frame_len = FRAME_HEADER_BYTES + len as usize;
    let Some(payload) = bytes.get(FRAME_HEADER_BYTES..frame_len) else {
        return Err(FrameError::Incomplete);
    };
    if crc32c::crc32c(payload) != crc {
        return Err(FrameError::BadChecksum);
    }
    Ok((payload, frame_len))
}

/// Reads frames one after another from a byte stream of known length, tracking offsets.
pub(crate) struct FrameReader<R> {
    reader: R,
    offset: u64,
    end: u64,
}

/// The outcome of reading at a frame boundary.
pub(crate) enum NextFrame {
    /// A frame with a valid checksum: its offset and payload.
    Frame { offset: u64, payload: Vec<u8> },
    /// The data ended exactly at a frame boundary.
    End,
    /// The frame at `offset` is invalid; the reader cannot continue.
    Bad { offset: u64, error: FrameError },
}

impl<R: Read> FrameReader<R> {
    pub(crate) fn new(reader: R, end: u64) -> FrameReader<R> {
        FrameReader { reader, offset: 0, end }
    }

    /// The offset of the next frame (the valid length read so far).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn next_frame(&mut self) -> io::Result<NextFrame> {
        let offset = self.offset;
        let remaining = self.end - offset;
        if remaining == 0 {
            return Ok(NextFrame::End);
        }
        let bad = |error| Ok(NextFrame::Bad { offset, error });
        if remaining < FRAME_HEADER_BYTES as u64 {
            return bad(FrameError::Incomplete);
        }
        let mut header = [0; FRAME_HEADER_BYTES];
        self.reader.read_exact(&mut header)?;
        let (len, crc) = header_fields(&header);
        if !plausible_len(len) {
            return bad(FrameError::BadLength(len));
        }
        if remaining - (FRAME_HEADER_BYTES as u64) < u64::from(len) {
            return bad(FrameError::Incomplete);
        }
        let mut payload = vec![0; len as usize];
        self.reader.read_exact(&mut payload)?;
        if crc32c::crc32c(&payload) != crc {
            return bad(FrameError::BadChecksum);
        }
        self.offset += (FRAME_HEADER_BYTES + payload.len()) as u64;
        Ok(NextFrame::Frame { offset, payload })
    }
}

/// What lies after a bad frame: decides between a torn tail and corruption in the middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Only zero bytes (a file extended but never written, e.g. after a power loss).
    Zeros,
    /// Bytes that hold no valid frame anywhere: the remains of an interrupted write.
    Garbage,
    /// A frame with a valid checksum and envelope starts at this offset: the bad frame is not
    /// the last one, so acknowledged records may follow it.
    ValidFrameAt(u64),
}

/// Classifies `[from, end)` of a file by trying a frame at every byte offset.
///
/// A cheap filter (plausible length, fits in the file, version byte) rejects almost every
/// offset before any checksum is computed, so this is a linear pass over the tail. Event bytes
/// are attacker-controlled, so a crafted event could contain something that looks like a valid
/// frame; then a torn tail is reported as corruption, which fails safe (open refuses, nothing
/// is deleted).
pub(crate) fn classify_tail(
    read_at: &dyn Fn(&mut [u8], u64) -> io::Result<()>,
    from: u64,
    end: u64,
) -> io::Result<Tail> {
    const WINDOW: u64 = 1 << 20;
    // Header plus the version byte: enough to filter a candidate.
    const PEEK: u64 = FRAME_HEADER_BYTES as u64 + 1;
    let mut all_zero = true;
    let mut window_start = from;
    let mut window = Vec::new();
    while window_start < end {
        let window_end = end.min(window_start + WINDOW + PEEK);
        window.resize((window_end - window_start) as usize, 0);
        read_at(&mut window, window_start)?;
        let scan_end = end.min(window_start + WINDOW);
        all_zero = all_zero && window[..(scan_end - window_start) as usize].iter().all(|b| *b == 0);
        for candidate in window_start..scan_end {
            let at = (candidate - window_start) as usize;
            let Some(peek) = window.get(at..at + PEEK as usize) else {
                break; // too close to the end of the file for any frame
            };
            let (len, _) = header_fields(peek);
            let fits = candidate + FRAME_HEADER_BYTES as u64 + u64::from(len) <= end;
            if !plausible_len(len) || !fits || peek[FRAME_HEADER_BYTES] != RECORD_VERSION {
                continue;
            }
            let mut frame = vec![0; FRAME_HEADER_BYTES + len as usize];
            read_at(&mut frame, candidate)?;
            let Ok((payload, _)) = frame_at(&frame) else {
                continue;
            };
            if decode_envelope(payload).is_ok() {
                return Ok(Tail::ValidFrameAt(candidate));
            }
        }
        window_start = scan_end;
    }
    Ok(if all_zero { Tail::Zeros } else { Tail::Garbage })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn envelope() -> Envelope<'static> {
        Envelope {
            seq: 7,
            received_ns: 1_700_000_000_123_456_789,
            stream: "local",
            account: "acct-1",
            instance: "us-south",
            event_id: "ev-1",
        }
    }

    #[test]
    fn payload_layout_is_the_documented_one() {
        let payload = encode_payload(&envelope(), b"{}").unwrap();
        let mut expected = vec![1];
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&1_700_000_000_123_456_789i64.to_le_bytes());
        for text in ["local", "acct-1", "us-south", "ev-1"] {
            expected.extend_from_slice(&(text.len() as u16).to_le_bytes());
            expected.extend_from_slice(text.as_bytes());
        }
        expected.extend_from_slice(b"{}");
        assert_eq!(payload, expected);
    }

    #[test]
    fn frame_round_trips_and_detects_damage() {
        let mut frame = Vec::new();
        let len = write_frame(&mut frame, &envelope(), b"event bytes").unwrap();
        assert_eq!(len, frame.len());
        let (payload, parsed_len) = frame_at(&frame).unwrap();
        assert_eq!(parsed_len, len);
        let record = Record::from_payload(payload.to_vec()).unwrap();
        assert_eq!(record.event, b"event bytes");
        assert_eq!(record.instance, "us-south");
        assert_eq!(record.payload, payload);

        let mut damaged = frame.clone();
        damaged[len - 1] ^= 1;
        assert_eq!(frame_at(&damaged), Err(FrameError::BadChecksum));
        assert_eq!(frame_at(&frame[..len - 1]), Err(FrameError::Incomplete));
    }

    #[test]
    fn oversized_strings_are_rejected() {
        let long = "x".repeat(usize::from(u16::MAX) + 1);
        let envelope = Envelope { account: &long, ..envelope() };
        assert!(matches!(encode_payload(&envelope, b""), Err(LogError::InvalidRecord(_))));
    }

    #[test]
    fn tail_classification_finds_zeros_garbage_and_frames() {
        let classify = |bytes: &[u8]| {
            let read_at = |buf: &mut [u8], at: u64| {
                buf.copy_from_slice(&bytes[at as usize..at as usize + buf.len()]);
                Ok(())
            };
            classify_tail(&read_at, 0, bytes.len() as u64).unwrap()
        };
        assert_eq!(classify(&[0; 100]), Tail::Zeros);
        assert_eq!(classify(b"not a frame at all, only some text"), Tail::Garbage);
        let mut bytes = b"garbage".to_vec();
        write_frame(&mut bytes, &envelope(), b"x").unwrap();
        assert_eq!(classify(&bytes), Tail::ValidFrameAt(7));
    }
}
