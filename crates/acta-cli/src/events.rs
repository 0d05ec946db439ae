//! `acta events ...`: send, search, count, tail, export.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::client::{Client, Connection, api_error_text};

#[derive(Subcommand)]
pub(crate) enum EventsCommand {
    /// Send CADF events from a file (NDJSON, or a JSON object or array) or `-` for standard input. Rejections
    /// name the event by its position among the events of the input (blank lines do not count).
    Send {
        /// The file, or `-`.
        file: PathBuf,
        /// Events per request.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Print the per-event results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search events, newest first.
    Search {
        #[command(flatten)]
        filter: Filter,
        /// How many events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON (one event per line) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Count matching events.
    Count {
        #[command(flatten)]
        filter: Filter,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print matching events as they arrive.
    Tail {
        /// The query.
        #[arg(default_value = "")]
        query: String,
        /// Only this instance.
        #[arg(long)]
        instance: Option<String>,
        /// Print JSON instead of a table row.
        #[arg(long)]
        json: bool,
    },
    /// Draw how many events match over time, as bars in the terminal; `--by` splits each bar by a field's top
    /// values.
    Histogram {
        #[command(flatten)]
        filter: Filter,
        /// Bucket width (30s, 5m, 1h, 1d, 7d); chosen for 30-120 buckets when absent.
        #[arg(long)]
        interval: Option<String>,
        /// Split each bucket by this field's top values (action, outcome, initiator.name, _platform, ...).
        #[arg(long)]
        by: Option<String>,
        /// How many values of `--by` to show; the rest count as other.
        #[arg(long)]
        top: Option<usize>,
        /// IANA time zone whose days and hours the buckets follow (UTC when absent).
        #[arg(long)]
        tz: Option<String>,
        /// Width of the longest bar, in columns.
        #[arg(long, default_value_t = 50)]
        width: usize,
        /// Print the server's JSON answer instead of bars.
        #[arg(long)]
        json: bool,
    },
    /// Export every matching event as NDJSON or CSV, or (`--format bundle`, no query or time range) the log
    /// segments with their signed checkpoints as a tar that `acta verify` checks offline.
    Export {
        #[command(flatten)]
        filter: Filter,
        /// `ndjson`, `csv` or `bundle`.
        #[arg(long, default_value = "ndjson")]
        format: String,
        /// Output file (standard output when absent).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// A query and its time range.
#[derive(clap::Args)]
pub(crate) struct Filter {
    /// The query (see the search language); empty for everything.
    #[arg(default_value = "")]
    query: String,
    /// From (RFC 3339, or now-24h, 24h, 7d, live).
    #[arg(long)]
    from: Option<String>,
    /// To (RFC 3339 or relative); now when absent.
    #[arg(long)]
    to: Option<String>,
    /// Only this instance.
    #[arg(long)]
    instance: Option<String>,
}

impl Filter {
    fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![("q", self.query.clone())];
        if let Some(from) = &self.from {
            params.push(("from", from.clone()));
        }
        if let Some(to) = &self.to {
            params.push(("to", to.clone()));
        }
        if let Some(instance) = &self.instance {
            params.push(("instance", instance.clone()));
        }
        params
    }
}

pub(crate) async fn run(command: EventsCommand, connection: Connection) -> anyhow::Result<ExitCode> {
    let client = connection.client()?;
    match command {
        EventsCommand::Send { file, batch, json } => send(&client, &file, batch.max(1), json).await,
        EventsCommand::Search { filter, limit, json } => search(&client, &filter, limit, json).await,
        EventsCommand::Count { filter, json } => {
            let answer = client.json(client.get("/v1/events/count").query(&filter.params())).await?;
            if json {
                println!("{answer}");
            } else {
                println!("{}", answer["count"]);
            }
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Tail { query, instance, json } => tail(&client, &query, instance, json).await,
        EventsCommand::Export { filter, format, output } => export(&client, &filter, &format, output).await,
        EventsCommand::Histogram { filter, interval, by, top, tz, width, json } => {
            let mut params = filter.params();
            let optional = [("interval", interval), ("by", by), ("top", top.map(|top| top.to_string())), ("tz", tz)];
            params.extend(optional.into_iter().filter_map(|(name, value)| Some((name, value?))));
            let answer = client.json(client.get("/v1/events/histogram").query(&params)).await?;
            if json {
                println!("{answer}");
            } else {
                print!("{}", crate::histogram::render(&answer, width.max(1)));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Splits input into events: NDJSON lines, or the elements of a JSON array, or one object.
fn read_events(file: &PathBuf) -> anyhow::Result<Vec<String>> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
    } else {
        std::fs::File::open(file)
            .with_context(|| format!("opening {}", file.display()))?
            .read_to_string(&mut text)
            .with_context(|| format!("reading {}", file.display()))?;
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(trimmed).context("the file starts with '[' but is not a JSON array")?;
        return Ok(items.into_iter().map(|item| item.get().to_string()).collect());
    }
    if trimmed.starts_with('{') && serde_json::from_str::<Value>(trimmed).is_ok() {
        return Ok(vec![trimmed.trim_end().to_string()]);
    }
    Ok(std::io::Cursor::new(text).lines().map_while(Result::ok).filter(|line| !line.trim().is_empty()).collect())
}

async fn send(client: &Client, file: &PathBuf, batch: usize, json: bool) -> anyhow::Result<ExitCode> {
    let events = read_events(file)?;
    let progress = ProgressBar::new(events.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut stored, mut duplicates, mut rejected) = (0u64, 0u64, 0u64);
    for (chunk_index, chunk) in events.chunks(batch).enumerate() {
        let mut body = chunk.join("\n");
        body.push('\n');
        let request = client.post("/v1/events").header("content-type", "application/x-ndjson").body(body);
        let response = request.send().await.context("sending events")?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if answer.get("results").is_none() {
            progress.abandon();
            return Err(anyhow!("{}", api_error_text(status, &answer)));
        }
        for result in answer["results"].as_array().into_iter().flatten() {
            match result["status"].as_str() {
                Some("stored") => stored += 1,
                Some("duplicate") => duplicates += 1,
                _ => {
                    rejected += 1;
                    let line = chunk_index * batch + result["index"].as_u64().unwrap_or(0) as usize + 1;
                    if json {
                        progress.suspend(|| println!("{result}"));
                    } else {
                        for error in result["errors"].as_array().into_iter().flatten() {
                            let pointer = error["pointer"].as_str().unwrap_or("");
                            let message = error["message"].as_str().unwrap_or("");
                            let place = if pointer.is_empty() { String::new() } else { format!("{pointer}: ") };
                            progress.suspend(|| eprintln!("event {line} rejected: {place}{message}"));
                        }
                    }
                }
            }
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    println!("{stored} stored, {duplicates} duplicates, {rejected} rejected");
    Ok(if rejected > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

async fn search(client: &Client, filter: &Filter, limit: usize, json: bool) -> anyhow::Result<ExitCode> {
    let mut params = filter.params();
    params.push(("limit", limit.min(1000).to_string()));
    let answer = client.json(client.get("/v1/events").query(&params)).await?;
    let events = answer["events"].as_array().cloned().unwrap_or_default();
    if json {
        for event in &events {
            println!("{event}");
        }
    } else {
        print_table(&events);
    }
    Ok(ExitCode::SUCCESS)
}

fn text_at<'a>(event: &'a Value, path: &str) -> String {
    let value = path.split('.').try_fold(event, |value: &'a Value, key| value.get(key));
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A row per event: time, action, outcome, initiator, target, message.
fn print_table(events: &[Value]) {
    let rows: Vec<[String; 6]> = events.iter().map(row).collect();
    let headers = ["TIME", "ACTION", "OUTCOME", "INITIATOR", "TARGET", "MESSAGE"];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()).take(5) {
            *width = (*width).max(cell.chars().count()).min(48);
        }
    }
    let print = |cells: [&str; 6]| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i < 5 {
                let shown: String = cell.chars().take(widths[i]).collect();
                line.push_str(&format!("{shown:<width$}  ", width = widths[i]));
            } else {
                line.push_str(cell);
            }
        }
        println!("{}", line.trim_end());
    };
    print(headers);
    for row in &rows {
        print([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
}

fn row(event: &Value) -> [String; 6] {
    let initiator = Some(text_at(event, "initiator.name"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| text_at(event, "initiator.id"));
    let target =
        Some(text_at(event, "target.name")).filter(|s| !s.is_empty()).unwrap_or_else(|| text_at(event, "target.id"));
    // Control characters in attacker-controlled fields must not drive the terminal.
    let clean = |text: String| text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>();
    [
        clean(text_at(event, "eventTime")),
        clean(text_at(event, "action")),
        clean(text_at(event, "outcome")),
        clean(initiator),
        clean(target),
        clean(text_at(event, "message")),
    ]
}

async fn tail(client: &Client, query: &str, instance: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let mut params = vec![("q", query.to_string())];
    if let Some(instance) = instance {
        params.push(("instance", instance));
    }
    let mut response = client.send(client.get("/v1/events/tail").query(&params)).await?;
    let mut buffer = String::new();
    while let Some(chunk) = next_chunk(&mut response).await? {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let message: String = buffer.drain(..end + 2).collect();
            let data: String = message.lines().filter_map(|line| line.strip_prefix("data:")).map(str::trim).collect();
            if data.is_empty() {
                continue;
            }
            let Ok(event) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            if json {
                println!("{event}");
            } else {
                let row = row(&event);
                println!("{}  {}  {}  {}  {}  {}", row[0], row[1], row[2], row[3], row[4], row[5]);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(client: &Client, filter: &Filter, format: &str, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut params = filter.params();
    params.push(("format", format.to_string()));
    let mut response = client.send(client.get("/v1/events/export").query(&params)).await?;
    let mut sink: Box<dyn Write> = match &output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let progress = if output.is_some() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut lines = 0u64;
    while let Some(chunk) = next_chunk(&mut response).await? {
        sink.write_all(&chunk).context("writing the export")?;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        progress.set_message(format!("{lines} lines"));
        progress.inc(chunk.len() as u64);
    }
    sink.flush().context("writing the export")?;
    progress.finish_and_clear();
    if let Some(path) = output {
        if format == "bundle" {
            eprintln!(
                "bundle written to {}; check it with: acta verify {} --key <the server's key>",
                path.display(),
                path.display()
            );
        } else {
            eprintln!("{lines} lines written to {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The next chunk of a streamed answer; an interrupted stream is an error, not a silent end.
async fn next_chunk(response: &mut reqwest::Response) -> anyhow::Result<Option<bytes::Bytes>> {
    response.chunk().await.context("the server interrupted the stream")
}
