//! `s3://bucket/prefix` sources of `acta import` and `acta verify`: the objects under the prefix are downloaded
//! into a temporary directory, keeping their names below the prefix, and read from there by the same code as a
//! local directory (segment readers need files with positioned reads, and every archived file is checked
//! against its manifest's SHA-256 before use). Messages name the objects by their `s3://` URL.
//!
//! The connection comes from `--s3-*` options or the variables object_store reads (AWS_ENDPOINT_URL,
//! AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ALLOW_HTTP); options win.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use tokio::io::AsyncWriteExt;

/// How `acta` reaches an S3-compatible store.
#[derive(clap::Args, Clone, Default)]
pub(crate) struct S3Args {
    /// The S3 endpoint for s3:// sources (a MinIO, SeaweedFS or Garage URL); default AWS.
    #[arg(long = "s3-endpoint", env = "AWS_ENDPOINT_URL", value_name = "URL")]
    endpoint: Option<String>,
    /// The region of s3:// sources (default us-east-1).
    #[arg(long = "s3-region", env = "AWS_REGION", value_name = "REGION")]
    region: Option<String>,
    /// The access key id for s3:// sources.
    #[arg(long = "s3-access-key-id", env = "AWS_ACCESS_KEY_ID", value_name = "ID", hide_env_values = true)]
    access_key_id: Option<String>,
    /// The secret access key for s3:// sources (prefer the variable: arguments are visible to other users).
    #[arg(long = "s3-secret-access-key", env = "AWS_SECRET_ACCESS_KEY", value_name = "KEY", hide_env_values = true)]
    secret_access_key: Option<String>,
    /// Accept a plain http:// endpoint.
    #[arg(long = "s3-allow-http", env = "AWS_ALLOW_HTTP")]
    allow_http: bool,
}

/// Whether a source names an object store location.
pub(crate) fn is_s3(source: &OsStr) -> bool {
    source.to_str().is_some_and(|text| text.starts_with("s3://"))
}

/// An `s3://` source copied to local files.
pub(crate) struct Downloaded {
    /// The local copy: a directory, or a file when the URL named one object.
    pub(crate) path: PathBuf,
    /// What messages call `path`: the URL without a trailing `/`.
    pub(crate) shown: String,
    /// Removed with the copy.
    _dir: tempfile::TempDir,
}

impl Downloaded {
    /// A message about the local copy, naming the objects by URL instead.
    pub(crate) fn rename(&self, text: &str) -> String {
        text.replace(&self.path.display().to_string(), &self.shown)
    }
}

/// `s3://bucket/prefix` into bucket and prefix (without surrounding slashes; empty for the whole bucket).
fn parse(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| anyhow!("{url}: not an s3:// URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        bail!("{url}: no bucket (s3://BUCKET/PREFIX)");
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|part| part == "." || part == "..") {
        bail!("{url}: the prefix may not hold . or .. parts");
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

fn store(args: &S3Args, bucket: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    // The environment first (it may hold a session token), then the options, which win.
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &args.endpoint {
        builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
    }
    builder = builder.with_region(args.region.as_deref().unwrap_or("us-east-1"));
    if let Some(id) = &args.access_key_id {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = &args.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    let client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(300))
        .with_allow_http(args.allow_http);
    let retry = RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(60), ..Default::default() };
    let store = builder
        .with_allow_http(args.allow_http)
        .with_retry(retry)
        .with_client_options(client)
        .build()
        .context("the S3 connection (--s3-endpoint, --s3-region, --s3-access-key-id, --s3-secret-access-key)")?;
    Ok(Arc::new(store))
}

/// Downloads every object under the URL's prefix (or the one object it names) into a new temporary directory.
pub(crate) async fn download(url: &str, args: &S3Args) -> anyhow::Result<Downloaded> {
    let (bucket, prefix) = parse(url)?;
    let store = store(args, &bucket)?;
    let shown = url.trim_end_matches('/').to_owned();
    let dir = tempfile::Builder::new().prefix("acta-s3-").tempdir().context("creating a temporary directory")?;
    let root = dir.path().join("copy");
    let prefix_path = ObjectPath::from(prefix.as_str());
    let mut objects = Vec::new();
    let mut listing = store.list((!prefix.is_empty()).then_some(&prefix_path));
    while let Some(meta) = listing.next().await {
        let meta = meta.with_context(|| format!("listing {shown}"))?;
        let relative: Vec<String> = match meta.location.prefix_match(&prefix_path) {
            Some(parts) => parts.map(|part| part.as_ref().to_owned()).collect(),
            None => continue,
        };
        if relative.is_empty() || relative.iter().any(|part| part.is_empty() || part == "." || part == "..") {
            bail!("{shown}: the object {} cannot be a file name", meta.location);
        }
        objects.push((meta.location, relative));
    }
    if objects.is_empty() {
        // The URL may name one object (s3://bucket/events.ndjson.zst).
        let name = prefix.rsplit('/').next().unwrap_or_default().to_owned();
        if prefix.is_empty() || store.head(&prefix_path).await.is_err() {
            bail!("{shown}: no objects under this prefix");
        }
        let path = dir.path().join(&name);
        fetch(store.as_ref(), &prefix_path, &path, &shown).await?;
        return Ok(Downloaded { path, shown, _dir: dir });
    }
    for (location, relative) in objects {
        let path = relative.iter().fold(root.clone(), |path, part| path.join(part));
        fetch(store.as_ref(), &location, &path, &format!("s3://{bucket}/{location}")).await?;
    }
    Ok(Downloaded { path: root, shown, _dir: dir })
}

/// Streams one object into a file.
async fn fetch(store: &dyn ObjectStore, location: &ObjectPath, path: &Path, shown: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.with_context(|| format!("{}", parent.display()))?;
    }
    let got = store.get(location).await.with_context(|| format!("downloading {shown}"))?;
    let mut stream = got.into_stream();
    let mut file = tokio::fs::File::create(path).await.with_context(|| format!("{}", path.display()))?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("downloading {shown}"))?;
        file.write_all(&chunk).await.with_context(|| format!("{}", path.display()))?;
    }
    file.flush().await.with_context(|| format!("{}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_its_bucket_and_prefix_without_slashes() {
        let parsed = parse("s3://acta/audit/archives/").ok();
        assert_eq!(parsed, Some(("acta".to_owned(), "audit/archives".to_owned())));
        assert_eq!(parse("s3://acta").ok(), Some(("acta".to_owned(), String::new())));
    }

    #[test]
    fn a_url_without_bucket_or_with_dot_parts_is_refused() {
        assert!(parse("s3:///prefix").is_err());
        assert!(parse("s3://acta/a/../b").is_err());
    }
}
