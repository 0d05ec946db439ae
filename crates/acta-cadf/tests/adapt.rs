//! Adapters: published (or documented) records of each source format become CADF events with the mapping
//! docs/sources/ describes, keep the original record byte for byte, and bad records are rejected with pointers
//! into the source record.

use acta_cadf::adapt::{AdaptOptions, SourceFormat, adapt_batch, detect, original_record};
use acta_cadf::{BatchResult, Event, Options, Outcome, Problem};

/// 2030-01-01T00:00:00Z: after every sample's time, so none is "in the future".
const NOW_NS: i64 = 1_893_456_000_000_000_000;

fn sample(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/samples/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|error| panic!("{full}: {error}"))
}

fn adapt_with(body: &[u8], format: SourceFormat, adapt: &AdaptOptions) -> BatchResult {
    adapt_batch(body, format, adapt, &Options::default(), NOW_NS).expect("the body splits into records")
}

fn adapt(body: &[u8], format: SourceFormat) -> BatchResult {
    adapt_with(body, format, &AdaptOptions::default())
}

fn accepted(results: BatchResult) -> Vec<Event> {
    results.into_iter().map(|result| result.unwrap_or_else(|problems| panic!("rejected: {problems:?}"))).collect()
}

fn rejected(result: &Result<Event, Vec<Problem>>) -> &[Problem] {
    match result {
        Ok(event) => panic!("accepted: {}", event.value),
        Err(problems) => problems,
    }
}

#[test]
fn a_cloudtrail_log_file_maps_each_record() {
    let events = accepted(adapt(&sample("cloudtrail/log-file.json"), SourceFormat::CloudTrail));
    assert_eq!(events.len(), 2);
    let [deleted, refused] = &events[..] else { panic!("two events") };
    assert_eq!(deleted.id.as_deref(), Some("cloudtrail:5dcff7a9-e414-411a-a43e-88d122a0ad4a"));
    assert_eq!(deleted.action, "cloudtrail.config.DeleteDeliveryChannel");
    assert_eq!(deleted.outcome, Outcome::Success);
    assert_eq!(deleted.value["initiator"]["id"], "arn:aws:iam::222222222222:user/JohnDoe");
    assert_eq!(deleted.value["initiator"]["host"]["address"], "10.24.34.0");
    assert_eq!(deleted.value["eventTime"], "2014-12-11T18:32:57Z");
    assert_eq!(refused.id.as_deref(), Some("cloudtrail:b7d4398e-b2f0-4faa-9c76-e2d316a8d67f"));
    assert_eq!(refused.action, "cloudtrail.cloudtrail.UpdateTrail");
    assert_eq!(refused.outcome, Outcome::Failure);
    assert_eq!(refused.value["reason"]["reasonCode"], "TrailNotFoundException");
    assert_eq!(refused.value["reason"]["reasonType"], "Unknown trail: myTrail2 for the user: 123456789012");
    assert_eq!(refused.value["initiator"]["id"], "arn:aws:iam::123456789012:user/Alice");
    assert_eq!(refused.value["eventTime"], "2016-07-14T19:15:45Z");
}

#[test]
fn each_cloudtrail_record_keeps_its_exact_bytes_from_the_file() {
    let file = sample("cloudtrail/log-file.json");
    let text = String::from_utf8(file.clone()).expect("utf-8");
    for event in accepted(adapt(&file, SourceFormat::CloudTrail)) {
        let (format, original) = original_record(&event.value).expect("the original is attached");
        assert_eq!(format, "cloudtrail");
        assert!(original.starts_with('{') && text.contains(original), "not a slice of the file: {original}");
    }
}

/// The one original a record's event carries: its format and exact text.
fn original(event: &Event) -> (&str, &str) {
    original_record(&event.value).expect("the original is attached")
}

#[test]
fn the_original_record_round_trips_byte_for_byte() {
    let body = sample("ibm/nlb-create-listener.json");
    let events = accepted(adapt(&body, SourceFormat::Ibm));
    let (format, original) = original_record(&events[0].value).expect("the original is attached");
    assert_eq!(format, "ibm");
    assert_eq!(original.as_bytes(), body.trim_ascii());
    // The stored bytes of the event (what the ledger hashes) hold it too.
    let reparsed: serde_json::Value = serde_json::from_slice(&events[0].raw).expect("json");
    assert_eq!(original_record(&reparsed).map(|(_, text)| text), Some(original));
}

