//! The syntax tree the parser builds, and the canonical text the printer writes.

use acta_query::{CmpOp, Field, FieldCond, Limits, Query, Sequence, TokenPattern, parse, parse_with, tokenize};

use crate::parsed;

fn exact(text: &str) -> TokenPattern {
    TokenPattern::Exact(text.to_string())
}

fn prefix(text: &str) -> TokenPattern {
    TokenPattern::Prefix(text.to_string())
}

fn wildcard(text: &str) -> TokenPattern {
    TokenPattern::Wildcard(text.to_string())
}

fn text(patterns: Vec<TokenPattern>) -> Query {
    Query::Text(Sequence(patterns))
}

fn word(w: &str) -> Query {
    text(vec![prefix(w)])
}

fn path(name: &str) -> Field {
    Field::Path(name.split('.').map(str::to_string).collect())
}

fn field(name: &str, cond: FieldCond) -> Query {
    Query::Field(path(name), cond)
}

fn tokens(patterns: Vec<TokenPattern>) -> FieldCond {
    FieldCond::Tokens(Sequence(patterns))
}

fn equals(value: &str, case_sensitive: bool) -> FieldCond {
    FieldCond::Equals { value: value.to_string(), case_sensitive }
}

fn not(query: Query) -> Query {
    Query::Not(Box::new(query))
}

#[test]
fn tokenizer_splits_on_non_alphanumerics_and_lowercases() {
    assert_eq!(tokenize("iam-identity.user-apikey.delete"), ["iam", "identity", "user", "apikey", "delete"]);
    assert_eq!(tokenize("reasonCode=409"), ["reasoncode", "409"]);
    assert_eq!(tokenize("Zürich, 東京!"), ["zürich", "東京"]);
    assert_eq!(tokenize(" -- "), Vec::<String>::new());
}

#[test]
fn empty_text_is_all() {
    assert_eq!(parsed(""), Query::All);
    assert_eq!(parsed(" \t\n"), Query::All);
}

#[test]
fn star_word_is_all() {
    assert_eq!(parsed("*"), Query::All);
    assert_eq!(parsed("a *"), Query::And(vec![word("a"), Query::All]));
}

#[test]
fn free_text_word_is_exact_tokens_then_a_prefix() {
    assert_eq!(parsed("user-apikey.delete"), text(vec![exact("user"), exact("apikey"), prefix("delete")]));
    assert_eq!(parsed("FAIL"), word("fail"));
}

#[test]
fn phrase_is_all_exact() {
    assert_eq!(parsed("\"job failed\""), text(vec![exact("job"), exact("failed")]));
    assert_eq!(parsed("'Job Failed'"), text(vec![exact("job"), exact("failed")]));
}

#[test]
fn stars_in_words() {
    assert_eq!(parsed("fail*"), word("fail"));
    assert_eq!(parsed("fail**"), word("fail"));
    assert_eq!(parsed("us*th"), text(vec![wildcard("us*th")]));
    assert_eq!(parsed("US**TH*"), text(vec![wildcard("us*th*")]));
    assert_eq!(parsed("a*-b"), text(vec![wildcard("a*"), prefix("b")]));
    assert_eq!(parsed("a-*"), text(vec![exact("a"), wildcard("*")]));
    assert_eq!(parsed("*.*"), Query::All);
}

#[test]
fn field_value_forms() {
    assert_eq!(parsed("action:user-apikey"), field("action", tokens(vec![exact("user"), prefix("apikey")])));
    assert_eq!(
        parsed("initiator.host.agent:\"IBM Cloud CLI\""),
        field("initiator.host.agent", tokens(vec![exact("ibm"), exact("cloud"), exact("cli")]))
    );
    assert_eq!(parsed("outcome:==Failure"), field("outcome", equals("Failure", false)));
    assert_eq!(parsed("outcome:===Failure"), field("outcome", equals("Failure", true)));
    assert_eq!(parsed("action:=iam"), field("action", FieldCond::Prefix("iam".into())));
    assert_eq!(parsed("a:*"), field("a", FieldCond::Exists));
    assert_eq!(parsed("a:\"-\""), field("a", equals("-", false)));
    assert_eq!(parsed("a:=\"x y\""), field("a", FieldCond::Prefix("x y".into())));
}

