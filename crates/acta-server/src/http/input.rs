//! The checks of names and ids every resource's handlers share, and new ids.

use serde::Deserialize;

use crate::error::ApiError;

/// A new object id: 16 lowercase hex digits.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

/// Ids and names that become paths or CRN parts.
pub(crate) fn check_slug(what: &str, text: &str) -> Result<(), ApiError> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        return Ok(());
    }
    Err(ApiError::bad_request("invalid_field", format!("{what} {text:?} must be 1-64 characters of a-z, 0-9, - and _")))
}

/// Display names: 1-200 characters, no control characters.
pub(crate) fn check_name(what: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.chars().count() > 200 || text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{what} must be 1-200 characters without control characters"),
        ));
    }
    Ok(())
}

/// `?account=`: the account a request acts in (the platform admin's choice; a key's own otherwise).
#[derive(Deserialize)]
pub(crate) struct AccountParam {
    pub(crate) account: Option<String>,
}
