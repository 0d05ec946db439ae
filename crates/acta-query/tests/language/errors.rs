//! Parse errors: the column (1-based, in chars) and what was expected there.

use acta_query::{Limits, QueryError, parse, parse_with};

fn fails(query: &str, column: usize, message: &str) {
    assert_eq!(parse(query), Err(QueryError { column, message: message.to_string() }), "error of {query:?}");
}

#[test]
fn unclosed_group_points_at_the_end_and_names_the_opening() {
    fails("(action user-apikey", 20, "expected ')' to close the group opened at column 1");
    fails("a ((b) OR c", 12, "expected ')' to close the group opened at column 3");
    fails("(", 2, "expected ')' to close the group opened at column 1");
}

#[test]
fn message_is_the_display_text() {
    let error = parse("(a").expect_err("unclosed");
    assert_eq!(error.to_string(), "expected ')' to close the group opened at column 1");
}

#[test]
fn columns_count_chars_not_bytes() {
    fails("Zürich (東京", 11, "expected ')' to close the group opened at column 8");
}

#[test]
fn unclosed_quote() {
    fails("\"job failed", 12, "expected \" to close the quote opened at column 1");
    fails("a 'b", 5, "expected ' to close the quote opened at column 3");
    fails("a:\"x\\\"", 7, "expected \" to close the quote opened at column 3");
}

#[test]
fn empty_value_after_colon() {
    fails("action:", 8, "expected a value after ':'");
    fails("action: OR x", 8, "expected a value after ':'");
    fails("(action: )", 9, "expected a value after ':'");
    fails("(action:)", 9, "expected a value after ':'");
    fails("a:==", 5, "expected a value after ':=='");
    fails("a:=== b", 6, "expected a value after ':==='");
    fails("a:=", 4, "expected a value after ':='");
}

#[test]
fn missing_field_name() {
    fails(":a", 1, "expected a field name before ':' (quote a literal ':')");
    fails("a..b:c", 1, "empty segment in the field name 'a..b'");
    fails("x .a:c", 3, "empty segment in the field name '.a'");
}

#[test]
fn bad_comparison_number() {
    fails("code:>=abc", 8, "expected a number after '>='");
    fails("code:>=", 8, "expected a number after '>='");
    fails("code:<NaN", 7, "expected a number after '<'");
    fails("code:>inf", 7, "expected a number after '>'");
    fails("code:>1e999", 7, "expected a number after '>'");
    fails("code:(=abc)", 8, "expected a number after '='");
}

#[test]
fn operator_with_nothing_after_it() {
    fails("a AND", 6, "expected a term after 'AND'");
    fails("a OR", 5, "expected a term after 'OR'");
    fails("NOT", 4, "expected a term after 'NOT'");
    fails("a ||", 5, "expected a term after '||'");
    fails("a &&", 5, "expected a term after '&&'");
    fails("!", 2, "expected a term after '!'");
    fails("a AND OR b", 7, "expected a term after 'AND'");
    fails("(a OR)", 6, "expected a term after 'OR'");
    fails("(NOT)", 5, "expected a term after 'NOT'");
}

#[test]
fn dash_must_touch_its_term() {
    fails("a -", 4, "expected a term right after '-' (quote a literal '-')");
    fails("a - b", 4, "expected a term right after '-' (quote a literal '-')");
    fails("(a -)", 5, "expected a term right after '-' (quote a literal '-')");
}

#[test]
fn operator_with_nothing_before_it() {
    fails("AND a", 1, "expected a term before 'AND'");
    fails("(OR a)", 2, "expected a term before 'OR'");
}

#[test]
fn stray_closing_parenthesis() {
    fails(")", 1, "unexpected ')' with no group open");
    fails("a )", 3, "unexpected ')' with no group open");
    fails("(a) b)", 6, "unexpected ')' with no group open");
}

#[test]
fn empty_group() {
    fails("()", 2, "expected a term inside the group opened at column 1");
    fails("a ( )", 5, "expected a term inside the group opened at column 3");
}

#[test]
fn lists_take_no_spaces() {
    fails("outcome:[success ,failure]", 17, "expected ',' or ']', not a space (lists take no spaces)");
    fails("outcome:[success, failure]", 18, "expected a value in the list, not a space (lists take no spaces)");
    fails("outcome:[ success]", 10, "expected a value in the list, not a space (lists take no spaces)");
    fails("outcome:[success,", 18, "expected ']' to close the list opened at column 9");
    fails("outcome:[success", 17, "expected ']' to close the list opened at column 9");
    fails("outcome:[,a]", 10, "expected a value in the list");
    fails("outcome:[]", 10, "expected a value in the list");
    fails("outcome:[\"a\"b]", 13, "expected ',' or ']' after a quoted value in the list");
    fails("outcome:[a]b", 12, "expected a space or ')' after ']'");
}

#[test]
fn compound_conditions() {
    fails("code:(>=400 <500", 17, "expected ')' to close the conditions opened at column 6");
    fails("code:()", 7, "expected a condition inside '( )' after ':'");
    fails("code:(a (b)", 12, "expected ')' to close the conditions opened at column 6");
    fails("code:(a ()", 10, "expected a condition inside '( )' after ':'");
    fails("code:(a OR)", 11, "expected a condition after 'OR'");
    fails("code:(a AND )", 13, "expected a condition after 'AND'");
    fails("code:(NOT)", 10, "expected a condition after 'NOT'");
    fails("code:(OR a)", 7, "expected a condition before 'OR'");
    fails("code:(a && || b)", 12, "expected a condition before '||'");
    fails("code:([a,b])", 7, "expected a condition; lists cannot appear inside a field's '( )'");
    fails("code:(- 4)", 8, "expected a condition right after '-'");
    fails("code:(1)x", 9, "expected a space or ')' after ')'");
}

