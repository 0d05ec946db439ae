//! The index schema and how an event becomes a document.
//!
//! Values of every field path are flattened into path-qualified terms, so that one tantivy field answers
//! conditions on any path of any event, with exactly the reference evaluator's notion of a field value
//! (see `acta_query::field_values`): scalar leaves, arrays transparent, stringified JSON descended into.

use std::borrow::Cow;

use acta_query::{Field as QueryField, tokenize};
use serde_json::Value;
use tantivy::schema::{FAST, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{TantivyDocument, doc};

/// Separates a path from the value in a path-qualified term. Never part of a reachable path (see `flatten`).
pub(crate) const SEP: char = '\u{1}';
/// Starts the pseudo-paths of derived fields, which no JSON key can produce.
pub(crate) const DERIVED: char = '\u{2}';
/// Values longer than this are indexed truncated, with [`TRUNCATED`] appended; queries on them are verified.
pub(crate) const MAX_TERM_VALUE: usize = 1000;
pub(crate) const TRUNCATED: char = '\u{3}';
/// Position gap between values of a field, so a phrase never spans two values.
const VALUE_GAP: usize = 4;
/// The tokenizer of the positioned fields: it reads back the tokens [`document`] computed (see [`Encoded`]).
pub(crate) const ENCODED_TOKENIZER: &str = "acta_encoded";

/// The fields kept as columnar (fast) text as well, so that aggregations by them read a column per matching
/// document instead of walking the term dictionary. `level` is `severity` and needs no column of its own.
/// Each entry is (the field's name in the query language, the tantivy field name). Changing this list
/// changes the schema, which makes every existing partition rebuild itself from the log on open.
pub(crate) const COLUMNS: [(&str, &str); 11] = [
    ("action", "by_action"),
    ("outcome", "by_outcome"),
    ("severity", "by_severity"),
    ("initiator.id", "by_initiator_id"),
    ("initiator.name", "by_initiator_name"),
    ("initiator.host.agent", "by_initiator_host_agent"),
    ("target.id", "by_target_id"),
    ("target.name", "by_target_name"),
    ("target.typeURI", "by_target_type_uri"),
    ("reason.reasonCode", "by_reason_code"),
    ("_platform", "by_platform"),
];

/// The fields of a partition's index.
#[derive(Clone)]
pub(crate) struct Fields {
    pub(crate) schema: Schema,
    /// The instance the event belongs to: what [`super::scope::restrict`] keeps a query inside of, and
    /// (as a column) which log the sequence number points into.
    pub(crate) instance: Field,
    /// Sequence number in the instance's log: the pointer to the event.
    pub(crate) seq: Field,
    /// eventTime, unix nanoseconds.
    pub(crate) time: Field,
    /// Arrival time, unix nanoseconds.
    pub(crate) received: Field,
    /// The event id (given or assigned), for duplicate detection and lookup.
    pub(crate) id: Field,
    /// Tokens of the raw line, with positions.
    pub(crate) text: Field,
    /// `path SEP token` for every token of every value, with positions and gaps between values.
    pub(crate) tokens: Field,
    /// `path SEP lowercase(value)` for case-insensitive equality, only for values that are not all lowercase
    /// already: for the others the `equals_cs` term is the same text (see `translate`).
    pub(crate) equals_ci: Field,
    /// `path SEP value` for case-sensitive equality and prefixes.
    pub(crate) equals_cs: Field,
    /// `path` of every present, non-null value (objects included).
    pub(crate) exists: Field,
    /// The columns of [`COLUMNS`], in its order: the values of the field, each as [`column_value`] gives it.
    pub(crate) columns: Vec<(String, Field)>,
}

impl Fields {
    pub(crate) fn new() -> Fields {
        let mut builder = Schema::builder();
        // Nothing is scored, so no field keeps norms; eventTime is only filtered by range, which tantivy answers
        // from the fast column.
        let keyword = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_fieldnorms(false)
                .set_index_option(IndexRecordOption::Basic),
        );
        let instance = builder.add_text_field("instance", keyword.clone() | FAST);
        let seq = builder.add_u64_field("seq", FAST);
        let time = builder.add_i64_field("time", FAST);
        let received = builder.add_i64_field("received", FAST);
        let id = builder.add_text_field("id", keyword.clone());
        let positioned = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ENCODED_TOKENIZER)
                .set_fieldnorms(false)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let text = builder.add_text_field("text", positioned.clone());
        let tokens = builder.add_text_field("tokens", positioned);
        let equals_ci = builder.add_text_field("equals_ci", keyword.clone());
        let equals_cs = builder.add_text_field("equals_cs", keyword.clone());
        let exists = builder.add_text_field("exists", keyword);
        // Fast only: never searched, read by document. Without a tokenizer the value is kept whole.
        let columns = COLUMNS
            .iter()
            .filter_map(|(path, name)| Some((field_path(&QueryField::from_name(path))?, name)))
            .map(|(path, name)| (path, builder.add_text_field(name, TextOptions::default().set_fast(None))))
            .collect();
        Fields {
            schema: builder.build(),
            instance,
            seq,
            time,
            received,
            id,
            text,
            tokens,
            equals_ci,
            equals_cs,
            exists,
            columns,
        }
    }
}

