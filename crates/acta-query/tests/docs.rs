//! `docs/query.md`, the users' page of the search language, against the parser: every message the parser can give
//! is listed there, and what the page says Acta accepts, it accepts with the meaning it claims.

use acta_query::parse;

const PARSER: &str = include_str!("../src/parse.rs");
/// The parser of pipes, whose messages are the language's too.
const PIPELINE: &str = include_str!("../src/pipeline.rs");
const DOC: &str = include_str!("../../../docs/query.md");

/// The message of every `error(column, ...)` in the parser, as written: a string literal or the literal of a
/// `format!`, with Rust's escapes and line continuations resolved and `{...}` placeholders kept.
fn parser_messages() -> Vec<String> {
    let mut messages = Vec::new();
    for source in [PARSER, PIPELINE] {
        messages_of(source, &mut messages);
    }
    messages.sort();
    messages.dedup();
    messages
}

/// Adds the messages of one source file.
fn messages_of(source: &str, messages: &mut Vec<String>) {
    let mut rest = source;
    while let Some(at) = rest.find("error(") {
        let before = &rest[..at];
        rest = &rest[at + "error(".len()..];
        if before.ends_with("fn ") || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(open) = rest.find('"') else { break };
        let (message, after) = string_literal(&rest[open + 1..]);
        messages.push(message);
        rest = after;
    }
}

/// The text of a Rust string literal whose opening quote is just before `text`, and what follows it.
fn string_literal(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return (value, &text[at + 1..]),
            '\\' => match chars.next() {
                Some((_, '\n')) => {
                    while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                        chars.next();
                    }
                }
                Some((_, 'n')) => value.push('\n'),
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            _ => value.push(c),
        }
    }
    (value, "")
}

/// The fixed pieces of a `format!` template, between its `{...}` placeholders (`{{` and `}}` are braces).
fn fixed_pieces(template: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('{', Some('{')) | ('}', Some('}')) => {
                chars.next();
                if let Some(piece) = pieces.last_mut() {
                    piece.push(c);
                }
            }
            ('{', _) => {
                for inner in chars.by_ref() {
                    if inner == '}' {
                        break;
                    }
                }
                pieces.push(String::new());
            }
            _ => {
                if let Some(piece) = pieces.last_mut() {
                    piece.push(c);
                }
            }
        }
    }
    pieces
}

/// The code spans (between backticks) of a line of markdown.
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// Whether `span` is an instance of the template: it starts with the first fixed piece, ends with the last,
/// and holds the others in order, with some text where each placeholder was.
fn instance_of(span: &str, pieces: &[String]) -> bool {
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
        return false;
    };
    if pieces.len() == 1 {
        return span == first;
    }
    let Some(mut rest) = span.strip_prefix(first.as_str()) else {
        return false;
    };
    // Adjacent placeholders (`{shown}{more}`) leave an empty piece: some text stands for both.
    for piece in pieces[1..pieces.len() - 1].iter().filter(|piece| !piece.is_empty()) {
        match rest.get(1..).and_then(|tail| tail.find(piece.as_str())) {
            Some(at) => rest = &rest[1 + at + piece.len()..],
            None => return false,
        }
    }
    rest.len() > last.len() && rest.ends_with(last.as_str())
}

#[test]
fn every_parser_message_is_explained_in_the_query_docs() {
    let messages = parser_messages();
    // Guards the reading of the source: it must find the parser's messages, not nothing.
    assert!(messages.len() >= 40, "found only {} messages: {messages:#?}", messages.len());
    assert!(messages.contains(&"expected ')' to close the group opened at column {}".to_string()), "{messages:#?}");
    let spans: Vec<&str> = DOC.lines().flat_map(code_spans).collect();
    let missing: Vec<&String> =
        messages.iter().filter(|message| !spans.iter().any(|span| instance_of(span, &fixed_pieces(message)))).collect();
    assert!(missing.is_empty(), "docs/query.md does not list these parser messages: {missing:#?}");
}

#[test]
fn a_message_template_matches_only_its_own_instances() {
    let pieces = fixed_pieces("expected a number after '{after}' (a comparison is written {name}:{after}400)");
    assert!(instance_of("expected a number after '>=' (a comparison is written F:>=400)", &pieces));
    assert!(!instance_of("expected a number after '>='", &pieces));
    assert!(!instance_of("expected a number after '' (a comparison is written F:>=400)", &pieces));
    assert_eq!(fixed_pieces("expected ']' or '}}' at {n}"), ["expected ']' or '}' at ", ""]);
    let adjacent = fixed_pieces("expected a word: {shown}{more} has no letter");
    assert!(instance_of("expected a word: X has no letter", &adjacent));
}

/// The rows of the side-by-side table: the cells of each row, with `\|` read as `|`.
fn foreign_forms_table() -> Vec<Vec<String>> {
    let section = DOC.split("## Coming from Kibana, Lucene or LogDNA").nth(1).unwrap_or_default();
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            line.replace("\\|", "\u{1}")
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().replace('\u{1}', "|"))
                .collect()
        })
        .collect()
}

#[test]
fn every_foreign_form_the_docs_accept_means_the_acta_form() {
    let rows = foreign_forms_table();
    assert!(rows.len() >= 20, "found only {} rows of the table", rows.len());
    let mut compared = 0;
    for row in rows.iter().filter(|row| row.get(3).is_some_and(|cell| cell == "yes")) {
        let acta = code_spans(&row[2])[0];
        let expected = parse(acta).unwrap_or_else(|error| panic!("the Acta form {acta:?} does not parse: {error}"));
        for foreign in code_spans(&row[0]).into_iter().chain(code_spans(&row[1])) {
            assert_eq!(parse(foreign).as_ref(), Ok(&expected), "{foreign:?} should mean {acta:?}");
            compared += 1;
        }
    }
    assert!(compared >= 30, "only {compared} foreign forms compared");
}

#[test]
fn every_foreign_form_the_docs_refuse_is_refused() {
    let rows = foreign_forms_table();
    for row in rows.iter().filter(|row| row.get(3).is_some_and(|cell| cell.starts_with("refused"))) {
        for foreign in code_spans(&row[0]) {
            assert!(parse(foreign).is_err(), "{foreign:?} is said to be refused");
        }
    }
}

#[test]
fn the_seed_queries_in_the_docs_parse() {
    let section = DOC.split("## The seed tutorials' queries").nth(1).unwrap_or_default();
    let section = section.split("\n## ").next().unwrap_or_default();
    let queries: Vec<&str> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| code_spans(line).first().copied())
        .collect();
    assert_eq!(queries.len(), 8, "{queries:?}");
    for query in queries {
        assert!(parse(query).is_ok(), "{query:?} does not parse");
    }
}

#[test]
fn the_pipe_examples_in_the_docs_parse() {
    let section = DOC.split("## Pipes: counting, grouping and charting").nth(1).unwrap_or_default();
    let section = section.split("\n## ").next().unwrap_or_default();
    let examples: Vec<&str> =
        section.lines().filter_map(|line| line.strip_prefix("    ")).filter(|line| line.contains('|')).collect();
    assert!(examples.len() >= 8, "{examples:?}");
    for example in examples {
        let pipeline = acta_query::parse_pipeline(example);
        assert!(pipeline.as_ref().is_ok_and(|pipeline| !pipeline.is_plain()), "{example:?}: {pipeline:?}");
    }
}
