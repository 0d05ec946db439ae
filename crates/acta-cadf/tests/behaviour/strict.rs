//! Strict mode: DSP0262 as pycadf checks it, on top of every lenient rule.

use serde_json::json;

use super::*;

#[test]
fn openstack_shaped_events_pass_strict_mode() {
    let events = [
        minimal_strict(),
        with(minimal_strict(), "action", json!("authenticate/logon")),
        with(minimal_strict(), "action", json!("update/add")),
        with(minimal_strict(), "action", json!("read/list")),
        // keystone's notification actions: pycadf accepts any action that starts with a taxonomy term.
        with(minimal_strict(), "action", json!("created.project")),
        with(with(minimal_strict(), "eventType", json!("monitor")), "observer", json!({"id": "initiator"})),
        with(
            with(without(minimal_strict(), "initiator"), "initiatorId", json!("u-1")),
            "reporterchain",
            json!([{"reporterTime": "2014-01-17T23:23:38.154152+0000", "role": "modifier", "reporter": {"id": "target"}}]),
        ),
    ];
    for event in &events {
        accept(event, &strict());
    }
}

#[test]
fn ibm_action_fails_strict_mode_with_a_taxonomy_message_but_passes_lenient_mode() {
    let event = with(minimal_strict(), "action", json!("kms.secrets.create"));
    check(
        &event,
        &strict(),
        &[(
            "/action",
            "\"kms.secrets.create\" is not in the CADF action taxonomy (strict mode expects an action \
             starting with one of: backup, capture, create, configure, read, update, delete, monitor, \
             start, stop, deploy, undeploy, enable, disable, send, receive, authenticate, revoke, renew, \
             restore, evaluate, allow, deny, notify, unknown)",
        )],
    );
    accept(&event, &lenient());
}

#[test]
fn strict_mode_requires_the_event_type_uri() {
    check(&without(minimal_strict(), "typeURI"), &strict(), &[("/typeURI", "is required in strict mode")]);
}

#[test]
fn strict_mode_requires_a_cadf_event_type() {
    check(&without(minimal_strict(), "eventType"), &strict(), &[("/eventType", "is required in strict mode")]);
    check(
        &with(minimal_strict(), "eventType", json!("audit")),
        &strict(),
        &[("/eventType", "\"audit\" is not a CADF event type (expected activity, monitor or control)")],
    );
}

#[test]
fn strict_mode_requires_an_event_id() {
    check(&without(minimal_strict(), "id"), &strict(), &[("/id", "is required in strict mode")]);
}

#[test]
fn strict_mode_takes_outcomes_in_lowercase_only() {
    check(
        &with(minimal_strict(), "outcome", json!("Success")),
        &strict(),
        &[(
            "/outcome",
            "\"Success\" is not a CADF outcome (expected success, failure, pending or unknown; \
             strict mode takes them in lowercase only)",
        )],
    );
}

#[test]
fn strict_mode_requires_an_observer() {
    check(
        &without(minimal_strict(), "observer"),
        &strict(),
        &[("/observer", "is required (either observer as an object or observerId as a string)")],
    );
    accept(&with(without(minimal_strict(), "observer"), "observerId", json!("o-1")), &strict());
}

#[test]
fn strict_mode_takes_a_resource_or_its_id_but_not_both() {
    check(
        &with(minimal_strict(), "targetId", json!("p-1")),
        &strict(),
        &[("/targetId", "must not be sent together with target (strict mode takes exactly one of them)")],
    );
    accept(&with(minimal_strict(), "targetId", json!("p-1")), &lenient());
}

#[test]
fn strict_mode_requires_resource_ids() {
    check(
        &with(minimal_strict(), "observer", json!({"name": "ActivityTracker"})),
        &strict(),
        &[("/observer/id", "is required in strict mode")],
    );
}

#[test]
fn strict_mode_rejects_resource_types_outside_the_taxonomy() {
    check(
        &with(minimal_strict(), "target", json!({"id": "k", "typeURI": "kms/secrets"})),
        &strict(),
        &[(
            "/target/typeURI",
            "\"kms/secrets\" is not in the CADF resource taxonomy (strict mode expects a type starting \
             with one of: storage, compute, network, service, data, unknown)",
        )],
    );
}

#[test]
fn strict_mode_counts_a_resource_without_type_uri_as_unknown() {
    accept(&with(minimal_strict(), "target", json!({"id": "k"})), &strict());
}

#[test]
fn strict_mode_requires_a_string_severity() {
    check(&with(minimal_strict(), "severity", json!(3)), &strict(), &[("/severity", "must be a string, got number")]);
}

#[test]
fn strict_mode_reports_every_problem_at_once() {
    let ibm = json!({
        "eventTime": "2020-03-11T09:28:35.15+0000",
        "action": "iam-groups.group.read",
        "outcome": "success",
        "initiator": {"id": "IBMid-1", "typeURI": "service/security/account/user"},
        "target": {"id": "crn:v1:bluemix:public:iam-groups:global:a/1::groups:g", "typeURI": "iam-groups/group"},
        "observer": {"name": "ActivityTracker"}
    });
    let pointers: Vec<String> = reject(&ibm, &strict()).into_iter().map(|p| p.pointer).collect();
    assert_eq!(pointers, ["/typeURI", "/eventType", "/id", "/action", "/target/typeURI", "/observer/id"]);
    accept(&ibm, &lenient());
}
