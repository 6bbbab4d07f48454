//! Agent mode for a client that asked for a stream: every turn streams from the model, and
//! what the model says reaches the client as it is generated — the final answer token by
//! token — while the tool calls the gateway runs itself are held back, run, and followed by
//! the next turn on the same client stream.
//!
//! Why hold only tool calls and finish reasons: whether a turn ends the loop is known only at
//! its end (when its tool calls are complete), but its text is the model speaking to the user
//! either way. The client sees one stream: one id, one role, the turns' text, then the last
//! turn's tool calls (if the client must run them) and finish reason, and the usage of all
//! turns when it asked for usage. A turn that fails after the stream started ends it with the
//! dialect's error event; a failure of the first turn is an HTTP error, as without agent mode.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use heimdall_cache::assemble::{chat_chunks_from_response, chat_response_from_chunks};
use heimdall_core::{ObservedStream, Outcome, RequestContext};
use heimdall_dialects::client::{ClientDialect, StreamEncoder};
use heimdall_schema::chat::{ChatChunk, ChatRequest, StreamOptions};
use heimdall_schema::error::GatewayError;
use tokio::sync::mpsc;

use crate::headers::apply_meta_headers;
use crate::mcp_agent::{Agent, finish_error, next_context};
use crate::state::AppState;

/// One turn's answer: a live stream, or a whole answer a plugin gave (replayed as chunks).
enum Turn {
    Stream(Box<ObservedStream<ChatChunk>>),
    Whole(Box<RequestContext>, VecDeque<ChatChunk>),
}

impl Turn {
    fn of(
        outcome: Outcome<heimdall_schema::chat::ChatResponse, ChatChunk>,
    ) -> Result<Self, Box<(Box<RequestContext>, GatewayError)>> {
        match outcome {
            Outcome::Stream(s) => Ok(Self::Stream(Box::new(s))),
            Outcome::Done(ctx, Ok(resp)) => {
                Ok(Self::Whole(ctx, chat_chunks_from_response(&resp).into()))
            }
            Outcome::Done(ctx, Err(e)) => Err(Box::new((ctx, e))),
        }
    }

    fn context(&self) -> &RequestContext {
        match self {
            Self::Stream(s) => s.context(),
            Self::Whole(ctx, _) => ctx,
        }
    }

    async fn next(&mut self) -> Option<Result<ChatChunk, GatewayError>> {
        match self {
            Self::Stream(s) => s.next().await,
            Self::Whole(_, chunks) => chunks.pop_front().map(Ok),
        }
    }
}

