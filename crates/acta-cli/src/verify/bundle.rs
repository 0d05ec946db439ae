//! An export bundle (a tar from `GET /v1/events/export?format=bundle`): unpacked into a fresh
//! temporary directory, checked like a data directory, then removed.

use super::report::Report;
use super::{Usage, VerifyArgs};

pub(super) fn verify(args: &VerifyArgs) -> Result<Report, Usage> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("acta-verify-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|error| Usage(format!("{}: {error}", dir.display())))?;
    let unpacked = std::fs::File::open(&args.path)
        .and_then(|file| acta_store::integrity::bundle::extract_bundle(&mut std::io::BufReader::new(file), &dir));
    let result = match unpacked {
        Ok(_) if !dir.join("log").is_dir() => {
            // A bundle of instances without any segment still verifies its checkpoints.
            std::fs::create_dir(dir.join("log")).map_err(|error| Usage(format!("{}: {error}", dir.display())))
        }
        Ok(_) => Ok(()),
        Err(error) => {
            Err(Usage(format!("{} is neither a data directory nor an export bundle: {error}", args.path.display())))
        }
    };
    let report = result.and_then(|()| {
        let unpacked = VerifyArgs {
            path: dir.clone(),
            keys: args.keys.clone(),
            checkpoints: args.checkpoints.clone(),
            json: args.json,
            object_store: None,
            s3: crate::s3::S3Args::default(),
            shown: None,
        };
        super::verify(&unpacked)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = report?;
    report.notes.insert(0, format!("verified the export bundle {}", args.path.display()));
    Ok(report)
}
