//! The fast evaluator. A [`Compiled`] query has its constants folded, its case-insensitive texts lowered and
//! its globs split once; a [`PreparedEvent`] tokenizes the raw line at most once and remembers each field it
//! was asked about, so that many queries (one per alert) can share the work on one event.
//!
//! It must agree with [`crate::matches`] on every query and event; only the amount of work differs.

use std::cell::{OnceCell, RefCell};

use crate::ast::{CmpOp, Field, FieldCond, Query, Sequence, TokenPattern};
use crate::event::{EventView, FieldValue, resolve_field};

/// The tokens of one text, lowered into a single buffer to avoid an allocation per token.
#[derive(Debug)]
struct TokenList {
    buffer: String,
    spans: Vec<(usize, usize)>,
}

impl TokenList {
    /// Same tokens as [`crate::tokenize`], piece by piece, so that `str::to_lowercase`'s context rules (final
    /// sigma) see the same text.
    fn new(text: &str) -> TokenList {
        let mut buffer = String::with_capacity(text.len());
        let mut spans = Vec::new();
        for piece in text.split(|c: char| !c.is_alphanumeric()) {
            if piece.is_empty() {
                continue;
            }
            let start = buffer.len();
            if piece.is_ascii() {
                buffer.push_str(piece);
                if let Some(token) = buffer.get_mut(start..) {
                    token.make_ascii_lowercase();
                }
            } else {
                buffer.push_str(&piece.to_lowercase());
            }
            spans.push((start, buffer.len()));
        }
        TokenList { buffer, spans }
    }

    fn token(&self, span: (usize, usize)) -> &str {
        self.buffer.get(span.0..span.1).unwrap_or_default()
    }
}

#[derive(Debug)]
enum Pattern {
    Exact(String),
    Prefix(String),
    /// `*`-separated literal parts: the first anchors the start, the last the end, the middle ones are found
    /// left to right. Always at least two parts, since the glob has a `*`.
    Glob(Vec<String>),
}

impl Pattern {
    fn new(pattern: &TokenPattern) -> Pattern {
        match pattern {
            TokenPattern::Exact(text) => Pattern::Exact(text.clone()),
            TokenPattern::Prefix(text) => Pattern::Prefix(text.clone()),
            TokenPattern::Wildcard(glob) if glob.contains('*') => {
                Pattern::Glob(glob.split('*').map(str::to_string).collect())
            }
            TokenPattern::Wildcard(glob) => Pattern::Exact(glob.clone()),
        }
    }

    fn matches(&self, token: &str) -> bool {
        match self {
            Pattern::Exact(text) => token == text,
            Pattern::Prefix(text) => token.starts_with(text.as_str()),
            Pattern::Glob(parts) => glob_matches(parts, token),
        }
    }
}

