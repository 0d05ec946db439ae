//! Sealed segments (`<day>.seg`): a finished day, compressed in blocks that can be read one at
//! a time, written once and never changed.
//!
//! ```text
//! file   = header | block* | index | footer
//! header = "ACTA-SEG" | format version u32 LE (=1) | reserved u32 (=0)                 16 bytes
//! block  = one zstd frame (with zstd's content checksum) inflating to consecutive frames
//!          of the .log, byte for byte (len | crc32c | payload)*
//! index  = entry* (one per block, in seq order)                                   32 bytes each
//! entry  = first_seq u64 | offset u64 | compressed_len u32 | raw_len u32 | records u32
//!          | crc32c(compressed block) u32
//! footer = index_offset u64 | block_count u32 | record_count u64 | first_seq u64
//!          | last_seq u64 | first_received_ns i64 | last_received_ns i64 | raw_bytes u64
//!          | crc32c(index) u32 | crc32c(footer bytes before this field) u32 | "ACTA-END"  76 bytes
//! ```
//! All integers are little-endian. Opening checks the header, footer and index (cheap);
//! each block's checksum and every frame in it are checked when the block is inflated.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::active::{ActiveSegment, Continuity, PositionedReader, Span};
use super::error::LogError;
use super::fsio::Io;
use super::record::{FRAME_HEADER_BYTES, FrameReader, NextFrame, decode_envelope, frame_at};
use super::{Day, Record, SegmentInfo};

const HEADER_MAGIC: &[u8; 8] = b"ACTA-SEG";
const FOOTER_MAGIC: &[u8; 8] = b"ACTA-END";
const FORMAT_VERSION: u32 = 1;
const HEADER_BYTES: u64 = 16;
const INDEX_ENTRY_BYTES: usize = 32;
const FOOTER_BYTES: usize = 76;

/// Sealed segments get a process-unique id to key the block cache.
static NEXT_SEGMENT_ID: AtomicU64 = AtomicU64::new(1);

/// One block of a sealed segment, as described by the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockEntry {
    first_seq: u64,
    offset: u64,
    compressed_len: u32,
    raw_len: u32,
    records: u32,
    crc: u32,
}

impl BlockEntry {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.first_seq.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.compressed_len.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.extend_from_slice(&self.records.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> BlockEntry {
        let mut fields = Fields { bytes, at: 0 };
        BlockEntry {
            first_seq: fields.u64(),
            offset: fields.u64(),
            compressed_len: fields.u32(),
            raw_len: fields.u32(),
            records: fields.u32(),
            crc: fields.u32(),
        }
    }
}

/// The footer's fields (everything but its own checksum and magic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Footer {
    index_offset: u64,
    block_count: u32,
    record_count: u64,
    span: Span,
    raw_bytes: u64,
    index_crc: u32,
}

const FOOTER_CRC_AT: usize = FOOTER_BYTES - 8 - 4;

impl Footer {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_BYTES);
        out.extend_from_slice(&self.index_offset.to_le_bytes());
        out.extend_from_slice(&self.block_count.to_le_bytes());
        out.extend_from_slice(&self.record_count.to_le_bytes());
        out.extend_from_slice(&self.span.first_seq.to_le_bytes());
        out.extend_from_slice(&self.span.last_seq.to_le_bytes());
        out.extend_from_slice(&self.span.first_received_ns.to_le_bytes());
        out.extend_from_slice(&self.span.last_received_ns.to_le_bytes());
        out.extend_from_slice(&self.raw_bytes.to_le_bytes());
        out.extend_from_slice(&self.index_crc.to_le_bytes());
        debug_assert_eq!(out.len(), FOOTER_CRC_AT);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(FOOTER_MAGIC);
        debug_assert_eq!(out.len(), FOOTER_BYTES);
        out
    }

    fn decode(bytes: &[u8; FOOTER_BYTES]) -> Result<Footer, &'static str> {
        if &bytes[FOOTER_BYTES - 8..] != FOOTER_MAGIC {
            return Err("no footer magic (incomplete or not a sealed segment)");
        }
        let mut fields = Fields { bytes, at: 0 };
        let footer = Footer {
            index_offset: fields.u64(),
            block_count: fields.u32(),
            record_count: fields.u64(),
            span: Span {
                first_seq: fields.u64(),
                last_seq: fields.u64(),
                first_received_ns: fields.i64(),
                last_received_ns: fields.i64(),
            },
            raw_bytes: fields.u64(),
            index_crc: fields.u32(),
        };
        let stored_crc = fields.u32();
        if crc32c::crc32c(&bytes[..FOOTER_CRC_AT]) != stored_crc {
            return Err("footer checksum mismatch");
        }
        Ok(footer)
    }
}

