//! Kibana, Lucene and LogDNA habits: each foreign form either means what it means there, written in Acta's
//! terms, or fails with an error that shows Acta's form. `docs/query.md` has the same table for users.

use acta_query::{QueryError, parse};
use serde_json::json;

use crate::{TestEvent, check, parsed};

/// The foreign form parses to exactly the query of the Acta form, and prints as the Acta form.
fn same_as(foreign: &str, acta: &str) {
    assert_eq!(parsed(foreign), parsed(acta), "{foreign:?} should mean {acta:?}");
}

fn refused(query: &str, column: usize, message: &str) {
    assert_eq!(parse(query), Err(QueryError { column, message: message.to_string() }), "error of {query:?}");
}

fn key_event(action: &str, code: serde_json::Value) -> TestEvent {
    TestEvent::new(
        "key event",
        json!({
            "action": action,
            "outcome": "failure",
            "message": "key not found",
            "reason": {"reasonCode": code},
            "initiator": {"host": {"agent": "Acta CLI/0.1.0"}}
        }),
    )
}

#[test]
fn a_field_group_with_or_matches_either_value() {
    same_as("action:(delete OR create)", "action:delete OR action:create");
    same_as("action:(delete || create)", "action:delete OR action:create");
    let delete = key_event("iam-identity.user-apikey.delete", json!(409));
    let update = key_event("iam-identity.user-apikey.update", json!(409));
    check("action:(delete OR create)", &delete, true);
    check("action:(delete OR create)", &update, false);
}

#[test]
fn a_field_group_takes_and_not_quotes_wildcards_and_inner_groups() {
    same_as("action:(user-apikey AND NOT login)", "action:user-apikey -action:login");
    same_as("action:(user-apikey && !login)", "action:user-apikey -action:login");
    same_as("agent:(\"Acta CLI\" OR \"Acta web console\")", "agent:\"Acta CLI\" OR agent:\"Acta web console\"");
    same_as("action:(*apikey* OR kms*)", "action:*apikey* OR action:kms*");
    same_as("action:((delete OR create) -login)", "(action:delete OR action:create) -action:login");
    same_as("action:(-(delete OR create))", "-(action:delete OR action:create)");
    same_as("code:(400 OR 404)", "code:(=400) OR code:(=404)");
    // AND binds tighter than OR, as at the top level.
    same_as("action:(a b OR c)", "(action:a action:b) OR action:c");
}

#[test]
fn lower_case_or_and_between_conditions_of_a_field_group_are_operators() {
    same_as("action:(delete or create)", "action:delete OR action:create");
    same_as("action:(delete and create)", "action:delete action:create");
    // Before the closing parenthesis there is nothing to join: it is the word.
    same_as("action:(delete or)", "action:delete action:or*");
}

#[test]
fn kibana_s_space_after_the_colon_is_skipped() {
    same_as("action: delete", "action:delete");
    same_as("initiator.host.agent:  \"Acta CLI\" outcome:failure", "initiator.host.agent:\"Acta CLI\" outcome:failure");
    same_as("action: (delete or create)", "action:[delete,create]");
    same_as("reason.reasonCode: >=400", "reason.reasonCode:>=400");
    same_as("_exists_: reason", "reason:*");
}

#[test]
fn a_comparison_without_the_colon_is_the_colon_form() {
    same_as("reason.reasonCode>=400", "reason.reasonCode:>=400");
    same_as("reason.reasonCode>400", "reason.reasonCode:>400");
    same_as("reason.reasonCode<500", "reason.reasonCode:<500");
    same_as("reason.reasonCode<=499", "reason.reasonCode:<=499");
    same_as("_received<=1", "_received:<=1");
    let conflict = key_event("iam-identity.user-apikey.delete", json!(409));
    check("reason.reasonCode>=400", &conflict, true);
    check("reason.reasonCode<400", &conflict, false);
}

#[test]
fn kibana_s_spaced_comparison_is_the_colon_form() {
    same_as("reason.reasonCode >= 400", "reason.reasonCode:>=400");
    same_as("reason.reasonCode >=400", "reason.reasonCode:>=400");
    same_as("reason.reasonCode > 400 outcome:failure", "reason.reasonCode:>400 outcome:failure");
    same_as("x reason.reasonCode <5", "x reason.reasonCode:<5");
}

#[test]
fn free_text_with_angle_brackets_stays_free_text() {
    same_as("a->b", "a-b");
    same_as("<html>", "html");
}

#[test]
fn a_comparison_without_a_number_or_a_field_shows_the_acta_form() {
    refused(
        "reason.reasonCode>=abc",
        20,
        "expected a number after '>=' (a comparison is written reason.reasonCode:>=400; quote text that holds \
         '>=' to search for it)",
    );
    refused(
        "x>y",
        3,
        "expected a number after '>' (a comparison is written x:>400; quote text that holds '>' to search for it)",
    );
    refused(">=400", 1, "expected a field before '>=': a comparison is written field:>=400");
    refused(
        "reason.reasonCode >= abc",
        22,
        "expected a number after '>=' (a comparison is written reason.reasonCode:>=400; quote text that holds \
         '>=' to search for it)",
    );
    refused(
        "a <",
        4,
        "expected a number after '<' (a comparison is written a:<400; quote text that holds '<' to search for it)",
    );
    refused("< 5", 1, "expected a field before '<': a comparison is written field:<400");
    // Not an operator on its own: free text, as before.
    same_as("a >b", "a b");
}

