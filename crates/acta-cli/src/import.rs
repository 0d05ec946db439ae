//! `acta import SOURCE...`: re-ingests events through `POST /v1/events`, the normal path (validation,
//! durability, deduplication by id), with every event's bytes exactly as found.
//!
//! A source is a file or a directory: NDJSON (plain, `.zst`, `.gz`), a JSON array, a log segment (`.seg` or
//! `.log`: its records' event bytes), an archive root (`account=*/...`, every day checked against its
//! manifest before anything of it is sent), or a directory tree of those. Sources become a list of [`Unit`]s
//! of named files; each unit is read on a blocking thread that hands events to the sender, which batches them.
//!
//! Events read from a segment carry the id their log envelope recorded. Those whose bytes have no id of their
//! own (Acta gave them one at ingest) are sent with it in `X-Acta-Event-Ids`, so an import keeps their ids and a
//! second import finds them duplicates.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use indicatif::ProgressBar;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::archive::{self, ArchiveDay, NamedFile};
use crate::client::{Client, Connection, api_error_text};

/// The largest body sent at once (the server's default limit is 10 MiB).
const MAX_BODY_BYTES: usize = 8 << 20;

/// How long an import waits out `429` answers (the index catching up) for one batch before giving up.
const BACKPRESSURE_BUDGET: Duration = Duration::from_secs(600);

/// `acta import` arguments.
#[derive(clap::Args)]
pub(crate) struct ImportArgs {
    /// Files or directories: NDJSON (plain, .zst or .gz), a JSON array, a log segment (.seg/.log), an archive
    /// directory (account=*/instance=*/year=*/month=*/day=*/), or a directory tree of those; or the same under
    /// an S3 prefix, s3://BUCKET/PREFIX (downloaded to a temporary directory first).
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// Store every event in this instance (id or name) instead of routing each by its logSourceCRN.
    #[arg(long)]
    instance: Option<String>,
    /// The account to store in (platform admin key only; an account's key always stores in its own).
    #[arg(long)]
    account: Option<String>,
    /// Events per request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Print the summary (and every rejection and failure) as JSON.
    #[arg(long)]
    json: bool,
    /// The files are records of another source, sent whole to `POST /v1/events?format=...`, which maps each to
    /// CADF keeping the original (kubernetes, cloudtrail, gcp, oslo, ibm, liberty: docs/sources/). Local files
    /// only, each at most one request's size.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// With `--format liberty`: the UTC offset of the records' local time stamps (`+01:00`).
    #[arg(long, value_name = "OFFSET", requires = "format")]
    utc_offset: Option<String>,
    /// How to reach the store of s3:// sources.
    #[command(flatten)]
    s3: crate::s3::S3Args,
}

/// One thing to read.
enum Unit {
    /// NDJSON or a JSON array, maybe compressed.
    Events(NamedFile),
    /// A log segment.
    Segment(NamedFile),
    /// One archived day of an instance.
    Day(ArchiveDay),
}

impl Unit {
    /// The unit with its files named by `rename` (a downloaded copy's files by their URL).
    fn renamed(self, rename: &dyn Fn(&str) -> String) -> Unit {
        let file = |file: NamedFile| NamedFile { name: rename(&file.name), path: file.path };
        match self {
            Unit::Events(named) => Unit::Events(file(named)),
            Unit::Segment(named) => Unit::Segment(file(named)),
            Unit::Day(mut day) => {
                day.files =
                    std::mem::take(&mut day.files).into_iter().map(|(name, named)| (name, file(named))).collect();
                Unit::Day(day)
            }
        }
    }
}

/// How a unit's events travel: NDJSON lines may be anything (a bad line is rejected alone); events read
/// from segments or arrays are valid JSON, possibly spanning lines, so they go as a JSON array.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    Ndjson,
    Array,
}

/// One event to send.
struct Item {
    raw: Vec<u8>,
    /// The id to give it when its bytes have none (from a log envelope).
    id: Option<String>,
    /// Where it came from, for messages: `FILE line 3`, `FILE seq 12`.
    place: String,
}