/// What the index needs of one stored event.
pub(crate) struct EventDoc<'a> {
    pub(crate) instance: &'a str,
    pub(crate) seq: u64,
    pub(crate) event_time: i64,
    pub(crate) received_ns: i64,
    pub(crate) received_text: &'a str,
    pub(crate) id: &'a str,
    pub(crate) raw: &'a str,
    pub(crate) value: &'a Value,
}

/// Builds the tantivy document of an event.
pub(crate) fn document(fields: &Fields, event: &EventDoc<'_>) -> TantivyDocument {
    let mut document = doc!(
        fields.instance => event.instance,
        fields.seq => event.seq,
        fields.time => event.event_time,
        fields.received => event.received_ns,
        fields.id => event.id,
    );
    let mut text = Encoded::with_capacity(event.raw.len() * 2);
    for token in tokenize(event.raw) {
        text.push(&[&token], false);
    }
    document.add_text(fields.text, text.0);

    let mut leaves = Vec::new();
    flatten(event.value, &mut String::new(), true, &mut leaves);
    if let Some(Value::String(action)) = event.value.get("action") {
        let platform = action.split('.').next().unwrap_or_default();
        leaves.push(Leaf::Scalar(format!("{DERIVED}platform"), platform.to_string()));
    }
    leaves.push(Leaf::Scalar(format!("{DERIVED}received"), event.received_text.to_string()));

    let mut tokens = Encoded::with_capacity(event.raw.len() * 4);
    let mut gap = false;
    for leaf in &leaves {
        match leaf {
            Leaf::Present(path) => document.add_text(fields.exists, path),
            Leaf::Scalar(path, value) => {
                if let Some((_, column)) = fields.columns.iter().find(|(column_path, _)| column_path == path) {
                    document.add_text(*column, column_value(value));
                }
                document.add_text(fields.exists, path);
                let lowercase = value.to_lowercase();
                if lowercase != *value {
                    document.add_text(fields.equals_ci, term_text(path, &lowercase));
                }
                document.add_text(fields.equals_cs, term_text(path, value));
                let mut sep = [0u8; 4];
                let sep: &str = SEP.encode_utf8(&mut sep);
                for token in tokenize(value) {
                    tokens.push(&[path, sep, &token], gap);
                    gap = false;
                }
                gap = true;
            }
        }
    }
    document.add_text(fields.tokens, tokens.0);
    document
}

/// A token sequence written into a field's text, for [`EncodedTokenizer`] to split back: each token as its
/// length in bytes, `:` (or `;` when a value gap precedes it), and its text. The length makes it unambiguous
/// whatever the tokens hold.
///
/// Why not tantivy's pre-tokenized strings: a `TantivyDocument` keeps them serialized as JSON, so every token
/// was written as a JSON object on the indexer thread and parsed again on tantivy's indexing thread, which
/// (with the allocations) took about a fifth of the indexing CPU.
struct Encoded(String);

impl Encoded {
    fn with_capacity(capacity: usize) -> Encoded {
        Encoded(String::with_capacity(capacity))
    }

    /// Appends the token made of `parts` concatenated.
    fn push(&mut self, parts: &[&str], gap: bool) {
        use std::fmt::Write;
        let len: usize = parts.iter().map(|part| part.len()).sum();
        let _ = write!(self.0, "{len}{}", if gap { ';' } else { ':' });
        for part in parts {
            self.0.push_str(part);
        }
    }
}

/// Splits an [`Encoded`] text into its tokens, with the positions the token order and gaps give: each token
/// follows the previous one, plus [`VALUE_GAP`] where a value gap is marked.
#[derive(Clone, Default)]
pub(crate) struct EncodedTokenizer {
    token: Token,
}

impl Tokenizer for EncodedTokenizer {
    type TokenStream<'a> = EncodedStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> EncodedStream<'a> {
        self.token.reset();
        EncodedStream { rest: text, next_position: 0, token: &mut self.token }
    }
}

pub(crate) struct EncodedStream<'a> {
    rest: &'a str,
    next_position: usize,
    token: &'a mut Token,
}