#[test]
fn a_kubernetes_event_list_maps_verb_resource_and_status() {
    let events = accepted(adapt(&sample("kubernetes/eventlist.json"), SourceFormat::Kubernetes));
    let [created, forbidden] = &events[..] else { panic!("two events") };
    assert_eq!(created.id.as_deref(), Some("kubernetes:4e5f1c2a-7d3b-4c51-9f0e-3a1b2c3d4e5f:ResponseComplete"));
    assert_eq!(created.action, "kubernetes.pods.create");
    assert_eq!(created.outcome, Outcome::Success);
    assert_eq!(created.value["target"]["id"], "default/pods/nginx");
    assert_eq!(created.value["initiator"]["name"], "kubernetes-admin");
    assert_eq!(forbidden.action, "kubernetes.secrets.get");
    assert_eq!(forbidden.outcome, Outcome::Failure);
    assert_eq!(forbidden.value["reason"]["reasonCode"], "403");
    assert_eq!(forbidden.value["initiator"]["host"]["address"], "10.244.0.7");
}

#[test]
fn gcp_entries_map_method_and_status_code() {
    let events = accepted(adapt(&sample("gcp/entries.ndjson"), SourceFormat::Gcp));
    let [inserted, denied] = &events[..] else { panic!("two events") };
    assert_eq!(inserted.action, "gcp.v1.compute.instances.insert");
    assert_eq!(inserted.outcome, Outcome::Success);
    assert_eq!(inserted.value["initiator"]["id"], "alice@example.com");
    assert_eq!(
        inserted.id.as_deref(),
        Some("gcp:projects_example-project_logs_cloudaudit.googleapis.com_2Factivity:-abc123def456")
    );
    assert_eq!(denied.action, "gcp.storage.buckets.delete");
    assert_eq!(denied.outcome, Outcome::Failure);
    assert_eq!(denied.value["reason"]["reasonType"], "PERMISSION_DENIED");
    assert_eq!(denied.value["target"]["id"], "projects/_/buckets/example-bucket");
}

/// The notification members an oslo event records beside its payload.
fn notification(event: &Event) -> &serde_json::Value {
    event.value["attachments"]
        .as_array()
        .and_then(|attachments| attachments.iter().find(|a| a["name"] == "notification"))
        .map(|attachment| &attachment["content"])
        .expect("notification attachment")
}

#[test]
fn octavias_published_audit_request_notification_keeps_its_payload_and_event_type() {
    let body = sample("oslo/notification.json");
    let events = accepted(adapt(&body, SourceFormat::Oslo));
    let event = &events[0];
    assert_eq!(event.id.as_deref(), Some("8cf14af5-246e-5739-a11e-513ca13b7d36"));
    assert_eq!(event.action, "read/list");
    assert_eq!(event.outcome, Outcome::Pending);
    assert_eq!(event.value["eventTime"], "2018-10-11T22:42:22.720112+0000");
    assert_eq!(acta_cadf::format_time(event.event_time), "2018-10-11T22:42:22.720112000Z");
    assert_eq!(event.value["initiator"]["id"], "2af901396a424d5ca9dffa725226e8c7");
    assert_eq!(event.value["initiator"]["name"], "admin");
    assert_eq!(event.value["target"]["id"], "octavia");
    // The payload's observer has only an id: the publisher names it.
    assert_eq!(event.value["observer"]["id"], "target");
    assert_eq!(event.value["observer"]["name"], "uwsgi");
    assert_eq!(notification(event)["event_type"], "audit.http.request");
    assert_eq!(notification(event)["message_id"], "63264e0e-e60f-4adc-a656-0d87ab5d6329");
    assert_eq!(original(event), ("oslo", std::str::from_utf8(body.trim_ascii()).expect("utf-8")));
}

#[test]
fn keystones_published_project_created_notification_maps_as_is() {
    let body = sample("oslo/keystone-project-created.json");
    let events = accepted(adapt(&body, SourceFormat::Oslo));
    let event = &events[0];
    assert_eq!(event.id.as_deref(), Some("openstack:f5352d7b-bee6-4c22-8213-450e7b646e9f"));
    assert_eq!(event.action, "created.project");
    assert_eq!(event.outcome, Outcome::Success);
    assert_eq!(event.value["eventTime"], "2014-02-14T01:20:47.932842+00:00");
    assert_eq!(event.value["initiator"]["id"], "c9f76d3c31e142af9291de2935bde98a");
    assert_eq!(event.value["initiator"]["host"]["address"], "127.0.0.1");
    assert_eq!(event.value["target"]["id"], "openstack:1c2fc591-facb-4479-a327-520dade1ea15");
    assert_eq!(event.value["target"]["typeURI"], "data/security/project");
    assert_eq!(event.value["observer"]["name"], "identity.host1234");
    assert_eq!(event.value["resource_info"], "671da331c47d4e29bb6ea1d270154ec3");
    assert_eq!(notification(event)["event_type"], "identity.project.created");
    assert_eq!(original(event).1.as_bytes(), body.trim_ascii());
}

