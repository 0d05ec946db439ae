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

/// An optional member that may be left out but not given as `null` (`#[serde(default, deserialize_with =
/// "not_null")]`): `null` names nothing, and a request that sends it is refused rather than read as absent.
pub(crate) fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// An integer member, also when written with a zero fraction (`30.0`): JSON Schema's `integer` holds such
/// numbers, and the document promises integers, not a spelling of them.
pub(crate) fn integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(value) = number.as_i64() {
        return Ok(value);
    }
    match number.as_f64() {
        // Within ±2^53 a float with a zero fraction is exactly that integer.
        Some(value) if value.fract() == 0.0 && value.abs() <= 9_007_199_254_740_992.0 => Ok(value as i64),
        _ => Err(serde::de::Error::custom(format!("{number} is not an integer from -2^53 to 2^53"))),
    }
}

/// [`integer`] for a member that may be left out (`#[serde(default, deserialize_with = "optional_integer")]`).
pub(crate) fn optional_integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    integer(deserializer).map(Some)
}
