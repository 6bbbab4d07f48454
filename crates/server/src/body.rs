//! Reading and decoding request bodies, with errors that name the offending field.
//!
//! Why not axum's `Json` extractor: its rejections are plain text, and a client of an
//! OpenAI-compatible API expects `{"error": {...}}` with `param` pointing at the bad field;
//! an oversized body must answer 413 in that shape too.

use axum::extract::rejection::BytesRejection;
use heimdall_schema::error::{ErrorKind, GatewayError};

/// Turn a body-read failure into a typed error (413 for the size limit).
pub fn body_error(rejection: BytesRejection, limit: usize) -> GatewayError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!(
                "request body is larger than the limit of {} bytes ({} MB)",
                limit,
                limit / (1024 * 1024)
            ),
        )
    } else {
        GatewayError::invalid_request(
            format!("could not read request body: {}", rejection.body_text()),
            None,
        )
    }
}

pub use heimdall_dialects::json::decode_json;
