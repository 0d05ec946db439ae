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
            acta_store::StoreError::Log(acta_store::LogError::Poisoned) => {
                let mut api = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_failed",
                    "the event log had a write failure whose effect on disk is unknown and accepts no more events until the server is restarted (see /healthz)",
                );
                api.retry_after = Some(30);
                api
            }
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
            other if other.is_no_space() => storage_full(format!(
                "the metadata database cannot grow: {other}; nothing was changed, and changes are accepted again once space is freed"
            )),
            other => ApiError::internal(other),
        }
    }
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
            Err(rejection) => Err(ApiError::new(rejection.status(), "invalid_body", rejection.body_text())),
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
