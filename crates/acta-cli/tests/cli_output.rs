//! What the CLI prints for people: event times in the local zone (or UTC), a line when results were cut, a
//! caret under a query error, the values a field does have when nothing matched, human sizes; `send --wait`;
//! shell completions, global flags on either side of the subcommand, and a URL without a scheme.
#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

fn acta_in(server: &common::Server, tz: &str, args: &[&str]) -> common::Output {
    let envs: Vec<(&str, &OsStr)> = vec![
        ("ACTA_URL", server.url.as_ref()),
        ("ACTA_API_KEY", common::ADMIN_KEY.as_ref()),
        ("ACTA_CONFIG", "/dev/null".as_ref()),
        ("TZ", tz.as_ref()),
    ];
    common::run_acta_args(args, &envs, Duration::from_secs(30))
}

fn ok(output: common::Output) -> common::Output {
    assert!(output.status.success(), "stdout:\n{}\nstderr:\n{}", output.stdout, output.stderr);
    output
}

/// A server holding three events stored with differently written eventTimes of 2026-11-20 10:00:00 UTC and
/// the two minutes after.
fn three_events(dir: &Path) -> common::Server {
    let server = common::start(&dir.join("data"), &dir.join("logs"));
    let mut events = Vec::new();
    for (i, time) in
        ["2026-11-20T10:00:00.15+0000", "2026-11-20T11:01:00+01:00", "2026-11-20T10:02:00Z"].into_iter().enumerate()
    {
        let mut event = common::event(&format!("t-{i}"), "iam-identity.user-apikey.delete", "success");
        event["eventTime"] = time.into();
        event["initiator"]["host"] = serde_json::json!({"agent": if i == 0 { "Acta web console" } else { "Acta CLI" }});
        events.push(event);
    }
    let (status, answer) = server.ingest(&events);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(server.wait_count("", 3, Duration::from_secs(20)), 3);
    server
}

fn times(table: &str) -> Vec<String> {
    table.lines().skip(1).take_while(|line| !line.starts_with("showing")).map(|line| line[..19].to_string()).collect()
}

#[test]
fn event_times_print_in_the_local_zone_one_format_whatever_was_stored_or_in_utc() {
    let dir = tempfile::tempdir().unwrap();
    let server = three_events(dir.path());
    let berlin = ok(acta_in(&server, "Europe/Berlin", &["events", "search", "--from", "2026-11-20T00:00:00Z"]));
    assert!(berlin.stdout.starts_with("TIME (Europe/Berlin)  "), "{}", berlin.stdout);
    assert_eq!(times(&berlin.stdout), ["2026-11-20 11:02:00", "2026-11-20 11:01:00", "2026-11-20 11:00:00"]);
    // --utc is global: before the subcommand as after it.
    for args in [["--utc", "events", "search"], ["events", "search", "--utc"]] {
        let utc = ok(acta_in(&server, "Europe/Berlin", &args));
        assert!(utc.stdout.starts_with("TIME (UTC)  "), "{}", utc.stdout);
        assert_eq!(times(&utc.stdout), ["2026-11-20 10:02:00", "2026-11-20 10:01:00", "2026-11-20 10:00:00"]);
    }
}

#[test]
fn a_cut_search_says_how_many_match_and_a_full_one_says_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = three_events(dir.path());
    let cut = ok(acta_in(&server, "UTC", &["events", "search", "--limit", "2"]));
    assert_eq!(cut.stdout.lines().count(), 1 + 2 + 1, "{}", cut.stdout);
    assert_eq!(cut.stdout.lines().last(), Some("showing 2 of 3 (use --limit)"));
    let json = ok(acta_in(&server, "UTC", &["events", "search", "--limit", "2", "--json"]));
    assert_eq!(json.stdout.lines().count(), 2, "JSON output stays one event per line: {}", json.stdout);
    assert_eq!(json.stderr.trim_end(), "showing 2 of 3 (use --limit)");
    let whole = ok(acta_in(&server, "UTC", &["events", "search", "--limit", "3"]));
    assert!(!whole.stdout.contains("showing"), "{}", whole.stdout);
}

#[test]
fn a_query_error_shows_the_query_with_a_caret_under_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let server = three_events(dir.path());
    let failed = acta_in(&server, "UTC", &["events", "search", "action:(delete OR"]);
    assert_eq!(failed.status.code(), Some(1));
    let lines: Vec<&str> = failed.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", failed.stderr);
    assert!(lines[0].starts_with("error: 400 query_syntax: ") && lines[0].contains("(column "), "{}", failed.stderr);
    assert_eq!(lines[1], "  action:(delete OR");
    let caret = lines[2].find('^').unwrap();
    let column: usize = lines[0].rsplit("(column ").next().unwrap().trim_end_matches(')').parse().unwrap();
    assert_eq!(caret, 2 + column - 1, "the caret stands under column {column}:\n{}", failed.stderr);
    assert!(lines[2][caret..].starts_with(&format!("^ column {column}: ")), "{}", failed.stderr);
}

