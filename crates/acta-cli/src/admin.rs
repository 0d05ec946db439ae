//! `acta accounts`, `acta instances` and `acta keys`: thin clients of the API, tables for people, `--json`.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::Client;
use crate::resolve::Kind;

#[derive(Subcommand)]
pub(crate) enum AccountsCommand {
    /// Create an account with its global instance (platform admin).
    Create {
        /// Its name.
        name: String,
        /// Its id (a-z, 0-9, -, _), as used in `logSourceCRN` `a/<id>`; generated when absent.
        #[arg(long)]
        id: Option<String>,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
pub(crate) enum InstancesCommand {
    /// Create an instance in a region ("provision Activity Tracker in us-south").
    Create {
        /// Its name.
        name: String,
        /// Region, e.g. us-south, eu-de.
        #[arg(long)]
        region: String,
        /// Retention plan in days (7, 14, 30 or custom).
        #[arg(long, default_value_t = 30)]
        retention_days: i64,
        /// Validate events strictly against DSP0262.
        #[arg(long)]
        strict: bool,
        /// Account name or id (platform admin only).
        #[arg(long)]
        account: Option<String>,
    },
    /// List the account's instances.
    List {
        /// Account name or id (platform admin only).
        #[arg(long)]
        account: Option<String>,
    },
    /// Change an instance.
    Update {
        /// Instance name or id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New retention plan in days.
        #[arg(long)]
        retention_days: Option<i64>,
        /// Strict DSP0262 validation on or off.
        #[arg(long)]
        strict: Option<bool>,
        /// Print the partitions (days) the change would delete, with their event counts, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Confirm a shorter retention: the partitions it lists are deleted.
        #[arg(long)]
        confirm: bool,
    },
    /// Show an instance with its storage figures (events, bytes, oldest and newest, archived through).
    Show {
        /// Instance name or id.
        id: String,
    },
    /// Set, show or remove an instance's archive (directory or S3-compatible storage).
    Archive {
        #[command(subcommand)]
        command: crate::archive_settings::ArchiveCommand,
    },
    /// Delete an instance that holds no events.
    Delete {
        /// Instance name or id.
        id: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Create an API key; its secret is printed once.
    Create {
        /// Its name.
        name: String,
        /// reader, writer, manager or ingest.
        #[arg(long, default_value = "reader")]
        role: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Narrow it to one instance (name or id).
        #[arg(long)]
        instance: Option<String>,
        /// Expiry (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
        /// The user or service id it authenticates as (default: yours).
        #[arg(long)]
        principal: Option<String>,
        /// Account name or id (platform admin only).
        #[arg(long)]
        account: Option<String>,
        /// Print only the secret, for `export ACTA_API_KEY=$(acta keys create ... --secret-only)`.
        #[arg(long, conflicts_with = "json")]
        secret_only: bool,
    },
    /// List keys.
    List,
    /// Describe a key.
    Show {
        /// Key name or id.
        id: String,
    },
    /// Rename a key or change its description.
    Update {
        /// Key name or id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Lock a key: it cannot be changed or deleted until unlocked.
    Lock {
        /// Key name or id.
        id: String,
    },
    /// Unlock a key.
    Unlock {
        /// Key name or id.
        id: String,
    },
    /// Delete a key; it stops working at once.
    Delete {
        /// Key name or id.
        id: String,
    },
}

pub(crate) fn print(value: &Value, json_output: bool, columns: &[&str]) {
    if json_output {
        println!("{value}");
        return;
    }
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let cell = |row: &Value, column: &str| match &row[column] {
        // Times read like the events' (`created_at`, `last_used_at`, `muted_until`...): the chosen zone, seconds.
        Value::String(text) if column.ends_with("_at") || column.ends_with("_until") => crate::output::time(text),
        Value::String(text) => text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let widths: Vec<usize> = columns
        .iter()
        .map(|column| rows.iter().map(|row| cell(row, column).chars().count()).max().unwrap_or(0).max(column.len()))
        .collect();
    let line = |cells: Vec<String>| {
        let text: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(columns.iter().map(|column| column.to_uppercase()).collect());
    for row in rows {
        line(columns.iter().map(|column| cell(row, column)).collect());
    }
}

const ACCOUNT_COLUMNS: [&str; 3] = ["id", "name", "created_at"];
const INSTANCE_COLUMNS: [&str; 6] = ["id", "name", "region", "retention_days", "global", "strict"];
const KEY_COLUMNS: [&str; 8] =
    ["id", "name", "role", "instance", "locked", "created_at", "last_used_at", "description"];

pub(crate) async fn accounts(client: &Client, command: AccountsCommand, json_output: bool) -> anyhow::Result<ExitCode> {
    match command {
        AccountsCommand::Create { name, id } => {
            let answer = client.json(client.post("/v1/accounts").json(&json!({"name": name, "id": id}))).await?;
            print(&answer, json_output, &["id", "name", "global_instance"]);
        }
        AccountsCommand::List => {
            let answer = client.json(client.get("/v1/accounts")).await?;
            print(&answer["accounts"], json_output, &ACCOUNT_COLUMNS);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn instances(
    client: &Client,
    command: InstancesCommand,
    json_output: bool,
) -> anyhow::Result<ExitCode> {
    match command {
        InstancesCommand::Create { name, region, retention_days, strict, account } => {
            let account = client.resolve_opt(Kind::Account, account).await?;
            let body = without_nulls(json!({"name": name, "region": region, "retention_days": retention_days,
                                            "strict": strict, "account": account}));
            let answer = client.json(client.post("/v1/instances").json(&body)).await?;
            print(&answer, json_output, &INSTANCE_COLUMNS);
        }
        InstancesCommand::List { account } => {
            let account = client.resolve_opt(Kind::Account, account).await?;
            let mut request = client.get("/v1/instances");
            if let Some(account) = account {
                request = request.query(&[("account", account)]);
            }
            let answer = client.json(request).await?;
            print(&answer["instances"], json_output, &INSTANCE_COLUMNS);
        }
        InstancesCommand::Update { id, name, retention_days, strict, dry_run, confirm } => {
            let id = client.resolve(Kind::Instance, &id).await?;
            let body = json!({"name": name, "retention_days": retention_days, "strict": strict, "dry_run": dry_run,
                              "confirm": confirm});
            return crate::archive_settings::update_instance(client, &id, &body, json_output).await;
        }
        InstancesCommand::Show { id } => {
            let id = client.resolve(Kind::Instance, &id).await?;
            let answer = client.json(client.get(&format!("/v1/instances/{id}"))).await?;
            crate::archive_settings::print_instance(&answer, json_output);
        }
        InstancesCommand::Archive { command } => {
            return crate::archive_settings::run(client, command, json_output).await;
        }
        InstancesCommand::Delete { id } => {
            let id = client.resolve(Kind::Instance, &id).await?;
            client.send(client.delete(&format!("/v1/instances/{id}"))).await?;
            println!("instance {id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn keys(client: &Client, command: KeysCommand, json_output: bool) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create { name, role, description, instance, expires_at, principal, account, secret_only } => {
            let account = client.resolve_opt(Kind::Account, account).await?;
            let instance = client.resolve_opt(Kind::Instance, instance).await?;
            let body = without_nulls(json!({"name": name, "role": role, "description": description,
                                            "instance": instance, "expires_at": expires_at,
                                            "principal": principal, "account": account}));
            let answer = client.json(client.post("/v1/keys").json(&body)).await?;
            if secret_only {
                println!("{}", answer["secret"].as_str().unwrap_or(""));
            } else if json_output {
                println!("{answer}");
            } else {
                print(&answer, false, &KEY_COLUMNS);
                println!();
                println!("API key (shown once; store it now): {}", answer["secret"].as_str().unwrap_or(""));
            }
        }
        KeysCommand::List => {
            let answer = client.json(client.get("/v1/keys")).await?;
            print(&answer["keys"], json_output, &KEY_COLUMNS);
        }
        KeysCommand::Show { id } => {
            let id = client.resolve(Kind::Key, &id).await?;
            let answer = client.json(client.get(&format!("/v1/keys/{id}"))).await?;
            print(&answer, json_output, &KEY_COLUMNS);
        }
        KeysCommand::Update { id, name, description } => {
            let id = client.resolve(Kind::Key, &id).await?;
            let body = json!({"name": name, "description": description});
            let answer = client.json(client.patch(&format!("/v1/keys/{id}")).json(&body)).await?;
            print(&answer, json_output, &KEY_COLUMNS);
        }
        KeysCommand::Lock { id } => {
            let id = client.resolve(Kind::Key, &id).await?;
            let answer = client.json(client.post(&format!("/v1/keys/{id}/lock"))).await?;
            print(&answer, json_output, &KEY_COLUMNS);
        }
        KeysCommand::Unlock { id } => {
            let id = client.resolve(Kind::Key, &id).await?;
            let answer = client.json(client.post(&format!("/v1/keys/{id}/unlock"))).await?;
            print(&answer, json_output, &KEY_COLUMNS);
        }
        KeysCommand::Delete { id } => {
            let id = client.resolve(Kind::Key, &id).await?;
            client.send(client.delete(&format!("/v1/keys/{id}"))).await?;
            println!("key {id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A request body without its null members: an option not given is left out, since the server refuses `null`
/// where the API takes a value (`account: null` names no account).
fn without_nulls(mut body: Value) -> Value {
    if let Value::Object(members) = &mut body {
        members.retain(|_, value| !value.is_null());
    }
    body
}
