//! Lexer and recursive-descent parser.
//!
//! The lexer works on chars so that columns are char columns. It turns each term (a word, a phrase, or a whole
//! `field:...` condition, lists and `( )` conditions included) into a finished [`Query`], because the meaning of
//! a field value depends on its field and operator; the parser only sees terms, parentheses and operators.
//! Tokens are lexed on demand, so the first error in the text is the one reported.

use crate::ast::{CmpOp, Field, FieldCond, Query, Sequence, TokenPattern};
use crate::event::parse_number;
use crate::{Limits, MAX_NESTING, QueryError, tokenize};

pub(crate) fn parse(text: &str, limits: &Limits) -> Result<Query, QueryError> {
    if text.len() > limits.max_bytes {
        let column = text.char_indices().take_while(|(at, c)| at + c.len_utf8() <= limits.max_bytes).count() + 1;
        return Err(error(column, format!("query is longer than {} bytes", limits.max_bytes)));
    }
    let mut parser = Parser {
        lexer: Lexer { chars: text.chars().collect(), pos: 0, terms: 0, wildcards: 0, limits: *limits },
        peeked: None,
        nesting: 0,
        groups: 0,
    };
    parser.query()
}

fn error(column: usize, message: impl Into<String>) -> QueryError {
    QueryError { column, message: message.into() }
}

/// Free text without a letter or digit: the tokenizer finds no word in it, so it would match every event.
fn no_word(column: usize, text: &str) -> QueryError {
    const SHOWN: usize = 32;
    let shown: String = text.chars().take(SHOWN).collect();
    let more = if text.chars().count() > SHOWN { "..." } else { "" };
    error(
        column,
        format!(
            "expected a word: {shown}{more} has no letter or digit to search for (punctuation or emoji alone \
             would match every event; to compare a field with it, use field:==\"...\")"
        ),
    )
}

#[derive(Debug)]
enum Kind {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Term(Query),
    End,
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    /// 1-based char column of the token's first char.
    column: usize,
    /// How the user spelled an operator, for messages.
    spelling: &'static str,
}

/// How a field value is compared, from the operator after the colon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueOp {
    /// `field:value`
    Plain,
    /// `field:==value`
    EqualsCi,
    /// `field:===value`
    EqualsCs,
    /// `field:=value`
    Prefix,
}

impl ValueOp {
    fn spelling(self) -> &'static str {
        match self {
            ValueOp::Plain => ":",
            ValueOp::EqualsCi => ":==",
            ValueOp::EqualsCs => ":===",
            ValueOp::Prefix => ":=",
        }
    }
}

/// A field value as written: quoted text is a phrase, unquoted text is a word.
enum RawValue {
    Quoted(String),
    Unquoted(String),
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    terms: usize,
    /// Wildcard patterns seen so far, bounded by [`Limits::max_wildcard_patterns`].
    wildcards: usize,
    limits: Limits,
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')'
}