/// Little-endian fields from a slice whose length the caller checked.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut array = [0; N];
        array.copy_from_slice(&self.bytes[self.at..self.at + N]);
        self.at += N;
        array
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
}

/// A sealed segment, opened: its index in memory, blocks read on demand.
#[derive(Debug)]
pub(crate) struct SealedSegment {
    pub(crate) id: u64,
    pub(crate) day: Day,
    /// The instance every record must belong to (unknown when reading a file offline).
    instance: Option<String>,
    pub(crate) path: PathBuf,
    file: File,
    file_len: u64,
    footer: Footer,
    blocks: Vec<BlockEntry>,
}

/// An inflated block with the offset of each frame in it.
#[derive(Debug)]
pub(crate) struct InflatedBlock {
    first_seq: u64,
    data: Vec<u8>,
    offsets: Vec<usize>,
}

impl InflatedBlock {
    fn record(&self, seq: u64, path: &Path, block_offset: u64) -> Result<Record, LogError> {
        let corrupt = |reason: String| LogError::corrupt(path, block_offset, reason);
        let index = seq
            .checked_sub(self.first_seq)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < self.offsets.len())
            .ok_or_else(|| corrupt(format!("block does not hold seq {seq}")))?;
        let (payload, _) =
            frame_at(&self.data[self.offsets[index]..]).map_err(|e| corrupt(format!("inflated block: {e}")))?;
        Record::from_payload(payload.to_vec()).map_err(corrupt)
    }
}

