//! Pipes: a query followed by stages (`action:login | stats count by outcome | sort -count`), parsed here; the
//! reference runner is `pipe_run.rs`.
//!
//! A pipeline has at most one aggregating stage (`stats`, `top`, `rare`, `timechart`). Before it, only `where`
//! may stand, and it is folded into the query (`where f > 3` is `f:>3`), so what is aggregated is always "the
//! events of a query" and a group's count is that query's count. After it, or in a pipeline without one, the
//! row stages (`fields`, `sort`, `head`, `where`) work on the rows. `head`, `sort` and `fields` before an
//! aggregation are refused: the count of a group would depend on an order, or on a column thrown away.
//!
//! Errors carry the column in the whole text, as the query's own errors do; every message is listed in
//! `docs/query.md` (a test holds them to this file).

use crate::ast::{CmpOp, Field, FieldCond, Query};
use crate::{Limits, QueryError, parse_with};

/// Most stages in one pipeline.
pub const MAX_STAGES: usize = 20;

/// Most fields after `by`.
pub const MAX_BY: usize = 2;

/// A query and what to do with the events it finds.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The events: the query before the first `|`, with any `where` before the aggregation folded in.
    pub query: Query,
    /// The aggregation, when there is one.
    pub aggregation: Option<Aggregation>,
    /// What is done to the rows: of the aggregation, or of the events when there is none.
    pub rows: Vec<RowStage>,
}

/// The stage that turns events into groups.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregation {
    /// `stats count, count_distinct(f), min(f), max(f) by f1, f2`: one row per group.
    Stats {
        /// The values computed per group, in the order written.
        aggregates: Vec<Aggregate>,
        /// The fields whose values form the groups (none: one group of every event).
        by: Vec<Field>,
    },
    /// `top N f` (`rare` when `rare`): the N values of a field with the most (fewest) events.
    Top {
        /// How many values.
        n: usize,
        /// The field.
        field: Field,
        /// Fewest first instead of most first.
        rare: bool,
    },
    /// `timechart span=1h count by f`: events per time bucket (and value).
    Timechart {
        /// The bucket width, in nanoseconds; buckets start at multiples of it since the Unix epoch (UTC).
        span_ns: i64,
        /// The span as written (`1h`), for column names and messages.
        span: String,
        /// The field whose values split each bucket.
        by: Option<Field>,
    },
}

/// A value computed per group of `stats`.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// `count`: events in the group.
    Count,
    /// `count_distinct(f)`: distinct values (texts) of the field among the group's events.
    CountDistinct(Field),
    /// `min(f)`: the smallest number among the field's values in the group's events.
    Min(Field),
    /// `max(f)`: the largest.
    Max(Field),
}

impl Aggregate {
    /// The column the aggregate fills: `count`, `count_distinct(f)`, `min(f)`, `max(f)`.
    pub fn name(&self) -> String {
        match self {
            Aggregate::Count => "count".to_string(),
            Aggregate::CountDistinct(field) => format!("count_distinct({field})"),
            Aggregate::Min(field) => format!("min({field})"),
            Aggregate::Max(field) => format!("max({field})"),
        }
    }
}

/// A stage on rows.
#[derive(Debug, Clone, PartialEq)]
pub enum RowStage {
    /// `fields a, b`: the columns shown, in this order.
    Fields(Vec<String>),
    /// `sort -count, action`: a stable sort by these columns (`true`: descending).
    Sort(Vec<(String, bool)>),
    /// `head N`: the first N rows.
    Head(usize),
    /// `where count > 10`: the rows whose column holds a number that compares so.
    Where(String, Comparison, f64),
}

/// A comparison of `where`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `<`, `<=`, `>`, `>=`, `=` (also `==`).
    Cmp(CmpOp),
    /// `!=`.
    Ne,
}

impl Comparison {
    /// Whether `value op bound` holds.
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Comparison::Cmp(op) => op.holds(value, bound),
            Comparison::Ne => value != bound,
        }
    }
}

