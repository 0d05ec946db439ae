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

fn nesting_check(depth: usize, column: usize) -> Result<(), QueryError> {
    if depth > MAX_NESTING {
        return Err(error(column, format!("groups and negations nest more than {MAX_NESTING} deep")));
    }
    Ok(())
}

/// A comparison's bound that is not a number: `message`, unless the text is a time (`2026-11-01`, `now-1d`),
/// which Kibana users compare in the query but Acta takes as the search's time range.
fn not_a_number(column: usize, after: &str, text: &str, message: String) -> QueryError {
    let time =
        text.starts_with("now") || (text.starts_with(|c: char| c.is_ascii_digit()) && text.contains(['-', ':', 'T']));
    if time {
        return error(
            column,
            format!(
                "expected a number after '{after}', not a time: times are chosen with the time range (from and to), \
                 not in the query"
            ),
        );
    }
    error(column, message)
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

/// The comparison operators, longest first so that `>=` is not read as `>`.
const COMPARISONS: [(&str, CmpOp); 4] = [(">=", CmpOp::Ge), ("<=", CmpOp::Le), (">", CmpOp::Gt), ("<", CmpOp::Lt)];

/// A name that can stand before a comparison written without a colon (`reason.reasonCode>=400`): letters,
/// digits, `_` and inner dots, starting with a letter, `_` or `@` (Kibana's `@timestamp`). Narrow on purpose, so
/// that free text such as `a->b` or `<html>` stays free text.
fn is_comparable_name(name: &[char]) -> bool {
    name.first().is_some_and(|c| c.is_alphabetic() || matches!(c, '_' | '@'))
        && name.last() != Some(&'.')
        && name[1..].iter().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.'))
        && !name.windows(2).any(|pair| pair == ['.', '.'])
}

/// The operator a word starts with when it is a comparison without its field: `>=`, `>=400`, `<5`.
fn comparison_at_start(word: &str) -> Option<&'static str> {
    let (spelling, _) = COMPARISONS.iter().find(|(spelling, _)| word.starts_with(spelling))?;
    let rest = &word[spelling.len()..];
    (rest.is_empty() || parse_number(rest).is_some()).then_some(*spelling)
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
            if matches!(c, '<' | '>') && is_comparable_name(&self.chars[start..self.pos]) {
                let name: String = self.chars[start..self.pos].iter().collect();
                self.count_term(column)?;
                let query = self.comparison_without_colon(&name)?;
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
                // The parser counts `and`, `or` and `not` when it takes them as words.
                if !matches!(word.as_str(), "and" | "or" | "not") {
                    self.count_term(column)?;
                }
                if let Some(op) = comparison_at_start(&word) {
                    return Err(error(
                        column,
                        format!("expected a field before '{op}': a comparison is written field:{op}400"),
                    ));
                }
                if is_comparable_name(&self.chars[start..self.pos]) && self.spaced_comparison_ahead() {
                    let query = self.comparison_without_colon(&word)?;
                    return Ok(Token { kind: Kind::Term(query), column, spelling: "" });
                }
                let query = match word_sequence(&word) {
                    None => Query::All,
                    Some(sequence) if sequence.0.is_empty() => return Err(no_word(column, &word)),
                    Some(sequence) => Query::Text(sequence),
                };
                // The parser decides from what surrounds them whether these words are operators.
                let spelling = match word.as_str() {
                    "and" => "and",
                    "or" => "or",
                    "not" => "not",
                    _ => "",
                };
                (Kind::Term(query), spelling)
            }
        };
        Ok(Token { kind, column, spelling })
    }

    /// Whether Kibana's spaced comparison follows a field name: spaces, an operator, then spaces or a number.
    fn spaced_comparison_ahead(&self) -> bool {
        let mut at = self.pos;
        while self.char_at(at).is_some_and(char::is_whitespace) {
            at += 1;
        }
        if at == self.pos {
            return false;
        }
        let Some(op) = COMPARISONS
            .iter()
            .find(|(spelling, _)| spelling.chars().enumerate().all(|(i, c)| self.char_at(at + i) == Some(c)))
        else {
            return false;
        };
        at += op.0.len();
        // A lone operator would be refused anyway, so the comparison is what was meant; `a >b` stays free text.
        if self.char_at(at).is_none_or(char::is_whitespace) {
            return true;
        }
        let start = at;
        while self.char_at(at).is_some_and(|c| !ends_word(c)) {
            at += 1;
        }
        parse_number(&self.chars[start..at].iter().collect::<String>()).is_some()
    }

    /// `reason.reasonCode>=400` and Kibana's `reason.reasonCode >= 400`, read as Acta's `reason.reasonCode:>=400`.
    /// The cursor is at the operator or the spaces before it.
    fn comparison_without_colon(&mut self, name: &str) -> Result<Query, QueryError> {
        self.skip_whitespace();
        let Some(&(spelling, op)) = COMPARISONS.iter().find(|(spelling, _)| self.looking_at(spelling)) else {
            return Err(error(self.column(), "internal parser error"));
        };
        self.pos += spelling.len();
        self.skip_whitespace();
        let column = self.column();
        let text = self.unquoted();
        let bound = parse_number(&text).ok_or_else(|| {
            not_a_number(
                column,
                spelling,
                &text,
                format!(
                    "expected a number after '{spelling}' (a comparison is written {name}:{spelling}400; quote text \
                     that holds '{spelling}' to search for it)"
                ),
            )
        })?;
        let (field, _) = field_from_name(name).ok_or_else(|| error(column, "internal parser error"))?;
        Ok(Query::Field(field, FieldCond::Compare(op, bound)))
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
        self.skip_spaces_before_value();
        match name {
            "_exists_" => return self.existence(name, false),
            "_missing_" => return self.existence(name, true),
            _ => {}
        }
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
        for (spelling, op) in COMPARISONS {
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
        if op == ValueOp::Plain && matches!(self.peek_char(), Some('[' | '{')) && self.range_ahead() {
            return self.range(&field);
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

    /// Kibana's `action: delete`: spaces between the colon and a value are skipped. Where no value follows (the
    /// end, `)`, an operator) the cursor stays, and the term is the error it always was.
    fn skip_spaces_before_value(&mut self) {
        let colon = self.pos;
        self.skip_whitespace();
        if self.pos == colon {
            return;
        }
        let operator = ["AND", "OR", "NOT", "&&", "||"].into_iter().any(|word| self.looking_at_word(word));
        if operator || self.peek_char().is_none_or(|c| c == ')') {
            self.pos = colon;
        }
    }

    /// `_exists_:reason` (Kibana, Lucene) is Acta's `reason:*`; `_missing_:reason` (older Lucene) is `-reason:*`.
    fn existence(&mut self, name: &str, missing: bool) -> Result<Query, QueryError> {
        let column = self.column();
        let target = match self.peek_char() {
            Some('"' | '\'') => {
                let text = self.quoted()?;
                self.expect_boundary("the closing quote")?;
                text
            }
            _ => self.unquoted(),
        };
        let acta_form = if missing { "-reason:*" } else { "reason:*" };
        let refuse = || {
            error(
                column,
                format!("expected a field name after '{name}:', as in {name}:reason (Acta's own form is {acta_form})"),
            )
        };
        if target.is_empty() || target.contains(['*', '[', ']', '{', '}', ':', '"', '\'']) {
            return Err(refuse());
        }
        let (field, _) = field_from_name(&target).ok_or_else(refuse)?;
        let exists = Query::Field(field, FieldCond::Exists);
        Ok(if missing { Query::Not(Box::new(exists)) } else { exists })
    }

    /// Whether the cursor, on '[' or '{', starts a Lucene range (`[400 TO 499]`) rather than a list: a bound,
    /// spaces, `TO` and a space.
    fn range_ahead(&self) -> bool {
        let start = self.pos + 1;
        let mut at = start;
        while self.char_at(at).is_some_and(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}')) {
            at += 1;
        }
        if at == start || !self.char_at(at).is_some_and(char::is_whitespace) {
            return false;
        }
        while self.char_at(at).is_some_and(char::is_whitespace) {
            at += 1;
        }
        self.char_at(at) == Some('T')
            && self.char_at(at + 1) == Some('O')
            && self.char_at(at + 2).is_some_and(char::is_whitespace)
    }

    /// `field:[400 TO 499]` (Lucene): `[ ]` include their bounds, `{ }` exclude them, `*` leaves an end open.
    /// Acta compares numbers only, so the bounds must be numbers; it is `field:(>=400 <=499)`.
    fn range(&mut self, field: &Field) -> Result<Query, QueryError> {
        let open_column = self.column();
        let includes_low = self.peek_char() == Some('[');
        self.pos += 1;
        let low = self.range_bound()?;
        self.skip_whitespace();
        self.pos += "TO".len();
        self.skip_whitespace();
        let high = self.range_bound()?;
        let includes_high = match self.peek_char() {
            Some(']') => true,
            Some('}') => false,
            _ => {
                return Err(error(
                    self.column(),
                    format!("expected ']' or '}}' to close the range opened at column {open_column}"),
                ));
            }
        };
        self.pos += 1;
        self.expect_boundary("the range")?;
        let mut bounds = Vec::new();
        if let Some(low) = low {
            let op = if includes_low { CmpOp::Ge } else { CmpOp::Gt };
            bounds.push(Query::Field(field.clone(), FieldCond::Compare(op, low)));
        }
        if let Some(high) = high {
            if !bounds.is_empty() {
                self.count_term(open_column)?;
            }
            let op = if includes_high { CmpOp::Le } else { CmpOp::Lt };
            bounds.push(Query::Field(field.clone(), FieldCond::Compare(op, high)));
        }
        // `[* TO *]` is Lucene's "has a value".
        if bounds.is_empty() {
            return Ok(Query::Field(field.clone(), FieldCond::Exists));
        }
        Ok(and(bounds))
    }

    /// A number or `*` (an open end) in a range.
    fn range_bound(&mut self) -> Result<Option<f64>, QueryError> {
        let column = self.column();
        let start = self.pos;
        while self.peek_char().is_some_and(|c| !c.is_whitespace() && !matches!(c, ']' | '}')) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if text == "*" {
            return Ok(None);
        }
        parse_number(&text).map(Some).ok_or_else(|| {
            error(
                column,
                "expected a number or '*' as a bound of the range (Acta's ranges compare numbers, as in \
                 field:(>=400 <=499); times are chosen with from and to, not in the query)",
            )
        })
    }

    /// The number after a comparison operator, up to the end of the term.
    fn number(&mut self, after: &str) -> Result<f64, QueryError> {
        let column = self.column();
        let text = self.unquoted();
        parse_number(&text)
            .ok_or_else(|| not_a_number(column, after, &text, format!("expected a number after '{after}'")))
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

    /// `field:(>=400 <500 -404)`, `action:(delete OR create)`: conditions on one field, combined as at the top
    /// level (side by side or `AND`: all; `OR`: any; `-`, `!`, `NOT`: not; parentheses group), so that a Lucene
    /// field group means what it means there rather than searching for the word "or".
    fn compound(&mut self, field: &Field, is_str: bool) -> Result<Query, QueryError> {
        // The field term was counted as one term; from here each condition counts instead.
        self.terms -= 1;
        let query = self.condition_group(field, is_str, 1)?;
        self.expect_boundary("')'")?;
        Ok(query)
    }

    fn skip_whitespace(&mut self) {
        while self.peek_char().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Whether `word` is at the cursor as a whole word (followed by whitespace, a parenthesis or the end).
    fn looking_at_word(&self, word: &str) -> bool {
        self.looking_at(word) && self.char_at(self.pos + word.chars().count()).is_none_or(ends_word)
    }

    /// The AND or OR at the cursor inside a field's `( )`, if any. Lower-case `and` and `or` count only between
    /// two conditions (`action:(delete or create)`, Kibana's habit); before a `)` they are words.
    fn junction_ahead(&self) -> Option<(bool, &'static str)> {
        const JUNCTIONS: [(&str, bool); 6] =
            [("AND", false), ("&&", false), ("OR", true), ("||", true), ("and", false), ("or", true)];
        let (spelling, is_or) = JUNCTIONS.into_iter().find(|(spelling, _)| self.looking_at_word(spelling))?;
        if spelling.starts_with(|c: char| c.is_lowercase()) {
            let mut after = self.pos + spelling.len();
            while self.char_at(after).is_some_and(char::is_whitespace) {
                after += 1;
            }
            if matches!(self.char_at(after), None | Some(')')) {
                return None;
            }
        }
        Some((is_or, spelling))
    }

    /// A parenthesized group of conditions, from its '(' at the cursor to its ')'.
    fn condition_group(&mut self, field: &Field, is_str: bool, depth: usize) -> Result<Query, QueryError> {
        let open_column = self.column();
        nesting_check(depth, open_column)?;
        self.pos += 1;
        self.skip_whitespace();
        let unclosed =
            |column| error(column, format!("expected ')' to close the conditions opened at column {open_column}"));
        match self.peek_char() {
            None => return Err(unclosed(self.column())),
            Some(')') => return Err(error(self.column(), "expected a condition inside '( )' after ':'")),
            Some(_) => {}
        }
        let query = self.condition_or(field, is_str, depth)?;
        self.skip_whitespace();
        if self.peek_char() != Some(')') {
            return Err(unclosed(self.column()));
        }
        self.pos += 1;
        Ok(query)
    }

    fn condition_or(&mut self, field: &Field, is_str: bool, depth: usize) -> Result<Query, QueryError> {
        let mut alternatives = vec![self.condition_and(field, is_str, depth)?];
        while let Some((true, spelling)) = self.junction_ahead() {
            self.pos += spelling.len();
            self.expect_condition_after(spelling)?;
            alternatives.push(self.condition_and(field, is_str, depth)?);
        }
        Ok(or(alternatives))
    }

    fn condition_and(&mut self, field: &Field, is_str: bool, depth: usize) -> Result<Query, QueryError> {
        let mut parts = vec![self.condition_unary(field, is_str, depth)?];
        loop {
            self.skip_whitespace();
            match self.junction_ahead() {
                Some((true, _)) => break,
                Some((false, spelling)) => {
                    self.pos += spelling.len();
                    self.expect_condition_after(spelling)?;
                }
                None if matches!(self.peek_char(), None | Some(')')) => break,
                None => {}
            }
            parts.push(self.condition_unary(field, is_str, depth)?);
        }
        Ok(and(parts))
    }

    fn expect_condition_after(&mut self, spelling: &str) -> Result<(), QueryError> {
        self.skip_whitespace();
        if matches!(self.peek_char(), None | Some(')')) {
            return Err(error(self.column(), format!("expected a condition after '{spelling}'")));
        }
        Ok(())
    }

    fn condition_unary(&mut self, field: &Field, is_str: bool, depth: usize) -> Result<Query, QueryError> {
        if let Some(spelling) = match self.peek_char() {
            Some('-') => Some("-"),
            Some('!') => Some("!"),
            _ => None,
        } {
            let column = self.column();
            self.pos += 1;
            if self.peek_char().is_none_or(|c| c.is_whitespace() || matches!(c, ')' | '-' | '!')) {
                return Err(error(self.column(), format!("expected a condition right after '{spelling}'")));
            }
            nesting_check(depth + 1, column)?;
            return Ok(Query::Not(Box::new(self.condition_unary(field, is_str, depth + 1)?)));
        }
        if self.looking_at_word("NOT") {
            let column = self.column();
            self.pos += "NOT".len();
            self.expect_condition_after("NOT")?;
            nesting_check(depth + 1, column)?;
            return Ok(Query::Not(Box::new(self.condition_unary(field, is_str, depth + 1)?)));
        }
        self.condition(field, is_str, depth)
    }

    /// One condition inside a field's `( )`, or a group of them.
    fn condition(&mut self, field: &Field, is_str: bool, depth: usize) -> Result<Query, QueryError> {
        let column = self.column();
        match self.peek_char() {
            Some('(') => return self.condition_group(field, is_str, depth + 1),
            Some('[') => {
                return Err(error(column, "expected a condition; lists cannot appear inside a field's '( )'"));
            }
            _ => {}
        }
        if let Some(spelling) = ["AND", "&&", "OR", "||"].into_iter().find(|spelling| self.looking_at_word(spelling)) {
            return Err(error(column, format!("expected a condition before '{spelling}'")));
        }
        self.count_term(column)?;
        for (spelling, op) in COMPARISONS {
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

/// A term made only of conditions on fields: `f:x`, a list, a field's `( )`, a range.
fn is_field_condition(query: &Query) -> bool {
    match query {
        Query::Field(..) => true,
        Query::And(children) | Query::Or(children) => children.iter().all(is_field_condition),
        Query::Not(child) => is_field_condition(child),
        Query::All | Query::Text(_) => false,
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

    /// Whether the peeked token is the lower-case word `word`, standing between two terms: then it is the
    /// operator (Kibana's query language takes `or` and `and` in any case). Elsewhere (`a or`, `or b`) it is a
    /// word. As a word next to terms it would match only tokens starting with "or" or "and", which no one
    /// means.
    fn lower_case_junction(&mut self, word: &str) -> Result<bool, QueryError> {
        let token = self.peek()?;
        if !(matches!(token.kind, Kind::Term(_)) && token.spelling == word) {
            return Ok(false);
        }
        let saved = (self.lexer.pos, self.lexer.terms, self.lexer.wildcards);
        // A token that does not lex is reported when it is read next; taking the word as the operator makes that
        // error point at that token rather than at the word.
        let term_follows = match self.lexer.next_token() {
            Ok(after) => Self::starts_term(&after),
            Err(_) => true,
        };
        (self.lexer.pos, self.lexer.terms, self.lexer.wildcards) = saved;
        Ok(term_follows)
    }

    /// A lower-case `and`, `or` or `not` taken as a word counts as a term then (the lexer leaves it uncounted).
    fn count_if_operator_word(&mut self, token: &Token) -> Result<(), QueryError> {
        if matches!(token.kind, Kind::Term(_)) && matches!(token.spelling, "and" | "or" | "not") {
            self.lexer.count_term(token.column)?;
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Query, QueryError> {
        let mut alternatives = vec![self.and_expr()?];
        loop {
            if matches!(self.peek()?.kind, Kind::Or) {
                let op = self.next()?;
                self.expect_term_after(&op)?;
            } else if self.lower_case_junction("or")? {
                self.next()?;
            } else {
                break;
            }
            alternatives.push(self.and_expr()?);
        }
        Ok(or(alternatives))
    }

    fn and_expr(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            if matches!(self.peek()?.kind, Kind::And) {
                let op = self.next()?;
                self.expect_term_after(&op)?;
            } else if self.lower_case_junction("and")? {
                self.next()?;
            } else if !Self::starts_term(self.peek()?) || self.lower_case_junction("or")? {
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
        nesting_check(self.nesting, column)
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        let token = self.peek()?;
        if matches!(token.kind, Kind::Term(_)) && token.spelling == "not" {
            return self.lower_case_not();
        }
        if !matches!(token.kind, Kind::Not) {
            return self.primary();
        }
        let op = self.next()?;
        self.enter(op.column)?;
        self.expect_term_after(&op)?;
        let child = self.unary()?;
        self.nesting -= 1;
        Ok(Query::Not(Box::new(child)))
    }

    /// Lower-case `not` negates a field condition or a group that follows it (`not action:login`, as in Kibana);
    /// before a word it stays the word, since audit messages say "not found" and "not authorized".
    fn lower_case_not(&mut self) -> Result<Query, QueryError> {
        let word = self.next()?;
        let Kind::Term(word_query) = word.kind else {
            return Err(error(word.column, "internal parser error"));
        };
        let negates = match &self.peek()?.kind {
            Kind::LParen => true,
            Kind::Term(query) => is_field_condition(query),
            _ => false,
        };
        if !negates {
            self.lexer.count_term(word.column)?;
            return Ok(word_query);
        }
        self.enter(word.column)?;
        let child = self.unary()?;
        self.nesting -= 1;
        Ok(Query::Not(Box::new(child)))
    }

    fn primary(&mut self) -> Result<Query, QueryError> {
        let token = self.next()?;
        self.count_if_operator_word(&token)?;
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
