//! Archives of instances: where a manager asks sealed log segments to be copied, and the copying itself.
//!
//! One code path for both kinds: a directory is an `object_store` `LocalFileSystem`, S3-compatible storage an
//! `AmazonS3` with a custom endpoint. A segment is written in the fixed layout shared with `acta import` and
//! `acta verify` (docs: ARCHITECTURE.md, "archives"): `account=<a>/instance=<i>/year=YYYY/month=MM/day=DD/` with
//! `<day>.seg`, `<day>.notes`, `<day>.leaves` (when present), `keys`, `events.ndjson.zst` (on request), and
//! `MANIFEST.json` last, so its presence means the day is complete. A copy counts only once every file has been
//! read back with the size and SHA-256 the manifest gives.

use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use acta_store::log::SegmentInfo;
use acta_store::{ArchivedSegment, Day, Store};
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::client::{HttpClient, HttpConnector};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::alerts::ssrf;
use crate::error::ApiError;

/// The archive format named in every manifest.
pub const FORMAT: &str = "acta-archive 1";

/// An instance's archive as a manager configures it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ArchiveConfig {
    /// A directory under one of the roots the operator allows (`acta serve --archive-root`).
    Directory {
        /// Absolute path.
        path: String,
        /// Also write `events.ndjson.zst`.
        #[serde(default)]
        ndjson: bool,
    },
    /// An S3-compatible bucket.
    S3 {
        /// `https://...` (or `http://...` with `allow_http`).
        endpoint: String,
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket.
        #[serde(default)]
        prefix: Option<String>,
        /// Region (default `us-east-1`).
        #[serde(default)]
        region: Option<String>,
        /// Access key id.
        access_key_id: String,
        /// Secret access key (never shown again).
        secret_access_key: String,
        /// Also write `events.ndjson.zst`.
        #[serde(default)]
        ndjson: bool,
        /// Allow a plain `http://` endpoint.
        #[serde(default)]
        allow_http: bool,
    },
}

impl ArchiveConfig {
    /// Whether NDJSON is asked for.
    pub fn ndjson(&self) -> bool {
        match self {
            ArchiveConfig::Directory { ndjson, .. } | ArchiveConfig::S3 { ndjson, .. } => *ndjson,
        }
    }

    /// Names the destination: a segment confirmed in one destination is not archived in another.
    pub fn destination(&self) -> String {
        match self {
            ArchiveConfig::Directory { path, .. } => format!("directory:{path}"),
            ArchiveConfig::S3 { endpoint, bucket, prefix, .. } => {
                format!("s3:{endpoint}/{bucket}/{}", prefix.as_deref().unwrap_or(""))
            }
        }
    }

    /// The configuration as the API shows it: the secret is never given back.
    pub fn redacted(&self) -> Value {
        let mut value = json!(self);
        if let Some(secret) = value.get_mut("secret_access_key") {
            *secret = json!("(redacted)");
        }
        value
    }

