//! Helpers shared by the `log_*` tests (included with `mod log_util;`).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use acta_store::log::{Day, IoOp, LogOptions, NewRecord};

pub(crate) const NANOS_PER_DAY: i64 = 86_400_000_000_000;
pub(crate) const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// Fails the operations the test arms, on paths containing a given text, with an error of the
/// armed kind (`Other` unless said).
#[derive(Clone, Default)]
pub(crate) struct Faults(Arc<Mutex<Option<Fault>>>);

/// An armed fault: the operation, a text its path contains, the error's kind.
type Fault = (IoOp, &'static str, io::ErrorKind);

impl Faults {
    pub(crate) fn arm(&self, op: IoOp, path_contains: &'static str) {
        self.arm_with(op, path_contains, io::ErrorKind::Other);
    }

    pub(crate) fn arm_with(&self, op: IoOp, path_contains: &'static str, kind: io::ErrorKind) {
        *self.0.lock().unwrap() = Some((op, path_contains, kind));
    }

    pub(crate) fn disarm(&self) {
        *self.0.lock().unwrap() = None;
    }

    pub(crate) fn options(&self, clock: &FakeClock) -> LogOptions {
        let faults = self.clone();
        let hook = move |op: IoOp, path: &Path| match *faults.0.lock().unwrap() {
            Some((armed, text, kind)) if armed == op && path.to_string_lossy().contains(text) => {
                Err(io::Error::new(kind, format!("injected {op:?} failure")))
            }
            _ => Ok(()),
        };
        LogOptions { io_hook: Some(Arc::new(hook)), ..clock.options() }
    }
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub(crate) struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    /// Noon UTC of `day`.
    pub(crate) fn at_noon(day: &str) -> FakeClock {
        FakeClock(Arc::new(AtomicI64::new(day_of(day).start_ns() + 12 * NANOS_PER_HOUR)))
    }

    pub(crate) fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn set(&self, ns: i64) {
        self.0.store(ns, Ordering::SeqCst);
    }

    pub(crate) fn advance(&self, ns: i64) {
        self.0.fetch_add(ns, Ordering::SeqCst);
    }

    pub(crate) fn today(&self) -> Day {
        Day::from_ns(self.now())
    }

    pub(crate) fn options(&self) -> LogOptions {
        let clock = self.clone();
        LogOptions { clock: Arc::new(move || clock.now()), ..LogOptions::default() }
    }
}

pub(crate) fn day_of(text: &str) -> Day {
    text.parse().unwrap()
}

/// A recognizable record whose event bytes are not valid UTF-8 or JSON, to prove they are
/// kept byte for byte.
pub(crate) fn record(n: usize) -> NewRecord {
    let mut event = format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(n % 50)).into_bytes();
    event.extend_from_slice(&[0xff, 0x00, 0xfe, (n % 251) as u8]);
    NewRecord { account: format!("acct-{}", n % 3), event_id: format!("ev-{n}"), event }
}

pub(crate) fn records(range: std::ops::Range<usize>) -> Vec<NewRecord> {
    range.map(record).collect()
}

/// Every file under `dir` with its bytes (the lock file aside), to prove nothing changed.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().unwrap() != "LOCK" {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The names of the files in an instance directory, sorted.
pub(crate) fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Copies a directory tree (to damage a copy and keep the original).
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
