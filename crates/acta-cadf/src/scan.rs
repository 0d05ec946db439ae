//! Byte-level scanning of JSON text that must not build a tree: splitting bodies into events, and finding
//! nesting that is too deep or a member name repeated in an object. Recursion in a parser is bounded; these
//! loops are not recursive at all.
//!
//! Scanning bytes is safe on UTF-8 because `"`, `\`, brackets and commas are ASCII, and no byte of a
//! multi-byte character is ASCII.

use std::borrow::Cow;
use std::collections::HashSet;

/// `bytes` without JSON whitespace (space, tab, CR, LF) on either side.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !is_ws(*b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_ws(*b)).map_or(start, |last| last + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// The non-blank lines of an NDJSON body, trimmed; `\r\n` endings are accepted.
pub(crate) fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|b| *b == b'\n').map(trim).filter(|line| !line.is_empty())
}

/// The elements of the JSON array `body` (trimmed, starting with `[`), as exact slices.
///
/// Only the array's own grammar is checked here (brackets, commas, strings); each element is judged later as
/// an event of its own, so one malformed element does not sink the batch.
pub(crate) fn split_array(body: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut elements = Vec::new();
    let mut at = skip_ws(body, 1);
    if body.get(at) == Some(&b']') {
        at += 1;
    } else {
        loop {
            let end = value_end(body, at)?;
            elements.push(body.get(at..end).unwrap_or_default());
            at = skip_ws(body, end);
            match body.get(at) {
                Some(b',') => at = skip_ws(body, at + 1),
                Some(b']') => {
                    at += 1;
                    break;
                }
                Some(_) => {
                    return Err(located(body, at, "expected ',' or ']' after an array element"));
                }
                None => return Err(located(body, at, "the array is not closed")),
            }
        }
    }
    let rest = skip_ws(body, at);
    if rest < body.len() {
        return Err(located(body, rest, "unexpected text after the array"));
    }
    Ok(elements)
}

/// The exact bytes of the value of member `name` of the JSON object `body` (trimmed, starting with `{`), when
/// the object has that member at its top level. Adapters use it to keep each record of a container
/// (`{"Records": [...]}`, `{"items": [...]}`) byte for byte as its source sent it.
pub(crate) fn member_value<'a>(body: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut at = skip_ws(body, 1);
    loop {
        if body.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(body, at)?;
        let key = unescape(body.get(at..=key_end)?);
        at = skip_ws(body, key_end + 1);
        if body.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_ws(body, at + 1);
        let end = object_value_end(body, start)?;
        if key == name {
            return body.get(start..end);
        }
        at = skip_ws(body, end);
        match body.get(at) {
            Some(b',') => at = skip_ws(body, at + 1),
            _ => return None,
        }
    }
}

/// Like [`value_end`] for a member value: a bare scalar also ends at `}`.
fn object_value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' | b'{' | b'[' => value_end(bytes, start).ok(),
        _ => Some(
            bytes
                .iter()
                .skip(start)
                .position(|b| is_ws(*b) || matches!(b, b',' | b'}'))
                .map_or(bytes.len(), |length| start + length),
        ),
    }
}

/// What is wrong with the structure of an event's JSON, where (an RFC 6901 pointer).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flaw {
    /// The first object or array that opens deeper than the limit (the top level being 1).
    TooDeep(String),
    /// The second occurrence of a member name in one object: I-JSON (RFC 7493) forbids it, because JSON
    /// readers disagree on which value such a member has (most keep the last, some the first, some refuse).
    RepeatedMember(String),
}