#[test]
fn a_comparison_with_a_time_points_to_the_time_range() {
    let message = "expected a number after '<', not a time: times are chosen with the time range (from and to), not \
                   in the query";
    refused("eventTime < 2026-11-01", 13, message);
    refused("eventTime<now-1d", 11, message);
    refused("@timestamp < now-1d", 14, message);
    refused("eventTime:<2026-11-01T00:00:00Z", 12, message);
}

#[test]
fn exists_is_the_star_form() {
    same_as("_exists_:reason", "reason:*");
    same_as("_exists_:reason.reasonCode", "reason.reasonCode:*");
    same_as("_exists_:\"initiator.host.agent\"", "initiator.host.agent:*");
    same_as("NOT _exists_:reason", "-reason:*");
    same_as("_missing_:reason", "-reason:*");
    same_as("_exists_:level", "severity:*");
    let with_reason = key_event("x.y.z", json!(200));
    check("_exists_:reason.reasonCode", &with_reason, true);
    check("_exists_:severity", &with_reason, false);
    check("_missing_:severity", &with_reason, true);
}

#[test]
fn exists_without_a_field_name_shows_the_acta_form() {
    refused(
        "_exists_:",
        10,
        "expected a field name after '_exists_:', as in _exists_:reason (Acta's own form is reason:*)",
    );
    refused(
        "a _exists_:*",
        12,
        "expected a field name after '_exists_:', as in _exists_:reason (Acta's own form is reason:*)",
    );
    refused(
        "_missing_:[a,b]",
        11,
        "expected a field name after '_missing_:', as in _missing_:reason (Acta's own form is -reason:*)",
    );
}

#[test]
fn a_lucene_range_is_a_pair_of_comparisons() {
    same_as("reason.reasonCode:[400 TO 499]", "reason.reasonCode:(>=400 <=499)");
    same_as("reason.reasonCode:{400 TO 500}", "reason.reasonCode:(>400 <500)");
    same_as("reason.reasonCode:[400 TO 500}", "reason.reasonCode:(>=400 <500)");
    same_as("reason.reasonCode:[400 TO *]", "reason.reasonCode:>=400");
    same_as("reason.reasonCode:{* TO 400}", "reason.reasonCode:<400");
    same_as("reason.reasonCode:[* TO *]", "reason.reasonCode:*");
    same_as("a code:[1.5   TO   2e3] b", "a code:(>=1.5 <=2000) b");
    let conflict = key_event("x", json!("409"));
    check("reason.reasonCode:[400 TO 499]", &conflict, true);
    check("reason.reasonCode:{400 TO 409}", &conflict, false);
}

#[test]
fn a_range_of_text_or_times_is_refused_with_the_numeric_form() {
    let message = "expected a number or '*' as a bound of the range (Acta's ranges compare numbers, as in \
                   field:(>=400 <=499); times are chosen with from and to, not in the query)";
    refused("eventTime:[2026-11-01 TO now]", 12, message);
    refused("code:[400 TO abc]", 14, message);
    refused("code:[400 TO 499", 17, "expected ']' or '}' to close the range opened at column 6");
    refused("code:[400 TO 499 ]", 17, "expected ']' or '}' to close the range opened at column 6");
    refused("code:[400 TO 499]x", 18, "expected a space or ')' after the range");
}

#[test]
fn lower_case_or_and_and_between_terms_are_operators() {
    same_as("failure or delete", "failure OR delete");
    same_as("failure and delete", "failure AND delete");
    same_as("a b or c and d", "a b OR c d");
    same_as("action:login or -outcome:success", "action:login OR -outcome:success");
    let delete = key_event("iam-identity.user-apikey.delete", json!(409));
    check("create or delete", &delete, true);
}

#[test]
fn lower_case_or_and_and_at_either_end_are_words() {
    same_as("or", "or*");
    same_as("or b", "or* b");
    same_as("a and", "a and*");
    same_as("(a or) b", "a or* b");
}

#[test]
fn lower_case_not_negates_a_field_condition_or_a_group() {
    same_as("not action:login", "-action:login");
    same_as("a not action:[x,y]", "a -action:[x,y]");
    same_as("not (a b)", "-(a b)");
    same_as("not _exists_:reason", "-reason:*");
}

#[test]
fn lower_case_not_before_a_word_is_the_word() {
    same_as("key not found", "key not* found");
    let missing = key_event("x", json!(404));
    check("key not found", &missing, true);
}

#[test]
fn operator_words_print_with_a_star_so_they_stay_words() {
    for query in ["or* b", "a and*", "not* action:x", "f:(x or*)", "x or*"] {
        let printed = parsed(query).to_string();
        assert_eq!(parsed(&printed), parsed(query), "{query:?} printed as {printed:?}");
    }
    assert_eq!(parsed("a and* b").to_string(), "a and* b");
    assert_eq!(parsed("action:(delete OR create)").to_string(), "action:[delete,create]");
    assert_eq!(parsed("_exists_:reason").to_string(), "reason:*");
    assert_eq!(parsed("code:[400 TO 499]").to_string(), "code:(>=400 <=499)");
    assert_eq!(parsed("code>=400").to_string(), "code:>=400");
}
