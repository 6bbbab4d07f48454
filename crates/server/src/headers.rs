//! Response metadata headers: which provider and model served the request, attempts, and the
//! request id.
//!
//! Why headers: bodies stay pure to the client's dialect (no `extra_fields` injected into
//! OpenAI bodies), while operators and SDK users can still see routing decisions.

use axum::http::{HeaderMap, HeaderValue};
use heimdall_core::RequestContext;

/// Set `x-request-id` and the `x-heimdall-*` metadata headers from the context.
pub fn apply_meta_headers(headers: &mut HeaderMap, ctx: &RequestContext) {
    put(headers, "x-request-id", &ctx.request_id);
    if let Some(p) = &ctx.provider {
        put(headers, "x-heimdall-provider", p);
    }
    if let Some(m) = &ctx.upstream_model {
        put(headers, "x-heimdall-model", m);
    }
    if ctx.attempts > 0 {
        put(headers, "x-heimdall-attempts", &ctx.attempts.to_string());
        put(
            headers,
            "x-heimdall-fallback-index",
            &ctx.fallback_index.to_string(),
        );
        put(headers, "x-heimdall-retries", &ctx.retries.to_string());
    }
    if let Some(cost) = ctx.cost {
        put(headers, "x-heimdall-cost", &format!("{cost:.10}"));
    }
    if !ctx.queue_time.is_zero() {
        put(
            headers,
            "x-heimdall-queue-us",
            &ctx.queue_time.as_micros().to_string(),
        );
    }
}

/// Set the gateway-overhead header (µs spent in the gateway, upstream waiting excluded).
pub fn apply_overhead_header(headers: &mut HeaderMap, ctx: &RequestContext) {
    put(
        headers,
        "x-heimdall-overhead-us",
        &ctx.overhead().as_micros().to_string(),
    );
}

fn put(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}
