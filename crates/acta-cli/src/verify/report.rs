//! What `acta verify` found, and how it is printed: one `FAIL` line per problem and a summary, or
//! the same as JSON. Findings are named as precisely as the evidence allows (instance, day,
//! seq), so the report is the only place that decides how they read.

use std::fmt::Write as _;

use acta_store::Day;
use serde_json::{Value, json};

/// One finding, named as precisely as the evidence allows.
#[derive(Debug, Clone)]
pub(super) struct Finding {
    instance: String,
    day: Option<Day>,
    seq: Option<u64>,
    reason: String,
}

impl Finding {
    fn to_json(&self) -> Value {
        json!({"instance": self.instance, "day": self.day, "seq": self.seq, "reason": self.reason})
    }

    fn to_line(&self) -> String {
        let mut line = self.instance.clone();
        if let Some(day) = self.day {
            let _ = write!(line, " {day}");
        }
        if let Some(seq) = self.seq {
            let _ = write!(line, " seq {seq}");
        }
        let _ = write!(line, ": {}", self.reason);
        line
    }
}

#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) checkpoints: u64,
    pub(super) checkpoints_valid: u64,
    pub(super) events: u64,
    pub(super) events_valid: u64,
    pub(super) events_unsigned: u64,
    pub(super) external: u64,
    pub(super) external_consistent: u64,
    problems: Vec<Finding>,
    pub(super) notes: Vec<String>,
}

impl Report {
    pub(super) fn problem(&mut self, instance: &str, day: Option<Day>, seq: Option<u64>, reason: impl Into<String>) {
        self.problems.push(Finding { instance: instance.to_owned(), day, seq, reason: reason.into() });
    }

    pub(super) fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    fn summary(&self) -> String {
        let mut line = format!(
            "{}/{} checkpoints valid, {}/{} events valid",
            self.checkpoints_valid, self.checkpoints, self.events_valid, self.events
        );
        if self.events_unsigned > 0 {
            let _ = write!(line, " ({} unsigned: after the last checkpoint)", self.events_unsigned);
        }
        if self.external > 0 {
            let _ = write!(line, ", {}/{} saved checkpoints consistent", self.external_consistent, self.external);
        }
        line
    }

    /// Prints the report on standard output.
    pub(super) fn print(&self, as_json: bool) {
        if as_json {
            let problems: Vec<Value> = self.problems.iter().map(Finding::to_json).collect();
            let answer = json!({
                "valid": self.is_valid(),
                "checkpoints": {"total": self.checkpoints, "valid": self.checkpoints_valid},
                "events": {"total": self.events, "valid": self.events_valid, "unsigned": self.events_unsigned},
                "saved_checkpoints": {"total": self.external, "consistent": self.external_consistent},
                "problems": problems,
                "notes": self.notes,
            });
            println!("{answer:#}");
        } else {
            for note in &self.notes {
                println!("note: {note}");
            }
            for problem in &self.problems {
                println!("FAIL {}", problem.to_line());
            }
            println!("{}", self.summary());
        }
    }
}
