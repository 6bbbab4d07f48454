//! The error shape of the management and log API: `{"error": {message, type, param}}`, plus
//! the field-path `issues` of an invalid configuration.
//!
//! Why one type: every `/api` route fails the same way, so a UI or script reads one shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API failure.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error.type`.
    pub kind: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The parameter at fault.
    pub param: Option<String>,
    /// Field-path issues of an invalid configuration.
    pub issues: Vec<heimdall_config::ConfigIssue>,
}

impl ApiError {
    /// An error with a status, type and message.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            param: None,
            issues: Vec::new(),
        }
    }

    /// 400 `invalid_request_error`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 404 `not_found_error`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found_error", message)
    }

    /// The parameter at fault.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"message": self.message, "type": self.kind, "param": self.param});
        if !self.issues.is_empty() {
            error["issues"] = self
                .issues
                .iter()
                .map(|i| json!({"path": i.path, "message": i.message}))
                .collect();
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<heimdall_control::ChangeError> for ApiError {
    fn from(e: heimdall_control::ChangeError) -> Self {
        use heimdall_control::ChangeError as C;
        match e {
            C::Invalid(err) => {
                let first = err.issues.first().map(|i| i.path.clone());
                let mut a = Self::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_config",
                    format!("invalid configuration: {err}"),
                );
                a.param = first.filter(|p| !p.is_empty());
                a.issues = err.issues;
                a
            }
            C::Refused(m) => Self::new(StatusCode::CONFLICT, "read_only_config", m),
            C::NotFound(m) => Self::not_found(m),
            C::Exists(m) => Self::new(StatusCode::CONFLICT, "already_exists", m),
            C::Conflict(m) => Self::new(StatusCode::CONFLICT, "version_conflict", m),
            C::Store(m) => {
                tracing::error!("config store: {m}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "config_store_unavailable",
                    format!("the config store failed: {m}"),
                )
            }
        }
    }
}

impl From<heimdall_control::auth::AuthError> for ApiError {
    fn from(e: heimdall_control::auth::AuthError) -> Self {
        use heimdall_control::auth::AuthError as A;
        match e {
            A::Invalid(m) => Self::bad_request(m),
            A::WrongCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "wrong user name or password",
            ),
            A::Store(m) => {
                tracing::error!("auth store: {m}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "config_store_unavailable",
                    "the credential store failed",
                )
            }
        }
    }
}
