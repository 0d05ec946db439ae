//! The `acta` binary: runs the server (`serve`, `demo`), works on a data directory offline (`reindex`), and
//! is a client of the HTTP API for everything else.

mod client;
mod demo;
mod events;
mod histogram;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Acta: a self-hosted activity tracker for CADF audit events.
#[derive(Parser)]
#[command(name = "acta", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        #[command(flatten)]
        connection: client::Connection,
    },
    /// Rebuild index partitions from the log (the server must not be running on the directory).
    Reindex(ReindexArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The data directory.
    #[arg(long, env = "ACTA_DATA", default_value = "acta-data")]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "ACTA_LISTEN", default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
}

#[derive(clap::Args)]
struct DemoArgs {
    /// The data directory (must be new or empty).
    #[arg(long, default_value = "acta-demo")]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
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
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => demo::run(args.data, args.listen).await,
        Command::Events { command, connection } => events::run(command, connection).await,
        Command::Reindex(args) => reindex(args).await,
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACTA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn serve(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    init_logging();
    let running = start_server(args.data.clone(), args.listen).await?;
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

pub(crate) async fn start_server(data: PathBuf, listen: SocketAddr) -> anyhow::Result<acta_server::Running> {
    let config = acta_server::ServerConfig {
        data_dir: data.clone(),
        listen,
        bootstrap_key: std::env::var("ACTA_BOOTSTRAP_KEY").ok(),
        limits: acta_server::Limits::default(),
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
