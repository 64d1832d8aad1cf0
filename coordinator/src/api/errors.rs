//! AWS-shaped API errors: HTTP 400 with `{"__type": "<Name>", "message": "..."}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// An error as the Step Functions API names it.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ApiError {
    /// The AWS error name (`__type`).
    pub name: &'static str,
    /// The message.
    pub message: String,
    /// HTTP status (400 for client errors).
    pub status: StatusCode,
    /// Extra fields (e.g. `reason` of a ValidationException).
    pub extra: Option<(&'static str, String)>,
}

impl ApiError {
    /// A 400 error called `name`.
    pub fn new(name: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { name, message: message.into(), status: StatusCode::BAD_REQUEST, extra: None }
    }

    /// A ValidationException with a reason.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationException", message)
    }

    /// A required parameter is missing.
    pub fn missing(field: &str) -> ApiError {
        ApiError {
            extra: Some(("reason", "MISSING_REQUIRED_PARAMETER".into())),
            ..ApiError::validation(format!(
                "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
            ))
        }
    }

    /// An invalid ARN.
    pub fn invalid_arn(arn: &str) -> ApiError {
        // AWS says why when the text is no ARN at all.
        if !arn.starts_with("arn:") {
            return ApiError::new("InvalidArn", format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"));
        }
        ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store error in the API");
        ApiError {
            name: "ServiceUnavailable",
            message: format!("The service cannot reach its store: {e}"),
            status: StatusCode::SERVICE_UNAVAILABLE,
            extra: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"__type": self.name, "message": self.message});
        if let Some((k, v)) = self.extra {
            body[k] = json!(v);
        }
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(super::AMZ_JSON));
        if let Ok(v) = HeaderValue::from_str(self.name) {
            resp.headers_mut().insert("x-amzn-ErrorType", v);
        }
        resp
    }
}
