//! A full disk is a fault Acta heals from: the real `acta serve` on a small `tmpfs` refuses batches with 507 while
//! the device is full, keeps answering searches, accepts again by itself once space is freed (no restart), and
//! afterwards every acknowledged event is searchable exactly once and `acta verify` passes.
//!
//! Mounting needs root (CI runs as root); elsewhere the tests say they skip, and with `CI` set they fail.
#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{Value, json};

/// Small enough to fill in seconds, big enough for the index's first segments.
const TMPFS_MIB: u64 = 48;
/// Freed to end the fault.
const BALLAST_MIB: usize = 12;
/// Events per request while filling.
const BATCH: usize = 100;
/// The longest the fill may take before the test gives up.
const FILL_LIMIT: Duration = Duration::from_secs(240);
/// How soon after space returns a batch must be accepted again.
const HEAL_LIMIT: Duration = Duration::from_secs(20);

/// A `tmpfs` mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one of `mib` MiB, or says why not (`None`) where that is allowed.
    fn mount(mib: u64, test: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output();
        let why = match output {
            Ok(output) if output.status.success() => return Some(Tmpfs { dir }),
            Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_string(),
            Err(error) => error.to_string(),
        };
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: cannot mount a tmpfs ({why}); CI runs as root and must run this test"
        );
        eprintln!("SKIPPED {test}: cannot mount a tmpfs ({why}); run as root to run it");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Writes `mib` MiB of real bytes (a tmpfs allocates pages only for what is written).
fn ballast(path: &Path, mib: usize) {
    std::fs::write(path, vec![0x5a_u8; mib << 20]).unwrap();
}

/// An event with some weight, so the disk fills in fewer requests.
fn heavy_event(id: &str) -> Value {
    let mut event = common::event(id, "kms.secrets.rotate", "success");
    event["reason"] = json!({"reasonCode": "200", "reasonType": "HTTP", "policyType": "x".repeat(600)});
    event
}

fn post(server: &Server, events: &[Value]) -> reqwest::blocking::Response {
    server
        .post("/v1/events")
        .header("content-type", "application/json")
        .body(Value::Array(events.to_vec()).to_string())
        .send()
        .expect("POST /v1/events")
}

fn batch(prefix: &str, n: usize) -> (Vec<String>, Vec<Value>) {
    let ids: Vec<String> = (0..BATCH).map(|e| format!("{prefix}-{n}-{e}")).collect();
    let events = ids.iter().map(|id| heavy_event(id)).collect();
    (ids, events)
}

/// The signing key's public half, as `acta verify --key` takes it.
fn verifier(data: &Path) -> String {
    acta_ledger::SigningKey::load(&common::signing_key_path(data)).unwrap().verifier().to_text()
}

fn health(server: &Server) -> (u16, Value) {
    let response = server.get("/healthz").send().expect("GET /healthz");
    (response.status().as_u16(), response.json().unwrap_or(Value::Null))
}