    /// Checks a configuration a manager sent; a directory must be inside an allowed root (it is created there).
    pub fn check(&self, roots: &[PathBuf]) -> Result<(), ApiError> {
        let bad = |message: String| Err(ApiError::bad_request("invalid_field", message));
        match self {
            ArchiveConfig::Directory { path, .. } => {
                if roots.is_empty() {
                    return bad("directory archives are off: the operator allows no root (acta serve --archive-root)"
                        .to_string());
                }
                let wanted = FsPath::new(path);
                let plain = wanted.components().all(|part| matches!(part, Component::RootDir | Component::Normal(_)));
                if !wanted.is_absolute() || !plain || path.len() > 1024 {
                    return bad(format!("path {path:?} must be an absolute path without `..` (at most 1024 bytes)"));
                }
                let Some(root) = roots.iter().find(|root| wanted.starts_with(root)) else {
                    return bad(format!("path {path:?} is not under an archive root the operator allows"));
                };
                // A symbolic link inside the root must not lead out of it: the part that exists is resolved
                // before anything is created, and the whole path again after.
                let root = root.canonicalize().map_err(ApiError::internal)?;
                let existing = wanted.ancestors().find(|ancestor| ancestor.exists()).unwrap_or(wanted);
                let inside =
                    |candidate: &FsPath| candidate.canonicalize().is_ok_and(|resolved| resolved.starts_with(&root));
                if !inside(existing) {
                    return bad(format!("path {path:?} leads outside its archive root"));
                }
                std::fs::create_dir_all(wanted)
                    .map_err(|error| ApiError::bad_request("invalid_field", format!("path {path:?}: {error}")))?;
                if !inside(wanted) {
                    return bad(format!("path {path:?} leads outside its archive root"));
                }
                Ok(())
            }
            ArchiveConfig::S3 {
                endpoint,
                bucket,
                prefix,
                region,
                access_key_id,
                secret_access_key,
                allow_http,
                ..
            } => {
                let url = url::Url::parse(endpoint).map_err(|_| {
                    ApiError::bad_request("invalid_field", format!("endpoint {endpoint:?} is not a URL"))
                })?;
                match url.scheme() {
                    "https" => {}
                    "http" if *allow_http => {}
                    "http" => return bad("endpoint is http://: set allow_http to accept an unencrypted store".into()),
                    other => return bad(format!("endpoint scheme {other:?} must be https (or http)")),
                }
                let bucket_ok = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
                if !bucket_ok {
                    return bad(format!("bucket {bucket:?} must be 3-63 characters of a-z, 0-9, - and ."));
                }
                if let Some(prefix) = prefix
                    && (prefix.len() > 512 || prefix.split('/').any(|part| part == ".." || part == "."))
                {
                    return bad("prefix must be at most 512 bytes without . or .. parts".into());
                }
                for (name, value) in [("access_key_id", access_key_id), ("secret_access_key", secret_access_key)] {
                    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
                        return bad(format!("{name} must be 1-256 characters without control characters"));
                    }
                }
                if region.as_ref().is_some_and(|region| region.is_empty() || region.len() > 64) {
                    return bad("region must be 1-64 characters".into());
                }
                Ok(())
            }
        }
    }

    /// For S3, whether the endpoint may be reached: the webhook rule (no loopback, private, link-local or
    /// metadata address, no unspecified, shared or multicast one) unless the operator allowed the network
    /// (`acta serve --archive-endpoint-allow`). Checked when a manager sets the archive and again before every
    /// connection, since a name may resolve elsewhere later.
    /// A name that does not resolve now is accepted: its addresses are judged at connect time, and a DNS
    /// outage should not refuse a manager's valid configuration.
    pub async fn check_endpoint(&self, allow: &[ipnet::IpNet]) -> Result<(), ApiError> {
        match self.endpoint_target(allow).await {
            Ok(_) => Ok(()),
            Err(refusal) if refusal.rule == "unresolved" => Ok(()),
            Err(refusal) => {
                let mut error = ApiError::bad_request("invalid_field", refusal.message);
                error.details = vec![json!({"field": "endpoint", "rule": refusal.rule})];
                Err(error)
            }
        }
    }

    /// The checked addresses of an S3 endpoint (`None` for a directory).
    async fn endpoint_target(&self, allow: &[ipnet::IpNet]) -> Result<Option<ssrf::Target>, EndpointRefusal> {
        let ArchiveConfig::S3 { endpoint, .. } = self else { return Ok(None) };
        match ssrf::check(endpoint, allow).await {
            Ok(target) => Ok(Some(target)),
            Err(ssrf::Refusal::Forbidden { host, address, kind }) => Err(EndpointRefusal {
                rule: kind,
                message: format!(
                    "endpoint {host} resolves to {address}, a {kind} address; archives reach such addresses only \
                     when the operator allows them (acta serve --archive-endpoint-allow, \
                     ACTA_ARCHIVE_ENDPOINT_ALLOW)"
                ),
            }),
            Err(ssrf::Refusal::Unresolved { host, error }) => Err(EndpointRefusal {
                rule: "unresolved",
                message: format!("endpoint host {host} does not resolve: {error}"),
            }),
            Err(ssrf::Refusal::BadUrl(message)) => Err(EndpointRefusal { rule: "url", message }),
        }
    }

    /// The object store of this destination. An S3 endpoint is checked against the address rule first, and
    /// the client connects only to the addresses that were checked and follows no redirect.
    pub async fn open(&self, allow: &[ipnet::IpNet]) -> Result<Arc<dyn ObjectStore>, String> {
        let target = self.endpoint_target(allow).await.map_err(|refusal| refusal.message)?;
        match self {
            ArchiveConfig::Directory { path, .. } => {
                std::fs::create_dir_all(path).map_err(|error| format!("archive directory {path}: {error}"))?;
                let store = LocalFileSystem::new_with_prefix(path).map_err(|error| error.to_string())?;
                Ok(Arc::new(store))
            }
            ArchiveConfig::S3 {
                endpoint,
                bucket,
                prefix,
                region,
                access_key_id,
                secret_access_key,
                allow_http,
                ..
            } => {
                // Retries here are short: the worker retries with its own backoff and alerts the managers.
                let retry =
                    RetryConfig { max_retries: 2, retry_timeout: Duration::from_secs(20), ..Default::default() };
                let client = ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120))
                    .with_allow_http(*allow_http);
                let Some(target) = target else { return Err("the endpoint was not checked".to_string()) };
                let connector = PinnedConnector {
                    domain: target.domain,
                    addresses: target.addresses,
                    allow_http: *allow_http,
                    connect_timeout: Duration::from_secs(5),
                    timeout: Duration::from_secs(120),
                };
                let store = AmazonS3Builder::new()
                    .with_http_connector(connector)
                    .with_endpoint(endpoint)
                    .with_bucket_name(bucket)
                    .with_region(region.as_deref().unwrap_or("us-east-1"))
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key)
                    .with_allow_http(*allow_http)
                    .with_virtual_hosted_style_request(false)
                    .with_retry(retry)
                    .with_client_options(client)
                    .build()
                    .map_err(|error| error.to_string())?;
                match prefix.as_deref().map(|prefix| prefix.trim_matches('/')).filter(|prefix| !prefix.is_empty()) {
                    Some(prefix) => Ok(Arc::new(object_store::prefix::PrefixStore::new(store, prefix))),
                    None => Ok(Arc::new(store)),
                }
            }
        }
    }
}

