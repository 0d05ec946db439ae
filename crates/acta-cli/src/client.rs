//! The HTTP client side of the CLI: where the server is, which key to use, and API errors as plain text.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use serde_json::Value;

/// Where the server is and how to authenticate: flags, then `ACTA_URL`/`ACTA_API_KEY`, then the config file.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct Connection {
    /// Server URL [default: url in the config file, else http://127.0.0.1:8700].
    #[arg(long, env = "ACTA_URL", global = true)]
    url: Option<String>,
    /// API key.
    #[arg(long = "api-key", env = "ACTA_API_KEY", global = true, hide_env_values = true)]
    api_key: Option<String>,
    /// Config file with `url = ...` and `api_key = ...` lines (default ~/.config/acta/config).
    #[arg(long, env = "ACTA_CONFIG", global = true)]
    config: Option<PathBuf>,
}

/// A client of one server with one key.
pub(crate) struct Client {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Connection {
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        let file = self.read_config()?;
        let (url, source) = match (&self.url, file.iter().find(|(k, _)| k == "url")) {
            (Some(url), _) => (url.clone(), "--url (or ACTA_URL)"),
            (None, Some((_, url))) => (url.clone(), "url in the config file"),
            (None, None) => ("http://127.0.0.1:8700".to_string(), "the default URL"),
        };
        check_scheme(&url, source)?;
        let key = self
            .api_key
            .clone()
            .or_else(|| file.iter().find(|(k, _)| k == "api_key").map(|(_, v)| v.clone()))
            .ok_or_else(|| {
                anyhow!("no API key: pass --api-key, set ACTA_API_KEY, or put api_key in the config file")
            })?;
        Client::new(&url, key, false)
    }

    fn read_config(&self) -> anyhow::Result<Vec<(String, String)>> {
        let explicit = self.config.is_some();
        let path = match &self.config {
            Some(path) => path.clone(),
            None => match std::env::var_os("HOME") {
                Some(home) => PathBuf::from(home).join(".config/acta/config"),
                None => return Ok(Vec::new()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Vec::new()),
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        Ok(text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.trim().to_string(), value.trim().trim_matches('"').to_string()))
            .collect())
    }
}

/// A URL without `http://` or `https://` would reach reqwest as a "builder error"; say what to write instead.
fn check_scheme(url: &str, source: &str) -> anyhow::Result<()> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(());
    }
    match url.split_once("://") {
        Some((scheme, _)) => Err(anyhow!("{source} {url} has the scheme {scheme:?}; use http:// or https://")),
        None => Err(anyhow!("{source} {url} has no scheme; use http://{}", url.trim())),
    }
}

impl Client {
    /// A client of `url` with `key`; `local_only` bypasses any proxy configured in the environment, for a
    /// server this process started on 127.0.0.1.
    pub(crate) fn new(url: &str, key: String, local_only: bool) -> anyhow::Result<Client> {
        let mut builder = reqwest::Client::builder().user_agent(concat!("Acta CLI/", env!("CARGO_PKG_VERSION")));
        if local_only {
            builder = builder.no_proxy();
        }
        let http = builder.build().context("building the HTTP client")?;
        Ok(Client { http, url: url.trim_end_matches('/').to_string(), key })
    }

    /// A client of another server (a node of the same cluster) with the same key.
    pub(crate) fn for_url(&self, url: &str) -> anyhow::Result<Client> {
        check_scheme(url, "--node-url")?;
        Ok(Client { http: self.http.clone(), url: url.trim_end_matches('/').to_string(), key: self.key.clone() })
    }

    /// The server URL, without a trailing slash.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url)).bearer_auth(&self.key)
    }

    pub(crate) fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.patch(format!("{}{path}", self.url)).bearer_auth(&self.key)
    }

    pub(crate) fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.put(format!("{}{path}", self.url)).bearer_auth(&self.key)
    }

    pub(crate) fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(format!("{}{path}", self.url)).bearer_auth(&self.key)
    }

    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.post_as(path, &self.key)
    }

    /// A POST with another key than the client's (`acta bench all --tenants` sends as many accounts).
    pub(crate) fn post_as(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.url)).bearer_auth(key)
    }

    /// Sends a request and returns the JSON answer, or the API's error message.
    pub(crate) async fn json(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = self.send(request).await?;
        response.json().await.context("reading the answer")
    }

    /// Sends a request; a non-success answer becomes an error with the API's message.
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.with_context(|| format!("cannot reach {}", self.url))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        Err(ApiFailure { text: api_error_text(status, &body), column: body["error"]["column"].as_u64() }.into())
    }
}

/// A refusal of the API, as text, and the query column it names when it names one (a query syntax error).
#[derive(Debug)]
pub(crate) struct ApiFailure {
    text: String,
    column: Option<u64>,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl std::error::Error for ApiFailure {}

/// An error about `query` with the query printed and a caret under the column the server named.
pub(crate) fn with_caret(error: anyhow::Error, query: &str) -> anyhow::Error {
    let column = error.downcast_ref::<ApiFailure>().and_then(|failure| failure.column);
    match column {
        Some(column) => {
            let message = error.to_string();
            let detail = message.rsplit_once(" (column").map_or(message.as_str(), |(text, _)| text);
            let detail = detail.split_once(": ").map_or(detail, |(_, text)| text);
            let column = usize::try_from(column).unwrap_or(usize::MAX);
            anyhow!("{message}\n{}", crate::output::caret(query, column, detail))
        }
        None => error,
    }
}

/// `400 query_syntax: expected ... (column 23)`.
pub(crate) fn api_error_text(status: reqwest::StatusCode, body: &Value) -> String {
    let error = &body["error"];
    let message = error["message"].as_str().unwrap_or("no message");
    let code = error["code"].as_str().unwrap_or("error");
    let column = error["column"].as_u64().map(|column| format!(" (column {column})")).unwrap_or_default();
    format!("{} {code}: {message}{column}", status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::check_scheme;

    #[test]
    fn a_url_without_a_scheme_says_what_to_write() {
        let error = check_scheme("localhost:8080", "--url (or ACTA_URL)").err().map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("--url (or ACTA_URL) localhost:8080 has no scheme; use http://localhost:8080")
        );
        assert!(check_scheme("HTTPS://acta.example.com", "--url").is_ok());
        assert!(check_scheme("ftp://acta.example.com", "--url").is_err());
    }
}
