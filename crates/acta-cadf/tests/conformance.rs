//! Real published events (`shared/conformance/`) and our own events of the same shapes are accepted.

use std::fs;
use std::path::Path;

use acta_cadf::{Options, parse_event, parse_time};

const PUBLISHED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance");
const OWN_SHAPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/conformance-shapes.jsonl");

/// One event line of a `.jsonl` file, with where it came from for failure messages.
struct Line {
    origin: String,
    text: String,
}

fn now() -> i64 {
    parse_time("2026-01-01T00:00:00Z").expect("a fixed now")
}

fn read_lines(path: &Path) -> Vec<Line> {
    let text = fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| Line { origin: format!("{}:{}", path.display(), index + 1), text: line.to_owned() })
        .collect()
}

/// The published events whose file name starts with `prefix`, or `None` outside CI when the shared folder
/// is not beside the repository. In CI a missing folder fails the test.
fn published(prefix: &str) -> Option<Vec<Line>> {
    let dir = Path::new(PUBLISHED_DIR);
    if !dir.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the conformance events are missing: {PUBLISHED_DIR} does not exist, and CI must check them"
        );
        eprintln!("skipped: {PUBLISHED_DIR} does not exist (shared/ is not beside the repository)");
        return None;
    }
    let mut paths: Vec<_> = fs::read_dir(dir)
        .expect("the conformance folder is readable")
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "jsonl")
                && path.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.starts_with(prefix))
        })
        .collect();
    paths.sort();
    let lines: Vec<Line> = paths.iter().flat_map(|path| read_lines(path)).collect();
    assert!(!lines.is_empty(), "no events in {PUBLISHED_DIR}/{prefix}*.jsonl");
    Some(lines)
}

fn assert_all_accepted(lines: &[Line], opts: &Options) {
    let failures: Vec<String> = lines
        .iter()
        .filter_map(|line| {
            parse_event(line.text.as_bytes(), opts, now()).err().map(|problems| {
                let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                format!("{}: {}", line.origin, problems.join("; "))
            })
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} events rejected:\n{}", failures.len(), lines.len(), failures.join("\n"));
}

#[test]
fn published_events_are_accepted_in_lenient_mode() {
    let Some(lines) = published("") else { return };
    assert_all_accepted(&lines, &Options::default());
}

#[test]
fn published_openstack_events_pass_strict_mode() {
    let Some(lines) = published("openstack") else {
        return;
    };
    assert_all_accepted(&lines, &Options::strict());
}

#[test]
fn own_conformance_shapes_are_accepted_in_lenient_mode() {
    let lines = read_lines(Path::new(OWN_SHAPES));
    assert_eq!(lines.len(), 13, "the fixture holds 13 events");
    assert_all_accepted(&lines, &Options::default());
}