impl Lexer {
    fn peek_char(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).copied()
    }

    fn column(&self) -> usize {
        self.pos + 1
    }

    fn at_boundary(&self) -> bool {
        self.peek_char().is_none_or(ends_word)
    }

    fn looking_at(&self, text: &str) -> bool {
        text.chars().enumerate().all(|(i, c)| self.char_at(self.pos + i) == Some(c))
    }

    fn count_term(&mut self, column: usize) -> Result<(), QueryError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(error(column, format!("more than {} terms", self.limits.max_terms)));
        }
        Ok(())
    }

    /// The next token; a term's wildcard patterns are checked against the limits before the parser sees it.
    fn next_token(&mut self) -> Result<Token, QueryError> {
        let token = self.lex_token()?;
        if let Kind::Term(query) = &token.kind {
            self.check_wildcards(query, token.column)?;
        }
        Ok(token)
    }

    /// Refuses wildcard patterns with too many stars or chars, and more patterns than the query may hold, so
    /// that no query makes the index match a huge automaton against every token it has (`*a*a*a*...*b`).
    fn check_wildcards(&mut self, query: &Query, column: usize) -> Result<(), QueryError> {
        let sequence = match query {
            Query::And(children) | Query::Or(children) => {
                return children.iter().try_for_each(|child| self.check_wildcards(child, column));
            }
            Query::Not(child) => return self.check_wildcards(child, column),
            Query::Text(sequence) | Query::Field(_, FieldCond::Tokens(sequence)) => sequence,
            Query::All | Query::Field(..) => return Ok(()),
        };
        for pattern in &sequence.0 {
            let TokenPattern::Wildcard(glob) = pattern else {
                continue;
            };
            let limits = self.limits;
            let stars = glob.chars().filter(|&c| c == '*').count();
            if stars > limits.max_wildcard_stars {
                return Err(error(
                    column,
                    format!(
                        "a wildcard pattern may hold at most {} '*', this one has {stars}",
                        limits.max_wildcard_stars
                    ),
                ));
            }
            if glob.chars().count() > limits.max_wildcard_chars {
                return Err(error(
                    column,
                    format!("a wildcard pattern may be at most {} characters long", limits.max_wildcard_chars),
                ));
            }
            self.wildcards += 1;
            if self.wildcards > limits.max_wildcard_patterns {
                return Err(error(
                    column,
                    format!("a query may hold at most {} wildcard patterns", limits.max_wildcard_patterns),
                ));
            }
        }
        Ok(())
    }

    fn lex_token(&mut self) -> Result<Token, QueryError> {
        while self.peek_char().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let column = self.column();
        let token = |kind, spelling| Ok(Token { kind, column, spelling });
        let Some(c) = self.peek_char() else {
            return token(Kind::End, "");
        };
        match c {
            '(' => {
                self.pos += 1;
                token(Kind::LParen, "(")
            }
            ')' => {
                self.pos += 1;
                token(Kind::RParen, ")")
            }
            '-' => {
                self.pos += 1;
                if self.at_boundary() && self.peek_char() != Some('(') {
                    return Err(error(self.column(), "expected a term right after '-' (quote a literal '-')"));
                }
                token(Kind::Not, "-")
            }
            '!' => {
                self.pos += 1;
                token(Kind::Not, "!")
            }
            '"' | '\'' => {
                self.count_term(column)?;
                let text = self.quoted()?;
                self.expect_boundary("the closing quote")?;
                let tokens = tokenize(&text);
                if tokens.is_empty() {
                    return Err(no_word(column, &format!("{}{text}{}", c, c)));
                }
                token(Kind::Term(Query::Text(Sequence(tokens.into_iter().map(TokenPattern::Exact).collect()))), "")
            }
            ':' => Err(error(column, "expected a field name before ':' (quote a literal ':')")),
            _ => self.word_or_field(column),
        }
    }

    fn word_or_field(&mut self, column: usize) -> Result<Token, QueryError> {
        let start = self.pos;
        while let Some(c) = self.peek_char() {
            if ends_word(c) {
                break;
            }
            if c == ':' {
                let name: String = self.chars[start..self.pos].iter().collect();
                self.pos += 1;
                self.count_term(column)?;
                let query = self.field_term(&name, column)?;
                return Ok(Token { kind: Kind::Term(query), column, spelling: "" });
            }
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        let (kind, spelling) = match word.as_str() {
            "AND" => (Kind::And, "AND"),
            "&&" => (Kind::And, "&&"),
            "OR" => (Kind::Or, "OR"),
            "||" => (Kind::Or, "||"),
            "NOT" => (Kind::Not, "NOT"),
            _ => {
                self.count_term(column)?;
                let query = match word_sequence(&word) {
                    None => Query::All,
                    Some(sequence) if sequence.0.is_empty() => return Err(no_word(column, &word)),
                    Some(sequence) => Query::Text(sequence),
                };
                (Kind::Term(query), "")
            }
        };
        Ok(Token { kind, column, spelling })
    }

    /// After a closing quote, bracket or parenthesis, the term must end, so that `"a"b` is not silently two terms.
    fn expect_boundary(&self, what: &str) -> Result<(), QueryError> {
        match self.peek_char() {
            Some(c) if !c.is_whitespace() && c != '(' && c != ')' => {
                Err(error(self.column(), format!("expected a space or ')' after {what}")))
            }
            _ => Ok(()),
        }
    }

    /// Reads a quoted string at the cursor; a backslash escapes a quote (either kind) or a backslash and is
    /// kept literally before anything else.
    fn quoted(&mut self) -> Result<String, QueryError> {
        let open_column = self.column();
        let quote = self.peek_char().unwrap_or('"');
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek_char() {
                None => {
                    return Err(error(
                        self.column(),
                        format!("expected {quote} to close the quote opened at column {open_column}"),
                    ));
                }
                Some('\\') => match self.char_at(self.pos + 1) {
                    Some(escaped @ ('"' | '\'' | '\\')) => {
                        text.push(escaped);
                        self.pos += 2;
                    }
                    _ => {
                        text.push('\\');
                        self.pos += 1;
                    }
                },
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Unquoted text up to the end of the term.
    fn unquoted(&mut self) -> String {
        let start = self.pos;
        while !self.at_boundary() {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn field_term(&mut self, name: &str, column: usize) -> Result<Query, QueryError> {
        let (field, is_str) = field_from_name(name).ok_or_else(|| {
            if name.is_empty() {
                error(column, "expected a field name before ':' (quote a literal ':')")
            } else {
                error(column, format!("empty segment in the field name '{name}'"))
            }
        })?;
        if self.at_boundary() && self.peek_char() != Some('(') {
            return Err(error(self.column(), "expected a value after ':'"));
        }
        if self.peek_char() == Some('(') {
            return self.compound(&field, is_str);
        }
        for (spelling, op) in [(">=", CmpOp::Ge), ("<=", CmpOp::Le), (">", CmpOp::Gt), ("<", CmpOp::Lt)] {
            if self.looking_at(spelling) {
                self.pos += spelling.len();
                let bound = self.number(spelling)?;
                return Ok(Query::Field(field, FieldCond::Compare(op, bound)));
            }
        }
        let op = if self.looking_at("===") {
            ValueOp::EqualsCs
        } else if self.looking_at("==") {
            ValueOp::EqualsCi
        } else if self.looking_at("=") {
            ValueOp::Prefix
        } else {
            ValueOp::Plain
        };
        self.pos += op.spelling().len() - 1;
        if self.at_boundary() {
            return Err(error(self.column(), format!("expected a value after '{}'", op.spelling())));
        }
        if self.peek_char() == Some('[') {
            return self.list(&field, is_str, op);
        }
        let raw = if matches!(self.peek_char(), Some('"' | '\'')) {
            let text = self.quoted()?;
            self.expect_boundary("the closing quote")?;
            RawValue::Quoted(text)
        } else {
            RawValue::Unquoted(self.unquoted())
        };
        Ok(value_query(&field, is_str, op, raw))
    }

    /// The number after a comparison operator, up to the end of the term.
    fn number(&mut self, after: &str) -> Result<f64, QueryError> {
        let column = self.column();
        let text = self.unquoted();
        parse_number(&text).ok_or_else(|| error(column, format!("expected a number after '{after}'")))
    }

    /// `field:[a,b,"c d"]`: any of the values.
    fn list(&mut self, field: &Field, is_str: bool, op: ValueOp) -> Result<Query, QueryError> {
        let open_column = self.column();
        self.pos += 1;
        let mut alternatives = Vec::new();
        loop {
            let column = self.column();
            let raw = match self.peek_char() {
                Some('"' | '\'') => RawValue::Quoted(self.quoted()?),
                _ => {
                    let start = self.pos;
                    while self.peek_char().is_some_and(|c| c != ',' && c != ']' && !c.is_whitespace()) {
                        self.pos += 1;
                    }
                    if self.pos == start {
                        if self.peek_char().is_some_and(char::is_whitespace) {
                            return Err(error(
                                column,
                                "expected a value in the list, not a space (lists take no spaces)",
                            ));
                        }
                        if self.peek_char().is_none() {
                            return Err(error(
                                column,
                                format!("expected ']' to close the list opened at column {open_column}"),
                            ));
                        }
                        return Err(error(column, "expected a value in the list"));
                    }
                    RawValue::Unquoted(self.chars[start..self.pos].iter().collect())
                }
            };
            if alternatives.len() == self.limits.max_list_values {
                return Err(error(column, format!("more than {} values in a list", self.limits.max_list_values)));
            }
            alternatives.push(value_query(field, is_str, op, raw));
            match self.peek_char() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                Some(c) if c.is_whitespace() => {
                    return Err(error(self.column(), "expected ',' or ']', not a space (lists take no spaces)"));
                }
                None => {
                    return Err(error(
                        self.column(),
                        format!("expected ']' to close the list opened at column {open_column}"),
                    ));
                }
                Some(_) => {
                    return Err(error(self.column(), "expected ',' or ']' after a quoted value in the list"));
                }
            }
        }
        self.expect_boundary("']'")?;
        Ok(or(alternatives))
    }

    /// `field:(>=400 <500 -404)`: several conditions on one field, ANDed.
    fn compound(&mut self, field: &Field, is_str: bool) -> Result<Query, QueryError> {
        let open_column = self.column();
        self.pos += 1;
        let mut parts = Vec::new();
        loop {
            while self.peek_char().is_some_and(char::is_whitespace) {
                self.pos += 1;
            }
            let column = self.column();
            match self.peek_char() {
                None => {
                    return Err(error(
                        column,
                        format!("expected ')' to close the conditions opened at column {open_column}"),
                    ));
                }
                Some(')') => {
                    if parts.is_empty() {
                        return Err(error(column, "expected a condition inside '( )' after ':'"));
                    }
                    self.pos += 1;
                    break;
                }
                Some(_) => {
                    if !parts.is_empty() {
                        self.count_term(column)?;
                    }
                    parts.push(self.compound_part(field, is_str)?);
                }
            }
        }
        self.expect_boundary("')'")?;
        Ok(and(parts))
    }

    fn compound_part(&mut self, field: &Field, is_str: bool) -> Result<Query, QueryError> {
        if matches!(self.peek_char(), Some('-' | '!')) {
            let spelling = if self.peek_char() == Some('-') { "-" } else { "!" };
            self.pos += 1;
            if self.at_boundary() || matches!(self.peek_char(), Some('-' | '!')) {
                return Err(error(self.column(), format!("expected a condition right after '{spelling}'")));
            }
            return Ok(Query::Not(Box::new(self.compound_part(field, is_str)?)));
        }
        let column = self.column();
        match self.peek_char() {
            Some('(') => {
                return Err(error(column, "expected a condition; groups cannot nest inside a field's '( )'"));
            }
            Some('[') => {
                return Err(error(column, "expected a condition; lists cannot appear inside a field's '( )'"));
            }
            _ => {}
        }
        for (spelling, op) in [(">=", CmpOp::Ge), ("<=", CmpOp::Le), (">", CmpOp::Gt), ("<", CmpOp::Lt)] {
            if self.looking_at(spelling) {
                self.pos += spelling.len();
                let bound = self.number(spelling)?;
                return Ok(Query::Field(field.clone(), FieldCond::Compare(op, bound)));
            }
        }
        let op = if self.looking_at("===") {
            ValueOp::EqualsCs
        } else if self.looking_at("==") {
            ValueOp::EqualsCi
        } else if self.looking_at("=") {
            self.pos += 1;
            let bound = self.number("=")?;
            return Ok(Query::Field(field.clone(), FieldCond::Compare(CmpOp::Eq, bound)));
        } else {
            ValueOp::Plain
        };
        self.pos += op.spelling().len() - 1;
        if self.at_boundary() {
            return Err(error(self.column(), format!("expected a value after '{}'", &op.spelling()[1..])));
        }
        if matches!(self.peek_char(), Some('"' | '\'')) {
            let text = self.quoted()?;
            self.expect_boundary("the closing quote")?;
            return Ok(value_query(field, is_str, op, RawValue::Quoted(text)));
        }
        let text = self.unquoted();
        // A bare number inside `( )` is numeric equality, as `=404` is there.
        let number = if op == ValueOp::Plain { parse_number(&text) } else { None };
        if let Some(number) = number {
            return Ok(Query::Field(field.clone(), FieldCond::Compare(CmpOp::Eq, number)));
        }
        Ok(value_query(field, is_str, op, RawValue::Unquoted(text)))
    }
}

/// Resolves a field name: `x_str` is `x` compared whole (the flag), then the derived names. `None` when a
/// dot-separated segment is empty.
fn field_from_name(name: &str) -> Option<(Field, bool)> {
    let (base, is_str) = match name.strip_suffix("_str") {
        Some(base) if !base.is_empty() && !base.ends_with('.') => (base, true),
        _ => (name, false),
    };
    if base.split('.').any(str::is_empty) {
        return None;
    }
    Some((Field::from_name(base), is_str))
}

impl Field {
    /// The field a name denotes: `_platform`, `_account`, `_instance`, `_region`, `_received` are derived,
    /// `level` is `severity`, anything else is a path split at dots. (The `_str` suffix is query syntax and is
    /// handled by the parser, not here.)
    pub fn from_name(name: &str) -> Field {
        match name {
            "_platform" => Field::Platform,
            "_account" => Field::Account,
            "_instance" => Field::Instance,
            "_region" => Field::Region,
            "_received" => Field::Received,
            "level" => Field::Path(vec!["severity".to_string()]),
            _ => Field::Path(name.split('.').map(str::to_string).collect()),
        }
    }
}

/// The condition one written value stands for, given its field and operator.
fn value_query(field: &Field, is_str: bool, op: ValueOp, raw: RawValue) -> Query {
    let cond = match (op, raw) {
        (ValueOp::EqualsCs, RawValue::Quoted(text) | RawValue::Unquoted(text)) => {
            FieldCond::Equals { value: text, case_sensitive: true }
        }
        (ValueOp::Prefix, RawValue::Quoted(text) | RawValue::Unquoted(text)) => FieldCond::Prefix(text),
        (ValueOp::EqualsCi, RawValue::Quoted(text) | RawValue::Unquoted(text)) => {
            FieldCond::Equals { value: text, case_sensitive: false }
        }
        (ValueOp::Plain, RawValue::Unquoted(text)) if is_match_all(&text) => FieldCond::Exists,
        (ValueOp::Plain, RawValue::Quoted(text) | RawValue::Unquoted(text)) if is_str => {
            FieldCond::Equals { value: text, case_sensitive: false }
        }
        (ValueOp::Plain, RawValue::Quoted(text)) => {
            let tokens = tokenize(&text);
            if tokens.is_empty() {
                FieldCond::Equals { value: text, case_sensitive: false }
            } else {
                FieldCond::Tokens(Sequence(tokens.into_iter().map(TokenPattern::Exact).collect()))
            }
        }
        (ValueOp::Plain, RawValue::Unquoted(text)) => match word_sequence(&text) {
            Some(sequence) if !sequence.0.is_empty() => FieldCond::Tokens(sequence),
            _ => FieldCond::Equals { value: text, case_sensitive: false },
        },
    };
    Query::Field(field.clone(), cond)
}

/// A word with no letter or digit but some `*` matches everything (`*`, `**`, `*.*`).
fn is_match_all(word: &str) -> bool {
    word.contains('*') && !word.chars().any(char::is_alphanumeric)
}

/// The token patterns of an unquoted word, or `None` for the match-all word.
///
/// The word splits like the tokenizer, except that `*` stays inside pieces. A piece without `*` is `Exact`, the
/// last one `Prefix`. A last piece whose only stars are trailing is `Prefix` too (`fail*` is `fail`). Any other
/// piece with a star is a `Wildcard` over one whole token, with runs of stars collapsed.
fn word_sequence(word: &str) -> Option<Sequence> {
    if is_match_all(word) {
        return None;
    }
    let pieces: Vec<&str> =
        word.split(|c: char| !(c.is_alphanumeric() || c == '*')).filter(|piece| !piece.is_empty()).collect();
    let last = pieces.len().saturating_sub(1);
    let patterns = pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let lowered = collapse_stars(&piece.to_lowercase());
            let base = lowered.trim_end_matches('*');
            if !lowered.contains('*') {
                if i == last { TokenPattern::Prefix(lowered) } else { TokenPattern::Exact(lowered) }
            } else if i == last && !base.is_empty() && !base.contains('*') {
                TokenPattern::Prefix(base.to_string())
            } else {
                TokenPattern::Wildcard(lowered)
            }
        })
        .collect();
    Some(Sequence(patterns))
}

fn collapse_stars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c == '*' && out.ends_with('*')) {
            out.push(c);
        }
    }
    out
}

