//! `acta routes`: a thin client of `/v1/routes`; `routes status` tells how far each route has delivered.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Map, Value, json};

use crate::admin::print;
use crate::client::Client;
use crate::resolve::Kind;

#[derive(Subcommand)]
pub(crate) enum RoutesCommand {
    /// List routes with their state and lag.
    List,
    /// Show a route and its status.
    Show {
        /// Route name or id.
        id: String,
    },
    /// How far routes have delivered: state, lag, failures, the last error (every route without an id).
    Status {
        /// Route name or id.
        id: Option<String>,
    },
    /// Create a route.
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// Only events matching this query (search language); every event without it.
        #[arg(long)]
        query: Option<String>,
        /// Where events go, as JSON: {"type":"syslog","host":"siem.example","port":6514,"tls":true},
        /// {"type":"webhook","url":"https://..."}, {"type":"directory","path":"siem"},
        /// {"type":"elasticsearch","url":"https://...","index":"audit","api_key":"..."},
        /// {"type":"s3","endpoint":"https://...","bucket":"audit","access_key_id":"...","secret_access_key":"..."}.
        #[arg(long, value_name = "JSON")]
        destination: String,
        /// Begin with every event the account still holds (default: events accepted from now on).
        #[arg(long)]
        from_oldest: bool,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Change a route (an empty --query sends every event).
    Update {
        /// Route name or id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New query.
        #[arg(long)]
        query: Option<String>,
        /// New destination as JSON (secrets not given again are kept for the same type).
        #[arg(long, value_name = "JSON")]
        destination: Option<String>,
        /// Stop sending (the route keeps its place).
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Send again from where it stopped.
        #[arg(long)]
        enable: bool,
    },
    /// Delete a route.
    Delete {
        /// Route name or id.
        id: String,
    },
}

const ROUTE_COLUMNS: [&str; 7] = ["id", "name", "destination", "state", "lag", "failures", "last_error"];

/// A route as a table row: its destination on one line, its status' figures beside it.
fn row(route: &Value) -> Value {
    let destination = &route["destination"];
    let target = match destination["type"].as_str().unwrap_or_default() {
        "syslog" => format!(
            "syslog{} {}:{}",
            if destination["tls"] == true { "+tls" } else { "" },
            destination["host"].as_str().unwrap_or_default(),
            destination["port"]
        ),
        "directory" => format!("directory {}", destination["path"].as_str().unwrap_or_default()),
        "s3" => format!(
            "s3 {}/{}/{}",
            destination["endpoint"].as_str().unwrap_or_default(),
            destination["bucket"].as_str().unwrap_or_default(),
            destination["prefix"].as_str().unwrap_or_default()
        ),
        kind => format!("{kind} {}", destination["url"].as_str().unwrap_or_default()),
    };
    let status = &route["status"];
    json!({
        "id": route["id"],
        "name": route["name"],
        "destination": clean(&target),
        "state": status["state"],
        "lag": status["lag_events"],
        "failures": status["failures"],
        "last_error": status["last_error"].as_str().map(clean),
    })
}

/// Route texts and receivers' errors are others' input: control characters must not reach the terminal.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn print_route(route: &Value, json_output: bool) {
    if json_output {
        println!("{route}");
        return;
    }
    print(&row(route), false, &ROUTE_COLUMNS);
    if let Some(query) = route["query"].as_str() {
        println!("query: {}", clean(query));
    }
    if let Some(secret) = route["secret"].as_str() {
        println!("signing secret (shown once): {secret}");
    }
    print_status(&route["status"]);
}

fn print_status(status: &Value) {
    let text = |name: &str| status[name].as_str().map(clean).unwrap_or_else(|| "-".to_string());
    println!(
        "state {}, {} events behind, {} delivered and {} failed attempts since the server started",
        text("state"),
        status["lag_events"],
        status["delivered_events"],
        status["failures"]
    );
    println!("last delivery {}; last error {} at {}", text("last_delivery"), text("last_error"), text("last_error_at"));
    if let Some(next) = status["next_attempt"].as_str() {
        println!("next attempt {}", clean(next));
    }
    print(&status["instances"], false, &["instance", "delivered_seq", "log_seq"]);
}

fn destination(text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).context("--destination is not JSON")
}

pub(crate) async fn routes(client: &Client, command: RoutesCommand, json_output: bool) -> anyhow::Result<ExitCode> {
    match command {
        RoutesCommand::List => {
            let answer = client.json(client.get("/v1/routes")).await?;
            if json_output {
                println!("{answer}");
            } else {
                let rows: Vec<Value> =
                    answer["routes"].as_array().map_or(&[][..], Vec::as_slice).iter().map(row).collect();
                print(&Value::Array(rows), false, &ROUTE_COLUMNS);
            }
        }
        RoutesCommand::Show { id } => {
            let id = client.resolve(Kind::Route, &id).await?;
            let answer = client.json(client.get(&format!("/v1/routes/{id}"))).await?;
            print_route(&answer, json_output);
        }
        RoutesCommand::Status { id: Some(id) } => {
            let id = client.resolve(Kind::Route, &id).await?;
            let answer = client.json(client.get(&format!("/v1/routes/{id}/status"))).await?;
            if json_output {
                println!("{answer}");
            } else {
                print_status(&answer);
            }
        }
        RoutesCommand::Status { id: None } => {
            let answer = client.json(client.get("/v1/routes")).await?;
            if json_output {
                let statuses: Vec<Value> = answer["routes"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .map(|route| json!({"id": route["id"], "name": route["name"], "status": route["status"]}))
                    .collect();
                println!("{}", Value::Array(statuses));
            } else {
                let rows: Vec<Value> =
                    answer["routes"].as_array().map_or(&[][..], Vec::as_slice).iter().map(row).collect();
                print(&Value::Array(rows), false, &ROUTE_COLUMNS);
            }
        }
        RoutesCommand::Create { name, query, destination: text, from_oldest, disabled } => {
            let mut body = json!({
                "name": name,
                "destination": destination(&text)?,
                "start": if from_oldest { "oldest" } else { "now" },
                "enabled": !disabled,
            });
            if let Some(query) = query {
                body["query"] = json!(query);
            }
            let answer = client.json(client.post("/v1/routes").json(&body)).await?;
            print_route(&answer, json_output);
        }
        RoutesCommand::Update { id, name, query, destination: text, disable, enable } => {
            let id = client.resolve(Kind::Route, &id).await?;
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".to_string(), json!(name));
            }
            if let Some(query) = query {
                body.insert("query".to_string(), json!(query));
            }
            if let Some(text) = text {
                body.insert("destination".to_string(), destination(&text)?);
            }
            if disable || enable {
                body.insert("enabled".to_string(), json!(enable));
            }
            let answer = client.json(client.patch(&format!("/v1/routes/{id}")).json(&body)).await?;
            print_route(&answer, json_output);
        }
        RoutesCommand::Delete { id } => {
            let id = client.resolve(Kind::Route, &id).await?;
            client.send(client.delete(&format!("/v1/routes/{id}"))).await?;
            println!("route {id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}
