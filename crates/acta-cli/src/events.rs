//! `acta events ...`: send, search, count, tail, export.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::client::{Client, Connection, api_error_text, with_caret};
use crate::output;

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
        /// Answer only once the stored events are searchable (`POST /v1/events?wait=searchable`), so a search
        /// run next finds them; stored events normally become searchable within about a second.
        #[arg(long)]
        wait: bool,
        /// With --wait: the most seconds to wait per request (1-60).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
        wait_timeout: u64,
    },
    /// Search events, newest first.
    Search {
        #[command(flatten)]
        filter: Filter,
        /// How many events at most; a line says when more match.
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
        /// How many values of `--by` to show; the rest count as other. The server's default is 5.
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
    /// Run a query with pipes (`kms | stats count by action`, `| top 10 initiator.name`,
    /// `| timechart span=1h count by outcome`) and print its table; a query without stages prints events.
    Query {
        #[command(flatten)]
        filter: Filter,
        /// Print the server's JSON answer.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV.
        #[arg(long)]
        csv: bool,
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
    /// From (RFC 3339, or now-24h, 24h, 7d, live); the whole retention when absent.
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

pub(crate) async fn run(command: EventsCommand, connection: &Connection) -> anyhow::Result<ExitCode> {
    let client = connection.client()?;
    match command {
        EventsCommand::Send { file, batch, json, wait, wait_timeout } => {
            let wait = wait.then_some(wait_timeout);
            send(&client, &file, batch.max(1), json, wait).await
        }
        EventsCommand::Search { filter, limit, json } => {
            search(&client, &filter, limit, json).await.map_err(|error| with_caret(error, &filter.query))
        }
        EventsCommand::Count { filter, json } => {
            let request = client.get("/v1/events/count").query(&filter.params());
            let answer = client.json(request).await.map_err(|error| with_caret(error, &filter.query))?;
            if json {
                println!("{answer}");
            } else {
                println!("{}", answer["count"]);
            }
            if answer["count"] == 0 {
                explain_no_match(&client, &filter).await;
            }
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Tail { query, instance, json } => {
            tail(&client, &query, instance, json).await.map_err(|error| with_caret(error, &query))
        }
        EventsCommand::Export { filter, format, output } => {
            export(&client, &filter, &format, output).await.map_err(|error| with_caret(error, &filter.query))
        }
        EventsCommand::Query { filter, json, csv } => {
            let request = client.get("/v1/events/query").query(&filter.params());
            let answer = client.json(request).await.map_err(|error| with_caret(error, &filter.query))?;
            match (answer.get("events").and_then(Value::as_array), json, csv) {
                (_, true, _) => println!("{answer}"),
                (Some(events), false, false) => print_table(events),
                (Some(events), false, true) => {
                    let answer = crate::pipes::events_table(events);
                    print!("{}", crate::pipes::csv(&answer));
                }
                (None, false, true) => print!("{}", crate::pipes::csv(&answer)),
                (None, false, false) => print!("{}", crate::pipes::render(&answer)),
            }
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Histogram { filter, interval, by, top, tz, width, json } => {
            let mut params = filter.params();
            let optional = [("interval", interval), ("by", by), ("top", top.map(|top| top.to_string())), ("tz", tz)];
            params.extend(optional.into_iter().filter_map(|(name, value)| Some((name, value?))));
            let request = client.get("/v1/events/histogram").query(&params);
            let answer = client.json(request).await.map_err(|error| with_caret(error, &filter.query))?;
            if json {
                println!("{answer}");
            } else {
                print!("{}", crate::histogram::render(&answer, width.max(1)));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How many values of each field the zero-result hint shows.
const HINT_VALUES: usize = 5;

/// The fields a query's conditions name, in order, each once.
fn fields_of(query: &acta_query::Query) -> Vec<String> {
    query.fields().into_iter().map(ToString::to_string).collect()
}

/// When a query with field conditions matches nothing, says on standard error which values each of its fields
/// has in the same range (`initiator.host.agent has: Acta CLI (20), Acta web console (2)`): a query written
/// for another system's values (IBM's agents, say) then shows what to write instead. Best effort: a failing
/// look-up only leaves its line out.
async fn explain_no_match(client: &Client, filter: &Filter) {
    let Ok(query) = acta_query::parse(&filter.query) else {
        return;
    };
    let fields = fields_of(&query);
    if fields.is_empty() {
        return;
    }
    eprintln!("no events match; in the same range:");
    for field in fields {
        let mut params: Vec<(&str, String)> = filter.params().into_iter().filter(|(name, _)| *name != "q").collect();
        params.push(("field", field.clone()));
        params.push(("top", HINT_VALUES.to_string()));
        let Ok(answer) = client.json(client.get("/v1/events/terms").query(&params)).await else {
            continue;
        };
        eprintln!("  {}", hint_line(&field, &answer));
    }
}

/// `initiator.host.agent has: Acta CLI (20), Acta web console (2)`, from a `/v1/events/terms` answer.
fn hint_line(field: &str, terms: &Value) -> String {
    let values: Vec<String> = terms["values"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|value| {
            let text = match &value["value"] {
                Value::String(text) => text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect(),
                other => other.to_string(),
            };
            format!("{text} ({})", output::thousands(value["count"].as_u64().unwrap_or(0)))
        })
        .collect();
    if values.is_empty() {
        return format!("{field} is in no event");
    }
    let more = match terms["distinct"].as_u64() {
        Some(distinct) if distinct > values.len() as u64 => format!(" and {} more", distinct - values.len() as u64),
        _ => String::new(),
    };
    format!("{field} has: {}{more}", values.join(", "))
}

/// Splits input into events: NDJSON lines, or the elements of a JSON array, or one object. The second part
/// says whether the events are JSON texts that may span lines (array elements, an object), which are then sent
/// as a JSON array: as NDJSON, a pretty-printed event would be read line by line.
fn read_events(file: &PathBuf) -> anyhow::Result<(Vec<String>, bool)> {
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
        return Ok((items.into_iter().map(|item| item.get().to_string()).collect(), true));
    }
    if trimmed.starts_with('{') && serde_json::from_str::<Value>(trimmed).is_ok() {
        return Ok((vec![trimmed.trim_end().to_string()], true));
    }
    let lines =
        std::io::Cursor::new(text).lines().map_while(Result::ok).filter(|line| !line.trim().is_empty()).collect();
    Ok((lines, false))
}

async fn send(
    client: &Client,
    file: &PathBuf,
    batch: usize,
    json: bool,
    wait_seconds: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let (events, multi_line) = read_events(file)?;
    let progress = ProgressBar::new(events.len() as u64);
    progress.set_style(output::progress_style("{bar:40} {pos}/{len} events {rate} {eta}"));
    let (mut stored, mut duplicates, mut rejected) = (0u64, 0u64, 0u64);
    let mut not_searchable = false;
    let params: Vec<(&str, String)> = match wait_seconds {
        Some(seconds) => vec![("wait", "searchable".to_string()), ("wait_timeout", seconds.to_string())],
        None => Vec::new(),
    };
    for (chunk_index, chunk) in events.chunks(batch).enumerate() {
        let (body, content_type) = if multi_line {
            (format!("[{}]", chunk.join(",")), "application/json")
        } else {
            (chunk.join("\n") + "\n", "application/x-ndjson")
        };
        let request = client.post("/v1/events").query(&params).header("content-type", content_type).body(body);
        let response = request.send().await.context("sending events")?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if answer.get("results").is_none() {
            progress.abandon();
            return Err(anyhow!("{}", api_error_text(status, &answer)));
        }
        not_searchable |= answer["searchable"] == false;
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
    match wait_seconds {
        Some(_) if not_searchable => {
            println!("{stored} stored, {duplicates} duplicates, {rejected} rejected");
            eprintln!("stored, but not all searchable yet within --wait-timeout: a search now may miss some of them");
        }
        Some(_) if stored > 0 => {
            println!("{stored} stored, {duplicates} duplicates, {rejected} rejected; searchable now");
        }
        _ => println!("{stored} stored, {duplicates} duplicates, {rejected} rejected"),
    }
    Ok(if rejected > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The most events one request asks for (the server's page limit).
const PAGE: usize = 1000;

async fn search(client: &Client, filter: &Filter, limit: usize, json: bool) -> anyhow::Result<ExitCode> {
    let limit = limit.max(1);
    let mut events: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let more = loop {
        let mut params = filter.params();
        params.push(("limit", (limit - events.len()).min(PAGE).to_string()));
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor.clone()));
        }
        let answer = client.json(client.get("/v1/events").query(&params)).await?;
        events.extend(answer["events"].as_array().cloned().unwrap_or_default());
        cursor = answer["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() || events.len() >= limit {
            break cursor.is_some();
        }
    };
    if json {
        for event in &events {
            println!("{event}");
        }
    } else {
        print_table(&events);
    }
    // The server says where a page ended, not how many there are (a full last page has a cursor too): the
    // count tells.
    let total = if more {
        let answer = client.json(client.get("/v1/events/count").query(&filter.params())).await?;
        answer["count"].as_u64().unwrap_or(0)
    } else {
        0
    };
    if total > events.len() as u64 {
        let line =
            format!("showing {} of {} (use --limit)", output::thousands(events.len() as u64), output::thousands(total));
        if json { eprintln!("{line}") } else { println!("{line}") }
    } else if events.is_empty() {
        explain_no_match(client, filter).await;
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
    let time = format!("TIME ({})", output::zone_label());
    let headers = [time.as_str(), "ACTION", "OUTCOME", "INITIATOR", "TARGET", "MESSAGE"];
    let mut widths = headers.map(|header| header.chars().count());
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
        clean(output::time(&text_at(event, "eventTime"))),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_hint_names_the_top_values_and_how_many_more_there_are() {
        let terms = json!({"values": [{"value": "Acta CLI/0.1.0", "count": 1200}, {"value": 404, "count": 2}],
                           "distinct": 5});
        assert_eq!(hint_line("f", &terms), "f has: Acta CLI/0.1.0 (1,200), 404 (2) and 3 more");
        assert_eq!(hint_line("reason", &json!({"values": [], "distinct": 0})), "reason is in no event");
    }

    #[test]
    fn the_fields_of_a_query_are_found_under_and_or_and_not() {
        let query = acta_query::parse("a:1 (b:2 OR -c:3) words a:4").ok();
        assert_eq!(query.as_ref().map(fields_of), Some(vec!["a".to_string(), "b".to_string(), "c".to_string()]));
    }
}
