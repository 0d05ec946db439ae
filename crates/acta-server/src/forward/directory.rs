//! Directory destinations: NDJSON files under the operator's `--forward-dir`, one per instance and arrival day
//! (`<forward-dir>/<path>/<instance>/<YYYY-MM-DD>.ndjson`), one envelope per line ([`Outgoing::envelope`]).
//! A batch is appended and synced (`fdatasync`) before it counts as delivered, so a crash after the sync and
//! before the cursor moved writes those lines again: each line names its instance and seq, which tell a
//! repeated line from a new one.
//!
//! Unlike the data directory, these files belong to whoever reads them (a SIEM's file collector); Acta only
//! appends. The route's `path` is relative and stays under the forward directory (no `..`, no absolute path).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::destination::{ForwardSettings, Invalid, Outgoing, SendError, day_runs, only_members, required_text};

const MEMBERS: [&str; 1] = ["path"];

pub(crate) fn validate(object: &Map<String, Value>, settings: &ForwardSettings) -> Result<Value, Invalid> {
    only_members(object, &MEMBERS)?;
    if settings.dir.is_none() {
        return Err(Invalid(
            "this server writes no forwarding files: its operator has not set --forward-dir (ACTA_FORWARD_DIR)"
                .to_string(),
        ));
    }
    let path = required_text(object, "path")?;
    let valid = path.split('/').all(|part| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
    });
    if !valid {
        return Err(Invalid(format!(
            "destination.path {path:?} must be a relative path of names made of letters, digits, '-', '_' and '.' \
             (no '..')"
        )));
    }
    Ok(Value::Object(object.clone()))
}

pub(crate) struct Sender {
    root: Option<PathBuf>,
}

impl Sender {
    pub(crate) fn new(object: &Map<String, Value>, settings: &ForwardSettings) -> Sender {
        let path = object.get("path").and_then(Value::as_str).unwrap_or_default();
        Sender { root: settings.dir.as_ref().map(|dir| dir.join(path)) }
    }

    pub(crate) async fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendError> {
        let Some(root) = self.root.clone() else {
            return Err(SendError("the server has no --forward-dir".to_string()));
        };
        let files: Vec<(PathBuf, String)> = day_runs(batch)
            .into_iter()
            .map(|run| (root.join(&run.instance).join(format!("{}.ndjson", run.day)), run.lines))
            .collect();
        tokio::task::spawn_blocking(move || {
            for (file, lines) in files {
                append(&file, lines.as_bytes()).map_err(|error| SendError(format!("{}: {error}", file.display())))?;
            }
            Ok(())
        })
        .await
        .map_err(|error| SendError(error.to_string()))?
    }
}

fn append(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let created = !file.exists();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    out.write_all(bytes)?;
    out.sync_data()?;
    if created {
        // A new file's name is durable only once its directory is synced.
        if let Some(dir) = file.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
    }
    Ok(())
}
