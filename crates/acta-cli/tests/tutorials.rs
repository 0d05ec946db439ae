//! The tutorials in `docs/tutorials/` run as written: every ```sh block is run with bash, in order, in a fresh
//! directory with `acta` on the PATH, and must succeed (a block marked ```sh fails must fail); a ```text block
//! right after a sh block is what that block prints, where `...` stands for anything and runs of spaces for any
//! spaces.
//!
//! A block that only reads (one `acta events search`, `events count`, `boards graph` or `alerts history`) is
//! run again, for up to 15 seconds, until it prints what the tutorial says: the key actions' audit events are
//! searchable about a second after the action, and a reader who looks a moment later sees them.
//!
//! Two things are not as written: the server's address `127.0.0.1:8700` is replaced by a free port (tests run
//! side by side), and the `acta serve` block, which a reader starts in a terminal of its own, is started in the
//! background and waited for. Variables a block exports reach the blocks after it, as in one shell.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One fenced block of a tutorial.
#[derive(Debug)]
struct Block {
    /// The info string: `sh`, `sh fails`, `text`.
    info: String,
    body: String,
    /// The line of the tutorial the block starts on, for messages.
    line: usize,
}

fn blocks(markdown: &str) -> Vec<(Block, Option<Block>)> {
    let mut all: Vec<(Block, usize)> = Vec::new();
    let mut open: Option<Block> = None;
    let mut last_end = 0;
    for (number, line) in markdown.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some(Block { info: info.trim().to_string(), body: String::new(), line: number + 1 });
                } else if !line.trim().is_empty() {
                    last_end = number + 1;
                }
            }
            Some(block) => {
                if line.trim_end() == "```" {
                    let block = open.take().unwrap();
                    // Whether only blank lines separate it from the block before.
                    all.push((block, last_end));
                    last_end = number + 1;
                } else {
                    block.body.push_str(line);
                    block.body.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "a fenced block is not closed");
    let mut paired = Vec::new();
    let mut blocks = all.into_iter().peekable();
    while let Some((block, _)) = blocks.next() {
        if !block.info.starts_with("sh") {
            continue;
        }
        let end_of_block = block.line + block.body.lines().count() + 1;
        let expected = match blocks.peek() {
            Some((next, text_before)) if next.info == "text" && *text_before <= end_of_block => {
                blocks.next().map(|(block, _)| block)
            }
            _ => None,
        };
        paired.push((block, expected));
    }
    paired
}

fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `line` matches `pattern`, where `...` stands for anything (spaces already normalized in both).
fn matches(pattern: &str, line: &str) -> bool {
    let pieces: Vec<&str> = pattern.split("...").map(str::trim).collect();
    let mut at = 0;
    for (i, piece) in pieces.iter().enumerate() {
        if piece.is_empty() {
            continue;
        }
        let found = if i == 0 {
            line.starts_with(piece).then_some(0)
        } else if i == pieces.len() - 1 {
            line.ends_with(piece).then(|| line.len() - piece.len()).filter(|start| *start >= at)
        } else {
            line[at..].find(piece).map(|start| start + at)
        };
        match found {
            Some(start) => at = start + piece.len(),
            None => return false,
        }
    }
    true
}

/// Whether every line of `expected` matches a line of `printed`, in order; else which does not.
fn check_printed(expected: &str, printed: &str) -> Result<(), String> {
    let lines: Vec<String> = printed.lines().map(normalize).collect();
    let mut from = 0;
    for wanted in expected.lines().map(normalize).filter(|line| !line.is_empty()) {
        match lines[from..].iter().position(|line| matches(&wanted, line)) {
            Some(found) => from += found + 1,
            None => return Err(format!("no line matches {wanted:?} (in order) in what it printed:\n{printed}")),
        }
    }
    Ok(())
}

