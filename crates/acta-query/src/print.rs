//! Canonical query text.
//!
//! For every AST the parser produces, parsing the printed text gives the same AST. The printer writes the
//! shortest faithful form so that the text of a parsed query stays within the limits the original met: runs of
//! alternatives on one field become a list again (`f:[a,b]`), runs of conditions on one field become one
//! `f:( ... )`, numbers take the shorter of plain and exponent notation, and parentheses appear only where
//! precedence needs them. Text can still grow in bytes where an alias is expanded (`level` prints as
//! `severity`) or lowercasing lengthens a char.
//!
//! For hand-built ASTs the parser cannot produce (an `Exact` last token outside a phrase, a path named
//! `level`, NaN bounds, ...) the text is the nearest thing the language can say.

use std::fmt::{self, Display, Formatter, Write};

use crate::Limits;
use crate::ast::{CmpOp, Field, FieldCond, Query, Sequence, TokenPattern};
use crate::event::parse_number;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Top,
    AndChild,
    OrChild,
    NotChild,
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_query(self, Context::Top, f)
    }
}

impl Display for Field {
    /// The name a query uses for the field: `initiator.host.agent`, `_platform`, ...
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Field::Path(segments) => {
                for (i, segment) in segments.iter().enumerate() {
                    if i > 0 {
                        f.write_char('.')?;
                    }
                    f.write_str(segment)?;
                }
                Ok(())
            }
            Field::Platform => f.write_str("_platform"),
            Field::Account => f.write_str("_account"),
            Field::Instance => f.write_str("_instance"),
            Field::Region => f.write_str("_region"),
            Field::Received => f.write_str("_received"),
        }
    }
}

