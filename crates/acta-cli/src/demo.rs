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
    alerts: acta_server::AlertSettings,
) -> anyhow::Result<ExitCode> {
    crate::init_logging();
    let fresh = !data.join("meta.sqlite").exists();
    let smtp = alerts.smtp_url.is_some();
    let settings = settings(alerts, None);
    let running = crate::start_server(data.clone(), listen, integrity, settings).await?;
    let url = format!("http://{}", running.addr);
    let admin_key = admin_key(&running, &data);
    let keys = if fresh { Some(seed(&url, &admin_key, smtp).await.context("loading the demo data")?) } else { None };
    println!("Acta demo running at {url}");
    println!("  data directory: {}", data.display());
    guide(&url, &admin_key, keys.as_ref());
    crate::shutdown_signal().await?;
    running.stop().await.context("stopping the server")?;
    Ok(ExitCode::SUCCESS)
}

/// `acta demo --cluster N`: a local PostgreSQL in `<data>/postgres`, sealed days in `<data>/objects`, and N
/// nodes (`<data>/node-<i>`, listening on consecutive ports from `listen`), all in this process, with the demo
/// data loaded through the first.
pub(crate) async fn run_cluster(
    nodes: u16,
    data: PathBuf,
    listen: SocketAddr,
    integrity: acta_store::IntegrityOptions,
    alerts: acta_server::AlertSettings,
) -> anyhow::Result<ExitCode> {
    crate::init_logging();
    anyhow::ensure!((1..=16).contains(&nodes), "--cluster takes 1 to 16 nodes, not {nodes}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let postgres_dir = data.clone();
    let postgres = tokio::task::spawn_blocking(move || {
        acta_store::cluster::local::LocalPostgres::start(&postgres_dir, port, None)
    })
    .await?
    .context("starting the demo's PostgreSQL")?;
    let smtp = alerts.smtp_url.is_some();
    let objects = std::path::absolute(data.join("objects"))?;
    let mut running = Vec::new();
    for n in 1..=nodes {
        let node = format!("node-{n}");
        let cluster = acta_store::cluster::ClusterOptions {
            postgres_url: postgres.url().to_owned(),
            node: node.clone(),
            object_store: Some(format!("file://{}", objects.display())),
        };
        let address = SocketAddr::new(listen.ip(), listen.port().saturating_add(n - 1));
        let integrity = acta_store::IntegrityOptions { node: node.clone(), ..integrity.clone() };
        let settings = settings(alerts.clone(), Some(cluster));
        running.push(crate::start_server(data.join(&node), address, integrity, settings).await?);
    }
    let urls: Vec<String> = running.iter().map(|node| format!("http://{}", node.addr)).collect();
    let admin_key = admin_key(&running[0], &data.join("node-1"));
    let keys = if postgres.is_new() {
        Some(seed(&urls[0], &admin_key, smtp).await.context("loading the demo data")?)
    } else {
        None
    };
    println!("Acta demo cluster: {nodes} nodes on one PostgreSQL ({})", postgres.url());
    for (n, url) in urls.iter().enumerate() {
        println!("  node-{}: {url}  (data directory {})", n + 1, data.join(format!("node-{}", n + 1)).display());
    }
    println!("  Any node takes events and answers for every account; what one takes, the others show within moments.");
    guide(&urls[0], &admin_key, keys.as_ref());
    crate::shutdown_signal().await?;
    for node in running {
        node.stop().await.context("stopping a node")?;
    }
    drop(postgres);
    Ok(ExitCode::SUCCESS)
}

fn settings(
    alerts: acta_server::AlertSettings,
    cluster: Option<acta_store::cluster::ClusterOptions>,
) -> crate::Settings {
    crate::Settings {
        alerts,
        retention: acta_server::RetentionSettings::default(),
        limits: acta_server::Limits::default(),
        forwarding: acta_server::ForwardSettings::default(),
        cluster,
    }
}

/// The platform admin key: the one this start created, else ACTA_BOOTSTRAP_KEY, else the admin-key file.
fn admin_key(running: &acta_server::Running, data: &std::path::Path) -> String {
    // The server took ACTA_BOOTSTRAP_KEY as the admin key when it was set (and wrote no admin-key file).
    let bootstrap =
        std::env::var("ACTA_BOOTSTRAP_KEY").ok().map(|key| key.trim().to_string()).filter(|key| !key.is_empty());
    match (&running.created_admin_key, bootstrap) {
        (Some(key), _) => key.clone(),
        (None, Some(key)) => key,
        (None, None) => std::fs::read_to_string(data.join("admin-key"))
            .map(|text| text.trim().to_string())
            .unwrap_or_else(|_| "(see the admin-key file of the first start)".to_string()),
    }
}

/// Prints the keys and how to use the demo at `url`.
fn guide(url: &str, admin_key: &str, keys: Option<&DemoKeys>) {
    println!("  platform admin key: {admin_key}");
    let user_key = match keys {
        Some(keys) => {
            println!("  account demo, manager key (officer@example.com): {}", keys.manager);
            println!("  account demo, reader key (auditor@example.com):  {}", keys.reader);
            println!("  {} views of seed 002 in category IAM, and the board \"API keys\"", SEED_002_VIEWS.len());
            match &keys.alert {
                Some(alert) => println!("  email alert {alert} on \"User API key deletions\": 2 deletions in an hour"),
                None => println!(
                    "  email alert skipped: the server has no SMTP relay (acta demo --smtp-url smtp://relay:25)"
                ),
            }
            keys.manager.clone()
        }
        None => admin_key.to_owned(),
    };
    println!();
    println!("Open {url}/ in a browser and sign in with one of these keys (the web console).");
    println!();
    let acta = acta_command();
    if acta != "acta" {
        println!("`acta` is not on your PATH (install it with `cargo install --path crates/acta-cli --locked`);");
        println!("this binary is {acta}.");
        println!();
    }
    println!("Try:");
    println!("  export ACTA_URL={url} ACTA_API_KEY={user_key}");
    println!("  {acta} events search 'target.typeURI_str:kms/secrets' --from 24h");
    println!("  {acta} events search '(action user-apikey) -login failure'");
    println!("  {acta} views show \"User API key deletions\"");
    println!("  {acta} boards list; {acta} boards graph \"API keys\" 0");
    println!("Stop with Ctrl-C.");
}

/// How to run this binary from a shell: `acta` when that name on the PATH is this binary, else its full path
/// (after `cargo run`, the binary is in `target/` and `acta` names nothing, or an older install).
fn acta_command() -> String {
    let Ok(this) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "acta".to_string();
    };
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join("acta")).find(|candidate| candidate.is_file())
    });
    match on_path.and_then(|found| std::fs::canonicalize(found).ok()) {
        Some(found) if found == this => "acta".to_string(),
        _ => this.display().to_string(),
    }
}

