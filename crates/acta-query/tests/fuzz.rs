//! Fuzz-style properties of the parser: arbitrary bytes and mutations of valid queries get a query or an error,
//! never a panic, and what parses stays within the limits (wildcards, words) that keep evaluation bounded.
//!
//! Inputs are bounded in size (a few KiB, around the 4 KiB query limit) and the case counts are small, so each
//! property runs in about a second; the test's own runtime is the time bound.

use acta_query::{
    Compiled, EventView, FieldCond, Limits, PreparedEvent, Query, QueryError, TokenPattern, matches, parse,
};
use proptest::prelude::*;
use serde_json::json;

/// Valid queries to mutate: every kind of term and operator.
const SEEDS: &[&str] = &[
    "(action user-apikey) -login failure",
    "initiator.host.agent:\"IBM Cloud CLI\" (action user-apikey) -login",
    "target.typeURI_str:kms/secrets",
    "reason.reasonCode:(>=400 <500 -404) OR outcome:==failure",
    "tags:[a,b,\"c d\"] NOT severity:* && _platform:==iam-identity || us*th",
    "a*b*c message:x*y 'quoted \\' text' field:===Exact field:=Pre",
    "action:(delete OR NOT (create and \"x y\")) reason.reasonCode>=400 _exists_:reason code:{400 TO *]",
    "a or b not f:x reason.reasonCode < 5 _missing_:tags",
    "*",
    "",
];

/// The characters the language gives a meaning to, and some it does not.
const SPECIAL: &[char] =
    &['(', ')', '"', '\'', '\\', ':', '=', '<', '>', '[', ']', ',', '*', '-', '!', '&', '|', ' ', '.', '🔥', 'ü', 'a'];

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, char),
    Delete(usize, usize),
    Duplicate(usize, usize, usize),
    Wrap(usize),
    Negate(usize),
    Stars(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), prop::sample::select(SPECIAL)).prop_map(|(at, c)| Mutation::Insert(at, c)),
        (any::<usize>(), 0usize..20).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (any::<usize>(), 0usize..20, 1usize..200).prop_map(|(at, len, times)| Mutation::Duplicate(at, len, times)),
        (0usize..100).prop_map(Mutation::Wrap),
        (0usize..100).prop_map(Mutation::Negate),
        (0usize..2100).prop_map(Mutation::Stars),
    ]
}

/// Applies a mutation to the chars of a query; positions wrap around the text's length.
fn apply(text: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = |position: usize, chars: &[char]| position % (chars.len() + 1);
    match *mutation {
        Mutation::Insert(position, c) => {
            let position = at(position, &chars);
            chars.insert(position, c);
        }
        Mutation::Delete(position, len) => {
            let start = at(position, &chars);
            let end = (start + len).min(chars.len());
            chars.drain(start..end);
        }
        Mutation::Duplicate(position, len, times) => {
            let start = at(position, &chars);
            let end = (start + len).min(chars.len());
            let piece: Vec<char> = chars[start..end].to_vec();
            for _ in 0..times {
                chars.splice(end..end, piece.iter().copied());
            }
        }
        Mutation::Wrap(depth) => {
            return format!("{}{text}{}", "(".repeat(depth), ")".repeat(depth));
        }
        Mutation::Negate(depth) => return format!("{}{text}", "-".repeat(depth)),
        Mutation::Stars(count) => return format!("{text} {}*b", "*a".repeat(count)),
    }
    chars.into_iter().collect()
}

/// What every parsed query keeps to: no free text without a word, and wildcard patterns within the limits.
fn check_within_limits(query: &Query, wildcards: &mut usize) -> Result<(), TestCaseError> {
    let limits = Limits::default();
    let sequence = match query {
        Query::And(children) | Query::Or(children) => {
            for child in children {
                check_within_limits(child, wildcards)?;
            }
            return Ok(());
        }
        Query::Not(child) => return check_within_limits(child, wildcards),
        Query::Text(sequence) => {
            prop_assert!(!sequence.0.is_empty(), "free text without a word parsed");
            sequence
        }
        Query::Field(_, FieldCond::Tokens(sequence)) => sequence,
        Query::All | Query::Field(..) => return Ok(()),
    };
    for pattern in &sequence.0 {
        if let TokenPattern::Wildcard(glob) = pattern {
            *wildcards += 1;
            prop_assert!(glob.chars().filter(|&c| c == '*').count() <= limits.max_wildcard_stars, "{}", glob);
            prop_assert!(glob.chars().count() <= limits.max_wildcard_chars, "{}", glob);
        }
    }
    prop_assert!(*wildcards <= limits.max_wildcard_patterns);
    Ok(())
}

/// Parses, then checks the answer: an error has a column inside the text (or just after it), a query stays within
/// the limits and both evaluators give it the same answer on an event.
fn check(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Err(QueryError { column, message }) => {
            prop_assert!(column >= 1 && column <= text.chars().count() + 1, "column {} of {:?}", column, text);
            prop_assert!(!message.is_empty());
        }
        Ok(query) => {
            check_within_limits(&query, &mut 0)?;
            let event = json!({"action": "iam-identity.user-apikey.create", "outcome": "failure", "tags": ["a", "b"],
                               "reason": {"reasonCode": 404}, "message": "xaaaaaaaaaaaaaaaaaaaaaaaaaaaay"});
            let raw = event.to_string();
            let view = EventView {
                raw: &raw,
                event: &event,
                account: "a",
                instance: "i",
                region: "us-south",
                received: "2026-11-20T10:00:01Z",
            };
            let expected = matches(&query, &view);
            prop_assert_eq!(Compiled::new(&query).matches(&PreparedEvent::new(view)), expected, "{:?}", text);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_a_query_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..5000)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_text_of_the_language_s_characters_gets_a_query_or_an_error(
        chars in prop::collection::vec(prop::sample::select(SPECIAL), 0..4200),
    ) {
        check(&chars.into_iter().collect::<String>())?;
    }

    #[test]
    fn mutated_queries_get_a_query_or_an_error(
        seed in prop::sample::select(SEEDS),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut text = seed.to_string();
        for mutation in &mutations {
            text = apply(&text, mutation);
            // Keep the input around the size limit rather than letting duplications grow it without bound.
            if text.len() > 8192 {
                text = text.chars().take(4200).collect();
            }
        }
        check(&text)?;
    }
}
