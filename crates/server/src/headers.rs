//! Response metadata headers: which provider and model served the request, attempts, and the
//! request id.
//!
//! Why headers: bodies stay pure to the client's dialect (no `extra_fields` injected into
//! OpenAI bodies), while operators and SDK users can still see routing decisions.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use heimdall_core::RequestContext;

// Names built at compile time: inserting by `&'static str` parses the name on every response,
// which showed in profiles of the request path.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const PROVIDER: HeaderName = HeaderName::from_static("x-heimdall-provider");
const MODEL: HeaderName = HeaderName::from_static("x-heimdall-model");
const ATTEMPTS: HeaderName = HeaderName::from_static("x-heimdall-attempts");
const FALLBACK_INDEX: HeaderName = HeaderName::from_static("x-heimdall-fallback-index");
const RETRIES: HeaderName = HeaderName::from_static("x-heimdall-retries");
const COST: HeaderName = HeaderName::from_static("x-heimdall-cost");
const QUEUE_US: HeaderName = HeaderName::from_static("x-heimdall-queue-us");
const OVERHEAD_US: HeaderName = HeaderName::from_static("x-heimdall-overhead-us");
const CACHE: HeaderName = HeaderName::from_static("x-heimdall-cache");
const CACHE_SIMILARITY: HeaderName = HeaderName::from_static("x-heimdall-cache-similarity");

/// Set `x-request-id` and the `x-heimdall-*` metadata headers from the context.
pub fn apply_meta_headers(headers: &mut HeaderMap, ctx: &RequestContext) {
    put(headers, REQUEST_ID, &ctx.request_id);
    if let Some(p) = &ctx.provider {
        put(headers, PROVIDER, p);
    }
    if let Some(m) = &ctx.upstream_model {
        put(headers, MODEL, m);
    }
    if ctx.attempts > 0 {
        headers.insert(ATTEMPTS, HeaderValue::from(ctx.attempts));
        headers.insert(FALLBACK_INDEX, HeaderValue::from(ctx.fallback_index));
        headers.insert(RETRIES, HeaderValue::from(ctx.retries));
    }
    if let Some(cost) = ctx.cost {
        put(headers, COST, &format!("{cost:.10}"));
    }
    if let Some(c) = ctx.cache {
        headers.insert(CACHE, HeaderValue::from_static(c.as_str()));
        if let heimdall_core::CacheStatus::HitSemantic { similarity } = c {
            put(headers, CACHE_SIMILARITY, &format!("{similarity:.4}"));
        }
    }
    if !ctx.queue_time.is_zero() {
        headers.insert(
            QUEUE_US,
            HeaderValue::from(u64::try_from(ctx.queue_time.as_micros()).unwrap_or(u64::MAX)),
        );
    }
}

/// Set the gateway-overhead header (µs spent in the gateway, upstream waiting excluded).
pub fn apply_overhead_header(headers: &mut HeaderMap, ctx: &RequestContext) {
    headers.insert(
        OVERHEAD_US,
        HeaderValue::from(u64::try_from(ctx.overhead().as_micros()).unwrap_or(u64::MAX)),
    );
}

fn put(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}
