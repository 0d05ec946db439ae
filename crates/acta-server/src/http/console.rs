//! The web console's static files (`crates/acta-server/console/`), embedded in the binary with rust-embed, and
//! the security headers of every answer.
//!
//! The console is plain HTML, CSS and JavaScript modules: nothing to build, nothing to install but Rust. In
//! release builds the files are compiled into the binary; in debug builds rust-embed reads them from the source
//! folder at run time, so editing the console needs no rebuild during development.
//!
//! Static files need no key: they hold no data, and the page signs in through `POST /v1/session`.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "console/"]
struct Assets;

/// The Content-Security-Policy of every answer: scripts and styles only from files of this server (no inline
/// script or style attribute can run, so text that slipped into the DOM as HTML still could not execute), no
/// framing (clickjacking), connections only back to this server.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `GET /`: the console's page.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /console/{*path}`: its scripts, styles and icons.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    // rust-embed refuses paths outside its folder too; this keeps odd paths from reaching it at all.
    if path.split('/').any(|segment| segment.is_empty() || segment == "." || segment == ".." || segment.contains('\\'))
    {
        return ApiError::not_found("file").into_response();
    }
    let Some(file) = Assets::get(path) else {
        return ApiError::not_found("file").into_response();
    };
    let hash = file.metadata.sha256_hash();
    let etag = format!("\"{}\"", hash[..16].iter().map(|b| format!("{b:02x}")).collect::<String>());
    // Files keep their names across versions (there is no build step to fingerprint them), so browsers must
    // revalidate every time; the ETag makes that a 304 without a body.
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut response =
        if fresh { StatusCode::NOT_MODIFIED.into_response() } else { Body::from(file.data).into_response() };
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Adds the security headers to every answer, the API's included (an error body must not be sniffed as HTML
/// either); a handler that set one of them keeps its own.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_entry_module_are_embedded() {
        assert!(Assets::get("index.html").is_some());
        assert!(Assets::get("js/app.js").is_some());
    }

    #[test]
    fn paths_outside_the_folder_are_not_found() {
        let headers = HeaderMap::new();
        for path in ["../Cargo.toml", "js/../../Cargo.toml", "/etc/passwd", "js//app.js", "..\\Cargo.toml"] {
            assert_eq!(serve(path, &headers).status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert_eq!(serve("js/app.js", &headers).status(), StatusCode::OK);
    }

    #[test]
    fn a_matching_etag_is_not_modified() {
        let first = serve("index.html", &HeaderMap::new());
        let Some(etag) = first.headers().get(header::ETAG).cloned() else { panic!("no etag") };
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve("index.html", &headers).status(), StatusCode::NOT_MODIFIED);
    }
}
