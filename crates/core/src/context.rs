//! Per-request state that travels through the pipeline: identity, timing, routing decisions.
//!
//! Why a struct rather than loose arguments: plugins (auth, cache, logging, metrics) all read
//! and annotate the same facts, and the server turns some of them into response headers.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The credential a client sent (`x-bf-vk`, a bearer token, `x-api-key`, …), for governance to
/// recognise a virtual key by. Never printed: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    value: String,
    virtual_key_header: bool,
}

impl Credential {
    /// A credential from a general-purpose header (it may be a provider key or an API token).
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            virtual_key_header: false,
        }
    }
    /// A credential from `x-bf-vk`: meant as a virtual key, whatever it looks like.
    pub fn virtual_key(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            virtual_key_header: true,
        }
    }
    /// The credential itself (to hash; never to log).
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// Whether it came in `x-bf-vk`.
    pub fn is_virtual_key_header(&self) -> bool {
        self.virtual_key_header
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(***)")
    }
}

/// Per-request state a plugin keeps across its hooks (governance: the request's admission
/// ticket). `Any` so the engine knows nothing of the plugin's types; shared by the clones of
/// the context (the abandon guard's, the stream's), so it settles once.
#[derive(Clone, Default)]
pub struct PluginState(pub Option<Arc<dyn Any + Send + Sync>>);

impl std::fmt::Debug for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "PluginState(set)"
        } else {
            "PluginState(none)"
        })
    }
}

/// What the response cache did for a request (response headers, the log record, metrics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CacheStatus {
    /// Answered from an entry stored under the request's exact key.
    HitExact,
    /// Answered from an entry whose request text embeds within the threshold.
    HitSemantic {
        /// Cosine similarity of the two texts.
        similarity: f32,
    },
    /// Looked up and not found (the answer may be stored).
    Miss,
}

impl CacheStatus {
    /// `hit-exact`, `hit-semantic`, `miss` (the `x-heimdall-cache` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HitExact => "hit-exact",
            Self::HitSemantic { .. } => "hit-semantic",
            Self::Miss => "miss",
        }
    }

    /// Whether the answer came from the cache.
    pub fn is_hit(self) -> bool {
        !matches!(self, Self::Miss)
    }
}

/// Provider key names a request may use, per provider (a virtual key's `key_ids`); providers
/// not listed are unrestricted.
pub type KeyAllowList = Arc<BTreeMap<String, Vec<String>>>;

/// The request's dialect-independent operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Chat completions.
    Chat,
    /// Text completions.
    Completion,
    /// Embeddings.
    Embedding,
    /// Text to speech.
    Speech,
    /// Speech to text.
    Transcription,
    /// Speech to English text.
    Translation,
    /// Image generation.
    ImageGeneration,
    /// Image edit.
    ImageEdit,
    /// Rerank.
    Rerank,
    /// A Realtime API session (a WebSocket, or the creation of a session or client secret).
    Realtime,
}

impl Operation {
    /// Lowercase name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Completion => "completion",
            Self::Embedding => "embedding",
            Self::Speech => "speech",
            Self::Transcription => "transcription",
            Self::Translation => "translation",
            Self::ImageGeneration => "image_generation",
            Self::ImageEdit => "image_edit",
            Self::Rerank => "rerank",
            Self::Realtime => "realtime",
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
    /// When the attempt began, from the request's arrival.
    pub started: Duration,
    /// Time the attempt waited for a provider slot before calling.
    pub queued: Duration,
    /// The trace span id of the upstream call (sent upstream in `traceparent`), when tracing.
    pub span_id: Option<u64>,
}

/// W3C trace identity of a request, when tracing is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// Trace id (the client's, from `traceparent`, or a new one).
    pub trace_id: u128,
    /// The client's span, parent of the gateway's request span.
    pub parent_span_id: Option<u64>,
    /// The gateway's request span.
    pub span_id: u64,
    /// Whether this request's spans are exported.
    pub sampled: bool,
}

impl TraceIds {
    /// Read a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`); invalid → None.
    pub fn parse_traceparent(value: &str) -> Option<(u128, u64, bool)> {
        let mut parts = value.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2 || version == "ff" || trace.len() != 32 || parent.len() != 16 {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok().filter(|t| *t != 0)?;
        let span_id = u64::from_str_radix(parent, 16).ok().filter(|s| *s != 0)?;
        let flags = u8::from_str_radix(flags.get(..2)?, 16).ok()?;
        Some((trace_id, span_id, flags & 1 == 1))
    }

    /// The `traceparent` value naming `span_id` of this trace as the parent.
    pub fn traceparent(&self, span_id: u64) -> String {
        format!(
            "00-{:032x}-{span_id:016x}-{}",
            self.trace_id,
            if self.sampled { "01" } else { "00" }
        )
    }
}

/// State of one request on its way through the gateway.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The gateway's unique id (UUIDv7), echoed as `x-request-id`.
    pub request_id: String,
    /// The client's own `x-request-id`, kept beside ours (clients reuse ids; ours never repeat).
    pub client_request_id: Option<String>,
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
    /// Trace identity, when tracing is on.
    pub trace: Option<TraceIds>,
    /// The client's credential, whichever header carried it.
    pub credential: Option<Credential>,
    /// The governance plugin's state for this request.
    pub governance: PluginState,
    /// Provider keys this request may use (a virtual key's restriction).
    pub allowed_keys: Option<KeyAllowList>,
    /// What the response cache did, when it looked.
    pub cache: Option<CacheStatus>,
    /// The cache plugin's state for this request (its key, its in-flight slot).
    pub cache_state: PluginState,
}

impl RequestContext {
    /// A fresh context for an operation on `requested_model`.
    pub fn new(request_id: String, operation: Operation, requested_model: String) -> Self {
        Self {
            request_id,
            client_request_id: None,
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
            trace: None,
            credential: None,
            governance: PluginState::default(),
            allowed_keys: None,
            cache: None,
            cache_state: PluginState::default(),
        }
    }

    /// The same context for a request that arrived in `route`'s dialect.
    #[must_use]
    pub fn in_route(mut self, route: &'static str) -> Self {
        self.route = route;
        self
    }

    /// Whether the answer came from the response cache (no provider was called: it costs 0).
    pub fn cache_hit(&self) -> bool {
        self.cache.is_some_and(CacheStatus::is_hit)
    }

    /// Time spent inside the gateway itself so far (elapsed minus upstream waiting).
    pub fn overhead(&self) -> Duration {
        self.received_at
            .elapsed()
            .saturating_sub(self.upstream_time)
            .saturating_sub(self.queue_time)
    }
}
