//! IBM Cloud ingestion records: `{"payload": {CADF event}, "logSourceCRN": "crn:v1:..."}`.
//!
//! | CADF | from the record |
//! |---|---|
//! | every member | `payload`, unchanged |
//! | `logSourceCRN` | the record's `logSourceCRN`, when the payload has none |

use serde_json::{Map, Value};

use super::Source;
use crate::Problem;

pub(crate) fn adapt(source: &Source<'_>) -> Result<Map<String, Value>, Vec<Problem>> {
    let mut event = source.required_object("/payload").map_err(|problem| vec![problem])?.clone();
    if !event.contains_key("logSourceCRN")
        && let Some(crn) = source.get("/logSourceCRN")
    {
        event.insert("logSourceCRN".into(), crn.clone());
    }
    Ok(event)
}
