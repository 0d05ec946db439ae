//! The `acta` binary: runs the server (`serve`, `demo`), works on a data directory offline (`reindex`,
//! `verify`), and is a client of the HTTP API for everything else.

/// jemalloc rather than glibc's malloc: with the index's threads allocating and freeing large buffers, glibc's
/// per-thread arenas kept about twice the memory (anonymous RSS at 300k events: 744 MiB with glibc, see
/// docs/benchmarks.md) and limiting them (`MALLOC_ARENA_MAX=2`) cost a third of the throughput.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod admin;
mod alerts;
mod archive;
mod archive_settings;
mod bench;
mod boards;
mod client;
mod demo;
mod events;
mod histogram;
mod import;
mod investigate;
mod output;
mod pipes;
mod resolve;
mod routes;
mod s3;
mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Acta: a self-hosted activity tracker for CADF audit events.
#[derive(Parser)]
#[command(name = "acta", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where the server is and which key to use (before or after the subcommand).
    #[command(flatten)]
    connection: client::Connection,
    /// Print times in UTC instead of the local time zone (TZ, /etc/localtime).
    #[arg(long, global = true)]
    utc: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server on a data directory.
    Serve(ServeArgs),
    /// Run a server on a fresh directory with demo accounts and events, and print how to use it.
    Demo(DemoArgs),
    /// Search, count, tail, export and send events.
    Events {
        #[command(subcommand)]
        command: events::EventsCommand,
    },
    /// Create and list accounts (platform admin).
    Accounts {
        #[command(subcommand)]
        command: admin::AccountsCommand,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Create, list, change and delete instances.
    Instances {
        #[command(subcommand)]
        command: admin::InstancesCommand,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Create, describe, lock, unlock and delete API keys.
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Generate events, load a server, time searches; `bench all` does everything on a temporary server.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Create, list, show, change and delete saved views.
    Views {
        #[command(subcommand)]
        command: alerts::ViewsCommand,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Create, list, change, test and delete alerts, and show their history.
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Send the events of files, log segments or an archive to a server again, byte for byte, through the normal
    /// ingest path: events already there are reported as duplicates. Exit status 1 if any event was rejected or
    /// any source could not be read.
    Import(import::ImportArgs),
    /// Create, list, show, change and delete boards, and draw their graphs.
    Boards {
        #[command(subcommand)]
        command: boards::BoardsCommand,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Forward the account's events to a SIEM: create, list, show, change and delete routes, and see how far
    /// each has delivered (`routes status`).
    Routes {
        #[command(subcommand)]
        command: routes::RoutesCommand,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// A principal's timeline (`principal X`) or a resource's history (`resource Y`).
    Investigate {
        #[command(subcommand)]
        command: investigate::InvestigateCommand,
        /// Print the server's JSON answer.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Rebuild index partitions from the log (the server must not be running on the directory).
    Reindex(ReindexArgs),
    /// Check a data directory, an export or an archive offline: records, signed checkpoints, links between segments.
    /// Exit status 0 valid, 1 integrity failure, 2 usage error.
    Verify(verify::VerifyArgs),
    /// Print a shell completion script: `acta completions bash > ~/.local/share/bash-completion/completions/acta`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The data directory.
    #[arg(long, env = "ACTA_DATA", default_value = "acta-data")]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "ACTA_LISTEN", default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
    #[command(flatten)]
    signing: SigningArgs,
    #[command(flatten)]
    alerts: AlertArgs,
    /// A directory under which managers may keep instance archives (repeatable). Without one, directory
    /// archives are refused, so a manager cannot make the server write anywhere it can.
    #[arg(long = "archive-root", value_name = "DIR")]
    archive_roots: Vec<PathBuf>,
    /// Networks an S3 archive endpoint may reach although loopback, private or link-local (comma-separated
    /// CIDRs), for a store on this host or the operator's network. Without it, managers cannot make the server
    /// connect to such addresses. Separate from --webhook-allow: an internal chat relay is not a storage host.
    #[arg(long = "archive-endpoint-allow", env = "ACTA_ARCHIVE_ENDPOINT_ALLOW", value_name = "CIDRS")]
    archive_endpoint_allow: Option<String>,
    /// Minutes between retention runs (one also runs at start); sealed segments are archived every minute.
    #[arg(long = "retention-period-minutes", env = "ACTA_RETENTION_PERIOD_MINUTES", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    retention_period_minutes: u64,
    /// A directory under which routes may write NDJSON files (`directory` destinations). Without it, such routes
    /// are refused, so a manager cannot make the server write anywhere it can.
    #[arg(long = "forward-dir", env = "ACTA_FORWARD_DIR", value_name = "DIR")]
    forward_dir: Option<PathBuf>,
    /// Answer `GET /metrics` only with the platform admin key (it is open by default, like most exporters).
    #[arg(long, env = "ACTA_METRICS_REQUIRE_KEY")]
    metrics_require_key: bool,
    /// Run as a node of a cluster whose events and metadata live in this PostgreSQL
    /// (`postgres://user:password@host:5432/database`); the data directory then holds this node's copy of the
    /// log and its index, rebuilt from the cluster when lost. Give each node its own --node-name.
    #[arg(long, env = "ACTA_POSTGRES_URL", value_name = "URL")]
    postgres: Option<String>,
    /// With --postgres: where the cluster keeps sealed days, `s3://bucket/prefix` (endpoint, region and
    /// credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; AWS_ALLOW_HTTP=true
    /// for plain http) or `file:///path` for a single host. A closed day is written there and dropped from
    /// PostgreSQL; a node lacking a day takes it from there. Without it PostgreSQL keeps every day.
    #[arg(long, env = "ACTA_OBJECT_STORE", value_name = "URL", requires = "postgres")]
    object_store: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// What one client may take of the server; docs/limits.md says what a client sees at each.
#[derive(clap::Args)]
struct LimitArgs {
    /// Largest request body, in MiB (413 above).
    #[arg(long = "max-body-mib", env = "ACTA_MAX_BODY_MIB", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_body_mib: u64,
    /// Seconds a search, count or aggregation may run (503 query_deadline after).
    #[arg(long = "query-deadline-secs", env = "ACTA_QUERY_DEADLINE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    query_deadline_secs: u64,
    /// Seconds a connection may take to send a whole request head, and may stay idle between requests; the
    /// connection is closed after.
    #[arg(long = "header-read-timeout-secs", env = "ACTA_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_read_timeout_secs: u64,
    /// Seconds a request body may pause between two chunks.
    #[arg(long = "body-idle-timeout-secs", env = "ACTA_BODY_IDLE_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_idle_timeout_secs: u64,
    /// Seconds from a request's head to the head of its answer (408 request_timeout after); streamed answers
    /// (tail, export) are not cut once started. Keep it above --query-deadline-secs.
    #[arg(long = "request-timeout-secs", env = "ACTA_REQUEST_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    request_timeout_secs: u64,
    /// Connections served at once; further clients wait in the listen queue.
    #[arg(long = "max-connections", env = "ACTA_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// MiB of ingest bodies (POST /v1/events, _bulk) received or processed at once (503 ingest_busy above).
    #[arg(long = "max-ingest-in-flight-mib", env = "ACTA_MAX_INGEST_IN_FLIGHT_MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    max_ingest_in_flight_mib: u64,
    /// Searches (search, count, histogram, terms, export pages, board counts) running at once. Default: half
    /// the CPUs, at least 2.
    #[arg(long = "max-concurrent-searches", env = "ACTA_MAX_CONCURRENT_SEARCHES",
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_concurrent_searches: Option<u64>,
    /// Seconds a search waits for a place before it is answered 503 search_busy.
    #[arg(long = "search-queue-wait-secs", env = "ACTA_SEARCH_QUEUE_WAIT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    search_queue_wait_secs: u64,
    /// Requests per second per API key (429 rate_limited above); 0 turns the limit off.
    #[arg(long = "key-rate-limit", env = "ACTA_KEY_RATE_LIMIT", default_value_t = 1000)]
    key_rate_limit: u32,
    /// Requests a key may send at once above its rate.
    #[arg(long = "key-rate-burst", env = "ACTA_KEY_RATE_BURST", default_value_t = 2000)]
    key_rate_burst: u32,
    /// Refuse client batches (507, with Retry-After) while less than this is free on the data directory's
    /// device, so retention, archives and Acta's own records still have room; accepted again by themselves
    /// once space is freed. A size such as 64MiB, 1GB or 0 (refuse only when the device is full).
    #[arg(long = "min-free-space", env = "ACTA_MIN_FREE_SPACE", value_name = "SIZE", default_value = "64MiB",
          value_parser = parse_size)]
    min_free_space: u64,
}

impl LimitArgs {
    fn limits(&self, metrics_require_key: bool) -> acta_server::Limits {
        let mib = |n: u64| usize::try_from(n.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        let defaults = acta_server::Limits::default();
        acta_server::Limits {
            max_body_bytes: mib(self.max_body_mib),
            query_deadline: Duration::from_secs(self.query_deadline_secs),
            metrics_require_key,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout_secs),
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_ingest_bytes_in_flight: mib(self.max_ingest_in_flight_mib),
            max_concurrent_searches: self
                .max_concurrent_searches
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(defaults.max_concurrent_searches),
            search_queue_wait: Duration::from_secs(self.search_queue_wait_secs),
            key_rate_per_second: self.key_rate_limit,
            key_rate_burst: self.key_rate_burst,
            min_free_bytes: self.min_free_space,
            ..defaults
        }
    }
}

/// A size in bytes, with an optional unit (`64MiB`, `1 GB`, `4096`).
fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|error| format!("{error} (expected a size such as 64MiB, 1GB or 0)"))
}

/// Where checkpoints are signed from.
#[derive(clap::Args)]
struct SigningArgs {
    /// The checkpoint signing key, created on first start (mode 0600). Keep it outside the data directory.
    /// Default: $XDG_CONFIG_HOME/acta/signing-key, else ~/.config/acta/signing-key.
    #[arg(long = "signing-key", env = "ACTA_SIGNING_KEY", value_name = "PATH")]
    signing_key: Option<PathBuf>,
    /// This node's name in checkpoint origins (`<node>/<account>/<instance>/<day>`) and new keys.
    /// Default: the host name, else "acta".
    #[arg(long = "node-name", alias = "node", env = "ACTA_NODE_NAME")]
    node_name: Option<String>,
    /// Milliseconds between checkpoints of a segment that receives events.
    #[arg(long = "checkpoint-interval-ms", env = "ACTA_CHECKPOINT_INTERVAL_MS", default_value_t = 1000)]
    checkpoint_interval_ms: u64,
}

impl SigningArgs {
    fn options(&self) -> anyhow::Result<acta_store::IntegrityOptions> {
        let signing_key = match &self.signing_key {
            Some(path) => path.clone(),
            None => default_signing_key().ok_or_else(|| {
                anyhow::anyhow!(
                    "no home directory to keep the signing key in: pass --signing-key or set ACTA_SIGNING_KEY"
                )
            })?,
        };
        let node = self.node_name.clone().unwrap_or_else(default_node_name);
        let mut options = acta_store::IntegrityOptions::new(signing_key, node);
        options.interval = Duration::from_millis(self.checkpoint_interval_ms.max(1));
        Ok(options)
    }
}

/// `$XDG_CONFIG_HOME/acta/signing-key`, else `~/.config/acta/signing-key`: next to the CLI's config, and
/// outside any data directory.
fn default_signing_key() -> Option<PathBuf> {
    let config =
        std::env::var_os("XDG_CONFIG_HOME").filter(|dir| !dir.is_empty()).map(PathBuf::from).or_else(|| {
            std::env::var_os("HOME").filter(|home| !home.is_empty()).map(|home| PathBuf::from(home).join(".config"))
        })?;
    Some(config.join("acta").join("signing-key"))
}

/// The host name when it can be an origin part (no '/', '+', whitespace), else "acta".
fn default_node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .unwrap_or_default();
    let usable =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if usable { host } else { "acta".to_owned() }
}

/// Operator settings of alert notifications.
#[derive(clap::Args, Clone, Default)]
pub(crate) struct AlertArgs {
    /// SMTP relay for alert emails: smtp://host:25 (plain), smtp://host:587?tls=required (STARTTLS),
    /// smtps://user:password@host:465 (TLS); credentials go in the URL.
    #[arg(long, env = "ACTA_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The From address of alert emails.
    #[arg(long, env = "ACTA_SMTP_FROM", default_value = "acta@localhost")]
    smtp_from: String,
    /// Networks webhooks may reach although loopback, private or link-local (comma-separated CIDRs).
    #[arg(long, env = "ACTA_WEBHOOK_ALLOW")]
    webhook_allow: Option<String>,
    /// Seconds between two computations of insights (unusual hours of each account, docs/insights.md).
    #[arg(long, env = "ACTA_INSIGHT_PERIOD", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    insight_period: Option<u64>,
}

impl AlertArgs {
    pub(crate) fn settings(&self) -> anyhow::Result<acta_server::AlertSettings> {
        let webhook_allow = match &self.webhook_allow {
            Some(text) => {
                acta_server::parse_allowlist(text).map_err(|error| anyhow::anyhow!("--webhook-allow: {error}"))?
            }
            None => Vec::new(),
        };
        let smtp_url = self.smtp_url.clone().filter(|url| !url.trim().is_empty());
        Ok(acta_server::AlertSettings {
            smtp_url,
            smtp_from: self.smtp_from.clone(),
            webhook_allow,
            insight_period: self
                .insight_period
                .map_or(acta_server::AlertSettings::default().insight_period, std::time::Duration::from_secs),
            ..acta_server::AlertSettings::default()
        })
    }
}

#[derive(clap::Args)]
struct DemoArgs {
    /// The data directory (must be new or empty).
    #[arg(long, default_value = "acta-demo")]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
    #[command(flatten)]
    signing: SigningArgs,
    /// SMTP relay and webhook settings, as for `serve` (with SMTP, the demo adds an email alert).
    #[command(flatten)]
    alerts: AlertArgs,
    /// Run a cluster of N nodes instead: a local PostgreSQL (Debian's `postgresql` package) in the data
    /// directory, and N nodes listening from --listen's port upwards.
    #[arg(long, value_name = "N")]
    cluster: Option<u16>,
}

#[derive(clap::Args)]
struct ReindexArgs {
    /// The data directory.
    #[arg(long, env = "ACTA_DATA", default_value = "acta-data")]
    data: PathBuf,
    /// Only this instance.
    #[arg(long)]
    instance: Option<String>,
    /// Only this arrival day (YYYY-MM-DD).
    #[arg(long)]
    day: Option<String>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Before the runtime starts its threads: reading the local zone is the process's business alone here.
    output::init(cli.utc);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let connection = cli.connection;
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => match args.cluster {
            Some(nodes) => {
                demo::run_cluster(nodes, args.data, args.listen, args.signing.options()?, args.alerts.settings()?).await
            }
            None => demo::run(args.data, args.listen, args.signing.options()?, args.alerts.settings()?).await,
        },
        Command::Events { command } => events::run(command, &connection).await,
        Command::Accounts { command, json } => admin::accounts(&connection.client()?, command, json).await,
        Command::Instances { command, json } => admin::instances(&connection.client()?, command, json).await,
        Command::Keys { command, json } => admin::keys(&connection.client()?, command, json).await,
        Command::Bench { command } => bench::run(command, &connection).await,
        Command::Views { command, json } => alerts::views(&connection.client()?, command, json).await,
        Command::Alerts { command, json } => alerts::alerts(&connection.client()?, command, json).await,
        Command::Boards { command, json } => boards::boards(&connection.client()?, command, json).await,
        Command::Routes { command, json } => routes::routes(&connection.client()?, command, json).await,
        Command::Investigate { command, json } => investigate::investigate(&connection.client()?, command, json).await,
        Command::Reindex(args) => reindex(args).await,
        Command::Verify(args) => verify::run_source(args).await,
        Command::Import(args) => import::run(args, &connection).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Into a buffer first: clap_complete panics when its writer fails, and a reader that stops early
            // (`acta completions bash | head`) closes the pipe, which is no error of ours.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "acta", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
                _ => Ok(std::process::ExitCode::SUCCESS),
            }
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACTA_LOG")
        // tantivy logs every commit (about once a second per partition) at info, and sqlx every PostgreSQL notice
        // ("relation ... already exists, skipping" at each start of a cluster node): noise to an operator.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tantivy=warn,sqlx=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// The clock of arrival times and retention. Debug builds only, a test knob for the console's browser tests,
/// which drive the real binary: `ACTA_TEST_CLOCK_OFFSET_DAYS=20` restarts a server "20 days later", so its
/// earlier days fall out of a shorter plan. Release builds ignore the variable: no setting of a production
/// server can make it delete early.
fn test_clock() -> anyhow::Result<acta_server::Clock> {
    #[cfg(debug_assertions)]
    if let Ok(text) = std::env::var("ACTA_TEST_CLOCK_OFFSET_DAYS") {
        let days: i64 =
            text.trim().parse().ok().filter(|days: &i64| (-3650..=3650).contains(days)).with_context(|| {
                format!("ACTA_TEST_CLOCK_OFFSET_DAYS {text:?} must be a whole number of days (+/-3650)")
            })?;
        tracing::warn!(days, "test knob: the retention and arrival clock is shifted");
        let offset = days * 86_400_000_000_000;
        return Ok(acta_server::Clock(std::sync::Arc::new(move || acta_server::now_ns() + offset)));
    }
    Ok(acta_server::Clock::default())
}

async fn serve(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    init_logging();
    let integrity = args.signing.options()?;
    let mut archive_roots = Vec::new();
    for root in &args.archive_roots {
        std::fs::create_dir_all(root).with_context(|| format!("--archive-root {}", root.display()))?;
        archive_roots.push(root.canonicalize().with_context(|| format!("--archive-root {}", root.display()))?);
    }
    let archive_endpoint_allow = match &args.archive_endpoint_allow {
        Some(text) => {
            acta_server::parse_allowlist(text).map_err(|error| anyhow::anyhow!("--archive-endpoint-allow: {error}"))?
        }
        None => Vec::new(),
    };
    let retention = acta_server::RetentionSettings {
        period: std::time::Duration::from_secs(args.retention_period_minutes * 60),
        archive_roots,
        archive_endpoint_allow,
        clock: test_clock()?,
        ..acta_server::RetentionSettings::default()
    };
    let limits = args.limits.limits(args.metrics_require_key);
    let mut forwarding = acta_server::ForwardSettings::default();
    if let Some(dir) = &args.forward_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("--forward-dir {}", dir.display()))?;
        forwarding.dir = Some(dir.canonicalize().with_context(|| format!("--forward-dir {}", dir.display()))?);
    }
    let cluster = args.postgres.clone().map(|postgres_url| acta_store::cluster::ClusterOptions {
        postgres_url,
        node: integrity.node.clone(),
        object_store: args.object_store.clone(),
    });
    let settings = Settings { alerts: args.alerts.settings()?, retention, limits, forwarding, cluster };
    let running = start_server(args.data.clone(), args.listen, integrity, settings).await?;
    println!("acta listening on http://{}", running.addr);
    if let Some(key) = &running.created_admin_key {
        println!("platform admin key (shown once, also in {}): {key}", args.data.join("admin-key").display());
    }
    tokio::select! {
        result = shutdown_signal() => { result?; }
    }
    running.stop().await.context("stopping the server")?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The operator's settings of a server `serve` and `demo` start.