#[test]
fn keystones_published_expired_password_notification_is_a_failure_with_its_reason() {
    let body = sample("oslo/keystone-expired-password.json");
    let events = accepted(adapt(&body, SourceFormat::Oslo));
    let event = &events[0];
    assert_eq!(event.id.as_deref(), Some("78cd795f-5850-532f-9ab1-5adb04e30c0f"));
    assert_eq!(event.action, "authenticate");
    assert_eq!(event.outcome, Outcome::Failure);
    // keystone writes the reasonCode as a number and the offset without a colon.
    assert_eq!(event.value["reason"]["reasonCode"], 401);
    assert_eq!(acta_cadf::format_time(event.event_time), "2016-11-11T18:31:11.156356000Z");
    assert_eq!(event.value["initiator"]["id"], "73a19db6-e26b-5313-a6df-58d297fa652e");
    assert_eq!(event.value["target"]["id"], "c23e6cb7-abe0-5e42-b7f7-4c4104ea77b0");
    assert_eq!(notification(event)["event_type"], "identity.authenticate");
    assert_eq!(original(event).1.as_bytes(), body.trim_ascii());
}

#[test]
fn an_oslo_v2_envelope_of_keystones_failed_login_is_unwrapped() {
    let body = sample("oslo/envelope-v2.json");
    let events = accepted(adapt(&body, SourceFormat::Oslo));
    let event = &events[0];
    assert_eq!(event.id.as_deref(), Some("7f160bb3-762c-5dee-93a3-e4c46324a6d8"));
    assert_eq!(event.action, "authenticate");
    assert_eq!(event.outcome, Outcome::Failure);
    assert_eq!(acta_cadf::format_time(event.event_time), "2025-03-27T17:09:37.318590000Z");
    assert_eq!(event.value["initiator"]["id"], "d7bec06f41254509987354d0c0581cdc");
    assert_eq!(event.value["target"]["id"], "5ca93d89-b1fd-5245-9c37-508f0a034289");
    assert_eq!(notification(event)["event_type"], "identity.authenticate");
    // keystone's own attachment stays, before the notification and the original.
    let names: Vec<&str> =
        event.value["attachments"].as_array().expect("attachments").iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["partial_password_hash", "notification", "original:oslo"]);
    // The original is the envelope as sent, not the notification inside it.
    assert_eq!(original(event).1.as_bytes(), body.trim_ascii());
}

#[test]
fn an_ibm_record_from_ibms_docs_gets_its_log_source_crn() {
    let body = sample("ibm/nlb-create-listener.json");
    let events = accepted(adapt(&body, SourceFormat::Ibm));
    let event = &events[0];
    let crn = event.crn.as_ref().expect("the CRN is parsed");
    assert_eq!(crn.service, "is");
    assert_eq!(crn.location, "eu-gb");
    assert_eq!(crn.account.as_deref(), Some("<ACCOUNT_ID>"));
    assert_eq!(event.id.as_deref(), Some("e4ee1906d01a35efe8bd8303ce0a734e"));
    assert_eq!(event.action, "is.load-balancer.load-balancer.listener.create");
    assert_eq!(event.outcome, Outcome::Success);
    assert_eq!(acta_cadf::format_time(event.event_time), "2019-05-30T18:42:48.960000000Z");
    assert_eq!(event.value["initiator"]["id"], "<USER-ID>");
    assert_eq!(event.value["initiator"]["host"]["agent"], "python-requests/2.19.1");
    assert_eq!(
        event.value["target"]["id"],
        "crn:v1:staging:public:is:eu-gb:a/<ACCOUNT_ID>::load-balancer:4633518f-8aac-48a1-a694-d15ee6bd70e3"
    );
    assert_eq!(event.value["reason"]["reasonCode"], 201);
    assert_eq!(original(event), ("ibm", std::str::from_utf8(body.trim_ascii()).expect("utf-8")));
}

