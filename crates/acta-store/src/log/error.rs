//! `LogError`: everything the log can report.

use std::io;
use std::path::{Path, PathBuf};

use super::Day;

/// An error of the event log. Messages name the file (and byte offset) concerned, because the
/// person reading them is an operator deciding what to do with a data directory.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// An I/O operation failed (outside of a group commit, which poisons instead).
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A file holds bytes that are not what the log wrote. Nothing was modified.
    #[error("corrupt log file {} at byte {offset}: {reason}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the first damaged frame, block or structure.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// Another `Log` (in this or another process) has the directory open.
    #[error("the event log in {} is already open elsewhere", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A write or sync failed earlier; the log accepts nothing more until it is reopened.
    #[error("the event log stopped accepting writes after a failed write or sync; restart to recover")]
    Poisoned,
    /// The file system holding the log is full (`ENOSPC`, or over quota: `EDQUOT`). Nothing of the
    /// batch was kept: what the failed group had written was cut back to the last durable frame.
    /// The log accepts again as soon as a write succeeds, with no restart.
    #[error("no space left on the device holding the event log ({}): the batch was not stored; it is accepted again once space is freed", path.display())]
    NoSpace {
        /// The file whose write or creation failed.
        path: PathBuf,
    },
    /// An instance id outside `[a-z0-9_-]{1,128}`.
    #[error("invalid instance id {0:?}: expected 1 to 128 characters of [a-z0-9_-]")]
    InvalidInstance(String),
    /// A record the log cannot frame (a field too long for its length prefix, a payload too big).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Options the log cannot run with.
    #[error("invalid log options: {0}")]
    InvalidOptions(String),
    /// No such instance, segment (`seq: None`) or record.
    #[error("not found: instance {instance:?}, day {day}{}", seq.map(|s| format!(", seq {s}")).unwrap_or_default())]
    NotFound {
        /// The instance asked for.
        instance: String,
        /// The day asked for.
        day: Day,
        /// The sequence number asked for, if a record was.
        seq: Option<u64>,
    },
    /// `remove_segment` on a segment that is still active: only sealed segments are removed.
    #[error("segment {instance}/{day} is not sealed yet")]
    NotSealed {
        /// The instance.
        instance: String,
        /// The day of the active segment.
        day: Day,
    },
    /// `remove_segment` on a segment that is not its instance's oldest: removing out of order
    /// would leave a hole in the sequence numbers.
    #[error("segment {instance}/{day} is not the oldest of its instance (remove {oldest} first)")]
    NotOldest {
        /// The instance.
        instance: String,
        /// The day asked for.
        day: Day,
        /// The oldest day of the instance.
        oldest: Day,
    },
}

impl LogError {
    /// Whether an I/O error means the device is full or over quota, a fault that clears by itself.
    pub(crate) fn is_no_space(error: &io::Error) -> bool {
        matches!(error.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> LogError {
        LogError::Io { path: path.to_owned(), source }
    }

    pub(crate) fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> LogError {
        LogError::Corrupt { path: path.to_owned(), offset, reason: reason.into() }
    }
}