pub(crate) struct Settings {
    pub(crate) alerts: acta_server::AlertSettings,
    pub(crate) retention: acta_server::RetentionSettings,
    pub(crate) limits: acta_server::Limits,
    pub(crate) forwarding: acta_server::ForwardSettings,
    pub(crate) cluster: Option<acta_store::cluster::ClusterOptions>,
}

pub(crate) async fn start_server(
    data: PathBuf,
    listen: SocketAddr,
    integrity: acta_store::IntegrityOptions,
    settings: Settings,
) -> anyhow::Result<acta_server::Running> {
    let config = acta_server::ServerConfig {
        data_dir: data.clone(),
        listen,
        bootstrap_key: std::env::var("ACTA_BOOTSTRAP_KEY").ok(),
        limits: settings.limits,
        integrity: Some(integrity),
        alerts: settings.alerts,
        retention: settings.retention,
        forwarding: settings.forwarding,
        cluster: settings.cluster,
    };
    acta_server::start(config)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("starting on {} with data in {}", listen, data.display()))
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

async fn reindex(args: ReindexArgs) -> anyhow::Result<std::process::ExitCode> {
    init_logging();
    let store = acta_store::Store::open(&args.data, acta_store::StoreOptions::default())
        .await
        .with_context(|| format!("opening {}", args.data.display()))?;
    let day = args
        .day
        .as_deref()
        .map(str::parse::<acta_store::Day>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--day: {e}"))?;
    let log = store.log().clone();
    let index = store.index().clone();
    let instance_filter = args.instance.clone();
    let rebuilt = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut rebuilt = 0;
        for instance in log.instances() {
            if instance_filter.as_ref().is_some_and(|only| only != &instance) {
                continue;
            }
            for segment in log.segments(&instance) {
                if day.is_some_and(|only| only != segment.day) {
                    continue;
                }
                index.rebuild(&instance, segment.day)?;
                println!("rebuilt {instance}/{} ({} events)", segment.day, segment.records);
                rebuilt += 1;
            }
        }
        Ok(rebuilt)
    })
    .await??;
    store.close().await;
    println!("{rebuilt} partitions rebuilt");
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_subcommand_has_unique_argument_names() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