/// Serve the request as one stream over all its turns; `ctx` is the first turn's context.
pub async fn serve<D: ClientDialect>(
    state: &AppState,
    headers: &HeaderMap,
    route: D::Route,
    mut req: ChatRequest,
    ctx: RequestContext,
    agent: Agent,
) -> Response {
    let wants_usage = req.client_wants_usage();
    // Every turn reports its usage so the turns can be summed; the client sees the sum only if
    // it asked for usage.
    req.stream = Some(true);
    let options = req
        .stream_options
        .get_or_insert_with(StreamOptions::default);
    options.include_usage = Some(true);
    let received = ctx.received_at;
    let first = match Turn::of(state.gateway.chat(ctx, req.clone()).await) {
        Ok(t) => t,
        Err(failed) => return finish_error::<D>(&failed.1, &failed.0, 1),
    };
    let mut response_headers = HeaderMap::new();
    apply_meta_headers(&mut response_headers, first.context());
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let run = Run {
        state: state.clone(),
        headers: headers.clone(),
        encoder: D::encoder(&route),
        agent,
        wants_usage,
        received,
        identity: None,
        tx,
    };
    heimdall_core::task::spawn("mcp-agent-stream", run.drive::<D>(req, first));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.extend(response_headers);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(D::stream_content_type(&route)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The task that runs the turns and writes the client's stream.
struct Run<E> {
    state: AppState,
    headers: HeaderMap,
    encoder: E,
    agent: Agent,
    wants_usage: bool,
    received: Instant,
    /// The first chunk's id, model and creation time, which every chunk sent carries; and
    /// whether the role was sent.
    identity: Option<(String, String, u64, bool)>,
    tx: mpsc::Sender<Bytes>,
}

impl<E: StreamEncoder> Run<E> {
    /// Encode `chunk` as part of the one stream the client sees and send it; false when the
    /// client is gone.
    async fn send(&mut self, mut chunk: ChatChunk) -> bool {
        let (id, model, created, role_sent) = self
            .identity
            .get_or_insert_with(|| (chunk.id.clone(), chunk.model.clone(), chunk.created, false));
        chunk.id.clone_from(id);
        chunk.model.clone_from(model);
        chunk.created = *created;
        for c in &mut chunk.choices {
            if *role_sent {
                c.delta.role = None;
            } else if c.delta.role.is_some() {
                *role_sent = true;
            }
        }
        let mut out = Vec::with_capacity(512);
        self.encoder.chunk(chunk, &mut out);
        out.is_empty() || self.tx.send(out.into()).await.is_ok()
    }

    async fn end(&mut self, failure: Option<&GatewayError>) {
        let mut out = Vec::with_capacity(256);
        match failure {
            Some(e) => self.encoder.fail(e, &mut out),
            None => {
                let elapsed =
                    u64::try_from(self.received.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.encoder.finish(elapsed, &mut out);
            }
        }
        let _ = self.tx.send(out.into()).await;
    }

    async fn drive<D: ClientDialect<Encoder = E>>(mut self, mut req: ChatRequest, mut turn: Turn) {
        loop {
            let mut chunks = Vec::new();
            let mut held = Vec::new();
            loop {
                match turn.next().await {
                    Some(Ok(chunk)) => {
                        chunks.push(chunk.clone());
                        let usage_only = chunk.choices.is_empty();
                        let held_back = chunk
                            .choices
                            .iter()
                            .any(|c| c.delta.tool_calls.is_some() || c.finish_reason.is_some());
                        if held_back {
                            held.push(chunk);
                        } else if !usage_only && !self.send(chunk).await {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(request_id = %turn.context().request_id, error = %e,
                            "agent-mode stream failed after start");
                        return self.end(Some(&e)).await;
                    }
                    None => break,
                }
            }
            let answered = chat_response_from_chunks(&chunks);
            let next = answered
                .as_ref()
                .and_then(|r| self.agent.next_calls(r).map(|calls| (r, calls)));
            let Some((resp, calls)) = next else {
                return self.finish(held).await;
            };
            let turn_ctx = turn.context().clone();
            // The finished turn's stream is let go (its end hooks ran) before the tools run.
            drop(turn);
            self.agent
                .run_round(&self.state, &turn_ctx, resp, calls, &mut req)
                .await;
            let ctx = next_context::<D>(&self.headers, &req);
            turn = match Turn::of(self.state.gateway.chat(ctx, req.clone()).await) {
                Ok(t) => t,
                Err(failed) => return self.end(Some(&failed.1)).await,
            };
        }
    }

    /// The last turn's held chunks (its tool calls for the client, its finish reason), the
    /// summed usage when asked for, and the end of the stream.
    async fn finish(mut self, held: Vec<ChatChunk>) {
        for mut chunk in held {
            chunk.usage = None;
            if !self.send(chunk).await {
                return;
            }
        }
        if self.wants_usage
            && let Some(usage) = self.agent.usage.take()
            && let Some((id, model, created, _)) = self.identity.clone()
        {
            let chunk = ChatChunk {
                id,
                object: "chat.completion.chunk".to_owned(),
                created,
                model,
                usage: Some(usage),
                ..ChatChunk::default()
            };
            if !self.send(chunk).await {
                return;
            }
        }
        self.end(None).await;
    }
}
