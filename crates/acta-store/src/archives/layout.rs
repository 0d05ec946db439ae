//! The archive format, written by the archive job and read by `acta import` and `acta verify`:
//!
//! ```text
//! account=<id>/instance=<id>/year=YYYY/month=MM/day=DD/
//!     <day>.seg  <day>.notes  [<day>.leaves]  keys  [events.ndjson.zst]  MANIFEST.json (written last)
//! ```
//!
//! The manifest names every other file with its size and SHA-256; its presence means the day is complete.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Day;

/// The `format` of every manifest this version writes and reads.
pub const FORMAT: &str = "acta-archive 1";

/// The file whose presence says a day is completely archived.
pub const MANIFEST: &str = "MANIFEST.json";

/// A file's entry in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The account.
    pub account: String,
    /// The instance.
    pub instance: String,
    /// The arrival day, `YYYY-MM-DD`.
    pub day: String,
    /// The segment's first sequence number.
    pub first_seq: u64,
    /// Its last.
    pub last_seq: u64,
    /// Its records.
    pub events: u64,
    /// Arrival time of its first record (RFC 3339).
    pub first_received: String,
    /// Arrival time of its last record.
    pub last_received: String,
    /// The segment's final signed checkpoint (`None` from a server that runs without checkpoints).
    pub final_checkpoint: Option<String>,
    /// Every other file of the day by name.
    pub files: BTreeMap<String, FileEntry>,
}

/// The directory of one archived day, relative to the archive root.
pub fn day_dir(account: &str, instance: &str, day: Day) -> String {
    let text = day.to_string();
    let (year, rest) = text.split_once('-').unwrap_or((&text, ""));
    let (month, day_of_month) = rest.split_once('-').unwrap_or((rest, ""));
    format!("account={account}/instance={instance}/year={year}/month={month}/day={day_of_month}")
}

/// A file of an archive by its path relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayPath<'a> {
    /// The account.
    pub account: &'a str,
    /// The instance.
    pub instance: &'a str,
    /// The day.
    pub day: Day,
    /// The file's name in the day's directory.
    pub name: &'a str,
}

/// Reads a relative path of the layout (`account=a/instance=i/year=Y/month=M/day=D/name`); `None` for a path
/// that does not fit it. The inverse of [`day_dir`].
pub fn parse_path(relative: &str) -> Option<DayPath<'_>> {
    let parts: Vec<&str> = relative.split('/').collect();
    let [account, instance, year, month, day, name] = parts.as_slice() else { return None };
    let account = account.strip_prefix("account=").filter(|id| !id.is_empty())?;
    let instance = instance.strip_prefix("instance=").filter(|id| !id.is_empty())?;
    let (year, month, day_of_month) =
        (year.strip_prefix("year=")?, month.strip_prefix("month=")?, day.strip_prefix("day=")?);
    let day: Day = format!("{year}-{month}-{day_of_month}").parse().ok()?;
    Some(DayPath { account, instance, day, name })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_day_directory_reads_back_as_its_account_instance_and_day() {
        let day: Day = "2026-03-07".parse().unwrap();
        let dir = day_dir("acme", "i-1", day);
        assert_eq!(dir, "account=acme/instance=i-1/year=2026/month=03/day=07");
        let path = format!("{dir}/{MANIFEST}");
        assert_eq!(parse_path(&path).unwrap(), DayPath { account: "acme", instance: "i-1", day, name: MANIFEST });
    }

    #[test]
    fn paths_outside_the_layout_are_not_days() {
        for path in
            ["account=a/instance=i/year=2026/month=03/07/x", "account=/instance=i/year=2026/month=03/day=07/x", "x"]
        {
            assert_eq!(parse_path(path), None, "{path}");
        }
    }
}
