//! Reading `logSourceCRN`.

use acta_cadf::{Crn, parse_crn};

fn crn(service: &str, location: &str, account: Option<&str>, raw: &str) -> Option<Crn> {
    Some(Crn {
        raw: raw.to_owned(),
        service: service.to_owned(),
        location: location.to_owned(),
        account: account.map(str::to_owned),
    })
}

#[test]
fn full_crn_gives_service_location_and_account() {
    let raw = "crn:v1:bluemix:public:kms:us-south:a/0a1b2c:1111-2222:key:3333";
    assert_eq!(parse_crn(raw), crn("kms", "us-south", Some("0a1b2c"), raw));
}

#[test]
fn crn_with_blank_trailing_parts_is_read() {
    let raw = "crn:v1:bluemix:public:iam-groups:global:a/0a1b2c:::";
    assert_eq!(parse_crn(raw), crn("iam-groups", "global", Some("0a1b2c"), raw));
}

#[test]
fn crn_with_blank_location_has_empty_location() {
    let raw = "crn:v1:bluemix:public:iam-am::a/0a1b2c:::";
    assert_eq!(parse_crn(raw), crn("iam-am", "", Some("0a1b2c"), raw));
}

#[test]
fn crn_cut_after_the_service_is_read() {
    assert_eq!(parse_crn("crn:v1:bluemix:public:kms"), crn("kms", "", None, "crn:v1:bluemix:public:kms"));
    assert_eq!(
        parse_crn("crn:v1:bluemix:public:kms:eu-de"),
        crn("kms", "eu-de", None, "crn:v1:bluemix:public:kms:eu-de")
    );
}

#[test]
fn crn_scope_that_is_not_an_account_has_no_account() {
    let raw = "crn:v1:bluemix:public:cf:us-south:s/space-1::app:42";
    assert_eq!(parse_crn(raw).and_then(|crn| crn.account), None);
}

#[test]
fn text_that_is_not_a_crn_is_none() {
    for text in ["", "kms", "urn:v1:bluemix:public:kms:us-south", "crn:v1:bluemix:public::us-south", "crn:v1"] {
        assert_eq!(parse_crn(text), None, "{text}");
    }
}
