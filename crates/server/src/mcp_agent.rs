//! Agent mode: when a model calls only tools its MCP client lists in `tools_to_auto_execute`,
//! the gateway runs them (in parallel, each under the tool timeout), appends the results to the
//! conversation and asks the model again — until it answers without such calls or
//! `max_agent_depth` rounds have run; the client sees only the final answer.
//!
//! Why every step is a request of its own: each model turn goes through the whole engine
//! (routing, retries, governance, cache, logs, cost), so budgets count every turn and each has
//! its log record; the tool calls are logged with the id of the turn that asked for them.
//! The steps run without streaming (a turn's tool calls must be complete before they run);
//! a client that asked for a stream gets the final answer as a stream in its own dialect.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use heimdall_core::{Operation, Outcome, RequestContext};
use heimdall_dialects::client::{ClientDialect, StreamEncoder};
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

/// Whether agent mode applies to a request: some tool it will be offered is auto-executable.
pub fn applies(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(manager) = &state.mcp else {
        return false;
    };
    let tools = manager.tools();
    if !tools.iter().any(|t| t.auto_execute) {
        return false;
    }
    let grant = crate::mcp_api::caller_of(state, headers, "agent").grant;
    let filter = crate::mcp_access::RequestFilter::from_http(headers);
    crate::mcp_access::visible(&tools, &grant, &filter)
        .iter()
        .any(|t| t.auto_execute)
}

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

/// Serve a chat request in agent mode; `ctx` is the first turn's context.
pub async fn serve<D: ClientDialect>(
    state: &AppState,
    headers: &HeaderMap,
    route: D::Route,
    mut req: ChatRequest,
    ctx: RequestContext,
) -> Response {
    let Some(manager) = state.mcp.clone() else {
        return error::<D>(&GatewayError::new(
            ErrorKind::Internal,
            "MCP is not configured",
        ));
    };
    let wants_stream = req.wants_stream();
    let wants_usage = req.client_wants_usage();
    req.stream = Some(false);
    req.stream_options = None;
    // The conversation grows here, in the canonical form; a body kept in the client's own
    // dialect would not carry the tool turns.
    req.native = None;
    let max_rounds = state
        .gateway
        .runtime()
        .config
        .mcp
        .tool_manager_config
        .max_agent_depth;
    let mut caller = crate::mcp_api::caller_of(state, headers, "agent");
    let first_received = ctx.received_at;
    let mut ctx = ctx;
    let mut usage: Option<Usage> = None;
    let mut rounds = 0u32;
    loop {
        let (done, result) = match state.gateway.chat(ctx, req.clone()).await {
            Outcome::Done(c, r) => (c, r),
            Outcome::Stream(s) => {
                // Not reached: every step asks for a whole answer.
                let c = Box::new(s.context().clone());
                (
                    c,
                    Err(GatewayError::new(
                        ErrorKind::Internal,
                        "agent step streamed",
                    )),
                )
            }
        };
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => return finish_error::<D>(&e, &done, rounds + 1),
        };
        add_usage(&mut usage, resp.usage.as_ref());
        let calls = (rounds < max_rounds)
            .then(|| auto_calls(&resp, &manager, &caller.grant))
            .flatten();
        let Some(calls) = calls else {
            if rounds > 0 {
                resp.usage = usage;
            }
            return answer::<D>(
                route,
                resp,
                &done,
                rounds + 1,
                wants_stream,
                wants_usage,
                first_received,
            );
        };
        rounds += 1;
        caller.request_id = Some(done.request_id.clone());
        caller.trace = done.trace;
        let results = futures::future::join_all(calls.iter().map(|c| {
            crate::mcp_calls::run(
                state,
                &caller,
                Some(&c.id),
                &c.function.name,
                &c.function.arguments,
            )
        }))
        .await;
        if let Some(choice) = resp.choices.first() {
            req.messages
                .push(ChatMessage::Assistant(Box::new(AssistantMessage {
                    content: choice.message.content.clone().map(MessageContent::Text),
                    tool_calls: Some(calls.clone()),
                    thinking_blocks: choice.message.thinking_blocks.clone(),
                    ..AssistantMessage::default()
                })));
        }
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
        ctx = new_context(headers, Operation::Chat, &req.model);
        if let Some(name) = D::ROUTE {
            ctx = ctx.in_route(name);
        }
    }
}

fn steps_header(response: &mut Response, steps: u32) {
    response
        .headers_mut()
        .insert(STEPS_HEADER, HeaderValue::from(steps));
}

fn finish_error<D: ClientDialect>(e: &GatewayError, ctx: &RequestContext, steps: u32) -> Response {
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
    stream: bool,
    stream_usage: bool,
    received: std::time::Instant,
) -> Response {
    let elapsed_ms = u64::try_from(received.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut response = if stream {
        let mut encoder = D::encoder(&route);
        let mut out = Vec::with_capacity(1024);
        for mut chunk in heimdall_cache::assemble::chat_chunks_from_response(&resp) {
            if chunk.usage.is_some() && chunk.choices.is_empty() && !stream_usage {
                continue;
            }
            if !stream_usage {
                chunk.usage = None;
            }
            encoder.chunk(chunk, &mut out);
        }
        encoder.finish(elapsed_ms, &mut out);
        let body = futures::stream::once(async move { Ok::<Bytes, Infallible>(out.into()) });
        let mut r = Response::new(Body::from_stream(body));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(D::stream_content_type(&route)),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    } else {
        let mut r = Response::new(Body::from(D::encode(&route, resp, elapsed_ms)));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        *r.status_mut() = StatusCode::OK;
        r
    };
    apply_meta_headers(response.headers_mut(), ctx);
    apply_overhead_header(response.headers_mut(), ctx);
    steps_header(&mut response, steps);
    response
}
