//! The one error envelope of the API:
//! `{"error": {"type", "code", "message", "param"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequestError,
    AuthenticationError,
    PermissionError,
    IdempotencyError,
    /// A charge was declined.
    CardError,
    RateLimitError,
    ApiError,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// An API error: an HTTP status and the envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error_type: ErrorType, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody { error_type, code: code.to_string(), message: message.into(), param: None },
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.body.param = Some(param.into());
        self
    }

    /// 400: a parameter is invalid.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorType::InvalidRequestError, "parameter_invalid", message)
            .with_param(param)
    }

    /// 400: a required parameter is missing.
    pub fn missing(param: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            "parameter_missing",
            format!("missing required parameter `{param}`"),
        )
        .with_param(param)
    }

    /// 404 for an object id.
    pub fn not_found(param: &str, what: &str, id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequestError,
            "resource_missing",
            format!("no such {what}: '{id}'"),
        )
        .with_param(param)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorType::AuthenticationError, "api_key_invalid", message)
    }

    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, ErrorType::PermissionError, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, ErrorType::InvalidRequestError, code, message)
    }

    /// 503: a dependency (storage, a provider) is unavailable for now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorType::ApiError, "service_unavailable", message)
    }

    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ApiError,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(ErrorEnvelope { error: self.body })).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The one mapping from the service layer's business error onto HTTP.
impl From<bursar_core::Error> for ApiError {
    fn from(e: bursar_core::Error) -> Self {
        use bursar_core::Kind;
        let (status, error_type) = match e.kind {
            Kind::Invalid => (StatusCode::BAD_REQUEST, ErrorType::InvalidRequestError),
            Kind::NotFound => (StatusCode::NOT_FOUND, ErrorType::InvalidRequestError),
            Kind::Conflict => (StatusCode::CONFLICT, ErrorType::InvalidRequestError),
            Kind::Forbidden => (StatusCode::FORBIDDEN, ErrorType::PermissionError),
            Kind::Unauthenticated => (StatusCode::UNAUTHORIZED, ErrorType::AuthenticationError),
            Kind::Declined => (StatusCode::PAYMENT_REQUIRED, ErrorType::CardError),
            Kind::Upstream => (StatusCode::BAD_GATEWAY, ErrorType::ApiError),
            Kind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, ErrorType::ApiError),
            Kind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, ErrorType::RateLimitError),
            Kind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, ErrorType::ApiError),
        };
        ApiError {
            status,
            body: ErrorBody { error_type, code: e.code.into_owned(), message: e.message, param: e.param },
        }
    }
}
