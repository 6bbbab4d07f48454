//! Rendering gateway errors as HTTP responses in the OpenAI dialect.
//!
//! Why at the edge only: the engine's errors carry kind, blame and status as data; only the
//! transport knows which dialect the client speaks. Other dialect renderers (Anthropic,
//! Google) join this module with the drop-in routes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use heimdall_schema::error::GatewayError;

/// A gateway error answered in OpenAI's error shape.
#[derive(Debug)]
pub struct OpenAiError(pub GatewayError);

impl From<GatewayError> for OpenAiError {
    fn from(e: GatewayError) -> Self {
        Self(e)
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.0.to_openai_body())).into_response();
        if let Some(secs) = self.0.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