enum Piece {
    Body(Body),
    Item(Item),
    Failed(String),
}

#[derive(Default)]
struct Totals {
    stored: u64,
    duplicates: u64,
    rejected: u64,
    rejections: Vec<Value>,
    failures: Vec<String>,
}

pub(crate) async fn run(args: ImportArgs, connection: &Connection) -> anyhow::Result<ExitCode> {
    let client = connection.client()?;
    let mut totals = Totals::default();
    if let Some(format) = &args.format {
        return import_records(&args, format, &client, totals).await;
    }
    let mut units = Vec::new();
    // The local copies of s3:// sources, removed when the import ends.
    let mut copies = Vec::new();
    for source in &args.sources {
        if crate::s3::is_s3(source.as_os_str()) {
            let url = source.to_string_lossy();
            let copy = match crate::s3::download(&url, &args.s3).await {
                Ok(copy) => copy,
                Err(error) => {
                    totals.failures.push(format!("{error:#}"));
                    continue;
                }
            };
            match units_of(&copy.path) {
                Ok((found, failures)) => {
                    units.extend(found.into_iter().map(|unit| unit.renamed(&|name| copy.rename(name))));
                    totals.failures.extend(failures.iter().map(|failure| copy.rename(failure)));
                }
                Err(failure) => totals.failures.push(copy.rename(&failure)),
            }
            copies.push(copy);
            continue;
        }
        match units_of(source) {
            Ok((found, failures)) => {
                units.extend(found);
                totals.failures.extend(failures);
            }
            Err(failure) => totals.failures.push(failure),
        }
    }
    let progress = ProgressBar::new_spinner();
    progress.set_style(crate::output::progress_style("{spinner} {pos} events sent {rate} {msg}"));
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(instance) = &args.instance {
        params.push(("instance", instance.clone()));
    }
    if let Some(account) = &args.account {
        params.push(("account", account.clone()));
    }
    let sender = Sender { client: &client, params, batch: args.batch.max(1), progress: &progress, json: args.json };
    for unit in units {
        sender.unit(unit, &mut totals).await?;
    }
    progress.finish_and_clear();
    drop(copies);
    Ok(summarize(totals, args.json))
}

/// `--format`: each file sent whole to `POST /v1/events?format=`, answered per record as any import.
async fn import_records(
    args: &ImportArgs,
    format: &str,
    client: &crate::client::Client,
    mut totals: Totals,
) -> anyhow::Result<ExitCode> {
    let progress = ProgressBar::hidden();
    let mut params: Vec<(&str, String)> = vec![("format", format.to_string())];
    if let Some(offset) = &args.utc_offset {
        params.push(("utc_offset", offset.clone()));
    }
    if let Some(instance) = &args.instance {
        params.push(("instance", instance.clone()));
    }
    if let Some(account) = &args.account {
        params.push(("account", account.clone()));
    }
    for source in &args.sources {
        let body = match std::fs::read(source) {
            Ok(body) if body.len() <= MAX_BODY_BYTES => body,
            Ok(body) => {
                let size = body.len();
                totals.failures.push(format!(
                    "{}: {size} bytes, more than one request takes ({MAX_BODY_BYTES}); split the file",
                    source.display()
                ));
                continue;
            }
            Err(error) => {
                totals.failures.push(format!("{}: {error}", source.display()));
                continue;
            }
        };
        let response = client
            .post("/v1/events")
            .query(&params)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", client.url()))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let Some(results) = answer.get("results").and_then(Value::as_array) else {
            // The whole file refused (not that format, a bad offset): the next file may be fine.
            totals.failures.push(format!("{}: {}", source.display(), api_error_text(status, &answer)));
            continue;
        };
        let name = source.display().to_string();
        let places: Vec<String> = (1..=results.len()).map(|n| format!("{name} record {n}")).collect();
        count_results(results, &places, &mut totals, &progress, args.json);
    }
    Ok(summarize(totals, args.json))
}