/// Why an S3 endpoint may not be reached: the rule it breaks and a message naming it.
struct EndpointRefusal {
    rule: &'static str,
    message: String,
}

/// Builds the S3 client so that it connects only to the addresses the endpoint rule checked (a name that
/// resolves elsewhere by the time of the connection cannot slip through), and never follows a redirect.
#[derive(Debug)]
struct PinnedConnector {
    domain: Option<String>,
    addresses: Vec<std::net::SocketAddr>,
    allow_http: bool,
    connect_timeout: Duration,
    timeout: Duration,
}

impl HttpConnector for PinnedConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .https_only(!self.allow_http)
            // Compression would change the Content-Length object_store relies on for sizes.
            .no_gzip()
            .user_agent(concat!("Acta/", env!("CARGO_PKG_VERSION")));
        if let Some(domain) = &self.domain {
            builder = builder.resolve_to_addrs(domain, &self.addresses);
        }
        let client =
            builder.build().map_err(|error| object_store::Error::Generic { store: "S3", source: Box::new(error) })?;
        Ok(HttpClient::new(client))
    }
}

/// The directory of one archived day, relative to the archive root.
pub fn day_dir(account: &str, instance: &str, day: Day) -> String {
    let text = day.to_string();
    let (year, rest) = text.split_once('-').unwrap_or((&text, ""));
    let (month, day_of_month) = rest.split_once('-').unwrap_or((rest, ""));
    format!("account={account}/instance={instance}/year={year}/month={month}/day={day_of_month}")
}

/// One file of an archived day: its name and where its bytes come from.
enum Source {
    File(PathBuf),
    Bytes(bytes::Bytes),
}

