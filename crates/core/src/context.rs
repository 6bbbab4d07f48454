//! Per-request state that travels through the pipeline: identity, timing, routing decisions.
//!
//! Why a struct rather than loose arguments: plugins (auth, cache, logging, metrics) all read
//! and annotate the same facts, and the server turns some of them into response headers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

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

/// One upstream attempt, for the request log's trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Provider name.
    pub provider: String,
    /// Model sent upstream.
    pub model: String,
    /// Key name (never the key).
    pub key_name: Option<String>,
    /// HTTP status of the attempt's answer (200 when it succeeded).
    pub status: u16,
    /// The failure class, when it failed.
    pub error: Option<&'static str>,
    /// Time waiting on the upstream (to first chunk for streams).
    pub latency: Duration,
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
    /// Wall-clock time the request arrived (for logs; `received_at` is for durations).
    pub started_at: SystemTime,
    /// The API dialect the client spoke (`openai`, `anthropic`, `genai`, `cohere`, `bedrock`).
    pub route: &'static str,
    /// Every upstream attempt, in order.
    pub trail: Vec<AttemptRecord>,
    /// USD the request cost, when a plugin priced it (non-streamed answers).
    pub cost: Option<f64>,
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
            started_at: SystemTime::now(),
            route: "openai",
            trail: Vec::new(),
            cost: None,
        }
    }

    /// The same context for a request that arrived in `route`'s dialect.
    #[must_use]
    pub fn in_route(mut self, route: &'static str) -> Self {
        self.route = route;
        self
    }

    /// Time spent inside the gateway itself so far (elapsed minus upstream waiting).
    pub fn overhead(&self) -> Duration {
        self.received_at
            .elapsed()
            .saturating_sub(self.upstream_time)
            .saturating_sub(self.queue_time)
    }
}
