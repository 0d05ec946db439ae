//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the whole HTTP API, written by hand in
//! `crates/acta-server/openapi.json` and embedded in the binary.
//!
//! Hand-written rather than derived (utoipa): most handlers answer `serde_json::Value` built with `json!`, and the
//! stored types live in `acta-store`, so deriving would mean annotating every handler and mirroring every answer
//! in new types. `tests/openapi.rs` keeps the document true: every route of the router is in it, every operation
//! of it reaches a handler, and real answers validate against its schemas.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// Serves the document without a key: it describes the API and holds no data.
pub(crate) async fn document() -> Response {
    let mut response =
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], DOCUMENT).into_response();
    // It changes only with the binary: caches may keep it for a while.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_document_is_json_of_openapi_3_1() {
        let document: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap_or_default();
        assert_eq!(document["openapi"], "3.1.0");
    }
}
