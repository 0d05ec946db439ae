//! What queries mean: every row of QUERY.md's tables and the edge cases, each as (query, event, expected).

use std::sync::LazyLock;

use serde_json::json;

use crate::{TestEvent, check};

/// A failed deletion of a user API key from IBM's CLI, with the shapes real IBM events have: numeric
/// `reasonCode`, stringified `requestData`/`responseData`, arrays of scalars and of objects.
static DELETE_FAILED: LazyLock<TestEvent> = LazyLock::new(|| {
    TestEvent::new(
        "delete failed",
        json!({
            "eventTime": "2026-11-20T10:00:00.00+0000",
            "action": "iam-identity.user-apikey.delete",
            "outcome": "failure",
            "severity": "warning",
            "message": "IAM Identity Service: delete user-apikey demo-key -failure",
            "initiator": {
                "id": "IBMid-550006JKXX",
                "name": "jane@example.com",
                "typeURI": "service/security/account/user",
                "host": {"agent": "IBM Cloud CLI", "address": "192.0.2.10"}
            },
            "target": {
                "id": "crn:v1:bluemix:public:iam-identity::a/1234::apikey:ApiKey-9f3c",
                "name": "demo-key",
                "typeURI": "iam-identity/user-apikey"
            },
            "reason": {"reasonCode": 409, "reasonType": "Conflict"},
            "requestData": "{\"region\":\"us-south\",\"locked\":true}",
            "responseData": "[{\"status\":\"Locked\"},{\"status\":\"kept\"}]",
            "tags": ["prod", "Zürich", "東京 region"],
            "attachments": [{"name": "a", "content": "x"}, {"name": "b"}],
            "count": "200",
            "ratio": 0.5,
            "retries": 3,
            "dryRun": false,
            "nothing": null,
            "empty": {},
            "emptyList": [],
            "dash": "-",
            "note": "job failed twice; say \"hi\"; it's fine"
        }),
    )
});

/// A login: every raw line has the key `action`, and this one has the word `login`.
static LOGIN: LazyLock<TestEvent> = LazyLock::new(|| {
    TestEvent::new(
        "login",
        json!({
            "action": "iam-identity.user-apikey.login",
            "outcome": "success",
            "severity": "normal",
            "initiator": {"host": {"agent": "NotSet"}},
            "target": {"typeURI": "iam-identity/user-apikey"}
        }),
    )
});

/// A Key Protect event, reached by the Kibana-era `_str` query.
static KMS: LazyLock<TestEvent> = LazyLock::new(|| {
    TestEvent::new(
        "kms",
        json!({
            "action": "kms.secrets.create",
            "outcome": "success",
            "target": {"typeURI": "kms/secrets", "name": "root-key"},
            "reason": {"reasonCode": "200"}
        }),
    )
});

/// Almost nothing: a minimal event for missing fields.
static MINIMAL: LazyLock<TestEvent> = LazyLock::new(|| TestEvent::new("minimal", json!({"action": "x"})));

#[test]
fn free_text_is_a_case_insensitive_token_prefix() {
    check("failure", &DELETE_FAILED, true);
    check("fail", &DELETE_FAILED, true);
    check("FAIL", &DELETE_FAILED, true);
    check("failure", &LOGIN, false);
}

#[test]
fn free_text_does_not_match_inside_a_token() {
    check("ailure", &DELETE_FAILED, false);
    check("pikey", &DELETE_FAILED, false);
}

#[test]
fn free_text_sees_json_keys_of_the_raw_line() {
    check("action", &MINIMAL, true);
    check("action", &KMS, true);
    check("typeuri", &DELETE_FAILED, true);
    check("reasonType", &DELETE_FAILED, true);
}

#[test]
fn camel_case_is_one_token() {
    check("reason", &DELETE_FAILED, true);
    check("uri", &DELETE_FAILED, false);
    check("code", &DELETE_FAILED, false);
}

#[test]
fn free_text_with_symbols_is_consecutive_tokens_last_one_prefix() {
    check("user-apikey.delete", &DELETE_FAILED, true);
    check("user-apikey.del", &DELETE_FAILED, true);
    check("user-apikey.create", &DELETE_FAILED, false);
    check("apikey.user", &DELETE_FAILED, false);
    check("iam-identity.user-apikey.", &DELETE_FAILED, true);
    check("iam-identity.user-apikey.", &KMS, false);
}

#[test]
fn free_text_prefix_applies_to_the_last_token_only() {
    check("use-apikey", &DELETE_FAILED, false);
    check("user-api", &DELETE_FAILED, true);
}

