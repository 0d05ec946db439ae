//! The CLI names objects by name or id: views, alerts, boards, keys and instances, with a clear error when a
//! name is ambiguous or unknown; board graphs by flags; an alert's condition given, never assumed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

fn acta(server: &common::Server, key: &str, args: &[&str]) -> common::Output {
    common::acta_against(server, key, Some(Path::new("/dev/null")), args, Duration::from_secs(30))
}

fn ok(output: common::Output) -> common::Output {
    assert!(output.status.success(), "stdout:\n{}\nstderr:\n{}", output.stdout, output.stderr);
    output
}

fn json_of(output: common::Output) -> Value {
    common::json_of(&ok(output))
}

/// A server with account acme and its manager key.
fn acme(dir: &Path) -> (common::Server, String) {
    let server = common::start(&dir.join("data"), &dir.join("logs"));
    ok(acta(&server, common::ADMIN_KEY, &["accounts", "create", "Acme", "--id", "acme"]));
    let manager = json_of(acta(
        &server,
        common::ADMIN_KEY,
        &["keys", "create", "officer", "--role", "manager", "--account", "Acme", "--json"],
    ));
    (server, manager["secret"].as_str().unwrap().to_string())
}

#[test]
fn views_alerts_keys_and_instances_are_named_by_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let (server, manager) = acme(dir.path());
    let view = json_of(acta(
        &server,
        &manager,
        &["views", "create", "User API key deletions", "--query", "(action user-apikey.delete) -login", "--json"],
    ));
    let shown = ok(acta(&server, &manager, &["views", "show", "User API key deletions"]));
    assert!(shown.stdout.contains(view["id"].as_str().unwrap()), "{}", shown.stdout);

    let alert = json_of(acta(
        &server,
        &manager,
        &[
            "alerts",
            "create",
            "--view",
            "User API key deletions",
            "--threshold",
            "2",
            "--window",
            "1h",
            "--webhook",
            "https://hooks.example.com/acta",
            "--json",
        ],
    ));
    assert_eq!(alert["view"], view["id"], "{alert}");
    let history = ok(acta(&server, &manager, &["alerts", "history", "User API key deletions"]));
    assert_eq!(history.stdout, "", "an alert is named by its name, which is its view's by default");

    let created = ok(acta(&server, &manager, &["keys", "create", "demo-key", "--description", "tutorial", "--utc"]));
    // Times in tables read like the events' times: `2026-12-05 14:03:07`, not RFC 3339 with nanoseconds.
    let row = created.stdout.lines().nth(1).unwrap();
    let created_at = row.split_whitespace().nth(4).unwrap_or_default();
    assert!(created_at.len() == 10 && created_at.as_bytes()[4] == b'-', "{}", created.stdout);
    let locked = json_of(acta(&server, &manager, &["keys", "lock", "demo-key", "--json"]));
    assert_eq!((locked["name"].as_str(), locked["locked"].as_bool()), (Some("demo-key"), Some(true)), "{locked}");
    ok(acta(&server, &manager, &["keys", "unlock", "demo-key"]));
    let deleted = ok(acta(&server, &manager, &["keys", "delete", "demo-key"]));
    assert!(
        deleted.stdout.starts_with("key ") && deleted.stdout.trim_end().ends_with(" deleted"),
        "{}",
        deleted.stdout
    );

    ok(acta(&server, &manager, &["instances", "create", "Frankfurt", "--region", "eu-de", "--retention-days", "7"]));
    let instance = json_of(acta(&server, &manager, &["instances", "show", "Frankfurt", "--json"]));
    assert_eq!(instance["region"], "eu-de", "{instance}");
}

