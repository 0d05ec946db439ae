//! `acta import` and `acta verify` on an archive.
//!
//! The archive is built from a real data directory: the store (log, index, checkpointer) ingests events on
//! three arrival days of a clock the test moves, seals them and signs their final checkpoints; then a small
//! helper copies the files into the archive layout with a manifest, as the archive writer does. Imports go to
//! a fresh `acta serve` through the real binary; what it stored is read back from its log afterwards.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use acta_ledger::SigningKey;
use acta_store::integrity::files;
use acta_store::log::{LogOptions, read_segment_file};
use acta_store::{Day, IntegrityOptions, Record, Store, StoreOptions};
use common::{ADMIN_KEY, Output, Server, copy_dir, json_of, run_acta, start, stored, verify_with_key};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const DAY_NS: i64 = 86_400_000_000_000;
const ACCOUNT: &str = "acme";
const INSTANCE: &str = "prod";

/// The data directory the archive was made from, its signing key, and the archive.
struct Built {
    _root: tempfile::TempDir,
    data: PathBuf,
    key: PathBuf,
    archive: PathBuf,
    days: Vec<Day>,
}

/// Built once; each test works on its own copy of the archive.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let (data, key, archive) =
            (root.path().join("data"), root.path().join("signing-key"), root.path().join("archive"));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let days = runtime.block_on(fill(&data, &key));
        for day in &days {
            archive_day(&data, &archive, *day);
        }
        Built { _root: root, data, key, archive, days }
    })
}

/// Three arrival days of events, a third of them without an id (Acta gives them one), one spread over
/// several lines; every day sealed, with its final checkpoint.
async fn fill(data: &Path, key: &Path) -> Vec<Day> {
    let today = Day::from_ns(acta_server::now_ns());
    let first = today.start_ns() - 4 * DAY_NS + DAY_NS / 2;
    let clock = Arc::new(AtomicI64::new(first));
    let now = Arc::clone(&clock);
    let mut integrity = IntegrityOptions::new(key.to_path_buf(), "node-1");
    integrity.interval = Duration::from_secs(3600);
    let options = StoreOptions {
        log: LogOptions { clock: Arc::new(move || now.fetch_add(1, Ordering::SeqCst)), ..LogOptions::default() },
        integrity: Some(integrity),
        ..StoreOptions::default()
    };
    let store = Store::open(data, options).await.unwrap();
    let mut days = Vec::new();
    for day in 0..3 {
        let time = acta_cadf::format_time(clock.load(Ordering::SeqCst));
        let body = format!(
            "[{{\"id\":\"d{day}-a\",\"eventTime\":\"{time}\",\"action\":\"iam.user.login\",\"outcome\":\"success\",\"initiatorId\":\"u-1\",\"targetId\":\"t-1\"}},\n\
             {{\"eventTime\":\"{time}\",\"action\":\"kms.secrets.read\",\"outcome\":\"failure\",\"n\":{day},\"initiatorId\":\"u-2\",\"targetId\":\"t-2\"}},\n\
             {{\n  \"eventTime\": \"{time}\",\n  \"action\": \"iam.user.logout\",\n  \"outcome\": \"success\",\n  \"initiatorId\": \"u-1\",\n  \"targetId\": \"t-1\"\n}},\n\
             {{\"id\":\"d{day}-b\",\"eventTime\":\"{time}\",\"action\":\"kms.secrets.create\",\"outcome\":\"success\",\"initiatorId\":\"u-3\",\"targetId\":\"t-3\"}}]"
        );
        let now = acta_server::now_ns();
        let events =
            acta_cadf::parse_batch(body.as_bytes(), acta_cadf::BodyFormat::Json, &acta_cadf::Options::default(), now)
                .unwrap();
        let instance = acta_store::Instance {
            id: INSTANCE.to_owned(),
            account: ACCOUNT.to_owned(),
            name: INSTANCE.to_owned(),
            region: "global".to_owned(),
            retention_days: 30,
            global: true,
            strict: false,
            created_at: String::new(),
        };
        let destination = acta_store::Destination::Instance(instance);
        let outcome = store.accept(acta_store::Batch { events, destination, now }).await.unwrap();
        assert_eq!(outcome.accepted, 4, "{outcome:?}");
        store.integrity().unwrap().sync().unwrap();
        days.push(Day::from_ns(clock.load(Ordering::SeqCst)));
        clock.fetch_add(DAY_NS, Ordering::SeqCst);
    }
    store.log().seal_before(Day::from_ns(clock.load(Ordering::SeqCst))).unwrap();
    store.close().await;
    days
}

