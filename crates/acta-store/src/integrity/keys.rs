//! The signing key file and the key history of a data directory.
//!
//! The signing key lives outside the data directory (its path is configured; see the
//! README): whoever holds it can sign a rewritten history, so a copy of the data directory
//! (a backup, an archive, a stolen disk) must not carry it. The data directory keeps only the
//! public halves, in `checkpoints/keys`, one per key that ever signed there: after a rotation
//! the old checkpoints still verify.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use acta_ledger::{KeyRing, SigningKey, VerifierKey};

use super::IntegrityError;
use super::files::keys_path;

/// Loads the signing key at `path`, or generates one named `name` there (mode 0600, in a
/// directory created with mode 0700) when the file does not exist. Returns the key and whether
/// it was created.
pub(crate) fn load_or_create(path: &Path, name: &str) -> Result<(SigningKey, bool), IntegrityError> {
    if path.exists() {
        let key = SigningKey::load(path)?;
        warn_if_readable_by_others(path);
        return Ok((key, false));
    }
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        create_private_dir(parent).map_err(|source| IntegrityError::Io { path: parent.to_owned(), source })?;
    }
    let key = SigningKey::generate(name)?;
    key.save(path)?;
    tracing::info!(path = %path.display(), key = %key.verifier().to_text(), "created a checkpoint signing key");
    Ok((key, true))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the signing key file is readable by other users; chmod 600 it");
        }
    }
}

/// The key history of a data directory (empty when there is none yet).
pub(crate) fn read_history(data_dir: &Path) -> Result<KeyRing, IntegrityError> {
    let path = keys_path(data_dir);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(KeyRing::from_text(&text)?),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(KeyRing::new()),
        Err(source) => Err(IntegrityError::Io { path, source }),
    }
}

/// Adds `key` to the history file unless it is there, replacing the file atomically.
pub(crate) fn record(data_dir: &Path, ring: &mut KeyRing, key: &VerifierKey) -> Result<(), IntegrityError> {
    if ring.keys().contains(key) {
        return Ok(());
    }
    ring.add(key.clone())?;
    let path = keys_path(data_dir);
    let temp = path.with_extension("tmp");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| IntegrityError::Io { path, source }
    };
    let mut text = String::from(
        "# Verifier keys of the checkpoints in this directory, oldest first (acta verify --key takes\n\
         # one of these lines, or this file). Keys are only trustworthy if they match a copy kept elsewhere.\n",
    );
    text.push_str(&ring.to_text());
    let mut file = fs::File::create(&temp).map_err(io(&temp))?;
    file.write_all(text.as_bytes()).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    fs::rename(&temp, &path).map_err(io(&path))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}