#[test]
fn the_reconstructed_ibm_record_gets_its_log_source_crn() {
    let events = accepted(adapt(&sample("ibm/record.json"), SourceFormat::Ibm));
    let crn = events[0].crn.as_ref().expect("the CRN is parsed");
    assert_eq!(crn.service, "kms");
    assert_eq!(crn.location, "us-south");
    assert_eq!(events[0].action, "kms.secrets.create");
}

/// Open Liberty's documented records are from a server at EDT (-04:00).
fn edt() -> AdaptOptions {
    AdaptOptions { utc_offset: Some(String::from("-04:00")) }
}

#[test]
fn liberty_records_take_the_action_from_event_name_and_the_given_offset() {
    let body = sample("liberty/security-authn.json");
    let events = accepted(adapt_with(&body, SourceFormat::Liberty, &edt()));
    let authn = &events[0];
    assert_eq!(
        authn.id.as_deref(),
        Some(
            "liberty:websphere:_sage.xyz.com:_opt_ol_wlp_usr_:scim.custom.repository.audit:2018-07-24_13:03:28.652_EDT:6"
        )
    );
    assert_eq!(authn.action, "SECURITY_AUTHN");
    assert_eq!(authn.outcome, Outcome::Success);
    // "2018-07-24 13:03:28.652 EDT": the zone abbreviation is dropped for the given -04:00.
    assert_eq!(acta_cadf::format_time(authn.event_time), "2018-07-24T17:03:28.652000000Z");
    assert_eq!(authn.value["initiator"]["host"]["address"], "127.0.0.1");
    assert_eq!(authn.value["observer"]["name"], "SecurityService");
    assert_eq!(authn.value["target"]["name"], "/basicauth/ProgrammaticAPIServlet");
    assert_eq!(original(authn), ("liberty", std::str::from_utf8(body.trim_ascii()).expect("utf-8")));
}

#[test]
fn a_liberty_failed_login_and_an_authorization_without_a_zone_map() {
    let body = sample("liberty/security-api-authn-failure.json");
    let failed = &accepted(adapt_with(&body, SourceFormat::Liberty, &edt()))[0];
    assert_eq!(failed.action, "SECURITY_API_AUTHN");
    assert_eq!(failed.outcome, Outcome::Failure);
    assert_eq!(failed.value["reason"]["reasonCode"], "401");
    assert_eq!(failed.value["target"]["credential"]["token"], "user2");
    assert_eq!(acta_cadf::format_time(failed.event_time), "2018-07-24T17:03:24.142000000Z");
    assert_eq!(original(failed).1.as_bytes(), body.trim_ascii());

    let body = sample("liberty/security-authz-web.json");
    let authz = &accepted(adapt_with(&body, SourceFormat::Liberty, &edt()))[0];
    assert_eq!(authz.action, "SECURITY_AUTHZ");
    assert_eq!(authz.outcome, Outcome::Success);
    // "2018-07-16 10:37:56.259", no zone at all.
    assert_eq!(acta_cadf::format_time(authz.event_time), "2018-07-16T14:37:56.259000000Z");
    assert_eq!(authz.value["target"]["role"]["names"], "[AllAuthenticated]");
    assert_eq!(original(authz).1.as_bytes(), body.trim_ascii());
}

#[test]
fn a_liberty_json_logging_record_drops_its_ibm_audit_prefix() {
    // The JSON logging layout: every audit member prefixed `ibm_audit_` and dotted; its time has an offset, so
    // no utc_offset is needed.
    let body = sample("liberty/json-logging-security-api-authn.json");
    let events = accepted(adapt(&body, SourceFormat::Liberty));
    let event = &events[0];
    assert_eq!(event.action, "SECURITY_API_AUTHN");
    assert_eq!(event.outcome, Outcome::Failure);
    assert_eq!(acta_cadf::format_time(event.event_time), "2018-07-24T21:03:24.142000000Z");
    assert_eq!(event.value["initiator"]["host"]["address"], "127.0.0.1");
    assert_eq!(event.value["observer"]["name"], "SecurityService");
    assert_eq!(event.value["reason"]["reasonCode"], "401");
    assert_eq!(event.value["target"]["credential"]["token"], "user2");
    assert_eq!(event.value["type"], "liberty_audit");
    assert!(event.id.as_deref().is_some_and(|id| id.starts_with("liberty:websphere:") && id.ends_with(":2")));
    assert_eq!(original(event), ("liberty", std::str::from_utf8(body.trim_ascii()).expect("utf-8")));
}