#[test]
fn field_value_may_contain_colons() {
    assert_eq!(parsed("time:12:30"), field("time", tokens(vec![exact("12"), prefix("30")])));
}

#[test]
fn str_suffix_is_whole_value_equality_on_the_base_field() {
    assert_eq!(parsed("target.typeURI_str:kms/secrets"), field("target.typeURI", equals("kms/secrets", false)));
    assert_eq!(parsed("target.typeURI_str:==kms/secrets"), field("target.typeURI", equals("kms/secrets", false)));
    assert_eq!(parsed("level_str:Warning"), field("severity", equals("Warning", false)));
    assert_eq!(parsed("_str:x"), field("_str", tokens(vec![prefix("x")])));
}

#[test]
fn derived_field_names() {
    assert_eq!(parsed("_platform:==kms"), Query::Field(Field::Platform, equals("kms", false)));
    assert_eq!(parsed("level:warn"), field("severity", tokens(vec![prefix("warn")])));
    assert_eq!(parsed("_account:*"), Query::Field(Field::Account, FieldCond::Exists));
    assert_eq!(parsed("_instance:*"), Query::Field(Field::Instance, FieldCond::Exists));
    assert_eq!(parsed("_region:*"), Query::Field(Field::Region, FieldCond::Exists));
    assert_eq!(parsed("_received:*"), Query::Field(Field::Received, FieldCond::Exists));
    assert_eq!(parsed("_platform.x:*"), field("_platform.x", FieldCond::Exists));
}

#[test]
fn lists_are_ors_of_the_values() {
    assert_eq!(
        parsed("a:[x,\"y z\",*]"),
        Query::Or(vec![
            field("a", tokens(vec![prefix("x")])),
            field("a", tokens(vec![exact("y"), exact("z")])),
            field("a", FieldCond::Exists),
        ])
    );
    assert_eq!(parsed("a:==[x,Y]"), Query::Or(vec![field("a", equals("x", false)), field("a", equals("Y", false))]));
    assert_eq!(parsed("a:[x]"), field("a", tokens(vec![prefix("x")])));
}

#[test]
fn comparisons_and_compounds() {
    assert_eq!(parsed("code:>=400"), field("code", FieldCond::Compare(CmpOp::Ge, 400.0)));
    assert_eq!(parsed("code:<-1.5"), field("code", FieldCond::Compare(CmpOp::Lt, -1.5)));
    assert_eq!(
        parsed("code:(>=400 <500 -404 =42 x)"),
        Query::And(vec![
            field("code", FieldCond::Compare(CmpOp::Ge, 400.0)),
            field("code", FieldCond::Compare(CmpOp::Lt, 500.0)),
            not(field("code", FieldCond::Compare(CmpOp::Eq, 404.0))),
            field("code", FieldCond::Compare(CmpOp::Eq, 42.0)),
            field("code", tokens(vec![prefix("x")])),
        ])
    );
    assert_eq!(parsed("code:(>1)"), field("code", FieldCond::Compare(CmpOp::Gt, 1.0)));
}

#[test]
fn precedence_and_binds_tighter_than_or() {
    assert_eq!(parsed("a b OR c"), Query::Or(vec![Query::And(vec![word("a"), word("b")]), word("c")]));
    assert_eq!(parsed("a OR b c"), Query::Or(vec![word("a"), Query::And(vec![word("b"), word("c")])]));
    assert_eq!(parsed("-a b"), Query::And(vec![not(word("a")), word("b")]));
    assert_eq!(parsed("NOT a OR b"), Query::Or(vec![not(word("a")), word("b")]));
}

#[test]
fn operator_spellings_are_equivalent() {
    assert_eq!(parsed("a AND b"), parsed("a && b"));
    assert_eq!(parsed("a AND b"), parsed("a b"));
    assert_eq!(parsed("a OR b"), parsed("a || b"));
    assert_eq!(parsed("NOT a"), parsed("!a"));
    assert_eq!(parsed("NOT a"), parsed("-a"));
    assert_eq!(parsed("! a"), parsed("-a"));
}

