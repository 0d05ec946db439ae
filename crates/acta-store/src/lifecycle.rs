//! A sealed day's way out of the store: who archives it ([`ArchiveClaim`]), what archiving reads of it (its
//! files, final checkpoint, arrival range, events) and the removals retention makes, each durable before it
//! returns. Blocking work runs off the async threads.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::log::{self, SegmentInfo};
use crate::{Day, Store, StoreError, integrity};

/// One file of an archived day: its name in the archive and its bytes.
pub struct DayFile {
    /// The name in the day's archive directory (`<day>.seg`, `<day>.notes`, `<day>.leaves`, `keys`,
    /// `events.ndjson.zst`).
    pub name: String,
    source: Source,
}

enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl DayFile {
    /// Its bytes, read in chunks (a segment can be large).
    pub async fn open(&self) -> Result<Box<dyn tokio::io::AsyncRead + Unpin + Send>, StoreError> {
        match &self.source {
            Source::File(path) => {
                let file = tokio::fs::File::open(path).await.map_err(|source| io_error(path, source))?;
                Ok(Box::new(file))
            }
            Source::Bytes(bytes) => Ok(Box::new(std::io::Cursor::new(bytes.clone()))),
        }
    }
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io { path: path.to_path_buf(), source }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| StoreError::Task(error.to_string()))?
}

/// The right to archive an instance's sealed days now. In the embedded mode the one process always has it; in
/// a cluster, one node at a time per instance (a lease in the cluster's PostgreSQL,
/// [`crate::cluster::Lease`]), so two nodes never write the same day to an archive at once nor each report
/// its failures. Whoever holds it must read what the archive already holds (`Meta::archived_segments`) after
/// taking it, since another node may have just archived.
pub struct ArchiveClaim(Option<crate::cluster::Lease>);

impl ArchiveClaim {
    /// Gives it back once the pass and its records are done.
    pub async fn release(self) {
        if let Some(lease) = self.0 {
            lease.release().await;
        }
    }
}

impl Store {
    /// Claims the archiving of `instance` (see [`ArchiveClaim`]): `Ok(None)` while another node of the cluster
    /// archives it.
    pub async fn claim_archiving(&self, instance: &str) -> Result<Option<ArchiveClaim>, StoreError> {
        match &self.cluster {
            Some(node) => Ok(node.log.try_archive_lease(instance).await?.map(|lease| ArchiveClaim(Some(lease)))),
            None => Ok(Some(ArchiveClaim(None))),
        }
    }

    /// Seals every segment of a day before `day` (see [`log::Log::seal_before`]).
    pub async fn seal_before(&self, day: Day) -> Result<(), StoreError> {
        let log = self.log.clone();
        blocking(move || Ok(log.seal_before(day)?)).await
    }

    /// The files of a sealed day as an archive holds them: the segment, and with checkpoints on, its notes,
    /// its leaves when kept, and the verifier keys as they are now (a key added later cannot have signed this
    /// day's final checkpoint); with `ndjson`, its events one per line, zstd-compressed.
    pub async fn day_files(&self, segment: &SegmentInfo, ndjson: bool) -> Result<Vec<DayFile>, StoreError> {
        let (instance, day) = (segment.instance.as_str(), segment.day);
        let mut files =
            vec![DayFile { name: format!("{day}.seg"), source: Source::File(self.log.segment_path(instance, day)) }];
        if self.integrity.is_some() {
            let notes = integrity::files::notes_path(&self.dir, instance, day);
            files.push(DayFile { name: format!("{day}.notes"), source: Source::File(notes) });
            let leaves = integrity::files::leaves_path(&self.dir, instance, day);
            if leaves.exists() {
                files.push(DayFile { name: format!("{day}.leaves"), source: Source::File(leaves) });
            }
            let keys = integrity::files::keys_path(&self.dir);
            if keys.exists() {
                let bytes = tokio::fs::read(&keys).await.map_err(|source| io_error(&keys, source))?;
                files.push(DayFile { name: "keys".to_string(), source: Source::Bytes(bytes) });
            }
        }
        if ndjson {
            let bytes = self.ndjson_zst(segment).await?;
            files.push(DayFile { name: "events.ndjson.zst".to_string(), source: Source::Bytes(bytes) });
        }
        Ok(files)
    }

