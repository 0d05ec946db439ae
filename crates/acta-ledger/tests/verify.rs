//! The segment verifier: every way a segment can differ from what was signed.

use acta_ledger::{
    Checkpoint, Expected, Hash, KeyRing, Listed, NoteError, Problem, SegmentVerifier, SigningKey, leaf_hash, root,
    verify_leaves,
};

const ORIGIN: &str = "node-1/acct-42/prod/2025-01-31-s0";

fn events(count: u64) -> Vec<Hash> {
    (0..count).map(|i| leaf_hash(format!("event {i}").as_bytes())).collect()
}

struct Log {
    key: SigningKey,
    ring: KeyRing,
    leaves: Vec<Hash>,
}

impl Log {
    fn new(count: u64) -> Self {
        let key = SigningKey::generate("node-1.acta").expect("valid name");
        let mut ring = KeyRing::new();
        ring.add(key.verifier()).expect("empty ring");
        Self { key, ring, leaves: events(count) }
    }

    /// An honest checkpoint of the first `size` leaves.
    fn checkpoint(&self, size: u64) -> String {
        self.sign(ORIGIN, size, root(&self.leaves[..size as usize]))
    }

    fn sign(&self, origin: &str, size: u64, root: Hash) -> String {
        let checkpoint = Checkpoint { origin: origin.to_owned(), size, root };
        self.key.sign(&checkpoint).expect("valid checkpoint")
    }
}

#[test]
fn intact_segment_reports_every_checkpoint_and_event_valid() {
    let log = Log::new(30);
    let notes = [log.checkpoint(10), log.checkpoint(20), log.checkpoint(30)];
    let report = verify_leaves(&log.ring, ORIGIN, &log.leaves, &notes);
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.checkpoints_valid, report.checkpoints), (3, 3));
    assert_eq!((report.events_verified, report.events), (30, 30));
    assert_eq!(report.events_unsigned, 0);
    assert_eq!(report.root, root(&log.leaves));
    assert_eq!(report.origin, ORIGIN);
    assert_eq!(report.to_string(), "3/3 checkpoints valid, 30/30 events verified");
}

#[test]
fn events_after_the_last_checkpoint_are_counted_as_unsigned() {
    let log = Log::new(27);
    let notes = [log.checkpoint(10), log.checkpoint(20)];
    let report = verify_leaves(&log.ring, ORIGIN, &log.leaves, &notes);
    assert!(report.is_ok());
    assert_eq!(report.events_unsigned, 7);
    assert_eq!(report.events_verified, 20);
    assert_eq!(report.to_string(), "2/2 checkpoints valid, 20/27 events verified, 7 unsigned");

    let unsigned = verify_leaves::<&str>(&log.ring, ORIGIN, &log.leaves, &[]);
    assert!(unsigned.is_ok());
    assert_eq!(unsigned.events_unsigned, 27);
}

#[test]
fn a_changed_event_is_located_between_the_last_valid_and_the_first_failing_checkpoint() {
    let mut log = Log::new(30);
    let notes = [log.checkpoint(10), log.checkpoint(20), log.checkpoint(30)];
    log.leaves[14] = leaf_hash(b"rewritten");
    let report = verify_leaves(&log.ring, ORIGIN, &log.leaves, &notes);

    assert!(!report.is_ok());
    assert_eq!((report.checkpoints_valid, report.events_verified), (1, 10));
    assert_eq!(report.first_problem(), Some(&Problem::Mismatch { checkpoint: 1, size: 20, verified_before: 10 }));
    assert_eq!(report.problems.len(), 2, "the later checkpoint fails too");
    assert_eq!(
        report.to_string(),
        "1/3 checkpoints valid, 10/30 events verified\n  \
         checkpoint 2 (size 20) does not match the events: one of events 11 to 20 (counting \
         from 1) was changed, removed, added or reordered\n  \
         checkpoint 3 (size 30) does not match the events: one of events 11 to 30 (counting \
         from 1) was changed, removed, added or reordered"
    );
}

#[test]
fn reordered_events_fail_the_checkpoints_that_cover_them() {
    let mut log = Log::new(30);
    let notes = [log.checkpoint(10), log.checkpoint(20), log.checkpoint(30)];
    log.leaves.swap(3, 4);
    let report = verify_leaves(&log.ring, ORIGIN, &log.leaves, &notes);
    assert_eq!((report.checkpoints_valid, report.events_verified), (0, 0));
    assert_eq!(report.first_problem(), Some(&Problem::Mismatch { checkpoint: 0, size: 10, verified_before: 0 }));
}

