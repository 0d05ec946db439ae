//! `acta verify DIR`: checks a data directory (or a copy of its `log/` and `checkpoints/`), an
//! export bundle or an archive offline, or a cluster's PostgreSQL, without trusting anything in it but the keys
//! it is given.
//!
//! The checks themselves are `acta_ledger`'s ([`acta_ledger::SegmentVerifier`]); this module
//! finds the files, reads them, feeds the verifier and words what it finds by instance, day and
//! seq:
//! - [`data_dir`], [`bundle`], [`archive_root`]: the three kinds of input, each walked instance
//!   by instance and segment by segment in day order; [`cluster`] writes a cluster's log into a temporary data
//!   directory;
//! - [`keys`]: the keys to trust;
//! - [`segments`]: the records of one segment file;
//! - [`checkpoints`]: one segment's checkpoints against its records, and the link between
//!   segments;
//! - [`diagnosis`]: which record differs from the signed history, when a `.leaves` file says;
//! - [`saved`]: checkpoints kept elsewhere (`--checkpoints`), each a prefix of what is here;
//! - [`report`]: the text or JSON report.
//!
//! Exit status: 0 valid, 1 an integrity failure, 2 a usage error.

mod archive_root;
mod bundle;
mod checkpoints;
mod cluster;
mod data_dir;
mod diagnosis;
mod keys;
mod report;
mod saved;
mod segments;

use std::path::PathBuf;
use std::process::ExitCode;

use report::Report;

/// `acta verify` arguments.
#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// A data directory, an export holding its `log/` and `checkpoints/` directories, an export bundle, an
    /// archive root (`account=*/instance=*/year=*/month=*/day=*/`), or a cluster's PostgreSQL
    /// (`postgres://user:password@host:5432/database`: its records and the checkpoints its signer published).
    path: PathBuf,
    /// A verifier key (`<name>+<key id>+<base64>`, as GET /v1/integrity/keys gives it) or a file
    /// of them, one per line; repeat for rotated keys. Without it, the keys recorded in the
    /// data directory are used, which proves consistency but not authenticity.
    #[arg(long = "key", value_name = "PUBKEY")]
    keys: Vec<String>,
    /// Checkpoints saved earlier (the JSON of GET /v1/integrity/checkpoints, or a `.notes`
    /// file): the directory must extend each of them.
    #[arg(long = "checkpoints", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// With a cluster's PostgreSQL: where the cluster keeps its sealed days (`s3://bucket/prefix`, endpoint and
    /// credentials from the usual AWS_* variables, or `file:///path`), so their records are checked too.
    #[arg(long = "object-store", value_name = "URL")]
    object_store: Option<String>,
    /// How to reach the store of an s3:// archive.
    #[command(flatten)]
    s3: crate::s3::S3Args,
    /// What messages call `path` (the URL of an archive downloaded from S3).
    #[arg(skip)]
    shown: Option<String>,
}

impl VerifyArgs {
    fn shown(&self) -> String {
        self.shown.clone().unwrap_or_else(|| self.path.display().to_string())
    }
}

/// `acta verify`: an `s3://bucket/prefix` archive is downloaded into a temporary directory (removed after)
/// and checked like a local one.
pub(crate) async fn run_source(mut args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if cluster::is_postgres(&args.path) {
        return cluster::verify(args).await;
    }
    if !crate::s3::is_s3(args.path.as_os_str()) {
        return Ok(run(&args));
    }
    let url = args.path.to_string_lossy().into_owned();
    let downloaded = match crate::s3::download(&url, &args.s3).await {
        Ok(downloaded) => downloaded,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    args.path = downloaded.path.clone();
    args.shown = Some(downloaded.shown.clone());
    let code = tokio::task::spawn_blocking(move || run(&args)).await?;
    drop(downloaded);
    Ok(code)
}

/// A usage error: exit status 2.
struct Usage(String);

pub(crate) fn run(args: &VerifyArgs) -> ExitCode {
    let report = match verify(args) {
        Ok(report) => report,
        Err(Usage(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    report.print(args.json);
    if report.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn verify(args: &VerifyArgs) -> Result<Report, Usage> {
    if args.path.is_file() {
        return bundle::verify(args);
    }
    if crate::archive::is_archive(&args.path) {
        return archive_root::verify(args);
    }
    data_dir::verify(args)
}
