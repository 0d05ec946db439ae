//! The reference evaluator. It follows the contract as literally as possible and is slow on purpose: every
//! node re-tokenizes and re-resolves what it needs. [`crate::Compiled`] is checked against it.

use crate::ast::{CmpOp, FieldCond, Query, Sequence, TokenPattern};
use crate::event::{EventView, FieldValue, field_exists, field_values};
use crate::tokenize;

/// Whether `event` matches `query`, by the rules of `shared/QUERY.md`. Never panics.
pub fn matches(query: &Query, event: &EventView<'_>) -> bool {
    match query {
        Query::All => true,
        Query::And(children) => children.iter().all(|child| matches(child, event)),
        Query::Or(children) => children.iter().any(|child| matches(child, event)),
        Query::Not(child) => !matches(child, event),
        Query::Text(sequence) => sequence.matches_tokens(&tokenize(event.raw)),
        Query::Field(field, FieldCond::Exists) => field_exists(event, field),
        Query::Field(field, cond) => field_values(event, field).iter().any(|value| value_matches(cond, value)),
    }
}

fn value_matches(cond: &FieldCond, value: &FieldValue<'_>) -> bool {
    match cond {
        FieldCond::Tokens(sequence) => sequence.matches_tokens(&tokenize(&value.text())),
        FieldCond::Equals { value: wanted, case_sensitive: true } => value.text() == wanted.as_str(),
        FieldCond::Equals { value: wanted, case_sensitive: false } => {
            value.text().to_lowercase() == wanted.to_lowercase()
        }
        FieldCond::Prefix(prefix) => value.text().starts_with(prefix.as_str()),
        FieldCond::Exists => true,
        FieldCond::Compare(op, bound) => value.number().is_some_and(|number| op.holds(number, *bound)),
    }
}

impl CmpOp {
    /// Whether `value op bound` holds (`value >= bound` for [`CmpOp::Ge`]).
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            CmpOp::Lt => value < bound,
            CmpOp::Le => value <= bound,
            CmpOp::Gt => value > bound,
            CmpOp::Ge => value >= bound,
            CmpOp::Eq => value == bound,
        }
    }
}

impl TokenPattern {
    /// Whether one token (already lowercased by [`tokenize`]) matches this pattern.
    pub fn matches(&self, token: &str) -> bool {
        match self {
            TokenPattern::Exact(text) => token == text,
            TokenPattern::Prefix(text) => token.starts_with(text.as_str()),
            TokenPattern::Wildcard(glob) => glob_matches(glob, token),
        }
    }
}

impl Sequence {
    /// Whether the patterns match consecutive tokens somewhere in `tokens`. The empty sequence matches any
    /// token list, even an empty one.
    pub fn matches_tokens<S: AsRef<str>>(&self, tokens: &[S]) -> bool {
        let patterns = &self.0;
        if patterns.is_empty() {
            return true;
        }
        tokens
            .windows(patterns.len())
            .any(|window| window.iter().zip(patterns).all(|(token, pattern)| pattern.matches(token.as_ref())))
    }
}

/// Glob over chars where `*` is any run (possibly empty), by the textbook dynamic programme: `reach[j]` says
/// whether the pattern read so far can end just before char `j` of the token.
fn glob_matches(glob: &str, token: &str) -> bool {
    let text: Vec<char> = token.chars().collect();
    let mut reach = vec![false; text.len() + 1];
    reach[0] = true;
    for p in glob.chars() {
        let mut next = vec![false; text.len() + 1];
        if p == '*' {
            let mut any = false;
            for (j, slot) in next.iter_mut().enumerate() {
                any |= reach[j];
                *slot = any;
            }
        } else {
            for (j, &c) in text.iter().enumerate() {
                next[j + 1] = reach[j] && c == p;
            }
        }
        reach = next;
    }
    reach[text.len()]
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn glob_star_matches_any_run_including_empty() {
        assert!(glob_matches("us*th", "usth"));
        assert!(glob_matches("us*th", "ussouth"));
        assert!(!glob_matches("us*th", "ussouthx"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "abbbc"));
        assert!(!glob_matches("a*b*c", "acb"));
        assert!(glob_matches("z*ch", "zürich"));
    }
}