    /// Each record's event bytes as received, one per line, zstd-compressed.
    async fn ndjson_zst(&self, segment: &SegmentInfo) -> Result<Vec<u8>, StoreError> {
        let log = self.log.clone();
        let segment = segment.clone();
        blocking(move || {
            let compressing = |source| StoreError::Io { path: PathBuf::from("events.ndjson.zst"), source };
            let mut encoder = zstd::Encoder::new(Vec::new(), 3).map_err(compressing)?;
            for record in log.scan(&segment.instance, segment.day, segment.first_seq)? {
                let record = record?;
                encoder.write_all(&record.event).map_err(compressing)?;
                encoder.write_all(b"\n").map_err(compressing)?;
            }
            encoder.finish().map_err(compressing)
        })
        .await
    }

    /// The final signed checkpoint of a sealed segment, signing it first if the checkpointer has not yet
    /// (`None` when the server runs without checkpoints).
    pub async fn final_checkpoint(&self, instance: &str, day: Day) -> Result<Option<String>, StoreError> {
        let Some(integrity) = self.integrity.clone() else {
            return Ok(None);
        };
        let path = integrity::files::notes_path(&self.dir, instance, day);
        let owned = instance.to_string();
        let last = blocking(move || {
            integrity.sync_instance(&owned)?;
            integrity::files::last_note(&path).map_err(|source| io_error(&path, source))
        })
        .await?;
        match last {
            Some(entry) if entry.is_final => Ok(Some(entry.note)),
            _ => Err(StoreError::NotFinal(day)),
        }
    }

    /// Arrival times of a segment's first and last records.
    pub async fn received_range(&self, segment: &SegmentInfo) -> Result<(i64, i64), StoreError> {
        let log = self.log.clone();
        let segment = segment.clone();
        blocking(move || {
            let first = log.read(&segment.instance, segment.day, segment.first_seq)?;
            let last = log.read(&segment.instance, segment.day, segment.last_seq)?;
            Ok((first.received_ns, last.received_ns))
        })
        .await
    }

    /// Deletes an instance's documents of a day from the index (see [`crate::EventIndex::remove_partition`]).
    pub async fn remove_from_index(&self, instance: &str, day: Day, last_seq: u64) -> Result<(), StoreError> {
        let (index, instance) = (self.index.clone(), instance.to_string());
        blocking(move || Ok(index.remove_partition(&instance, day, last_seq)?)).await
    }

    /// Removes an instance's log segment of a day, its `RETIRED` note first (see [`log::Log::remove_segment`]).
    pub async fn remove_segment(&self, instance: &str, day: Day) -> Result<(), StoreError> {
        let (log, instance) = (self.log.clone(), instance.to_string());
        blocking(move || Ok(log.remove_segment(&instance, day)?)).await
    }

    /// Removes the `.leaves` file of a removed segment; its `.notes` stay, so `acta verify` links the next
    /// segment to the final checkpoint.
    pub async fn remove_leaves(&self, instance: &str, day: Day) -> Result<(), StoreError> {
        let leaves = integrity::files::leaves_path(&self.dir, instance, day);
        blocking(move || remove_durably(&leaves)).await
    }

    /// Removes the `.leaves` files of days the log has retired (left by a crash between the removal of a
    /// segment and of its leaves).
    pub async fn remove_retired_leaves(&self, instance: &str) -> Result<(), StoreError> {
        let log_dir = self.dir.join("log").join(instance);
        let checkpoints = integrity::files::instance_dir(&self.dir, instance);
        let kept: Vec<Day> = self.log.segments(instance).iter().map(|segment| segment.day).collect();
        blocking(move || {
            let Some((retired_day, _)) = log::read_retired(&log_dir)? else {
                return Ok(());
            };
            let days = integrity::files::note_days(&checkpoints).map_err(|source| io_error(&checkpoints, source))?;
            for day in days {
                if day <= retired_day && !kept.contains(&day) {
                    remove_durably(&checkpoints.join(format!("{day}.leaves")))?;
                }
            }
            Ok(())
        })
        .await
    }
}

/// Removes a file, and makes the removal durable (its directory synced); a file already gone is fine.
fn remove_durably(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_error(path, error)),
    }
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(|source| io_error(dir, source))?;
    }
    Ok(())
}