impl Pipeline {
    /// Whether the text had no `|`: a plain query, answered with events as search answers.
    pub fn is_plain(&self) -> bool {
        self.aggregation.is_none() && self.rows.is_empty()
    }
}

/// Parses a query with stages, with the default [`Limits`] for the query.
pub fn parse_pipeline(text: &str) -> Result<Pipeline, QueryError> {
    parse_pipeline_with(text, &Limits::default())
}

/// Parses a query with stages. The query is the text before the first `|` that is not inside quotes and not
/// half of `||` (the OR operator).
pub fn parse_pipeline_with(text: &str, limits: &Limits) -> Result<Pipeline, QueryError> {
    let pieces = split(text);
    let (query_text, _) = pieces.first().copied().unwrap_or((text, 0));
    let mut query = parse_with(query_text, limits)?;
    if pieces.len() - 1 > MAX_STAGES {
        let column = pieces.get(MAX_STAGES + 1).map_or(1, |(_, column)| *column);
        return Err(error(column, format!("a pipeline may hold at most {MAX_STAGES} stages")));
    }
    let mut aggregation: Option<(Aggregation, &'static str)> = None;
    let mut rows: Vec<RowStage> = Vec::new();
    // The row stage names seen before any aggregation, for the error when one follows.
    let mut before: Option<&'static str> = None;
    let mut head_seen = false;
    let mut columns = Columns::Events;
    for (stage_text, start) in pieces.into_iter().skip(1) {
        let mut lexer = StageLexer::new(stage_text, start);
        let name = match lexer.next() {
            Tok::Word(word, _) => word,
            other => {
                return Err(error(
                    other.column(),
                    "expected a stage after '|': stats, top, rare, timechart, fields, sort, head or where",
                ));
            }
        };
        let stage_column = lexer.last_column;
        match name.as_str() {
            "stats" | "top" | "rare" | "timechart" => {
                let kind = stage_name(&name);
                if let Some((_, previous)) = &aggregation {
                    return Err(error(
                        stage_column,
                        format!("'{kind}' cannot come after '{previous}': a pipeline aggregates once"),
                    ));
                }
                if let Some(previous) = before {
                    return Err(error(
                        stage_column,
                        format!(
                            "'{kind}' cannot come after '{previous}': head, sort and fields work on the aggregated \
                             rows, put them after '{kind}'"
                        ),
                    ));
                }
                let parsed = match kind {
                    "stats" => stats(&mut lexer)?,
                    "timechart" => timechart(&mut lexer)?,
                    _ => top(&mut lexer, kind == "rare")?,
                };
                columns = Columns::Named(column_names(&parsed));
                aggregation = Some((parsed, kind));
            }
            "where" => {
                let (column, name, comparison, bound) = where_stage(&mut lexer, &columns)?;
                if aggregation.is_none() && !head_seen {
                    // Before any head, a where on events is a filter, which the query says exactly (sort and
                    // fields do not change which events there are).
                    let field = field_named(&name, column)?;
                    query = fold(query, field, comparison, bound);
                } else {
                    rows.push(RowStage::Where(name, comparison, bound));
                }
            }
            "fields" => {
                let names = column_list(&mut lexer, &columns, "fields")?;
                before = before.or((aggregation.is_none()).then_some("fields"));
                if let Columns::Named(known) = &mut columns {
                    known.retain(|name| names.contains(name));
                    known.sort_by_key(|name| names.iter().position(|wanted| wanted == name));
                }
                rows.push(RowStage::Fields(names));
            }
            "sort" => {
                let keys = sort_keys(&mut lexer, &columns)?;
                before = before.or((aggregation.is_none()).then_some("sort"));
                rows.push(RowStage::Sort(keys));
            }
            "head" => {
                let n = whole_number(&mut lexer, "head", 10)?;
                before = before.or((aggregation.is_none()).then_some("head"));
                head_seen = true;
                rows.push(RowStage::Head(n));
            }
            other => {
                return Err(error(
                    stage_column,
                    format!(
                        "unknown stage '{other}': the stages are stats, top, rare, timechart, fields, sort, head and \
                         where"
                    ),
                ));
            }
        }
        lexer.expect_end()?;
    }
    Ok(Pipeline { query, aggregation: aggregation.map(|(aggregation, _)| aggregation), rows })
}

fn stage_name(name: &str) -> &'static str {
    match name {
        "stats" => "stats",
        "top" => "top",
        "rare" => "rare",
        _ => "timechart",
    }
}