#[test]
fn nested_junctions_of_one_kind_are_flattened() {
    assert_eq!(parsed("(a b) (c d)"), Query::And(vec![word("a"), word("b"), word("c"), word("d")]));
    assert_eq!(parsed("a OR (b OR c)"), Query::Or(vec![word("a"), word("b"), word("c")]));
    assert_eq!(parsed("((a))"), word("a"));
    assert_eq!(
        parsed("x OR f:[a,b]"),
        Query::Or(vec![word("x"), field("f", tokens(vec![prefix("a")])), field("f", tokens(vec![prefix("b")]))])
    );
}

#[test]
fn words_end_at_parentheses() {
    assert_eq!(parsed("a(b)"), Query::And(vec![word("a"), word("b")]));
}

#[test]
fn symbols_inside_words_are_separators() {
    assert_eq!(parsed("a&&b"), text(vec![exact("a"), prefix("b")]));
    assert_eq!(parsed("don't"), text(vec![exact("don"), prefix("t")]));
}

/// (input, canonical text)
const CANONICAL: &[(&str, &str)] = &[
    ("", "*"),
    ("a b OR c", "a b OR c"),
    ("(a b) OR c", "a b OR c"),
    ("a (b OR c)", "a (b OR c)"),
    ("-(a b)", "-(a b)"),
    ("NOT NOT a", "--a"),
    ("user-apikey.delete", "user-apikey-delete"),
    ("'job  failed'", "\"job failed\""),
    ("fail*", "fail"),
    ("US*TH", "us*th"),
    ("initiator.host.agent:\"IBM Cloud CLI\"", "initiator.host.agent:\"ibm cloud cli\""),
    ("outcome:==Failure", "outcome:==Failure"),
    ("a:==\"x y\"", "a:==\"x y\""),
    ("a:===\"=x\"", "a:===\"=x\""),
    ("a:=\"say \\\"hi\\\"\"", "a:=\"say \\\"hi\\\"\""),
    ("target.typeURI_str:kms/secrets", "target.typeURI:==kms/secrets"),
    ("level:warn", "severity:warn"),
    ("a:[x,y]", "a:[x,y]"),
    ("z a:[x,y]", "z a:[x,y]"),
    ("-(a:[x,y])", "-a:[x,y]"),
    ("a:x OR a:\"y z\" OR b:x", "a:[x,\"y z\"] OR b:x"),
    ("a:==[x,\"y,z\"]", "a:==[x,\"y,z\"]"),
    ("a:[x,*]", "a:[x,*]"),
    ("code:(>=400 <500 -404)", "code:(>=400 <500 -404)"),
    ("code:>=400 code:<500 x", "code:(>=400 <500) x"),
    ("code:(=-5 >-9 \"a b\" ==c)", "code:(=-5 >-9 \"a b\" ==c)"),
    ("code:(=404)", "code:(=404)"),
    ("code:(-5)", "-code:(=5)"),
    ("code:>=4e2", "code:>=400"),
    ("code:>1e300", "code:>1e300"),
    ("code:<0.000001", "code:<1e-6"),
    ("a:*", "a:*"),
    ("a:-", "a:==-"),
    ("İstanbul", "İstanbul"),
];

#[test]
fn canonical_text() {
    for (input, canonical) in CANONICAL {
        let query = parsed(input);
        assert_eq!(query.to_string(), *canonical, "canonical text of {input:?}");
        assert_eq!(parse(canonical).as_ref(), Ok(&query), "{canonical:?} parses back to the tree of {input:?}");
    }
}

#[test]
fn field_display_is_the_query_name() {
    assert_eq!(path("initiator.host.agent").to_string(), "initiator.host.agent");
    assert_eq!(Field::Platform.to_string(), "_platform");
    assert_eq!(Field::from_name("level"), path("severity"));
    assert_eq!(Field::from_name("_received"), Field::Received);
}

#[test]
fn long_lists_print_back_within_the_limits() {
    let limits = Limits { max_bytes: 100_000, ..Limits::default() };
    let values: Vec<String> = (0..1000).map(|i| format!("v{i}")).collect();
    let list = format!("a:[{}]", values.join(","));
    let query = parse_with(&list, &limits).expect("a list of 1000");
    assert_eq!(query.to_string(), list);
    // Two lists of one field merge into one OR; printed, they must split again within the list limit.
    let two = format!("{list} OR {list}");
    let query = parse_with(&two, &limits).expect("two lists of 1000");
    assert_eq!(parse_with(&query.to_string(), &limits).as_ref(), Ok(&query));
}
