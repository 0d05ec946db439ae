//! `acta investigate principal|resource`: a principal's timeline (what an initiator did, grouped by action,
//! failures first) and a resource's history (what was done to a target, oldest first).

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use crate::client::Client;
use crate::output;

#[derive(Subcommand)]
pub(crate) enum InvestigateCommand {
    /// What a principal did: its actions grouped by service, failures first, first and last seen, the
    /// addresses and agents it came from. The principal is matched on initiator.id or initiator.name exactly.
    Principal {
        #[command(flatten)]
        subject: Subject,
    },
    /// What was done to a resource, oldest first: who, what, and how it went. The resource is matched on
    /// target.id or target.name exactly.
    Resource {
        #[command(flatten)]
        subject: Subject,
        /// How many events at most; a line says when more match.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// Who or what, and when.
#[derive(clap::Args)]
pub(crate) struct Subject {
    /// The id or the name, exactly as in the events (case-sensitive).
    id: String,
    /// From (RFC 3339, or 24h, 7d); the whole retention when absent.
    #[arg(long)]
    from: Option<String>,
    /// To (RFC 3339 or relative); now when absent.
    #[arg(long)]
    to: Option<String>,
    /// Only this instance.
    #[arg(long)]
    instance: Option<String>,
}

impl Subject {
    fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![("id", self.id.clone())];
        for (name, value) in [("from", &self.from), ("to", &self.to), ("instance", &self.instance)] {
            if let Some(value) = value {
                params.push((name, value.clone()));
            }
        }
        params
    }
}

/// The most events one request asks for (the server's page limit).
const PAGE: usize = 1000;

pub(crate) async fn investigate(client: &Client, command: InvestigateCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        InvestigateCommand::Principal { subject } => {
            let answer = client.json(client.get("/v1/investigate/principal").query(&subject.params())).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print!("{}", principal_text(&answer));
            }
        }
        InvestigateCommand::Resource { subject, limit } => {
            let limit = limit.max(1);
            let mut events: Vec<Value> = Vec::new();
            let mut cursor: Option<String> = None;
            let mut answer;
            loop {
                let mut params = subject.params();
                params.push(("limit", (limit - events.len()).min(PAGE).to_string()));
                if let Some(cursor) = &cursor {
                    params.push(("cursor", cursor.clone()));
                }
                answer = client.json(client.get("/v1/investigate/resource").query(&params)).await?;
                events.extend(answer["events"].as_array().cloned().unwrap_or_default());
                cursor = answer["next_cursor"].as_str().map(str::to_string);
                if cursor.is_none() || events.len() >= limit {
                    break;
                }
            }
            answer["events"] = Value::Array(events);
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print!("{}", resource_text(&answer));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn count(value: &Value) -> String {
    output::thousands(value.as_u64().unwrap_or(0))
}

fn time(value: &Value) -> String {
    value.as_str().map(output::time).unwrap_or_else(|| "-".to_string())
}

/// Rows under headers, every column aligned left.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let headers: Vec<String> = headers.iter().map(ToString::to_string).collect();
    output::table(&headers, rows, &[])
}

/// `value (count), ...` of an answer's list, or `-`.
fn values(list: &Value) -> String {
    let items: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| format!("{} ({})", text(&item["value"]), count(&item["count"])))
        .collect();
    if items.is_empty() { "-".to_string() } else { items.join(", ") }
}

pub(crate) fn principal_text(answer: &Value) -> String {
    let mut out = format!(
        "{}: {} events, {} failed; first seen {}, last seen {} ({})\nsearch: {}\n",
        text(&answer["principal"]),
        count(&answer["total"]),
        count(&answer["failures"]),
        time(&answer["first_seen"]),
        time(&answer["last_seen"]),
        output::zone_label(),
        text(&answer["query"]),
    );
    let rows: Vec<Vec<String>> = answer["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            vec![
                text(&row["service"]),
                text(&row["action"]),
                count(&row["count"]),
                count(&row["failures"]),
                time(&row["first_seen"]),
                time(&row["last_seen"]),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("no events\n");
        return out;
    }
    out.push('\n');
    out.push_str(&table(&["SERVICE", "ACTION", "EVENTS", "FAILED", "FIRST SEEN", "LAST SEEN"], &rows));
    if answer["other_actions"].as_u64().unwrap_or(0) > 0 {
        out.push_str(&format!("and {} events of other actions\n", count(&answer["other_actions"])));
    }
    out.push_str(&format!("\naddresses: {}\n", values(&answer["addresses"])));
    out.push_str(&format!("agents: {}\n", values(&answer["agents"])));
    out.push_str(&format!("targets: {}\n", values(&answer["targets"])));
    out
}

pub(crate) fn resource_text(answer: &Value) -> String {
    let events = answer["events"].as_array().cloned().unwrap_or_default();
    let mut out = format!(
        "{}: {} events\nsearch: {}\n\n",
        text(&answer["resource"]),
        count(&answer["total"]),
        text(&answer["query"]),
    );
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|row| {
            let initiator = Some(text(&row["initiator"]["name"]))
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| text(&row["initiator"]["id"]));
            vec![
                output::time(row["eventTime"].as_str().unwrap_or_default()),
                initiator,
                text(&row["action"]),
                text(&row["outcome"]),
                text(&row["reasonCode"]),
            ]
        })
        .collect();
    let time_header = format!("TIME ({})", output::zone_label());
    out.push_str(&table(&[&time_header, "INITIATOR", "ACTION", "OUTCOME", "REASON"], &rows));
    let total = answer["total"].as_u64().unwrap_or(0);
    if total > events.len() as u64 {
        out.push_str(&format!(
            "showing the first {} of {} (use --limit)\n",
            output::thousands(events.len() as u64),
            output::thousands(total)
        ));
    }
    out
}
