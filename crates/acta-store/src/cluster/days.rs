//! Sealed days in object storage. The node holding the jobs' lease writes each day its copy sealed, under
//! `days/<day>/<write>/`: every instance's segment and checkpoints and the day's index partition, at the paths
//! they have in a data directory, then `MANIFEST.json` naming each file with its size and SHA-256; it reads every
//! object back, lists the day in PostgreSQL (`log_sealed_days`) and only then drops the day's partition of the
//! log. A node opening without a listed day (a new node, or one that was down while the day was dropped) takes
//! it from object storage before it opens its log: its index opens the partition as written, so the node
//! searches the day without indexing it, and follows PostgreSQL from the day's last records on.
//!
//! Retention reaches object storage the same way: once the lease holder's retention removed an instance's day
//! from its copy, the day is written again without it (a new write, listed in place of the old one, whose
//! objects are then deleted), or deleted whole when no instance of it is left; the listing keeps where each
//! removed instance ended the day, so a node lacking the day retires it as its own retention would have.
//!
//! Invariants: a day's `log_records` partition is dropped only after the day is listed, and a day is listed only
//! after every object of it was read back equal to what the manifest says; the objects of a listed write are
//! deleted only after another write (or none) is listed in its place.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt as _;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::archives::layout::FileEntry;
use crate::integrity::files::to_hex;
use crate::log::SegmentInfo;
use crate::pglog::{DayEnd, PgLog, SealedDay};
use crate::{Day, Store, StoreError, integrity};

/// The `format` of every manifest this version writes and reads.
pub(crate) const FORMAT: &str = "acta-cluster-day 1";

const MANIFEST: &str = "MANIFEST.json";

/// Why a day could not be written to or taken from object storage.
#[derive(Debug, thiserror::Error)]
pub enum DaysError {
    /// `--object-store` is not a URL Acta reads.
    #[error("object store {url}: {reason} (use s3://bucket/prefix or file:///path)")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Object storage refused or failed.
    #[error("object store, {context}: {source}")]
    Objects {
        /// What was being done, naming the object.
        context: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// An object differs from what its manifest (or PostgreSQL's listing of the manifest) says.
    #[error("object store: {0}")]
    Mismatch(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

fn objects(context: impl Into<String>) -> impl FnOnce(object_store::Error) -> DaysError {
    let context = context.into();
    move |source| DaysError::Objects { context, source }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DaysError {
    let path = path.to_path_buf();
    move |source| DaysError::Io { path, source }
}

/// `MANIFEST.json` of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayManifest {
    /// [`FORMAT`].
    pub format: String,
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// The node that wrote it.
    pub node: String,
    /// Each instance's last seq of the day.
    pub last_seqs: BTreeMap<String, u64>,
    /// The verifier key of the checkpoints' signer (`None` without checkpoints).
    pub signing_key: Option<String>,
    /// Every other object of the day, by its path in a data directory.
    pub files: BTreeMap<String, FileEntry>,
}

/// The cluster's object storage for sealed days (`--object-store`).
#[derive(Clone)]
pub struct SealedDays {
    objects: Arc<dyn ObjectStore>,
}

impl SealedDays {
    /// Opens `s3://bucket/prefix` (endpoint, region and credentials from the usual `AWS_*` variables) or
    /// `file:///path` (created if missing).
    pub fn open(url: &str) -> Result<SealedDays, DaysError> {
        let refused = |reason: &str| DaysError::Url { url: url.to_owned(), reason: reason.to_owned() };
        let objects: Arc<dyn ObjectStore> = if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(refused("a file:// URL needs an absolute path"));
            }
            std::fs::create_dir_all(path).map_err(io(Path::new(path)))?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(path)
                .map_err(|error| refused(&error.to_string()))?;
            Arc::new(local)
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(refused("no bucket"));
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|error| refused(&error.to_string()))?;
            let prefix = prefix.trim_matches('/');
            if prefix.is_empty() { Arc::new(s3) } else { Arc::new(object_store::prefix::PrefixStore::new(s3, prefix)) }
        } else {
            return Err(refused("not an s3:// or file:// URL"));
        };
        Ok(SealedDays { objects })
    }

