//! Reading an archive, in the format of `acta_store::archives::layout` (the one the server's archive job
//! writes), for `acta import` and `acta verify`.
//!
//! An archive is read as a list of named files (relative names with `/`), so where the bytes live (a local
//! directory, or an `s3://` prefix downloaded to a temporary directory by `s3.rs`) only changes how the list is
//! made and what messages call a file.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use acta_store::Day;
use acta_store::archives::layout::{self, FORMAT, MANIFEST, Manifest};
use sha2::{Digest, Sha256};

/// One file of an input: a name for messages and where its bytes are.
#[derive(Debug, Clone)]
pub(crate) struct NamedFile {
    /// How messages name it (a path, or the `s3://` URL of a downloaded object).
    pub(crate) name: String,
    /// Its local copy. (An object store source is downloaded to temporary files first: segment readers need
    /// positioned reads.)
    pub(crate) path: PathBuf,
}

impl NamedFile {
    pub(crate) fn local(path: &Path) -> NamedFile {
        NamedFile { name: path.display().to_string(), path: path.to_path_buf() }
    }

    pub(crate) fn open(&self) -> io::Result<Box<dyn Read>> {
        Ok(Box::new(io::BufReader::new(std::fs::File::open(&self.path)?)))
    }

    pub(crate) fn read(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open()?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// One day directory of an instance.
#[derive(Debug, Clone)]
pub(crate) struct ArchiveDay {
    pub(crate) account: String,
    pub(crate) instance: String,
    pub(crate) day: Day,
    /// `account=.../day=DD`, for messages.
    pub(crate) dir: String,
    /// Its files by name (the part after the day directory).
    pub(crate) files: BTreeMap<String, NamedFile>,
}

impl ArchiveDay {
    pub(crate) fn segment_name(&self) -> String {
        format!("{}.seg", self.day)
    }

    pub(crate) fn notes_name(&self) -> String {
        format!("{}.notes", self.day)
    }

    pub(crate) fn leaves_name(&self) -> String {
        format!("{}.leaves", self.day)
    }

    /// The manifest, `Ok(None)` when the day has none (incomplete).
    pub(crate) fn manifest(&self) -> Result<Option<Manifest>, String> {
        let Some(file) = self.files.get(MANIFEST) else { return Ok(None) };
        let bytes = file.read().map_err(|error| format!("{}: {error}", file.name))?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|error| format!("{}: not a manifest: {error}", file.name))?;
        if manifest.format != FORMAT {
            return Err(format!("{}: format {:?}, this acta reads {FORMAT:?}", file.name, manifest.format));
        }
        let names_this = manifest.account == self.account
            && manifest.instance == self.instance
            && manifest.day == self.day.to_string();
        if !names_this {
            return Err(format!(
                "{}: names account {}, instance {}, day {}, not this directory's",
                file.name, manifest.account, manifest.instance, manifest.day
            ));
        }
        Ok(Some(manifest))
    }

    /// Every problem with the day's files against its manifest: missing, of another size or SHA-256, or
    /// not listed. Empty when all match.
    pub(crate) fn check_files(&self, manifest: &Manifest) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, entry) in &manifest.files {
            let Some(file) = self.files.get(name) else {
                problems.push(format!("{}/{name} is listed in the manifest but missing", self.dir));
                continue;
            };
            match digest(file) {
                Ok((bytes, _)) if bytes != entry.bytes => problems.push(format!(
                    "{} has {bytes} bytes, the manifest says {}: the file was changed",
                    file.name, entry.bytes
                )),
                Ok((_, sha256)) if !sha256.eq_ignore_ascii_case(&entry.sha256) => problems.push(format!(
                    "{}: SHA-256 {sha256} does not match the manifest's {}: the file was changed",
                    file.name, entry.sha256
                )),
                Ok(_) => {}
                Err(error) => problems.push(format!("{}: {error}", file.name)),
            }
        }
        for (name, file) in &self.files {
            if name != MANIFEST && !manifest.files.contains_key(name) {
                problems.push(format!("{} is not listed in the manifest: it was added", file.name));
            }
        }
        for required in [self.segment_name(), self.notes_name(), "keys".to_owned()] {
            if !manifest.files.contains_key(&required) {
                problems.push(format!("{}: the manifest lists no {required}", self.dir));
            }
        }
        problems
    }
}

/// Size and lowercase hex SHA-256 of a file.
fn digest(file: &NamedFile) -> io::Result<(u64, String)> {
    let mut reader = file.open()?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 << 10];
    let mut bytes = 0u64;
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((bytes, acta_store::integrity::files::to_hex(&hasher.finalize())))
}

/// Whether a directory is an archive root: it holds `account=<id>` directories.
pub(crate) fn is_archive(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry.path().is_dir() && entry.file_name().to_str().is_some_and(|name| name.starts_with("account="))
        })
    })
}

/// The files under a local archive root, by relative name.
pub(crate) fn list_local(root: &Path) -> io::Result<Vec<(String, NamedFile)>> {
    list_local_as(root, &root.display().to_string())
}

/// [`list_local`], with messages naming the files under `shown` (the URL of a downloaded copy).
pub(crate) fn list_local_as(root: &Path, shown: &str) -> io::Result<Vec<(String, NamedFile)>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                let parts: Vec<String> =
                    relative.components().map(|part| part.as_os_str().to_string_lossy().into_owned()).collect();
                let relative = parts.join("/");
                let name = format!("{}/{relative}", shown.trim_end_matches('/'));
                found.push((relative, NamedFile { name, path }));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The day directories of an archive by (account, instance), in day order.
pub(crate) type Instances = BTreeMap<(String, String), BTreeMap<Day, ArchiveDay>>;

/// Groups a listing into day directories; also returns the names that do not fit the layout (reported, never
/// read).
pub(crate) fn days(files: Vec<(String, NamedFile)>) -> (Instances, Vec<String>) {
    let mut instances: Instances = BTreeMap::new();
    let mut strays = Vec::new();
    for (relative, file) in files {
        let Some(path) = layout::parse_path(&relative) else {
            strays.push(file.name);
            continue;
        };
        let (account, instance, day, name) = (path.account, path.instance, path.day, path.name);
        let dir = layout::day_dir(account, instance, day);
        instances
            .entry((account.to_owned(), instance.to_owned()))
            .or_default()
            .entry(day)
            .or_insert_with(|| ArchiveDay {
                account: account.to_owned(),
                instance: instance.to_owned(),
                day,
                dir,
                files: BTreeMap::new(),
            })
            .files
            .insert(name.to_owned(), file);
    }
    (instances, strays)
}
