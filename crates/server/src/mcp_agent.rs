//! Agent mode: when a model calls only tools its MCP client lists in `tools_to_auto_execute`,
//! the gateway runs them (in parallel, each under the tool timeout), appends the results to the
//! conversation and asks the model again — until it answers without such calls or
//! `max_agent_depth` rounds have run; the client sees one answer.
//!
//! Why every turn is a request of its own: each model turn goes through the whole engine
//! (routing, retries, governance, cache, logs, cost), so budgets count every turn and each has
//! its log record; the tool calls are logged with the id of the turn that asked for them. This
//! module runs the turns of a client that wants a whole answer; `mcp_agent_stream` those of a
//! client that asked for a stream.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use heimdall_core::{Operation, Outcome, RequestContext};
use heimdall_dialects::client::ClientDialect;
use heimdall_mcp::McpManager;
use heimdall_schema::chat::{
    AssistantMessage, ChatMessage, ChatRequest, ChatResponse, MessageContent, ToolCall, ToolMessage,
};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::usage::Usage;
use serde_json::Map;

use crate::chat_route::error;
use crate::headers::{apply_meta_headers, apply_overhead_header};
use crate::mcp_access::KeyGrant;
use crate::state::{AppState, new_context};

/// The response header that says how many model turns an agent-mode answer took.
pub const STEPS_HEADER: &str = "x-heimdall-agent-steps";

/// The tool calls of the answer's first choice when every one is an auto-executable tool the
/// caller may run; `None` when the client must see them (or there are none).
fn auto_calls(
    resp: &ChatResponse,
    manager: &McpManager,
    grant: &KeyGrant,
) -> Option<Vec<ToolCall>> {
    let calls = resp.choices.first()?.message.tool_calls.as_ref()?;
    if calls.is_empty() {
        return None;
    }
    calls
        .iter()
        .all(|c| {
            manager
                .resolve(&c.function.name)
                .is_some_and(|t| t.auto_execute && grant.allows(&t.client, &t.name))
        })
        .then(|| calls.clone())
}

fn add_usage(total: &mut Option<Usage>, step: Option<&Usage>) {
    let Some(u) = step else { return };
    let t = total.get_or_insert_with(Usage::default);
    t.prompt_tokens += u.prompt_tokens;
    t.completion_tokens += u.completion_tokens;
    t.total_tokens += u.total_tokens;
}

/// What every turn of one agent-mode request shares.
pub struct Agent {
    pub(crate) manager: std::sync::Arc<McpManager>,
    pub(crate) caller: crate::mcp_calls::Caller,
    pub(crate) max_rounds: u32,
    /// Tool rounds run so far.
    pub(crate) rounds: u32,
    /// Usage summed over the turns.
    pub(crate) usage: Option<Usage>,
}

impl Agent {
    /// The agent for a request when agent mode applies to it — some tool it will be offered
    /// is auto-executable — else `None` (and `req` is left as it is). `req` is made ready for
    /// turns: the conversation grows here, in the canonical form, so a body kept in the
    /// client's own dialect or bytes (which would not carry the tool turns) is dropped.
    pub fn for_request(
        state: &AppState,
        headers: &HeaderMap,
        req: &mut ChatRequest,
    ) -> Option<Self> {
        let manager = state.mcp.clone()?;
        let tools = manager.tools();
        if !tools.iter().any(|t| t.auto_execute) {
            return None;
        }
        let caller = crate::mcp_api::caller_of(state, headers, "agent");
        let filter = crate::mcp_access::RequestFilter::from_http(headers);
        if !crate::mcp_access::visible(&tools, &caller.grant, &filter)
            .iter()
            .any(|t| t.auto_execute)
        {
            return None;
        }
        req.native = None;
        req.raw = None;
        let max_rounds = state
            .gateway
            .runtime()
            .config
            .mcp
            .tool_manager_config
            .max_agent_depth;
        Some(Self {
            manager,
            caller,
            max_rounds,
            rounds: 0,
            usage: None,
        })
    }

    /// The tool calls to run after a turn that answered `resp`, if the loop goes on.
    pub(crate) fn next_calls(&mut self, resp: &ChatResponse) -> Option<Vec<ToolCall>> {
        add_usage(&mut self.usage, resp.usage.as_ref());
        if self.rounds >= self.max_rounds {
            return None;
        }
        auto_calls(resp, &self.manager, &self.caller.grant)
    }