/// Adds up an answer's per-event results; a rejection is printed (unless `json`) with its place.
fn count_results(results: &[Value], places: &[String], totals: &mut Totals, progress: &ProgressBar, json: bool) {
    for result in results {
        match result["status"].as_str() {
            Some("stored") => totals.stored += 1,
            Some("duplicate") => totals.duplicates += 1,
            _ => {
                totals.rejected += 1;
                let place = result["index"]
                    .as_u64()
                    .and_then(|index| places.get(index as usize))
                    .map_or("an event", String::as_str);
                let errors = result["errors"].clone();
                if !json {
                    for error in errors.as_array().into_iter().flatten() {
                        let pointer = error["pointer"].as_str().unwrap_or("");
                        let message = error["message"].as_str().unwrap_or("");
                        let at = if pointer.is_empty() { String::new() } else { format!("{pointer}: ") };
                        progress.suspend(|| eprintln!("{place} rejected: {at}{message}"));
                    }
                }
                totals.rejections.push(json!({"source": place, "errors": errors}));
            }
        }
    }
}

/// Prints the totals; exit 1 when anything was rejected or failed.
fn summarize(totals: Totals, json: bool) -> ExitCode {
    let failed = totals.failures.len();
    if json {
        let summary = json!({
            "stored": totals.stored,
            "duplicates": totals.duplicates,
            "rejected": totals.rejected,
            "failed": failed,
            "rejections": totals.rejections,
            "failures": totals.failures,
        });
        println!("{summary:#}");
    } else {
        for failure in &totals.failures {
            eprintln!("error: {failure}");
        }
        println!(
            "{} stored, {} duplicates, {} rejected, {failed} failed",
            totals.stored, totals.duplicates, totals.rejected
        );
    }
    if totals.rejected > 0 || failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// The units of a source, and what of it cannot be imported.
fn units_of(source: &Path) -> Result<(Vec<Unit>, Vec<String>), String> {
    let metadata = std::fs::metadata(source).map_err(|error| format!("{}: {error}", source.display()))?;
    if metadata.is_file() {
        let file = NamedFile::local(source);
        return Ok((vec![file_unit(file)], Vec::new()));
    }
    if archive::is_archive(source) {
        return archive_units(source);
    }
    let mut units = Vec::new();
    let mut failures = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(source)
        .and_then(|entries| entries.map(|entry| entry.map(|entry| entry.path())).collect())
        .map_err(|error| format!("{}: {error}", source.display()))?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            match units_of(&path) {
                Ok((found, failed)) => {
                    units.extend(found);
                    failures.extend(failed);
                }
                Err(failure) => failures.push(failure),
            }
        } else if is_event_file(&path) {
            units.push(file_unit(NamedFile::local(&path)));
        }
    }
    Ok((units, failures))
}

fn file_unit(file: NamedFile) -> Unit {
    if file.path.extension().is_some_and(|ext| ext == "seg" || ext == "log") {
        Unit::Segment(file)
    } else {
        Unit::Events(file)
    }
}

/// The files of a directory tree that hold events (a tree may hold other files: notes, READMEs).
fn is_event_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    let name = name.strip_suffix(".zst").or_else(|| name.strip_suffix(".gz")).unwrap_or(name);
    [".ndjson", ".jsonl", ".json", ".seg", ".log"].iter().any(|ext| name.ends_with(ext))
}

/// The days of an archive, instance by instance in day order. A day without a manifest is refused: it may
/// be partly written.
fn archive_units(root: &Path) -> Result<(Vec<Unit>, Vec<String>), String> {
    let listing = archive::list_local(root).map_err(|error| format!("{}: {error}", root.display()))?;
    let (instances, strays) = archive::days(listing);
    let mut failures: Vec<String> =
        strays.into_iter().map(|name| format!("{name} is not a file of the archive layout: not imported")).collect();
    let mut units = Vec::new();
    for days in instances.into_values() {
        for archived in days.into_values() {
            if archived.files.contains_key(acta_store::archives::layout::MANIFEST) {
                units.push(Unit::Day(archived));
            } else {
                failures.push(format!(
                    "{}/{}: no MANIFEST.json, the day is incomplete (its archiving did not finish): not imported",
                    root.display(),
                    archived.dir
                ));
            }
        }
    }
    Ok((units, failures))
}

