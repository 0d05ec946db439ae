//! `acta bench all`: the single command that gives every figure. It starts `acta serve` (this very binary) on a
//! fresh temporary directory on 127.0.0.1 (allowing webhooks to 127.0.0.1), generates the events in memory,
//! ingests them, waits until they are searchable, measures the data directory, runs the queries, measures
//! immediate alerts' webhook latency, reads the server's peak RSS, stops the server,
//! then seals the log to show the size a finished day takes, and removes the directory (unless `--keep`).
//!
//! The server is a separate process so that its RSS is its own, and it is stopped with SIGTERM so that the
//! index makes its final commit as in production.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;

use super::alert::{self, AlertArgs, AlertReport};
use super::ingest::{self, Batches, IngestReport, LoadArgs};
use super::query::{self, QueryReport, RunArgs};
use super::{DataSet, Memory, Storage, memory, print_memory};
use crate::client::Client;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(120);
const NANOS_PER_DAY: i64 = 86_400_000_000_000;

#[derive(clap::Args)]
pub(crate) struct AllArgs {
    /// How many events to generate and ingest.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    data_set: DataSet,
    #[command(flatten)]
    runs: RunArgs,
    #[command(flatten)]
    alert: AlertArgs,
    /// Skip the alert measurement.
    #[arg(long)]
    no_alert: bool,
    /// Many tenants: create this many accounts, each with its own writer key, and send event i with the key
    /// of account i mod N (so each account holds events/N). Searchable is then when the server's index lag is
    /// 0, every account's count is checked against what it was sent, the queries run with the first account's
    /// key, and the alert measurement is skipped.
    #[arg(long)]
    tenants: Option<u32>,
    /// Where to create the temporary data directory (default: the system's temporary directory). Put it on
    /// the disk you want to measure: fsync cost depends on it.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the data directory afterwards (its path is printed).
    #[arg(long)]
    keep: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct AllReport {
    events: u64,
    days: u32,
    accounts: u32,
    seed: u64,
    /// Cores the tool saw (client and server share them).
    cores: usize,
    server_pid: u32,
    data_dir: PathBuf,
    kept: bool,
    ingest: IngestReport,
    queries: QueryReport,
    /// Immediate alerts, after the queries (absent with `--no-alert`, or with the reason it failed in `alert_note`).
    alert: Option<AlertReport>,
    alert_note: String,
    /// After the server stopped and today's log segment was sealed (compressed), as any finished day is.
    storage_sealed: Option<Storage>,
    /// Peak and current RSS of the server after the queries.
    server_memory: Option<Memory>,
    /// Accounts created (`--tenants`), 0 without.
    tenants: u32,
    /// With `--tenants`: accounts whose count differed from the events sent to them.
    tenant_count_mismatches: Option<u64>,
    /// With `--tenants`: the server's RSS before and after the accounts were created (no events yet).
    tenant_creation_rss: Option<TenantCreation>,
    /// The most threads and open files the server had, sampled every 100 ms from the start of the load.
    server_peaks: Peaks,
}

/// What creating the accounts of `--tenants` cost in memory.
#[derive(Debug, Clone, Copy, Serialize)]
struct TenantCreation {
    rss_before_bytes: u64,
    rss_after_bytes: u64,
}

/// The most threads and open files a process had while sampled, and its largest resident memory of each kind:
/// anonymous (heap: what the process allocated) and file-backed (the index's memory-mapped files, which the
/// kernel can drop and read again). VmHWM is at most their sum.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Peaks {
    threads: u64,
    open_files: u64,
    rss_anon_bytes: u64,
    rss_file_bytes: u64,
}

