//! The one mapping from domain errors to HTTP statuses and the JSON error body
//! `{"error":{"code","message","details"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Structured details (per-event errors, the query column...).
    pub details: Vec<Value>,
    /// The column of a query error, also given as a member of the error object (QUERY.md).
    pub column: Option<usize>,
    /// Seconds after which to retry (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: Vec::new(), column: None, retry_after: None }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404: also the answer for another account's objects.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 500, logging the cause.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }

    /// A query that does not parse.
    pub fn query(error: &acta_query::QueryError) -> ApiError {
        let mut api = ApiError::bad_request("query_syntax", error.message.clone());
        api.column = Some(error.column);
        api.details = vec![json!({"column": error.column})];
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message, "details": self.details});
        if let (Some(column), Some(object)) = (self.column, error.as_object_mut()) {
            object.insert("column".to_string(), json!(column));
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<acta_store::StoreError> for ApiError {
    fn from(error: acta_store::StoreError) -> ApiError {
        match error {
            acta_store::StoreError::Index(acta_store::IndexError::Deadline { examined }) => deadline(examined),
            acta_store::StoreError::Index(acta_store::IndexError::Pipe(limit)) => {
                ApiError::bad_request("pipe_limit", limit.to_string())
            }
            acta_store::StoreError::Log(acta_store::LogError::Poisoned) => {
                let mut api = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_failed",
                    "the event log had a write failure whose effect on disk is unknown and accepts no more events until the server is restarted (see /healthz)",
                );
                api.retry_after = Some(30);
                api
            }
            // The cluster's log and the metadata are one PostgreSQL: one fault, one answer.
            acta_store::StoreError::Cluster(error) => unavailable(&error),
            error @ (acta_store::StoreError::Log(acta_store::LogError::NoSpace { .. })
            | acta_store::StoreError::LowSpace { .. }) => storage_full(error.to_string()),
            acta_store::StoreError::Meta(error) => ApiError::from(error),
            other => ApiError::internal(other),
        }
    }
}

impl From<acta_store::IngestError> for ApiError {
    fn from(error: acta_store::IngestError) -> ApiError {
        match error {
            acta_store::IngestError::UnknownAccount(_) => ApiError::not_found("account"),
            acta_store::IngestError::Store(error) => ApiError::from(error),
            other @ acta_store::IngestError::OwnEvent { .. } => ApiError::internal(other),
        }
    }
}

impl From<acta_store::IndexError> for ApiError {
    fn from(error: acta_store::IndexError) -> ApiError {
        ApiError::from(acta_store::StoreError::Index(error))
    }
}

impl From<acta_store::MetaError> for ApiError {
    fn from(error: acta_store::MetaError) -> ApiError {
        match error {
            acta_store::MetaError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            other if other.is_unavailable() => unavailable(&other),
            other if other.is_no_space() => storage_full(format!(
                "the metadata database cannot grow: {other}; nothing was changed, and changes are accepted again once space is freed"
            )),
            other => ApiError::internal(other),
        }
    }
}

/// The database (a cluster's PostgreSQL, or the metadata's) could not be reached: nothing was done, the client
/// should send the request again.
fn unavailable(error: &dyn std::fmt::Display) -> ApiError {
    let mut api = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
        format!("the database did not answer ({error}): nothing of the request was done; send it again"),
    );
    api.retry_after = Some(1);
    api
}

/// A write refused for want of space: the client should come back, the server heals by itself.
fn storage_full(message: String) -> ApiError {
    let mut api = ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "storage_full", message);
    api.retry_after = Some(STORAGE_FULL_RETRY_AFTER_SECONDS);
    api
}

/// How long a client is asked to wait after `storage_full`: an operator freeing space takes a while, and the
/// first batch after that is accepted at once.
const STORAGE_FULL_RETRY_AFTER_SECONDS: u64 = 5;

fn deadline(examined: u64) -> ApiError {
    let mut api = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "query_deadline",
        format!(
            "the query did not finish within its deadline after examining {examined} candidate events; narrow the time range or the query"
        ),
    );
    api.details = vec![json!({"examined": examined})];
    api.retry_after = Some(1);
    api
}

/// A JSON body whose rejection (bad JSON, wrong field types, wrong content type) is an [`ApiError`].
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => {
                let status = rejection.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => code_of(status),
                    _ => "invalid_body",
                };
                Err(ApiError::new(status, code, message_of(status, &rejection.body_text(), None)))
            }
        }
    }
}

/// Query parameters whose rejection is an [`ApiError`].
pub struct QueryParams<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for QueryParams<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(ApiError::bad_request("invalid_parameter", rejection.body_text())),
        }
    }
}

/// The code of an error answer that no handler wrote (a body limit, a method the route lacks, a rejection of
/// axum's own extractors).
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        status if status.is_server_error() => "internal",
        _ => "invalid_request",
    }
}

/// A message naming the problem: what the layer that refused said, in words a client can act on.
fn message_of(status: StatusCode, said: &str, allowed: Option<&str>) -> String {
    let said = said.trim();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            let mut message = "the request body is larger than this endpoint accepts".to_string();
            if !said.is_empty() {
                message.push_str(&format!(" ({said})"));
            }
            message
        }
        StatusCode::METHOD_NOT_ALLOWED => match allowed {
            Some(allowed) => format!("this path does not answer this method; it answers {allowed}"),
            // axum adds `Allow` to its own 405 after the router's layers have run: the header is there for the
            // client, but not yet for this message.
            None => "this path does not answer this method; the Allow header lists the methods it answers".to_string(),
        },
        _ if said.is_empty() => status.canonical_reason().unwrap_or("refused").to_lowercase(),
        _ => said.to_string(),
    }
}

/// Longest body of a non-JSON error answer read to make its message: such bodies are one line of text.
const MAX_ERROR_TEXT: usize = 4096;

/// Router layer: every error answer is the JSON error shape, whatever layer produced it. A handler's
/// [`ApiError`] passes unchanged; an answer of axum itself (a body over the limit, a method the route does not
/// have, a malformed path or query) keeps its status and headers and gets the JSON body, with a code from its
/// status and the text axum gave as the message.
pub(crate) async fn json_errors(method: axum::http::Method, response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let said = match axum::body::to_bytes(body, MAX_ERROR_TEXT).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    let allowed = parts.headers.get(header::ALLOW).and_then(|value| value.to_str().ok()).map(str::to_string);
    let mut message = message_of(status, &said, allowed.as_deref());
    if status == StatusCode::METHOD_NOT_ALLOWED {
        message = message.replacen("this method", method.as_str(), 1);
    }
    let api = ApiError::new(status, code_of(status), message).into_response();
    let (api_parts, api_body) = api.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(content_type) = api_parts.headers.get(header::CONTENT_TYPE) {
        parts.headers.insert(header::CONTENT_TYPE, content_type.clone());
    }
    Response::from_parts(parts, api_body)
}
