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

/// The console's page, which `GET /` answers to browsers (`http/bulk.rs` `root` decides).
pub(crate) fn index(headers: &HeaderMap) -> Response {
    serve("index.html", headers)
}

/// The users' page of the search language, carried in the binary so that the console's "?" shows the page of
/// the parser it was built with (a test of `acta-query` holds the page's list of errors to the parser's).
const QUERY_HELP: &str = include_str!("../../../../docs/query.md");

/// `GET /console/help/query`: `docs/query.md` as a page, opened by the "?" beside the search bar.
pub(crate) async fn query_help() -> Response {
    let mut response = Body::from(help_page("The Acta search language", QUERY_HELP)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

/// Markdown as simple HTML: `#`, `##` and `###` lines become headings with anchors (`#errors`), tables become
/// tables (code spans in them `<code>`), everything else stays preformatted text. All text is escaped. No markdown
/// library and no script: the page only needs to be readable and linkable, within the console's CSP.
fn help_page(title: &str, markdown: &str) -> String {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <link rel=\"icon\" href=\"/console/icon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/console/console.css\">\n<link rel=\"stylesheet\" href=\"/console/help.css\">\n\
         </head>\n<body>\n<main class=\"help-page\">\n<p><a href=\"/\">Acta console</a></p>\n",
        escape_html(title)
    );
    let mut block: Vec<&str> = Vec::new();
    let mut table: Vec<&str> = Vec::new();
    for line in markdown.lines() {
        if line.starts_with('|') {
            push_preformatted(&mut html, &block);
            block.clear();
            table.push(line);
            continue;
        }
        push_table(&mut html, &table);
        table.clear();
        let level = line.chars().take_while(|&c| c == '#').count();
        match line.get(level..).and_then(|rest| rest.strip_prefix(' ')) {
            Some(text) if (1..=3).contains(&level) => {
                push_preformatted(&mut html, &block);
                block.clear();
                let text = text.trim();
                html.push_str(&format!("<h{level} id=\"{}\">{}</h{level}>\n", anchor(text), escape_html(text)));
            }
            _ => block.push(line),
        }
    }
    push_table(&mut html, &table);
    push_preformatted(&mut html, &block);
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

/// The lines between two headings as one `<pre>`, without the blank lines around them.
fn push_preformatted(html: &mut String, lines: &[&str]) {
    let first = lines.iter().position(|line| !line.trim().is_empty());
    let last = lines.iter().rposition(|line| !line.trim().is_empty());
    if let (Some(first), Some(last)) = (first, last) {
        html.push_str("<pre>");
        html.push_str(&escape_html(&lines[first..=last].join("\n")));
        html.push_str("</pre>\n");
    }
}

/// The rows of a markdown table: the first is the header, a row of dashes after it is skipped.
fn push_table(html: &mut String, rows: &[&str]) {
    let Some((header, body)) = rows.split_first() else {
        return;
    };
    let body = match body.split_first() {
        Some((dashes, rest)) if dashes.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) => rest,
        _ => body,
    };
    html.push_str("<table>\n<thead><tr>");
    for cell in table_cells(header) {
        html.push_str(&format!("<th scope=\"col\">{}</th>", inline_code(&cell)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for row in body {
        html.push_str("<tr>");
        for cell in table_cells(row) {
            html.push_str(&format!("<td>{}</td>", inline_code(&cell)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
}

/// The cells of a table row; `\|` is a `|` inside a cell.
fn table_cells(row: &str) -> Vec<String> {
    let row = row.trim().trim_start_matches('|');
    let row = row.strip_suffix('|').unwrap_or(row);
    let mut cells = vec![String::new()];
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(cell) = cells.last_mut() {
                    cell.push('|');
                }
            }
            '|' => cells.push(String::new()),
            _ => {
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    cells.iter().map(|cell| cell.trim().to_string()).collect()
}

/// Escaped text with its `code spans` as `<code>`.
fn inline_code(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, piece)| if i % 2 == 1 { format!("<code>{}</code>", escape_html(piece)) } else { escape_html(piece) })
        .collect()
}

/// A heading's anchor: its letters and digits, lowercased, words joined by `-` (`Coming from Kibana, Lucene or
/// LogDNA` is `coming-from-kibana-lucene-or-logdna`).
fn anchor(text: &str) -> String {
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).map(str::to_lowercase).collect();
    words.join("-")
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
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
    fn the_query_help_has_the_docs_headings_as_anchored_headings_and_escaped_text() {
        let page = help_page("Help", "# Title\n\nText <b>&\n## Coming from Kibana, Lucene or LogDNA\n`a` \"b\"\n");
        assert!(page.contains("<h1 id=\"title\">Title</h1>"), "{page}");
        assert!(page.contains("<pre>Text &lt;b&gt;&amp;</pre>"), "{page}");
        assert!(
            page.contains("<h2 id=\"coming-from-kibana-lucene-or-logdna\">Coming from Kibana, Lucene or LogDNA</h2>")
        );
        assert!(page.contains("<pre>`a` &quot;b&quot;</pre>"), "{page}");
        assert!(!page.contains("<script"), "{page}");
    }

    #[test]
    fn the_query_help_draws_tables_with_code_and_escaped_bars() {
        let page = help_page("Help", "Text\n| query | means |\n|---|---|\n| `a \\|\\| b` | either <one> |\nMore\n");
        assert!(page.contains("<pre>Text</pre>\n<table>"), "{page}");
        assert!(
            page.contains("<thead><tr><th scope=\"col\">query</th><th scope=\"col\">means</th></tr></thead>"),
            "{page}"
        );
        assert!(page.contains("<tr><td><code>a || b</code></td><td>either &lt;one&gt;</td></tr>"), "{page}");
        assert!(!page.contains("---"), "{page}");
        assert!(page.contains("</table>\n<pre>More</pre>"), "{page}");
    }

    #[test]
    fn the_query_help_is_the_search_language_page() {
        let page = help_page("The Acta search language", QUERY_HELP);
        assert!(page.contains("<h2 id=\"errors\">Errors</h2>"), "{page}");
        assert!(page.contains("expected &#39;)&#39; to close the group opened at column N"), "{page}");
        assert!(page.contains("<td><code>action:(delete OR create)</code></td>"), "{page}");
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
