//! `acta verify DIR`: checks a data directory (or a copy of its `log/` and `checkpoints/`)
//! offline, without trusting anything in it but the keys it is given.
//!
//! Per instance, segment by segment in day order:
//! - framing, checksums, the seq chain (contiguous within and across segments, starting after
//!   what retention removed), and that every record names the instance of its directory and
//!   the account of its segment's checkpoints;
//! - every checkpoint line: readable, signed by a key of the ring, naming this segment, in
//!   growing sizes, with one link for the whole segment; the tree recomputed from the records
//!   (link leaf first) must give each checkpoint's root;
//! - the link: leaf 0 of a segment must name the final checkpoint of the segment before it
//!   (the zero hash for an instance's first segment);
//! - checkpoints kept elsewhere (`--checkpoints`): each must be a prefix of what is here, so a
//!   directory rolled back to an older, self-consistent state is caught.
//!
//! When a checkpoint does not match, the segment's `.leaves` file is checked against the
//! largest signed root; if it matches, it is the signed history leaf by leaf, and comparing it
//! with the records names the record that was changed, removed, added or reordered. Otherwise
//! the report gives the range between the last matching and the first failing checkpoint.
//!
//! Exit status: 0 valid, 1 an integrity failure, 2 a usage error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use acta_ledger::{Checkpoint, Frontier, Hash, KeyRing, VerifierKey, leaf_hash, root};
use acta_store::Day;
use acta_store::integrity::files::{
    self, GENESIS, NoteEntry, link_leaf, note_days, note_hash, notes_path, read_leaves_prefix, read_notes,
};
use acta_store::log::{Envelope, encode_payload, read_retired, visit_segment_file};
use serde_json::{Value, json};

/// `acta verify` arguments.
#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// A data directory, an export holding its `log/` and `checkpoints/` directories, an export bundle, or an
    /// archive root (`account=*/instance=*/year=*/month=*/day=*/`).
    path: PathBuf,
    /// A verifier key (`<name>+<key id>+<base64>`, as GET /v1/integrity/keys gives it) or a file
    /// of them, one per line; repeat for rotated keys. Without it, the keys recorded in the
    /// data directory are used, which proves consistency but not authenticity.
    #[arg(long = "key", value_name = "PUBKEY")]
    keys: Vec<String>,
    /// Checkpoints saved earlier (the JSON of GET /v1/integrity/checkpoints, or a `.notes`
    /// file): the directory must extend each of them.
    #[arg(long = "checkpoints", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// How to reach the store of an s3:// archive.
    #[command(flatten)]
    s3: crate::s3::S3Args,
    /// What messages call `path` (the URL of an archive downloaded from S3).
    #[arg(skip)]
    shown: Option<String>,
}

impl VerifyArgs {
    fn shown(&self) -> String {
        self.shown.clone().unwrap_or_else(|| self.path.display().to_string())
    }
}

