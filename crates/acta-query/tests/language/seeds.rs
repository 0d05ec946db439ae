//! The seed tutorials' queries (QUERY.md's last table) against events shaped like seed 002's: exactly which
//! events each query selects.

use std::sync::LazyLock;

use acta_query::{Compiled, PreparedEvent, matches};
use serde_json::{Value, json};

use crate::{TestEvent, parsed};

const IBM_UI: &str = "NotSet";
const IBM_CLI: &str = "IBM Cloud CLI";
const ACTA_CONSOLE: &str = "Acta web console";
const ACTA_CLI: &str = "Acta CLI/0.1.0";

/// An IAM Identity user API key event as IBM (and Acta's own identity service) records it.
fn apikey_event(verb: &str, failed: bool, agent: &str, key: &str, request: Value) -> Value {
    let (outcome, suffix, reason) = if failed {
        (
            "failure",
            " -failure",
            json!({"reasonCode": 409, "reasonType": "Conflict", "reasonForFailure": "The API key is locked"}),
        )
    } else {
        ("success", "", json!({"reasonCode": 200, "reasonType": "OK"}))
    };
    json!({
        "initiator": {
            "id": "IBMid-550006JKXX",
            "typeURI": "service/security/account/user",
            "name": "jane@example.com",
            "host": {"address": "192.0.2.10", "agent": agent},
            "credential": {"type": "token"}
        },
        "target": {
            "id": format!("crn:v1:bluemix:public:iam-identity::a/0f1e2d::apikey:ApiKey-{key}"),
            "name": key,
            "typeURI": "iam-identity/user-apikey"
        },
        "observer": {"name": "ActivityTracker"},
        "action": format!("iam-identity.user-apikey.{verb}"),
        "outcome": outcome,
        "reason": reason,
        "severity": if verb == "delete" { "critical" } else { "normal" },
        "eventTime": "2026-11-20T16:37:40.00+0000",
        "message": format!("IAM Identity Service: {verb} user-apikey {key}{suffix}"),
        "requestData": request.to_string(),
        "logSourceCRN": "crn:v1:bluemix:public:iam-identity:global:a/0f1e2d:::",
        "saveServiceCopy": true,
        "dataEvent": false
    })
}

static EVENTS: LazyLock<Vec<TestEvent>> = LazyLock::new(|| {
    vec![
        TestEvent::new("create", apikey_event("create", false, IBM_CLI, "demo-key", json!({"name": "demo-key"}))),
        TestEvent::new(
            "describe",
            apikey_event("update", false, IBM_UI, "demo-key", json!({"description": "for the tutorial"})),
        ),
        TestEvent::new("lock", apikey_event("update", false, ACTA_CONSOLE, "demo-key", json!({"locked": true}))),
        TestEvent::new("unlock", apikey_event("update", false, ACTA_CLI, "demo-key", json!({"locked": false}))),
        TestEvent::new(
            "update failed",
            apikey_event("update", true, ACTA_CLI, "locked-key", json!({"name": "renamed-key"})),
        ),
        TestEvent::new("delete failed", apikey_event("delete", true, IBM_UI, "locked-key", json!({}))),
        TestEvent::new("delete", apikey_event("delete", false, IBM_CLI, "demo-key", json!({}))),
        TestEvent::new("login", apikey_event("login", false, IBM_CLI, "demo-key", json!({}))),
        TestEvent::new("login failed", apikey_event("login", true, IBM_CLI, "locked-key", json!({}))),
        TestEvent::new(
            "kms create",
            json!({
                "initiator": {"id": "IBMid-550006JKXX", "host": {"agent": IBM_CLI}},
                "target": {
                    "id": "crn:v1:bluemix:public:kms:us-south:a/0f1e2d:9b1c::",
                    "name": "root-key",
                    "typeURI": "kms/secrets"
                },
                "action": "kms.secrets.create",
                "outcome": "success",
                "reason": {"reasonCode": 201, "reasonType": "Created"},
                "severity": "normal",
                "eventTime": "2026-11-20T16:40:00.00+0000",
                "message": "Key Protect: create secret root-key",
                "requestData": "{\"region\":\"us-south\"}"
            }),
        ),
        TestEvent::new(
            "view create",
            json!({
                "initiator": {"id": "iam-ServiceId-acta", "host": {"agent": ACTA_CONSOLE}},
                "target": {"id": "view-7", "name": "API key deletions", "typeURI": "acta/view"},
                "action": "acta.view.create",
                "outcome": "success",
                "severity": "normal",
                "eventTime": "2026-11-20T16:41:00Z",
                "message": "Acta: create view API key deletions"
            }),
        ),
    ]
});

/// Names of the events the query selects; both evaluators must select the same.
fn selected(query: &str) -> Vec<&'static str> {
    let parsed = parsed(query);
    let compiled = Compiled::new(&parsed);
    let mut names = Vec::new();
    for event in EVENTS.iter() {
        let view = event.view();
        let by_reference = matches(&parsed, &view);
        assert_eq!(by_reference, compiled.matches(&PreparedEvent::new(view)), "{query:?} on {}", event.name);
        if by_reference {
            names.push(event.name);
        }
    }
    names
}

#[test]
fn user_api_key_events_other_than_logins() {
    assert_eq!(
        selected("(action user-apikey) -login"),
        ["create", "describe", "lock", "unlock", "update failed", "delete failed", "delete"]
    );
}

#[test]
fn failed_user_api_key_events() {
    assert_eq!(selected("(action user-apikey) -login failure"), ["update failed", "delete failed"]);
}

#[test]
fn deletions_of_user_api_keys() {
    assert_eq!(selected("(action user-apikey.delete) -login"), ["delete failed", "delete"]);
}

#[test]
fn locks_unlocks_renames_and_description_changes() {
    assert_eq!(selected("(action user-apikey.update) -login"), ["describe", "lock", "unlock", "update failed"]);
}

#[test]
fn api_key_events_from_ibm_web_ui() {
    assert_eq!(selected("initiator.host.agent:\"NotSet\" (action user-apikey) -login"), ["describe", "delete failed"]);
}

#[test]
fn api_key_events_from_ibm_cli() {
    assert_eq!(selected("initiator.host.agent:\"IBM Cloud CLI\" (action user-apikey) -login"), ["create", "delete"]);
}

#[test]
fn acta_console_and_cli_record_their_own_agents() {
    assert_eq!(selected("initiator.host.agent:\"Acta web console\""), ["lock", "view create"]);
    assert_eq!(selected("initiator.host.agent:\"Acta CLI\" (action user-apikey) -login"), ["unlock", "update failed"]);
}

#[test]
fn key_protect_events_kibana_era() {
    assert_eq!(selected("target.typeURI_str:kms/secrets"), ["kms create"]);
}

#[test]
fn board_filter_all_user_api_key_actions() {
    assert_eq!(
        selected("iam-identity.user-apikey."),
        ["create", "describe", "lock", "unlock", "update failed", "delete failed", "delete", "login", "login failed"]
    );
}

#[test]
fn platform_breakdown_of_the_seed_events() {
    assert_eq!(selected("_platform:==kms OR _platform:==acta"), ["kms create", "view create"]);
}
