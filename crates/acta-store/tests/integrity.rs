//! The checkpointer over a real log: what it signs, where it keeps it, how it links segments and
//! resumes after a restart, and the proofs it serves.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use acta_ledger::{Hash, KeyRing, SigningKey, leaf_hash, root, verify_consistency, verify_inclusion};
use acta_store::integrity::files::{self, GENESIS, link_leaf, note_hash};
use acta_store::log::{Log, LogOptions, NewRecord, read_segment_file};
use acta_store::{Day, Integrity, IntegrityError, IntegrityOptions};

const DAY_NS: i64 = 86_400_000_000_000;

/// A clock the test moves: noon of 2026-11-21 to start with.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn new() -> Clock {
        let day: Day = "2026-11-21".parse().unwrap();
        Clock(Arc::new(AtomicI64::new(day.start_ns() + DAY_NS / 2)))
    }

    fn next_day(&self) {
        self.0.fetch_add(DAY_NS, Ordering::SeqCst);
    }

    fn today(&self) -> Day {
        Day::from_ns(self.0.load(Ordering::SeqCst))
    }

    fn options(&self) -> LogOptions {
        let now = Arc::clone(&self.0);
        LogOptions { clock: Arc::new(move || now.fetch_add(1, Ordering::SeqCst)), ..LogOptions::default() }
    }
}

/// A data directory, a key directory outside it, and a clock.
struct Fixture {
    data: tempfile::TempDir,
    keys: tempfile::TempDir,
    clock: Clock,
}

/// A log and its integrity layer; the round thread never fires on its own (one-hour interval), so
/// every checkpoint in these tests comes from an explicit `sync`.
struct Open {
    log: Arc<Log>,
    integrity: Integrity,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture { data: tempfile::tempdir().unwrap(), keys: tempfile::tempdir().unwrap(), clock: Clock::new() }
    }

    fn key_path(&self) -> std::path::PathBuf {
        self.keys.path().join("signing-key")
    }

    fn open(&self) -> Open {
        let log = Arc::new(Log::open(&self.data.path().join("log"), self.clock.options()).unwrap());
        let mut options = IntegrityOptions::new(self.key_path(), "node-1");
        options.interval = Duration::from_secs(3600);
        let integrity = Integrity::open(self.data.path(), Arc::clone(&log), options).unwrap();
        Open { log, integrity }
    }

    fn ring(&self) -> KeyRing {
        let mut ring = KeyRing::new();
        ring.add(SigningKey::load(&self.key_path()).unwrap().verifier()).unwrap();
        ring
    }

    fn notes(&self, instance: &str, day: Day) -> Vec<files::NoteEntry> {
        let file = files::read_notes(&files::notes_path(self.data.path(), instance, day)).unwrap();
        file.entries().cloned().collect()
    }

    fn payload_leaves(&self, instance: &str, day: Day) -> Vec<Hash> {
        let log_dir = self.data.path().join("log").join(instance);
        let path = [format!("{day}.seg"), format!("{day}.log")]
            .into_iter()
            .map(|name| log_dir.join(name))
            .find(|path| path.exists())
            .unwrap();
        read_segment_file(&path).unwrap().iter().map(|record| leaf_hash(&record.payload)).collect()
    }
}

impl Open {
    fn append(&self, instance: &str, account: &str, count: usize) {
        let records = (0..count)
            .map(|i| NewRecord {
                account: account.to_owned(),
                event_id: format!("{instance}-{}", self.log.last_seq(instance) as usize + i + 1),
                event: format!(r#"{{"action":"test.event","n":{i}}}"#).into_bytes(),
            })
            .collect();
        self.log.append(instance, records).unwrap();
    }

    fn close(self) {
        self.integrity.close().unwrap();
        drop(self.integrity);
        drop(self.log);
    }
}

fn tree(link: &Hash, records: &[Hash]) -> Vec<Hash> {
    let mut leaves = vec![link_leaf(link)];
    leaves.extend_from_slice(records);
    leaves
}

#[test]
fn a_checkpoint_signs_the_link_leaf_and_then_every_record_of_the_segment() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 3);
    open.integrity.sync().unwrap();

    let day = fixture.clock.today();
    let notes = fixture.notes("prod", day);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].link, GENESIS);
    let checkpoint = fixture.ring().open(&notes[0].note).unwrap();
    assert_eq!(checkpoint.origin, format!("node-1/acme/prod/{day}"));
    assert_eq!(checkpoint.size, 4);
    assert_eq!(checkpoint.root, root(&tree(&GENESIS, &fixture.payload_leaves("prod", day))));
    open.close();
}

