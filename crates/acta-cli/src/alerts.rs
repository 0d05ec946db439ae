//! `acta views` and `acta alerts`: thin clients of `/v1/views` and `/v1/alerts`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::admin::print;
use crate::client::Client;
use crate::resolve::Kind;

#[derive(Subcommand)]
pub(crate) enum ViewsCommand {
    /// Save a search as a view.
    Create {
        /// Its name.
        name: String,
        /// The query (search language).
        #[arg(long, short)]
        query: String,
        /// A category to group it in.
        #[arg(long)]
        category: Option<String>,
        /// Time range start (24h, now-7d, RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Time range end.
        #[arg(long)]
        to: Option<String>,
    },
    /// List views (of one category).
    List {
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
    },
    /// List the categories of views.
    Categories,
    /// Show a view.
    Show {
        /// View name or id.
        id: String,
    },
    /// Change a view (an empty --category, --from or --to clears it).
    Update {
        /// View name or id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New query.
        #[arg(long, short)]
        query: Option<String>,
        /// New category.
        #[arg(long)]
        category: Option<String>,
        /// New range start.
        #[arg(long)]
        from: Option<String>,
        /// New range end.
        #[arg(long)]
        to: Option<String>,
    },
    /// Delete a view (its alerts first).
    Delete {
        /// View name or id.
        id: String,
    },
}

/// The condition and channels of an alert, shared by create and update.
#[derive(clap::Args, Default)]
pub(crate) struct AlertFields {
    /// Name (default: the view's).
    #[arg(long)]
    name: Option<String>,
    /// presence (at least N events in the window) or absence (fewer than N). Create: presence when absent.
    #[arg(long, value_parser = ["presence", "absence"])]
    kind: Option<String>,
    /// N, the number of matching events (required by create).
    #[arg(long)]
    threshold: Option<i64>,
    /// Window: 30s, 1m, 5m, 15m, 30m, 1h, 6h, 12h, 24h (required by create).
    #[arg(long)]
    window: Option<String>,
    /// Presence: fire as soon as the Nth event arrives. Create: true for presence, false for absence.
    #[arg(long)]
    immediate: Option<bool>,
    /// Presence: check at the end of each window. Create: false for presence (absence is always checked then).
    #[arg(long)]
    at_end: Option<bool>,
    /// Email recipient (repeatable).
    #[arg(long)]
    email: Vec<String>,
    /// Webhook URL (JSON POST; see --webhook-secret).
    #[arg(long)]
    webhook: Option<String>,
    /// Secret that signs webhook bodies (X-Acta-Signature: sha256=<HMAC>).
    #[arg(long)]
    webhook_secret: Option<String>,
    /// Slack-compatible incoming webhook URL.
    #[arg(long)]
    slack: Option<String>,
    /// PagerDuty Events v2 routing key.
    #[arg(long)]
    pagerduty_key: Option<String>,
    /// Channels as a JSON array, for everything the flags do not cover (headers, body templates...).
    #[arg(long)]
    channels_json: Option<String>,
    /// IANA time zone for times in notifications (Europe/Paris).
    #[arg(long)]
    timezone: Option<String>,
    /// Mute until this RFC 3339 time ("" unmutes).
    #[arg(long)]
    muted_until: Option<String>,
}

impl AlertFields {
    fn channels(&self) -> anyhow::Result<Option<Vec<Value>>> {
        let mut channels: Vec<Value> = match &self.channels_json {
            Some(text) => serde_json::from_str(text).context("--channels-json must be a JSON array")?,
            None => Vec::new(),
        };
        if !self.email.is_empty() {
            channels.push(json!({"type": "email", "to": self.email}));
        }
        if let Some(url) = &self.webhook {
            channels.push(json!({"type": "webhook", "url": url, "secret": self.webhook_secret}));
        }
        if let Some(url) = &self.slack {
            channels.push(json!({"type": "slack", "url": url}));
        }
        if let Some(key) = &self.pagerduty_key {
            channels.push(json!({"type": "pagerduty", "routing_key": key}));
        }
        Ok((!channels.is_empty()).then_some(channels))
    }