#[test]
fn a_liberty_json_logging_record_without_its_time_names_the_prefixed_member() {
    let body = br#"{"type": "liberty_audit", "ibm_audit_eventName": "SECURITY_AUTHN", "ibm_audit_outcome": "success"}"#;
    let results = adapt(body, SourceFormat::Liberty);
    let problems = rejected(&results[0]);
    assert_eq!(problems[0].pointer, "/ibm_audit_eventTime");
    assert!(problems[0].message.contains("`ibm_audit_eventTime`"), "{}", problems[0].message);
}

#[test]
fn a_liberty_local_time_without_utc_offset_is_rejected_asking_for_it() {
    let results = adapt(&sample("liberty/security-authn.json"), SourceFormat::Liberty);
    let problems = rejected(&results[0]);
    assert_eq!(problems[0].pointer, "/eventTime");
    assert!(problems[0].message.contains("utc_offset"), "{}", problems[0].message);
}

#[test]
fn kubernetes_events_from_falcos_test_data_map_verb_resource_and_stage() {
    let body = sample("kubernetes/falco-anonymous-creates-namespace-foo.json");
    let events = accepted(adapt(&body, SourceFormat::Kubernetes));
    let created = &events[0];
    assert_eq!(created.id.as_deref(), Some("kubernetes:841d3e6d-90d2-43df-8da4-684738bee3d5:ResponseComplete"));
    assert_eq!(created.action, "kubernetes.namespaces.create");
    assert_eq!(created.outcome, Outcome::Success);
    assert_eq!(created.value["eventTime"], "2018-10-25T13:58:49.736141Z");
    assert_eq!(created.value["initiator"]["id"], "system:anonymous");
    assert_eq!(created.value["initiator"]["host"]["address"], "192.168.99.1");
    // A namespace is not in a namespace: the target is `<resource>/<name>`.
    assert_eq!(created.value["target"]["id"], "namespaces/foo");
    assert_eq!(created.value["reason"]["reasonCode"], "201");
    assert_eq!(original(created), ("kubernetes", std::str::from_utf8(body.trim_ascii()).expect("utf-8")));

    let body = sample("kubernetes/falco-exec-pod.json");
    let events = accepted(adapt(&body, SourceFormat::Kubernetes));
    let exec = &events[0];
    assert_eq!(exec.id.as_deref(), Some("kubernetes:ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6:ResponseStarted"));
    assert_eq!(exec.action, "kubernetes.pods.exec.create");
    // ResponseStarted (the 101 of an exec session): the request is still under way.
    assert_eq!(exec.outcome, Outcome::Pending);
    assert_eq!(exec.value["eventTime"], "2018-10-26T13:38:34.902914Z");
    assert_eq!(exec.value["initiator"]["name"], "minikube-user");
    assert_eq!(exec.value["target"]["id"], "default/pods/nginx-deployment-7998647bdf-phvq7");
    assert_eq!(original(exec).1.as_bytes(), body.trim_ascii());
}

#[test]
fn gcp_entries_from_googles_test_data_map_method_principal_and_resource() {
    let body = sample("gcp/pubsub-create-topic.json");
    let events = accepted(adapt(&body, SourceFormat::Gcp));
    let created = &events[0];
    assert_eq!(
        created.id.as_deref(),
        Some("gcp:projects_test-project_logs_cloudaudit.googleapis.com_2Factivity:9frck8cf9j")
    );
    assert_eq!(created.action, "gcp.google.pubsub.v1.Publisher.CreateTopic");
    assert_eq!(created.outcome, Outcome::Success);
    assert_eq!(created.value["eventTime"], "2020-06-30T16:14:47.593398572Z");
    assert_eq!(created.value["initiator"]["id"], "robot@test-project.iam.gserviceaccount.com");
    assert_eq!(created.value["initiator"]["host"]["address"], "192.168.0.1");
    assert_eq!(created.value["initiator"]["host"]["agent"], "google-cloud-sdk");
    assert_eq!(created.value["target"]["id"], "projects/test-project/topics/test-auditlogs-source");
    assert_eq!(created.value["target"]["typeURI"], "pubsub_topic");
    assert_eq!(created.value["observer"]["id"], "pubsub.googleapis.com");
    assert_eq!(created.value["severity"], "NOTICE");
    assert_eq!(original(created), ("gcp", std::str::from_utf8(body.trim_ascii()).expect("utf-8")));

    let body = sample("gcp/monitoring-create-time-series.json");
    let events = accepted(adapt(&body, SourceFormat::Gcp));
    let written = &events[0];
    assert_eq!(written.action, "gcp.google.monitoring.v3.MetricService.CreateTimeSeries");
    assert_eq!(written.outcome, Outcome::Success);
    assert_eq!(written.value["initiator"]["host"]["address"], "2620:15c:0:200:1a75:e914:115b:e970");
    assert_eq!(written.value["target"]["id"], "projects/test-project");
    assert_eq!(written.value["target"]["typeURI"], "audited_resource");
    assert_eq!(acta_cadf::format_time(written.event_time), "2021-11-25T21:56:00.276607000Z");
    assert_eq!(original(written).1.as_bytes(), body.trim_ascii());
}

