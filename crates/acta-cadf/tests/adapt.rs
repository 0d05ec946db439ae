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
    assert_eq!(refused.action, "cloudtrail.ec2.RunInstances");
    assert_eq!(refused.outcome, Outcome::Failure);
    assert_eq!(refused.value["reason"]["reasonCode"], "Client.UnauthorizedOperation");
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

#[test]
fn the_original_record_round_trips_byte_for_byte() {
    let body = sample("ibm/record.json");
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

#[test]
fn an_oslo_notification_keeps_its_cadf_payload_and_records_the_event_type() {
    let events = accepted(adapt(&sample("oslo/notification.json"), SourceFormat::Oslo));
    let event = &events[0];
    assert_eq!(event.id.as_deref(), Some("openstack:0a2b1c6e-5d4f-4e3a-8b9c-7d6e5f4a3b2c"));
    assert_eq!(event.action, "create");
    assert_eq!(event.outcome, Outcome::Pending);
    assert_eq!(event.value["observer"]["name"], "nova-api");
    let notification = event.value["attachments"]
        .as_array()
        .and_then(|attachments| attachments.iter().find(|a| a["name"] == "notification"))
        .expect("notification attachment");
    assert_eq!(notification["content"]["event_type"], "audit.http.request");
}

#[test]
fn an_oslo_v2_envelope_is_unwrapped() {
    let body = sample("oslo/envelope-v2.json");
    let events = accepted(adapt(&body, SourceFormat::Oslo));
    assert_eq!(events[0].action, "authenticate");
    assert_eq!(events[0].outcome, Outcome::Failure);
    assert_eq!(original_record(&events[0].value).map(|(_, text)| text.as_bytes()), Some(body.trim_ascii()));
}

#[test]
fn an_ibm_record_gets_its_log_source_crn() {
    let events = accepted(adapt(&sample("ibm/record.json"), SourceFormat::Ibm));
    let crn = events[0].crn.as_ref().expect("the CRN is parsed");
    assert_eq!(crn.service, "kms");
    assert_eq!(crn.location, "us-south");
    assert_eq!(events[0].action, "kms.secrets.create");
}

#[test]
fn liberty_records_take_the_action_from_event_name_and_the_given_offset() {
    let adapt_options = AdaptOptions { utc_offset: Some(String::from("+02:00")) };
    let events = accepted(adapt_with(&sample("liberty/audit.ndjson"), SourceFormat::Liberty, &adapt_options));
    let [authn, authz] = &events[..] else { panic!("two events") };
    assert_eq!(authn.action, "SECURITY_AUTHN");
    assert_eq!(authn.outcome, Outcome::Success);
    // 14:57:12.435 at +02:00 is 12:57:12.435 UTC.
    assert_eq!(acta_cadf::format_time(authn.event_time), "2024-05-20T12:57:12.435000000Z");
    assert_eq!(authz.action, "SECURITY_AUTHZ");
    assert_eq!(authz.outcome, Outcome::Failure);
    assert_eq!(authz.value["observer"]["name"], "SecurityService");
}

#[test]
fn a_liberty_local_time_without_utc_offset_is_rejected_asking_for_it() {
    let results = adapt(&sample("liberty/audit.ndjson"), SourceFormat::Liberty);
    let problems = rejected(&results[0]);
    assert_eq!(problems[0].pointer, "/eventTime");
    assert!(problems[0].message.contains("utc_offset"), "{}", problems[0].message);
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
        ("oslo/notification.json", SourceFormat::Oslo),
        ("oslo/envelope-v2.json", SourceFormat::Oslo),
        ("ibm/record.json", SourceFormat::Ibm),
        ("liberty/audit.ndjson", SourceFormat::Liberty),
    ] {
        assert_eq!(detect(&sample(path)), Some(format), "{path}");
    }
}

#[test]
fn a_cadf_event_is_not_taken_for_another_format() {
    let body = br#"{"action": "create", "outcome": "success", "eventTime": "2024-01-01T00:00:00Z"}"#;
    assert_eq!(detect(body), None);
}