/// A server the tutorial started, stopped when the test ends.
struct Background(Option<Child>);

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a tutorial's sh blocks in order, checking what each prints.
fn walk(tutorial: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tutorials").join(tutorial);
    let markdown = std::fs::read_to_string(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let port = common::free_port();
    let bin_dir = PathBuf::from(common::acta_bin()).parent().unwrap().to_path_buf();
    let mut env: BTreeMap<String, String> = BTreeMap::from([
        ("PATH".to_string(), format!("{}:/usr/local/bin:/usr/bin:/bin", bin_dir.display())),
        ("HOME".to_string(), home.display().to_string()),
        ("TZ".to_string(), "UTC".to_string()),
        ("NO_COLOR".to_string(), "1".to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ]);
    let mut server = Background(None);
    let mut commands = 0;
    let pairs = blocks(&markdown);
    assert!(pairs.len() >= 6, "{tutorial}: only {} sh blocks found", pairs.len());
    for (block, expected) in pairs {
        let context = format!("{tutorial} line {}", block.line);
        let body = block.body.replace("127.0.0.1:8700", &format!("127.0.0.1:{port}"));
        commands += body.lines().filter(|line| line.trim_start().starts_with("acta ")).count();
        if body.trim_start().starts_with("acta serve") {
            assert!(server.0.is_none(), "{context}: a second server");
            let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
            let child = Command::new("bash")
                .arg("-c")
                .arg(format!("exec {}", body.trim()))
                .current_dir(dir.path())
                .env_clear()
                .envs(&env)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            server.0 = Some(child);
            wait_healthy(port, &dir.path().join("serve.log"), &context);
            continue;
        }
        let read_only = body.trim().lines().count() == 1
            && ["acta events search ", "acta events count ", "acta boards graph ", "acta alerts history "]
                .iter()
                .any(|command| body.trim_start().starts_with(command));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, printed) = run_block(&body, dir.path(), &env);
            if block.info == "sh fails" {
                assert!(!status.success(), "{context}: should fail, but succeeded:\n{printed}");
            } else {
                assert!(status.success(), "{context}: failed ({status}):\n{printed}");
                env = read_env(&dir.path().join("env.after"));
            }
            let Some(expected) = &expected else { break };
            match check_printed(&expected.body, &printed) {
                Ok(()) => break,
                Err(_) if read_only && Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                Err(problem) => panic!("{context}: {problem}"),
            }
        }
    }
    assert!(server.0.is_some(), "{tutorial}: no `acta serve` block");
    assert!(commands >= 8, "{tutorial}: only {commands} acta commands");
}

/// Runs a block's text with bash, as one script; returns its exit status and what it printed (standard output
/// then standard error), and leaves the variables it ended with in `dir/env.after`.
fn run_block(body: &str, dir: &Path, env: &BTreeMap<String, String>) -> (std::process::ExitStatus, String) {
    let env_file = dir.join("env.after");
    let script = format!("set -eo pipefail\n{body}\nenv -0 > {}\n", env_file.display());
    let stdout = tempfile::NamedTempFile::new().unwrap();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(stdout.reopen().unwrap())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    let status = common::wait_with_timeout(&mut child, Duration::from_secs(60));
    let printed = format!(
        "{}{}",
        std::fs::read_to_string(stdout.path()).unwrap(),
        std::fs::read_to_string(stderr.path()).unwrap()
    );
    (status, printed)
}

/// The variables `env -0` wrote, but the ones bash sets for itself.
fn read_env(path: &Path) -> BTreeMap<String, String> {
    let after = std::fs::read(path).unwrap();
    after
        .split(|byte| *byte == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok()?.split_once('='))
        .filter(|(name, _)| !name.is_empty() && *name != "_" && *name != "SHLVL" && *name != "PWD")
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn wait_healthy(port: u16, log: &Path, context: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let http = common::http_client();
    while Instant::now() < deadline {
        let url = format!("http://127.0.0.1:{port}/healthz");
        if http.get(url).send().is_ok_and(|response| response.status().is_success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{context}: the server did not come up:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

#[test]
fn the_key_protect_tutorial_runs_as_written() {
    walk("key-protect-activity.md");
}

#[test]
fn the_user_api_keys_tutorial_runs_as_written() {
    walk("user-api-keys.md");
}

#[test]
fn expected_output_matches_with_wildcards_and_any_spacing() {
    assert!(matches("ID ... NAME ... ROLE", "ID NAME ROLE"));
    assert!(matches("... kms.secrets.create success ...", "2026-12-05 10:00:00 kms.secrets.create success x"));
    assert!(!matches("... kms.secrets.create failure ...", "2026-12-05 10:00:00 kms.secrets.create success x"));
    assert!(!matches("1 stored", "11 stored"));
    assert!(matches("error: 409 key_locked: ...", "error: 409 key_locked: the key is locked"));
}