/// One printed unit of an AND or OR: a child as is, or a run of children folded into one field term.
enum Item<'q> {
    Single(&'q Query),
    /// `field:( ... )`: conditions of an AND on one field, each maybe negated.
    Compound(&'q Field, Vec<String>),
    /// `field<op>[ ... ]`: alternatives of an OR on one field with one operator.
    List(&'q Field, &'static str, Vec<String>),
}

fn write_query(query: &Query, context: Context, f: &mut Formatter<'_>) -> fmt::Result {
    match query {
        Query::All => f.write_char('*'),
        // The empty AND is true and the empty OR false; the parser never builds them.
        Query::And(children) if children.is_empty() => f.write_char('*'),
        Query::Or(children) if children.is_empty() => f.write_str("-*"),
        Query::And(children) => {
            let items = and_items(children);
            // By precedence an AND needs parentheses only inside a negation (or an AND, which the parser
            // flattens away).
            let parenthesize = matches!(context, Context::NotChild | Context::AndChild) && !is_one_term(&items);
            write_items(&items, " ", Context::AndChild, parenthesize, f)
        }
        Query::Or(children) => {
            let items = or_items(children);
            let parenthesize = context != Context::Top && !is_one_term(&items);
            write_items(&items, " OR ", Context::OrChild, parenthesize, f)
        }
        Query::Not(child) => {
            f.write_char('-')?;
            write_query(child, Context::NotChild, f)
        }
        Query::Text(sequence) => f.write_str(&sequence_text(sequence)),
        Query::Field(field, cond) => {
            write!(f, "{field}:")?;
            write_cond(cond, f)
        }
    }
}

fn is_one_term(items: &[Item<'_>]) -> bool {
    matches!(items, [Item::Compound(..) | Item::List(..)])
}

fn write_items(
    items: &[Item<'_>],
    separator: &str,
    context: Context,
    parenthesize: bool,
    f: &mut Formatter<'_>,
) -> fmt::Result {
    if parenthesize {
        f.write_char('(')?;
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        match item {
            Item::Single(query) => write_query(query, context, f)?,
            Item::Compound(field, parts) => write!(f, "{field}:({})", parts.join(" "))?,
            Item::List(field, op, elements) => write!(f, "{field}:{op}[{}]", elements.join(","))?,
        }
    }
    if parenthesize {
        f.write_char(')')?;
    }
    Ok(())
}

/// Folds runs of two or more conditions on one field into `field:( ... )`.
fn and_items(children: &[Query]) -> Vec<Item<'_>> {
    let mut items: Vec<Item<'_>> = Vec::new();
    let mut i = 0;
    while i < children.len() {
        let Some((field, _)) = children.get(i).and_then(compound_part) else {
            items.extend(children.get(i).map(Item::Single));
            i += 1;
            continue;
        };
        let run: Vec<String> = children[i..]
            .iter()
            .map_while(|child| compound_part(child).filter(|(other, _)| *other == field).map(|(_, part)| part))
            .collect();
        if run.len() < 2 {
            items.extend(children.get(i).map(Item::Single));
            i += 1;
        } else {
            i += run.len();
            items.push(Item::Compound(field, run));
        }
    }
    items
}

/// Folds runs of two or more alternatives on one field with one operator into a list, in chunks the default
/// list limit accepts.
fn or_items(children: &[Query]) -> Vec<Item<'_>> {
    let max = Limits::default().max_list_values;
    let mut items: Vec<Item<'_>> = Vec::new();
    let mut i = 0;
    while i < children.len() {
        let Some((field, op, _)) = children.get(i).and_then(list_element) else {
            items.extend(children.get(i).map(Item::Single));
            i += 1;
            continue;
        };
        let run: Vec<String> = children[i..]
            .iter()
            .map_while(|child| {
                list_element(child).filter(|(other, other_op, _)| *other == field && *other_op == op).map(|e| e.2)
            })
            .take(max)
            .collect();
        if run.len() < 2 {
            items.extend(children.get(i).map(Item::Single));
            i += 1;
        } else {
            i += run.len();
            items.push(Item::List(field, op, run));
        }
    }
    items
}

/// The text of a condition inside `field:( ... )`, if the parser reads it back as the same condition there.
fn compound_part(query: &Query) -> Option<(&Field, String)> {
    let (field, cond, negated) = match query {
        Query::Field(field, cond) => (field, cond, false),
        Query::Not(child) => match child.as_ref() {
            Query::Field(field, cond) => (field, cond, true),
            _ => return None,
        },
        _ => return None,
    };
    let part = match cond {
        // A bare number is equality there (`-404` reads better than `-=404`), unless its sign would read as
        // a negation.
        FieldCond::Compare(CmpOp::Eq, bound) => {
            let number = number_text(*bound);
            if number.starts_with('-') { format!("={number}") } else { number }
        }
        FieldCond::Compare(op, bound) => format!("{}{}", op_text(*op), number_text(*bound)),
        FieldCond::Equals { value, case_sensitive: false } => format!("=={}", value_text(value, false)),
        FieldCond::Equals { value, case_sensitive: true } => format!("==={}", value_text(value, false)),
        FieldCond::Exists => "*".to_string(),
        FieldCond::Tokens(sequence) if !sequence.0.is_empty() => {
            let text = sequence_text(sequence);
            // A bare number in `( )` is a comparison.
            if parse_number(&text).is_some() {
                return None;
            }
            text
        }
        // `=x` in `( )` is a comparison, not a prefix.
        FieldCond::Tokens(_) | FieldCond::Prefix(_) => return None,
    };
    Some((field, if negated { format!("-{part}") } else { part }))
}

/// The operator and element text of an alternative inside a list, if the parser reads it back the same.
fn list_element(query: &Query) -> Option<(&Field, &'static str, String)> {
    let Query::Field(field, cond) = query else {
        return None;
    };
    let (op, element) = match cond {
        FieldCond::Tokens(sequence) if !sequence.0.is_empty() => ("", sequence_text(sequence)),
        FieldCond::Exists => ("", "*".to_string()),
        FieldCond::Equals { value, case_sensitive: false } => ("==", value_text(value, true)),
        FieldCond::Equals { value, case_sensitive: true } => ("===", value_text(value, true)),
        FieldCond::Prefix(prefix) => ("=", value_text(prefix, true)),
        FieldCond::Tokens(_) | FieldCond::Compare(..) => return None,
    };
    Some((field, op, element))
}

fn op_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
        CmpOp::Eq => "=",
    }
}