/// Samples `/proc/<pid>` every 100 ms until `stop`, and returns the peaks.
fn sample_peaks(pid: u32, stop: Arc<std::sync::atomic::AtomicBool>) -> std::thread::JoinHandle<Peaks> {
    std::thread::spawn(move || {
        let mut peaks = Peaks::default();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |name: &str| -> u64 {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                    .unwrap_or(0)
            };
            let files = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|entries| entries.count() as u64).ok();
            peaks.threads = peaks.threads.max(field("Threads:"));
            peaks.open_files = peaks.open_files.max(files.unwrap_or(0));
            peaks.rss_anon_bytes = peaks.rss_anon_bytes.max(field("RssAnon:") * 1024);
            peaks.rss_file_bytes = peaks.rss_file_bytes.max(field("RssFile:") * 1024);
            std::thread::sleep(Duration::from_millis(100));
        }
        peaks
    })
}

pub(crate) async fn command(args: AllArgs) -> anyhow::Result<ExitCode> {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut server = LocalServer::start(&parent, args.keep).await?;
    eprintln!("acta serve started: pid {}, {}, data in {}", server.pid, server.url, server.data.display());
    let result = measure(&args, &mut server).await;
    if let Err(error) = server.stop().await {
        eprintln!("warning: {error:#}");
    }
    let mut report = result?;
    report.storage_sealed = match seal_and_measure(&server.data, &report.ingest).await {
        Ok(storage) => Some(storage),
        Err(error) => {
            eprintln!("warning: sealing the log to measure it failed: {error:#}");
            None
        }
    };
    report.kept = args.keep;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    let clean = report.ingest.failed_events == 0 && report.ingest.rejected == 0;
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn measure(args: &AllArgs, server: &mut LocalServer) -> anyhow::Result<AllReport> {
    let spec = args.data_set.spec(args.events, acta_server::now_ns());
    let client = Arc::new(Client::new(&server.url, server.key.clone(), true)?);
    let before_tenants = memory(server.pid);
    let tenant_keys = match args.tenants {
        Some(tenants) => create_tenants(&client, tenants).await?,
        None => Vec::new(),
    };
    let after_tenants = memory(server.pid);
    let tenant_creation_rss = before_tenants
        .zip(after_tenants)
        .filter(|_| !tenant_keys.is_empty())
        .map(|(before, after)| TenantCreation { rss_before_bytes: before.rss_bytes, rss_after_bytes: after.rss_bytes });
    let started = Instant::now();
    let batch = args.load.batch;
    let keys = tenant_keys.clone();
    let batches = tokio::task::spawn_blocking(move || {
        if keys.is_empty() {
            Batches::generate(&spec, batch)
        } else {
            Batches::generate_for_accounts(&spec, batch, &keys)
        }
    })
    .await
    .context("generating events")?;
    eprintln!("generated {} events in {:.1} s", batches.events(), started.elapsed().as_secs_f64());

    // Its own server has only the default account: without tenants, the generated events all go there.
    let mut load = args.load.clone();
    if tenant_keys.is_empty() {
        load.account.get_or_insert_with(|| "default".to_string());
    }
    let stop_sampling = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_peaks(server.pid, stop_sampling.clone());
    let mut ingest = ingest::run(std::slice::from_ref(&client), Arc::new(batches), &load).await?;
    let tenant_count_mismatches = if tenant_keys.is_empty() {
        None
    } else {
        Some(check_tenant_counts(&client, &tenant_keys, args.events).await?)
    };
    ingest.server_memory = memory(server.pid);
    let stored = ingest.searchable.counted.unwrap_or(ingest.accepted);
    ingest.storage = Some(Storage::measure(
        &server.data,
        stored,
        Some(ingest.accepted_raw_bytes),
        "while serving: today's log segment is not compressed until the day is over",
    )?);
    if !args.json {
        ingest::print(&ingest);
    }
    // The peak after the queries is reported once, at the top level of the report.
    let query_client = match tenant_keys.first() {
        Some(key) => Arc::new(Client::new(&server.url, key.clone(), true)?),
        None => client.clone(),
    };
    let queries = query::run(&query_client, &args.runs).await?;
    if !args.json {
        query::print(&queries);
    }
    let (alert, alert_note) = if args.no_alert {
        (None, "skipped (--no-alert)".to_string())
    } else if !tenant_keys.is_empty() {
        (None, "skipped (--tenants)".to_string())
    } else {
        match alert::run(&client, &args.alert, Some("default")).await {
            Ok(report) => (Some(report), String::new()),
            Err(error) => (None, format!("failed: {error:#}")),
        }
    };
    let server_memory = memory(server.pid);
    stop_sampling.store(true, std::sync::atomic::Ordering::Relaxed);
    let server_peaks = sampler.join().unwrap_or_default();
    Ok(AllReport {
        events: args.events,
        days: args.data_set.days,
        accounts: args.data_set.accounts,
        seed: args.data_set.seed,
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        server_pid: server.pid,
        data_dir: server.data.clone(),
        kept: args.keep,
        ingest,
        queries,
        alert,
        alert_note,
        storage_sealed: None,
        server_memory,
        tenants: args.tenants.unwrap_or(0),
        tenant_count_mismatches,
        tenant_creation_rss,
        server_peaks,
    })
}

/// Creates `tenants` accounts (`bench-0000`, ...), each with a writer key; returns the keys.
async fn create_tenants(admin: &Client, tenants: u32) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let mut keys = Vec::with_capacity(tenants as usize);
    for n in 0..tenants {
        let id = format!("bench-{n:04}");
        admin
            .send(admin.post("/v1/accounts").json(&serde_json::json!({"id": id, "name": format!("Bench {n}")})))
            .await
            .with_context(|| format!("creating account {id}"))?;
        let body = serde_json::json!({"account": id, "name": "bench", "role": "writer", "principal": "bench"});
        let key = admin.json(admin.post("/v1/keys").json(&body)).await.with_context(|| format!("key of {id}"))?;
        let secret = key["secret"].as_str().ok_or_else(|| anyhow!("no secret in the key answer: {key}"))?;
        keys.push(secret.to_string());
    }
    eprintln!("created {tenants} accounts with a key each in {:.1} s", started.elapsed().as_secs_f64());
    Ok(keys)
}

