//! A cluster's PostgreSQL (`acta verify postgres://...`): its records and published checkpoints, with the sealed
//! days of `--object-store`, written into a temporary directory in a data directory's layout
//! ([`acta_store::cluster::export_for_verify`]) and checked as one, independently of every node's copy.

use std::path::PathBuf;
use std::process::ExitCode;

use super::VerifyArgs;

/// Whether `path` names a cluster's PostgreSQL.
pub(super) fn is_postgres(path: &std::path::Path) -> bool {
    let text = path.to_string_lossy();
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// The URL as messages show it: without a password.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(name, _)| name);
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

pub(super) async fn verify(mut args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let url = args.path.to_string_lossy().into_owned();
    let shown = shown(&url);
    if args.keys.is_empty() {
        eprintln!(
            "error: verifying {shown} needs the cluster's verifier key: pass --key (GET /v1/integrity/keys gives it)"
        );
        return Ok(ExitCode::from(2));
    }
    let dir = tempfile::tempdir()?;
    let exported = match acta_store::cluster::export_for_verify(&url, args.object_store.as_deref(), dir.path()).await {
        Ok(exported) => exported,
        Err(error) => {
            eprintln!("error: reading the cluster at {shown}: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    eprintln!(
        "read {} records of {} instances from {shown}{}",
        exported.records,
        exported.instances,
        if exported.sealed_days > 0 {
            format!(" and {} sealed days from object storage", exported.sealed_days)
        } else {
            String::new()
        }
    );
    if exported.sealed_days_left_out > 0 {
        eprintln!(
            "note: {} sealed days are in object storage and their records are not checked here (their final \
             checkpoints still link the days after them): give --object-store to check them too",
            exported.sealed_days_left_out
        );
    }
    args.path = PathBuf::from(dir.path());
    args.shown = Some(shown);
    let code = tokio::task::spawn_blocking(move || super::run(&args)).await?;
    drop(dir);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_cluster_url_is_shown_without_its_password() {
        assert_eq!(shown("postgres://acta:SECRET@db:5432/acta"), "postgres://acta@db:5432/acta");
        assert_eq!(shown("postgres://acta@db/acta"), "postgres://acta@db/acta");
        assert_eq!(shown("postgresql://db/acta"), "postgresql://db/acta");
    }
}