#[test]
fn a_cloudtrail_record_without_event_name_names_the_member_and_the_format() {
    let body =
        br#"{"Records": [{"eventID": "e1", "eventTime": "2024-01-01T00:00:00Z", "eventSource": "s3.amazonaws.com",
        "userIdentity": {"arn": "arn:aws:iam::1:user/x"}}]}"#;
    let results = adapt(body, SourceFormat::CloudTrail);
    let problems = rejected(&results[0]);
    assert_eq!(problems[0].pointer, "/eventName");
    assert!(problems[0].message.contains("AWS CloudTrail record lacks `eventName`"), "{}", problems[0].message);
}

#[test]
fn a_kubernetes_event_missing_several_members_reports_each() {
    let body = br#"{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete", "verb": "get"}"#;
    let results = adapt(body, SourceFormat::Kubernetes);
    let pointers: Vec<&str> = rejected(&results[0]).iter().map(|problem| problem.pointer.as_str()).collect();
    assert_eq!(pointers, ["/auditID", "/requestURI", "/user/username"]);
}

#[test]
fn a_gcp_entry_with_another_payload_type_is_named() {
    let body = br#"{"insertId": "1", "logName": "l", "timestamp": "2024-01-01T00:00:00Z",
        "protoPayload": {"@type": "type.googleapis.com/google.appengine.logging.v1.RequestLog"}}"#;
    let results = adapt(body, SourceFormat::Gcp);
    let problems = rejected(&results[0]);
    assert_eq!(problems[0].pointer, "/protoPayload/@type");
}

#[test]
fn a_resent_record_gets_the_same_id() {
    let body = sample("kubernetes/eventlist.json");
    let first = accepted(adapt(&body, SourceFormat::Kubernetes));
    let second = accepted(adapt(&body, SourceFormat::Kubernetes));
    assert_eq!(first[0].id, second[0].id);
    assert_eq!(first[0].raw, second[0].raw);
}

#[test]
fn each_sample_is_recognised_as_its_format() {
    for (path, format) in [
        ("cloudtrail/log-file.json", SourceFormat::CloudTrail),
        ("kubernetes/eventlist.json", SourceFormat::Kubernetes),
        ("gcp/entries.ndjson", SourceFormat::Gcp),
        ("kubernetes/falco-anonymous-creates-namespace-foo.json", SourceFormat::Kubernetes),
        ("gcp/pubsub-create-topic.json", SourceFormat::Gcp),
        ("gcp/monitoring-create-time-series.json", SourceFormat::Gcp),
        ("oslo/notification.json", SourceFormat::Oslo),
        ("oslo/keystone-project-created.json", SourceFormat::Oslo),
        ("oslo/keystone-expired-password.json", SourceFormat::Oslo),
        ("oslo/envelope-v2.json", SourceFormat::Oslo),
        ("ibm/record.json", SourceFormat::Ibm),
        ("ibm/nlb-create-listener.json", SourceFormat::Ibm),
        ("liberty/security-authn.json", SourceFormat::Liberty),
        ("liberty/security-api-authn-failure.json", SourceFormat::Liberty),
        ("liberty/security-authz-web.json", SourceFormat::Liberty),
        ("liberty/json-logging-security-api-authn.json", SourceFormat::Liberty),
    ] {
        assert_eq!(detect(&sample(path)), Some(format), "{path}");
    }
}

#[test]
fn a_cadf_event_is_not_taken_for_another_format() {
    let body = br#"{"action": "create", "outcome": "success", "eventTime": "2024-01-01T00:00:00Z"}"#;
    assert_eq!(detect(body), None);
}
