//! `acta bench ...`: measure a deployment, like `pgbench` or `redis-benchmark`.
//!
//! - `generate` writes a realistic, seeded CADF data set ([`generate`]).
//! - `ingest` loads a server over HTTP, closed or open loop, and reports throughput, ack latency and the time
//!   until the last event is searchable ([`ingest`]).
//! - `query` times a fixed set of searches ([`query`]).
//! - `alert` times immediate alerts from the ingest answer to the webhook's arrival ([`alert`]).
//! - `all` starts its own server on a temporary directory on 127.0.0.1 with this very binary and runs the four,
//!   adding storage per event and the server's peak RSS ([`all`]).
//!
//! Timings are wall-clock and meant for reports; no test asserts on them. Every wait of this module is bounded
//! by a timeout.

mod alert;
mod all;
pub(crate) mod generate;
mod ingest;
mod query;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;

use crate::client::Connection;

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Write N realistic CADF events (IBM Activity Tracker style) as NDJSON, deterministic for a seed.
    Generate(GenerateArgs),
    /// Send events to a server; report events/s, MB/s, ack latency and the time until they are searchable.
    Ingest {
        #[command(flatten)]
        args: ingest::IngestArgs,
    },
    /// Run a fixed set of searches N times each; report p50/p99 per query.
    Query {
        #[command(flatten)]
        args: query::QueryArgs,
    },
    /// Send probe events that fire immediate webhook alerts to a receiver on 127.0.0.1; report the latency from
    /// each ingest answer to the webhook's arrival, and lost notifications.
    Alert {
        #[command(flatten)]
        args: alert::AlertCommandArgs,
    },
    /// Start a server on a temporary directory (127.0.0.1), then generate, ingest, query and alert; report
    /// everything.
    All(all::AllArgs),
}

/// The shape of a generated data set.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct DataSet {
    /// Spread event times over the last D days.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Number of distinct accounts in the events' CRNs (Pareto-distributed).
    #[arg(long, default_value_t = 50)]
    accounts: u32,
    /// The seed: the same seed, count, days, accounts and end give the same events.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl DataSet {
    fn spec(&self, count: u64, end_ns: i64) -> generate::Spec {
        generate::Spec { count, days: self.days.max(1), accounts: self.accounts.max(1), seed: self.seed, end_ns }
    }
}

#[derive(clap::Args)]
pub(crate) struct GenerateArgs {
    /// How many events.
    count: u64,
    #[command(flatten)]
    data_set: DataSet,
    /// The latest event time (RFC 3339); now when absent. Fix it to reproduce a file byte for byte.
    #[arg(long)]
    end: Option<String>,
    /// Output file (standard output when absent).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// A server to observe besides talking to it over HTTP.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct ServerProbe {
    /// The server's process id, to report its peak RSS from /proc/<pid>/status (local servers only). Without
    /// it the peak comes from the server's `GET /metrics` process gauges.
    #[arg(long)]
    pid: Option<u32>,
    /// The server's data directory, to report bytes on disk per event (use a fresh one for exact figures).
    #[arg(long)]
    data: Option<PathBuf>,
}

pub(crate) async fn run(command: BenchCommand, connection: &Connection) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Generate(args) => generate_command(&args),
        BenchCommand::Ingest { args } => ingest::command(args, connection).await,
        BenchCommand::Query { args } => query::command(args, connection).await,
        BenchCommand::Alert { args } => alert::command(args, connection).await,
        BenchCommand::All(args) => all::command(args).await,
    }
}