#[test]
fn an_added_event_fails_later_checkpoints_and_a_removed_one_leaves_a_checkpoint_beyond_the_end() {
    let log = Log::new(30);
    let notes = [log.checkpoint(10), log.checkpoint(20), log.checkpoint(30)];

    let mut added = log.leaves.clone();
    added.insert(25, leaf_hash(b"forged"));
    let report = verify_leaves(&log.ring, ORIGIN, &added, &notes);
    assert_eq!(report.checkpoints_valid, 2);
    assert_eq!(report.problems, vec![Problem::Mismatch { checkpoint: 2, size: 30, verified_before: 20 }]);
    assert_eq!(report.events_unsigned, 1);

    let mut removed = log.leaves.clone();
    removed.remove(25);
    let report = verify_leaves(&log.ring, ORIGIN, &removed, &notes);
    assert_eq!(report.problems, vec![Problem::BeyondEnd { checkpoint: 2, size: 30, events: 29 }]);
    assert_eq!(
        report.problems[0].to_string(),
        "checkpoint 3 covers 30 events but only 29 are present: events were removed"
    );
}

#[test]
fn a_checkpoint_contradicted_by_a_later_valid_one_is_reported_as_inconsistent() {
    let log = Log::new(30);
    let forked = log.sign(ORIGIN, 15, leaf_hash(b"another history"));
    let notes = [log.checkpoint(10), forked, log.checkpoint(30)];
    let report = verify_leaves(&log.ring, ORIGIN, &log.leaves, &notes);
    assert_eq!(report.events_verified, 30, "the last checkpoint vouches for all");
    assert_eq!(report.problems, vec![Problem::Inconsistent { checkpoint: 1, size: 15, valid: 2, valid_size: 30 }]);
    assert_eq!(
        report.problems[0].to_string(),
        "checkpoint 2 (size 15) is inconsistent with checkpoint 3 (size 30), which matches \
         the events: the log signed two different histories"
    );
}

#[test]
fn unreadable_foreign_and_out_of_order_checkpoints_are_reported_and_skipped() {
    let log = Log::new(30);
    let tampered = log.checkpoint(20).replacen("\n20\n", "\n21\n", 1);
    let other_segment = log.sign("node-1/acct-42/prod/2025-01-30-s0", 20, root(&log.leaves[..20]));
    let stranger = SigningKey::generate("node-9.acta").expect("valid name");
    let unknown =
        stranger.sign(&Checkpoint { origin: ORIGIN.to_owned(), size: 30, root: root(&log.leaves) }).expect("valid");
    let notes = [
        log.checkpoint(10),
        tampered,
        other_segment,
        log.checkpoint(25),
        log.checkpoint(12),
        unknown,
        "not a note".to_owned(),
    ];
    let report = verify_leaves(&log.ring, ORIGIN, &log.leaves, &notes);
    assert_eq!((report.checkpoints_valid, report.checkpoints), (2, 7));
    assert_eq!(report.events_verified, 25);
    assert_eq!(report.events_unsigned, 5);

    let problems = &report.problems;
    assert_eq!(problems.len(), 5);
    assert!(matches!(&problems[0], Problem::Unreadable { checkpoint: 1, error: NoteError::BadSignature { .. } }));
    assert_eq!(
        problems[1],
        Problem::WrongOrigin {
            checkpoint: 2,
            expected: ORIGIN.to_owned(),
            found: "node-1/acct-42/prod/2025-01-30-s0".to_owned()
        }
    );
    assert_eq!(problems[2], Problem::OutOfOrder { checkpoint: 4, size: 12, previous_size: 25 });
    assert!(matches!(&problems[3], Problem::Unreadable { checkpoint: 5, error: NoteError::UnknownKey { .. } }));
    assert!(matches!(&problems[4], Problem::Unreadable { checkpoint: 6, error: NoteError::Malformed(_) }));
}

#[test]
fn checkpoints_signed_before_and_after_a_key_rotation_all_verify() {
    let mut log = Log::new(30);
    let before = log.checkpoint(10);
    let old_key = std::mem::replace(&mut log.key, SigningKey::generate("node-1.acta").expect("valid name"));
    let after = log.checkpoint(30);

    let mut ring = KeyRing::new();
    ring.add(old_key.verifier()).expect("empty ring");
    ring.add(log.key.verifier()).expect("distinct keys");
    let report = verify_leaves(&ring, ORIGIN, &log.leaves, &[before, after]);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.checkpoints_valid, 2);
}

