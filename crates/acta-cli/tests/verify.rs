//! `acta verify` against data directories tampered with in every way an attacker with write access
//! could: each change is reported, naming the record or checkpoint, and an untouched directory
//! verifies.
//!
//! The directories are built in-process with the store's log and checkpointer (a fake clock
//! crosses a day), then the real binary checks them. Records are rewritten the way a capable
//! attacker would: whole frames with correct checksums, seqs renumbered to stay contiguous, so
//! only the Merkle checks can tell.
#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use acta_ledger::{Checkpoint, SigningKey};
use acta_store::integrity::files;
use acta_store::log::{Envelope, Log, LogOptions, NewRecord, encode_payload};
use acta_store::{Day, Integrity, IntegrityOptions, Record};
use common::{Output, copy_dir, run_acta, verify_with_key};

const DAY_NS: i64 = 86_400_000_000_000;
const FIRST_DAY: &str = "2026-11-21";
const SECOND_DAY: &str = "2026-11-22";

/// A data directory and the key that signed it (kept outside it).
struct Built {
    root: tempfile::TempDir,
}

impl Built {
    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn key_path(&self) -> PathBuf {
        self.root.path().join("signing-key")
    }

    fn public_key(&self) -> String {
        SigningKey::load(&self.key_path()).unwrap().verifier().to_text()
    }

    fn segment(&self, instance: &str, day: &str) -> PathBuf {
        self.data().join("log").join(instance).join(format!("{day}.log"))
    }

    fn notes(&self, instance: &str, day: &str) -> PathBuf {
        files::notes_path(&self.data(), instance, day.parse().unwrap())
    }

    /// `acta verify <data> --key <public key> [extra...]`.
    fn verify(&self, extra: &[&OsStr]) -> Output {
        self.verify_dir(&self.data(), extra)
    }

    fn verify_dir(&self, dir: &Path, extra: &[&OsStr]) -> Output {
        verify_with_key(dir, &self.public_key(), extra)
    }
}

/// The log and checkpointer on a built directory, with a clock the test moves.
struct Writer {
    log: Arc<Log>,
    integrity: Integrity,
    clock: Arc<AtomicI64>,
}

impl Writer {
    fn open(built: &Built, clock: Arc<AtomicI64>) -> Writer {
        let now = Arc::clone(&clock);
        let options =
            LogOptions { clock: Arc::new(move || now.fetch_add(1, Ordering::SeqCst)), ..LogOptions::default() };
        let log = Arc::new(Log::open(&built.data().join("log"), options).unwrap());
        let mut integrity = IntegrityOptions::new(built.key_path(), "node-1");
        integrity.interval = Duration::from_secs(3600); // every checkpoint here comes from `batch`
        let integrity = Integrity::open(&built.data(), Arc::clone(&log), integrity).unwrap();
        Writer { log, integrity, clock }
    }

