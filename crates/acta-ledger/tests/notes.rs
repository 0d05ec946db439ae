//! Checkpoint texts, keys and signed notes, including the reference implementation's vectors.

use acta_ledger::{Checkpoint, KeyError, KeyRing, NoteError, Origin, SigningKey, VerifierKey, leaf_hash, root};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

// The example key and note of Go's golang.org/x/mod/sumdb/note, the reference implementation of
// C2SP signed-note, used as data only. Ed25519 is deterministic, so signing the same text with
// the same key must reproduce the note byte for byte.
const GO_SIGNING_KEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER_KEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n\
                       \n\
                       \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

fn checkpoint(size: u64) -> Checkpoint {
    let leaves: Vec<_> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    Checkpoint { origin: "node-1/acct-42/prod/2025-01-31-s0".to_owned(), size, root: root(&leaves) }
}

fn ring_of(keys: &[&SigningKey]) -> KeyRing {
    let mut ring = KeyRing::new();
    for key in keys {
        ring.add(key.verifier()).expect("distinct keys");
    }
    ring
}

fn key(name: &str) -> SigningKey {
    SigningKey::generate(name).expect("valid name")
}

#[test]
fn key_texts_and_signatures_match_the_go_reference_implementation() {
    let signer = SigningKey::from_text(GO_SIGNING_KEY).expect("reference key parses");
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(signer.to_text(), GO_SIGNING_KEY);
    assert_eq!(signer.verifier().to_text(), GO_VERIFIER_KEY);
    assert_eq!(signer.sign_note(GO_TEXT).expect("valid text"), GO_NOTE);

    let verifier = VerifierKey::from_text(GO_VERIFIER_KEY).expect("reference key parses");
    assert_eq!(verifier, signer.verifier());
    let ring = KeyRing::from_text(GO_VERIFIER_KEY).expect("one key");
    assert_eq!(ring.verify_note(GO_NOTE), Ok(GO_TEXT));
}

#[test]
fn key_id_is_the_c2sp_hash_of_name_type_and_public_key() {
    let signer = key("node-1.acta");
    let verifier_text = signer.verifier().to_text();
    let public_b64 = verifier_text.splitn(3, '+').nth(2).expect("three fields");
    let public = BASE64.decode(public_b64).expect("base64");
    assert_eq!(public.len(), 33);
    assert_eq!(public[0], 0x01, "Ed25519 type byte");

    let mut hashed = b"node-1.acta\n".to_vec();
    hashed.extend_from_slice(&public);
    let digest = Sha256::digest(&hashed);
    let expected = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    assert_eq!(signer.key_id(), expected);
    assert!(verifier_text.starts_with(&format!("node-1.acta+{expected:08x}+")));
}

#[test]
fn key_texts_round_trip() {
    let signer = key("node-1.acta");
    let text = signer.to_text();
    assert!(text.starts_with(&format!("PRIVATE+KEY+node-1.acta+{:08x}+", signer.key_id())));
    let parsed = SigningKey::from_text(&text).expect("round trip");
    assert_eq!(parsed.to_text(), text);
    assert_eq!(parsed.verifier(), signer.verifier());

    let verifier = signer.verifier();
    assert_eq!(VerifierKey::from_text(&verifier.to_text()).expect("round trip"), verifier);
}

#[test]
fn key_text_with_a_wrong_key_id_is_refused() {
    let altered = GO_VERIFIER_KEY.replace("c74f20a3", "c74f20a4");
    assert!(matches!(
        VerifierKey::from_text(&altered),
        Err(KeyError::KeyIdMismatch { stated: 0xc74f20a4, computed: 0xc74f20a3, .. })
    ));
    // Same key under another name: the id no longer fits.
    let renamed = GO_SIGNING_KEY.replace("PeterNeumann", "PaulNeumann");
    assert!(matches!(SigningKey::from_text(&renamed), Err(KeyError::KeyIdMismatch { .. })));
}