    /// Writes one object from a local file, returning its size and SHA-256.
    async fn put_file(&self, name: &str, path: &Path) -> Result<FileEntry, DaysError> {
        let mut file = tokio::fs::File::open(path).await.map_err(io(path))?;
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut writer = object_store::buffered::BufWriter::new(self.objects.clone(), ObjectPath::from(name));
        let mut buffer = vec![0; 1 << 20];
        let failed = |error: std::io::Error| DaysError::Io { path: PathBuf::from(name), source: error };
        loop {
            let read = file.read(&mut buffer).await.map_err(io(path))?;
            let Some(chunk) = buffer.get(..read).filter(|chunk| !chunk.is_empty()) else { break };
            hasher.update(chunk);
            written += read as u64;
            writer.write_all(chunk).await.map_err(failed)?;
        }
        writer.shutdown().await.map_err(failed)?;
        Ok(FileEntry { bytes: written, sha256: to_hex(&hasher.finalize()) })
    }

    /// Reads an object whole and checks it against `described`.
    async fn get_checked(&self, name: &str, described: &FileEntry) -> Result<Vec<u8>, DaysError> {
        let got = self.objects.get(&ObjectPath::from(name)).await.map_err(objects(format!("reading {name}")))?;
        let mut stream = got.into_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(objects(format!("reading {name}")))?);
        }
        let sha256 = to_hex(&Sha256::digest(&bytes));
        if bytes.len() as u64 != described.bytes || sha256 != described.sha256 {
            return Err(DaysError::Mismatch(format!(
                "{name} reads as {} bytes with SHA-256 {sha256}, not the {} bytes with SHA-256 {} its manifest says",
                bytes.len(),
                described.bytes,
                described.sha256
            )));
        }
        Ok(bytes)
    }

    /// A listed day's manifest, checked against the SHA-256 PostgreSQL lists for it.
    async fn manifest(&self, listed: &SealedDay) -> Result<DayManifest, DaysError> {
        let (day, name) = (listed.day, format!("{}/{MANIFEST}", listed.objects));
        let got =
            self.objects.get(&ObjectPath::from(name.as_str())).await.map_err(objects(format!("reading {name}")))?;
        let bytes = got.bytes().await.map_err(objects(format!("reading {name}")))?;
        if to_hex(&Sha256::digest(&bytes)) != listed.manifest_sha256 {
            return Err(DaysError::Mismatch(format!("{name} is not the manifest PostgreSQL lists for {day}")));
        }
        let manifest: DayManifest = serde_json::from_slice(&bytes)
            .map_err(|error| DaysError::Mismatch(format!("{name} is not a manifest: {error}")))?;
        if manifest.format != FORMAT || manifest.day != day.to_string() {
            return Err(DaysError::Mismatch(format!(
                "{name} is of format {:?} for day {}",
                manifest.format, manifest.day
            )));
        }
        let listed_seqs: BTreeMap<String, u64> =
            listed.last_seqs.iter().map(|(instance, end)| (instance.clone(), end.last_seq)).collect();
        if manifest.last_seqs != listed_seqs {
            return Err(DaysError::Mismatch(format!("{name} holds other instances or seqs than PostgreSQL lists")));
        }
        Ok(manifest)
    }

    /// Deletes every object under `days/<day>/` but those of the write `keep` (the objects of a write no longer
    /// listed, or left by a write that failed before it was listed).
    async fn delete_unlisted(&self, day: Day, keep: Option<&str>) -> Result<(), DaysError> {
        let prefix = ObjectPath::from(format!("days/{day}"));
        let listed: Vec<object_store::ObjectMeta> = self
            .objects
            .list(Some(&prefix))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(objects(format!("listing days/{day}")))?;
        let keep = keep.map(|write| format!("{write}/"));
        for object in listed {
            if keep.as_ref().is_some_and(|keep| object.location.as_ref().starts_with(keep.as_str())) {
                continue;
            }
            let name = object.location.to_string();
            self.objects.delete(&object.location).await.map_err(objects(format!("deleting {name}")))?;
        }
        Ok(())
    }
}