/// Counts every account's events with its own key: each must hold exactly its share (event i is account
/// i mod N's) and no one else's. Returns how many accounts differ, and says which.
async fn check_tenant_counts(admin: &Client, keys: &[String], events: u64) -> anyhow::Result<u64> {
    let tenants = keys.len() as u64;
    let mut mismatches = 0;
    for (n, key) in (0u64..).zip(keys) {
        let client = Client::new(admin.url(), key.clone(), true)?;
        // Only the generated events: the account also holds Acta's own audit events, whose observer has an id.
        let answer = client.json(client.get("/v1/events/count").query(&[("q", "-observer.id:*")])).await?;
        let expected = events / tenants + u64::from(n < events % tenants);
        let counted = answer["count"].as_u64().unwrap_or(0);
        if counted != expected {
            mismatches += 1;
            eprintln!("account bench-{n:04}: {counted} events searchable, {expected} sent");
        }
    }
    Ok(mismatches)
}

/// Opens the stopped server's log with a clock one day ahead, which seals today's segment into zstd blocks as
/// the server does once a day is over, and measures the directory again.
async fn seal_and_measure(data: &Path, ingest: &IngestReport) -> anyhow::Result<Storage> {
    let log_dir = data.join("log");
    let tomorrow = acta_server::now_ns() + NANOS_PER_DAY;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let options = acta_store::LogOptions { clock: Arc::new(move || tomorrow), ..acta_store::LogOptions::default() };
        let log = acta_store::Log::open(&log_dir, options).context("opening the log")?;
        log.seal_before(acta_store::Day::from_ns(tomorrow)).context("sealing")?;
        Ok(())
    })
    .await
    .context("the sealing task failed")??;
    let stored = ingest.searchable.counted.unwrap_or(ingest.accepted);
    Storage::measure(
        data,
        stored,
        Some(ingest.accepted_raw_bytes),
        "after stopping the server and sealing the day's log segment with zstd, as every past day is stored",
    )
}