#[test]
fn malformed_key_texts_are_refused_with_a_reason() {
    let short_key = format!("PeterNeumann+c74f20a3+{}", BASE64.encode([1u8; 31]));
    let mut other_type = vec![0x02];
    other_type.extend_from_slice(&[9u8; 32]);
    let other_type = format!("PeterNeumann+c74f20a3+{}", BASE64.encode(&other_type));
    for (text, expected) in [
        ("", "malformed key: expected <name>+<key id>+<base64 key>"),
        ("PeterNeumann", "malformed key: expected <name>+<key id>+<base64 key>"),
        (
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "invalid key name \"Peter Neumann\": it contains whitespace",
        ),
        (
            "PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "malformed key: key PeterNeumann: the key id \"c74f20\" is not 8 hex digits",
        ),
        (&short_key, "malformed key: key PeterNeumann: an Ed25519 key is 32 bytes, this one is 30"),
        (
            &other_type,
            "malformed key: key PeterNeumann: signature type 0x02 is not supported, \
             only Ed25519 (0x01)",
        ),
    ] {
        let error = VerifierKey::from_text(text).expect_err(text);
        assert_eq!(error.to_string(), expected);
    }
    assert!(matches!(SigningKey::from_text(GO_VERIFIER_KEY), Err(KeyError::Malformed(_))));
}

#[test]
fn key_names_follow_the_signed_note_rules() {
    for bad in ["", "with space", "plus+sign", "tab\tname", "new\nline"] {
        assert!(matches!(SigningKey::generate(bad), Err(KeyError::InvalidName { .. })), "{bad:?}");
    }
    assert!(SigningKey::generate("acta.example/node-1").is_ok());
}

#[test]
fn signing_key_debug_does_not_show_the_secret() {
    let signer = SigningKey::from_text(GO_SIGNING_KEY).expect("reference key");
    let debug = format!("{signer:?}");
    assert!(debug.contains("PeterNeumann") && debug.contains("c74f20a3"), "{debug}");
    assert!(!debug.contains("AYEKFALVFGyN"), "{debug}");
    assert!(!debug.contains("secret"), "{debug}");
}

#[test]
fn checkpoint_body_is_the_c2sp_tlog_checkpoint_text() {
    let checkpoint =
        Checkpoint { origin: "node-1/acct-42/prod/2025-01-31-s0".to_owned(), size: 1204, root: [0xab; 32] };
    let body = checkpoint.body().expect("valid origin");
    assert_eq!(body, format!("node-1/acct-42/prod/2025-01-31-s0\n1204\n{}\n", BASE64.encode([0xab; 32])));
    assert_eq!(Checkpoint::parse(&body), Ok(checkpoint));
}

#[test]
fn checkpoint_text_has_exactly_one_accepted_spelling() {
    let root = BASE64.encode([7u8; 32]);
    let good = format!("o/a/i/s\n12\n{root}\n");
    assert!(Checkpoint::parse(&good).is_ok());
    for (bad, why) in [
        (format!("o/a/i/s\n012\n{root}\n"), "leading zero"),
        (format!("o/a/i/s\n+12\n{root}\n"), "sign"),
        (format!("o/a/i/s\n-1\n{root}\n"), "negative"),
        (format!("o/a/i/s\n 12\n{root}\n"), "space"),
        (format!("o/a/i/s\n18446744073709551616\n{root}\n"), "overflow"),
        (format!("o/a/i/s\n12\n{}\n", root.trim_end_matches('=')), "unpadded"),
        (format!("o/a/i/s\n12\n{}\n", BASE64.encode([7u8; 31])), "short root"),
        (format!("o/a/i/s\n12\n{root}"), "no final newline"),
        (format!("o/a/i/s\n12\n{root}\nextension\n"), "extension line"),
        (format!("\n12\n{root}\n"), "empty origin"),
        ("o/a/i/s\n12\n".to_owned(), "missing root"),
    ] {
        assert!(Checkpoint::parse(&bad).is_err(), "{why}: {bad:?}");
    }
}

#[test]
fn origin_is_node_account_instance_segment() {
    assert_eq!(
        Checkpoint::origin_for("node-1", "acct-42", "prod", "2025-01-31-s0"),
        Ok("node-1/acct-42/prod/2025-01-31-s0".to_owned())
    );
    for parts in [
        ["", "a", "i", "s"],
        ["n", "a/b", "i", "s"],
        ["n", "a", "i i", "s"],
        ["n", "a", "i", "s+1"],
        ["n", "a", "i", "s\n"],
    ] {
        let [node, account, instance, segment] = parts;
        assert!(Checkpoint::origin_for(node, account, instance, segment).is_err(), "{parts:?}");
    }
}