/// `acta verify`: an `s3://bucket/prefix` archive is downloaded into a temporary directory (removed after)
/// and checked like a local one.
pub(crate) async fn run_source(mut args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if !crate::s3::is_s3(args.path.as_os_str()) {
        return Ok(run(&args));
    }
    let url = args.path.to_string_lossy().into_owned();
    let downloaded = match crate::s3::download(&url, &args.s3).await {
        Ok(downloaded) => downloaded,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    args.path = downloaded.path.clone();
    args.shown = Some(downloaded.shown.clone());
    let code = tokio::task::spawn_blocking(move || run(&args)).await?;
    drop(downloaded);
    Ok(code)
}

/// One finding, named as precisely as the evidence allows.
#[derive(Debug, Clone)]
struct Finding {
    instance: String,
    day: Option<Day>,
    seq: Option<u64>,
    reason: String,
}

impl Finding {
    fn to_json(&self) -> Value {
        json!({"instance": self.instance, "day": self.day, "seq": self.seq, "reason": self.reason})
    }

    fn to_line(&self) -> String {
        let mut line = self.instance.clone();
        if let Some(day) = self.day {
            let _ = write!(line, " {day}");
        }
        if let Some(seq) = self.seq {
            let _ = write!(line, " seq {seq}");
        }
        let _ = write!(line, ": {}", self.reason);
        line
    }
}

#[derive(Debug, Default)]
struct Report {
    checkpoints: u64,
    checkpoints_valid: u64,
    events: u64,
    events_valid: u64,
    events_unsigned: u64,
    external: u64,
    external_consistent: u64,
    problems: Vec<Finding>,
    notes: Vec<String>,
}

impl Report {
    fn problem(&mut self, instance: &str, day: Option<Day>, seq: Option<u64>, reason: impl Into<String>) {
        self.problems.push(Finding { instance: instance.to_owned(), day, seq, reason: reason.into() });
    }

    fn summary(&self) -> String {
        let mut line = format!(
            "{}/{} checkpoints valid, {}/{} events valid",
            self.checkpoints_valid, self.checkpoints, self.events_valid, self.events
        );
        if self.events_unsigned > 0 {
            let _ = write!(line, " ({} unsigned: after the last checkpoint)", self.events_unsigned);
        }
        if self.external > 0 {
            let _ = write!(line, ", {}/{} saved checkpoints consistent", self.external_consistent, self.external);
        }
        line
    }
}

/// A usage error: exit status 2.
struct Usage(String);

pub(crate) fn run(args: &VerifyArgs) -> ExitCode {
    let report = match verify(args) {
        Ok(report) => report,
        Err(Usage(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        let problems: Vec<Value> = report.problems.iter().map(Finding::to_json).collect();
        let answer = json!({
            "valid": report.problems.is_empty(),
            "checkpoints": {"total": report.checkpoints, "valid": report.checkpoints_valid},
            "events": {"total": report.events, "valid": report.events_valid, "unsigned": report.events_unsigned},
            "saved_checkpoints": {"total": report.external, "consistent": report.external_consistent},
            "problems": problems,
            "notes": report.notes,
        });
        println!("{answer:#}");
    } else {
        for note in &report.notes {
            println!("note: {note}");
        }
        for problem in &report.problems {
            println!("FAIL {}", problem.to_line());
        }
        println!("{}", report.summary());
    }
    if report.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn verify(args: &VerifyArgs) -> Result<Report, Usage> {
    if args.path.is_file() {
        return verify_bundle(args);
    }
    if crate::archive::is_archive(&args.path) {
        return verify_archive(args);
    }
    let log_root = args.path.join("log");
    if !log_root.is_dir() {
        return Err(Usage(format!("{} is not a data directory or an export: it has no log/ directory", args.shown())));
    }
    let mut report = Report::default();
    let ring = key_ring(args, &mut report)?;
    let saved = saved_checkpoints(args, &ring, &mut report)?;

    let checkpoints_root = files::checkpoints_dir(&args.path);
    let mut instances = subdirectories(&log_root)?;
    instances.extend(subdirectories(&checkpoints_root)?);
    instances.extend(saved.keys().map(|(instance, _)| instance.clone()));
    for instance in &instances {
        let saved_here: BTreeMap<Day, Vec<Saved>> = saved
            .iter()
            .filter(|((name, _), _)| name == instance)
            .map(|((_, day), saved)| (*day, saved.clone()))
            .collect();
        verify_instance(&args.path, instance, &ring, &saved_here, &mut report)?;
    }
    Ok(report)
}

/// An export bundle (a tar from `GET /v1/events/export?format=bundle`): unpacked into a fresh
/// temporary directory, checked like a data directory, then removed.
fn verify_bundle(args: &VerifyArgs) -> Result<Report, Usage> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("acta-verify-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|error| Usage(format!("{}: {error}", dir.display())))?;
    let unpacked = std::fs::File::open(&args.path)
        .and_then(|file| acta_store::integrity::bundle::extract_bundle(&mut std::io::BufReader::new(file), &dir));
    let result = match unpacked {
        Ok(_) if !dir.join("log").is_dir() => {
            // A bundle of instances without any segment still verifies its checkpoints.
            std::fs::create_dir(dir.join("log")).map_err(|error| Usage(format!("{}: {error}", dir.display())))
        }
        Ok(_) => Ok(()),
        Err(error) => {
            Err(Usage(format!("{} is neither a data directory nor an export bundle: {error}", args.path.display())))
        }
    };
    let report = result.and_then(|()| {
        let unpacked = VerifyArgs {
            path: dir.clone(),
            keys: args.keys.clone(),
            checkpoints: args.checkpoints.clone(),
            json: args.json,
            s3: crate::s3::S3Args::default(),
            shown: None,
        };
        verify(&unpacked)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = report?;
    report.notes.insert(0, format!("verified the export bundle {}", args.path.display()));
    Ok(report)
}

fn subdirectories(dir: &Path) -> Result<BTreeSet<String>, Usage> {
    let mut names = BTreeSet::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(error) => return Err(Usage(format!("{}: {error}", dir.display()))),
    };
    for entry in entries {
        let entry = entry.map_err(|error| Usage(format!("{}: {error}", dir.display())))?;
        if entry.path().is_dir()
            && let Some(name) = entry.file_name().to_str()
        {
            names.insert(name.to_owned());
        }
    }
    Ok(names)
}

/// The keys to trust: `--key` texts or files, else the directory's key history (with a note
/// that this shows consistency, not authenticity).
fn key_ring(args: &VerifyArgs, report: &mut Report) -> Result<KeyRing, Usage> {
    let mut ring = KeyRing::new();
    if args.keys.is_empty() {
        let path = files::keys_path(&args.path);
        let text = std::fs::read_to_string(&path).map_err(|error| {
            Usage(format!(
                "no --key given and the data directory's key history {} is unreadable: {error}",
                path.display()
            ))
        })?;
        ring = KeyRing::from_text(&text).map_err(|error| Usage(format!("{}: {error}", path.display())))?;
        report.notes.push(
            "signatures were checked with the keys recorded in the data directory (checkpoints/keys); pass --key \
             with the key the server publishes (GET /v1/integrity/keys) to know they are genuine"
                .to_owned(),
        );
    }
    for given in &args.keys {
        match VerifierKey::from_text(given.trim()) {
            Ok(key) => ring.add(key).map_err(|error| Usage(format!("--key {given}: {error}")))?,
            Err(text_error) => {
                let text = std::fs::read_to_string(given)
                    .map_err(|_| Usage(format!("--key {given}: neither a key ({text_error}) nor a readable file")))?;
                let file_ring = KeyRing::from_text(&text).map_err(|error| Usage(format!("--key {given}: {error}")))?;
                for key in file_ring.keys() {
                    ring.add(key.clone()).map_err(|error| Usage(format!("--key {given}: {error}")))?;
                }
            }
        }
    }
    if ring.keys().is_empty() {
        return Err(Usage("no verifier key: pass --key".to_owned()));
    }
    Ok(ring)
}

/// A checkpoint kept outside the data directory.
#[derive(Debug, Clone)]
struct Saved {
    /// Where it came from, for messages: `FILE, checkpoint N`.
    source: String,
    checkpoint: Checkpoint,
}

/// Reads `--checkpoints` files, grouped by (instance, day) of their origins.
fn saved_checkpoints(
    args: &VerifyArgs,
    ring: &KeyRing,
    report: &mut Report,
) -> Result<BTreeMap<(String, Day), Vec<Saved>>, Usage> {
    let mut saved: BTreeMap<(String, Day), Vec<Saved>> = BTreeMap::new();
    for path in &args.checkpoints {
        let text = std::fs::read_to_string(path)
            .map_err(|error| Usage(format!("--checkpoints {}: {error}", path.display())))?;
        let notes =
            parse_saved(&text).map_err(|reason| Usage(format!("--checkpoints {}: {reason}", path.display())))?;
        for (position, note) in notes.iter().enumerate() {
            report.external += 1;
            let source = format!("{}, checkpoint {}", path.display(), position + 1);
            let checkpoint = match ring.open(note) {
                Ok(checkpoint) => checkpoint,
                Err(error) => {
                    report.problem("-", None, None, format!("saved checkpoint ({source}): {error}"));
                    continue;
                }
            };
            let Some((_, _, instance, day)) = origin_parts(&checkpoint.origin) else {
                report.problem(
                    "-",
                    None,
                    None,
                    format!("saved checkpoint ({source}): origin {:?} is not an Acta segment", checkpoint.origin),
                );
                continue;
            };
            saved.entry((instance.to_owned(), day)).or_default().push(Saved { source, checkpoint });
        }
    }
    Ok(saved)
}

/// The notes of a saved-checkpoints file: the JSON answer of `GET /v1/integrity/checkpoints`,
/// a JSON array of those objects or of note strings, or JSON lines (a `.notes` file).
fn parse_saved(text: &str) -> Result<Vec<String>, String> {
    fn note_of(item: &Value) -> Option<String> {
        item.as_str().or_else(|| item.get("note").and_then(Value::as_str)).map(str::to_owned)
    }
    let items: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => match object.get("checkpoints") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err("a JSON object without a \"checkpoints\" array".to_owned()),
        },
        Ok(Value::Array(items)) => items,
        Ok(other) => vec![other],
        Err(_) => text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(number, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", number + 1)))
            .collect::<Result<_, _>>()?,
    };
    items
        .iter()
        .enumerate()
        .map(|(n, item)| note_of(item).ok_or_else(|| format!("item {} has no note", n + 1)))
        .collect()
}

/// `<node>/<account>/<instance>/<day>`.
fn origin_parts(origin: &str) -> Option<(&str, &str, &str, Day)> {
    let mut parts = origin.split('/');
    let (node, account, instance, day) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((node, account, instance, day.parse().ok()?))
}

/// The segment files of an instance directory by day (`.seg` preferred over a `.log` left by a
/// crash while sealing).
fn segment_files(dir: &Path) -> Result<BTreeMap<Day, PathBuf>, Usage> {
    let mut found = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(Usage(format!("{}: {error}", dir.display()))),
    };
    for entry in entries {
        let path = entry.map_err(|error| Usage(format!("{}: {error}", dir.display())))?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        let (day, sealed) = match (name.strip_suffix(".seg"), name.strip_suffix(".log")) {
            (Some(day), _) => (day, true),
            (None, Some(day)) => (day, false),
            _ => continue,
        };
        let Ok(day) = day.parse::<Day>() else { continue };
        if sealed || !found.contains_key(&day) {
            found.insert(day, path);
        }
    }
    Ok(found)
}

/// What the previous segment leaves for the next one's link.
enum LinkTarget {
    /// No segment before: the link must be [`GENESIS`].
    Genesis,
    /// The SHA-256 of the previous segment's final note.
    Note { day: Day, hash: Hash },
    /// The previous segment has no valid checkpoint covering all of it.
    Unknown { day: Day },
    /// The previous segment is not here (an archive's first day, or after days missing from it): any link.
    Any,
}

fn verify_instance(
    data: &Path,
    instance: &str,
    ring: &KeyRing,
    saved: &BTreeMap<Day, Vec<Saved>>,
    report: &mut Report,
) -> Result<(), Usage> {
    let log_dir = data.join("log").join(instance);
    let segments = segment_files(&log_dir)?;
    let checkpoint_dir = files::instance_dir(data, instance);
    let note_days =
        note_days(&checkpoint_dir).map_err(|error| Usage(format!("{}: {error}", checkpoint_dir.display())))?;
    let retired = match read_retired(&log_dir) {
        Ok(retired) => retired,
        Err(error) => {
            report.problem(instance, None, None, error.to_string());
            None
        }
    };
    let mut days: BTreeSet<Day> = segments.keys().copied().collect();
    days.extend(note_days.iter().copied());
    days.extend(saved.keys().copied());

    let mut next_seq = retired.map_or(1, |(_, last_seq)| last_seq + 1);
    let mut link = LinkTarget::Genesis;
    for day in days {
        let saved_here = saved.get(&day).map_or(&[][..], Vec::as_slice);
        let notes = read_notes(&notes_path(data, instance, day))
            .map_err(|error| Usage(format!("{}: {error}", notes_path(data, instance, day).display())))?;
        let segment =
            Segment { leaves: files::leaves_path(data, instance, day), instance, day, ring, saved: saved_here };
        match segments.get(&day) {
            Some(path) => {
                let outcome = segment.verify(path, &notes, &link, next_seq, report);
                next_seq = outcome.next_seq;
                link = outcome.link;
            }
            None if notes.lines.is_empty() => {
                for saved in saved_here {
                    report.problem(
                        instance,
                        Some(day),
                        None,
                        format!(
                            "a saved checkpoint of size {} ({}) names this segment, but the data directory has \
                             neither the segment nor its checkpoints: it was rolled back or deleted",
                            saved.checkpoint.size, saved.source
                        ),
                    );
                }
            }
            None => link = segment.retired(&notes, retired, report),
        }
    }
    Ok(())
}

struct Segment<'a> {
    /// The segment's `.leaves` file (it may not exist).
    leaves: PathBuf,
    instance: &'a str,
    day: Day,
    ring: &'a KeyRing,
    saved: &'a [Saved],
}

/// A checkpoint line that is signed by a known key and names this segment.
struct Authentic {
    line: usize,
    checkpoint: Checkpoint,
    is_final: bool,
    note: String,
}

struct Outcome {
    next_seq: u64,
    link: LinkTarget,
}

impl Segment<'_> {
    fn problem(&self, report: &mut Report, seq: Option<u64>, reason: impl Into<String>) {
        report.problem(self.instance, Some(self.day), seq, reason);
    }

    /// Opens every line of the segment's `.notes`, reporting the ones that cannot be trusted.
    fn authentic(&self, notes: &files::NotesFile, report: &mut Report) -> (Vec<Authentic>, Option<Hash>) {
        let mut authentic: Vec<Authentic> = Vec::new();
        let mut link: Option<Hash> = None;
        let mut account: Option<String> = None;
        for (line, entry) in &notes.lines {
            report.checkpoints += 1;
            let entry: &NoteEntry = match entry {
                Ok(entry) => entry,
                Err(reason) => {
                    self.problem(report, None, format!("checkpoint line {line}: {reason}"));
                    continue;
                }
            };
            let checkpoint = match self.ring.open(&entry.note) {
                Ok(checkpoint) => checkpoint,
                Err(error) => {
                    self.problem(report, None, format!("checkpoint line {line}: {error}"));
                    continue;
                }
            };
            let names_this = origin_parts(&checkpoint.origin)
                .is_some_and(|(_, _, instance, day)| instance == self.instance && day == self.day);
            if !names_this {
                self.problem(
                    report,
                    None,
                    format!(
                        "checkpoint line {line} is a valid checkpoint of {}, not of this segment: it was moved here",
                        checkpoint.origin
                    ),
                );
                continue;
            }
            let origin_account = origin_parts(&checkpoint.origin).map(|(_, account, _, _)| account.to_owned());
            if account.get_or_insert_with(|| origin_account.clone().unwrap_or_default())
                != &origin_account.unwrap_or_default()
            {
                self.problem(report, None, format!("checkpoint line {line} names another account than line 1"));
                continue;
            }
            if *link.get_or_insert(entry.link) != entry.link {
                self.problem(
                    report,
                    None,
                    format!("checkpoint line {line} gives another link than the lines before it"),
                );
                continue;
            }
            if let Some(previous) = authentic.last()
                && checkpoint.size < previous.checkpoint.size
            {
                self.problem(
                    report,
                    None,
                    format!(
                        "checkpoint line {line} (size {}) follows one of size {}: a tree never shrinks",
                        checkpoint.size, previous.checkpoint.size
                    ),
                );
                continue;
            }
            authentic.push(Authentic { line: *line, checkpoint, is_final: entry.is_final, note: entry.note.clone() });
        }
        if let Some(torn_at) = notes.torn_at {
            // What a crash during an append leaves (the server cuts it at its next start). It
            // vouches for nothing, so it is ignored; were it a checkpoint hidden on purpose, the
            // records it covered show up as unsigned, and a saved copy (--checkpoints) catches it.
            report.notes.push(format!(
                "{} {}: the checkpoint file ends in an incomplete line at byte {torn_at} (a crash during a write?); \
                 it is ignored",
                self.instance, self.day
            ));
        }
        (authentic, link)
    }

    /// A day with checkpoints but no segment: allowed when retention removed it (its final
    /// checkpoint is kept for the link), a deletion otherwise.
    fn retired(&self, notes: &files::NotesFile, retired: Option<(Day, u64)>, report: &mut Report) -> LinkTarget {
        let (authentic, _) = self.authentic(notes, report);
        report.checkpoints_valid += authentic.len() as u64;
        if retired.is_none_or(|(day, _)| self.day > day) {
            self.problem(
                report,
                None,
                format!(
                    "{} checkpoints name this segment but the log has no such segment: it was deleted",
                    notes.lines.len()
                ),
            );
        }
        match authentic.last() {
            Some(last) if last.is_final => LinkTarget::Note { day: self.day, hash: note_hash(&last.note) },
            _ => LinkTarget::Unknown { day: self.day },
        }
    }

    fn verify(
        &self,
        path: &Path,
        notes: &files::NotesFile,
        link_target: &LinkTarget,
        first_seq: u64,
        report: &mut Report,
    ) -> Outcome {
        let (authentic, link) = self.authentic(notes, report);
        let account = authentic
            .first()
            .and_then(|first| origin_parts(&first.checkpoint.origin).map(|(_, account, _, _)| account.to_owned()));

        // The link the segment claims must be the one its predecessor allows.
        let expected_link = match link_target {
            LinkTarget::Genesis => Some(GENESIS),
            LinkTarget::Note { hash, .. } => Some(*hash),
            LinkTarget::Unknown { .. } | LinkTarget::Any => None,
        };
        match (link, link_target) {
            (Some(link), LinkTarget::Genesis) if link != GENESIS => self.problem(
                report,
                None,
                "the segment links to a previous segment, but the instance has none before it: earlier segments \
                 were deleted",
            ),
            (Some(link), LinkTarget::Note { day, hash }) if link != *hash => self.problem(
                report,
                None,
                format!(
                    "the segment does not link to the final checkpoint of {day}: a segment between them was removed, \
                     or one of them was replaced"
                ),
            ),
            (_, LinkTarget::Unknown { day }) => self.problem(
                report,
                None,
                format!("the segment cannot be linked: {day} has no valid final checkpoint covering all its records"),
            ),
            _ => {}
        }
        let link = link.or(expected_link).unwrap_or(GENESIS);

        // Records: framing, seq chain, instance and account, leaves.
        let mut leaves = vec![link_leaf(&link)];
        let mut next_seq = first_seq;
        let mut seq_reported = false;
        let mut record_problems = Vec::new();
        let mut segment_first_seq = None;
        let read = visit_segment_file(path, &mut |record| {
            segment_first_seq.get_or_insert(record.seq);
            if record.seq != next_seq && !seq_reported {
                seq_reported = true;
                let reason = if record.seq > next_seq {
                    format!("found seq {} where seq {next_seq} was due: records are missing", record.seq)
                } else {
                    format!(
                        "found seq {} again after seq {}: a record was inserted or repeated",
                        record.seq,
                        next_seq - 1
                    )
                };
                record_problems.push((Some(next_seq), reason));
            }
            if record.instance != self.instance {
                record_problems.push((
                    Some(record.seq),
                    format!(
                        "the record (event {}) belongs to instance {}, not {}",
                        record.event_id, record.instance, self.instance
                    ),
                ));
            }
            if let Some(account) = &account
                && record.account != *account
            {
                record_problems.push((
                    Some(record.seq),
                    format!(
                        "the record (event {}) belongs to account {}, but this segment is account {account}'s",
                        record.event_id, record.account
                    ),
                ));
            }
            leaves.push(leaf_hash(&record.payload));
            next_seq = record.seq.max(next_seq) + 1;
        });
        // Leaves are named by seq from the segment's own first record (the chain check above has
        // already said if that one is not where the previous segment left off).
        let first_seq = segment_first_seq.unwrap_or(first_seq);
        let records = leaves.len() as u64 - 1;
        report.events += records;
        let readable = read.is_ok();
        if let Err(error) = read {
            let after = if records > 0 { format!(" (the record after seq {})", next_seq - 1) } else { String::new() };
            self.problem(report, Some(next_seq), format!("unreadable{after}: {error}"));
        }
        for (seq, reason) in record_problems {
            self.problem(report, seq, reason);
        }

        // Checkpoints against the tree of the records.
        let mut frontier = Frontier::new();
        let mut valid_size = 0u64;
        let mut failing: Vec<&Authentic> = Vec::new();
        let mut largest_matching: Option<&Authentic> = None;
        for entry in &authentic {
            let size = entry.checkpoint.size;
            while frontier.size() < size && (frontier.size() as usize) < leaves.len() {
                frontier.push(leaves[frontier.size() as usize]);
            }
            if frontier.size() == size && frontier.root() == entry.checkpoint.root {
                valid_size = valid_size.max(size);
                largest_matching = Some(entry);
                report.checkpoints_valid += 1;
            } else {
                failing.push(entry);
            }
        }
        let seq_of = |leaf: u64| first_seq + leaf - 1;
        if let Some(first) = failing.first() {
            let largest = authentic.iter().map(|entry| &entry.checkpoint).max_by_key(|checkpoint| checkpoint.size);
            // Past an unreadable record the leaves are unknown: the read error above names it.
            let located =
                largest.filter(|_| readable).and_then(|largest| self.locate(path, &leaves, largest, first_seq));
            match located {
                Some((seq, reason)) => self.problem(report, seq, reason),
                None if !readable => {}
                None if first.checkpoint.size > leaves.len() as u64 => self.problem(
                    report,
                    Some(seq_of(leaves.len() as u64)),
                    format!(
                        "checkpoint line {} covers records up to seq {} but the segment ends before seq {}: records \
                         were removed or the segment truncated",
                        first.line,
                        seq_of(first.checkpoint.size - 1),
                        seq_of(leaves.len() as u64)
                    ),
                ),
                None => self.problem(
                    report,
                    Some(seq_of(valid_size.max(1))),
                    format!(
                        "one of the records seq {} to {} was changed, removed, added or reordered (checkpoint line {} \
                         does not match; no leaf file to say which)",
                        seq_of(valid_size.max(1)),
                        seq_of(first.checkpoint.size - 1),
                        first.line
                    ),
                ),
            }
            let what =
                if readable { "do not match the records" } else { "cannot be checked past the unreadable record" };
            self.problem(
                report,
                None,
                format!(
                    "{} of {} checkpoints {what} (first: line {}, size {})",
                    failing.len(),
                    authentic.len(),
                    first.line,
                    first.checkpoint.size
                ),
            );
        }
        for entry in authentic.iter().filter(|entry| entry.is_final) {
            if entry.checkpoint.size != leaves.len() as u64 && readable {
                self.problem(
                    report,
                    None,
                    format!(
                        "checkpoint line {} is marked final with {} records, but the segment holds {}",
                        entry.line,
                        entry.checkpoint.size - 1,
                        records
                    ),
                );
            }
        }
        let signed = authentic.iter().map(|entry| entry.checkpoint.size).max().unwrap_or(0);
        report.events_valid += valid_size.saturating_sub(1);
        // Unsigned: after the last checkpoint of a segment whose checkpoints all hold, or in a
        // segment without any. (Records under checkpoints that fail are reported as such.)
        let all_hold = failing.is_empty() && authentic.len() == notes.lines.len();
        if all_hold && readable && (leaves.len() as u64) > signed.max(1) {
            report.events_unsigned += leaves.len() as u64 - signed.max(1);
        }
        self.check_saved(&leaves, first_seq, account.as_deref(), report);

        let link = match largest_matching {
            Some(entry) if entry.checkpoint.size == leaves.len() as u64 && failing.is_empty() => {
                LinkTarget::Note { day: self.day, hash: note_hash(&entry.note) }
            }
            _ => LinkTarget::Unknown { day: self.day },
        };
        Outcome { next_seq, link }
    }

    /// Names the first record that differs from the signed history, when the `.leaves` file
    /// proves to be that history (its leaves give the largest signed root).
    fn locate(
        &self,
        path: &Path,
        actual: &[Hash],
        largest: &Checkpoint,
        first_seq: u64,
    ) -> Option<(Option<u64>, String)> {
        let signed = read_leaves_prefix(&self.leaves, largest.size).ok()?;
        if signed.len() as u64 != largest.size || root(&signed) != largest.root {
            return None;
        }
        let seq = |leaf: usize| first_seq + leaf as u64 - 1;
        let mut difference = diff(actual, &signed)?;
        if let Difference::Diverged(at) = difference {
            difference = renumbered(path, at, &signed).unwrap_or(difference);
        }
        Some(match difference {
            Difference::Link => {
                (None, "leaf 0, the link to the previous segment, is not the one that was signed".to_owned())
            }
            Difference::Changed(at) => {
                (Some(seq(at)), "the record was changed: it is not the record that was signed".to_owned())
            }
            Difference::Removed { at, count } => (
                Some(seq(at)),
                format!("{count} signed record(s) are missing here: removed (the records after it were shifted)"),
            ),
            Difference::RemovedRenumbered(at) => (
                Some(seq(at)),
                "the signed record with this seq is missing: removed, and the records after it were renumbered"
                    .to_owned(),
            ),
            Difference::Added { at, count } => {
                (Some(seq(at)), format!("{count} record(s) here are not in the signed history: added"))
            }
            Difference::AddedRenumbered(at) => (
                Some(seq(at)),
                "the record is not in the signed history: added, and the records after it were renumbered".to_owned(),
            ),
            Difference::Swapped { at, with } => (
                Some(seq(at)),
                format!("the records seq {} and seq {} are not in the signed order: reordered", seq(at), seq(with)),
            ),
            Difference::Truncated(at) => (
                Some(seq(at)),
                format!(
                    "the signed records from seq {} to {} are missing: the segment was truncated",
                    seq(at),
                    seq(signed.len() - 1)
                ),
            ),
            Difference::Diverged(at) => {
                (Some(seq(at)), "the records from here on differ from the signed history".to_owned())
            }
        })
    }

    /// Checkpoints saved elsewhere must each be a prefix of this segment's tree.
    fn check_saved(&self, leaves: &[Hash], first_seq: u64, account: Option<&str>, report: &mut Report) {
        for saved in self.saved {
            let size = saved.checkpoint.size;
            let saved_account = origin_parts(&saved.checkpoint.origin).map(|(_, account, _, _)| account);
            if account.is_some() && saved_account != account {
                self.problem(report, None, format!("the saved checkpoint ({}) is of another account", saved.source));
            } else if size > leaves.len() as u64 {
                // Leaf `i` is seq `first_seq + i - 1`: the first missing leaf is `leaves.len()`.
                let (missing_from, missing_to) = (first_seq + leaves.len() as u64 - 1, first_seq + size - 2);
                self.problem(
                    report,
                    Some(missing_from),
                    format!(
                        "a saved checkpoint ({}) covers {} records, but the segment holds only {}: the log was \
                         rolled back or truncated, and the records seq {missing_from} to {missing_to} are missing",
                        saved.source,
                        size - 1,
                        leaves.len() - 1,
                    ),
                );
            } else if root(&leaves[..size as usize]) != saved.checkpoint.root {
                self.problem(
                    report,
                    None,
                    format!(
                        "a saved checkpoint ({}) of {} records does not match them: the history was rewritten since it \
                         was saved",
                        saved.source,
                        size - 1
                    ),
                );
            } else {
                report.external_consistent += 1;
            }
        }
    }
}

/// An archive (`account=*/instance=*/year=*/month=*/day=*/`, see `archive.rs`): per day, the manifest and the
/// SHA-256 of every file; per instance, its days in order checked like the segments of a data directory. An
/// instance's chain may start at any archived day, and days may be missing from an archive (retention ran
/// while archiving was off): where the seqs jump, the days in between are named as missing and the next day's
/// link cannot be checked; where they do not, the link must name the previous day's final checkpoint.
fn verify_archive(args: &VerifyArgs) -> Result<Report, Usage> {
    let listing = crate::archive::list_local_as(&args.path, &args.shown())
        .map_err(|error| Usage(format!("{}: {error}", args.shown())))?;
    let (instances, strays) = crate::archive::days(listing);
    let mut report = Report::default();
    for stray in strays {
        report.problem("-", None, None, format!("{stray} is not a file of the archive layout"));
    }
    let ring = archive_key_ring(args, &instances, &mut report)?;
    let saved = saved_checkpoints(args, &ring, &mut report)?;
    let mut day_count = 0;
    for ((account, instance), days) in &instances {
        day_count += days.len();
        let saved_here: BTreeMap<Day, Vec<Saved>> = saved
            .iter()
            .filter(|((name, _), _)| name == instance)
            .map(|((_, day), saved)| (*day, saved.clone()))
            .collect();
        verify_archived_instance(account, instance, days, &ring, &saved_here, &mut report);
    }
    report.notes.insert(
        0,
        format!("verified the archive {}: {} instance(s), {day_count} day(s)", args.shown(), instances.len()),
    );
    Ok(report)
}

/// `--key`, else every key the archive's `keys` files record (consistency, not authenticity, as for a data
/// directory). Each `keys` file must be readable either way.
fn archive_key_ring(
    args: &VerifyArgs,
    instances: &crate::archive::Instances,
    report: &mut Report,
) -> Result<KeyRing, Usage> {
    let mut recorded = KeyRing::new();
    for days in instances.values() {
        for archived in days.values() {
            let Some(file) = archived.files.get("keys") else { continue };
            let parsed = file
                .read()
                .map_err(|error| error.to_string())
                .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned()))
                .and_then(|text| KeyRing::from_text(&text).map_err(|error| error.to_string()));
            let added = parsed.and_then(|ring| {
                ring.keys().iter().try_for_each(|key| recorded.add(key.clone()).map_err(|error| error.to_string()))
            });
            if let Err(reason) = added {
                report.problem(&archived.instance, Some(archived.day), None, format!("{}: {reason}", file.name));
            }
        }
    }
    if !args.keys.is_empty() {
        return key_ring(args, report);
    }
    if recorded.keys().is_empty() {
        return Err(Usage("no --key given and the archive holds no readable keys file".to_owned()));
    }
    report.notes.push(
        "signatures were checked with the keys recorded in the archive (its keys files); pass --key with the key \
         the server publishes (GET /v1/integrity/keys) to know they are genuine"
            .to_owned(),
    );
    Ok(recorded)
}

