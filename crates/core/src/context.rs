//! Per-request state that travels through the pipeline: identity, timing, routing decisions.
//!
//! Why a struct rather than loose arguments: plugins (auth, cache, logging, metrics) all read
//! and annotate the same facts, and the server turns some of them into response headers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The request's dialect-independent operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Chat completions.
    Chat,
    /// Text completions.
    Completion,
    /// Embeddings.
    Embedding,
}

impl Operation {
    /// Lowercase name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Completion => "completion",
            Self::Embedding => "embedding",
        }
    }
}

/// State of one request on its way through the gateway.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Unique id, echoed as `x-request-id`.
    pub request_id: String,
    /// When the gateway received the request.
    pub received_at: Instant,
    /// The operation.
    pub operation: Operation,
    /// Model as the client named it.
    pub requested_model: String,
    /// Provider chosen for the (last) attempt.
    pub provider: Option<String>,
    /// Model name sent upstream on the (last) attempt.
    pub upstream_model: Option<String>,
    /// Name of the provider key used on the (last) attempt (never the key itself).
    pub key_name: Option<String>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Whether the client asked for stream usage (`stream_options.include_usage`).
    pub client_wants_stream_usage: bool,
    /// Attempts made upstream, over all targets (1 = no retry, no fallback).
    pub attempts: u32,
    /// Position in the fallback plan of the target that served (0 = the requested model).
    pub fallback_index: usize,
    /// Time spent waiting on upstream so far (excluded from gateway overhead).
    pub upstream_time: Duration,
    /// Time spent queued for a provider slot.
    pub queue_time: Duration,
    /// Retries after failed attempts, over all targets.
    pub retries: u32,
    /// Retries spent on the current target (each target has its own budget).
    pub retries_on_target: u32,
    /// Keys rotated away from after 429/401/403.
    pub key_rotations: u32,
    /// Request headers plugins may read (lower-case `x-bf-*` names).
    pub headers: BTreeMap<String, String>,
    /// Free-form annotations plugins attach for later hooks.
    pub annotations: BTreeMap<String, String>,
}

impl RequestContext {
    /// A fresh context for an operation on `requested_model`.
    pub fn new(request_id: String, operation: Operation, requested_model: String) -> Self {
        Self {
            request_id,
            received_at: Instant::now(),
            operation,
            requested_model,
            provider: None,
            upstream_model: None,
            key_name: None,
            stream: false,
            client_wants_stream_usage: false,
            attempts: 0,
            fallback_index: 0,
            upstream_time: Duration::ZERO,
            queue_time: Duration::ZERO,
            retries: 0,
            retries_on_target: 0,
            key_rotations: 0,
            headers: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// Time spent inside the gateway itself so far (elapsed minus upstream waiting).
    pub fn overhead(&self) -> Duration {
        self.received_at
            .elapsed()
            .saturating_sub(self.upstream_time)
            .saturating_sub(self.queue_time)
    }
}