/// Leftmost matching of the middle parts is enough for globs whose only operator is `*`. Byte-wise search is
/// char-correct because UTF-8 text can only match UTF-8 text at char boundaries.
fn glob_matches(parts: &[String], token: &str) -> bool {
    let (Some((first, rest)), Some(last)) = (parts.split_first(), parts.last()) else {
        return false;
    };
    if rest.is_empty() {
        return token == first;
    }
    let middle = rest.split_last().map_or(&[][..], |(_, middle)| middle);
    if token.len() < first.len() + last.len() || !token.starts_with(first.as_str()) || !token.ends_with(last.as_str()) {
        return false;
    }
    let Some(mut rest_of_token) = token.get(first.len()..token.len() - last.len()) else {
        return false;
    };
    for part in middle {
        match rest_of_token.find(part.as_str()) {
            Some(at) => rest_of_token = rest_of_token.get(at + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    true
}

#[derive(Debug)]
struct Phrase(Vec<Pattern>);

impl Phrase {
    fn new(sequence: &Sequence) -> Phrase {
        Phrase(sequence.0.iter().map(Pattern::new).collect())
    }

    fn matches(&self, tokens: &TokenList) -> bool {
        if self.0.is_empty() {
            return true;
        }
        tokens
            .spans
            .windows(self.0.len())
            .any(|window| window.iter().zip(&self.0).all(|(&span, pattern)| pattern.matches(tokens.token(span))))
    }
}

#[derive(Debug)]
enum Test {
    Exists,
    Tokens(Phrase),
    EqualsCs(String),
    /// Holds the lowercased value.
    EqualsCi(String),
    Prefix(String),
    Compare(CmpOp, f64),
}

#[derive(Debug)]
enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Text(Phrase),
    Field(Field, Test),
}

impl Node {
    fn compile(query: &Query) -> Node {
        match query {
            Query::All => Node::Const(true),
            Query::And(children) => Node::junction(children, true),
            Query::Or(children) => Node::junction(children, false),
            Query::Not(child) => match Node::compile(child) {
                Node::Const(value) => Node::Const(!value),
                node => Node::Not(Box::new(node)),
            },
            Query::Text(sequence) if sequence.0.is_empty() => Node::Const(true),
            Query::Text(sequence) => Node::Text(Phrase::new(sequence)),
            Query::Field(field, cond) => {
                let test = match cond {
                    FieldCond::Exists => Test::Exists,
                    FieldCond::Tokens(sequence) => Test::Tokens(Phrase::new(sequence)),
                    FieldCond::Equals { value, case_sensitive: true } => Test::EqualsCs(value.clone()),
                    FieldCond::Equals { value, case_sensitive: false } => Test::EqualsCi(value.to_lowercase()),
                    FieldCond::Prefix(prefix) => Test::Prefix(prefix.clone()),
                    FieldCond::Compare(op, bound) => Test::Compare(*op, *bound),
                };
                Node::Field(field.clone(), test)
            }
        }
    }

    /// AND (`is_and`) or OR of the children with constants folded away, cheapest children first so that
    /// short-circuiting skips the expensive ones. Reordering is safe: evaluation has no effects.
    fn junction(children: &[Query], is_and: bool) -> Node {
        let mut nodes = Vec::with_capacity(children.len());
        for child in children {
            match Node::compile(child) {
                // The identity element drops out; the absorbing one decides.
                Node::Const(value) if value == is_and => {}
                Node::Const(value) => return Node::Const(value),
                node => nodes.push(node),
            }
        }
        nodes.sort_by_key(Node::cost);
        match nodes.len() {
            0 => Node::Const(is_and),
            1 => nodes.pop().unwrap_or(Node::Const(is_and)),
            _ if is_and => Node::And(nodes),
            _ => Node::Or(nodes),
        }
    }

    /// A rough cost: field lookups are cheap once cached, the raw line's tokens are the dearest thing to build.
    fn cost(&self) -> usize {
        match self {
            Node::Const(_) => 0,
            Node::Field(_, Test::Exists) => 1,
            Node::Field(_, Test::Tokens(_)) => 3,
            Node::Field(..) => 2,
            Node::Text(_) => 8,
            Node::Not(child) => child.cost(),
            Node::And(children) | Node::Or(children) => children.iter().map(Node::cost).sum(),
        }
    }

    fn matches(&self, event: &PreparedEvent<'_>) -> bool {
        match self {
            Node::Const(value) => *value,
            Node::And(children) => children.iter().all(|child| child.matches(event)),
            Node::Or(children) => children.iter().any(|child| child.matches(event)),
            Node::Not(child) => !child.matches(event),
            Node::Text(phrase) => phrase.matches(event.raw_tokens()),
            Node::Field(field, test) => event.with_field(field, |entry| entry.passes(test)),
        }
    }
}

/// A query compiled for repeated evaluation. Gives exactly the answers of [`crate::matches`].
#[derive(Debug)]
pub struct Compiled {
    root: Node,
}

impl Compiled {
    /// Compiles a query. Cheap; meant to be done once per search, tail or alert, not per event.
    pub fn new(query: &Query) -> Self {
        Compiled { root: Node::compile(query) }
    }

    /// Whether the event matches. Never panics.
    pub fn matches(&self, event: &PreparedEvent<'_>) -> bool {
        self.root.matches(event)
    }
}

/// What one field is in one event, with the derived forms a test may need computed on first use.
#[derive(Debug)]
struct FieldEntry<'a> {
    field: Field,
    exists: bool,
    values: Vec<FieldValue<'a>>,
    tokens: OnceCell<Vec<TokenList>>,
}

impl<'a> FieldEntry<'a> {
    fn new(view: &EventView<'a>, field: &Field) -> Self {
        let (values, exists) = resolve_field(view, field);
        FieldEntry { field: field.clone(), exists, values, tokens: OnceCell::new() }
    }

    fn passes(&self, test: &Test) -> bool {
        match test {
            Test::Exists => self.exists,
            Test::Tokens(phrase) => self
                .tokens
                .get_or_init(|| self.values.iter().map(|value| TokenList::new(&value.text())).collect())
                .iter()
                .any(|tokens| phrase.matches(tokens)),
            Test::EqualsCs(wanted) => self.values.iter().any(|value| value.text() == wanted.as_str()),
            Test::EqualsCi(lowered) => self.values.iter().any(|value| {
                let text = value.text();
                if text.is_ascii() && lowered.is_ascii() {
                    text.eq_ignore_ascii_case(lowered)
                } else {
                    text.to_lowercase() == *lowered
                }
            }),
            Test::Prefix(prefix) => self.values.iter().any(|value| value.text().starts_with(prefix.as_str())),
            Test::Compare(op, bound) => {
                self.values.iter().any(|value| value.number().is_some_and(|number| op.holds(number, *bound)))
            }
        }
    }
}

/// An event prepared for evaluation by any number of [`Compiled`] queries: the raw line is tokenized at most
/// once, on first need, and each field is resolved at most once.
///
/// Not `Sync` (the caches use cells): prepare one per thread that evaluates the event.
#[derive(Debug)]
pub struct PreparedEvent<'a> {
    view: EventView<'a>,
    raw: OnceCell<TokenList>,
    fields: RefCell<Vec<FieldEntry<'a>>>,
}

