//! What every handler shares: the application state (engine, body limit, observability) and
//! the request context a request starts with (our own id, the client's id, the `x-bf-*` and
//! trace headers).
//!
//! Why a module of its own: every route module needs these two and nothing else from each
//! other; with them here the route modules import no sibling (no import loop).

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use heimdall_core::{Credential, Gateway, Operation, RequestContext};

/// State shared by all handlers: one `Arc` around the parts, so the clone axum makes for each
/// extractor and layer of every request is one reference count, not one per part (the clones
/// and drops of eleven `Arc`s were ~3% of the CPU per request in the profile).
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    /// The state of `parts`.
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What the handlers share.
pub struct AppParts {
    /// The engine.
    pub gateway: Arc<Gateway>,
    /// Maximum request body size in bytes.
    pub body_limit: usize,
    /// Request logs, metrics, prices.
    pub observability: Arc<heimdall_observe::Observability>,
    /// Per-client request counts for `security.rateLimit` (limits come from the live config).
    pub client_limits: Arc<crate::client_policy::ClientRateLimiter>,
    /// The control plane (configuration versions, auth); `None` when the gateway runs on a
    /// fixed configuration (tests, embedding): management routes then answer 503 and only
    /// loopback clients reach the log routes.
    pub control: Option<Arc<heimdall_control::ControlPlane>>,
    /// Governance (virtual keys, budgets, limits); `None` when not wired (tests, embedding):
    /// the governance routes then answer 503.
    pub governance: Option<Arc<heimdall_governance::Governance>>,
    /// The response cache; `None` when not wired: `/api/cache/*` then answers 503.
    pub cache: Option<Arc<heimdall_cache::ResponseCache>>,
    /// Stored Responses API answers when there is no log database (bounded, in process).
    pub responses: Arc<crate::responses_store::MemoryResponses>,
    /// The MCP servers the gateway is connected to; `None` when not wired: `/api/mcp/*`, the
    /// execute endpoint and `/mcp` then answer 503 and no tools are injected.
    pub mcp: Option<Arc<heimdall_mcp::McpManager>>,
    /// MCP tool-call records when there is no log database (bounded, in process).
    pub tool_logs: Arc<crate::mcp_calls::MemoryToolLogs>,
    /// Whether the process is draining (after SIGTERM): `/ready` then answers 503 so load
    /// balancers stop sending new requests while in-flight ones finish.
    pub lifecycle: Arc<Lifecycle>,
}

/// The process's serving state, shared by the shutdown sequence, `/ready` and the live log
/// stream (which ends when draining starts: an open stream would otherwise hold the graceful
/// shutdown until its grace ran out).
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: tokio_util::sync::CancellationToken,
}

impl Lifecycle {
    /// Start draining: `/ready` answers 503 from now on and live streams end.
    pub fn start_draining(&self) {
        self.draining.cancel();
    }

    /// Whether the process is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Resolves once draining has started (at once if it has).
    pub async fn drained(&self) {
        self.draining.cancelled().await;
    }
}

/// The context of a new request: a fresh time-ordered id, the client's `x-request-id`, and the
/// headers plugins read.
pub fn new_context(headers: &HeaderMap, op: Operation, model: &str) -> RequestContext {
    // Always our own id, time-ordered (v7): the log store's primary keys then grow at one end
    // instead of dirtying a random index page per record (4× the write cost with v4), and a
    // client that reuses its `x-request-id` still gets one record per request.
    let request_id = uuid::Uuid::now_v7().to_string();
    let mut ctx = RequestContext::new(request_id, op, model.to_owned());
    ctx.client_request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned);
    for (name, value) in headers {
        let n = name.as_str();
        // Bifrost's `x-bf-*` request headers and the W3C trace context; the virtual key is a
        // credential and travels apart, never among headers that may be logged.
        if (n.starts_with("x-bf-") || n == "traceparent")
            && n != VK_HEADER
            && let Ok(v) = value.to_str()
        {
            ctx.headers.insert(n.to_owned(), v.to_owned());
        }
    }
    ctx.credential = credential_of(headers);
    ctx
}

/// Bifrost's virtual-key header.
const VK_HEADER: &str = "x-bf-vk";

/// The credential governance identifies the caller by: `x-bf-vk` first (meant as a virtual
/// key), else whatever credential header the client's SDK sends.
pub(crate) fn credential_of(headers: &HeaderMap) -> Option<Credential> {
    if let Some(v) = headers
        .get(VK_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        return Some(Credential::virtual_key(v));
    }
    crate::client_policy::credential(headers)
        .and_then(|c| std::str::from_utf8(c).ok())
        .map(Credential::new)
}

/// How long `/v1/models` waits for each upstream listing.
pub const MODEL_LIST_TIMEOUT: Duration = Duration::from_secs(5);
