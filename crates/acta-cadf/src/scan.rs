//! Byte-level scanning of JSON text that must not build a tree: splitting bodies into events and finding
//! nesting that is too deep. Recursion in a parser is bounded; these loops are not recursive at all.
//!
//! Scanning bytes is safe on UTF-8 because `"`, `\`, brackets and commas are ASCII, and no byte of a
//! multi-byte character is ASCII.

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

/// The RFC 6901 pointer to the first object or array that opens deeper than `max_depth` levels (the top
/// level being 1), in document order.
///
/// Returns `None` when nothing is too deep, and also for text too broken to scan (an unclosed string); the
/// JSON parser then reports that.
pub(crate) fn find_too_deep(raw: &[u8], max_depth: usize) -> Option<String> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut at = 0;
    while let Some(&byte) = raw.get(at) {
        match byte {
            b'"' => {
                let end = string_end(raw, at)?;
                if let Some(Frame::Object { key, expects_key: expects_key @ true }) = stack.last_mut() {
                    *key = unescape(raw.get(at..=end).unwrap_or_default());
                    *expects_key = false;
                }
                at = end;
            }
            b'{' | b'[' => {
                if stack.len() >= max_depth {
                    return Some(pointer(&stack));
                }
                stack.push(if byte == b'{' {
                    Frame::Object { key: String::new(), expects_key: true }
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
enum Frame {
    Object { key: String, expects_key: bool },
    Array { index: usize },
}

fn pointer(stack: &[Frame]) -> String {
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
        assert_eq!(find_too_deep(raw, 5), None);
        assert_eq!(find_too_deep(raw, 4), Some("/a/1/b~1c~0/d".to_owned()));
        assert_eq!(find_too_deep(raw, 2), Some("/a/1".to_owned()));
        assert_eq!(find_too_deep(raw, 0), Some(String::new()));
    }

    #[test]
    fn too_deep_ignores_brackets_inside_strings() {
        assert_eq!(find_too_deep(br#"{"a":"[[[[{{{{\"[["}"#, 1), None);
    }
}