    /// The JSON body with only the members given.
    fn body(&self) -> anyhow::Result<serde_json::Map<String, Value>> {
        let mut body = serde_json::Map::new();
        let mut put = |key: &str, value: Value| {
            if !value.is_null() {
                body.insert(key.to_string(), value);
            }
        };
        put("name", json!(self.name));
        put("kind", json!(self.kind));
        put("threshold", json!(self.threshold));
        put("window", json!(self.window));
        put("immediate", json!(self.immediate));
        put("at_end", json!(self.at_end));
        put("timezone", json!(self.timezone));
        put("muted_until", json!(self.muted_until));
        put("channels", json!(self.channels()?));
        Ok(body)
    }
}

#[derive(Subcommand)]
pub(crate) enum AlertsCommand {
    /// Attach an alert to a view.
    Create {
        /// The view (name or id).
        #[arg(long)]
        view: String,
        #[command(flatten)]
        fields: AlertFields,
    },
    /// List alerts.
    List,
    /// Show an alert.
    Show {
        /// Alert name or id.
        id: String,
    },
    /// Change an alert.
    Update {
        /// Alert name or id.
        id: String,
        /// Move it to another view (name or id).
        #[arg(long)]
        view: Option<String>,
        #[command(flatten)]
        fields: AlertFields,
    },
    /// Delete an alert (its pending notifications are cancelled; its history stays).
    Delete {
        /// Alert name or id.
        id: String,
    },
    /// Send a test notification on every channel.
    Test {
        /// Alert name or id.
        id: String,
    },
    /// Firings and delivery attempts, newest first.
    History {
        /// Alert name or id.
        id: String,
        /// How many firings.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

const VIEW_COLUMNS: [&str; 6] = ["id", "name", "category", "query", "from", "to"];
const ALERT_COLUMNS: [&str; 9] =
    ["id", "name", "view", "kind", "threshold", "window", "immediate", "at_end", "muted_until"];

pub(crate) async fn views(client: &Client, command: ViewsCommand, json_output: bool) -> anyhow::Result<ExitCode> {
    match command {
        ViewsCommand::Create { name, query, category, from, to } => {
            let body = json!({"name": name, "query": query, "category": category, "from": from, "to": to});
            let answer = client.json(client.post("/v1/views").json(&body)).await?;
            print(&answer, json_output, &VIEW_COLUMNS);
        }
        ViewsCommand::List { category } => {
            let mut request = client.get("/v1/views");
            if let Some(category) = category {
                request = request.query(&[("category", category)]);
            }
            let answer = client.json(request).await?;
            print(&answer["views"], json_output, &VIEW_COLUMNS);
        }
        ViewsCommand::Categories => {
            let answer = client.json(client.get("/v1/views/categories")).await?;
            print(&answer["categories"], json_output, &["name", "views"]);
        }
        ViewsCommand::Show { id } => {
            let id = client.resolve(Kind::View, &id).await?;
            let answer = client.json(client.get(&format!("/v1/views/{id}"))).await?;
            print(&answer, json_output, &VIEW_COLUMNS);
        }
        ViewsCommand::Update { id, name, query, category, from, to } => {
            let id = client.resolve(Kind::View, &id).await?;
            let mut body = serde_json::Map::new();
            for (key, value) in [("name", name), ("query", query), ("category", category), ("from", from), ("to", to)] {
                if let Some(value) = value {
                    body.insert(key.to_string(), json!(value));
                }
            }
            let answer = client.json(client.patch(&format!("/v1/views/{id}")).json(&body)).await?;
            print(&answer, json_output, &VIEW_COLUMNS);
        }
        ViewsCommand::Delete { id } => {
            let id = client.resolve(Kind::View, &id).await?;
            client.send(client.delete(&format!("/v1/views/{id}"))).await?;
            println!("view {id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn alerts(client: &Client, command: AlertsCommand, json_output: bool) -> anyhow::Result<ExitCode> {
    match command {
        AlertsCommand::Create { view, fields } => {
            // No default condition: "1 event in 1 minute" silently chosen for someone who forgot the flags
            // would page them for every matching event.
            let missing: Vec<&str> =
                [("--threshold", fields.threshold.is_none()), ("--window", fields.window.is_none())]
                    .into_iter()
                    .filter_map(|(flag, absent)| absent.then_some(flag))
                    .collect();
            if !missing.is_empty() {
                anyhow::bail!(
                    "an alert needs its condition: give {} (e.g. --threshold 2 --window 1h: at least 2 matching events \
                     within an hour)",
                    missing.join(" and ")
                );
            }
            let mut body = fields.body()?;
            body.insert("view".to_string(), json!(client.resolve(Kind::View, &view).await?));
            body.entry("kind").or_insert(json!("presence"));
            let answer = client.json(client.post("/v1/alerts").json(&body)).await?;
            print(&answer, json_output, &ALERT_COLUMNS);
            if !json_output {
                println!("fires {}", condition(&answer));
            }
        }
        AlertsCommand::List => {
            let answer = client.json(client.get("/v1/alerts")).await?;
            print(&answer["alerts"], json_output, &ALERT_COLUMNS);
        }
        AlertsCommand::Show { id } => {
            let id = client.resolve(Kind::Alert, &id).await?;
            let answer = client.json(client.get(&format!("/v1/alerts/{id}"))).await?;
            if json_output {
                println!("{answer}");
            } else {
                print(&answer, false, &ALERT_COLUMNS);
                println!("channels: {}", answer["channels"]);
                println!("timezone: {}", answer["timezone"].as_str().unwrap_or("UTC"));
            }
        }
        AlertsCommand::Update { id, view, fields } => {
            let id = client.resolve(Kind::Alert, &id).await?;
            let mut body = fields.body()?;
            if let Some(view) = view {
                body.insert("view".to_string(), json!(client.resolve(Kind::View, &view).await?));
            }
            let answer = client.json(client.patch(&format!("/v1/alerts/{id}")).json(&body)).await?;
            print(&answer, json_output, &ALERT_COLUMNS);
        }
        AlertsCommand::Delete { id } => {
            let id = client.resolve(Kind::Alert, &id).await?;
            client.send(client.delete(&format!("/v1/alerts/{id}"))).await?;
            println!("alert {id} deleted");
        }
        AlertsCommand::Test { id } => {
            let id = client.resolve(Kind::Alert, &id).await?;
            let answer = client.json(client.post(&format!("/v1/alerts/{id}/test"))).await?;
            if json_output {
                println!("{answer}");
            } else {
                println!("test notification queued (firing {}); see `acta alerts history {id}`", answer["firing"]);
            }
        }
        AlertsCommand::History { id, limit } => {
            let id = client.resolve(Kind::Alert, &id).await?;
            let request = client.get(&format!("/v1/alerts/{id}/history")).query(&[("limit", limit)]);
            let answer = client.json(request).await?;
            if json_output {
                println!("{answer}");
                return Ok(ExitCode::SUCCESS);
            }
            for firing in answer["firings"].as_array().map_or(&[][..], Vec::as_slice) {
                let muted = if firing["muted"] == true { " (muted)" } else { "" };
                println!(
                    "{}  {}{muted}: {}",
                    crate::output::time(&text(&firing["fired_at"])),
                    text(&firing["reason"]),
                    text(&firing["summary"])
                );
                for delivery in firing["deliveries"].as_array().map_or(&[][..], Vec::as_slice) {
                    println!(
                        "  {} {}: {}",
                        text(&delivery["channel"]["type"]),
                        text(&delivery["id"]),
                        text(&delivery["state"])
                    );
                    for attempt in delivery["history"].as_array().map_or(&[][..], Vec::as_slice) {
                        let ok = if attempt["ok"] == true { "ok" } else { "failed" };
                        println!(
                            "    #{} {} {ok}: {}",
                            attempt["attempt"],
                            crate::output::time(&text(&attempt["at"])),
                            text(&attempt["detail"])
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `when at least 2 matching events arrive within 1h (as soon as the 2nd arrives)`.
fn condition(alert: &Value) -> String {
    let threshold = alert["threshold"].as_i64().unwrap_or(0);
    let window = text(&alert["window"]);
    if alert["kind"] == "absence" {
        return format!("when fewer than {threshold} matching events arrived in a {window} window (at its end)");
    }
    let when = match (alert["immediate"] == true, alert["at_end"] == true) {
        (true, true) => "as soon as it is reached, and at the end of the window",
        (true, false) => "as soon as it is reached",
        _ => "at the end of the window",
    };
    format!("when at least {threshold} matching events arrive within {window} ({when})")
}

/// A JSON text without quotes, control characters shown as spaces (event fields are attacker-controlled).
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