fn print(report: &AllReport) {
    match &report.alert {
        Some(alert) => alert::print(alert),
        None => println!("alert: {}", report.alert_note),
    }
    if let Some(storage) = &report.storage_sealed {
        storage.print("sealed");
    }
    print_memory(report.server_memory.as_ref());
    let peaks = &report.server_peaks;
    println!(
        "  {:<13}peak {} threads, {} open files, RSS anonymous {} and file-backed {} (sampled every 100 ms)",
        "server",
        peaks.threads,
        peaks.open_files,
        super::human_bytes(peaks.rss_anon_bytes),
        super::human_bytes(peaks.rss_file_bytes),
    );
    if let Some(mismatches) = report.tenant_count_mismatches {
        println!("  {:<13}{} accounts, {mismatches} with a count other than sent", "tenants", report.tenants);
    }
    if let Some(creation) = report.tenant_creation_rss {
        println!(
            "  {:<13}server RSS {} before creating the accounts, {} after (no events yet)",
            "",
            super::human_bytes(creation.rss_before_bytes),
            super::human_bytes(creation.rss_after_bytes)
        );
    }
    if report.kept {
        println!("  {:<13}{}", "data kept in", report.data_dir.display());
    }
}

/// `acta serve` as a child process on a temporary directory.
struct LocalServer {
    child: Option<Child>,
    pid: u32,
    url: String,
    key: String,
    /// The temporary directory (holds `data/` and the server's output).
    root: PathBuf,
    data: PathBuf,
    keep: bool,
}

impl LocalServer {
    async fn start(parent: &Path, keep: bool) -> anyhow::Result<LocalServer> {
        let root = parent.join(format!("acta-bench-{}-{}", std::process::id(), acta_server::now_ns()));
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let data = root.join("data");
        let key = format!("acta-bench-{}", random_hex()?);
        let exe = std::env::current_exe().context("finding the acta binary")?;
        let mut last_error = None;
        // A port found free can be taken before the server binds it: try a few.
        for attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .context("finding a free port on 127.0.0.1")?
                .port();
            let stderr_path = root.join(format!("serve-{attempt}.stderr"));
            let child = Command::new(&exe)
                .arg("serve")
                .arg("--data")
                .arg(&data)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .env("ACTA_BOOTSTRAP_KEY", &key)
                // The alert measurement's webhook receiver listens on 127.0.0.1, which the SSRF guard refuses
                // unless allowed.
                .env("ACTA_WEBHOOK_ALLOW", "127.0.0.1/32")
                .env("ACTA_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr_path).context("creating the server's log file")?)
                .spawn()
                .context("starting acta serve")?;
            let mut server = LocalServer {
                pid: child.id(),
                child: Some(child),
                url: format!("http://127.0.0.1:{port}"),
                key: key.clone(),
                root: root.clone(),
                data: data.clone(),
                keep,
            };
            match server.wait_healthy(&stderr_path).await {
                Ok(()) => return Ok(server),
                Err(error) => {
                    // Keep the directory for the next attempt: the drop would remove it.
                    server.keep = true;
                    drop(server);
                    last_error = Some(error);
                }
            }
        }
        if !keep {
            let _ = std::fs::remove_dir_all(&root);
        }
        Err(last_error.unwrap_or_else(|| anyhow!("acta serve did not start")))
    }

    async fn wait_healthy(&mut self, stderr_path: &Path) -> anyhow::Result<()> {
        let probe = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .context("building the HTTP client")?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("waiting for acta serve")?
            {
                self.child = None;
                let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
                bail!("acta serve exited with {status}:\n{stderr}");
            }
            let healthy = probe
                .get(format!("{}/healthz", self.url))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if healthy {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("acta serve did not answer /healthz within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM (through `kill`, as the workspace forbids `unsafe` and so direct `libc` calls), then SIGKILL if
    /// it has not ended in time.
    async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let signalled = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        let deadline = Instant::now() + if signalled { STOP_TIMEOUT } else { Duration::ZERO };
        loop {
            if child.try_wait().context("waiting for acta serve")?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("acta serve did not stop on SIGTERM; killed it");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// 16 random bytes as hex, for the temporary server's admin key.
fn random_hex() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}