impl TokenStream for EncodedStream<'_> {
    fn advance(&mut self) -> bool {
        // Only `document` writes these texts; anything malformed ends the stream rather than panicking.
        let Some(marker) = self.rest.find([':', ';']) else {
            return false;
        };
        let Ok(len) = self.rest[..marker].parse::<usize>() else {
            return false;
        };
        let start = marker + 1;
        let Some(text) = self.rest.get(start..start + len) else {
            return false;
        };
        if self.rest.as_bytes()[marker] == b';' {
            self.next_position += VALUE_GAP;
        }
        self.token.text.clear();
        self.token.text.push_str(text);
        self.token.offset_from = 0;
        self.token.offset_to = 0;
        self.token.position = self.next_position;
        self.token.position_length = 1;
        self.next_position += 1;
        self.rest = &self.rest[start + len..];
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// `path SEP value`, truncated as described at [`MAX_TERM_VALUE`].
pub(crate) fn term_text(path: &str, value: &str) -> String {
    if value.len() <= MAX_TERM_VALUE {
        return format!("{path}{SEP}{value}");
    }
    let mut end = MAX_TERM_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{path}{SEP}{}{TRUNCATED}", &value[..end])
}

/// The value as a column keeps it: like the value part of [`term_text`], truncated past [`MAX_TERM_VALUE`].
pub(crate) fn column_value(value: &str) -> Cow<'_, str> {
    if value.len() <= MAX_TERM_VALUE {
        return Cow::Borrowed(value);
    }
    let mut end = MAX_TERM_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{TRUNCATED}", &value[..end]))
}

/// Whether the index holds `value` (as a term or a column value) only as a truncated stand-in, so that its
/// true text must be read from the event. A short value that happens to end with [`TRUNCATED`] looks the
/// same in the index, so it is treated the same way.
pub(crate) fn held_truncated(value: &str) -> bool {
    value.len() > MAX_TERM_VALUE || value.ends_with(TRUNCATED)
}

/// The path under which documents keep a field's values: its dotted path, or the pseudo-path of `_platform`
/// and `_received`. `None` for the fields every event of a partition shares (`_account`, `_instance`,
/// `_region`), which documents do not hold.
pub(crate) fn field_path(field: &QueryField) -> Option<String> {
    match field {
        QueryField::Path(segments) => Some(segments.join(".")),
        QueryField::Platform => Some(format!("{DERIVED}platform")),
        QueryField::Received => Some(format!("{DERIVED}received")),
        QueryField::Account | QueryField::Instance | QueryField::Region => None,
    }
}

enum Leaf {
    /// An object: it satisfies only `field:*`.
    Present(String),
    /// A scalar leaf and its text (numbers as their JSON text).
    Scalar(String, String),
}

/// Collects the leaves of `value` at `path`. `scalars_here` is false inside a parsed stringified JSON at the
/// path of the string itself, where the evaluator only descends (the string is the value there).
fn flatten(value: &Value, path: &mut String, scalars_here: bool, out: &mut Vec<Leaf>) {
    match value {
        Value::Null => {}
        Value::Bool(flag) => {
            if scalars_here {
                out.push(Leaf::Scalar(path.clone(), flag.to_string()));
            }
        }
        Value::Number(number) => {
            if scalars_here {
                out.push(Leaf::Scalar(path.clone(), number.to_string()));
            }
        }
        Value::String(text) => {
            if scalars_here {
                out.push(Leaf::Scalar(path.clone(), text.clone()));
            }
            if let Some(parsed) = stringified_json(text) {
                flatten(&parsed, path, false, out);
            }
        }
        // Arrays are transparent: a field exists through its elements, so `[]` and `[null]` do not exist.
        Value::Array(items) => {
            for item in items {
                flatten(item, path, scalars_here, out);
            }
        }
        Value::Object(members) => {
            if scalars_here && !path.is_empty() {
                out.push(Leaf::Present(path.clone()));
            }
            for (key, member) in members {
                // The evaluator splits a field at dots, so such keys are unreachable; SEP and DERIVED must
                // never appear in a path.
                if key.is_empty() || key.contains(['.', SEP, DERIVED, TRUNCATED]) {
                    continue;
                }
                let before = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                flatten(member, path, true, out);
                path.truncate(before);
            }
        }
    }
}

/// The JSON inside a string, when the string holds an object or an array (IBM's stringified requestData).
pub(crate) fn stringified_json(text: &str) -> Option<Value> {
    let start = text.trim_start().chars().next()?;
    if start != '{' && start != '[' {
        return None;
    }
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod encoded_tests {
    use super::*;

    #[test]
    fn encoded_tokens_come_back_whole_with_their_positions_and_value_gaps() {
        let mut encoded = Encoded::with_capacity(64);
        encoded.push(&["a.b", "\u{1}", "12:3;x"], false);
        encoded.push(&["é"], false);
        encoded.push(&["next value"], true);
        encoded.push(&[""], false);
        let mut tokenizer = EncodedTokenizer::default();
        let mut stream = tokenizer.token_stream(&encoded.0);
        let mut seen = Vec::new();
        while stream.advance() {
            seen.push((stream.token().text.clone(), stream.token().position));
        }
        let expected = [("a.b\u{1}12:3;x", 0), ("é", 1), ("next value", 2 + VALUE_GAP), ("", 3 + VALUE_GAP)];
        assert_eq!(seen, expected.map(|(text, position)| (text.to_string(), position)));
    }
}