struct Sender<'a> {
    client: &'a Client,
    params: Vec<(&'static str, String)>,
    batch: usize,
    progress: &'a ProgressBar,
    json: bool,
}

impl Sender<'_> {
    /// Reads a unit on a blocking thread and sends its events in batches as they come.
    async fn unit(&self, unit: Unit, totals: &mut Totals) -> anyhow::Result<()> {
        let (tx, mut rx) = mpsc::channel::<Piece>(4 * self.batch);
        let reader = tokio::task::spawn_blocking(move || read_unit(unit, &tx));
        let mut body = Body::Array;
        let mut pending: Vec<Item> = Vec::new();
        let mut pending_bytes = 0;
        while let Some(read) = rx.recv().await {
            match read {
                Piece::Body(kind) => body = kind,
                Piece::Failed(failure) => totals.failures.push(failure),
                Piece::Item(item) => {
                    if !pending.is_empty() && pending_bytes + item.raw.len() + 1 > MAX_BODY_BYTES {
                        self.post(std::mem::take(&mut pending), body, totals).await?;
                        pending_bytes = 0;
                    }
                    pending_bytes += item.raw.len() + 1;
                    pending.push(item);
                    if pending.len() >= self.batch {
                        self.post(std::mem::take(&mut pending), body, totals).await?;
                        pending_bytes = 0;
                    }
                }
            }
        }
        if !pending.is_empty() {
            self.post(pending, body, totals).await?;
        }
        reader.await.context("reading a source")?;
        Ok(())
    }

    /// Sends one batch and adds up its per-event results. An answer without them (no access, no such
    /// instance, the server gone) ends the import: every later batch would meet the same.
    async fn post(&self, items: Vec<Item>, body: Body, totals: &mut Totals) -> anyhow::Result<()> {
        let mut text = Vec::new();
        let (content_type, separator): (&str, &[u8]) = match body {
            Body::Ndjson => ("application/x-ndjson", b"\n"),
            Body::Array => ("application/json", b","),
        };
        if body == Body::Array {
            text.push(b'[');
        }
        for (position, item) in items.iter().enumerate() {
            if position > 0 {
                text.extend_from_slice(separator);
            }
            text.extend_from_slice(&item.raw);
        }
        text.push(if body == Body::Array { b']' } else { b'\n' });
        let ids = items
            .iter()
            .any(|item| item.id.is_some())
            .then(|| items.iter().map(|item| item.id.as_deref().unwrap_or_default()).collect::<Vec<_>>().join(","));
        let text = bytes::Bytes::from(text);
        let started = Instant::now();
        let answer = loop {
            let mut request = self
                .client
                .post("/v1/events")
                .query(&self.params)
                .header("content-type", content_type)
                .body(text.clone());
            if let Some(ids) = &ids {
                request = request.header("x-acta-event-ids", ids.as_str());
            }
            let response = request.send().await.with_context(|| format!("cannot reach {}", self.client.url()))?;
            let status = response.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS && started.elapsed() < BACKPRESSURE_BUDGET {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(wait.clamp(1, 30))).await;
                continue;
            }
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            if answer.get("results").is_none() {
                self.progress.abandon();
                return Err(anyhow!("{}", api_error_text(status, &answer)));
            }
            break answer;
        };
        let places: Vec<String> = items.iter().map(|item| item.place.clone()).collect();
        let results = answer["results"].as_array().map_or(&[][..], Vec::as_slice);
        count_results(results, &places, totals, self.progress, self.json);
        self.progress.inc(items.len() as u64);
        Ok(())
    }
}

/// Reads a unit into the channel. Runs on a blocking thread; stops early when the sender is gone.
fn read_unit(unit: Unit, tx: &mpsc::Sender<Piece>) {
    let result = match unit {
        Unit::Events(file) => read_events(&file, tx),
        Unit::Segment(file) => read_segment(&file, tx),
        Unit::Day(day) => read_day(&day, tx),
    };
    if let Err(failure) = result {
        let _ = tx.blocking_send(Piece::Failed(failure));
    }
}

