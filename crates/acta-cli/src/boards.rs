//! `acta boards`: a thin client of `/v1/boards`; `boards graph` draws a graph's data as bars in the terminal.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Map, Value, json};

use crate::admin::print;
use crate::client::Client;
use crate::resolve::Kind;

#[derive(Subcommand)]
pub(crate) enum BoardsCommand {
    /// List boards (of one category).
    List {
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
    },
    /// List the categories of boards.
    Categories,
    /// Show a board and its graphs.
    Show {
        /// Board name or id.
        id: String,
    },
    /// Create a board.
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// A category to group it in (default General).
        #[arg(long)]
        category: Option<String>,
        /// A query every graph of the board is narrowed by.
        #[arg(long)]
        filter: Option<String>,
        /// A graph as JSON (repeatable, in order): {"title":"...","query":"...","field":"action",
        /// "breakdown":{"field":"action","top":5},"range":"live"|"1h"|"24h"|"7d"|"30d"|{"from":..,"to":..}}.
        #[arg(long = "graph", value_name = "JSON")]
        graphs: Vec<String>,
    },
    /// Change a board (an empty --filter removes it; --graph replaces all graphs).
    Update {
        /// Board name or id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New category.
        #[arg(long)]
        category: Option<String>,
        /// New filter.
        #[arg(long)]
        filter: Option<String>,
        /// The new graphs as JSON (repeatable, in order).
        #[arg(long = "graph", value_name = "JSON")]
        graphs: Vec<String>,
        /// Remove every graph.
        #[arg(long, conflicts_with = "graphs")]
        no_graphs: bool,
    },
    /// Add a graph at the end of a board: a histogram of the events matching the board's filter and
    /// --query (and having --field), over --range, split by --by's top values.
    AddGraph {
        /// Board name or id.
        board: String,
        #[command(flatten)]
        graph: GraphFlags,
    },
    /// Remove graph N (from 0) of a board.
    RemoveGraph {
        /// Board name or id.
        board: String,
        /// The graph's position on the board, from 0 (`acta boards show` lists them).
        n: usize,
    },
    /// Delete a board.
    Delete {
        /// Board name or id.
        id: String,
    },
    /// Draw graph N (from 0) of a board over its range, as of now.
    Graph {
        /// Board name or id.
        id: String,
        /// The graph's position on the board, from 0.
        n: usize,
        /// IANA time zone of day-sized buckets (Europe/Berlin).
        #[arg(long)]
        tz: Option<String>,
        /// Bucket width (30s, 5m, 1h, 1d); automatic by default.
        #[arg(long)]
        interval: Option<String>,
        /// Widest bar, in columns.
        #[arg(long, default_value_t = 60)]
        width: usize,
    },
}

/// A graph given by flags rather than JSON.
#[derive(clap::Args)]
pub(crate) struct GraphFlags {
    /// Its title.
    #[arg(long)]
    title: Option<String>,
    /// The events it counts (search language), within the board's filter.
    #[arg(long, default_value = "")]
    query: String,
    /// Count only events that have this field (action, initiator.name...).
    #[arg(long)]
    field: Option<String>,
    /// Split each bar by this field's top values.
    #[arg(long)]
    by: Option<String>,
    /// How many values of --by to show; the rest count as other.
    #[arg(long, default_value_t = 5, requires = "by")]
    top: u64,
    /// live (the last 60 minutes, moving), 1h, 24h, 7d or 30d.
    #[arg(long, default_value = "24h", value_parser = ["live", "1h", "24h", "7d", "30d"])]
    range: String,
}

impl GraphFlags {
    fn json(&self) -> Value {
        let breakdown = self.by.as_ref().map(|field| json!({"field": field, "top": self.top}));
        json!({"title": self.title, "query": self.query, "field": self.field, "breakdown": breakdown,
               "range": self.range})
    }
}

const BOARD_COLUMNS: [&str; 6] = ["id", "name", "category", "graphs", "filter", "predefined"];

/// The graphs as sent on the command line, each parsed as JSON so that a typo is named before any request.
fn graphs(texts: &[String]) -> anyhow::Result<Vec<Value>> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| serde_json::from_str(text).with_context(|| format!("--graph number {} is not JSON", i + 1)))
        .collect()
}

/// A board as a table row: its graphs as their number.
fn row(board: &Value) -> Value {
    let mut row = board.clone();
    if let Some(object) = row.as_object_mut() {
        let graphs = board["graphs"].as_array().map_or(0, Vec::len);
        object.insert("graphs".into(), json!(graphs));
    }
    row
}

fn print_board(board: &Value, json_output: bool) {
    if json_output {
        println!("{board}");
        return;
    }
    print(&row(board), false, &BOARD_COLUMNS);
    for (i, graph) in board["graphs"].as_array().map_or(&[][..], Vec::as_slice).iter().enumerate() {
        println!("graph {i}: {}", graph_line(graph));
    }
}

/// `"Key actions": iam-identity.user-apikey. counting action, by action (top 5), live`.
fn graph_line(graph: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(title) = graph["title"].as_str() {
        parts.push(format!("{:?}:", clean(title)));
    }
    let query = graph["query"].as_str().unwrap_or_default();
    parts.push(if query.is_empty() { "all events".to_string() } else { clean(query) });
    if let Some(field) = graph["field"].as_str() {
        parts.push(format!("with {}", clean(field)));
    }
    if let Some(by) = graph["breakdown"]["field"].as_str() {
        parts.push(format!("by {} (top {})", clean(by), graph["breakdown"]["top"]));
    }
    let range = match &graph["range"] {
        Value::String(name) => clean(name),
        custom => format!(
            "{} to {}",
            clean(custom["from"].as_str().unwrap_or_default()),
            clean(custom["to"].as_str().unwrap_or_default())
        ),
    };
    format!("{}, {range}", parts.join(" "))
}