/// An AND, flattened and collapsed: children that are ANDs are spliced in, one child is itself.
pub(crate) fn and(children: Vec<Query>) -> Query {
    combine(children, true)
}

/// An OR, flattened and collapsed like [`and`].
pub(crate) fn or(children: Vec<Query>) -> Query {
    combine(children, false)
}

fn combine(children: Vec<Query>, is_and: bool) -> Query {
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        match child {
            Query::And(grand) if is_and => flat.extend(grand),
            Query::Or(grand) if !is_and => flat.extend(grand),
            other => flat.push(other),
        }
    }
    match <[Query; 1]>::try_from(flat) {
        Ok([only]) => only,
        Err(flat) if is_and => Query::And(flat),
        Err(flat) => Query::Or(flat),
    }
}

struct Parser {
    lexer: Lexer,
    peeked: Option<Token>,
    /// Current depth of groups and negations, bounded by [`MAX_NESTING`].
    nesting: usize,
    /// Open groups, so that a stray ')' can be told from an empty group.
    groups: usize,
}

impl Parser {
    fn peek(&mut self) -> Result<&Token, QueryError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        match &self.peeked {
            Some(token) => Ok(token),
            None => Err(error(self.lexer.column(), "internal parser error")),
        }
    }

    fn next(&mut self) -> Result<Token, QueryError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    fn starts_term(token: &Token) -> bool {
        matches!(token.kind, Kind::LParen | Kind::Not | Kind::Term(_))
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        if matches!(self.peek()?.kind, Kind::End) {
            return Ok(Query::All);
        }
        let query = self.or_expr()?;
        let token = self.next()?;
        match token.kind {
            Kind::End => Ok(query),
            Kind::RParen => Err(error(token.column, "unexpected ')' with no group open")),
            _ => Err(error(token.column, "expected the end of the query")),
        }
    }

    fn or_expr(&mut self) -> Result<Query, QueryError> {
        let mut alternatives = vec![self.and_expr()?];
        while matches!(self.peek()?.kind, Kind::Or) {
            let op = self.next()?;
            self.expect_term_after(&op)?;
            alternatives.push(self.and_expr()?);
        }
        Ok(or(alternatives))
    }

    fn and_expr(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            let token = self.peek()?;
            if matches!(token.kind, Kind::And) {
                let op = self.next()?;
                self.expect_term_after(&op)?;
            } else if !Self::starts_term(token) {
                break;
            }
            parts.push(self.unary()?);
        }
        Ok(and(parts))
    }

    fn expect_term_after(&mut self, op: &Token) -> Result<(), QueryError> {
        let spelling = op.spelling;
        let token = self.peek()?;
        if Self::starts_term(token) {
            Ok(())
        } else {
            Err(error(token.column, format!("expected a term after '{spelling}'")))
        }
    }

    fn enter(&mut self, column: usize) -> Result<(), QueryError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(error(column, format!("groups and negations nest more than {MAX_NESTING} deep")));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        if !matches!(self.peek()?.kind, Kind::Not) {
            return self.primary();
        }
        let op = self.next()?;
        self.enter(op.column)?;
        self.expect_term_after(&op)?;
        let child = self.unary()?;
        self.nesting -= 1;
        Ok(Query::Not(Box::new(child)))
    }

    fn primary(&mut self) -> Result<Query, QueryError> {
        let token = self.next()?;
        match token.kind {
            Kind::Term(query) => Ok(query),
            Kind::LParen => {
                self.enter(token.column)?;
                self.groups += 1;
                let inner = self.peek()?;
                if matches!(inner.kind, Kind::RParen) {
                    return Err(error(
                        inner.column,
                        format!("expected a term inside the group opened at column {}", token.column),
                    ));
                }
                if matches!(inner.kind, Kind::End) {
                    return Err(error(
                        inner.column,
                        format!("expected ')' to close the group opened at column {}", token.column),
                    ));
                }
                let query = self.or_expr()?;
                let close = self.next()?;
                if !matches!(close.kind, Kind::RParen) {
                    return Err(error(
                        close.column,
                        format!("expected ')' to close the group opened at column {}", token.column),
                    ));
                }
                self.groups -= 1;
                self.nesting -= 1;
                Ok(query)
            }
            Kind::And | Kind::Or => Err(error(token.column, format!("expected a term before '{}'", token.spelling))),
            Kind::RParen if self.groups == 0 => Err(error(token.column, "unexpected ')' with no group open")),
            Kind::RParen => Err(error(token.column, "expected a term before ')'")),
            Kind::Not | Kind::End => Err(error(token.column, "expected a term")),
        }
    }
}