/// The columns of an aggregation's rows, before any `fields`.
pub fn column_names(aggregation: &Aggregation) -> Vec<String> {
    match aggregation {
        Aggregation::Stats { aggregates, by } => {
            by.iter().map(Field::to_string).chain(aggregates.iter().map(Aggregate::name)).collect()
        }
        Aggregation::Top { field, .. } => vec![field.to_string(), "count".to_string()],
        Aggregation::Timechart { by, .. } => std::iter::once("_time".to_string())
            .chain(by.iter().map(Field::to_string))
            .chain(["count".into()])
            .collect(),
    }
}

/// What the row stages may name: any field of the events, or the aggregation's columns.
enum Columns {
    Events,
    Named(Vec<String>),
}

impl Columns {
    /// The column a name denotes: for events, a field (by its canonical name, `level` is `severity`); for
    /// aggregated rows, a column by its name, or a `by` field by any of its names.
    fn resolve(&self, name: &str, column: usize) -> Result<String, QueryError> {
        match self {
            Columns::Events => Ok(field_named(name, column)?.to_string()),
            Columns::Named(known) => {
                if known.iter().any(|known| known == name) {
                    return Ok(name.to_string());
                }
                let canonical = field_named(name, column).ok().map(|field| field.to_string());
                match canonical.filter(|canonical| known.contains(canonical)) {
                    Some(canonical) => Ok(canonical),
                    None => {
                        Err(error(column, format!("no column '{name}' here: the columns are {}", known.join(", "))))
                    }
                }
            }
        }
    }
}

/// A field named in a stage, as the query language names fields (`initiator.name`, `level`, `_platform`).
pub fn field_named(name: &str, column: usize) -> Result<Field, QueryError> {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))
        && !name.starts_with('-');
    match plain.then(|| parse_with(&format!("{name}:*"), &Limits::default())) {
        Some(Ok(Query::Field(field, FieldCond::Exists))) => Ok(field),
        _ => Err(error(
            column,
            format!("'{name}' is not a field name: use a dotted path such as initiator.name, or _platform"),
        )),
    }
}

fn fold(query: Query, field: Field, comparison: Comparison, bound: f64) -> Query {
    let condition = match comparison {
        Comparison::Cmp(op) => Query::Field(field, FieldCond::Compare(op, bound)),
        // Some value is a number other than the bound: below it or above it.
        Comparison::Ne => crate::parse::or(vec![
            Query::Field(field.clone(), FieldCond::Compare(CmpOp::Lt, bound)),
            Query::Field(field, FieldCond::Compare(CmpOp::Gt, bound)),
        ]),
    };
    match query {
        Query::All => condition,
        other => crate::parse::and(vec![other, condition]),
    }
}

fn stats(lexer: &mut StageLexer<'_>) -> Result<Aggregation, QueryError> {
    let mut aggregates = Vec::new();
    loop {
        let (word, column) = match lexer.next() {
            Tok::Word(word, column) if word != "by" || aggregates.is_empty() => (word, column),
            other => {
                return Err(error(
                    other.column(),
                    "expected an aggregate after 'stats': count, count_distinct(F), min(F), max(F)",
                ));
            }
        };
        aggregates.push(aggregate(&word, column)?);
        match lexer.peek() {
            Tok::Comma(_) => {
                lexer.next();
            }
            _ => break,
        }
    }
    let mut by = Vec::new();
    if let Tok::Word(word, _) = lexer.peek()
        && word == "by"
    {
        lexer.next();
        let by_column = lexer.last_column;
        loop {
            match lexer.next() {
                Tok::Word(name, column) => by.push(field_named(&name, column)?),
                other => return Err(error(other.column(), "expected a field name after 'by'")),
            }
            match lexer.peek() {
                Tok::Comma(_) => {
                    lexer.next();
                }
                _ => break,
            }
        }
        if by.len() > MAX_BY {
            return Err(error(by_column, format!("'by' takes at most {MAX_BY} fields")));
        }
    }
    Ok(Aggregation::Stats { aggregates, by })
}

