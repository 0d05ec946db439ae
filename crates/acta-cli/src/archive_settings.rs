//! `acta instances update` (retention changes with `--dry-run` and `--confirm`), `acta instances show` (storage
//! figures) and `acta instances archive set|show|remove`.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::admin::print;
use crate::client::{Client, api_error_text};
use crate::resolve::Kind;

#[derive(Subcommand)]
pub(crate) enum ArchiveCommand {
    /// Archive the instance's sealed days to a directory (under a root the operator allows) or to
    /// S3-compatible storage. Replaces any earlier archive setting.
    Set {
        /// Instance name or id.
        id: String,
        /// A directory on the server (must be under one of its --archive-root directories).
        #[arg(long, conflicts_with = "endpoint")]
        directory: Option<String>,
        /// S3 endpoint, e.g. https://s3.eu-de.example.com.
        #[arg(long, requires_all = ["bucket", "access_key_id"])]
        endpoint: Option<String>,
        /// S3 bucket.
        #[arg(long)]
        bucket: Option<String>,
        /// Key prefix inside the bucket.
        #[arg(long)]
        prefix: Option<String>,
        /// S3 region (default us-east-1).
        #[arg(long)]
        region: Option<String>,
        /// S3 access key id.
        #[arg(long)]
        access_key_id: Option<String>,
        /// S3 secret access key (or ACTA_ARCHIVE_SECRET_ACCESS_KEY).
        #[arg(long, env = "ACTA_ARCHIVE_SECRET_ACCESS_KEY", hide_env_values = true)]
        secret_access_key: Option<String>,
        /// Accept a plain http:// endpoint.
        #[arg(long)]
        allow_http: bool,
        /// Also write each day's events as zstd-compressed NDJSON, for other tools.
        #[arg(long)]
        ndjson: bool,
    },
    /// Show the instance's archive (the secret is never shown) and whether it is failing.
    Show {
        /// Instance name or id.
        id: String,
    },
    /// Stop archiving (what was archived stays where it is).
    Remove {
        /// Instance name or id.
        id: String,
    },
}

pub(crate) async fn run(client: &Client, command: ArchiveCommand, json_output: bool) -> anyhow::Result<ExitCode> {
    match command {
        ArchiveCommand::Set {
            id,
            directory,
            endpoint,
            bucket,
            prefix,
            region,
            access_key_id,
            secret_access_key,
            allow_http,
            ndjson,
        } => {
            let id = client.resolve(Kind::Instance, &id).await?;
            let body = match (directory, endpoint) {
                (Some(path), None) => json!({"kind": "directory", "path": path, "ndjson": ndjson}),
                (None, Some(endpoint)) => {
                    let Some(secret) = secret_access_key else {
                        anyhow::bail!("--secret-access-key (or ACTA_ARCHIVE_SECRET_ACCESS_KEY) is needed for S3");
                    };
                    json!({"kind": "s3", "endpoint": endpoint, "bucket": bucket, "prefix": prefix, "region": region,
                           "access_key_id": access_key_id, "secret_access_key": secret, "allow_http": allow_http,
                           "ndjson": ndjson})
                }
                _ => anyhow::bail!("give either --directory or --endpoint (with --bucket and --access-key-id)"),
            };
            let answer = client.json(client.put(&format!("/v1/instances/{id}/archive")).json(&body)).await?;
            print_archive(&answer, json_output);
        }
        ArchiveCommand::Show { id } => {
            let id = client.resolve(Kind::Instance, &id).await?;
            let answer = client.json(client.get(&format!("/v1/instances/{id}/archive"))).await?;
            print_archive(&answer, json_output);
        }
        ArchiveCommand::Remove { id } => {
            let id = client.resolve(Kind::Instance, &id).await?;
            client.send(client.delete(&format!("/v1/instances/{id}/archive"))).await?;
            println!("archive of instance {id} removed (archived days stay where they are)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_archive(answer: &Value, json_output: bool) {
    if json_output {
        println!("{answer}");
        return;
    }
    let archive = &answer["archive"];
    let destination = match archive["kind"].as_str() {
        Some("directory") => format!("directory {}", archive["path"].as_str().unwrap_or_default()),
        _ => format!(
            "s3 {} bucket {} prefix {}",
            archive["endpoint"].as_str().unwrap_or_default(),
            archive["bucket"].as_str().unwrap_or_default(),
            archive["prefix"].as_str().unwrap_or("")
        ),
    };
    println!("instance:  {}", answer["instance"].as_str().unwrap_or_default());
    println!("archive:   {destination}{}", if archive["ndjson"] == true { " (+ NDJSON)" } else { "" });
    let state = match answer["last_error"].as_str() {
        Some(error) if answer["failing"] == true => format!("FAILING: {error}"),
        _ => "ok".to_string(),
    };
    println!("state:     {state}");
}

/// An instance with its storage figures.
pub(crate) fn print_instance(answer: &Value, json_output: bool) {
    if json_output {
        println!("{answer}");
        return;
    }
    print(answer, false, &["id", "name", "region", "retention_days", "global", "strict"]);
    let storage = &answer["storage"];
    let text = |value: &Value| value.as_str().map_or_else(|| "-".to_string(), str::to_string);
    println!();
    println!("events:    {}", storage["events"].as_u64().map_or_else(|| "-".to_string(), crate::output::thousands));
    println!("size:      {}", storage["bytes"].as_u64().map_or_else(|| "-".to_string(), crate::output::size));
    println!("days kept: {}", storage["segments"]);
    let time = |value: &Value| value.as_str().map_or_else(|| "-".to_string(), crate::output::time);
    println!("oldest:    {}", time(&storage["oldest"]));
    println!("newest:    {}", time(&storage["newest"]));
    println!("archived through: {}", text(&storage["archived_through"]));
}

fn print_partitions(partitions: &Value) {
    let rows = partitions.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("no partition would be deleted");
        return;
    }
    print(&Value::Array(rows.clone()), false, &["day", "events"]);
    let total: u64 = rows.iter().filter_map(|row| row["events"].as_u64()).sum();
    println!("{} partitions, {total} events", rows.len());
}

/// `PATCH /v1/instances/{id}`: prints what a dry run would delete, or why confirmation is needed.
pub(crate) async fn update_instance(
    client: &Client,
    id: &str,
    body: &Value,
    json_output: bool,
) -> anyhow::Result<ExitCode> {
    let response = client
        .patch(&format!("/v1/instances/{id}"))
        .json(body)
        .send()
        .await
        .map_err(|error| anyhow::anyhow!("cannot reach {}: {error}", client.url()))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status.as_u16() == 409 && answer["error"]["code"] == "confirm_required" {
        if json_output {
            println!("{answer}");
        } else {
            println!("{}", answer["error"]["message"].as_str().unwrap_or_default());
            print_partitions(&answer["error"]["details"]);
            println!("nothing changed; run again with --confirm to apply");
        }
        return Ok(ExitCode::from(1));
    }
    if !status.is_success() {
        anyhow::bail!("{}", api_error_text(status, &answer));
    }
    if answer["dry_run"] == true {
        if json_output {
            println!("{answer}");
        } else {
            let days = &answer["retention_days"];
            println!("dry run: retention {} -> {} days; nothing changed", days["from"], days["to"]);
            print_partitions(&answer["partitions"]);
        }
        return Ok(ExitCode::SUCCESS);
    }
    print_instance(&answer, json_output);
    Ok(ExitCode::SUCCESS)
}