#[test]
fn an_empty_segment_verifies_against_a_checkpoint_of_size_zero() {
    let log = Log::new(0);
    let report = verify_leaves(&log.ring, ORIGIN, &[], &[log.checkpoint(0)]);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.to_string(), "1/1 checkpoints valid, 0/0 events verified");
}

#[test]
fn streaming_verifier_gives_the_same_report_as_verify_leaves() {
    let mut log = Log::new(40);
    let notes = vec![log.checkpoint(1), log.checkpoint(16), log.checkpoint(33)];
    log.leaves[20] = leaf_hash(b"rewritten");

    let mut streaming = SegmentVerifier::new(&log.ring, ORIGIN, &notes);
    for leaf in &log.leaves {
        streaming.push(*leaf);
    }
    assert_eq!(streaming.finish(), verify_leaves(&log.ring, ORIGIN, &log.leaves, &notes));
}

/// The segment of `ORIGIN` as a verifier that finds it by instance and day knows it.
const SEGMENT: Expected<'static> = Expected::Segment { instance: "prod", segment: "2025-01-31-s0" };

impl Log {
    /// An honest checkpoint of the first `size` leaves, for another origin.
    fn checkpoint_of(&self, origin: &str, size: u64) -> String {
        self.sign(origin, size, root(&self.leaves[..size as usize]))
    }

    /// Verifies the leaves against listed notes and saved checkpoints.
    fn verify(
        &self,
        expected: Expected<'_>,
        listed: &[Listed<'_>],
        saved: &[Checkpoint],
    ) -> acta_ledger::SegmentReport {
        let mut verifier = SegmentVerifier::from_listed(&self.ring, expected, listed, saved);
        for leaf in &self.leaves {
            verifier.push(*leaf);
        }
        verifier.finish()
    }
}

fn bare(notes: &[String]) -> Vec<Listed<'_>> {
    notes.iter().map(|note| Listed::note(note)).collect()
}

#[test]
fn a_segment_expected_by_instance_and_segment_accepts_any_node_in_the_first_checkpoints_account() {
    let log = Log::new(30);
    let notes = [log.checkpoint(10), log.checkpoint_of("node-2/acct-42/prod/2025-01-31-s0", 30)];
    let report = log.verify(SEGMENT, &bare(&notes), &[]);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.checkpoints_valid, 2);
    assert_eq!(report.origin, ORIGIN, "the first accepted checkpoint's");
}

#[test]
fn a_checkpoint_of_another_account_than_the_first_is_refused() {
    let log = Log::new(30);
    let notes = [log.checkpoint(10), log.checkpoint_of("node-1/acct-7/prod/2025-01-31-s0", 30)];
    let verifier = SegmentVerifier::from_listed(&log.ring, SEGMENT, &bare(&notes), &[]);
    assert_eq!(verifier.account(), Some("acct-42"));
    let report = log.verify(SEGMENT, &bare(&notes), &[]);
    assert_eq!(
        report.problems,
        vec![Problem::OtherAccount { checkpoint: 1, expected: "acct-42".to_owned(), found: "acct-7".to_owned() }]
    );
    assert_eq!(report.checkpoints_valid, 1);
}

#[test]
fn a_checkpoint_of_another_instance_or_segment_is_refused_as_another_origin() {
    let log = Log::new(30);
    let notes = [log.checkpoint_of("node-1/acct-42/test/2025-01-31-s0", 10), log.checkpoint(30)];
    let report = log.verify(SEGMENT, &bare(&notes), &[]);
    assert_eq!(
        report.problems,
        vec![Problem::WrongOrigin {
            checkpoint: 0,
            expected: "*/*/prod/2025-01-31-s0".to_owned(),
            found: "node-1/acct-42/test/2025-01-31-s0".to_owned(),
        }]
    );
}

#[test]
fn a_checkpoint_listed_with_another_link_is_refused_and_the_first_link_is_kept() {
    let log = Log::new(30);
    let notes = [log.checkpoint(10), log.checkpoint(20), log.checkpoint(30)];
    let links = [[1; 32], [2; 32], [1; 32]];
    let listed: Vec<Listed<'_>> =
        notes.iter().zip(links).map(|(note, link)| Listed { note, link: Some(link), is_final: false }).collect();
    let verifier = SegmentVerifier::from_listed(&log.ring, SEGMENT, &listed, &[]);
    assert_eq!(verifier.link(), Some([1; 32]));
    let report = log.verify(SEGMENT, &listed, &[]);
    assert_eq!(report.problems, vec![Problem::OtherLink { checkpoint: 1 }]);
}