fn aggregate(word: &str, column: usize) -> Result<Aggregate, QueryError> {
    if word == "count" {
        return Ok(Aggregate::Count);
    }
    let inner = |prefix: &str| word.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(')'));
    let argument_column = |prefix: &str| column + prefix.chars().count();
    if let Some(name) = inner("count_distinct(") {
        return Ok(Aggregate::CountDistinct(field_named(name, argument_column("count_distinct("))?));
    }
    if let Some(name) = inner("min(") {
        return Ok(Aggregate::Min(field_named(name, argument_column("min("))?));
    }
    if let Some(name) = inner("max(") {
        return Ok(Aggregate::Max(field_named(name, argument_column("max("))?));
    }
    Err(error(column, format!("unknown aggregate '{word}': use count, count_distinct(F), min(F) or max(F)")))
}

fn top(lexer: &mut StageLexer<'_>, rare: bool) -> Result<Aggregation, QueryError> {
    let name = if rare { "rare" } else { "top" };
    let n = whole_number(lexer, name, 10)?;
    let field = match lexer.next() {
        Tok::Word(word, column) => field_named(&word, column)?,
        other => return Err(error(other.column(), format!("expected a field name, as in {name} 10 action"))),
    };
    Ok(Aggregation::Top { n, field, rare })
}

fn timechart(lexer: &mut StageLexer<'_>) -> Result<Aggregation, QueryError> {
    let (span, span_ns) = match (lexer.next(), lexer.next(), lexer.next()) {
        (Tok::Word(word, _), Tok::Op(op, _), Tok::Word(value, column)) if word == "span" && op == "=" => {
            let ns = span_ns(&value)
                .ok_or_else(|| error(column, format!("expected a span such as 30s, 5m, 1h or 1d, not '{value}'")))?;
            (value, ns)
        }
        (first, ..) => {
            return Err(error(first.column(), "expected span= after 'timechart', as in timechart span=1h count"));
        }
    };
    match lexer.next() {
        Tok::Word(word, _) if word == "count" => {}
        other => {
            return Err(error(
                other.column(),
                "expected 'count' after the span, as in timechart span=1h count by action",
            ));
        }
    }
    let mut by = None;
    if let Tok::Word(word, _) = lexer.peek()
        && word == "by"
    {
        lexer.next();
        match lexer.next() {
            Tok::Word(name, column) => by = Some(field_named(&name, column)?),
            other => return Err(error(other.column(), "expected a field name after 'by'")),
        }
    }
    Ok(Aggregation::Timechart { span_ns, span, by })
}

/// `30s`, `5m`, `1h`, `1d`: a whole number of seconds, minutes, hours or days, at most 366 days.
fn span_ns(text: &str) -> Option<i64> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    let number: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    let total = number.checked_mul(seconds).filter(|total| *total <= 366 * 86_400)?;
    total.checked_mul(1_000_000_000)
}

fn whole_number(lexer: &mut StageLexer<'_>, stage: &str, default: usize) -> Result<usize, QueryError> {
    match lexer.peek() {
        Tok::Word(word, column) if word.starts_with(|c: char| c.is_ascii_digit()) => {
            let (word, column) = (word.clone(), *column);
            lexer.next();
            word.parse::<usize>()
                .ok()
                .filter(|n| *n <= 1_000_000)
                .ok_or_else(|| error(column, format!("expected a whole number up to 1000000 after '{stage}'")))
        }
        _ => Ok(default),
    }
}