/// Keys the demo creates, and its alert when there is one, printed for the user.
struct DemoKeys {
    manager: String,
    reader: String,
    alert: Option<String>,
}

/// Seed 002 step 3: views of user API key events (Acta's console and CLI are the UI and CLI of the seed).
const SEED_002_VIEWS: [(&str, &str); 6] = [
    ("User API key events", "(action user-apikey) -login"),
    ("Failed user API key events", "(action user-apikey) -login failure"),
    ("User API key deletions", "(action user-apikey.delete) -login"),
    ("User API key updates", "(action user-apikey.update) -login"),
    ("User API key actions in the console", "initiator.host.agent:\"Acta web console\" (action user-apikey) -login"),
    ("User API key actions in the CLI", "initiator.host.agent:\"Acta CLI\" (action user-apikey) -login"),
];

async fn seed(url: &str, admin: &str, smtp: bool) -> anyhow::Result<DemoKeys> {
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, key: &str, agent: &str, body: Option<Value>| {
        let mut request = http.request(method, format!("{url}{path}")).bearer_auth(key).header("user-agent", agent);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
    };
    let expect = |response: reqwest::Response, what: &str| {
        let what = what.to_string();
        async move {
            let status = response.status();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                anyhow::bail!("{what}: {status} {answer}");
            }
            Ok(answer)
        }
    };
    let cli = concat!("Acta CLI/", env!("CARGO_PKG_VERSION"));
    let post = reqwest::Method::POST;
    // Seed 000: provision in US South; seed 002's IAM events go to the account's global instance.
    expect(
        call(post.clone(), "/v1/accounts", admin, cli, Some(json!({"name": "Demo Corp", "id": "demo"}))).send().await?,
        "account",
    )
    .await?;
    let instance = json!({"account": "demo", "name": "us-south", "region": "us-south", "retention_days": 30});
    expect(call(post.clone(), "/v1/instances", admin, cli, Some(instance)).send().await?, "instance").await?;
    let manager = json!({"account": "demo", "name": "officer", "role": "manager", "principal": "officer@example.com",
                         "description": "security officer"});
    let manager =
        expect(call(post.clone(), "/v1/keys", admin, cli, Some(manager)).send().await?, "manager key").await?;
    let manager = manager["secret"].as_str().unwrap_or_default().to_string();
    let reader = json!({"name": "auditor", "role": "reader", "principal": "auditor@example.com"});
    let reader =
        expect(call(post.clone(), "/v1/keys", &manager, cli, Some(reader)).send().await?, "reader key").await?;
    let reader = reader["secret"].as_str().unwrap_or_default().to_string();

    let events = demo_events(acta_server::now_ns());
    let body: String = events.iter().map(|event| format!("{event}\n")).collect();
    let sent = http
        .post(format!("{url}/v1/events"))
        .bearer_auth(&manager)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await?;
    let answer = expect(sent, "events").await?;
    if answer["accepted"].as_u64() != Some(events.len() as u64) {
        anyhow::bail!("the demo events were not all accepted: {answer}");
    }

    // Seed 002, for real: each action is audited by Acta itself.
    let console = "Acta web console";
    let key = json!({"name": "demo-key", "role": "reader", "description": "key for the tutorial"});
    let key = expect(call(post.clone(), "/v1/keys", &manager, console, Some(key)).send().await?, "demo-key").await?;
    let id = key["id"].as_str().unwrap_or_default().to_string();
    let path = format!("/v1/keys/{id}");
    let described = json!({"description": "described in the console"});
    expect(call(reqwest::Method::PATCH, &path, &manager, console, Some(described)).send().await?, "describe").await?;
    expect(call(post.clone(), &format!("{path}/lock"), &manager, cli, None).send().await?, "lock").await?;
    // Updating and deleting a locked key fail (409), and the failures are audited too.
    let renamed = json!({"name": "renamed-key"});
    let _ = call(reqwest::Method::PATCH, &path, &manager, cli, Some(renamed)).send().await?;
    let _ = call(reqwest::Method::DELETE, &path, &manager, cli, None).send().await?;
    expect(call(post.clone(), &format!("{path}/unlock"), &manager, cli, None).send().await?, "unlock").await?;
    let deleted = call(reqwest::Method::DELETE, &path, &manager, cli, None).send().await?;
    if !deleted.status().is_success() {
        anyhow::bail!("deleting the demo key: {}", deleted.status());
    }

    // Seed 002 steps 3 to 5: views, an email alert on key deletions, and the board of key actions.
    let mut deletions = String::new();
    for (name, query) in SEED_002_VIEWS {
        let view = json!({"name": name, "query": query, "category": "IAM"});
        let view = expect(call(post.clone(), "/v1/views", &manager, cli, Some(view)).send().await?, "view").await?;
        if name == "User API key deletions" {
            deletions = view["id"].as_str().unwrap_or_default().to_string();
        }
    }
    let alert = if smtp {
        let alert = json!({"view": deletions, "kind": "presence", "threshold": 2, "window": "1h", "immediate": true,
                           "channels": [{"type": "email", "to": ["officer@example.com"]}]});
        let alert = expect(call(post.clone(), "/v1/alerts", &manager, cli, Some(alert)).send().await?, "alert").await?;
        Some(alert["id"].as_str().unwrap_or_default().to_string())
    } else {
        None
    };
    let board = json!({"name": "API keys", "category": "IAM", "filter": "iam-identity.user-apikey.",
                       "graphs": [{"title": "User API key actions", "query": "", "field": "action",
                                   "breakdown": {"field": "action", "top": 5}, "range": "live"}]});
    expect(call(post, "/v1/boards", &manager, cli, Some(board)).send().await?, "board").await?;
    Ok(DemoKeys { manager, reader, alert })
}

/// Seed 000: Key Protect events in us-south (seed 002's key events come from the real key actions).
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
            "logSourceCRN": "crn:v1:bluemix:public:kms:us-south:a/demo:kp1::",
            "initiator": {"id": "IBMid-demo-officer", "name": "officer@example.com", "typeURI": "service/security/account/user",
                          "host": {"address": "203.0.113.7", "agent": "Acta CLI/0.1.0"}, "credential": {"type": "token"}},
            "target": {"id": format!("crn:v1:bluemix:public:kms:us-south:a/demo:kp1:key:k{i}"), "name": format!("demo-root-key-{i}"), "typeURI": "kms/secrets"},
            "observer": {"name": "ActivityTracker"},
            "reason": {"reasonCode": 200, "reasonType": "OK"},
        }));
    }
    events
}
