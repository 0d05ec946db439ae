//! The keys `acta verify` trusts: the ones given with `--key` (texts or files of them), else the
//! key history recorded in the data directory, which shows consistency but not authenticity:
//! whoever could change the data could change that history too.

use acta_ledger::{KeyRing, VerifierKey};
use acta_store::integrity::files;

use super::report::Report;
use super::{Usage, VerifyArgs};

/// The keys to trust: `--key` texts or files, else the directory's key history (with a note
/// that this shows consistency, not authenticity).
pub(super) fn key_ring(args: &VerifyArgs, report: &mut Report) -> Result<KeyRing, Usage> {
    let mut ring = KeyRing::new();
    if args.keys.is_empty() {
        let path = files::keys_path(&args.path);
        let text = std::fs::read_to_string(&path).map_err(|error| {
            Usage(format!(
                "no --key given and the data directory's key history {} is unreadable: {error}",
                path.display()
            ))
        })?;
        ring = KeyRing::from_text(&text).map_err(|error| Usage(format!("{}: {error}", path.display())))?;
        report.notes.push(
            "signatures were checked with the keys recorded in the data directory (checkpoints/keys); pass --key \
             with the key the server publishes (GET /v1/integrity/keys) to know they are genuine"
                .to_owned(),
        );
    }
    for given in &args.keys {
        match VerifierKey::from_text(given.trim()) {
            Ok(key) => ring.add(key).map_err(|error| Usage(format!("--key {given}: {error}")))?,
            Err(text_error) => {
                let text = std::fs::read_to_string(given)
                    .map_err(|_| Usage(format!("--key {given}: neither a key ({text_error}) nor a readable file")))?;
                let file_ring = KeyRing::from_text(&text).map_err(|error| Usage(format!("--key {given}: {error}")))?;
                for key in file_ring.keys() {
                    ring.add(key.clone()).map_err(|error| Usage(format!("--key {given}: {error}")))?;
                }
            }
        }
    }
    if ring.keys().is_empty() {
        return Err(Usage("no verifier key: pass --key".to_owned()));
    }
    Ok(ring)
}