/// Takes from object storage every day PostgreSQL lists that `data_dir` lacks (an instance of the day has no
/// sealed segment there, and retention has not removed it), replacing what the directory holds of the day.
/// Runs before the log and the index open.
/// `signing_key` is the verifier key this node signs with: a day signed with another is refused, since this
/// node's checkpoints could not follow on from it.
pub(crate) async fn restore(
    data_dir: &Path,
    cluster_log: &PgLog,
    days: &SealedDays,
    signing_key: Option<&str>,
) -> Result<Vec<Day>, StoreError> {
    let mut restored = Vec::new();
    for listed in cluster_log.sealed_days().await? {
        // The listing names instances, which become paths here: only valid instance ids.
        for instance in listed.retired.keys().chain(listed.last_seqs.keys()) {
            crate::log::validate_instance(instance)?;
        }
        for (instance, end) in &listed.retired {
            let dir = data_dir.join("log").join(instance);
            if crate::log::retire_unopened(&dir, listed.day, end.last_seq, end.last_received_ns)? {
                tracing::info!(instance, day = %listed.day, "retention removed this day in the cluster: retired here too");
            }
        }
        let mut wanted = Vec::new();
        for instance in listed.last_seqs.keys() {
            let dir = data_dir.join("log").join(instance);
            let retired = crate::log::read_retired(&dir)?.is_some_and(|(day, _)| day >= listed.day);
            if !retired {
                wanted.push(instance.clone());
            }
        }
        // Decided from PostgreSQL's listing and local files alone: a node that holds its days starts without
        // object storage.
        let missing = wanted.iter().any(|instance| !segment_path(data_dir, instance, listed.day, "seg").exists());
        if !missing {
            continue;
        }
        let manifest = days.manifest(&listed).await?;
        if let (Some(theirs), Some(ours)) = (manifest.signing_key.as_deref(), signing_key)
            && theirs != ours
        {
            return Err(DaysError::Mismatch(format!(
                "sealed day {} in object storage is signed with the key {theirs}, this node signs with {ours}: \
                 give every node of a cluster the same --signing-key",
                listed.day
            ))
            .into());
        }
        restore_day(data_dir, days, &listed, &manifest, &wanted).await?;
        tracing::info!(day = %listed.day, instances = wanted.len(), "sealed day taken from object storage");
        restored.push(listed.day);
    }
    Ok(restored)
}

fn segment_path(data_dir: &Path, instance: &str, day: Day, extension: &str) -> PathBuf {
    data_dir.join("log").join(instance).join(format!("{day}.{extension}"))
}

/// Writes a day's partition beside its place and renames it there (an index opening with a half-written one
/// would drop it: its name is not a day), then each wanted instance's files; what the directory held of the
/// day, a prefix of the same records, is replaced.
async fn restore_day(
    data_dir: &Path,
    days: &SealedDays,
    listed: &SealedDay,
    manifest: &DayManifest,
    wanted: &[String],
) -> Result<(), StoreError> {
    let (day, objects) = (listed.day, &listed.objects);
    let partitions = data_dir.join("index").join("days");
    let partition = partitions.join(day.to_string());
    let staging = partitions.join(format!("{day}.restoring"));
    for stale in [&staging, &partition] {
        if stale.exists() {
            tokio::fs::remove_dir_all(stale).await.map_err(io(stale)).map_err(StoreError::from)?;
        }
    }
    let index_prefix = format!("index/days/{day}/");
    for (name, described) in &manifest.files {
        data_path(day, name)?;
        let Some(file) = name.strip_prefix(&index_prefix) else { continue };
        let path = staging.join(file);
        write_durably(&path, days.get_checked(&format!("{objects}/{name}"), described).await?).await?;
    }
    if staging.exists() {
        tokio::fs::rename(&staging, &partition).await.map_err(io(&partition)).map_err(StoreError::from)?;
    }
    for instance in wanted {
        let open = segment_path(data_dir, instance, day, "log");
        if open.exists() {
            tokio::fs::remove_file(&open).await.map_err(io(&open)).map_err(StoreError::from)?;
        }
    }
    for (name, described) in &manifest.files {
        let relative = data_path(day, name)?;
        let of_wanted = name.split('/').nth(1).is_some_and(|instance| wanted.iter().any(|wanted| wanted == instance));
        if name.starts_with(&index_prefix) || !of_wanted {
            continue;
        }
        let bytes = days.get_checked(&format!("{objects}/{name}"), described).await?;
        write_durably(&data_dir.join(relative), bytes).await?;
    }
    Ok(())
}

