//! IBM Cloud Resource Names, as found in `logSourceCRN`.

use crate::Crn;

/// Reads the service, location and account out of a CRN.
///
/// `crn:v1:bluemix:public:<service>:<location>:a/<account>:<instance>:<resource-type>:<resource>`: the text
/// must start with `crn:` and name a service (segment 4). Missing trailing segments are fine: the location
/// is then empty and the account `None`. The account is read only from an `a/` scope.
/// Returns `None` for anything else; that is never a reason to reject an event.
pub fn parse_crn(text: &str) -> Option<Crn> {
    let segments: Vec<&str> = text.split(':').collect();
    if segments.first() != Some(&"crn") {
        return None;
    }
    let service = segments.get(4).filter(|service| !service.is_empty())?;
    let location = segments.get(5).copied().unwrap_or_default();
    let account = segments.get(6).and_then(|scope| scope.strip_prefix("a/")).filter(|account| !account.is_empty());
    Some(Crn {
        raw: text.to_owned(),
        service: (*service).to_owned(),
        location: location.to_owned(),
        account: account.map(str::to_owned),
    })
}