fn column_list(lexer: &mut StageLexer<'_>, columns: &Columns, stage: &str) -> Result<Vec<String>, QueryError> {
    let mut names = Vec::new();
    loop {
        match lexer.next() {
            Tok::Word(word, column) => names.push(columns.resolve(&word, column)?),
            other => return Err(error(other.column(), format!("expected a column name after '{stage}'"))),
        }
        match lexer.peek() {
            Tok::Comma(_) => {
                lexer.next();
            }
            _ => return Ok(names),
        }
    }
}

fn sort_keys(lexer: &mut StageLexer<'_>, columns: &Columns) -> Result<Vec<(String, bool)>, QueryError> {
    let mut keys = Vec::new();
    loop {
        match lexer.next() {
            Tok::Word(word, column) => {
                let (name, descending, column) = match word.strip_prefix('-') {
                    Some(name) => (name.to_string(), true, column + 1),
                    None => (word.clone(), false, column),
                };
                keys.push((columns.resolve(&name, column)?, descending));
            }
            other => return Err(error(other.column(), "expected a column name after 'sort'")),
        }
        match lexer.peek() {
            Tok::Comma(_) => {
                lexer.next();
            }
            _ => return Ok(keys),
        }
    }
}

fn where_stage(lexer: &mut StageLexer<'_>, columns: &Columns) -> Result<(usize, String, Comparison, f64), QueryError> {
    let (name, column) = match lexer.next() {
        Tok::Word(word, column) => (word, column),
        other => return Err(error(other.column(), "expected a column name after 'where'")),
    };
    let resolved = columns.resolve(&name, column)?;
    let (op, op_column) = match lexer.next() {
        Tok::Op(op, column) => (op, column),
        other => {
            return Err(error(other.column(), "expected a comparison after the column: >, >=, <, <=, = or !="));
        }
    };
    let comparison = match op.as_str() {
        ">" => Comparison::Cmp(CmpOp::Gt),
        ">=" => Comparison::Cmp(CmpOp::Ge),
        "<" => Comparison::Cmp(CmpOp::Lt),
        "<=" => Comparison::Cmp(CmpOp::Le),
        "=" | "==" => Comparison::Cmp(CmpOp::Eq),
        "!=" => Comparison::Ne,
        _ => {
            return Err(error(op_column, "expected a comparison after the column: >, >=, <, <=, = or !="));
        }
    };
    match lexer.next() {
        Tok::Word(word, _) if crate::event::parse_number(&word).is_some() => {
            Ok((column, resolved, comparison, crate::event::parse_number(&word).unwrap_or_default()))
        }
        other => Err(error(other.column(), format!("expected a number after '{op}'"))),
    }
}

/// The query text and each stage's text, with the 1-based char column each starts at.
/// The column of the first `|` that plainly starts a stage (` | stats ...`: after a space or at the start, and
/// followed by a stage's name), when the text has one. `|` is otherwise a character of a word (`a|b`), as the
/// query's lexer has always read it, so only a text that can mean nothing but a stage is refused as a query.
pub(crate) fn first_pipe(text: &str) -> Option<usize> {
    let pieces = split(text);
    pieces.windows(2).find_map(|pair| {
        let (before, _) = pair[0];
        let (after, column) = pair[1];
        let spaced = before.is_empty() || before.ends_with(char::is_whitespace);
        let name = after.trim_start().split(char::is_whitespace).next().unwrap_or_default();
        let stage = matches!(name, "stats" | "top" | "rare" | "timechart" | "fields" | "sort" | "head" | "where");
        (spaced && stage).then_some(column - 1)
    })
}