fn generate_command(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let end_ns = match &args.end {
        Some(text) => acta_cadf::parse_time(text).map_err(|error| anyhow::anyhow!("--end: {error}"))?,
        None => acta_server::now_ns(),
    };
    let spec = args.data_set.spec(args.count, end_ns);
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, sink);
    for index in 0..spec.count {
        let line = generate::event(&spec, index);
        sink.write_all(line.as_bytes()).context("writing events")?;
        sink.write_all(b"\n").context("writing events")?;
    }
    sink.flush().context("writing events")?;
    if let Some(path) = &args.output {
        eprintln!("{} events written to {}", spec.count, path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Latency percentiles in milliseconds (nearest rank), over `samples` requests.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub(crate) struct Latency {
    pub(crate) samples: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) mean_ms: f64,
}

impl Latency {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rank = |p: f64| {
            // Nearest rank: the smallest sample with at least p of the samples at or below it.
            let index = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            ms(samples[index])
        };
        let total: Duration = samples.iter().sum();
        Latency {
            samples: samples.len(),
            p50_ms: rank(0.50),
            p90_ms: rank(0.90),
            p99_ms: rank(0.99),
            max_ms: samples.last().copied().map(ms).unwrap_or_default(),
            mean_ms: ms(total) / samples.len() as f64,
        }
    }
}

/// The server's memory, from `/proc/<pid>/status` (local) or its `/metrics` process gauges.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Memory {
    /// The process read, when local; `None` when the figures came from `/metrics`.
    pub(crate) pid: Option<u32>,
    /// VmHWM: the peak resident set since the process started.
    pub(crate) peak_rss_bytes: u64,
    /// VmRSS when read.
    pub(crate) rss_bytes: u64,
}

pub(crate) fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some(Memory { pid: Some(pid), peak_rss_bytes: kib("VmHWM:")?, rss_bytes: kib("VmRSS:")? })
}

/// The server's memory from `/proc/<pid>/status` when a pid is given, else from its `/metrics` process gauges
/// (`process_resident_memory_max_bytes`, `process_resident_memory_bytes`); `None` when neither answers.
pub(crate) async fn server_memory(client: &crate::client::Client, pid: Option<u32>) -> Option<Memory> {
    if let Some(pid) = pid {
        return memory(pid);
    }
    let response = client.get("/metrics").timeout(Duration::from_secs(10)).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    memory_from_metrics(&response.text().await.ok()?)
}

fn memory_from_metrics(text: &str) -> Option<Memory> {
    let sample = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map(|value| value as u64)
    };
    Some(Memory {
        pid: None,
        peak_rss_bytes: sample("process_resident_memory_max_bytes")?,
        rss_bytes: sample("process_resident_memory_bytes")?,
    })
}

/// Bytes on disk of a data directory, by part, and per stored event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Storage {
    pub(crate) data_dir: PathBuf,
    /// Sum of file sizes under the directory.
    pub(crate) total_bytes: u64,
    /// The event log (`log/`).
    pub(crate) log_bytes: u64,
    /// The search index (`index/`).
    pub(crate) index_bytes: u64,
    /// Everything else (metadata database, keys).
    pub(crate) other_bytes: u64,
    /// Events stored on the server.
    pub(crate) events: u64,
    pub(crate) bytes_per_event: Option<f64>,
    /// Bytes of the stored events as sent, when known (fresh data directory).
    pub(crate) raw_event_bytes: Option<u64>,
    /// `total_bytes / raw_event_bytes`: the "bytes on disk per byte of raw event".
    pub(crate) disk_per_raw_byte: Option<f64>,
    /// What the figure means (for example whether today's log segment is still uncompressed).
    pub(crate) note: String,
}

impl Storage {
    pub(crate) fn measure(
        data: &Path,
        events: u64,
        raw_event_bytes: Option<u64>,
        note: &str,
    ) -> anyhow::Result<Storage> {
        let total_bytes = tree_bytes(data).with_context(|| format!("measuring {}", data.display()))?;
        let log_bytes = tree_bytes(&data.join("log")).unwrap_or(0);
        let index_bytes = tree_bytes(&data.join("index")).unwrap_or(0);
        let per = |bytes: u64, of: u64| (of > 0).then(|| bytes as f64 / of as f64);
        Ok(Storage {
            data_dir: data.to_path_buf(),
            total_bytes,
            log_bytes,
            index_bytes,
            other_bytes: total_bytes.saturating_sub(log_bytes + index_bytes),
            events,
            bytes_per_event: per(total_bytes, events),
            raw_event_bytes,
            disk_per_raw_byte: raw_event_bytes.and_then(|raw| per(total_bytes, raw)),
            note: note.to_string(),
        })
    }

