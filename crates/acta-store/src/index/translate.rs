//! Translation of the query AST into tantivy queries.
//!
//! Every translation returns a query that matches a superset of what the reference evaluator selects, and
//! says whether it is exact. Exact parts answer from the index alone; a query with any inexact part has each
//! candidate checked by the reference evaluator against the event read from the log. This keeps "the same
//! query gives the same answer everywhere" true by construction, while the common queries (words, phrases,
//! field tokens, equality, existence) never touch the log.

use std::ops::Bound;

use acta_query::{Field, FieldCond, Query, Sequence, TokenPattern};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query as TantivyQuery, RangeQuery,
    RegexQuery, TermQuery,
};
use tantivy::schema::{Field as IndexField, IndexRecordOption};
use tantivy::{Searcher, Term};

use super::InstanceScope;
use super::schema::{DERIVED, Fields, MAX_TERM_VALUE, SEP, term_text};
use super::scope::instances_where;

/// What a translation needs of a partition: its searcher (prefixes are expanded against its term dictionaries)
/// and the in-scope instances it holds, so that conditions on `_account`, `_instance` and `_region` become
/// the documents of the instances for which they hold.
pub(crate) struct PartitionFacts<'a> {
    pub(crate) searcher: &'a Searcher,
    pub(crate) present: &'a [&'a InstanceScope],
}

/// A tantivy query and whether it selects exactly what the reference evaluator selects.
pub(crate) struct Translated {
    pub(crate) query: Box<dyn TantivyQuery>,
    pub(crate) exact: bool,
}

impl Translated {
    fn exact(query: Box<dyn TantivyQuery>) -> Translated {
        Translated { query, exact: true }
    }
    fn superset(query: Box<dyn TantivyQuery>) -> Translated {
        Translated { query, exact: false }
    }
    fn all() -> Translated {
        Translated::exact(Box::new(AllQuery))
    }
    fn none() -> Translated {
        Translated::exact(Box::new(EmptyQuery))
    }
}

/// Translates a query for one partition.
pub(crate) fn translate(fields: &Fields, facts: &PartitionFacts<'_>, query: &Query) -> Translated {
    match query {
        Query::All => Translated::all(),
        Query::And(children) => combine(fields, facts, children, Occur::Must),
        Query::Or(children) => combine(fields, facts, children, Occur::Should),
        Query::Not(child) => {
            let inner = translate(fields, facts, child);
            if !inner.exact {
                // The complement of a superset is a subset: only the evaluator can decide.
                return Translated::superset(Box::new(AllQuery));
            }
            Translated::exact(Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn TantivyQuery>),
                (Occur::MustNot, inner.query),
            ])))
        }
        Query::Text(sequence) => sequence_query(facts.searcher, fields.text, "", sequence),
        Query::Field(field, cond) => field_query(fields, facts, field, cond),
    }
}

fn combine(fields: &Fields, facts: &PartitionFacts<'_>, children: &[Query], occur: Occur) -> Translated {
    let mut exact = true;
    let mut clauses = Vec::with_capacity(children.len());
    for child in children {
        let translated = translate(fields, facts, child);
        exact &= translated.exact;
        clauses.push((occur, translated.query));
    }
    if clauses.is_empty() {
        return if occur == Occur::Must { Translated::all() } else { Translated::none() };
    }
    Translated { query: Box::new(BooleanQuery::new(clauses)), exact }
}