/// The first flaw in document order, from a scan of the bytes before they are parsed: depth first (a parser
/// would recurse), and repeated member names (a parser would keep one of them, silently).
///
/// Returns `None` when there is none, and also for text too broken to scan (an unclosed string); the JSON
/// parser then reports that.
pub(crate) fn find_flaw(raw: &[u8], max_depth: usize) -> Option<Flaw> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut at = 0;
    while let Some(&byte) = raw.get(at) {
        match byte {
            b'"' => {
                let end = string_end(raw, at)?;
                if let Some(Frame::Object { key, expects_key: expects_key @ true, names }) = stack.last_mut() {
                    let quoted = raw.get(at..=end).unwrap_or_default();
                    *key = unescape(quoted);
                    *expects_key = false;
                    // Compared as written unless escaped (then as decoded): no allocation for the usual key.
                    let name = match quoted.get(1..quoted.len().saturating_sub(1)) {
                        Some(inner) if !inner.contains(&b'\\') => Cow::Borrowed(inner),
                        _ => Cow::Owned(key.clone().into_bytes()),
                    };
                    if !names.insert(name) {
                        return Some(Flaw::RepeatedMember(pointer(&stack)));
                    }
                }
                at = end;
            }
            b'{' | b'[' => {
                if stack.len() >= max_depth {
                    return Some(Flaw::TooDeep(pointer(&stack)));
                }
                stack.push(if byte == b'{' {
                    Frame::Object { key: String::new(), expects_key: true, names: Names::default() }
                } else {
                    Frame::Array { index: 0 }
                });
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { expects_key, .. }) => *expects_key = true,
                None => {}
            },
            _ => {}
        }
        at += 1;
    }
    None
}

/// Where the scan is inside one open object or array.
enum Frame<'a> {
    Object { key: String, expects_key: bool, names: Names<'a> },
    Array { index: usize },
}

/// The member names an object has so far: a list while they are few (faster than hashing, and objects have a
/// few), a set once they are many (so a hostile object of thousands of names costs no quadratic time).
enum Names<'a> {
    Few(Vec<Cow<'a, [u8]>>),
    Many(HashSet<Cow<'a, [u8]>>),
}

impl Default for Names<'_> {
    fn default() -> Self {
        Names::Few(Vec::new())
    }
}

impl<'a> Names<'a> {
    const FEW: usize = 32;

    /// Adds a name; `false` when the object already had it.
    fn insert(&mut self, name: Cow<'a, [u8]>) -> bool {
        match self {
            Names::Few(list) if list.contains(&name) => false,
            Names::Few(list) if list.len() < Self::FEW => {
                list.push(name);
                true
            }
            Names::Few(list) => {
                let mut set: HashSet<Cow<'a, [u8]>> = list.drain(..).collect();
                set.insert(name);
                *self = Names::Many(set);
                true
            }
            Names::Many(set) => set.insert(name),
        }
    }
}

fn pointer(stack: &[Frame<'_>]) -> String {
    let mut pointer = String::new();
    for frame in stack {
        pointer.push('/');
        match frame {
            Frame::Object { key, .. } => pointer.push_str(&escape_token(key)),
            Frame::Array { index } => pointer.push_str(&index.to_string()),
        }
    }
    pointer
}

/// RFC 6901 escaping of one reference token.
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The text of a quoted JSON string; lossy when its escapes are broken (the parser will reject it anyway).
fn unescape(quoted: &[u8]) -> String {
    serde_json::from_slice(quoted).unwrap_or_else(|_| String::from_utf8_lossy(quoted).trim_matches('"').to_owned())
}

/// Index of the `"` that closes the string opening at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        match bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
}