#[test]
fn accepted_checkpoints_are_known_before_any_leaf() {
    let log = Log::new(30);
    let notes = [log.checkpoint(10), "not a note".to_owned(), log.checkpoint(30)];
    let verifier = SegmentVerifier::from_listed(&log.ring, SEGMENT, &bare(&notes), &[]);
    let accepted: Vec<(usize, u64)> =
        verifier.accepted().map(|(position, checkpoint)| (position, checkpoint.size)).collect();
    assert_eq!(accepted, vec![(0, 10), (2, 30)]);
}

#[test]
fn a_final_checkpoint_must_cover_every_event() {
    let log = Log::new(30);
    let notes = [log.checkpoint(20), log.checkpoint(30)];
    let closing = |is_final: [bool; 2]| -> Vec<Listed<'_>> {
        notes.iter().zip(is_final).map(|(note, is_final)| Listed { note, link: None, is_final }).collect()
    };
    assert!(log.verify(SEGMENT, &closing([false, true]), &[]).is_ok());
    let report = log.verify(SEGMENT, &closing([true, false]), &[]);
    assert_eq!(report.problems, vec![Problem::FinalNotAtEnd { checkpoint: 0, size: 20, events: 30 }]);
    assert_eq!(report.problems[0].to_string(), "checkpoint 1 closed the segment at size 20, but it holds 30 events");
}

#[test]
fn saved_checkpoints_must_each_be_a_prefix_of_the_events_in_any_order() {
    let log = Log::new(30);
    let notes = [log.checkpoint(20)];
    let checkpoint = |origin: &str, size: u64, root| Checkpoint { origin: origin.to_owned(), size, root };
    let saved = [
        checkpoint(ORIGIN, 25, root(&log.leaves[..25])),
        checkpoint(ORIGIN, 40, [7; 32]),
        checkpoint(ORIGIN, 10, [7; 32]),
        checkpoint(ORIGIN, 22, [7; 32]),
        checkpoint("node-1/acct-7/prod/2025-01-31-s0", 5, root(&log.leaves[..5])),
    ];
    let report = log.verify(SEGMENT, &bare(&notes), &saved);
    assert!(report.problems.is_empty(), "saved checkpoints are not the segment's own");
    assert_eq!((report.checkpoints, report.checkpoints_valid), (1, 1));
    assert!(!report.is_ok());
    assert_eq!(
        report.saved,
        vec![
            None,
            Some(Problem::BeyondEnd { checkpoint: 1, size: 40, events: 30 }),
            Some(Problem::Inconsistent { checkpoint: 2, size: 10, valid: 0, valid_size: 20 }),
            Some(Problem::Mismatch { checkpoint: 3, size: 22, verified_before: 20 }),
            Some(Problem::OtherAccount { checkpoint: 4, expected: "acct-42".to_owned(), found: "acct-7".to_owned() }),
        ]
    );
}

#[test]
fn failed_lists_the_accepted_checkpoints_the_events_do_not_bear_out() {
    let mut log = Log::new(30);
    let notes = ["not a note".to_owned(), log.checkpoint(10), log.checkpoint(20), log.checkpoint(30)];
    log.leaves[14] = leaf_hash(b"rewritten");
    log.leaves.truncate(25);
    let report = log.verify(SEGMENT, &bare(&notes), &[]);
    let failed: Vec<(usize, Option<u64>)> = report.failed().map(|p| (p.checkpoint(), p.size())).collect();
    assert_eq!(failed, vec![(2, Some(20)), (3, Some(30))]);
}

#[test]
fn covering_is_the_last_valid_checkpoint_only_when_it_covers_every_event_and_none_failed() {
    let log = Log::new(30);
    let all = [log.checkpoint(10), log.checkpoint(30)];
    let report = log.verify(SEGMENT, &bare(&all), &[]);
    assert_eq!((report.latest_valid, report.covering()), (Some(1), Some(1)));

    let open_end = [log.checkpoint(10), log.checkpoint(20)];
    assert_eq!(log.verify(SEGMENT, &bare(&open_end), &[]).covering(), None);

    let forked = [log.checkpoint(10), log.sign(ORIGIN, 15, [7; 32]), log.checkpoint(30)];
    let report = log.verify(SEGMENT, &bare(&forked), &[]);
    assert_eq!((report.latest_valid, report.covering()), (Some(2), None));
}
