//! Seed 002 through the CLI: an account and a manager, then create, describe, lock, a refused delete, unlock
//! and delete a key with `acta keys`, and find every step with the seed's search conditions.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

fn acta(server: &common::Server, key: &str, args: &[&str]) -> common::Output {
    common::acta_against(server, key, Some(Path::new("/dev/null")), args, Duration::from_secs(30))
}

fn json_of(output: &common::Output) -> Value {
    assert!(output.status.success(), "stdout: {}\nstderr: {}", output.stdout, output.stderr);
    common::json_of(output)
}

#[test]
fn seed_002_key_journey_through_the_cli_is_audited_with_the_cli_agent() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(&dir.path().join("data"), &dir.path().join("logs"));
    json_of(&acta(&server, common::ADMIN_KEY, &["accounts", "create", "Acme", "--id", "acme", "--json"]));
    let manager = json_of(&acta(
        &server,
        common::ADMIN_KEY,
        &[
            "keys",
            "create",
            "officer",
            "--role",
            "manager",
            "--account",
            "acme",
            "--principal",
            "officer@acme",
            "--json",
        ],
    ));
    let manager = manager["secret"].as_str().unwrap().to_string();

    let created = acta(&server, &manager, &["keys", "create", "demo-key", "--description", "tutorial"]);
    assert!(created.stdout.contains("API key (shown once; store it now): acta_"), "{}", created.stdout);
    let listed = json_of(&acta(&server, &manager, &["keys", "list", "--json"]));
    let id = listed.as_array().unwrap().iter().find(|k| k["name"] == "demo-key").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    assert!(acta(&server, &manager, &["keys", "update", &id, "--description", "described"]).status.success());
    assert!(acta(&server, &manager, &["keys", "lock", &id]).status.success());
    let refused = acta(&server, &manager, &["keys", "delete", &id]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("409 key_locked"), "{}", refused.stderr);
    assert!(acta(&server, &manager, &["keys", "unlock", &id]).status.success());
    let deleted = acta(&server, &manager, &["keys", "delete", &id]);
    assert!(deleted.status.success(), "{}", deleted.stderr);

    let search = |q: &str, expected: usize| -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let output = acta(&server, &manager, &["events", "search", q, "--json"]);
            assert!(output.status.success(), "{}", output.stderr);
            let events: Vec<Value> = output.stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
            if events.len() >= expected || std::time::Instant::now() > deadline {
                return events;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let cli_agent = concat!("Acta CLI/", env!("CARGO_PKG_VERSION"));
    let from_cli = search(&format!("initiator.host.agent:\"{cli_agent}\" (action user-apikey) -login"), 7);
    assert_eq!(from_cli.len(), 7, "create x2, update, lock, refused delete, unlock, delete");
    let failed = search("(action user-apikey) -login failure", 1);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["message"], "IAM Identity Service: delete user-apikey demo-key -failure");
    let deletes = search("(action user-apikey.delete) -login", 2);
    assert_eq!(deletes.len(), 2);
    let table = acta(&server, &manager, &["events", "search", "(action user-apikey.update) -login"]);
    assert!(table.stdout.starts_with("TIME"), "{}", table.stdout);
    assert_eq!(table.stdout.lines().count(), 1 + 3, "update, lock, unlock:\n{}", table.stdout);

    // Keys are never logged: the server's own output holds none of the secrets it handled.
    let demo_secret = created.stdout.rsplit(' ').next().unwrap().trim().to_string();
    let logs = format!("{}{}", server.stdout(), server.stderr());
    assert!(!logs.is_empty(), "the server logged nothing at all; the check would prove nothing");
    for secret in [common::ADMIN_KEY, manager.as_str(), demo_secret.as_str()] {
        assert!(!logs.contains(secret), "the server log holds a secret");
    }
}