#[test]
fn a_round_without_new_records_signs_nothing() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 2);
    open.integrity.sync().unwrap();
    open.integrity.sync().unwrap();
    open.append("prod", "acme", 1);
    open.integrity.sync().unwrap();
    let sizes: Vec<u64> = fixture
        .notes("prod", fixture.clock.today())
        .iter()
        .map(|entry| fixture.ring().open(&entry.note).unwrap().size)
        .collect();
    assert_eq!(sizes, [3, 4]);
    open.close();
}

#[test]
fn a_closed_segment_gets_a_final_checkpoint_and_the_next_segment_links_to_it() {
    let fixture = Fixture::new();
    let open = fixture.open();
    let first_day = fixture.clock.today();
    open.append("prod", "acme", 2);
    open.integrity.sync().unwrap();
    fixture.clock.next_day();
    open.append("prod", "acme", 3);
    open.integrity.sync().unwrap();

    let first = fixture.notes("prod", first_day);
    let last = first.last().unwrap();
    assert!(last.is_final);
    assert_eq!(fixture.ring().open(&last.note).unwrap().size, 3);

    let second_day = fixture.clock.today();
    let second = fixture.notes("prod", second_day);
    assert_eq!(second.len(), 1);
    assert!(!second[0].is_final);
    assert_eq!(second[0].link, note_hash(&last.note));
    let checkpoint = fixture.ring().open(&second[0].note).unwrap();
    let leaves = tree(&note_hash(&last.note), &fixture.payload_leaves("prod", second_day));
    assert_eq!(checkpoint.root, root(&leaves));
    open.close();
}

#[test]
fn instances_have_separate_chains() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 2);
    open.append("eu", "globex", 1);
    open.integrity.sync().unwrap();
    let day = fixture.clock.today();
    let ring = fixture.ring();
    let prod = ring.open(&fixture.notes("prod", day)[0].note).unwrap();
    let eu = ring.open(&fixture.notes("eu", day)[0].note).unwrap();
    assert_eq!((prod.origin.as_str(), prod.size), (format!("node-1/acme/prod/{day}").as_str(), 3));
    assert_eq!((eu.origin.as_str(), eu.size), (format!("node-1/globex/eu/{day}").as_str(), 2));
    open.close();
}

#[test]
fn after_a_restart_the_tree_grows_from_its_last_checkpoint() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 5);
    open.integrity.sync().unwrap();
    open.close();

    let open = fixture.open();
    open.append("prod", "acme", 4);
    open.integrity.sync().unwrap();
    open.close();

    let day = fixture.clock.today();
    let ring = fixture.ring();
    let notes = fixture.notes("prod", day);
    let old = ring.open(&notes[0].note).unwrap();
    let new = ring.open(&notes.last().unwrap().note).unwrap();
    assert_eq!((old.size, new.size), (6, 10));
    let leaves = tree(&GENESIS, &fixture.payload_leaves("prod", day));
    let proof = acta_ledger::consistency_proof(&leaves, old.size).unwrap();
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof).unwrap();
}

#[test]
fn a_lost_leaves_file_is_rebuilt_from_the_log_at_restart() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 3);
    open.integrity.sync().unwrap();
    open.close();
    let day = fixture.clock.today();
    std::fs::remove_file(files::leaves_path(fixture.data.path(), "prod", day)).unwrap();

    let open = fixture.open();
    open.append("prod", "acme", 1);
    open.integrity.sync().unwrap();
    let leaves = files::read_leaves(&files::leaves_path(fixture.data.path(), "prod", day)).unwrap();
    assert_eq!(leaves, tree(&GENESIS, &fixture.payload_leaves("prod", day)));
    open.close();
}

#[test]
fn a_torn_checkpoint_line_is_cut_at_restart() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 2);
    open.integrity.sync().unwrap();
    open.close();
    let day = fixture.clock.today();
    let path = files::notes_path(fixture.data.path(), "prod", day);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"link":"00"#);
    std::fs::write(&path, &bytes).unwrap();

    let open = fixture.open();
    open.append("prod", "acme", 1);
    open.integrity.sync().unwrap();
    let file = files::read_notes(&path).unwrap();
    assert_eq!(file.torn_at, None);
    assert_eq!(file.entries().count(), 2);
    open.close();
}