/// Copies one sealed day into the archive layout and writes its manifest last, as the archive writer does.
fn archive_day(data: &Path, archive: &Path, day: Day) {
    let text = day.to_string();
    let (year, month, dom) = (&text[..4], &text[5..7], &text[8..10]);
    let dir = archive.join(format!("account={ACCOUNT}/instance={INSTANCE}/year={year}/month={month}/day={dom}"));
    std::fs::create_dir_all(&dir).unwrap();
    let segment = data.join("log").join(INSTANCE).join(format!("{day}.seg"));
    let copies = [
        (segment.clone(), format!("{day}.seg")),
        (files::notes_path(data, INSTANCE, day), format!("{day}.notes")),
        (files::leaves_path(data, INSTANCE, day), format!("{day}.leaves")),
        (files::keys_path(data), "keys".to_owned()),
    ];
    let mut listed = serde_json::Map::new();
    for (from, name) in copies {
        let bytes = std::fs::read(&from).unwrap_or_else(|error| panic!("{}: {error}", from.display()));
        std::fs::write(dir.join(&name), &bytes).unwrap();
        let sha256 = files::to_hex(&Sha256::digest(&bytes));
        listed.insert(name, json!({"bytes": bytes.len(), "sha256": sha256}));
    }
    let records = read_segment_file(&segment).unwrap();
    let notes = files::read_notes(&files::notes_path(data, INSTANCE, day)).unwrap();
    let last = notes.entries().last().unwrap();
    assert!(last.is_final, "the day's final checkpoint is signed");
    let manifest = json!({
        "format": "acta-archive 1",
        "account": ACCOUNT,
        "instance": INSTANCE,
        "day": text,
        "first_seq": records.first().unwrap().seq,
        "last_seq": records.last().unwrap().seq,
        "events": records.len(),
        "first_received": acta_cadf::format_time(records.first().unwrap().received_ns),
        "last_received": acta_cadf::format_time(records.last().unwrap().received_ns),
        "final_checkpoint": last.note,
        "files": listed,
    });
    std::fs::write(dir.join("MANIFEST.json"), format!("{manifest:#}")).unwrap();
}

/// A copy of the archive the test may change.
struct Copy {
    root: tempfile::TempDir,
}

impl Copy {
    fn new() -> Copy {
        let copy = Copy { root: tempfile::tempdir().unwrap() };
        copy_dir(&built().archive, &copy.archive());
        copy
    }

    fn archive(&self) -> PathBuf {
        self.root.path().join("archive")
    }

    /// The directory of the `n`th archived day.
    fn day_dir(&self, n: usize) -> PathBuf {
        let text = built().days[n].to_string();
        self.archive().join(format!(
            "account={ACCOUNT}/instance={INSTANCE}/year={}/month={}/day={}",
            &text[..4],
            &text[5..7],
            &text[8..10]
        ))
    }
}

fn verify(archive: &Path) -> Output {
    let key = SigningKey::load(&built().key).unwrap().verifier().to_text();
    verify_with_key(archive, &key, &[])
}

/// The original records of the data directory, day by day.
fn original_records() -> Vec<Record> {
    built()
        .days
        .iter()
        .flat_map(|day| read_segment_file(&built().data.join("log").join(INSTANCE).join(format!("{day}.seg"))).unwrap())
        .collect()
}

