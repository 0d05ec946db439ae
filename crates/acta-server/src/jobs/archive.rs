//! Archives of instances: where a manager asks sealed log segments to be copied, and the copying itself.
//!
//! One code path for both kinds: a directory is an `object_store` `LocalFileSystem`, S3-compatible storage an
//! `AmazonS3` with a custom endpoint. A day is written in the layout of `acta_store::archives::layout`, the one
//! `acta import` and `acta verify` read, with `MANIFEST.json` last. A copy counts only once every file has been
//! read back with the size and SHA-256 the manifest gives. The day's files come from the store
//! (`Store::day_files`); this module writes only to the archive.

use std::collections::BTreeMap;
use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use acta_store::archives::layout::{self, FileEntry, Manifest};
use acta_store::lifecycle::DayFile;
use acta_store::log::SegmentInfo;
use acta_store::{ArchivedSegment, Day, Store, StoreError};
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

use crate::notify::ssrf;

/// Why an archive configuration is refused, or a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A configuration a manager sent breaks a rule (`field`, `rule` say which, when it is one field's).
    #[error("{message}")]
    Invalid {
        /// What is wrong, naming the rule.
        message: String,
        /// The field and the rule broken, for the API's error details.
        rule: Option<(&'static str, &'static str)>,
    },
    /// Reading the day from the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The segment is still open.
    #[error("the segment of {0} is not sealed yet")]
    NotSealed(Day),
    /// The archive destination could not be prepared.
    #[error("archive directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The archive destination failed.
    #[error("{context}: {source}")]
    Destination {
        /// What was being done (`writing <name>`, `reading back <name>`, the S3 client).
        context: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file read back differs from what was written.
    #[error("{name} read back as {bytes} bytes with SHA-256 {sha256}, not as written")]
    ReadBack {
        /// The object.
        name: String,
        /// Its size as read.
        bytes: u64,
        /// Its SHA-256 as read.
        sha256: String,
    },
}

impl ArchiveError {
    fn invalid(message: String) -> ArchiveError {
        ArchiveError::Invalid { message, rule: None }
    }