impl SealedSegment {
    /// Opens a sealed segment, checking its structure (header, footer, index) and that it
    /// belongs to `day`. Blocks are checked when read.
    pub(crate) fn open(path: &Path, day: Day, instance: Option<&str>) -> Result<SealedSegment, LogError> {
        let io_err = |e| LogError::io(path, e);
        let file = File::open(path).map_err(io_err)?;
        let file_len = file.metadata().map_err(io_err)?.len();
        let corrupt = |offset: u64, reason: &str| LogError::corrupt(path, offset, reason);
        if file_len < HEADER_BYTES + FOOTER_BYTES as u64 {
            return Err(corrupt(0, "too short for a sealed segment"));
        }
        let mut header = [0; HEADER_BYTES as usize];
        file.read_exact_at(&mut header, 0).map_err(io_err)?;
        if &header[..8] != HEADER_MAGIC {
            return Err(corrupt(0, "no sealed segment magic"));
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if version != FORMAT_VERSION {
            return Err(corrupt(8, &format!("unknown sealed segment version {version}")));
        }
        let footer_offset = file_len - FOOTER_BYTES as u64;
        let mut footer_bytes = [0; FOOTER_BYTES];
        file.read_exact_at(&mut footer_bytes, footer_offset).map_err(io_err)?;
        let footer = Footer::decode(&footer_bytes).map_err(|r| corrupt(footer_offset, r))?;

        let index_len = u64::from(footer.block_count) * INDEX_ENTRY_BYTES as u64;
        if footer.index_offset.checked_add(index_len) != Some(footer_offset) {
            return Err(corrupt(footer_offset, "index does not end where the footer starts"));
        }
        let mut index = vec![0; index_len as usize];
        file.read_exact_at(&mut index, footer.index_offset).map_err(io_err)?;
        if crc32c::crc32c(&index) != footer.index_crc {
            return Err(corrupt(footer.index_offset, "index checksum mismatch"));
        }
        let blocks: Vec<BlockEntry> = index.chunks_exact(INDEX_ENTRY_BYTES).map(BlockEntry::decode).collect();
        check_index(&blocks, &footer, day).map_err(|r| corrupt(footer.index_offset, &r))?;
        Ok(SealedSegment {
            id: NEXT_SEGMENT_ID.fetch_add(1, Ordering::Relaxed),
            day,
            instance: instance.map(str::to_owned),
            path: path.to_owned(),
            file,
            file_len,
            footer,
            blocks,
        })
    }

    pub(crate) fn span(&self) -> Span {
        self.footer.span
    }

    pub(crate) fn info(&self, instance: &str) -> SegmentInfo {
        SegmentInfo {
            instance: instance.to_owned(),
            day: self.day,
            first_seq: self.footer.span.first_seq,
            last_seq: self.footer.span.last_seq,
            records: self.footer.record_count,
            bytes: self.file_len,
            sealed: true,
        }
    }

    /// The index of the block holding `seq`, if the segment holds it.
    fn block_of(&self, seq: u64) -> Option<usize> {
        let span = self.footer.span;
        if seq < span.first_seq || seq > span.last_seq {
            return None;
        }
        let after = self.blocks.partition_point(|block| block.first_seq <= seq);
        after.checked_sub(1)
    }

    /// Reads, checks and inflates one block: its checksum, zstd's, every frame's, and the seq
    /// continuity inside it.
    fn inflate(&self, block: usize) -> Result<InflatedBlock, LogError> {
        let entry = self.blocks[block];
        let corrupt = |reason: String| LogError::corrupt(&self.path, entry.offset, reason);
        let mut compressed = vec![0; entry.compressed_len as usize];
        self.file.read_exact_at(&mut compressed, entry.offset).map_err(|e| LogError::io(&self.path, e))?;
        if crc32c::crc32c(&compressed) != entry.crc {
            return Err(corrupt("block checksum mismatch".to_owned()));
        }
        let data = zstd::bulk::decompress(&compressed, entry.raw_len as usize)
            .map_err(|e| corrupt(format!("block does not inflate: {e}")))?;
        if data.len() != entry.raw_len as usize {
            return Err(corrupt(format!("block inflates to {} bytes, not {}", data.len(), entry.raw_len)));
        }
        let mut continuity =
            Continuity::new(&self.path, self.instance.as_deref(), Some(self.day)).expect_seq(entry.first_seq);
        let mut offsets = Vec::with_capacity(entry.records as usize);
        let mut at = 0;
        while at < data.len() {
            let (payload, frame_len) =
                frame_at(&data[at..]).map_err(|e| corrupt(format!("inflated byte {at}: {e}")))?;
            let (envelope, _) = decode_envelope(payload).map_err(|r| corrupt(format!("inflated byte {at}: {r}")))?;
            continuity.check(entry.offset, &envelope)?;
            offsets.push(at);
            at += frame_len;
        }
        if offsets.len() != entry.records as usize {
            return Err(corrupt(format!(
                "block holds {} records, its index entry says {}",
                offsets.len(),
                entry.records
            )));
        }
        Ok(InflatedBlock { first_seq: entry.first_seq, data, offsets })
    }

    /// Reads one record, inflating its block through the cache.
    pub(crate) fn read(&self, seq: u64, cache: &std::sync::Mutex<BlockCache>) -> Result<Option<Record>, LogError> {
        let Some(block) = self.block_of(seq) else {
            return Ok(None);
        };
        let key = (self.id, block);
        let cached = super::lock(cache).get(key);
        let inflated = match cached {
            Some(inflated) => inflated,
            None => {
                // Inflate outside the lock: concurrent readers of other blocks do not wait.
                let inflated = Arc::new(self.inflate(block)?);
                super::lock(cache).insert(key, Arc::clone(&inflated));
                inflated
            }
        };
        inflated.record(seq, &self.path, self.blocks[block].offset).map(Some)
    }

    /// The records of the block holding `from_seq`, from `from_seq` on; scans inflate without
    /// the cache, so a long scan does not evict the blocks point reads are using.
    pub(crate) fn read_batch(&self, from_seq: u64) -> Result<Vec<Record>, LogError> {
        let Some(block) = self.block_of(from_seq) else {
            return Ok(Vec::new());
        };
        let inflated = self.inflate(block)?;
        let block_offset = self.blocks[block].offset;
        let last_seq = inflated.first_seq + inflated.offsets.len() as u64 - 1;
        (from_seq..=last_seq).map(|seq| inflated.record(seq, &self.path, block_offset)).collect()
    }

    /// Checks every block and record; calls `visit` with each record in seq order.
    pub(crate) fn verify(&self, mut visit: impl FnMut(Record)) -> Result<(), LogError> {
        let mut raw_bytes = 0;
        let mut last_received_ns = i64::MIN;
        let mut first_instance: Option<String> = None;
        for (block, entry) in self.blocks.iter().enumerate() {
            let inflated = self.inflate(block)?;
            raw_bytes += inflated.data.len() as u64;
            for i in 0..inflated.offsets.len() {
                let record = inflated.record(inflated.first_seq + i as u64, &self.path, entry.offset)?;
                // Within a block `inflate` checks this; here it is checked across blocks too.
                if record.received_ns < last_received_ns {
                    let reason = format!("arrival time goes back at seq {}", record.seq);
                    return Err(LogError::corrupt(&self.path, entry.offset, reason));
                }
                last_received_ns = record.received_ns;
                let instance = first_instance.get_or_insert_with(|| record.instance.clone());
                if record.instance != *instance {
                    let reason = format!("seq {} belongs to another instance", record.seq);
                    return Err(LogError::corrupt(&self.path, entry.offset, reason));
                }
                visit(record);
            }
        }
        if raw_bytes != self.footer.raw_bytes {
            let reason = format!("blocks hold {raw_bytes} bytes, the footer says {}", self.footer.raw_bytes);
            return Err(LogError::corrupt(&self.path, self.footer.index_offset, reason));
        }
        Ok(())
    }
}

/// The index must tile the file between header and index, and the seqs of its blocks must
/// tile the footer's span.
fn check_index(blocks: &[BlockEntry], footer: &Footer, day: Day) -> Result<(), String> {
    let span = footer.span;
    if blocks.is_empty() || footer.record_count == 0 {
        return Err("a sealed segment without records".to_owned());
    }
    if span.last_seq.checked_sub(span.first_seq).map(|d| d + 1) != Some(footer.record_count) {
        return Err(format!("seqs {}..={} do not make {} records", span.first_seq, span.last_seq, footer.record_count));
    }
    if Day::from_ns(span.first_received_ns) != day || Day::from_ns(span.last_received_ns) != day {
        return Err(format!("records received outside {day}"));
    }
    let mut next_offset = HEADER_BYTES;
    let mut next_seq = span.first_seq;
    let mut raw_bytes = 0u64;
    for (i, block) in blocks.iter().enumerate() {
        if block.offset != next_offset || block.first_seq != next_seq || block.records == 0 {
            return Err(format!("index entry {i} does not follow the previous block"));
        }
        next_offset = block.offset + u64::from(block.compressed_len);
        next_seq = block.first_seq + u64::from(block.records);
        raw_bytes += u64::from(block.raw_len);
    }
    if next_offset != footer.index_offset {
        return Err("blocks do not end where the index starts".to_owned());
    }
    if next_seq != span.last_seq + 1 || raw_bytes != footer.raw_bytes {
        return Err("blocks do not add up to the footer's counts".to_owned());
    }
    Ok(())
}

/// A small LRU of inflated blocks, shared by all sealed segments of a log.
#[derive(Debug)]
pub(crate) struct BlockCache {
    capacity: usize,
    /// Most recently used first; a handful of entries, so a linear scan is cheapest.
    entries: VecDeque<((u64, usize), Arc<InflatedBlock>)>,
}

impl BlockCache {
    pub(crate) fn new(capacity: usize) -> BlockCache {
        BlockCache { capacity, entries: VecDeque::with_capacity(capacity) }
    }