/// Both notations print the shortest digits that parse back to the same `f64`; take the shorter text.
fn number_text(number: f64) -> String {
    let plain = format!("{number}");
    let exponent = format!("{number:e}");
    if exponent.len() < plain.len() { exponent } else { plain }
}

fn write_cond(cond: &FieldCond, f: &mut Formatter<'_>) -> fmt::Result {
    match cond {
        FieldCond::Tokens(sequence) => f.write_str(&sequence_text(sequence)),
        FieldCond::Equals { value, case_sensitive: false } => write!(f, "=={}", value_text(value, false)),
        FieldCond::Equals { value, case_sensitive: true } => write!(f, "==={}", value_text(value, false)),
        FieldCond::Prefix(prefix) => write!(f, "={}", value_text(prefix, false)),
        FieldCond::Exists => f.write_char('*'),
        // `field:=404` means a case-sensitive prefix, so numeric equality needs the `( )` form.
        FieldCond::Compare(CmpOp::Eq, bound) => write!(f, "(={})", number_text(*bound)),
        FieldCond::Compare(op, bound) => write!(f, "{}{}", op_text(*op), number_text(*bound)),
    }
}

/// A phrase when every token is whole, otherwise a word whose pieces are joined by `-`.
fn sequence_text(sequence: &Sequence) -> String {
    let patterns = &sequence.0;
    let mut text = String::new();
    if patterns.iter().all(|pattern| matches!(pattern, TokenPattern::Exact(_))) {
        text.push('"');
        for (i, pattern) in patterns.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            if let TokenPattern::Exact(token) = pattern {
                push_token(&mut text, token);
            }
        }
        text.push('"');
        return text;
    }
    // Bare, these words could read as operators (`a or b`); with the star they are the same prefix and a word.
    if let [TokenPattern::Prefix(word)] = patterns.as_slice()
        && matches!(word.as_str(), "and" | "or" | "not")
    {
        return format!("{word}*");
    }
    let last = patterns.len().saturating_sub(1);
    for (i, pattern) in patterns.iter().enumerate() {
        if i > 0 {
            text.push('-');
        }
        match pattern {
            TokenPattern::Exact(token) => push_token(&mut text, token),
            TokenPattern::Prefix(token) => {
                push_token(&mut text, token);
                if i != last {
                    text.push('*');
                }
            }
            TokenPattern::Wildcard(glob) => push_token(&mut text, glob),
        }
    }
    text
}

/// Lowercasing `İ` gives `i` plus U+0307, which the tokenizer would split; writing the capital back makes the
/// token come out of the tokenizer whole again. It is the only letter or digit whose lowercase is not made of
/// letters and digits.
fn push_token(text: &mut String, token: &str) {
    if token.contains('\u{307}') {
        text.push_str(&token.replace("i\u{307}", "\u{130}"));
    } else {
        text.push_str(token);
    }
}

/// A value after `==`, `===` or `=`, quoted when the lexer would otherwise read it differently: an unquoted
/// value ends at whitespace or a parenthesis (and, in a list, at `,` or `]`), and a leading `=`, `[` or quote
/// would be read as syntax.
fn value_text(value: &str, in_list: bool) -> String {
    let needs_quotes = value.is_empty()
        || value.starts_with(['=', '[', '"', '\''])
        || value.chars().any(|c| c.is_whitespace() || c == '(' || c == ')' || (in_list && (c == ',' || c == ']')));
    if !needs_quotes {
        return value.to_string();
    }
    let mut text = String::with_capacity(value.len() + 2);
    text.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            text.push('\\');
        }
        text.push(c);
    }
    text.push('"');
    text
}