    /// Appends `count` events and signs a checkpoint of them.
    fn batch(&self, instance: &str, account: &str, count: usize) {
        let records = (0..count)
            .map(|_| {
                let n = self.log.last_seq(instance) as usize;
                NewRecord {
                    account: account.to_owned(),
                    event_id: format!("{instance}-{n}-{}", self.clock.load(Ordering::SeqCst)),
                    event: format!(r#"{{"action":"iam.user.login","outcome":"success","n":{n}}}"#).into_bytes(),
                }
            })
            .collect();
        self.log.append(instance, records).unwrap();
        self.integrity.sync().unwrap();
    }

    fn next_day(&self) {
        self.clock.fetch_add(DAY_NS, Ordering::SeqCst);
    }

    fn close(self) {
        self.integrity.close().unwrap();
    }
}

fn start_clock() -> Arc<AtomicI64> {
    let day: Day = FIRST_DAY.parse().unwrap();
    Arc::new(AtomicI64::new(day.start_ns() + DAY_NS / 2))
}

/// prod (account acme): seqs 1-5 on the first day, 6-13 on the second, in checkpointed batches
/// of 3+2 and 3+3+2 (checkpoints of tree sizes 4, 6 and 4, 7, 9). eu (account globex): seqs 1-2
/// on the second day. The first day's segment is sealed (`.seg`); the second is active (`.log`).
fn build() -> Built {
    let built = Built { root: tempfile::tempdir().unwrap() };
    let writer = Writer::open(&built, start_clock());
    writer.batch("prod", "acme", 3);
    writer.batch("prod", "acme", 2);
    writer.next_day();
    writer.batch("prod", "acme", 3);
    writer.batch("prod", "acme", 3);
    writer.batch("prod", "acme", 2);
    writer.batch("eu", "globex", 2);
    writer.log.seal_before(SECOND_DAY.parse().unwrap()).unwrap();
    writer.close();
    built
}

fn assert_fails(output: &Output, expected: &[&str]) {
    println!("{}", output.stdout);
    assert_eq!(output.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", output.stdout, output.stderr);
    for text in expected {
        assert!(output.stdout.contains(text), "{text:?} is not in:\n{}", output.stdout);
    }
}

/// The records of an active segment file.
fn read_records(path: &Path) -> Vec<Record> {
    acta_store::log::read_segment_file(path).unwrap()
}

/// Writes records as frames with correct checksums.
fn write_records(path: &Path, records: &[Record]) {
    let mut bytes = Vec::new();
    for record in records {
        let envelope = Envelope {
            seq: record.seq,
            received_ns: record.received_ns,
            stream: &record.stream,
            account: &record.account,
            instance: &record.instance,
            event_id: &record.event_id,
        };
        let payload = encode_payload(&envelope, &record.event).unwrap();
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
    }
    std::fs::write(path, bytes).unwrap();
}

/// Rewrites a segment with `change` applied, then renumbers the seqs so they stay contiguous.
fn rewrite(path: &Path, change: impl FnOnce(&mut Vec<Record>)) {
    let mut records = read_records(path);
    let first_seq = records[0].seq;
    change(&mut records);
    for (position, record) in records.iter_mut().enumerate() {
        record.seq = first_seq + position as u64;
    }
    write_records(path, &records);
}

/// Position of seq in the second day's prod segment, which starts at seq 6.
fn at(seq: u64) -> usize {
    usize::try_from(seq - 6).unwrap()
}

#[test]
fn an_untouched_data_directory_verifies() {
    let built = build();
    let output = built.verify(&[]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    // prod: 2 + 1 final on the first day, 3 on the second; eu: 1.
    assert!(output.stdout.contains("7/7 checkpoints valid, 15/15 events valid"), "{}", output.stdout);
}

#[test]
fn without_a_key_the_data_directorys_key_history_is_used_and_said_so() {
    let built = build();
    let output = run_acta(&[OsStr::new("verify"), built.data().as_os_str()], &[], Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("pass --key"), "{}", output.stdout);
}

#[test]
fn a_flipped_bit_in_an_event_is_reported_at_its_record() {
    let built = build();
    let path = built.segment("prod", SECOND_DAY);
    let mut bytes = std::fs::read(&path).unwrap();
    let records = read_records(&path);
    // The last byte of seq 8's frame is inside its event.
    let end: usize = records[..=at(8)].iter().map(|record| 8 + record.payload.len()).sum();
    bytes[end - 2] ^= 0x04;
    std::fs::write(&path, bytes).unwrap();
    assert_fails(&built.verify(&[]), &["prod 2026-11-22 seq 8:", "checksum mismatch"]);
}

#[test]
fn an_event_changed_with_a_recomputed_checksum_is_named_by_the_merkle_check() {
    let built = build();
    rewrite(&built.segment("prod", SECOND_DAY), |records| {
        let event = String::from_utf8(records[at(8)].event.clone()).unwrap();
        records[at(8)].event = event.replace("success", "failure").into_bytes();
    });
    assert_fails(&built.verify(&[]), &["prod 2026-11-22 seq 8: the record was changed"]);
}

#[test]
fn a_deleted_record_is_reported() {
    let built = build();
    rewrite(&built.segment("prod", SECOND_DAY), |records| {
        records.remove(at(8));
    });
    assert_fails(&built.verify(&[]), &["prod 2026-11-22 seq 8: the signed record with this seq is missing: removed"]);
}

#[test]
fn an_inserted_record_is_reported() {
    let built = build();
    rewrite(&built.segment("prod", SECOND_DAY), |records| {
        let mut forged = records[at(8)].clone();
        forged.event_id = "forged".to_owned();
        forged.event = br#"{"action":"iam.policy.delete","outcome":"success"}"#.to_vec();
        records.insert(at(8), forged);
    });
    assert_fails(&built.verify(&[]), &["prod 2026-11-22 seq 8: the record is not in the signed history: added"]);
}

#[test]
fn two_reordered_records_are_reported() {
    let built = build();
    rewrite(&built.segment("prod", SECOND_DAY), |records| {
        // Arrival times stay in place, so they still never go back.
        let (first, second) = (records[at(8)].received_ns, records[at(9)].received_ns);
        records.swap(at(8), at(9));
        records[at(8)].received_ns = first;
        records[at(9)].received_ns = second;
    });
    assert_fails(
        &built.verify(&[]),
        &["prod 2026-11-22 seq 8: the records seq 8 and seq 9 are not in the signed order"],
    );
}

#[test]
fn an_event_moved_from_another_account_is_reported() {
    let built = build();
    let mut stolen = read_records(&built.segment("eu", SECOND_DAY)).remove(0);
    // Made to fit its new segment everywhere but in whose event it is.
    stolen.instance = "prod".to_owned();
    rewrite(&built.segment("prod", SECOND_DAY), |records| {
        stolen.received_ns = records[at(8)].received_ns;
        records.insert(at(8), stolen);
    });
    assert_fails(
        &built.verify(&[]),
        &[
            "prod 2026-11-22 seq 8: the record (event eu-0",
            "belongs to account globex, but this segment is account acme's",
        ],
    );
}

#[test]
fn a_replaced_checkpoint_is_reported() {
    let built = build();
    let path = built.notes("prod", SECOND_DAY);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let original = files::NoteEntry::parse(lines[1]).unwrap();
    // The attacker signs a checkpoint of their own version with a key of their own.
    let mut checkpoint =
        Checkpoint::parse(original.note.split("\n\n").next().map(|body| format!("{body}\n")).as_deref().unwrap())
            .unwrap();
    checkpoint.root = [9; 32];
    let forger = SigningKey::generate("node-1").unwrap();
    let forged = files::NoteEntry { note: forger.sign(&checkpoint).unwrap(), ..original };
    let replaced: String =
        lines.iter().enumerate().map(|(n, line)| if n == 1 { forged.to_line() } else { format!("{line}\n") }).collect();
    std::fs::write(&path, replaced).unwrap();
    assert_fails(
        &built.verify(&[]),
        &["prod 2026-11-22: checkpoint line 2: the note is not signed by any known key", "6/7 checkpoints valid"],
    );
}

#[test]
fn a_truncated_segment_is_reported() {
    let built = build();
    let path = built.segment("prod", SECOND_DAY);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
    assert_fails(
        &built.verify(&[]),
        &["prod 2026-11-22 seq 13: unreadable (the record after seq 12)", "incomplete frame"],
    );
}

#[test]
fn a_deleted_segment_breaks_the_link_of_the_next_one() {
    let built = build();
    std::fs::remove_file(built.data().join("log/prod").join(format!("{FIRST_DAY}.seg"))).unwrap();
    std::fs::remove_file(built.notes("prod", FIRST_DAY)).unwrap();
    assert_fails(
        &built.verify(&[]),
        &["prod 2026-11-22: the segment links to a previous segment, but the instance has none before it"],
    );
}

#[test]
fn a_segment_removed_by_retention_with_its_final_checkpoint_kept_still_verifies() {
    let built = build();
    let log = Log::open(&built.data().join("log"), LogOptions::default()).unwrap();
    log.remove_segment("prod", FIRST_DAY.parse().unwrap()).unwrap();
    drop(log);
    std::fs::remove_file(files::leaves_path(&built.data(), "prod", FIRST_DAY.parse().unwrap())).unwrap();
    let output = built.verify(&[]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("7/7 checkpoints valid, 10/10 events valid"), "{}", output.stdout);
}

#[test]
fn a_rollback_to_an_older_consistent_state_is_reported_against_saved_checkpoints() {
    let built = Built { root: tempfile::tempdir().unwrap() };
    let clock = start_clock();
    let writer = Writer::open(&built, Arc::clone(&clock));
    writer.batch("prod", "acme", 3);
    writer.close();
    let old = built.root.path().join("old");
    copy_dir(&built.data(), &old);

    let writer = Writer::open(&built, clock);
    writer.batch("prod", "acme", 2);
    // What an auditor saved from GET /v1/integrity/checkpoints.
    let saved: Vec<serde_json::Value> = writer
        .integrity
        .checkpoints("prod", None)
        .unwrap()
        .into_iter()
        .map(|checkpoint| serde_json::json!({"note": checkpoint.note}))
        .collect();
    writer.close();
    let saved_path = built.root.path().join("saved.json");
    std::fs::write(&saved_path, serde_json::json!({ "checkpoints": saved }).to_string()).unwrap();

    // The attacker puts back the older state: consistent in itself.
    let output = built.verify_dir(&old, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", output.stdout);
    let output = built.verify_dir(&old, &[OsStr::new("--checkpoints"), saved_path.as_os_str()]);
    assert_fails(
        &output,
        &[
            "prod 2026-11-21 seq 4: a saved checkpoint",
            "covers 5 records, but the segment holds only 3: the log was rolled back",
            "seq 4 to 5 are missing",
        ],
    );
    // The real directory extends what the auditor saved.
    let output = built.verify(&[OsStr::new("--checkpoints"), saved_path.as_os_str()]);
    assert_eq!(output.status.code(), Some(0), "{}", output.stdout);
    assert!(output.stdout.contains("1/1 saved checkpoints consistent"), "{}", output.stdout);
}

#[test]
fn checkpoints_signed_by_another_key_fail() {
    let built = build();
    let stranger = SigningKey::generate("node-1").unwrap().verifier().to_text();
    let output = verify_with_key(&built.data(), &stranger, &[]);
    assert_fails(&output, &["not signed by any known key", "0/7 checkpoints valid"]);
}

#[test]
fn json_output_names_the_failing_record() {
    let built = build();
    rewrite(&built.segment("prod", SECOND_DAY), |records| {
        records[at(10)].event_id = "renamed".to_owned();
    });
    let output = built.verify(&[OsStr::new("--json")]);
    assert_eq!(output.status.code(), Some(1), "{}", output.stdout);
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let named = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|problem| problem["instance"] == "prod" && problem["day"] == SECOND_DAY && problem["seq"] == 10);
    assert!(named, "{report:#}");
}

#[test]
fn a_path_that_is_not_a_data_directory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_acta(&[OsStr::new("verify"), dir.path().as_os_str()], &[], Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2), "{}", output.stderr);
    assert!(output.stderr.contains("no log/ directory"), "{}", output.stderr);
}