/// A fresh server with a fresh instance `restored` in the default account; returns the server, its data
/// directory's parent, and the instance id.
fn fresh_server() -> (Server, tempfile::TempDir, String) {
    let root = tempfile::tempdir().unwrap();
    let server = start(&root.path().join("data"), &root.path().join("logs"));
    let created: Value = server
        .post("/v1/instances")
        .json(&json!({"name": "restored", "region": "eu-de", "retention_days": 30}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let instance = created["id"].as_str().unwrap_or_else(|| panic!("no instance: {created}")).to_owned();
    (server, root, instance)
}

fn import(server: &Server, sources: &[&Path], extra: &[&str]) -> Output {
    let mut args: Vec<&OsStr> = vec![OsStr::new("import")];
    args.extend(sources.iter().map(|source| source.as_os_str()));
    args.extend([OsStr::new("--url"), OsStr::new(&server.url), OsStr::new("--api-key"), OsStr::new(ADMIN_KEY)]);
    args.extend(extra.iter().map(OsStr::new));
    run_acta(&args, &[], Duration::from_secs(120))
}

#[test]
fn an_archive_made_from_a_data_directory_verifies() {
    let copy = Copy::new();
    let output = verify(&copy.archive());
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("12/12 events valid"), "{}", output.stdout);
}

#[test]
fn an_archive_whose_first_days_are_gone_verifies_and_says_where_its_chain_starts() {
    let copy = Copy::new();
    std::fs::remove_dir_all(copy.day_dir(0)).unwrap();
    let output = verify(&copy.archive());
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("8/8 events valid"), "{}", output.stdout);
    assert!(
        output.stdout.contains(&format!("{INSTANCE}: the chain starts at {} (seq 5)", built().days[1])),
        "{}",
        output.stdout
    );
}

#[test]
fn a_flipped_byte_in_an_archived_segment_fails_naming_the_file() {
    let copy = Copy::new();
    let segment = copy.day_dir(1).join(format!("{}.seg", built().days[1]));
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&segment, bytes).unwrap();
    let output = verify(&copy.archive());
    assert_eq!(output.status.code(), Some(1), "{}\n{}", output.stdout, output.stderr);
    let failing: Vec<&str> = output.stdout.lines().filter(|line| line.starts_with("FAIL")).collect();
    assert!(
        failing.iter().any(|line| line.contains(&format!("{}.seg", built().days[1])) && line.contains("SHA-256")),
        "{}",
        output.stdout
    );
}

#[test]
fn a_day_without_its_manifest_is_reported_as_incomplete() {
    let copy = Copy::new();
    std::fs::remove_file(copy.day_dir(1).join("MANIFEST.json")).unwrap();
    let output = verify(&copy.archive());
    assert_eq!(output.status.code(), Some(1), "{}\n{}", output.stdout, output.stderr);
    let day = built().days[1];
    assert!(
        output.stdout.lines().any(|line| line.starts_with(&format!("FAIL {INSTANCE} {day}"))
            && line.contains("has no MANIFEST.json: the day is incomplete")),
        "{}",
        output.stdout
    );
}

#[test]
fn a_day_missing_from_the_archive_is_named_and_is_not_tampering() {
    let copy = Copy::new();
    std::fs::remove_dir_all(copy.day_dir(1)).unwrap();
    let output = verify(&copy.archive());
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    let (before, after) = (built().days[0], built().days[2]);
    assert!(
        output.stdout.contains(&format!(
            "the days after {before} and before {after} are missing from the archive (seqs 5 to 8)"
        )),
        "{}",
        output.stdout
    );
}