fn verify_archived_instance(
    account: &str,
    instance: &str,
    days: &BTreeMap<Day, crate::archive::ArchiveDay>,
    ring: &KeyRing,
    saved: &BTreeMap<Day, Vec<Saved>>,
    report: &mut Report,
) {
    // What the last verified day leaves: its day, the seq due next, and the link it allows.
    let mut previous: Option<(Day, u64, LinkTarget)> = None;
    for (day, archived) in days {
        let day = *day;
        let manifest = match archived.manifest() {
            Ok(Some(manifest)) => manifest,
            Ok(None) => {
                report.problem(
                    instance,
                    Some(day),
                    None,
                    format!(
                        "{} has no MANIFEST.json: the day is incomplete (its archiving did not finish), so its files \
                         were not verified",
                        archived.dir
                    ),
                );
                continue;
            }
            Err(reason) => {
                report.problem(instance, Some(day), None, reason);
                continue;
            }
        };
        for problem in archived.check_files(&manifest) {
            report.problem(instance, Some(day), None, problem);
        }
        let origin_account = manifest.final_checkpoint.lines().next().and_then(origin_parts).map(|parts| parts.1);
        if origin_account.is_some_and(|origin| origin != account) {
            report.problem(
                instance,
                Some(day),
                None,
                format!("the final checkpoint is of another account than the directory's ({account})"),
            );
        }
        let Some(segment_file) = archived.files.get(&archived.segment_name()) else { continue };
        let notes = match archived.files.get(&archived.notes_name()).map(crate::archive::NamedFile::read) {
            Some(Ok(bytes)) => files::parse_notes(&bytes),
            Some(Err(error)) => {
                report.problem(instance, Some(day), None, format!("{}: {error}", archived.notes_name()));
                files::NotesFile::default()
            }
            None => files::NotesFile::default(),
        };
        let (first_seq, link_target) = match previous.take() {
            // Seq 1 is the instance's first record ever: its day links to nothing.
            None if manifest.first_seq == 1 => (1, LinkTarget::Genesis),
            None => {
                report.notes.push(format!("{instance}: the chain starts at {day} (seq {})", manifest.first_seq));
                (manifest.first_seq, LinkTarget::Any)
            }
            Some((before, next_seq, _)) if manifest.first_seq > next_seq => {
                report.notes.push(format!(
                    "{instance}: the days after {before} and before {day} are missing from the archive (seqs \
                     {next_seq} to {}); the chain starts again at {day}",
                    manifest.first_seq - 1
                ));
                (manifest.first_seq, LinkTarget::Any)
            }
            Some((_, next_seq, link)) => (next_seq, link),
        };
        let leaves = archived
            .files
            .get(&archived.leaves_name())
            .map_or_else(|| PathBuf::from("/nonexistent/acta/leaves"), |file| file.path.clone());
        let saved_here = saved.get(&day).map_or(&[][..], Vec::as_slice);
        let segment = Segment { leaves, instance, day, ring, saved: saved_here };
        let outcome = segment.verify(&segment_file.path, &notes, &link_target, first_seq, report);
        let held = outcome.next_seq.saturating_sub(first_seq);
        if outcome.next_seq != manifest.last_seq + 1 || held != manifest.events {
            report.problem(
                instance,
                Some(day),
                None,
                format!(
                    "the manifest says seqs {} to {} ({} events), the segment holds seqs {first_seq} to {} ({held})",
                    manifest.first_seq,
                    manifest.last_seq,
                    manifest.events,
                    outcome.next_seq.saturating_sub(1)
                ),
            );
        }
        let last = notes.entries().last();
        if !last.is_some_and(|last| last.is_final && last.note == manifest.final_checkpoint) {
            report.problem(
                instance,
                Some(day),
                None,
                "the manifest's final_checkpoint is not the final line of the day's checkpoints",
            );
        }
        previous = Some((day, outcome.next_seq, outcome.link));
    }
}