/// Index just after the JSON value that starts at `start`: a balanced object or array, a string, or a bare
/// scalar token.
fn value_end(bytes: &[u8], start: usize) -> Result<usize, String> {
    match bytes.get(start) {
        None => Err(located(bytes, start, "the array is not closed")),
        Some(b',' | b']') => Err(located(bytes, start, "expected a value")),
        Some(b'"') => {
            string_end(bytes, start).map(|end| end + 1).ok_or_else(|| located(bytes, start, "a string is not closed"))
        }
        Some(b'{' | b'[') => {
            let mut depth = 0_usize;
            let mut at = start;
            while let Some(&byte) = bytes.get(at) {
                match byte {
                    b'"' => {
                        at = string_end(bytes, at).ok_or_else(|| located(bytes, at, "a string is not closed"))?;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
            Err(located(bytes, start, "an array element is not closed"))
        }
        Some(_) => {
            let end = bytes
                .iter()
                .skip(start)
                .position(|b| is_ws(*b) || matches!(b, b',' | b']'))
                .map_or(bytes.len(), |length| start + length);
            Ok(end)
        }
    }
}

fn skip_ws(bytes: &[u8], from: usize) -> usize {
    bytes.iter().skip(from).position(|b| !is_ws(*b)).map_or(bytes.len().max(from), |offset| from + offset)
}

fn is_ws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// `message` with a line and column, counted the way the JSON parser counts them.
fn located(bytes: &[u8], at: usize, message: &str) -> String {
    let before = bytes.get(..at).unwrap_or(bytes);
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let column = 1 + before.iter().rev().take_while(|b| **b != b'\n').count();
    format!("{message} at line {line} column {column}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &str) -> Result<Vec<&str>, String> {
        split_array(body.as_bytes())
            .map(|elements| elements.into_iter().map(|e| std::str::from_utf8(e).expect("utf-8")).collect())
    }

    #[test]
    fn split_array_keeps_exact_element_text() {
        assert_eq!(
            split(r#"[ {"a": "],[}"} ,1,"x\"y",[2, [3]] ,null]"#),
            Ok(vec![r#"{"a": "],[}"}"#, "1", r#""x\"y""#, "[2, [3]]", "null"])
        );
    }

    #[test]
    fn split_array_of_nothing_is_empty() {
        assert_eq!(split("[ \n ]"), Ok(vec![]));
    }

    #[test]
    fn split_array_refuses_broken_array_grammar() {
        assert_eq!(split("[{}\n{}]"), Err("expected ',' or ']' after an array element at line 2 column 1".to_owned()));
        assert_eq!(split("[{},]"), Err("expected a value at line 1 column 5".to_owned()));
        assert_eq!(split("[{}"), Err("the array is not closed at line 1 column 4".to_owned()));
        assert_eq!(split("[{\"a\":1}] x"), Err("unexpected text after the array at line 1 column 11".to_owned()));
        assert_eq!(split("[{\"a"), Err("a string is not closed at line 1 column 3".to_owned()));
    }

    #[test]
    fn too_deep_points_at_first_container_past_the_limit() {
        let raw = br#"{"a":[1,{"b/c~":{"d":[]}}],"e":{"f":{}}}"#;
        assert_eq!(find_flaw(raw, 5), None);
        assert_eq!(find_flaw(raw, 4), Some(Flaw::TooDeep("/a/1/b~1c~0/d".to_owned())));
        assert_eq!(find_flaw(raw, 2), Some(Flaw::TooDeep("/a/1".to_owned())));
        assert_eq!(find_flaw(raw, 0), Some(Flaw::TooDeep(String::new())));
    }

    #[test]
    fn too_deep_ignores_brackets_inside_strings() {
        assert_eq!(find_flaw(br#"{"a":"[[[[{{{{\"[["}"#, 1), None);
    }

    #[test]
    fn a_repeated_member_is_found_at_its_second_occurrence_at_any_depth() {
        let top = br#"{"id":"d1","action":"a","id":"d2"}"#;
        assert_eq!(find_flaw(top, 8), Some(Flaw::RepeatedMember("/id".to_owned())));
        let nested = br#"{"initiator":{"id":"u","host":{"a":1}},"target":{"id":"t","id":"t2"}}"#;
        assert_eq!(find_flaw(nested, 8), Some(Flaw::RepeatedMember("/target/id".to_owned())));
        // The same name once escaped is the same name.
        assert_eq!(find_flaw(br#"{"id":1,"i\u0064":2}"#, 8), Some(Flaw::RepeatedMember("/id".to_owned())));
    }

    #[test]
    fn a_repeated_member_among_many_is_found() {
        let members: Vec<String> = (0..100).map(|i| format!("\"m{i}\":{i}")).collect();
        let raw = format!("{{{},\"m7\":0}}", members.join(","));
        assert_eq!(find_flaw(raw.as_bytes(), 8), Some(Flaw::RepeatedMember("/m7".to_owned())));
        assert_eq!(find_flaw(format!("{{{}}}", members.join(",")).as_bytes(), 8), None);
    }

    #[test]
    fn the_same_name_in_sibling_objects_or_as_a_value_is_not_repeated() {
        assert_eq!(find_flaw(br#"{"a":{"id":1},"b":{"id":2},"c":["id","id"],"d":"id"}"#, 8), None);
        assert_eq!(find_flaw(br#"[{"id":1},{"id":2}]"#, 8), None);
    }
}