/// Copies one sealed segment into the archive and reads it back. Returns what to record as confirmed.
pub async fn archive_segment(
    store: &Store,
    target: Arc<dyn ObjectStore>,
    account: &str,
    segment: &SegmentInfo,
    ndjson: bool,
) -> Result<ArchivedSegment, String> {
    let instance = segment.instance.as_str();
    let day = segment.day;
    if !segment.sealed {
        return Err(format!("the segment of {day} is not sealed yet"));
    }
    let data_dir = store.dir();
    let seg_path = store.log().segment_path(instance, day);
    let notes_path = acta_store::integrity::files::notes_path(data_dir, instance, day);
    let leaves_path = acta_store::integrity::files::leaves_path(data_dir, instance, day);
    let keys_path = acta_store::integrity::files::keys_path(data_dir);
    let final_checkpoint = final_checkpoint(store, instance, day).await?;

    let mut files: Vec<(String, Source)> = vec![(format!("{day}.seg"), Source::File(seg_path))];
    if store.integrity().is_some() {
        files.push((format!("{day}.notes"), Source::File(notes_path)));
        if leaves_path.exists() {
            files.push((format!("{day}.leaves"), Source::File(leaves_path)));
        }
        if keys_path.exists() {
            // A copy as it is now: a key added later cannot have signed this day's final checkpoint.
            let keys =
                tokio::fs::read(&keys_path).await.map_err(|error| format!("{}: {error}", keys_path.display()))?;
            files.push(("keys".to_string(), Source::Bytes(keys.into())));
        }
    }
    let (first_received, last_received) = received_range(store, segment).await?;
    if ndjson {
        files.push(("events.ndjson.zst".to_string(), Source::Bytes(ndjson_zst(store, segment).await?.into())));
    }

    let dir = day_dir(account, instance, day);
    let mut manifest_files = serde_json::Map::new();
    let mut total: u64 = 0;
    for (name, source) in &files {
        let (bytes, sha256) = put(&target, &format!("{dir}/{name}"), source).await?;
        total += bytes;
        manifest_files.insert(name.clone(), json!({"bytes": bytes, "sha256": sha256}));
    }
    let manifest = json!({
        "format": FORMAT,
        "account": account,
        "instance": instance,
        "day": day.to_string(),
        "first_seq": segment.first_seq,
        "last_seq": segment.last_seq,
        "events": segment.records,
        "first_received": acta_cadf::format_time(first_received),
        "last_received": acta_cadf::format_time(last_received),
        "final_checkpoint": final_checkpoint,
        "files": manifest_files,
    });
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|error| error.to_string())?;
    manifest_bytes.push(b'\n');
    let manifest_sha = hex(&Sha256::digest(&manifest_bytes));
    // Every file is read back before the manifest is written: the manifest promises a complete day.
    for (name, described) in &manifest_files {
        confirm(&target, &format!("{dir}/{name}"), described).await?;
    }
    let manifest_len = manifest_bytes.len() as u64;
    let (_, written_sha) = put(&target, &format!("{dir}/MANIFEST.json"), &Source::Bytes(manifest_bytes.into())).await?;
    confirm(&target, &format!("{dir}/MANIFEST.json"), &json!({"bytes": manifest_len, "sha256": written_sha})).await?;
    Ok(ArchivedSegment {
        day: day.to_string(),
        bytes: i64::try_from(total + manifest_len).unwrap_or(i64::MAX),
        manifest_sha256: manifest_sha,
        confirmed_at: crate::admin::now_text(),
    })
}

/// The final signed checkpoint of a closed segment (`None` when the server runs without checkpoints).
pub async fn final_checkpoint(store: &Store, instance: &str, day: Day) -> Result<Option<String>, String> {
    let Some(integrity) = store.integrity().cloned() else {
        return Ok(None);
    };
    let path = acta_store::integrity::files::notes_path(store.dir(), instance, day);
    let owned = instance.to_string();
    let last = tokio::task::spawn_blocking(move || {
        // One round signs the final checkpoint of a segment that was just sealed.
        integrity.sync_instance(&owned).map_err(|error| error.to_string())?;
        acta_store::integrity::files::last_note(&path).map_err(|error| format!("{}: {error}", path.display()))
    })
    .await
    .map_err(|error| error.to_string())??;
    match last {
        Some(entry) if entry.is_final => Ok(Some(entry.note)),
        _ => Err(format!("the segment of {day} has no final checkpoint yet")),
    }
}