#[test]
fn a_log_changed_while_stopped_stops_the_checkpoints_of_its_instance() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 3);
    open.append("eu", "globex", 1);
    open.integrity.sync().unwrap();
    open.close();
    let day = fixture.clock.today();
    // Rewrite the last record's event byte and fix its checksum, as a careful attacker would; drop
    // the leaves file so the restart has to read the log.
    let path = fixture.data.path().join("log/prod").join(format!("{day}.log"));
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    let frames = frame_offsets(&bytes);
    let (start, len) = *frames.last().unwrap();
    let crc = crc32c::crc32c(&bytes[start + 8..start + len]);
    bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    std::fs::remove_file(files::leaves_path(fixture.data.path(), "prod", day)).unwrap();

    let open = fixture.open();
    open.append("prod", "acme", 1);
    open.append("eu", "globex", 1);
    let error = open.integrity.sync().unwrap_err();
    assert!(matches!(&error, IntegrityError::Halted { instance, .. } if instance == "prod"), "{error}");
    assert_eq!(fixture.notes("prod", day).len(), 1, "nothing more is signed for prod");
    assert_eq!(fixture.notes("eu", day).len(), 2, "other instances go on");
    drop(open);
}

fn frame_offsets(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        frames.push((at, 8 + len));
        at += 8 + len;
    }
    frames
}

#[test]
fn a_proof_leads_from_the_record_to_the_latest_checkpoint_of_its_segment() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 7);
    assert_eq!(open.integrity.proof("prod", 3).unwrap(), None, "nothing is signed yet");
    open.integrity.sync().unwrap();
    open.append("prod", "acme", 2);
    open.integrity.sync().unwrap();

    let proof = open.integrity.proof("prod", 3).unwrap().unwrap();
    assert_eq!((proof.leaf_index, proof.tree_size), (3, 10));
    assert_eq!(proof.leaf_hash, leaf_hash(&proof.payload));
    let checkpoint = fixture.ring().open(&proof.note).unwrap();
    verify_inclusion(&proof.leaf_hash, proof.leaf_index, proof.tree_size, &proof.proof, &checkpoint.root).unwrap();
    assert_eq!(open.integrity.proof("prod", 99).unwrap(), None);
    open.close();
}

#[test]
fn the_signing_key_is_created_private_outside_the_data_directory_and_recorded_there() {
    let fixture = Fixture::new();
    let open = fixture.open();
    let key_path = fixture.key_path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let history = std::fs::read_to_string(files::keys_path(fixture.data.path())).unwrap();
    assert!(history.contains(&open.integrity.verifier_key().to_text()));
    assert!(!history.contains("PRIVATE"));
    assert!(!dir_contains(fixture.data.path(), "PRIVATE+KEY"), "no secret in the data directory");
    open.close();
}

fn dir_contains(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            dir_contains(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        }
    })
}

#[test]
fn after_a_key_rotation_both_keys_are_in_the_history_and_signing_goes_on() {
    let fixture = Fixture::new();
    let open = fixture.open();
    open.append("prod", "acme", 2);
    open.integrity.sync().unwrap();
    let old_key = open.integrity.verifier_key();
    open.close();
    std::fs::rename(fixture.key_path(), fixture.keys.path().join("retired-key")).unwrap();

    let open = fixture.open();
    let new_key = open.integrity.verifier_key();
    assert_ne!(old_key, new_key);
    assert_eq!(open.integrity.key_history(), [old_key.clone(), new_key.clone()]);
    open.append("prod", "acme", 1);
    open.integrity.sync().unwrap();
    let mut ring = KeyRing::new();
    ring.add(old_key).unwrap();
    ring.add(new_key).unwrap();
    let sizes: Vec<u64> =
        fixture.notes("prod", fixture.clock.today()).iter().map(|entry| ring.open(&entry.note).unwrap().size).collect();
    assert_eq!(sizes, [3, 4]);
    open.close();
}

#[test]
fn listing_gives_every_checkpoint_of_a_day_or_the_latest_of_each_segment() {
    let fixture = Fixture::new();
    let open = fixture.open();
    let first_day = fixture.clock.today();
    open.append("prod", "acme", 1);
    open.integrity.sync().unwrap();
    open.append("prod", "acme", 1);
    open.integrity.sync().unwrap();
    fixture.clock.next_day();
    open.append("prod", "acme", 1);
    open.integrity.sync().unwrap();

    let day = open.integrity.checkpoints("prod", Some(first_day)).unwrap();
    let sizes: Vec<(u64, bool)> = day.iter().map(|c| (c.size, c.is_final)).collect();
    assert_eq!(sizes, [(2, false), (3, false), (3, true)]);
    let latest = open.integrity.checkpoints("prod", None).unwrap();
    let latest: Vec<(Day, u64, bool)> = latest.iter().map(|c| (c.day, c.size, c.is_final)).collect();
    assert_eq!(latest, [(first_day, 3, true), (fixture.clock.today(), 2, false)]);
    assert!(open.integrity.checkpoints("../x", None).is_err());
    open.close();
}