/// A manifest's file name as a path in the data directory: only the day's own files, never outside it.
fn data_path(day: Day, name: &str) -> Result<PathBuf, DaysError> {
    let path = Path::new(name);
    let plain = path.components().all(|component| matches!(component, Component::Normal(_)));
    let day_text = day.to_string();
    let parts: Vec<&str> = name.split('/').collect();
    let of_the_day = match parts.as_slice() {
        ["log", _, file] | ["checkpoints", _, file] => file.starts_with(&day_text),
        ["index", "days", partition, _] => *partition == day_text,
        _ => false,
    };
    if plain && of_the_day {
        Ok(path.to_path_buf())
    } else {
        Err(DaysError::Mismatch(format!("the manifest of {day} names {name:?}, which is not a file of that day")))
    }
}

async fn write_durably(path: &Path, bytes: Vec<u8>) -> Result<(), DaysError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let partial = path.with_file_name(format!("{name}.restoring"));
        let mut file = std::fs::File::create(&partial).map_err(io(&partial))?;
        std::io::Write::write_all(&mut file, &bytes).map_err(io(&partial))?;
        file.sync_all().map_err(io(&partial))?;
        std::fs::rename(&partial, &path).map_err(io(&path))?;
        std::fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(io(dir))
    })
    .await
    .map_err(|error| DaysError::Io { path: PathBuf::from("restoring"), source: std::io::Error::other(error) })?
}

impl Store {
    /// Whether this node writes sealed days to object storage (cluster mode with `--object-store`).
    pub fn writes_sealed_days(&self) -> bool {
        self.cluster.is_some() && self.sealed_days.is_some()
    }

    /// Cluster mode with object storage: seals the days this node's copy has closed, writes each one object
    /// storage does not hold yet, lists it in PostgreSQL, and drops its partition of the log. Returns the days
    /// written. A day whose index or checkpoints are not final yet waits for a later call.
    pub async fn write_sealed_days(&self) -> Result<Vec<Day>, StoreError> {
        let (Some(super::Node { log: cluster_log, .. }), Some(days)) = (&self.cluster, &self.sealed_days) else {
            return Ok(Vec::new());
        };
        // Days before the copy's today are closed on every instance (the copy closes a day a day late).
        let before = self.log.today();
        self.seal_before(before).await?;
        let listing = cluster_log.sealed_days().await?;
        let listed: std::collections::BTreeSet<Day> = listing.iter().map(|listed| listed.day).collect();
        let mut by_day: BTreeMap<Day, Vec<SegmentInfo>> = BTreeMap::new();
        for instance in self.log.instances() {
            for segment in self.log.segments(&instance) {
                by_day.entry(segment.day).or_default().push(segment);
            }
        }
        // A day retention removed here before it was written has no segment left but a partition still.
        let partitions = cluster_log.partition_days().await?;
        let days_to_write: std::collections::BTreeSet<Day> = by_day
            .keys()
            .chain(partitions.iter())
            .copied()
            .filter(|day| *day < before && !listed.contains(day))
            .collect();
        let mut written = Vec::new();
        for day in days_to_write {
            let segments = by_day.get(&day).map_or(&[][..], Vec::as_slice);
            if segments.iter().any(|segment| !segment.sealed) {
                continue;
            }
            let marks: Vec<(String, u64)> =
                segments.iter().map(|segment| (segment.instance.clone(), segment.last_seq)).collect();
            if !self.index.searchable(&marks) {
                continue;
            }
            let retired = self.retired_through(day, segments)?;
            // Nothing PostgreSQL holds of the day may be dropped that this copy neither holds nor has retired.
            let accounted = cluster_log.day_instances(day).await?.into_iter().all(|instance| {
                segments.iter().any(|segment| segment.instance == instance) || retired.contains_key(&instance)
            });
            if !accounted {
                tracing::warn!(%day, "this node's copy lacks records PostgreSQL holds of a closed day; not written yet");
                continue;
            }
            let written_ns = crate::log::system_clock_ns();
            let listed = if segments.is_empty() {
                let (objects, manifest_sha256, last_seqs) = (String::new(), String::new(), BTreeMap::new());
                SealedDay { day, objects, manifest_sha256, last_seqs, retired }
            } else {
                let objects = format!("days/{day}/{written_ns}");
                let (manifest_sha256, last_seqs) = self.write_day(days, day, segments, &objects).await?;
                SealedDay { day, objects, manifest_sha256, last_seqs, retired }
            };
            cluster_log.list_sealed_day(&listed, None, written_ns).await?;
            cluster_log.drop_sealed_day(day).await?;
            tracing::info!(%day, instances = segments.len(), "sealed day written to object storage");
            written.push(day);
        }
        for listed in &listing {
            self.apply_retention(cluster_log, days, listed, by_day.get(&listed.day).map_or(&[], Vec::as_slice)).await?;
        }
        // Days listed whose partitions are still there: the node that wrote them died before dropping them.
        for day in listed.into_iter().filter(|day| partitions.contains(day)) {
            cluster_log.drop_sealed_day(day).await?;
        }
        Ok(written)
    }