    /// Run `calls` (made by the turn `turn`) in parallel and append the assistant's message
    /// and the tools' results to the conversation.
    pub(crate) async fn run_round(
        &mut self,
        state: &AppState,
        turn: &RequestContext,
        resp: &ChatResponse,
        calls: Vec<ToolCall>,
        req: &mut ChatRequest,
    ) {
        self.rounds += 1;
        self.caller.request_id = Some(turn.request_id.clone());
        self.caller.trace = turn.trace;
        let caller = &self.caller;
        let results = futures::future::join_all(calls.iter().map(|c| {
            crate::mcp_calls::run(
                state,
                caller,
                Some(&c.id),
                &c.function.name,
                &c.function.arguments,
            )
        }))
        .await;
        let said = resp.choices.first().map(|c| &c.message);
        req.messages
            .push(ChatMessage::Assistant(Box::new(AssistantMessage {
                content: said
                    .and_then(|m| m.content.clone())
                    .map(MessageContent::Text),
                tool_calls: Some(calls.clone()),
                thinking_blocks: said.and_then(|m| m.thinking_blocks.clone()),
                ..AssistantMessage::default()
            })));
        for (call, result) in calls.iter().zip(results) {
            let content = match result {
                Ok(out) if out.is_error => format!("Error: {}", out.text()),
                Ok(out) => out.text(),
                Err(e) => format!("Error: {}", e.message),
            };
            req.messages.push(ChatMessage::Tool(ToolMessage {
                content: MessageContent::Text(content),
                tool_call_id: call.id.clone(),
                extra: Map::new(),
            }));
        }
    }
}

/// A fresh context for the next turn of a request on route `D`.
pub(crate) fn next_context<D: ClientDialect>(
    headers: &HeaderMap,
    req: &ChatRequest,
) -> RequestContext {
    let ctx = new_context(headers, Operation::Chat, &req.model);
    match D::ROUTE {
        Some(name) => ctx.in_route(name),
        None => ctx,
    }
}

/// Serve a chat request in agent mode (`agent` from [`Agent::for_request`]); `ctx` is the first
/// turn's context.
pub async fn serve<D: ClientDialect>(
    state: &AppState,
    headers: &HeaderMap,
    route: D::Route,
    mut req: ChatRequest,
    ctx: RequestContext,
    mut agent: Agent,
) -> Response {
    if req.wants_stream() {
        return crate::mcp_agent_stream::serve::<D>(state, headers, route, req, ctx, agent).await;
    }
    let first_received = ctx.received_at;
    let mut ctx = ctx;
    loop {
        let (done, result) = match state.gateway.chat(ctx, req.clone()).await {
            Outcome::Done(c, r) => (c, r),
            Outcome::Stream(s) => {
                // Not reached: the request asks for a whole answer.
                let c = Box::new(s.context().clone());
                (
                    c,
                    Err(GatewayError::new(
                        ErrorKind::Internal,
                        "agent turn streamed",
                    )),
                )
            }
        };
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => return finish_error::<D>(&e, &done, agent.rounds + 1),
        };
        let Some(calls) = agent.next_calls(&resp) else {
            if agent.rounds > 0 {
                resp.usage = agent.usage;
            }
            return answer::<D>(route, resp, &done, agent.rounds + 1, first_received);
        };
        agent.run_round(state, &done, &resp, calls, &mut req).await;
        ctx = next_context::<D>(headers, &req);
    }
}

pub(crate) fn steps_header(response: &mut Response, steps: u32) {
    response
        .headers_mut()
        .insert(STEPS_HEADER, HeaderValue::from(steps));
}

pub(crate) fn finish_error<D: ClientDialect>(
    e: &GatewayError,
    ctx: &RequestContext,
    steps: u32,
) -> Response {
    let mut response = error::<D>(e);
    apply_meta_headers(response.headers_mut(), ctx);
    steps_header(&mut response, steps);
    response
}

fn answer<D: ClientDialect>(
    route: D::Route,
    resp: ChatResponse,
    ctx: &RequestContext,
    steps: u32,
    received: std::time::Instant,
) -> Response {
    let elapsed_ms = u64::try_from(received.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut response = Response::new(Body::from(D::encode(&route, resp, elapsed_ms)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *response.status_mut() = StatusCode::OK;
    apply_meta_headers(response.headers_mut(), ctx);
    apply_overhead_header(response.headers_mut(), ctx);
    steps_header(&mut response, steps);
    response
}