#[test]
fn an_imported_archive_gives_back_the_same_events_with_the_same_bytes_and_ids() {
    let copy = Copy::new();
    let (mut server, root, instance) = fresh_server();
    let output = import(&server, &[&copy.archive()], &["--instance", &instance, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    let answer = json_of(&output);
    assert_eq!(
        (answer["stored"].clone(), answer["duplicates"].clone(), answer["rejected"].clone()),
        (json!(12), json!(0), json!(0)),
        "{answer}"
    );
    server.terminate();
    let original: Vec<(String, Vec<u8>)> =
        original_records().into_iter().map(|record| (record.event_id, record.event)).collect();
    assert_eq!(original.len(), 12);
    assert!(original.iter().any(|(_, event)| event.contains(&b'\n')), "a multi-line event is part of the test");
    assert_eq!(stored(&root.path().join("data"), &instance), original, "same ids and bytes, in the same order");
}

#[test]
fn importing_an_archive_twice_stores_nothing_the_second_time() {
    let copy = Copy::new();
    let (server, _root, instance) = fresh_server();
    let first = import(&server, &[&copy.archive()], &["--instance", &instance, "--json"]);
    assert_eq!(first.status.code(), Some(0), "{}\n{}", first.stdout, first.stderr);
    let second = import(&server, &[&copy.archive()], &["--instance", &instance, "--json"]);
    assert_eq!(second.status.code(), Some(0), "{}\n{}", second.stdout, second.stderr);
    let answer = json_of(&second);
    assert_eq!((answer["stored"].clone(), answer["duplicates"].clone()), (json!(0), json!(12)), "{answer}");
}

#[test]
fn an_archive_day_that_does_not_match_its_manifest_is_not_imported() {
    let copy = Copy::new();
    let notes = copy.day_dir(2).join(format!("{}.notes", built().days[2]));
    let mut bytes = std::fs::read(&notes).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(&notes, bytes).unwrap();
    let (server, _root, instance) = fresh_server();
    let output = import(&server, &[&copy.archive()], &["--instance", &instance, "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}\n{}", output.stdout, output.stderr);
    let answer = json_of(&output);
    assert_eq!(answer["stored"], 8, "the two intact days: {answer}");
    let failures = answer["failures"].to_string();
    assert!(failures.contains("not imported") && failures.contains(".notes has"), "{answer}");
}

#[test]
fn ndjson_import_reports_the_invalid_line_and_stores_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let lines = [
        common::event("n-1", "iam.user.login", "success").to_string(),
        String::new(),
        common::event("n-2", "iam.user.login", "success").to_string(),
        json!({"id": "n-3", "action": "iam.user.login"}).to_string(),
        common::event("n-4", "iam.user.login", "failure").to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (server, _root, _instance) = fresh_server();
    let output = import(&server, &[&file], &[]);
    assert_eq!(output.status.code(), Some(1), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("3 stored, 0 duplicates, 1 rejected, 0 failed"), "{}", output.stdout);
    let place = format!("{} line 4 rejected: ", file.display());
    assert!(
        output.stderr.lines().any(|line| line.starts_with(&place) && line.contains("eventTime")),
        "{}",
        output.stderr
    );
    assert_eq!(server.wait_count("action:iam.user.login", 3, Duration::from_secs(20)), 3);
}

#[test]
fn compressed_ndjson_and_a_json_array_import_like_plain_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let zst = dir.path().join("a.ndjson.zst");
    let gz = dir.path().join("b.ndjson.gz");
    let array = dir.path().join("c.json");
    let line = |id: &str| format!("{}\n", common::event(id, "iam.user.login", "success"));
    std::fs::write(&zst, zstd::encode_all(line("z-1").as_bytes(), 3).unwrap()).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, line("g-1").as_bytes()).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    let events =
        json!([common::event("a-1", "iam.user.login", "success"), common::event("a-2", "iam.user.login", "success")]);
    std::fs::write(&array, format!("{events:#}")).unwrap();
    let (server, _root, _instance) = fresh_server();
    let output = import(&server, &[dir.path()], &[]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("4 stored, 0 duplicates, 0 rejected, 0 failed"), "{}", output.stdout);
    let ids: BTreeMap<String, u16> =
        ["z-1", "g-1", "a-1", "a-2"].into_iter().map(|id| (id.to_owned(), wait_found(&server, id))).collect();
    assert!(ids.values().all(|status| *status == 200), "{ids:?}");
}

/// The status of `GET /v1/events/{id}` once the event is searchable (or after a bounded wait).
fn wait_found(server: &Server, id: &str) -> u16 {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = server.one(id);
        if status == 200 || std::time::Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_segment_file_imports_its_events_with_the_ids_its_log_recorded() {
    let segment = built().data.join("log").join(INSTANCE).join(format!("{}.seg", built().days[0]));
    let (server, _root, instance) = fresh_server();
    let output = import(&server, &[&segment], &["--instance", "restored"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("4 stored, 0 duplicates, 0 rejected, 0 failed"), "{}", output.stdout);
    let records = read_segment_file(&segment).unwrap();
    for record in &records {
        assert_eq!(wait_found(&server, &record.event_id), 200, "event {} keeps its id", record.event_id);
        assert_eq!(server.one(&record.event_id).1["_acta"]["instance"], json!(instance));
    }
}

#[test]
fn json_output_on_an_archive_names_the_changed_file() {
    let copy = Copy::new();
    let leaves = copy.day_dir(0).join(format!("{}.leaves", built().days[0]));
    let mut bytes = std::fs::read(&leaves).unwrap();
    bytes[0] ^= 0x80;
    std::fs::write(&leaves, bytes).unwrap();
    let key = SigningKey::load(&built().key).unwrap().verifier().to_text();
    let archive = copy.archive();
    let args = [OsStr::new("verify"), archive.as_os_str(), OsStr::new("--key"), OsStr::new(&key), OsStr::new("--json")];
    let output = run_acta(&args, &[], Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(1), "{}\n{}", output.stdout, output.stderr);
    let report: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|problem| problem["day"] == json!(built().days[0].to_string())
            && problem["reason"].as_str().unwrap().contains(".leaves: SHA-256")),
        "{report:#}"
    );
    assert_eq!(report["events"]["valid"], 12, "the records themselves are intact: {report:#}");
}

/// A CloudTrail log file as AWS delivers it to S3 (the sample of `acta-cadf`'s adapter tests, two records).
fn cloudtrail_file() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../acta-cadf/tests/samples/cloudtrail/log-file.json")
}