    /// Where each instance this copy holds no segment of on `day` but has retired through it ends (its
    /// `RETIRED` note): what a node lacking the day retires.
    fn retired_through(&self, day: Day, segments: &[SegmentInfo]) -> Result<BTreeMap<String, DayEnd>, StoreError> {
        let mut retired = BTreeMap::new();
        for instance in self.log.instances() {
            if segments.iter().any(|segment| segment.instance == instance) {
                continue;
            }
            let note = crate::log::read_retired_note(&self.dir.join("log").join(&instance))?;
            if let Some((through, last_seq, last_received_ns)) = note
                && through >= day
            {
                retired.insert(instance, DayEnd { last_seq, last_received_ns });
            }
        }
        Ok(retired)
    }

    /// Writes a listed day again without the instances this node's retention removed from it (the removal is
    /// the `RETIRED` note of the instance's log), or deletes it whole when none is left. An instance of the day
    /// this node holds no sealed segment of, without having retired it, leaves the day as it is.
    async fn apply_retention(
        &self,
        cluster_log: &PgLog,
        days: &SealedDays,
        listed: &SealedDay,
        segments: &[SegmentInfo],
    ) -> Result<(), StoreError> {
        let mut expired = BTreeMap::new();
        let mut kept = Vec::new();
        for (instance, end) in &listed.last_seqs {
            let dir = self.dir.join("log").join(instance);
            if crate::log::read_retired(&dir)?.is_some_and(|(day, _)| day >= listed.day) {
                expired.insert(instance.clone(), *end);
                continue;
            }
            match segments.iter().find(|segment| &segment.instance == instance && segment.sealed) {
                Some(segment) => kept.push(segment.clone()),
                None => {
                    tracing::warn!(instance, day = %listed.day,
                        "this node holds no segment of a sealed day it has not retired; the day stays as written");
                    return Ok(());
                }
            }
        }
        if expired.is_empty() {
            return Ok(());
        }
        let written_ns = crate::log::system_clock_ns();
        let mut retired = listed.retired.clone();
        retired.extend(expired);
        let replacement = if kept.is_empty() {
            let (objects, manifest_sha256, last_seqs) = (String::new(), String::new(), BTreeMap::new());
            SealedDay { day: listed.day, objects, manifest_sha256, last_seqs, retired }
        } else {
            let objects = format!("days/{}/{written_ns}", listed.day);
            let (manifest_sha256, last_seqs) = self.write_day(days, listed.day, &kept, &objects).await?;
            SealedDay { day: listed.day, objects, manifest_sha256, last_seqs, retired }
        };
        if cluster_log.list_sealed_day(&replacement, Some(&listed.objects), written_ns).await? {
            let keep = Some(replacement.objects.as_str()).filter(|objects| !objects.is_empty());
            days.delete_unlisted(listed.day, keep).await?;
            tracing::info!(day = %listed.day, instances = replacement.last_seqs.len(),
                "retention applied to a sealed day in object storage");
        }
        Ok(())
    }