#[test]
fn phrases_match_whole_consecutive_tokens() {
    check("\"job failed\"", &DELETE_FAILED, true);
    check("'job failed'", &DELETE_FAILED, true);
    check("\"job fail\"", &DELETE_FAILED, false);
    check("\"failed job\"", &DELETE_FAILED, false);
    check("\"JOB FAILED TWICE\"", &DELETE_FAILED, true);
}

#[test]
fn quotes_take_backslash_escapes() {
    check(r#""say \"hi\"""#, &DELETE_FAILED, true);
    check(r"'it\'s fine'", &DELETE_FAILED, true);
    check(r#""say \"ho\"""#, &DELETE_FAILED, false);
}

#[test]
fn text_without_tokens_is_refused_rather_than_matching_every_raw_line() {
    for query in ["\"\"", "\"-\"", "...", "🔥", "a ...", "'☺ ☺'"] {
        assert!(acta_query::parse(query).is_err(), "{query:?} parsed");
    }
    // In a field, a value without tokens is compared whole: it does not match everything.
    check("action:\"-\"", &MINIMAL, false);
}

#[test]
fn empty_query_matches_everything() {
    check("", &MINIMAL, true);
    check("   ", &DELETE_FAILED, true);
    check("*", &KMS, true);
}

#[test]
fn negated_everything_matches_nothing() {
    check("-*", &MINIMAL, false);
}

#[test]
fn field_value_is_consecutive_tokens_in_the_value() {
    check("action:user-apikey", &DELETE_FAILED, true);
    check("action:apikey.delete", &DELETE_FAILED, true);
    check("action:apikey.del", &DELETE_FAILED, true);
    check("action:delete.apikey", &DELETE_FAILED, false);
    check("action:USER-APIKEY", &DELETE_FAILED, true);
    check("outcome:fail", &DELETE_FAILED, true);
    check("outcome:user", &DELETE_FAILED, false);
}

#[test]
fn field_phrase_matches_whole_tokens_in_the_value() {
    check("initiator.host.agent:\"IBM Cloud CLI\"", &DELETE_FAILED, true);
    check("initiator.host.agent:\"ibm cloud\"", &DELETE_FAILED, true);
    check("initiator.host.agent:\"Cloud CL\"", &DELETE_FAILED, false);
    check("initiator.host.agent:\"NotSet\"", &DELETE_FAILED, false);
    check("initiator.host.agent:\"NotSet\"", &LOGIN, true);
}

#[test]
fn field_tokens_must_be_in_one_value_of_an_array() {
    check("tags:prod", &DELETE_FAILED, true);
    check("tags:\"東京 region\"", &DELETE_FAILED, true);
    check("tags:prod-zürich", &DELETE_FAILED, false);
}

#[test]
fn double_equals_compares_the_whole_value_case_insensitively() {
    check("outcome:==failure", &DELETE_FAILED, true);
    check("outcome:==FAILURE", &DELETE_FAILED, true);
    check("outcome:==fail", &DELETE_FAILED, false);
    check("initiator.host.agent:==\"ibm cloud cli\"", &DELETE_FAILED, true);
    check("tags:==ZÜRICH", &DELETE_FAILED, true);
}

#[test]
fn triple_equals_compares_the_whole_value_case_sensitively() {
    check("outcome:===failure", &DELETE_FAILED, true);
    check("outcome:===Failure", &DELETE_FAILED, false);
    check("initiator.host.agent:===\"IBM Cloud CLI\"", &DELETE_FAILED, true);
}

#[test]
fn single_equals_is_a_case_sensitive_prefix() {
    check("action:=iam-identity", &DELETE_FAILED, true);
    check("action:=IAM", &DELETE_FAILED, false);
    check("action:=identity", &DELETE_FAILED, false);
    check("reason.reasonCode:=40", &DELETE_FAILED, true);
}

#[test]
fn str_suffix_compares_the_whole_value_case_insensitively() {
    check("target.typeURI_str:kms/secrets", &KMS, true);
    check("target.typeURI_str:KMS/Secrets", &KMS, true);
    check("target.typeURI_str:kms", &KMS, false);
    check("target.typeURI_str:kms/secrets", &DELETE_FAILED, false);
    check("target.typeURI_str:==iam-identity/user-apikey", &DELETE_FAILED, true);
    check("target.typeURI_str:*", &MINIMAL, false);
}

#[test]
fn lists_match_any_value() {
    check("outcome:[success,failure]", &DELETE_FAILED, true);
    check("outcome:[success,pending]", &DELETE_FAILED, false);
    check("action:[create,delete]", &DELETE_FAILED, true);
    check("initiator.host.agent:[\"Acta CLI\",\"IBM Cloud CLI\"]", &DELETE_FAILED, true);
}

#[test]
fn lists_after_double_equals_match_whole_values() {
    check("outcome:==[success,fail]", &DELETE_FAILED, false);
    check("outcome:==[success,FAILURE]", &DELETE_FAILED, true);
}

#[test]
fn star_value_means_the_field_exists_and_is_not_null() {
    check("reason.reasonCode:*", &DELETE_FAILED, true);
    check("initiator.host:*", &DELETE_FAILED, true);
    check("empty:*", &DELETE_FAILED, true);
    check("nothing:*", &DELETE_FAILED, false);
    check("emptyList:*", &DELETE_FAILED, false);
    check("missing:*", &DELETE_FAILED, false);
    check("-missing:*", &DELETE_FAILED, true);
    check("-reason:*", &DELETE_FAILED, false);
}

#[test]
fn comparisons_are_numeric() {
    check("reason.reasonCode:>=400", &DELETE_FAILED, true);
    check("reason.reasonCode:>409", &DELETE_FAILED, false);
    check("reason.reasonCode:<=409", &DELETE_FAILED, true);
    check("reason.reasonCode:<400", &DELETE_FAILED, false);
    check("ratio:<1", &DELETE_FAILED, true);
    check("ratio:>-1.5", &DELETE_FAILED, true);
}

#[test]
fn numeric_strings_compare_as_numbers() {
    check("count:>=200", &DELETE_FAILED, true);
    check("count:>200", &DELETE_FAILED, false);
    check("reason.reasonCode:(>=200 <300)", &KMS, true);
    check("count:>=1e2", &DELETE_FAILED, true);
}

#[test]
fn non_numeric_values_never_compare() {
    check("outcome:>0", &DELETE_FAILED, false);
    check("-outcome:>0", &DELETE_FAILED, true);
    check("dryRun:<1", &DELETE_FAILED, false);
    check("missing:>0", &DELETE_FAILED, false);
}

#[test]
fn numbers_are_matched_as_text_by_value_conditions() {
    check("reason.reasonCode:409", &DELETE_FAILED, true);
    check("reason.reasonCode:40", &DELETE_FAILED, true);
    check("reason.reasonCode:==409", &DELETE_FAILED, true);
    check("ratio:0.5", &DELETE_FAILED, true);
    check("count:==200", &DELETE_FAILED, true);
}

#[test]
fn compound_conditions_are_anded_on_one_field() {
    check("reason.reasonCode:(>=400 <500 -404)", &DELETE_FAILED, true);
    check("reason.reasonCode:(>=400 <500 -409)", &DELETE_FAILED, false);
    check("reason.reasonCode:(=409)", &DELETE_FAILED, true);
    check("reason.reasonCode:(=40)", &DELETE_FAILED, false);
    check("reason.reasonCode:(409)", &DELETE_FAILED, true);
    check("outcome:(fail -success)", &DELETE_FAILED, true);
}

#[test]
fn booleans_are_the_words_true_and_false() {
    check("dryRun:false", &DELETE_FAILED, true);
    check("dryRun:==FALSE", &DELETE_FAILED, true);
    check("dryRun:true", &DELETE_FAILED, false);
}

#[test]
fn objects_and_null_never_match_a_value_condition() {
    check("initiator.host:192", &DELETE_FAILED, false);
    check("nothing:==null", &DELETE_FAILED, false);
    check("empty:\"\"", &DELETE_FAILED, false);
}

#[test]
fn values_without_tokens_compare_whole() {
    check("dash:\"-\"", &DELETE_FAILED, true);
    check("dash:-", &DELETE_FAILED, true);
    check("outcome:\"-\"", &DELETE_FAILED, false);
}

#[test]
fn star_inside_a_word_is_a_glob_over_one_token() {
    check("de*te", &DELETE_FAILED, true);
    check("*pikey", &DELETE_FAILED, true);
    check("d*l*t*", &DELETE_FAILED, true);
    check("z*ch", &DELETE_FAILED, true);
    check("requestData.region:s*th", &DELETE_FAILED, true);
    check("requestData.region:us*th", &DELETE_FAILED, false);
    check("x*z", &DELETE_FAILED, false);
}

#[test]
fn trailing_star_is_the_default_prefix() {
    check("fail*", &DELETE_FAILED, true);
    check("action:user-api*", &DELETE_FAILED, true);
}

#[test]
fn arrays_match_when_any_element_matches() {
    check("attachments.name:b", &DELETE_FAILED, true);
    check("attachments.name:c", &DELETE_FAILED, false);
    check("attachments.content:*", &DELETE_FAILED, true);
    check("tags:Zür", &DELETE_FAILED, true);
}

#[test]
fn missing_fields_match_nothing() {
    check("missing:x", &DELETE_FAILED, false);
    check("-missing:x", &DELETE_FAILED, true);
    check("missing.deeper:x", &DELETE_FAILED, false);
    check("outcome.deeper:x", &DELETE_FAILED, false);
}

#[test]
fn field_names_are_case_sensitive() {
    check("Outcome:failure", &DELETE_FAILED, false);
    check("reason.reasoncode:409", &DELETE_FAILED, false);
}

#[test]
fn stringified_json_is_descended_into() {
    check("requestData.region:us-south", &DELETE_FAILED, true);
    check("requestData.region:==us-south", &DELETE_FAILED, true);
    check("requestData.locked:true", &DELETE_FAILED, true);
    check("requestData.locked:*", &DELETE_FAILED, true);
    check("responseData.status:==locked", &DELETE_FAILED, true);
    check("responseData.status:===kept", &DELETE_FAILED, true);
    check("requestData:region", &DELETE_FAILED, true);
    check("message.foo:*", &DELETE_FAILED, false);
}

#[test]
fn platform_is_the_service_part_of_action() {
    check("_platform:==iam-identity", &DELETE_FAILED, true);
    check("_platform:iam", &DELETE_FAILED, true);
    check("_platform:==iam", &DELETE_FAILED, false);
    check("_platform:==kms", &KMS, true);
    check("_platform:==x", &MINIMAL, true);
}

#[test]
fn level_is_severity() {
    check("level:warning", &DELETE_FAILED, true);
    check("level:==WARNING", &DELETE_FAILED, true);
    check("level:normal", &DELETE_FAILED, false);
    check("level:*", &MINIMAL, false);
}

#[test]
fn storage_fields_come_from_where_the_event_is_stored() {
    check("_account:==acct-1", &MINIMAL, true);
    check("_instance:us-south", &MINIMAL, true);
    check("_region:==us-south", &MINIMAL, true);
    check("_region:eu", &MINIMAL, false);
    check("_received:2026-11", &MINIMAL, true);
    check("_received:>0", &MINIMAL, false);
}

#[test]
fn unicode_text_is_tokenized_and_lowercased() {
    check("Zürich", &DELETE_FAILED, true);
    check("ZÜRICH", &DELETE_FAILED, true);
    check("zur", &DELETE_FAILED, false);
    check("東京", &DELETE_FAILED, true);
    check("東", &DELETE_FAILED, true);
    check("京", &DELETE_FAILED, false);
}

#[test]
fn terms_side_by_side_are_anded() {
    check("failure delete", &DELETE_FAILED, true);
    check("failure create", &DELETE_FAILED, false);
    check("failure AND delete", &DELETE_FAILED, true);
    check("failure && create", &DELETE_FAILED, false);
}

#[test]
fn or_matches_either_side() {
    check("create OR delete", &DELETE_FAILED, true);
    check("create || login", &DELETE_FAILED, false);
}

#[test]
fn lower_case_and_or_between_terms_are_operators() {
    check("failure and delete", &DELETE_FAILED, true);
    check("failure or create", &DELETE_FAILED, true);
    check("success or create", &DELETE_FAILED, false);
}

#[test]
fn lower_case_not_before_a_word_is_a_word() {
    // `not` is a prefix of the key `note`; as an operator the query could not match.
    check("failure not delete", &DELETE_FAILED, true);
}

#[test]
fn negation_forms() {
    check("-create", &DELETE_FAILED, true);
    check("-delete", &DELETE_FAILED, false);
    check("!delete", &DELETE_FAILED, false);
    check("NOT create", &DELETE_FAILED, true);
    check("NOT NOT delete", &DELETE_FAILED, true);
    check("-(create OR login)", &DELETE_FAILED, true);
    check("-outcome:==failure", &DELETE_FAILED, false);
}

#[test]
fn only_a_negation_matches_everything_else() {
    check("-login", &DELETE_FAILED, true);
    check("-login", &LOGIN, false);
}

#[test]
fn and_binds_tighter_than_or() {
    check("create failure OR delete", &DELETE_FAILED, true);
    check("create (failure OR delete)", &DELETE_FAILED, false);
    check("login OR failure -delete", &DELETE_FAILED, false);
    check("login OR failure AND -create", &DELETE_FAILED, true);
}

#[test]
fn nested_groups() {
    check("((delete) (failure OR (login)))", &DELETE_FAILED, true);
    check("((delete) -(failure OR (login)))", &DELETE_FAILED, false);
    check("(action (user-apikey (login)))", &LOGIN, true);
}
