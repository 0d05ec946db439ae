//! The file operations the log performs, each behind the optional fault-injection hook.
//!
//! Every write, sync, rename, removal and truncation of the log goes through `Io`, so tests can
//! make any one of them fail deterministically (`LogOptions::io_hook`): making a directory
//! read-only does not stop root, and a real failing disk cannot be summoned in CI.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

/// The kind of file operation about to happen, as shown to [`IoHook`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoOp {
    /// Creating a file (a new segment, a temporary sealed segment, a state file) or directory.
    Create,
    /// Writing bytes to a file.
    Write,
    /// `fdatasync`/`fsync` of a file.
    Sync,
    /// `fsync` of a directory, making creations, renames and removals durable.
    SyncDir,
    /// Renaming a file into place.
    Rename,
    /// Removing a file.
    Remove,
    /// Truncating a torn tail at open.
    Truncate,
}

/// A hook called before each file operation; an `Err` makes that operation fail with it, as if
/// the operating system had returned it. Meant for tests (fault injection); production code
/// leaves it `None`.
pub type IoHook = Arc<dyn Fn(IoOp, &Path) -> io::Result<()> + Send + Sync>;

/// The file operations, with the hook applied.
#[derive(Clone, Default)]
pub(crate) struct Io {
    hook: Option<IoHook>,
}

impl fmt::Debug for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io").field("hook", &self.hook.is_some()).finish()
    }
}

impl Io {
    pub(crate) fn new(hook: Option<IoHook>) -> Io {
        Io { hook }
    }

    fn check(&self, op: IoOp, path: &Path) -> io::Result<()> {
        match &self.hook {
            Some(hook) => hook(op, path),
            None => Ok(()),
        }
    }

    /// Creates a new file for appending; fails if it exists (segments are never overwritten).
    pub(crate) fn create_new(&self, path: &Path) -> io::Result<File> {
        self.check(IoOp::Create, path)?;
        OpenOptions::new().read(true).append(true).create_new(true).open(path)
    }

    /// Creates (or empties) a temporary file for writing.
    pub(crate) fn create_temp(&self, path: &Path) -> io::Result<File> {
        self.check(IoOp::Create, path)?;
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    pub(crate) fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.check(IoOp::Create, path)?;
        fs::create_dir_all(path)
    }

    pub(crate) fn write_all(&self, mut file: &File, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.check(IoOp::Write, path)?;
        file.write_all(bytes)
    }

    /// `fdatasync`: the data and the size needed to read it back.
    pub(crate) fn sync_data(&self, file: &File, path: &Path) -> io::Result<()> {
        self.check(IoOp::Sync, path)?;
        file.sync_data()
    }

    /// `fsync`: data and all metadata, for files just created.
    pub(crate) fn sync_all(&self, file: &File, path: &Path) -> io::Result<()> {
        self.check(IoOp::Sync, path)?;
        file.sync_all()
    }

    /// `fsync` of a directory, so entries created, renamed or removed in it survive a crash.
    pub(crate) fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check(IoOp::SyncDir, dir)?;
        File::open(dir)?.sync_all()
    }

    pub(crate) fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(IoOp::Rename, to)?;
        fs::rename(from, to)
    }

    pub(crate) fn remove(&self, path: &Path) -> io::Result<()> {
        self.check(IoOp::Remove, path)?;
        fs::remove_file(path)
    }

    /// Cuts a file to `len` bytes and syncs it.
    pub(crate) fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.check(IoOp::Truncate, path)?;
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        self.sync_all(&file, path)
    }
}