    fn get(&mut self, key: (u64, usize)) -> Option<Arc<InflatedBlock>> {
        let position = self.entries.iter().position(|(k, _)| *k == key)?;
        let entry = self.entries.remove(position)?;
        let block = Arc::clone(&entry.1);
        self.entries.push_front(entry);
        Some(block)
    }

    fn insert(&mut self, key: (u64, usize), block: Arc<InflatedBlock>) {
        if self.capacity == 0 {
            return;
        }
        self.entries.retain(|(k, _)| *k != key);
        self.entries.push_front((key, block));
        self.entries.truncate(self.capacity);
    }

    /// Drops the blocks of a removed segment.
    pub(crate) fn purge(&mut self, segment_id: u64) {
        self.entries.retain(|((id, _), _)| *id != segment_id);
    }
}

/// How to build a sealed segment.
pub(crate) struct SealSettings<'a> {
    pub(crate) io: &'a Io,
    pub(crate) instance: &'a str,
    pub(crate) block_bytes: usize,
    pub(crate) zstd_level: i32,
}

/// Writes the sealed form of a closed active segment to `temp_path` and syncs it. The caller
/// renames it into place. Every frame is re-checked on the way, so damage that happened to
/// the `.log` since it was written stops sealing instead of being sealed in.
pub(crate) fn write_sealed(
    settings: &SealSettings<'_>,
    active: &ActiveSegment,
    temp_path: &Path,
) -> Result<(), LogError> {
    let io = settings.io;
    let log_path = &active.path;
    let durable = active.durable();
    let temp_err = |e| LogError::io(temp_path, e);

    let mut compressor = zstd::bulk::Compressor::new(settings.zstd_level).map_err(temp_err)?;
    compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).map_err(temp_err)?;
    let temp = io.create_temp(temp_path).map_err(temp_err)?;
    let mut header = Vec::with_capacity(HEADER_BYTES as usize);
    header.extend_from_slice(HEADER_MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    io.write_all(&temp, temp_path, &header).map_err(temp_err)?;

    let mut block_writer =
        BlockWriter { io, temp: &temp, temp_path, compressor, offset: HEADER_BYTES, entries: Vec::new() };
    let reader = BufReader::with_capacity(1 << 20, PositionedReader { file: active.file(), pos: 0 });
    let mut frames = FrameReader::new(reader, durable.end);
    let mut continuity =
        Continuity::new(log_path, Some(settings.instance), Some(active.day)).expect_seq(active.first_seq);
    let mut span: Option<Span> = None;
    let mut raw = Vec::with_capacity(settings.block_bytes + settings.block_bytes / 4);
    let mut block_first_seq = active.first_seq;
    let mut block_records = 0u32;
    let mut raw_bytes = 0u64;
    loop {
        let (offset, payload) = match frames.next_frame().map_err(|e| LogError::io(log_path, e))? {
            NextFrame::End => break,
            NextFrame::Frame { offset, payload } => (offset, payload),
            NextFrame::Bad { offset, error } => {
                return Err(LogError::corrupt(log_path, offset, format!("while sealing: {error}")));
            }
        };
        let (envelope, _) = decode_envelope(&payload).map_err(|r| LogError::corrupt(log_path, offset, r))?;
        continuity.check(offset, &envelope)?;
        let span = span.get_or_insert(Span {
            first_seq: envelope.seq,
            last_seq: envelope.seq,
            first_received_ns: envelope.received_ns,
            last_received_ns: envelope.received_ns,
        });
        span.last_seq = envelope.seq;
        span.last_received_ns = envelope.received_ns;
        if block_records == 0 {
            block_first_seq = envelope.seq;
        }
        raw.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        raw.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        raw.extend_from_slice(&payload);
        raw_bytes += (FRAME_HEADER_BYTES + payload.len()) as u64;
        block_records += 1;
        if raw.len() >= settings.block_bytes {
            block_writer.write_block(&raw, block_first_seq, block_records)?;
            raw.clear();
            block_records = 0;
        }
    }
    if block_records > 0 {
        block_writer.write_block(&raw, block_first_seq, block_records)?;
    }
    let Some(span) = span else {
        return Err(LogError::corrupt(log_path, 0, "nothing to seal in an empty segment"));
    };
    let sealed_records = span.last_seq - span.first_seq + 1;
    if sealed_records != durable.records {
        let reason = format!("found {sealed_records} records to seal, expected {}", durable.records);
        return Err(LogError::corrupt(log_path, durable.end, reason));
    }

    let mut index = Vec::with_capacity(block_writer.entries.len() * INDEX_ENTRY_BYTES);
    for entry in &block_writer.entries {
        entry.encode(&mut index);
    }
    let footer = Footer {
        index_offset: block_writer.offset,
        block_count: u32::try_from(block_writer.entries.len())
            .map_err(|_| LogError::InvalidRecord("too many blocks in one day".to_owned()))?,
        record_count: sealed_records,
        span,
        raw_bytes,
        index_crc: crc32c::crc32c(&index),
    };
    index.extend_from_slice(&footer.encode());
    io.write_all(&temp, temp_path, &index).map_err(temp_err)?;
    io.sync_all(&temp, temp_path).map_err(temp_err)
}