/// Arrival times of a segment's first and last records.
pub async fn received_range(store: &Store, segment: &SegmentInfo) -> Result<(i64, i64), String> {
    let log = store.log().clone();
    let segment = segment.clone();
    tokio::task::spawn_blocking(move || {
        let first = log.read(&segment.instance, segment.day, segment.first_seq).map_err(|error| error.to_string())?;
        let last = log.read(&segment.instance, segment.day, segment.last_seq).map_err(|error| error.to_string())?;
        Ok((first.received_ns, last.received_ns))
    })
    .await
    .map_err(|error| error.to_string())?
}

/// Each record's event bytes as received, one per line, zstd-compressed.
async fn ndjson_zst(store: &Store, segment: &SegmentInfo) -> Result<Vec<u8>, String> {
    let log = store.log().clone();
    let segment = segment.clone();
    tokio::task::spawn_blocking(move || {
        let mut encoder = zstd::Encoder::new(Vec::new(), 3).map_err(|error| error.to_string())?;
        let scan = log.scan(&segment.instance, segment.day, segment.first_seq).map_err(|error| error.to_string())?;
        for record in scan {
            let record = record.map_err(|error| error.to_string())?;
            std::io::Write::write_all(&mut encoder, &record.event).map_err(|error| error.to_string())?;
            std::io::Write::write_all(&mut encoder, b"\n").map_err(|error| error.to_string())?;
        }
        encoder.finish().map_err(|error| error.to_string())
    })
    .await
    .map_err(|error| error.to_string())?
}

/// Writes one object, returning its size and SHA-256.
async fn put(target: &Arc<dyn ObjectStore>, name: &str, source: &Source) -> Result<(u64, String), String> {
    let location = ObjectPath::from(name);
    let failed = |error: &dyn std::fmt::Display| format!("writing {name}: {error}");
    let mut hasher = Sha256::new();
    let mut written: u64 = 0;
    let mut writer = object_store::buffered::BufWriter::new(Arc::clone(target), location);
    match source {
        Source::Bytes(bytes) => {
            hasher.update(bytes);
            written = bytes.len() as u64;
            writer.write_all(bytes).await.map_err(|error| failed(&error))?;
        }
        Source::File(path) => {
            let mut file = tokio::fs::File::open(path).await.map_err(|error| format!("{}: {error}", path.display()))?;
            let mut buffer = vec![0; 1 << 20];
            loop {
                let read = file.read(&mut buffer).await.map_err(|error| format!("{}: {error}", path.display()))?;
                if read == 0 {
                    break;
                }
                let chunk = buffer.get(..read).unwrap_or_default();
                hasher.update(chunk);
                written += read as u64;
                writer.write_all(chunk).await.map_err(|error| failed(&error))?;
            }
        }
    }
    // A failed shutdown leaves at most an incomplete object, which is never confirmed (and `abort` after a
    // shutdown is refused by the writer).
    writer.shutdown().await.map_err(|error| failed(&error))?;
    Ok((written, hex(&hasher.finalize())))
}

/// Reads an object back and checks its size and SHA-256.
async fn confirm(target: &Arc<dyn ObjectStore>, name: &str, described: &Value) -> Result<(), String> {
    let location = ObjectPath::from(name);
    let got = target.get(&location).await.map_err(|error| format!("reading back {name}: {error}"))?;
    let mut stream = got.into_stream();
    let mut hasher = Sha256::new();
    let mut bytes: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| format!("reading back {name}: {error}"))?;
        bytes += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let sha256 = hex(&hasher.finalize());
    if Some(bytes) != described["bytes"].as_u64() || Some(sha256.as_str()) != described["sha256"].as_str() {
        return Err(format!("{name} read back as {bytes} bytes with SHA-256 {sha256}, not as written"));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    acta_store::integrity::files::to_hex(bytes)
}