    fn print(&self, label: &str) {
        let per_event = self.bytes_per_event.map(|b| format!("{b:.0} B/event")).unwrap_or_else(|| "-".into());
        let ratio = self.disk_per_raw_byte.map(|r| format!(", {r:.2} B on disk per raw byte")).unwrap_or_default();
        println!(
            "  {label:<13}{} total ({} log, {} index, {} other) for {} events: {per_event}{ratio}",
            human_bytes(self.total_bytes),
            human_bytes(self.log_bytes),
            human_bytes(self.index_bytes),
            human_bytes(self.other_bytes),
            self.events,
        );
        if !self.note.is_empty() {
            println!("  {:<13}({})", "", self.note);
        }
    }
}

/// Sum of the sizes of the files under `path` (symbolic links are not followed). Depth is bounded because a
/// data directory is shallow; anything deeper than 16 levels is not Acta's and is skipped.
pub(crate) fn tree_bytes(path: &Path) -> std::io::Result<u64> {
    fn walk(path: &Path, depth: usize) -> std::io::Result<u64> {
        let meta = std::fs::symlink_metadata(path)?;
        if meta.is_file() {
            return Ok(meta.len());
        }
        if !meta.is_dir() || depth > 16 {
            return Ok(0);
        }
        let mut total = 0;
        for entry in std::fs::read_dir(path)? {
            match walk(&entry?.path(), depth + 1) {
                Ok(bytes) => total += bytes,
                // A file the indexer merged away between listing and stat: it no longer takes space.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        Ok(total)
    }
    walk(path, 0)
}

pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn print_memory(memory: Option<&Memory>) {
    if let Some(memory) = memory {
        let from = memory.pid.map_or_else(|| "from /metrics".to_string(), |pid| format!("pid {pid}"));
        println!(
            "  {:<13}peak {} (VmHWM), now {} ({from})",
            "server RSS",
            human_bytes(memory.peak_rss_bytes),
            human_bytes(memory.rss_bytes),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let latency = Latency::of(samples);
        assert_eq!((latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(Latency::of(vec![Duration::from_millis(7)]).p99_ms, 7.0);
        assert_eq!(Latency::of(Vec::new()).samples, 0);
    }

    #[test]
    fn own_memory_is_readable() {
        let memory = memory(std::process::id()).unwrap();
        assert!(memory.peak_rss_bytes >= memory.rss_bytes && memory.rss_bytes > 0);
    }

    #[test]
    fn memory_is_read_from_the_metrics_process_gauges() {
        let text = "# HELP process_resident_memory_bytes x\nprocess_resident_memory_bytes 2048\n\
                    process_resident_memory_max_bytes 4096\n";
        let memory = memory_from_metrics(text).unwrap();
        assert_eq!((memory.pid, memory.rss_bytes, memory.peak_rss_bytes), (None, 2048, 4096));
        assert!(memory_from_metrics("up 1\n").is_none());
    }

    #[test]
    fn tree_bytes_sums_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("log")).unwrap();
        std::fs::write(dir.path().join("log/a"), [0u8; 100]).unwrap();
        std::fs::write(dir.path().join("b"), [0u8; 20]).unwrap();
        let storage = Storage::measure(dir.path(), 4, Some(60), "").unwrap();
        assert_eq!((storage.total_bytes, storage.log_bytes, storage.other_bytes), (120, 100, 20));
        assert_eq!(storage.bytes_per_event, Some(30.0));
        assert_eq!(storage.disk_per_raw_byte, Some(2.0));
    }
}
