//! The integrity endpoints over a real server: keys, checkpoints, and inclusion proofs that an
//! independent implementation (SHA-256 and Ed25519 used directly, the signed note parsed here, no
//! `acta-ledger`) accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use acta_store::{Account, ApiKey, Instance};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{TestServer, event};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn unhex(text: &str) -> [u8; 32] {
    assert_eq!(text.len(), 64, "{text}");
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    bytes
}

/// A verifier key text `<name>+<8 hex id>+<base64(0x01 || key)>`, its id checked.
fn parse_key(text: &str) -> (String, [u8; 4], VerifyingKey) {
    let mut parts = text.splitn(3, '+');
    let (name, id, key) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let key = BASE64.decode(key).unwrap();
    assert_eq!(key[0], 0x01, "Ed25519");
    let public: [u8; 32] = key[1..].try_into().unwrap();
    let computed = sha256(&[name.as_bytes(), b"\n", &[0x01], &public]);
    assert_eq!(format!("{:02x}{:02x}{:02x}{:02x}", computed[0], computed[1], computed[2], computed[3]), id);
    (name.to_owned(), computed[..4].try_into().unwrap(), VerifyingKey::from_bytes(&public).unwrap())
}

/// Checks a C2SP signed note with the key; returns (origin, tree size, root).
fn open_note(note: &str, key: &(String, [u8; 4], VerifyingKey)) -> (String, u64, [u8; 32]) {
    let separator = note.rfind("\n\n").expect("a blank line before the signatures");
    let (body, signatures) = (&note[..=separator], &note[separator + 2..]);
    let mut verified = false;
    for line in signatures.lines() {
        let rest = line.strip_prefix("\u{2014} ").expect("a signature line starts with an em dash");
        let (name, blob) = rest.split_once(' ').unwrap();
        let blob = BASE64.decode(blob).unwrap();
        if name == key.0 && blob[..4] == key.1 {
            let signature = Signature::from_slice(&blob[4..]).unwrap();
            key.2.verify(body.as_bytes(), &signature).expect("the signature verifies");
            verified = true;
        }
    }
    assert!(verified, "no signature by the server's key on {note}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "origin, size, root: {body}");
    let root: [u8; 32] = BASE64.decode(lines[2]).unwrap().try_into().unwrap();
    (lines[0].to_owned(), lines[1].parse().unwrap(), root)
}

/// RFC 9162 section 2.1.3.2, written again here.
fn root_from_proof(leaf: [u8; 32], index: u64, size: u64, proof: &[[u8; 32]]) -> [u8; 32] {
    let node = |left: &[u8; 32], right: &[u8; 32]| sha256(&[&[0x01], left, right]);
    let (mut fn_, mut sn, mut hash) = (index, size - 1, leaf);
    for sibling in proof {
        assert!(sn != 0, "proof too long");
        if fn_ & 1 == 1 || fn_ == sn {
            hash = node(sibling, &hash);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            hash = node(&hash, sibling);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    assert_eq!(sn, 0, "proof too short");
    hash
}

async fn server_key(server: &TestServer) -> (String, [u8; 4], VerifyingKey) {
    let answer: Value = server.get("/v1/integrity/keys").send().await.unwrap().json().await.unwrap();
    parse_key(answer["current"].as_str().unwrap())
}

async fn send_ids(server: &TestServer, count: usize) -> Vec<String> {
    let events: Vec<Value> = (0..count).map(|n| event("iam.user.login", json!({"n": n}))).collect();
    let (status, answer) = server.send(&events).await;
    assert_eq!(status, 200, "{answer}");
    answer["results"].as_array().unwrap().iter().map(|result| result["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn an_inclusion_proof_from_the_api_verifies_with_an_independent_implementation() {
    let server = TestServer::start().await;
    let key = server_key(&server).await;
    let ids = send_ids(&server, 5).await;
    send_ids(&server, 4).await;

    let response = server.get(&format!("/v1/events/{}/proof", ids[2])).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let proof: Value = response.json().await.unwrap();
    let record = BASE64.decode(proof["record"].as_str().unwrap()).unwrap();
    let leaf = sha256(&[&[0x00], &record]);
    assert_eq!(leaf, unhex(proof["leaf_hash"].as_str().unwrap()));
    let path: Vec<[u8; 32]> = proof["proof"].as_array().unwrap().iter().map(|h| unhex(h.as_str().unwrap())).collect();
    let (index, size) = (proof["leaf_index"].as_u64().unwrap(), proof["tree_size"].as_u64().unwrap());
    let (origin, signed_size, root) = open_note(proof["checkpoint"].as_str().unwrap(), &key);
    assert_eq!(signed_size, size);
    assert_eq!(root_from_proof(leaf, index, size, &path), root);
    // The leaf is the stored record: the event as sent, inside Acta's envelope (seq 3 is leaf 3).
    assert_eq!(index, 3);
    assert!(String::from_utf8_lossy(&record).contains(&ids[2]));
    assert!(origin.ends_with(&format!("/default/default/{}", proof["day"].as_str().unwrap())), "{origin}");
    server.stop().await;
}

#[tokio::test]
async fn keys_gives_the_current_key_and_the_key_history() {
    let server = TestServer::start().await;
    let answer: Value = server.get("/v1/integrity/keys").send().await.unwrap().json().await.unwrap();
    let current = answer["current"].as_str().unwrap();
    assert!(current.starts_with("test-node+"), "{current}");
    let keys = answer["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["key"], current);
    assert_eq!(keys[0]["current"], true);
    server.stop().await;
}

#[tokio::test]
async fn checkpoints_lists_the_signed_notes_of_the_accounts_segments() {
    let server = TestServer::start().await;
    let key = server_key(&server).await;
    let ids = send_ids(&server, 3).await;
    // A proof request signs what is not signed yet.
    assert_eq!(server.get(&format!("/v1/events/{}/proof", ids[0])).send().await.unwrap().status(), 200);

    let answer: Value =
        server.get("/v1/integrity/checkpoints?instance=default").send().await.unwrap().json().await.unwrap();
    let checkpoints = answer["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), 1, "{answer}");
    let latest = &checkpoints[0];
    let (_, size, root) = open_note(latest["note"].as_str().unwrap(), &key);
    assert_eq!((size, latest["tree_size"].as_u64().unwrap()), (4, 4));
    assert_eq!(root, unhex(latest["root"].as_str().unwrap()));
    let day = latest["day"].as_str().unwrap();

    let answer: Value =
        server.get(&format!("/v1/integrity/checkpoints?day={day}")).send().await.unwrap().json().await.unwrap();
    assert!(!answer["checkpoints"].as_array().unwrap().is_empty(), "{answer}");
    let response = server.get("/v1/integrity/checkpoints?day=yesterday").send().await.unwrap();
    assert_eq!(response.status(), 400);
    server.stop().await;
}

/// Adds account globex with instance eu and a reader key, with the server stopped.
async fn add_other_account(server: &mut TestServer) -> String {
    if let Some(running) = server.running.take() {
        running.stop().await.unwrap();
    }
    let meta = server.meta().await;
    let now = "2026-11-21T00:00:00.000Z".to_owned();
    meta.create_account(&Account { id: "globex".into(), name: "Globex".into(), created_at: now.clone() })
        .await
        .unwrap();
    meta.create_instance(&Instance {
        id: "eu".into(),
        account: "globex".into(),
        name: "eu".into(),
        region: "eu-de".into(),
        retention_days: 30,
        global: true,
        strict: false,
        created_at: now.clone(),
    })
    .await
    .unwrap();
    let key = acta_server::auth::generate_key();
    meta.create_key(&ApiKey {
        id: key.id.clone(),
        account: Some("globex".into()),
        instance: None,
        name: "globex reader".into(),
        description: String::new(),
        role: "reader".into(),
        created_at: now,
        created_by: None,
        expires_at: None,
        locked: false,
        last_used_at: None,
        secret_hash: acta_server::auth::hash_key(&key.secret),
        principal: "reader@globex".into(),
    })
    .await
    .unwrap();
    meta.close().await;
    server.restart().await;
    key.secret
}

#[tokio::test]
async fn another_accounts_instance_and_events_are_not_found() {
    let mut server = TestServer::start().await;
    let ids = send_ids(&server, 2).await;
    let globex = add_other_account(&mut server).await;
    let as_globex = |path: &str| server.http.get(format!("{}{path}", server.url)).bearer_auth(&globex);

    let response = as_globex("/v1/integrity/checkpoints?instance=default").send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = as_globex(&format!("/v1/events/{}/proof", ids[0])).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = as_globex("/v1/integrity/checkpoints?instance=eu").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["checkpoints"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn integrity_endpoints_need_a_key_and_unknown_events_have_no_proof() {
    let server = TestServer::start().await;
    for path in ["/v1/integrity/keys", "/v1/integrity/checkpoints", "/v1/events/x/proof"] {
        let response = server.http.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let response = server.get("/v1/events/no-such-event/proof").send().await.unwrap();
    assert_eq!(response.status(), 404);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "not_found");
    server.stop().await;
}