/// How the records differ from the signed leaves, at the first difference (leaf indices).
#[derive(Debug, PartialEq, Eq)]
enum Difference {
    Link,
    Changed(usize),
    Removed {
        at: usize,
        count: usize,
    },
    /// The signed record at `at` is gone and the ones after it carry seqs one lower.
    RemovedRenumbered(usize),
    Added {
        at: usize,
        count: usize,
    },
    /// The record at `at` is new and the ones after it carry seqs one higher.
    AddedRenumbered(usize),
    Swapped {
        at: usize,
        with: usize,
    },
    Truncated(usize),
    Diverged(usize),
}

/// Compares the leaves of the records with the signed ones; `None` when the signed ones are a
/// prefix of the actual ones.
fn diff(actual: &[Hash], signed: &[Hash]) -> Option<Difference> {
    let at = (0..signed.len()).find(|&i| actual.get(i) != Some(&signed[i]))?;
    if at == 0 {
        return Some(Difference::Link);
    }
    if at >= actual.len() {
        return Some(Difference::Truncated(at));
    }
    // Both sides agree on everything they share from these positions on.
    let aligned = |a: usize, s: usize| {
        let len = (actual.len() - a).min(signed.len() - s);
        actual[a..a + len] == signed[s..s + len]
    };
    if let Some(with) = (at + 1..signed.len()).find(|&j| signed[j] == actual[at]) {
        let swapped = actual.get(with) == Some(&signed[at])
            && actual[at + 1..with] == signed[at + 1..with]
            && aligned(with + 1, with + 1);
        if swapped {
            return Some(Difference::Swapped { at, with });
        }
        if aligned(at, with) {
            return Some(Difference::Removed { at, count: with - at });
        }
    }
    if let Some(next) = (at + 1..actual.len()).find(|&k| actual[k] == signed[at])
        && aligned(next, at)
    {
        return Some(Difference::Added { at, count: next - at });
    }
    if aligned(at + 1, at + 1) {
        return Some(Difference::Changed(at));
    }
    Some(Difference::Diverged(at))
}