/// A directory for the server's output, off the small file system.
fn logs() -> PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_full_disk_refuses_batches_keeps_search_answering_and_heals_when_space_returns() {
    let test = "a_full_disk_refuses_batches_keeps_search_answering_and_heals_when_space_returns";
    let Some(tmpfs) = Tmpfs::mount(TMPFS_MIB, test) else { return };
    let data = tmpfs.path().join("data");
    let ballast_path = tmpfs.path().join("ballast");
    ballast(&ballast_path, BALLAST_MIB);
    let mut server = common::start_with(&data, &logs(), &[("ACTA_MIN_FREE_SPACE", "0")]);
    let pid = server.pid();

    // Fill the device. Some events are made searchable first: they must stay searchable through the fault.
    let mut acknowledged = 0u64;
    let mut searchable_before = 0u64;
    let mut refusal = None;
    let started = Instant::now();
    for n in 0.. {
        assert!(
            started.elapsed() < FILL_LIMIT,
            "the disk did not fill in {FILL_LIMIT:?} ({acknowledged} acknowledged)"
        );
        let (_, events) = batch("fill", n);
        let response = post(&server, &events);
        match response.status().as_u16() {
            200 => {
                let answer: Value = response.json().unwrap();
                assert_eq!(answer["accepted"], BATCH, "a batch answered 200 stores all of it: {answer}");
                acknowledged += BATCH as u64;
                if n == 20 {
                    searchable_before = server.wait_count("", acknowledged, Duration::from_secs(30));
                    assert_eq!(searchable_before, acknowledged);
                }
            }
            429 => std::thread::sleep(Duration::from_millis(200)), // the index is behind; nothing was stored
            507 => {
                let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                refusal = Some((retry_after, response.json::<Value>().unwrap()));
                break;
            }
            status => panic!("unexpected {status} while filling: {}", response.text().unwrap_or_default()),
        }
    }
    let (retry_after, answer) = refusal.unwrap();
    assert!(retry_after.is_some(), "507 without Retry-After: {answer}");
    assert_eq!(answer["error"]["code"], "storage_full", "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("space"), "{answer}");
    assert!(searchable_before > 0, "the disk filled before anything was made searchable");
    eprintln!("filled after {acknowledged} acknowledged events; {searchable_before} searchable before");

    // During the fault: still refused, the health check says why and what heals it, searches answer.
    let (_, events) = batch("during", 0);
    assert_eq!(post(&server, &events).status().as_u16(), 507, "a batch while the disk is full");
    let (status, body) = health(&server);
    assert_eq!(status, 200, "a full disk degrades the server, it does not fail it: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(body["problems"].as_array().unwrap().iter().any(|p| p["state"] == "no_space"), "{body}");
    let during = server.count("");
    assert!(
        during >= searchable_before && during <= acknowledged,
        "search during the fault counted {during}; {searchable_before} were searchable before, {acknowledged} acknowledged"
    );

    // Space returns: batches are accepted again by themselves, by the same process.
    std::fs::remove_file(&ballast_path).unwrap();
    let freed = Instant::now();
    let mut healed = false;
    for n in 0.. {
        let (_, events) = batch("after", n);
        let status = post(&server, &events).status().as_u16();
        if status == 200 {
            acknowledged += BATCH as u64;
            healed = true;
            break;
        }
        assert!(matches!(status, 507 | 429), "unexpected {status} after space was freed");
        if freed.elapsed() > HEAL_LIMIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(healed, "no batch was accepted within {HEAL_LIMIT:?} of space returning:\n{}", server.stderr());
    assert!(server.is_running() && server.pid() == pid, "healing took a restart");
    assert_eq!(health(&server).1["status"], "ok", "the health check still reports a fault after healing");

    // Every acknowledged event is searchable exactly once, and the data verifies.
    let counted = server.wait_count("", acknowledged, Duration::from_secs(60));
    assert_eq!(counted, acknowledged, "acknowledged events searchable after healing:\n{}", server.stderr());
    assert!(server.terminate().success(), "the server did not stop cleanly:\n{}", server.stderr());
    let key = verifier(&data);
    let output = common::run_acta(
        &[OsStr::new("verify"), data.as_os_str(), OsStr::new("--key"), OsStr::new(&key)],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(output.status.code(), Some(0), "acta verify after the fault:\n{}{}", output.stdout, output.stderr);
}

#[test]
fn batches_are_refused_below_the_free_space_reserve_and_accepted_again_above_it() {
    let test = "batches_are_refused_below_the_free_space_reserve_and_accepted_again_above_it";
    let Some(tmpfs) = Tmpfs::mount(TMPFS_MIB, test) else { return };
    let data = tmpfs.path().join("data");
    let server = common::start_with(&data, &logs(), &[("ACTA_MIN_FREE_SPACE", "36MiB")]);
    let (_, events) = batch("above", 0);
    assert_eq!(post(&server, &events).status().as_u16(), 200, "a batch with the reserve free");

    let ballast_path = tmpfs.path().join("ballast");
    ballast(&ballast_path, BALLAST_MIB);
    let (_, events) = batch("below", 0);
    let response = post(&server, &events);
    assert_eq!(response.status().as_u16(), 507, "a batch below the reserve");
    assert!(response.headers().contains_key("retry-after"));
    let answer: Value = response.json().unwrap();
    assert!(answer["error"]["message"].as_str().unwrap().contains("--min-free-space"), "{answer}");
    let (status, body) = health(&server);
    assert_eq!((status, body["status"].as_str()), (200, Some("degraded")), "{body}");

    std::fs::remove_file(&ballast_path).unwrap();
    let (_, events) = batch("again", 0);
    assert_eq!(post(&server, &events).status().as_u16(), 200, "a batch once the reserve is free again");
    assert_eq!(server.wait_count("", 2 * BATCH as u64, Duration::from_secs(30)), 2 * BATCH as u64);
}