#[test]
fn closing_quote_must_end_the_term() {
    fails("\"a\"b", 4, "expected a space or ')' after the closing quote");
    fails("f:\"a\"b", 6, "expected a space or ')' after the closing quote");
}

#[test]
fn query_longer_than_the_byte_limit() {
    fails(&"a".repeat(4097), 4097, "query is longer than 4096 bytes");
    assert!(parse(&"a".repeat(4096)).is_ok());
    // 2-byte chars: the 2049th char is the one that does not fit.
    fails(&"ü".repeat(2049), 2049, "query is longer than 4096 bytes");
}

#[test]
fn more_than_the_term_limit() {
    let words = vec!["w"; 101].join(" ");
    fails(&words, 201, "more than 100 terms");
    assert!(parse(&vec!["w"; 100].join(" ")).is_ok());
    let compound = format!("c:({})", vec!["1"; 101].join(" "));
    fails(&compound, 4 + 200, "more than 100 terms");
    // Lower-case operators between terms are operators, not terms.
    assert!(parse(&vec!["w"; 100].join(" or ")).is_ok());
    fails(&vec!["w"; 101].join(" or "), 501, "more than 100 terms");
    assert!(parse(&vec!["w"; 100].join(" and ")).is_ok());
    assert!(parse(&vec!["not f:x"; 100].join(" ")).is_ok());
}

#[test]
fn more_than_the_list_limit() {
    let values: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    let list = format!("a:[{}]", values.join(","));
    let column = list.find(",1000]").map(|at| at + 2).expect("present");
    fails(&list, column, "more than 1000 values in a list");
    let fits = format!("a:[{}]", values[..1000].join(","));
    assert!(parse(&fits).is_ok());
}

#[test]
fn limits_are_configurable() {
    let limits = Limits { max_bytes: 10, max_terms: 2, max_list_values: 2, ..Limits::default() };
    assert_eq!(parse_with("aaaaaaaaaaa", &limits).map_err(|e| e.message), Err("query is longer than 10 bytes".into()));
    assert_eq!(parse_with("a b c", &limits).map_err(|e| e.column), Err(5));
    assert_eq!(parse_with("a:[x,y,z]", &limits).map_err(|e| e.column), Err(8));
    assert_eq!(
        Limits::default(),
        Limits {
            max_bytes: 4096,
            max_terms: 100,
            max_list_values: 1000,
            max_wildcard_stars: 8,
            max_wildcard_chars: 128,
            max_wildcard_patterns: 10,
        }
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}a{}", "(".repeat(64), ")".repeat(64));
    assert!(parse(&deep).is_ok());
    let deeper = format!("{}a{}", "(".repeat(65), ")".repeat(65));
    assert_eq!(parse(&deeper).map_err(|e| e.column), Err(65));
    let negations = format!("{}a", "-".repeat(65));
    assert_eq!(
        parse(&negations),
        Err(QueryError { column: 65, message: "groups and negations nest more than 64 deep".into() })
    );
}

#[test]
fn the_wildcard_of_two_thousand_stars_is_refused_at_its_column() {
    // The query of issue 20 that ran 14 s over 718k events: `*a*a*...*b`, 2,000 stars, about 4 KB.
    let hostile = format!("{}*b", "*a".repeat(1999));
    assert!(hostile.len() < 4096);
    fails(&hostile, 1, "a wildcard pattern may hold at most 8 '*', this one has 2000");
    fails(&format!("x message:{hostile}"), 3, "a wildcard pattern may hold at most 8 '*', this one has 2000");
}

#[test]
fn wildcard_patterns_are_bounded_in_stars_length_and_number() {
    assert!(parse("*a*b*c*d*e*f*g*h").is_ok());
    fails("*a*b*c*d*e*f*g*h*i", 1, "a wildcard pattern may hold at most 8 '*', this one has 9");
    // Runs of stars count once; a trailing star is a prefix, not a wildcard.
    assert!(parse("a**********b").is_ok());
    assert!(parse(&format!("{}*", "a".repeat(1000))).is_ok());
    let long = format!("a*{}", "b".repeat(127));
    fails(&long, 1, "a wildcard pattern may be at most 128 characters long");
    assert!(parse(&long[..long.len() - 1]).is_ok());
    let ten: Vec<String> = (0..10).map(|i| format!("a*{i}")).collect();
    assert!(parse(&ten.join(" ")).is_ok());
    let eleven = format!("{} tags:[x*y,z*w]", ten.join(" "));
    fails(&eleven, 41, "a query may hold at most 10 wildcard patterns");
}

#[test]
fn free_text_without_a_letter_or_digit_is_refused() {
    let message = |text: &str| {
        format!(
            "expected a word: {text} has no letter or digit to search for (punctuation or emoji alone would match \
             every event; to compare a field with it, use field:==\"...\")"
        )
    };
    fails("...", 1, &message("..."));
    fails("action:x 🔥", 10, &message("🔥"));
    fails("\"\"", 1, &message("\"\""));
    fails("a OR '- -'", 6, &message("'- -'"));
    fails("-(?!)", 3, &message("?!"));
    // Stars alone still mean every event, and field values without a word compare whole.
    assert!(parse("*").is_ok());
    assert!(parse("action:\"...\" outcome:-").is_ok());
}