fn send(tx: &mpsc::Sender<Piece>, read: Piece) -> Result<(), String> {
    tx.blocking_send(read).map_err(|_| "the import stopped".to_owned())
}

/// NDJSON lines (blank ones skipped) or the elements of a JSON array; `.zst` and `.gz` are decompressed.
fn read_events(file: &NamedFile, tx: &mpsc::Sender<Piece>) -> Result<(), String> {
    let failed = |error: std::io::Error| format!("{}: {error}", file.name);
    let raw = file.open().map_err(failed)?;
    let reader: Box<dyn Read> = if file.name.ends_with(".zst") {
        Box::new(zstd::Decoder::new(raw).map_err(failed)?)
    } else if file.name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else {
        raw
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let first = loop {
        let buffer = reader.fill_buf().map_err(failed)?;
        match buffer.iter().position(|byte| !byte.is_ascii_whitespace()) {
            Some(at) => break Some(buffer[at]),
            None if buffer.is_empty() => break None,
            None => {
                let length = buffer.len();
                reader.consume(length);
            }
        }
    };
    if first == Some(b'[') {
        let mut text = Vec::new();
        reader.read_to_end(&mut text).map_err(failed)?;
        let items: Vec<&serde_json::value::RawValue> = serde_json::from_slice(&text)
            .map_err(|error| format!("{}: starts with '[' but is not a JSON array: {error}", file.name))?;
        send(tx, Piece::Body(Body::Array))?;
        for (index, item) in items.into_iter().enumerate() {
            let place = format!("{} element {}", file.name, index + 1);
            send(tx, Piece::Item(Item { raw: item.get().as_bytes().to_vec(), id: None, place }))?;
        }
        return Ok(());
    }
    send(tx, Piece::Body(Body::Ndjson))?;
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(failed)? == 0 {
            return Ok(());
        }
        number += 1;
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        let place = format!("{} line {number}", file.name);
        send(tx, Piece::Item(Item { raw: trimmed.to_vec(), id: None, place }))?;
    }
}

/// The records of a segment, each with its envelope id when its bytes carry none. Records read before
/// damage are sent; the damage is a failure naming the file and offset.
fn read_segment(file: &NamedFile, tx: &mpsc::Sender<Piece>) -> Result<(), String> {
    send(tx, Piece::Body(Body::Array))?;
    let mut stopped = false;
    let read = acta_store::log::visit_segment_file(&file.path, &mut |record| {
        if stopped {
            return;
        }
        let id = (!has_own_id(&record.event)).then_some(record.event_id);
        let place = format!("{} seq {}", file.name, record.seq);
        stopped = tx.blocking_send(Piece::Item(Item { raw: record.event, id, place })).is_err();
    });
    read.map_err(|error| format!("{}: {error}", file.name))
}

/// Whether event bytes hold an `id` the server takes as the event's own (a non-empty string).
fn has_own_id(raw: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<Value>,
    }
    serde_json::from_slice::<Id>(raw)
        .ok()
        .and_then(|event| event.id)
        .is_some_and(|id| id.as_str().is_some_and(|id| !id.is_empty()))
}

/// An archived day: its manifest and the SHA-256 of every file are checked first; a day that does not
/// match is not sent at all.
fn read_day(day: &ArchiveDay, tx: &mpsc::Sender<Piece>) -> Result<(), String> {
    let manifest = day.manifest()?.ok_or_else(|| format!("{}: no MANIFEST.json: not imported", day.dir))?;
    let problems = day.check_files(&manifest);
    if !problems.is_empty() {
        return Err(format!("{}: not imported: {}", day.dir, problems.join("; ")));
    }
    let segment = day
        .files
        .get(&day.segment_name())
        .ok_or_else(|| format!("{}: no {}: not imported", day.dir, day.segment_name()))?;
    read_segment(segment, tx)
}
