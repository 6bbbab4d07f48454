//! The client's own wire format, carried beside the canonical (OpenAI) types.
//!
//! Why: a request that arrives in a provider's own dialect (today: Anthropic Messages through
//! `/anthropic`) and is routed to a provider speaking that same dialect (Anthropic direct,
//! Claude on Vertex AI) must not lose what the canonical model cannot express — `cache_control`
//! on content blocks, `thinking` with its signed blocks, beta features. The canonical request is
//! still built (routing, fallbacks to other dialects, logs and usage use it); the provider of the
//! same dialect sends the original body instead and hands back the upstream's own answer
//! (JSON body, or the SSE frames of a stream) beside the canonical one. None of this is
//! serialised: it never leaks into a body of another dialect.

use std::sync::Arc;

use serde_json::Value;

/// A wire dialect a request can arrive in and a provider can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
    /// OpenAI's Responses API (`POST /v1/responses`), which OpenAI and Azure OpenAI serve.
    OpenAiResponses,
}

/// The original request in its own dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeRequest {
    /// Which dialect `body` is in.
    pub dialect: Dialect,
    /// The body as the client sent it, minus gateway-only fields (`fallbacks`).
    pub body: Arc<Value>,
    /// Dialect headers to forward (e.g. `anthropic-beta`), as name/value pairs.
    pub headers: Vec<(String, String)>,
}

impl NativeRequest {
    /// The native body when it is in `dialect`.
    pub fn body_in(native: Option<&Self>, dialect: Dialect) -> Option<&Self> {
        native.filter(|n| n.dialect == dialect)
    }
}