impl<'a> PreparedEvent<'a> {
    /// Wraps an event; nothing is computed until a query asks.
    pub fn new(view: EventView<'a>) -> Self {
        PreparedEvent { view, raw: OnceCell::new(), fields: RefCell::new(Vec::new()) }
    }

    /// The event being evaluated.
    pub fn view(&self) -> &EventView<'a> {
        &self.view
    }

    fn raw_tokens(&self) -> &TokenList {
        self.raw.get_or_init(|| TokenList::new(self.view.raw))
    }

    /// Runs `f` on the cached entry of `field`, resolving it first if needed. `f` never reaches back into the
    /// cache, so the borrows cannot clash; if they somehow did, the entry is computed afresh rather than
    /// panicking.
    fn with_field<R>(&self, field: &Field, f: impl FnOnce(&FieldEntry<'a>) -> R) -> R {
        let Ok(mut cache) = self.fields.try_borrow_mut() else {
            return f(&FieldEntry::new(&self.view, field));
        };
        let index = match cache.iter().position(|entry| entry.field == *field) {
            Some(index) => index,
            None => {
                cache.push(FieldEntry::new(&self.view, field));
                cache.len() - 1
            }
        };
        match cache.get(index) {
            Some(entry) => f(entry),
            None => f(&FieldEntry::new(&self.view, field)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Compiled, PreparedEvent};

    fn shareable<T: Send + Sync>() {}
    fn sendable<T: Send>() {}

    #[test]
    fn compiled_queries_are_shared_between_threads_and_prepared_events_can_move() {
        shareable::<Compiled>();
        shareable::<crate::Query>();
        sendable::<PreparedEvent<'static>>();
    }
}
