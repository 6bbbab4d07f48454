//! Sending an Anthropic Messages request as the client wrote it: the body and the answer are
//! `heimdall_dialects::anthropic::native`; the client's dialect headers ride on the request.

use heimdall_schema::native::NativeRequest;

pub use heimdall_dialects::anthropic::native::*;

/// Add the client's dialect headers (`anthropic-beta`) to an upstream request.
pub fn with_headers(
    mut rb: reqwest::RequestBuilder,
    native: Option<&NativeRequest>,
) -> reqwest::RequestBuilder {
    for (name, value) in native.map(|n| n.headers.as_slice()).unwrap_or_default() {
        rb = rb.header(name.as_str(), value.as_str());
    }
    rb
}