#[test]
fn origin_parse_splits_an_origin_into_the_parts_origin_for_joins() {
    let origin = Checkpoint::origin_for("node-1", "acct-42", "prod", "2025-01-31-s0").expect("valid parts");
    assert_eq!(
        Origin::parse(&origin),
        Some(Origin { node: "node-1", account: "acct-42", instance: "prod", segment: "2025-01-31-s0" })
    );
    for other in ["node-1/acct-42/prod", "node-1/acct-42/prod/2025-01-31-s0/extra", "no slashes"] {
        assert_eq!(Origin::parse(other), None, "{other}");
    }
}

#[test]
fn signed_checkpoint_round_trips() {
    let signer = key("node-1.acta");
    let checkpoint = checkpoint(1204);
    let note = signer.sign(&checkpoint).expect("valid checkpoint");

    let body = checkpoint.body().expect("valid origin");
    let signature_line = note.strip_prefix(&format!("{body}\n")).expect("body, then a blank line");
    let encoded = signature_line
        .strip_prefix("\u{2014} node-1.acta ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .expect("em dash, key name, signature");
    let blob = BASE64.decode(encoded).expect("base64");
    assert_eq!(blob.len(), 4 + 64);
    assert_eq!(blob[..4], signer.key_id().to_be_bytes());

    assert_eq!(ring_of(&[&signer]).open(&note), Ok(checkpoint));
}

#[test]
fn tampered_checkpoint_fails_as_bad_signature() {
    let signer = key("node-1.acta");
    let ring = ring_of(&[&signer]);
    let original = checkpoint(1204);
    let note = signer.sign(&original).expect("valid");

    let other_root = BASE64.encode(checkpoint(1203).root);
    let tampered = [
        note.replacen("\n1204\n", "\n1205\n", 1),
        note.replacen(&BASE64.encode(original.root), &other_root, 1),
        note.replacen("acct-42", "acct-43", 1),
    ];
    for tampered in tampered {
        assert_ne!(tampered, note);
        assert_eq!(
            ring.open(&tampered),
            Err(NoteError::BadSignature { name: "node-1.acta".to_owned(), key_id: signer.key_id() })
        );
    }
    let message = ring.open(&tampered_signature(&note)).expect_err("bad signature");
    assert!(message.to_string().contains("does not match the note"), "{message}");
}

/// The same note with one bit of the signature (not the key id) flipped.
fn tampered_signature(note: &str) -> String {
    let (head, encoded) = note.trim_end().rsplit_once(' ').expect("signature line");
    let mut blob = BASE64.decode(encoded).expect("base64");
    blob[10] ^= 0x01;
    format!("{head} {}\n", BASE64.encode(&blob))
}

#[test]
fn checkpoint_signed_by_rotated_key_still_verifies() {
    let old = key("node-1.acta");
    let new = key("node-1.acta");
    assert_ne!(old.key_id(), new.key_id());
    let before_rotation = old.sign(&checkpoint(10)).expect("valid");
    let after_rotation = new.sign(&checkpoint(20)).expect("valid");

    let ring = KeyRing::from_text(&format!(
        "# node-1 key history\n# retired 2025-06-01:\n{}\n\n{}\n",
        old.verifier().to_text(),
        new.verifier().to_text()
    ))
    .expect("two keys");
    assert_eq!(ring.keys().len(), 2);
    assert_eq!(ring.open(&before_rotation), Ok(checkpoint(10)));
    assert_eq!(ring.open(&after_rotation), Ok(checkpoint(20)));
    assert_eq!(KeyRing::from_text(&ring.to_text()).expect("round trip"), ring);
}

#[test]
fn checkpoint_by_a_key_missing_from_the_ring_is_unknown_key() {
    let signer = key("node-1.acta");
    let stranger = key("node-1.acta");
    let note = stranger.sign(&checkpoint(5)).expect("valid");
    let error = ring_of(&[&signer]).open(&note).expect_err("unknown key");
    assert_eq!(error, NoteError::UnknownKey { signers: vec![("node-1.acta".to_owned(), stranger.key_id())] });
    assert_eq!(
        error.to_string(),
        format!(
            "the note is not signed by any known key; it carries signatures by node-1.acta ({:08x})",
            stranger.key_id()
        )
    );
    assert!(matches!(KeyRing::new().open(&note), Err(NoteError::UnknownKey { .. })));
}

#[test]
fn unknown_signatures_are_ignored_next_to_a_known_one() {
    let known = key("node-1.acta");
    let unknown = key("witness.example");
    let note = known.sign(&checkpoint(7)).expect("valid");
    let body = checkpoint(7).body().expect("valid");
    let cosigned = unknown.sign_note(&body).expect("valid");
    let cosignature = cosigned.rsplit_once("\n\n").expect("signature block").1;
    let both = format!("{note}{cosignature}");
    assert_eq!(ring_of(&[&known]).open(&both), Ok(checkpoint(7)));
}

#[test]
fn a_bad_signature_by_a_known_key_rejects_the_note_even_if_another_verifies() {
    let first = key("node-1.acta");
    let second = key("node-2.acta");
    let good = first.sign(&checkpoint(7)).expect("valid");
    let body = checkpoint(7).body().expect("valid");
    let bad = tampered_signature(&second.sign_note(&body).expect("valid"));
    let bad_line = bad.rsplit_once("\n\n").expect("signature block").1;
    let note = format!("{good}{bad_line}");
    assert!(matches!(
        ring_of(&[&first, &second]).open(&note),
        Err(NoteError::BadSignature { name, .. }) if name == "node-2.acta"
    ));
}

#[test]
fn malformed_notes_are_refused_with_a_reason() {
    let signer = key("node-1.acta");
    let ring = ring_of(&[&signer]);
    let note = signer.sign(&checkpoint(3)).expect("valid");
    let body = checkpoint(3).body().expect("valid");
    let cases = [
        (note.replace('\n', "\r\n"), "carriage return"),
        (note.trim_end().to_owned(), "does not end with a newline"),
        (note.replacen("\n\n", "\n", 1), "no blank line"),
        (note.replace('\u{2014}', "-"), "em dash"),
        (note.replacen("\u{2014} node-1.acta ", "\u{2014} node-1.acta  ", 1), "base64"),
        (format!("{body}\n\n"), "no signature lines"),
        (note.replacen("node-1", "node\u{7}1", 1), "control character"),
        (format!("{body}\n\u{2014} node-1.acta AAAA\n"), "too short"),
    ];
    for (bad, reason) in cases {
        match ring.open(&bad) {
            Err(NoteError::Malformed(message)) => {
                assert!(message.contains(reason), "{reason}: {message}");
            }
            other => panic!("{reason}: expected a malformed note, got {other:?}"),
        }
    }
}

#[test]
fn a_signed_note_that_is_not_a_checkpoint_is_refused_after_its_signature_checks() {
    let signer = SigningKey::from_text(GO_SIGNING_KEY).expect("reference key");
    let ring = ring_of(&[&signer]);
    assert!(matches!(ring.open(GO_NOTE), Err(NoteError::Checkpoint(_))));
}

#[test]
fn adding_the_same_key_to_a_ring_twice_is_harmless() {
    let signer = key("node-1.acta");
    let mut ring = ring_of(&[&signer]);
    ring.add(signer.verifier()).expect("the same key again is harmless");
    assert_eq!(ring.keys().len(), 1);
}

#[test]
fn key_file_is_private_and_loads_back() {
    let dir = std::env::temp_dir().join(format!("acta-ledger-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("node-1.key");
    let _ = std::fs::remove_file(&path);

    let signer = key("node-1.acta");
    signer.save(&path).expect("new file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let loaded = SigningKey::load(&path).expect("loads");
    assert_eq!(loaded.to_text(), signer.to_text());

    // Never overwrites an existing key.
    let error = key("node-1.acta").save(&path).expect_err("file exists");
    assert!(matches!(&error, KeyError::Io { source, .. }
        if source.kind() == std::io::ErrorKind::AlreadyExists));
    assert_eq!(SigningKey::load(&path).expect("unchanged").to_text(), signer.to_text());

    std::fs::remove_dir_all(&dir).expect("cleanup");
    assert!(matches!(SigningKey::load(&path), Err(KeyError::Io { .. })));
}
