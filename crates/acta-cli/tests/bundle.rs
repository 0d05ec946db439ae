//! An export bundle fetched from a running server verifies offline with `acta verify`, and a byte
//! changed inside it does not.
#![allow(clippy::unwrap_used)]

mod common;

use acta_ledger::SigningKey;

#[test]
fn an_export_bundle_verifies_offline_and_a_change_inside_it_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = common::start(&data, &dir.path().join("logs"));
    let events: Vec<_> =
        (0..20).map(|n| common::event(&format!("bundle-{n:02}"), "iam.user.login", "success")).collect();
    let (status, answer) = server.ingest(&events[..12]);
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = server.ingest(&events[12..]);
    assert_eq!(status, 200, "{answer}");

    let response = server.get("/v1/events/export?format=bundle").send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-tar");
    let bundle = response.bytes().unwrap().to_vec();
    let response = server.get("/v1/events/export?format=bundle&q=action:login").send().unwrap();
    assert_eq!(response.status(), 400, "a bundle is whole segments");
    assert!(server.terminate().success());

    let key = SigningKey::load(&common::signing_key_path(&data)).unwrap().verifier().to_text();
    let verify = |path: &std::path::Path| common::verify_with_key(path, &key, &[]);
    let path = dir.path().join("bundle.tar");
    std::fs::write(&path, &bundle).unwrap();
    let output = verify(&path);
    assert_eq!(output.status.code(), Some(0), "{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("20/20 events valid"), "{}", output.stdout);

    // One event's text, changed inside the bundle.
    let at = bundle.windows(9).position(|window| window == b"bundle-07").unwrap();
    let mut changed = bundle.clone();
    changed[at + 7] = b'9';
    std::fs::write(&path, &changed).unwrap();
    let output = verify(&path);
    assert_eq!(output.status.code(), Some(1), "{}{}", output.stdout, output.stderr);
    assert!(output.stdout.contains("default "), "{}", output.stdout);
    assert!(output.stdout.contains(" seq 8:"), "{}", output.stdout);
}
