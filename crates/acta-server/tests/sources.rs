//! `POST /v1/events?format=`: records of other audit formats, adapted to CADF, through HTTP and then found by
//! searches on the mapped fields; and a body of such a format sent as CADF, rejected with a message that says
//! where to send it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{As, TestServer};
use serde_json::Value;

fn sample(path: &str) -> String {
    let full = format!("{}/../acta-cadf/tests/samples/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{full}: {error}"))
}

/// Sends a sample file as its format and returns the answer.
async fn send(key: &As<'_>, format_query: &str, path: &str) -> (u16, Value) {
    key.send_raw(&format!("/v1/events?{format_query}"), sample(path), "application/json").await
}

fn statuses(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .map(|results| results.iter().map(|result| result["status"].as_str().unwrap_or("?").to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_format_is_stored_and_found_by_its_mapped_fields() {
    let server = TestServer::start().await;
    let admin = server.admin();
    // The IBM sample's logSourceCRN names this account, and an event goes to the account its CRN names.
    let ibm_account = common::account_with_manager(&server, "1234567890abcdef1234567890abcdef").await;
    for (query, path, search) in [
        ("format=cloudtrail", "cloudtrail/log-file.json", "action:cloudtrail.cloudtrail.UpdateTrail outcome:failure"),
        ("format=kubernetes", "kubernetes/eventlist.json", "action:kubernetes.secrets.get outcome:failure"),
        ("format=gcp", "gcp/entries.ndjson", "action:gcp.storage.buckets.delete outcome:failure"),
        ("format=oslo", "oslo/envelope-v2.json", "action:authenticate outcome:failure"),
        ("format=ibm", "ibm/record.json", "action:kms.secrets.create outcome:success"),
        (
            "format=liberty&utc_offset=-04:00",
            "liberty/security-api-authn-failure.json",
            "action:SECURITY_API_AUTHN outcome:failure",
        ),
    ] {
        let (status, answer) = send(&admin, query, path).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer["rejected"], 0, "{path}: {answer}");
        let searcher = if path.starts_with("ibm/") { &ibm_account } else { &admin };
        let found = searcher.search(search, 1).await;
        assert_eq!(found.len(), 1, "{search}: {found:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_file_gives_duplicates() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let (_, first) = send(&admin, "format=kubernetes", "kubernetes/eventlist.json").await;
    assert_eq!(statuses(&first), ["stored", "stored"], "{first}");
    let (status, again) = send(&admin, "format=kubernetes", "kubernetes/eventlist.json").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(statuses(&again), ["duplicate", "duplicate"], "{again}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_event_carries_the_original_record() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let (_, answer) = send(&admin, "format=cloudtrail", "cloudtrail/log-file.json").await;
    let id = answer["results"][0]["id"].as_str().expect("an id").to_owned();
    assert_eq!(id, "cloudtrail:5dcff7a9-e414-411a-a43e-88d122a0ad4a");
    let stored = admin.event(&id).await;
    let text = stored.to_string();
    assert!(text.contains("original:cloudtrail"), "{stored}");
    assert!(text.contains("DeleteDeliveryChannel"), "{stored}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudtrail_file_sent_as_cadf_is_rejected_naming_the_format() {
    let server = TestServer::start().await;
    let (status, answer) = send(&server.admin(), "", "cloudtrail/log-file.json").await;
    assert_eq!(status, 400, "{answer}");
    let first_message = answer["results"][0]["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        first_message.contains("AWS CloudTrail") && first_message.contains("POST /v1/events?format=cloudtrail"),
        "{answer}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_format_is_refused_naming_the_accepted_ones() {
    let server = TestServer::start().await;
    let (status, answer) = send(&server.admin(), "format=syslog", "cloudtrail/log-file.json").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_format", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("kubernetes, cloudtrail, gcp, oslo, ibm, liberty"), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_webhook_posts_with_a_bearer_key() {
    let server = TestServer::start().await;
    let key = server.admin();
    // What kube-apiserver's webhook backend sends: the EventList as application/json with the kubeconfig's token.
    let (status, answer) = send(&key, "format=kubernetes", "kubernetes/eventlist.json").await;
    assert_eq!((status, answer["accepted"].clone()), (200, serde_json::json!(2)), "{answer}");
    server.stop().await;
}