fn field_query(fields: &Fields, facts: &PartitionFacts<'_>, field: &Field, cond: &FieldCond) -> Translated {
    let path = match field {
        Field::Path(segments) => segments.join("."),
        Field::Platform => format!("{DERIVED}platform"),
        Field::Received => format!("{DERIVED}received"),
        Field::Account | Field::Instance | Field::Region => return per_instance(fields, facts, field, cond),
    };
    match cond {
        FieldCond::Tokens(sequence) => sequence_query(facts.searcher, fields.tokens, &path, sequence),
        FieldCond::Equals { value, case_sensitive } => {
            let exact = value.len() <= MAX_TERM_VALUE;
            if *case_sensitive {
                let term = Term::from_field_text(fields.equals_cs, &term_text(&path, value));
                return Translated { query: term_query(term), exact };
            }
            // Values that are all lowercase have no `equals_ci` term: their `equals_cs` term is the same text.
            let text = term_text(&path, &value.to_lowercase());
            let query = BooleanQuery::new(vec![
                (Occur::Should, term_query(Term::from_field_text(fields.equals_ci, &text))),
                (Occur::Should, term_query(Term::from_field_text(fields.equals_cs, &text))),
            ]);
            Translated { query: Box::new(query), exact }
        }
        FieldCond::Prefix(prefix) => {
            if prefix.len() > MAX_TERM_VALUE {
                return Translated::superset(term_query(Term::from_field_text(fields.exists, &path)));
            }
            prefix_query(fields.equals_cs, &format!("{path}{SEP}{prefix}"))
        }
        FieldCond::Exists => Translated::exact(term_query(Term::from_field_text(fields.exists, &path))),
        // Numbers and numeric strings of any path compare in the evaluator; the index narrows to events that
        // have the field at all.
        FieldCond::Compare(_, _) => Translated::superset(term_query(Term::from_field_text(fields.exists, &path))),
    }
}

/// Conditions on a value every event of an instance shares: decided per instance with the reference evaluator.
fn per_instance(fields: &Fields, facts: &PartitionFacts<'_>, field: &Field, cond: &FieldCond) -> Translated {
    let condition = Query::Field(field.clone(), cond.clone());
    let event = serde_json::Value::Null;
    Translated::exact(instances_where(fields, facts.present, |scope| {
        let view = acta_query::EventView {
            raw: "",
            event: &event,
            account: &scope.account,
            instance: &scope.instance,
            region: &scope.region,
            received: "",
        };
        acta_query::matches(&condition, &view)
    }))
}

/// Consecutive tokens in a positioned field; `path` qualifies the terms (empty for the raw line).
fn sequence_query(searcher: &Searcher, index_field: IndexField, path: &str, sequence: &Sequence) -> Translated {
    let qualify = |text: &str| {
        if path.is_empty() { text.to_string() } else { format!("{path}{SEP}{text}") }
    };
    let patterns = &sequence.0;
    if patterns.is_empty() {
        // An empty sequence matches every raw line, and every present value of a field.
        return if path.is_empty() { Translated::all() } else { Translated::superset(Box::new(AllQuery)) };
    }
    let has_wildcard = patterns.iter().any(|p| matches!(p, TokenPattern::Wildcard(_)));
    if has_wildcard {
        if let [TokenPattern::Wildcard(glob)] = patterns.as_slice() {
            return wildcard_query(index_field, &qualify(""), glob);
        }
        // Each token must occur somewhere; their order and adjacency is left to the evaluator.
        let clauses = patterns
            .iter()
            .map(|pattern| {
                let single = Sequence(vec![pattern.clone()]);
                (Occur::Must, sequence_query(searcher, index_field, path, &single).query)
            })
            .collect();
        return Translated::superset(Box::new(BooleanQuery::new(clauses)));
    }
    let prefix_last = matches!(patterns.last(), Some(TokenPattern::Prefix(_)));
    let terms: Vec<Term> = patterns
        .iter()
        .map(|pattern| match pattern {
            TokenPattern::Exact(text) | TokenPattern::Prefix(text) | TokenPattern::Wildcard(text) => {
                Term::from_field_text(index_field, &qualify(text))
            }
        })
        .collect();
    if let (true, Some(last)) = (prefix_last, terms.last()) {
        // tantivy expands the prefix to at most `max_expansions` terms per segment (and allocates that many
        // slots), so it is set to the true number of expansions; past a bound the evaluator decides.
        let expansions = prefix_expansions(searcher, index_field, last.value().as_str().unwrap_or_default());
        let Some(expansions) = expansions else {
            let exact_part: Vec<(Occur, Box<dyn TantivyQuery>)> =
                terms[..terms.len() - 1].iter().map(|term| (Occur::Must, term_query(term.clone()))).collect();
            if exact_part.is_empty() {
                return Translated::superset(Box::new(AllQuery));
            }
            return Translated::superset(Box::new(BooleanQuery::new(exact_part)));
        };
        if expansions == 0 {
            return Translated::none();
        }
        let mut query = PhrasePrefixQuery::new(terms);
        query.set_max_expansions(expansions);
        return Translated::exact(Box::new(query));
    }
    if let [term] = terms.as_slice() {
        return Translated::exact(term_query(term.clone()));
    }
    Translated::exact(Box::new(PhraseQuery::new(terms)))
}

