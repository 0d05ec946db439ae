//! `acta demo`: a server on a fresh directory with the events of both seed journeys, ready to explore.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

pub(crate) async fn run(
    data: PathBuf,
    listen: SocketAddr,
    integrity: acta_store::IntegrityOptions,
) -> anyhow::Result<ExitCode> {
    crate::init_logging();
    let fresh = !data.join("meta.sqlite").exists();
    let running = crate::start_server(data.clone(), listen, integrity).await?;
    let url = format!("http://{}", running.addr);
    let admin_key = match &running.created_admin_key {
        Some(key) => key.clone(),
        None => std::fs::read_to_string(data.join("admin-key"))
            .map(|text| text.trim().to_string())
            .unwrap_or_else(|_| "(set by ACTA_BOOTSTRAP_KEY)".to_string()),
    };
    if fresh {
        seed(&url, &admin_key).await.context("loading the demo events")?;
    }
    println!("Acta demo running at {url}");
    println!("  data directory: {}", data.display());
    println!("  admin key:      {admin_key}");
    println!();
    println!("Try:");
    println!("  export ACTA_URL={url} ACTA_API_KEY={admin_key}");
    println!("  acta events search 'target.typeURI_str:kms/secrets' --from 24h");
    println!("  acta events search '(action user-apikey) -login failure'");
    println!("Stop with Ctrl-C.");
    crate::shutdown_signal().await?;
    running.stop().await.context("stopping the server")?;
    Ok(ExitCode::SUCCESS)
}

async fn seed(url: &str, key: &str) -> anyhow::Result<()> {
    let events = demo_events(acta_server::now_ns());
    let body: String = events.iter().map(|event| format!("{event}\n")).collect();
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/events"))
        .bearer_auth(key)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await?;
    let answer: Value = response.json().await?;
    let accepted = answer["accepted"].as_u64().unwrap_or(0);
    if accepted as usize != events.len() {
        anyhow::bail!("the demo events were not all accepted: {answer}");
    }
    Ok(())
}

/// Seed 000 (Key Protect in us-south) and seed 002 (user API keys, from the console and the CLI).
pub(crate) fn demo_events(now_ns: i64) -> Vec<Value> {
    let minute = 60_000_000_000i64;
    let at = |minutes_ago: i64| acta_cadf::format_time(now_ns - minutes_ago * minute);
    let mut events = Vec::new();
    for (i, verb) in ["create", "read", "delete", "create"].iter().enumerate() {
        events.push(json!({
            "eventTime": at(300 - i as i64 * 40),
            "action": format!("kms.secrets.{verb}"),
            "outcome": "success",
            "message": format!("Key Protect: {verb} secret demo-root-key-{i}"),
            "severity": if *verb == "delete" { "critical" } else { "normal" },
            "logSourceCRN": "crn:v1:bluemix:public:kms:us-south:a/demo::",
            "initiator": {"id": "IBMid-demo-officer", "name": "officer@example.com", "typeURI": "service/security/account/user",
                          "host": {"address": "203.0.113.7", "agent": "Acta CLI/0.1.0"}, "credential": {"type": "token"}},
            "target": {"id": format!("crn:v1:bluemix:public:kms:us-south:a/demo:kp1:key:k{i}"), "name": format!("demo-root-key-{i}"), "typeURI": "kms/secrets"},
            "observer": {"name": "ActivityTracker"},
            "reason": {"reasonCode": 200, "reasonType": "OK"},
        }));
    }
    let key_actions = [
        ("create", "success", "Acta web console", 50),
        ("update", "success", "Acta web console", 45),
        ("update", "success", "Acta CLI/0.1.0", 40),
        ("delete", "failure", "Acta CLI/0.1.0", 35),
        ("update", "success", "Acta CLI/0.1.0", 30),
        ("delete", "success", "Acta CLI/0.1.0", 25),
        ("login", "success", "Acta CLI/0.1.0", 20),
    ];
    for (verb, outcome, agent, minutes_ago) in key_actions {
        let suffix = if outcome == "failure" { " -failure" } else { "" };
        events.push(json!({
            "eventTime": at(minutes_ago),
            "action": format!("iam-identity.user-apikey.{verb}"),
            "outcome": outcome,
            "message": format!("IAM Identity Service: {verb} user-apikey demo-key{suffix}"),
            "severity": if outcome == "failure" { "warning" } else { "normal" },
            "logSourceCRN": "crn:v1:bluemix:public:iam-identity:global:a/demo::",
            "initiator": {"id": "IBMid-demo-user", "name": "user@example.com", "typeURI": "service/security/account/user",
                          "host": {"address": "198.51.100.4", "agent": agent}, "credential": {"type": "user"}},
            "target": {"id": "ApiKey-demo-key", "name": "demo-key", "typeURI": "iam-identity/user-apikey"},
            "observer": {"name": "ActivityTracker"},
            "reason": {"reasonCode": if outcome == "failure" { 409 } else { 200 }},
        }));
    }
    events
}