#[test]
fn an_ambiguous_name_lists_the_candidates_with_ids_and_an_unknown_one_the_names() {
    let dir = tempfile::tempdir().unwrap();
    let (server, manager) = acme(dir.path());
    let first = json_of(acta(&server, &manager, &["keys", "create", "ci", "--description", "build", "--json"]));
    let second = json_of(acta(&server, &manager, &["keys", "create", "ci", "--description", "deploy", "--json"]));
    let ambiguous = acta(&server, &manager, &["keys", "show", "ci"]);
    assert_eq!(ambiguous.status.code(), Some(1));
    let (first, second) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    let mut candidates = [first, second];
    candidates.sort_by_key(|id| ambiguous.stderr.find(id));
    assert_eq!(
        ambiguous.stderr.trim_end(),
        format!("error: 2 keys are named \"ci\"; give one of their ids: {}, {}", candidates[0], candidates[1])
    );
    let by_id = ok(acta(&server, &manager, &["keys", "show", first]));
    assert!(by_id.stdout.contains("build"), "an id still names exactly one: {}", by_id.stdout);
    ok(acta(&server, &manager, &["keys", "delete", first]));
    ok(acta(&server, &manager, &["keys", "delete", second]));

    let unknown = acta(&server, &manager, &["keys", "lock", "demo-key"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(unknown.stderr.trim_end(), "error: no key has the name or id \"demo-key\" (keys: \"officer\")");
}

#[test]
fn board_graphs_are_added_and_removed_by_flags_and_boards_named_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (server, manager) = acme(dir.path());
    ok(acta(
        &server,
        &manager,
        &["boards", "create", "--name", "API keys", "--category", "IAM", "--filter", "iam-identity.user-apikey."],
    ));
    let board = json_of(acta(
        &server,
        &manager,
        &[
            "boards",
            "add-graph",
            "API keys",
            "--title",
            "Key actions",
            "--field",
            "action",
            "--by",
            "action",
            "--range",
            "live",
            "--json",
        ],
    ));
    assert_eq!(
        board["graphs"],
        serde_json::json!([{"title": "Key actions", "query": "", "field": "action",
                            "breakdown": {"field": "action", "top": 5}, "range": "live"}]),
        "{board}"
    );
    ok(acta(&server, &manager, &["boards", "add-graph", "API keys", "--query", "outcome:failure", "--range", "7d"]));
    let shown = ok(acta(&server, &manager, &["boards", "show", "API keys"]));
    let graphs: Vec<&str> = shown.stdout.lines().filter(|line| line.starts_with("graph ")).collect();
    assert_eq!(
        graphs,
        ["graph 0: \"Key actions\": all events with action by action (top 5), live", "graph 1: outcome:failure, 7d"],
        "{}",
        shown.stdout
    );
    let drawn = ok(acta(&server, &manager, &["boards", "graph", "API keys", "1"]));
    assert!(drawn.stdout.contains("query: iam-identity.user-apikey."), "{}", drawn.stdout);
    let removed = json_of(acta(&server, &manager, &["boards", "remove-graph", "API keys", "0", "--json"]));
    assert_eq!(removed["graphs"].as_array().map(Vec::len), Some(1), "{removed}");
    let beyond = acta(&server, &manager, &["boards", "remove-graph", "API keys", "3"]);
    assert_eq!(beyond.stderr.trim_end(), "error: the board has 1 graphs (0 to 0); there is no graph 3");
}

#[test]
fn an_alert_without_a_threshold_or_window_is_refused_and_a_created_one_says_when_it_fires() {
    let dir = tempfile::tempdir().unwrap();
    let (server, manager) = acme(dir.path());
    ok(acta(&server, &manager, &["views", "create", "Deletions", "-q", "delete"]));
    let refused = acta(
        &server,
        &manager,
        &["alerts", "create", "--view", "Deletions", "--webhook", "https://hooks.example.com/a"],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        refused.stderr.starts_with("error: an alert needs its condition: give --threshold and --window"),
        "{}",
        refused.stderr
    );
    let listed = json_of(acta(&server, &manager, &["alerts", "list", "--json"]));
    assert_eq!(listed, serde_json::json!([]), "nothing was created");

    let created = ok(acta(
        &server,
        &manager,
        &[
            "alerts",
            "create",
            "--view",
            "Deletions",
            "--threshold",
            "2",
            "--window",
            "1h",
            "--webhook",
            "https://hooks.example.com/a",
        ],
    ));
    assert_eq!(
        created.stdout.lines().last(),
        Some("fires when at least 2 matching events arrive within 1h (as soon as it is reached)"),
        "{}",
        created.stdout
    );
    let help = common::run_acta_args(&["alerts", "create", "--help"], &[], Duration::from_secs(10));
    assert!(help.stdout.contains("Create: presence when absent"), "{}", help.stdout);
}