/// Above this many terms sharing a prefix in one segment, the prefix is not expanded by the index.
const MAX_PREFIX_EXPANSIONS: u32 = 100_000;

/// The largest number of terms starting with `prefix` in any segment, `None` above the bound.
fn prefix_expansions(searcher: &Searcher, index_field: IndexField, prefix: &str) -> Option<u32> {
    let upper = successor(prefix);
    let mut most = 0u32;
    for segment in searcher.segment_readers() {
        let Ok(inverted) = segment.inverted_index(index_field) else {
            continue;
        };
        let mut range = inverted.terms().range().ge(prefix.as_bytes());
        if let Some(upper) = &upper {
            range = range.lt(upper.as_bytes());
        }
        let Ok(mut stream) = range.into_stream() else {
            return None;
        };
        let mut count = 0u32;
        while stream.advance() {
            count += 1;
            if count > MAX_PREFIX_EXPANSIONS {
                return None;
            }
        }
        most = most.max(count);
    }
    Some(most)
}

fn term_query(term: Term) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// Every term of a raw field that starts with `prefix`.
fn prefix_query(index_field: IndexField, prefix: &str) -> Translated {
    let lower = Term::from_field_text(index_field, prefix);
    let upper = match successor(prefix) {
        Some(next) => Bound::Excluded(Term::from_field_text(index_field, &next)),
        None => Bound::Unbounded,
    };
    Translated::exact(Box::new(RangeQuery::new(Bound::Included(lower), upper)))
}

/// The smallest string greater than every string that starts with `prefix`, in byte order.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut code = u32::from(last) + 1;
        // Skip the surrogate range, which has no chars.
        if (0xD800..=0xDFFF).contains(&code) {
            code = 0xE000;
        }
        if let Some(next) = char::from_u32(code) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A whole token matching a glob where `*` is any run of characters.
fn wildcard_query(index_field: IndexField, qualifier: &str, glob: &str) -> Translated {
    let mut pattern = regex_escape(qualifier);
    for (i, part) in glob.split('*').enumerate() {
        if i > 0 {
            pattern.push_str(".*");
        }
        pattern.push_str(&regex_escape(part));
    }
    match RegexQuery::from_pattern(&pattern, index_field) {
        Ok(query) => Translated::exact(Box::new(query)),
        // An automaton too large to build (an absurd glob) cannot be answered from the index; the
        // evaluator decides instead.
        Err(error) => {
            tracing::warn!(%error, "wildcard pattern not indexable");
            Translated::superset(Box::new(AllQuery))
        }
    }
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else {
            // Any other char is written as a hex escape, which the automaton's syntax always takes literally.
            out.push_str(&format!("\\x{{{:x}}}", u32::from(c)));
        }
    }
    out
}

/// eventTime range: `from` inclusive, `to` exclusive.
pub(crate) fn time_range(fields: &Fields, from: Option<i64>, to: Option<i64>) -> Box<dyn TantivyQuery> {
    let lower = from.map_or(Bound::Unbounded, |ns| Bound::Included(Term::from_field_i64(fields.time, ns)));
    let upper = to.map_or(Bound::Unbounded, |ns| Bound::Excluded(Term::from_field_i64(fields.time, ns)));
    Box::new(RangeQuery::new(lower, upper))
}