/// Explains a divergence at leaf `at` by records whose seq was rewritten to hide a removal, an
/// insertion or a swap: the seq is part of the hashed envelope, so renumbering changes every
/// later leaf, but the records hashed with their original seqs give the signed leaves back.
fn renumbered(path: &Path, at: usize, signed: &[Hash]) -> Option<Difference> {
    // Leaf `at` is record `at - 1`; the records at leaves `at` and `at + 1` are needed.
    let mut records = Vec::with_capacity(2);
    let mut position = 0usize;
    let _ = visit_segment_file(path, &mut |record| {
        position += 1;
        if position == at || position == at + 1 {
            records.push(record);
        }
    });
    let here = records.first()?;
    let next = records.get(1);
    // The leaf a record would have with other positional fields (seq, arrival time).
    let placed = |record: &acta_store::Record, seq: u64, received_ns: i64| {
        let envelope = Envelope {
            seq,
            received_ns,
            stream: &record.stream,
            account: &record.account,
            instance: &record.instance,
            event_id: &record.event_id,
        };
        encode_payload(&envelope, &record.event).ok().map(|payload| leaf_hash(&payload))
    };
    let is_signed = |leaf: Option<Hash>, position: usize| leaf.is_some_and(|leaf| signed.get(position) == Some(&leaf));
    // Two records exchanged while the seqs and arrival times stayed in place, so the chain of
    // both still looks right.
    if let Some(next) = next
        && is_signed(placed(here, next.seq, next.received_ns), at + 1)
        && is_signed(placed(next, here.seq, here.received_ns), at)
    {
        return Some(Difference::Swapped { at, with: at + 1 });
    }
    let here_was_next = is_signed(placed(here, here.seq + 1, here.received_ns), at + 1);
    let next_was_here = next
        .and_then(|next| Some(placed(next, next.seq.checked_sub(1)?, next.received_ns)))
        .is_some_and(|leaf| is_signed(leaf, at));
    match (here_was_next, next_was_here) {
        (true, true) => Some(Difference::Swapped { at, with: at + 1 }),
        (true, false) => Some(Difference::RemovedRenumbered(at)),
        (false, true) => Some(Difference::AddedRenumbered(at)),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(ids: &[u8]) -> Vec<Hash> {
        ids.iter().map(|id| [*id; 32]).collect()
    }

    #[test]
    fn diff_names_the_kind_and_place_of_each_difference() {
        let signed = leaves(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(diff(&leaves(&[0, 1, 2, 3, 4, 5, 6]), &signed), None);
        assert_eq!(diff(&leaves(&[0, 1, 9, 3, 4, 5]), &signed), Some(Difference::Changed(2)));
        assert_eq!(diff(&leaves(&[0, 1, 3, 4, 5]), &signed), Some(Difference::Removed { at: 2, count: 1 }));
        assert_eq!(diff(&leaves(&[0, 1, 9, 2, 3, 4, 5]), &signed), Some(Difference::Added { at: 2, count: 1 }));
        assert_eq!(diff(&leaves(&[0, 1, 3, 2, 4, 5]), &signed), Some(Difference::Swapped { at: 2, with: 3 }));
        assert_eq!(diff(&leaves(&[0, 4, 2, 3, 1, 5]), &signed), Some(Difference::Swapped { at: 1, with: 4 }));
        assert_eq!(diff(&leaves(&[0, 1, 2]), &signed), Some(Difference::Truncated(3)));
        assert_eq!(diff(&leaves(&[7, 1, 2, 3, 4, 5]), &signed), Some(Difference::Link));
        assert_eq!(diff(&leaves(&[0, 1, 8, 9, 4, 5]), &signed), Some(Difference::Diverged(2)));
    }
}