fn split(text: &str) -> Vec<(&str, usize)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut start_column = 1;
    let mut quote: Option<char> = None;
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().enumerate().peekable();
    while let Some((index, (at, c))) = chars.next() {
        match quote {
            Some(open) => {
                if c == '\\' {
                    chars.next();
                } else if c == open {
                    quote = None;
                }
            }
            // A quote opens a phrase or a quoted value where a term or a value starts; inside a word it is a
            // character of the word (`don't`), as the query's lexer reads it.
            None if matches!(c, '"' | '\'')
                && previous.is_none_or(|p| {
                    p.is_whitespace() || matches!(p, '(' | ':' | '=' | '[' | ',' | '-' | '!' | '<' | '>')
                }) =>
            {
                quote = Some(c);
            }
            None if c == '|' => {
                if chars.peek().is_some_and(|(_, (_, next))| *next == '|') {
                    chars.next();
                    previous = Some('|');
                    continue;
                }
                pieces.push((&text[start..at], start_column));
                start = at + 1;
                start_column = index + 2;
            }
            None => {}
        }
        previous = Some(c);
    }
    pieces.push((&text[start..], start_column));
    pieces
}

fn error(column: usize, message: impl Into<String>) -> QueryError {
    QueryError { column, message: message.into() }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String, usize),
    Comma(usize),
    Op(String, usize),
    End(usize),
}

impl Tok {
    fn column(&self) -> usize {
        match self {
            Tok::Word(_, column) | Tok::Comma(column) | Tok::Op(_, column) | Tok::End(column) => *column,
        }
    }
}

/// Words, commas and comparison operators of one stage, with their columns in the whole text.
struct StageLexer<'a> {
    chars: Vec<char>,
    pos: usize,
    start: usize,
    peeked: Option<Tok>,
    last_column: usize,
    _text: std::marker::PhantomData<&'a str>,
}

impl StageLexer<'_> {
    fn new(text: &str, start: usize) -> StageLexer<'_> {
        StageLexer {
            chars: text.chars().collect(),
            pos: 0,
            start,
            peeked: None,
            last_column: start,
            _text: std::marker::PhantomData,
        }
    }

    fn peek(&mut self) -> &Tok {
        if self.peeked.is_none() {
            let token = self.lex();
            self.peeked = Some(token);
        }
        self.peeked.get_or_insert(Tok::End(0))
    }

    fn next(&mut self) -> Tok {
        let token = self.peeked.take().unwrap_or_else(|| self.lex());
        self.last_column = token.column();
        token
    }

    fn lex(&mut self) -> Tok {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
        let column = self.start + self.pos;
        let Some(&c) = self.chars.get(self.pos) else {
            return Tok::End(column);
        };
        if c == ',' {
            self.pos += 1;
            return Tok::Comma(column);
        }
        let is_op = |c: char| matches!(c, '<' | '>' | '=' | '!');
        let begin = self.pos;
        if is_op(c) {
            while self.chars.get(self.pos).is_some_and(|c| is_op(*c)) {
                self.pos += 1;
            }
            return Tok::Op(self.chars[begin..self.pos].iter().collect(), column);
        }
        while self.chars.get(self.pos).is_some_and(|c| !c.is_whitespace() && *c != ',' && !is_op(*c)) {
            self.pos += 1;
        }
        Tok::Word(self.chars[begin..self.pos].iter().collect(), column)
    }

    fn expect_end(&mut self) -> Result<(), QueryError> {
        match self.next() {
            Tok::End(_) => Ok(()),
            other => Err(error(other.column(), "expected '|' or the end of the text after this stage")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_inside_quotes_or_an_or_is_not_a_stage() {
        let pieces = split("\"a|b\" || c | head 3");
        assert_eq!(pieces, vec![("\"a|b\" || c ", 1), (" head 3", 13)]);
        assert_eq!(split("don't | head"), vec![("don't ", 1), (" head", 8)]);
    }

    #[test]
    fn spans_are_whole_units() {
        assert_eq!(span_ns("1h"), Some(3_600_000_000_000));
        assert_eq!(span_ns("30s"), Some(30_000_000_000));
        for bad in ["", "h", "0h", "1.5h", "1w", "400d", "-1h"] {
            assert_eq!(span_ns(bad), None, "{bad}");
        }
    }
}
