//! The Acta search language (`shared/QUERY.md`): one tokenizer, one parser, one AST, and two in-memory
//! evaluators that must agree with each other and with the index.
//!
//! Roles:
//! - [`tokenize`] is the only tokenizer. The index, PostgreSQL and both evaluators call it, so a word means the
//!   same thing wherever a query runs.
//! - [`parse`] turns query text into a [`Query`]; errors carry the 1-based column (in chars) and what was
//!   expected. `Display` for [`Query`] prints canonical text that parses back to the same AST.
//! - [`matches`] is the reference evaluator: deliberately naive (it re-tokenizes and re-resolves for every
//!   node) so that it is easy to check against the contract.
//! - [`Compiled`] with [`PreparedEvent`] is the fast form used for live tail, alerts and index verification.
//!   It must give exactly the answer of [`matches`]; property tests compare them on random queries and events.
//! - [`field_values`] and [`field_exists`] define what a field is in an event; the index builder and board
//!   breakdowns use them so that "the values of a field" has one definition.
//!
//! Invariants:
//! - Parsing is total over `&str`: any text yields a `Query` or a `QueryError`, never a panic, within
//!   [`Limits`] and [`MAX_NESTING`].
//! - Evaluation never panics, whatever the query or the event.
//! - `parse(&q.to_string()) == Ok(q)` for every `q` the parser produces.

#![warn(missing_docs)]

pub mod ast;
mod compiled;
mod eval;
mod event;
mod parse;
mod pipe_run;
pub mod pipeline;
mod print;

pub use ast::*;
pub use compiled::{Compiled, PreparedEvent};
pub use eval::matches;
pub use event::{EventView, FieldValue, field_exists, field_values};
pub use pipe_run::{
    Column, ColumnType, DEFAULT_EVENT_COLUMNS, PipeError, PipeLimits, Runner, Table, compare_cells, event_time, run,
};
pub use pipeline::{Aggregate, Aggregation, Comparison, Pipeline, RowStage, parse_pipeline, parse_pipeline_with};

/// How deep groups and negations may nest. Not a user-facing limit in practice; it keeps the recursive parser,
/// printer and evaluators far away from the stack's end on hostile input.
pub const MAX_NESTING: usize = 64;

/// Splits text into lowercase tokens: every character that is not a letter or digit (Unicode-aware,
/// [`char::is_alphanumeric`]) separates tokens, and each token is lowercased with [`str::to_lowercase`].
///
/// `iam-identity.user-apikey.delete` gives `iam` `identity` `user` `apikey` `delete`; camelCase is not split.
/// This is the one tokenizer of Acta: the index and PostgreSQL store exactly these tokens.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|piece| !piece.is_empty()).map(str::to_lowercase).collect()
}

/// Limits on query text, so that one request cannot make the server parse or evaluate without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest query text, in bytes (default 4096).
    pub max_bytes: usize,
    /// Most terms: words, phrases, field conditions, and each condition of a `field:( ... )` (default 100).
    pub max_terms: usize,
    /// Most values in one list `field:[a,b,...]` (default 1000).
    pub max_list_values: usize,
    /// Most `*` in one wildcard pattern (a token with a `*` that is not only trailing), after runs of stars are
    /// collapsed (default 8). Each star multiplies the work of matching the pattern against every indexed token.
    pub max_wildcard_stars: usize,
    /// Longest wildcard pattern, in chars (default 128).
    pub max_wildcard_chars: usize,
    /// Most wildcard patterns in one query (default 10): each one scans an index partition's whole dictionary.
    pub max_wildcard_patterns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 4096,
            max_terms: 100,
            max_list_values: 1000,
            max_wildcard_stars: 8,
            max_wildcard_chars: 128,
            max_wildcard_patterns: 10,
        }
    }
}

/// A query that does not parse: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// 1-based column, counted in chars (not bytes), of the place the parser stopped. The end of the input is
    /// the column after its last char.
    pub column: usize,
    /// What was expected, for people: `expected ')' to close the group opened at column 1`.
    pub message: String,
}

/// Parses query text with the default [`Limits`]. Empty text (or only whitespace) is [`Query::All`].
///
/// Free text with no letter or digit (punctuation or emoji only, `...`, `""`, `🔥`) is an error: it has no word to
/// search for and would otherwise match every event. A word of stars (`*`) still means every event.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    parse_with(text, &Limits::default())
}

/// Parses query text with the given limits.
///
/// A text with pipe stages (`kms | stats count by action`) is refused here, at its first `|`: read as a query its
/// stages would be words to search for, and a search, a count, a view or an alert would silently find nothing.
/// Pipes are answered as tables by [`parse_pipeline`]'s callers.
pub fn parse_with(text: &str, limits: &Limits) -> Result<Query, QueryError> {
    if let Some(column) = pipeline::first_pipe(text) {
        return Err(QueryError { column, message: PIPES_NOT_HERE.to_string() });
    }
    parse::parse(text, limits)
}

/// The error of a query with pipe stages where only a query is taken.
pub const PIPES_NOT_HERE: &str = "pipe stages ('| stats', '| top'...) are answered as a table, by GET /v1/events/query, `acta events query` or \
     the console's search bar; here only the query before the '|' is taken";