struct BlockWriter<'a> {
    io: &'a Io,
    temp: &'a File,
    temp_path: &'a Path,
    compressor: zstd::bulk::Compressor<'static>,
    offset: u64,
    entries: Vec<BlockEntry>,
}

impl BlockWriter<'_> {
    fn write_block(&mut self, raw: &[u8], first_seq: u64, records: u32) -> Result<(), LogError> {
        let temp_err = |e| LogError::io(self.temp_path, e);
        let compressed = self.compressor.compress(raw).map_err(temp_err)?;
        // Inflate it back before trusting it: the .log is deleted after sealing, so this copy
        // must be right, and a check now costs far less than a lost day later.
        let round_trip = zstd::bulk::decompress(&compressed, raw.len()).map_err(temp_err)?;
        if round_trip != raw {
            let reason = "compressed block does not inflate to its input";
            return Err(LogError::corrupt(self.temp_path, self.offset, reason));
        }
        let too_big = |_| LogError::InvalidRecord("block larger than 4 GiB".to_owned());
        let entry = BlockEntry {
            first_seq,
            offset: self.offset,
            compressed_len: u32::try_from(compressed.len()).map_err(too_big)?,
            raw_len: u32::try_from(raw.len()).map_err(too_big)?,
            records,
            crc: crc32c::crc32c(&compressed),
        };
        self.io.write_all(self.temp, self.temp_path, &compressed).map_err(temp_err)?;
        self.offset += compressed.len() as u64;
        self.entries.push(entry);
        Ok(())
    }
}