#[test]
fn a_field_query_that_matches_nothing_shows_the_values_the_field_has() {
    let dir = tempfile::tempdir().unwrap();
    let server = three_events(dir.path());
    let ibm = "initiator.host.agent:\"IBM Cloud CLI\" (action user-apikey) -login";
    let search = ok(acta_in(&server, "UTC", &["events", "search", ibm]));
    assert_eq!(search.stdout.lines().count(), 1, "only the header: {}", search.stdout);
    assert_eq!(
        search.stderr,
        "no events match; in the same range:\n  initiator.host.agent has: Acta CLI (2), Acta web console (1)\n"
    );
    let count = ok(acta_in(&server, "UTC", &["events", "count", "initiator.host.agent:NotSet"]));
    assert_eq!(count.stdout.trim(), "0");
    assert!(count.stderr.contains("initiator.host.agent has: Acta CLI (2), Acta web console (1)"), "{}", count.stderr);
    let text_only = ok(acta_in(&server, "UTC", &["events", "search", "nothing-like-this"]));
    assert_eq!(text_only.stderr, "", "free text names no field: nothing to suggest");
}

#[test]
fn instances_show_prints_sizes_and_counts_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let server = three_events(dir.path());
    let shown = ok(acta_in(&server, "UTC", &["instances", "show", "default"]));
    let size = shown.stdout.lines().find(|line| line.starts_with("size:")).unwrap_or_default();
    let unit = size.rsplit(' ').next().unwrap_or_default();
    assert!(["B", "KiB", "MiB"].contains(&unit), "{}", shown.stdout);
    assert!(shown.stdout.contains("events:    3\n"), "{}", shown.stdout);
}

#[test]
fn send_wait_answers_once_the_events_are_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(&dir.path().join("data"), &dir.path().join("logs"));
    for round in 0..3 {
        let file = dir.path().join(format!("events-{round}.ndjson"));
        let event = common::event(&format!("w-{round}"), "kms.secrets.create", "success");
        std::fs::write(&file, format!("{event}\n")).unwrap();
        let sent = ok(acta_in(&server, "UTC", &["events", "send", "--wait", file.to_str().unwrap()]));
        assert_eq!(sent.stdout.trim_end(), "1 stored, 0 duplicates, 0 rejected; searchable now");
        // At once, with no polling: the index commits about once a second, so this fails without the wait.
        let count = ok(acta_in(&server, "UTC", &["events", "count", &format!("id:==w-{round}")]));
        assert_eq!(count.stdout.trim(), "1", "round {round}");
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef acta"), ("fish", "complete -c acta")] {
        let script = common::run_acta_args(&["completions", shell], &[], Duration::from_secs(10));
        assert!(script.status.success(), "{}", script.stderr);
        assert!(script.stdout.contains(marker) && script.stdout.contains("views"), "{shell}:\n{}", script.stdout);
    }
}

#[test]
fn completions_piped_into_a_reader_that_stops_early_end_quietly() {
    // `acta completions bash | head -1`: the reader closes the pipe before the script is written.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_acta"))
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && !stderr.contains("panicked"), "{:?}: {stderr}", output.status);
}

#[test]
fn the_config_flag_goes_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let server = three_events(dir.path());
    let config = dir.path().join("config");
    std::fs::write(&config, format!("url = {}\napi_key = {}\n", server.url, common::ADMIN_KEY)).unwrap();
    let config = config.to_str().unwrap();
    for args in [["--config", config, "events", "count"], ["events", "count", "--config", config]] {
        let counted = common::run_acta_args(&args, &[], Duration::from_secs(30));
        assert_eq!(counted.stdout.trim(), "3", "{args:?}: {}", counted.stderr);
    }
}

#[test]
fn a_server_url_without_a_scheme_says_what_to_write() {
    let failed = common::run_acta_args(
        &["events", "count", "--url", "localhost:8080", "--api-key", "k", "--config", "/dev/null"],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(
        failed.stderr.trim_end(),
        "error: --url (or ACTA_URL) localhost:8080 has no scheme; use http://localhost:8080"
    );
}

#[test]
fn a_pretty_printed_event_or_array_file_is_sent_whole() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(&dir.path().join("data"), &dir.path().join("logs"));
    let object = dir.path().join("one.json");
    let event = common::event("pretty-1", "kms.secrets.create", "success");
    std::fs::write(&object, serde_json::to_string_pretty(&event).unwrap()).unwrap();
    let sent = ok(acta_in(&server, "UTC", &["events", "send", object.to_str().unwrap()]));
    assert_eq!(sent.stdout.trim_end(), "1 stored, 0 duplicates, 0 rejected");
    let array = dir.path().join("two.json");
    let events = serde_json::json!([
        common::event("pretty-2", "kms.secrets.read", "success"),
        common::event("pretty-3", "kms.secrets.delete", "success"),
    ]);
    std::fs::write(&array, serde_json::to_string_pretty(&events).unwrap()).unwrap();
    let sent = ok(acta_in(&server, "UTC", &["events", "send", array.to_str().unwrap(), "--batch", "1"]));
    assert_eq!(sent.stdout.trim_end(), "2 stored, 0 duplicates, 0 rejected");
}