    /// Writes one day's objects under `objects`, reads them back, then its manifest; returns the manifest's
    /// SHA-256 and where each instance ends the day.
    async fn write_day(
        &self,
        days: &SealedDays,
        day: Day,
        segments: &[SegmentInfo],
        objects: &str,
    ) -> Result<(String, BTreeMap<String, DayEnd>), StoreError> {
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        let mut ends = BTreeMap::new();
        for segment in segments {
            let instance = segment.instance.as_str();
            let (_, last_received_ns) = self.received_range(segment).await?;
            ends.insert(instance.to_owned(), DayEnd { last_seq: segment.last_seq, last_received_ns });
            files.push((format!("log/{instance}/{day}.seg"), self.log.segment_path(instance, day)));
            if self.integrity.is_some() {
                self.final_checkpoint(instance, day).await?;
                files.push((
                    format!("checkpoints/{instance}/{day}.notes"),
                    integrity::files::notes_path(&self.dir, instance, day),
                ));
                let leaves = integrity::files::leaves_path(&self.dir, instance, day);
                if leaves.exists() {
                    files.push((format!("checkpoints/{instance}/{day}.leaves"), leaves));
                }
            }
        }
        let partition = self.index.partition_dir(day);
        let meta = partition.join("meta.json");
        let meta_before = tokio::fs::read(&meta).await.map_err(io(&meta)).map_err(StoreError::from)?;
        let mut listing = tokio::fs::read_dir(&partition).await.map_err(io(&partition)).map_err(StoreError::from)?;
        while let Some(entry) = listing.next_entry().await.map_err(io(&partition)).map_err(StoreError::from)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Locks are the writer's, not the partition's.
            if name.ends_with(".lock") || !entry.path().is_file() {
                continue;
            }
            files.push((format!("index/days/{day}/{name}"), entry.path()));
        }
        let mut described = BTreeMap::new();
        for (name, path) in &files {
            let entry = days.put_file(&format!("{objects}/{name}"), path).await?;
            described.insert(name.clone(), entry);
        }
        // A merge that finished meanwhile changed the partition: written again at the next call.
        let meta_after = tokio::fs::read(&meta).await.map_err(io(&meta)).map_err(StoreError::from)?;
        if meta_after != meta_before {
            return Err(
                DaysError::Mismatch(format!("the index partition of {day} changed while it was written")).into()
            );
        }
        for (name, entry) in &described {
            days.get_checked(&format!("{objects}/{name}"), entry).await?;
        }
        let manifest = DayManifest {
            format: FORMAT.to_owned(),
            day: day.to_string(),
            node: self.cluster_node().unwrap_or_default().to_owned(),
            last_seqs: ends.iter().map(|(instance, end)| (instance.clone(), end.last_seq)).collect(),
            signing_key: self.integrity.as_ref().map(|integrity| integrity.verifier_key().to_text()),
            files: described,
        };
        let mut bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|error| DaysError::Mismatch(format!("the manifest of {day}: {error}")))?;
        bytes.push(b'\n');
        let sha256 = to_hex(&Sha256::digest(&bytes));
        let name = format!("{objects}/{MANIFEST}");
        days.objects
            .put(&ObjectPath::from(name.as_str()), bytes.into())
            .await
            .map_err(self::objects(format!("writing {name}")))
            .map_err(StoreError::from)?;
        let listed = SealedDay {
            day,
            objects: objects.to_owned(),
            manifest_sha256: sha256.clone(),
            last_seqs: ends.clone(),
            retired: BTreeMap::new(),
        };
        days.manifest(&listed).await?;
        Ok((sha256, ends))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_names_only_files_of_its_own_day() {
        let day: Day = "2026-12-01".parse().unwrap();
        for name in
            ["log/acme-global/2026-12-01.seg", "checkpoints/i/2026-12-01.notes", "index/days/2026-12-01/meta.json"]
        {
            assert_eq!(data_path(day, name).unwrap(), PathBuf::from(name));
        }
        for name in [
            "log/acme-global/2026-12-02.seg",
            "index/days/2026-12-02/meta.json",
            "log/../meta.sqlite",
            "/etc/passwd",
            "index/days/2026-12-01/../../../x",
            "admin-key",
        ] {
            assert!(data_path(day, name).is_err(), "{name}");
        }
    }

    #[test]
    fn an_object_store_url_is_s3_or_an_absolute_file_path() {
        for url in ["http://x/y", "file://relative/path", "s3://", "bucket/prefix"] {
            let error = SealedDays::open(url).err().unwrap().to_string();
            assert!(error.contains(url), "{error}");
        }
    }
}