/// Board texts are users' input: control characters must not reach the terminal.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub(crate) async fn boards(client: &Client, command: BoardsCommand, json_output: bool) -> anyhow::Result<ExitCode> {
    match command {
        BoardsCommand::List { category } => {
            let mut request = client.get("/v1/boards");
            if let Some(category) = category {
                request = request.query(&[("category", category)]);
            }
            let answer = client.json(request).await?;
            if json_output {
                println!("{answer}");
            } else {
                let rows: Vec<Value> =
                    answer["boards"].as_array().map_or(&[][..], Vec::as_slice).iter().map(row).collect();
                print(&Value::Array(rows), false, &BOARD_COLUMNS);
            }
        }
        BoardsCommand::Categories => {
            let answer = client.json(client.get("/v1/boards/categories")).await?;
            print(&answer["categories"], json_output, &["name", "boards"]);
        }
        BoardsCommand::Show { id } => {
            let id = client.resolve(Kind::Board, &id).await?;
            let answer = client.json(client.get(&format!("/v1/boards/{id}"))).await?;
            print_board(&answer, json_output);
        }
        BoardsCommand::Create { name, category, filter, graphs: texts } => {
            let body = json!({"name": name, "category": category, "filter": filter, "graphs": graphs(&texts)?});
            let answer = client.json(client.post("/v1/boards").json(&body)).await?;
            print_board(&answer, json_output);
        }
        BoardsCommand::Update { id, name, category, filter, graphs: texts, no_graphs } => {
            let id = client.resolve(Kind::Board, &id).await?;
            let mut body = Map::new();
            for (key, value) in [("name", name), ("category", category), ("filter", filter)] {
                if let Some(value) = value {
                    body.insert(key.to_string(), json!(value));
                }
            }
            if !texts.is_empty() || no_graphs {
                body.insert("graphs".to_string(), Value::Array(graphs(&texts)?));
            }
            let answer = client.json(client.patch(&format!("/v1/boards/{id}")).json(&body)).await?;
            print_board(&answer, json_output);
        }
        BoardsCommand::AddGraph { board, graph } => {
            let id = client.resolve(Kind::Board, &board).await?;
            let mut graphs = current_graphs(client, &id).await?;
            graphs.push(graph.json());
            let answer =
                client.json(client.patch(&format!("/v1/boards/{id}")).json(&json!({"graphs": graphs}))).await?;
            print_board(&answer, json_output);
        }
        BoardsCommand::RemoveGraph { board, n } => {
            let id = client.resolve(Kind::Board, &board).await?;
            let mut graphs = current_graphs(client, &id).await?;
            if n >= graphs.len() {
                anyhow::bail!(
                    "the board has {} graphs (0 to {}); there is no graph {n}",
                    graphs.len(),
                    graphs.len().saturating_sub(1)
                );
            }
            graphs.remove(n);
            let answer =
                client.json(client.patch(&format!("/v1/boards/{id}")).json(&json!({"graphs": graphs}))).await?;
            print_board(&answer, json_output);
        }
        BoardsCommand::Delete { id } => {
            let id = client.resolve(Kind::Board, &id).await?;
            client.send(client.delete(&format!("/v1/boards/{id}"))).await?;
            println!("board {id} deleted");
        }
        BoardsCommand::Graph { id, n, tz, interval, width } => {
            let id = client.resolve(Kind::Board, &id).await?;
            let mut params = Vec::new();
            if let Some(tz) = tz {
                params.push(("tz", tz));
            }
            if let Some(interval) = interval {
                params.push(("interval", interval));
            }
            let path = format!("/v1/boards/{id}/graphs/{n}/data");
            let answer = client.json(client.get(&path).query(&params)).await?;
            if json_output {
                println!("{answer}");
            } else {
                println!("{}", graph_line(&answer["graph"]));
                let query = answer["query"].as_str().unwrap_or_default();
                println!("query: {}", if query.is_empty() { "(all events)".to_string() } else { clean(query) });
                print!("{}", crate::histogram::render(&answer, width.max(1)));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A board's graphs as stored, to change one and send the list back (`PATCH` replaces the whole list).
async fn current_graphs(client: &Client, id: &str) -> anyhow::Result<Vec<Value>> {
    let board = client.json(client.get(&format!("/v1/boards/{id}"))).await?;
    Ok(board["graphs"].as_array().cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_reads_as_one_line() {
        let graph = json!({"title": "Key actions", "query": "iam-identity.user-apikey.", "field": "action",
                           "breakdown": {"field": "action", "top": 5}, "range": "live"});
        assert_eq!(
            graph_line(&graph),
            "\"Key actions\": iam-identity.user-apikey. with action by action (top 5), live"
        );
        let custom = json!({"title": null, "query": "", "field": null, "breakdown": null,
                            "range": {"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T12:00:00Z"}});
        assert_eq!(graph_line(&custom), "all events, 2026-11-20T10:00:00Z to 2026-11-20T12:00:00Z");
    }

    #[test]
    fn a_graph_that_is_not_json_is_named() {
        let error = graphs(&["{}".to_string(), "{query".to_string()]).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("--graph number 2 is not JSON"));
    }
}