    fn destination(context: String, source: impl std::error::Error + Send + Sync + 'static) -> ArchiveError {
        ArchiveError::Destination { context, source: Box::new(source) }
    }
}

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
    pub fn check(&self, roots: &[PathBuf]) -> Result<(), ArchiveError> {
        let bad = |message: String| Err(ArchiveError::invalid(message));
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
                let root = root
                    .canonicalize()
                    .map_err(|source| ArchiveError::Directory { path: root.display().to_string(), source })?;
                let existing = wanted.ancestors().find(|ancestor| ancestor.exists()).unwrap_or(wanted);
                let inside =
                    |candidate: &FsPath| candidate.canonicalize().is_ok_and(|resolved| resolved.starts_with(&root));
                if !inside(existing) {
                    return bad(format!("path {path:?} leads outside its archive root"));
                }
                if let Err(error) = std::fs::create_dir_all(wanted) {
                    return bad(format!("path {path:?}: {error}"));
                }
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
                let Ok(url) = url::Url::parse(endpoint) else {
                    return bad(format!("endpoint {endpoint:?} is not a URL"));
                };
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
    pub async fn check_endpoint(&self, allow: &[ipnet::IpNet]) -> Result<(), ArchiveError> {
        match self.endpoint_target(allow).await {
            Ok(_) => Ok(()),
            Err(refusal) if refusal.rule == "unresolved" => Ok(()),
            Err(refusal) => {
                Err(ArchiveError::Invalid { message: refusal.message, rule: Some(("endpoint", refusal.rule)) })
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
    pub async fn open(&self, allow: &[ipnet::IpNet]) -> Result<Arc<dyn ObjectStore>, ArchiveError> {
        let target = self.endpoint_target(allow).await.map_err(|refusal| ArchiveError::invalid(refusal.message))?;
        match self {
            ArchiveConfig::Directory { path, .. } => {
                std::fs::create_dir_all(path)
                    .map_err(|source| ArchiveError::Directory { path: path.clone(), source })?;
                let store = LocalFileSystem::new_with_prefix(path)
                    .map_err(|error| ArchiveError::destination(format!("archive directory {path}"), error))?;
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
                let Some(target) = target else {
                    return Err(ArchiveError::invalid("the endpoint was not checked".to_string()));
                };
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
                    .map_err(|error| ArchiveError::destination("the S3 client".to_string(), error))?;
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

/// Copies one sealed segment into the archive and reads it back. Returns what to record as confirmed.
pub async fn archive_segment(
    store: &Store,
    target: Arc<dyn ObjectStore>,
    account: &str,
    segment: &SegmentInfo,
    ndjson: bool,
) -> Result<ArchivedSegment, ArchiveError> {
    let instance = segment.instance.as_str();
    let day = segment.day;
    if !segment.sealed {
        return Err(ArchiveError::NotSealed(day));
    }
    let final_checkpoint = store.final_checkpoint(instance, day).await?;
    let files = store.day_files(segment, ndjson).await?;
    let (first_received, last_received) = store.received_range(segment).await?;

    let dir = layout::day_dir(account, instance, day);
    let mut described = BTreeMap::new();
    let mut total: u64 = 0;
    for file in &files {
        let entry = put(&target, &format!("{dir}/{}", file.name), file).await?;
        total += entry.bytes;
        described.insert(file.name.clone(), entry);
    }
    let manifest = Manifest {
        format: layout::FORMAT.to_string(),
        account: account.to_string(),
        instance: instance.to_string(),
        day: day.to_string(),
        first_seq: segment.first_seq,
        last_seq: segment.last_seq,
        events: segment.records,
        first_received: acta_cadf::format_time(first_received),
        last_received: acta_cadf::format_time(last_received),
        final_checkpoint,
        files: described,
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|error| ArchiveError::destination(layout::MANIFEST.to_string(), error))?;
    manifest_bytes.push(b'\n');
    let manifest_sha = acta_store::integrity::files::to_hex(&Sha256::digest(&manifest_bytes));
    // Every file is read back before the manifest is written: the manifest promises a complete day.
    for (name, entry) in &manifest.files {
        confirm(&target, &format!("{dir}/{name}"), entry).await?;
    }
    let manifest_name = format!("{dir}/{}", layout::MANIFEST);
    let written = put_bytes(&target, &manifest_name, manifest_bytes).await?;
    confirm(&target, &manifest_name, &written).await?;
    Ok(ArchivedSegment {
        day: day.to_string(),
        bytes: i64::try_from(total + written.bytes).unwrap_or(i64::MAX),
        manifest_sha256: manifest_sha,
        confirmed_at: acta_cadf::format_time(crate::clock::now_ns()),
    })
}

/// Writes one object from a file of the day, returning its size and SHA-256.
async fn put(target: &Arc<dyn ObjectStore>, name: &str, file: &DayFile) -> Result<FileEntry, ArchiveError> {
    let mut reader = file.open().await?;
    let failed = |error: std::io::Error| ArchiveError::destination(format!("writing {name}"), error);
    let mut hasher = Sha256::new();
    let mut written: u64 = 0;
    let mut writer = object_store::buffered::BufWriter::new(Arc::clone(target), ObjectPath::from(name));
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = reader
            .read(&mut buffer)
            .await
            .map_err(|source| ArchiveError::Store(StoreError::Io { path: PathBuf::from(&file.name), source }))?;
        if read == 0 {
            break;
        }
        let chunk = buffer.get(..read).unwrap_or_default();
        hasher.update(chunk);
        written += read as u64;
        writer.write_all(chunk).await.map_err(failed)?;
    }
    // A failed shutdown leaves at most an incomplete object, which is never confirmed (and `abort` after a
    // shutdown is refused by the writer).
    writer.shutdown().await.map_err(failed)?;
    Ok(FileEntry { bytes: written, sha256: acta_store::integrity::files::to_hex(&hasher.finalize()) })
}

/// Writes one object from bytes.
async fn put_bytes(target: &Arc<dyn ObjectStore>, name: &str, bytes: Vec<u8>) -> Result<FileEntry, ArchiveError> {
    let entry =
        FileEntry { bytes: bytes.len() as u64, sha256: acta_store::integrity::files::to_hex(&Sha256::digest(&bytes)) };
    target
        .put(&ObjectPath::from(name), bytes.into())
        .await
        .map_err(|error| ArchiveError::destination(format!("writing {name}"), error))?;
    Ok(entry)
}

/// Reads an object back and checks its size and SHA-256.
async fn confirm(target: &Arc<dyn ObjectStore>, name: &str, described: &FileEntry) -> Result<(), ArchiveError> {
    let reading = |error: object_store::Error| ArchiveError::destination(format!("reading back {name}"), error);
    let got = target.get(&ObjectPath::from(name)).await.map_err(reading)?;
    let mut stream = got.into_stream();
    let mut hasher = Sha256::new();
    let mut bytes: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(reading)?;
        bytes += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let sha256 = acta_store::integrity::files::to_hex(&hasher.finalize());
    if bytes != described.bytes || sha256 != described.sha256 {
        return Err(ArchiveError::ReadBack { name: name.to_string(), bytes, sha256 });
    }
    Ok(())
}