#[test]
fn a_cloudtrail_file_imported_with_its_format_stores_each_record_once() {
    let (server, _root, instance) = fresh_server();
    let first = import(&server, &[&cloudtrail_file()], &["--format", "cloudtrail", "--instance", &instance]);
    assert_eq!(first.status.code(), Some(0), "{}\n{}", first.stdout, first.stderr);
    assert_eq!(first.stdout.trim(), "2 stored, 0 duplicates, 0 rejected, 0 failed");
    let again = import(&server, &[&cloudtrail_file()], &["--format", "cloudtrail", "--instance", &instance]);
    assert_eq!(again.stdout.trim(), "0 stored, 2 duplicates, 0 rejected, 0 failed", "{}", again.stderr);
}

#[test]
fn a_file_of_another_format_fails_alone_with_the_servers_reason() {
    let (server, root, instance) = fresh_server();
    let not_kubernetes = root.path().join("trail.json");
    std::fs::copy(cloudtrail_file(), &not_kubernetes).unwrap();
    let output = import(&server, &[&not_kubernetes], &["--format", "kubernetes", "--instance", &instance]);
    assert_eq!(output.status.code(), Some(1), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stderr.contains("trail.json"), "{}", output.stderr);
    let bad = import(&server, &[&cloudtrail_file()], &["--format", "syslog", "--instance", &instance]);
    assert!(bad.stderr.contains("not one Acta reads"), "{}", bad.stderr);
}
