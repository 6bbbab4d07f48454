//! Realtime API sessions through the engine: admission by the plugin pipeline (governance
//! identifies the virtual key, checks its provider and model permissions and rate limits, and
//! reserves; the logger starts the record), routing and key choice as for chat, then one
//! upstream connection or session POST, and at the end the pipeline's stream-end hooks with the
//! session's summed usage — so a session is logged, priced and settled like a streamed request.
//!
//! Why the `pre` hooks see a chat request: a Realtime session is a conversation with a chat
//! model, and every plugin already knows how to admit one; the request carries the model and no
//! messages (the session's content is not known at connect), so governance reserves the
//! default output allowance and settles to the usage the upstream reported. The context's
//! operation is [`Operation::Realtime`], which the response cache never serves.
//! What is not done: no retries or fallbacks (a WebSocket session cannot be replayed), and the
//! provider's concurrency limiter does not count sessions.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use heimdall_config::Capability;
use heimdall_schema::chat::ChatRequest;
use heimdall_schema::error::{ErrorKind, GatewayError};

use crate::attempt::{AttemptSettings, choose_key};
use crate::context::{AttemptRecord, Operation, RequestContext};
use crate::engine::Gateway;
use crate::plugin::{GatewayRequest, PreOutcome, StreamSummary};
use crate::routing::resolve;
use crate::runtime::Runtime;

pub use heimdall_providers::realtime::RealtimeSocket;

/// A Realtime request that passed the pipeline and routing: its provider, model and key are
/// chosen. End it with [`RealtimeAdmission::finish`] or [`RealtimeAdmission::fail`] so its
/// record is written and its reservation settled.
pub struct RealtimeAdmission {
    ctx: RequestContext,
    runtime: Arc<Runtime>,
    provider: String,
    model: String,
    key_index: Option<usize>,
}

impl Gateway {
    /// Admit a Realtime request for `ctx.requested_model` (its operation must be
    /// [`Operation::Realtime`]). A refusal comes back with the context, to be ended with
    /// [`Gateway::realtime_refused`].
    pub async fn realtime_admit(
        &self,
        mut ctx: RequestContext,
    ) -> Result<RealtimeAdmission, Box<(RequestContext, GatewayError)>> {
        ctx.operation = Operation::Realtime;
        ctx.stream = true;
        let rt = self.runtime();
        match admit(&rt, &mut ctx).await {
            Ok((provider, model, key_index)) => Ok(RealtimeAdmission {
                ctx,
                runtime: rt,
                provider,
                model,
                key_index,
            }),
            Err(e) => Err(Box::new((ctx, e))),
        }
    }

    /// End a refused Realtime request: its `post` hooks see the error (record, settlement).
    pub async fn realtime_refused(&self, mut ctx: RequestContext, e: GatewayError) -> GatewayError {
        let rt = self.runtime();
        let mut result = Err(e);
        if !rt.pipeline.is_empty() {
            rt.pipeline.post(&mut ctx, &mut result).await;
        }
        result
            .err()
            .unwrap_or_else(|| GatewayError::internal("a refusal turned into an answer"))
    }
}

async fn admit(
    rt: &Runtime,
    ctx: &mut RequestContext,
) -> Result<(String, String, Option<usize>), GatewayError> {
    let mut req = GatewayRequest::Chat(ChatRequest {
        model: ctx.requested_model.clone(),
        stream: Some(true),
        ..ChatRequest::default()
    });
    if !rt.pipeline.is_empty() {
        match rt.pipeline.pre(ctx, &mut req).await? {
            PreOutcome::Continue => {}
            PreOutcome::Respond(_) | PreOutcome::Stream(_) => {
                return Err(GatewayError::internal(
                    "a plugin answered a Realtime request itself",
                ));
            }
        }
    }
    let target = resolve(
        &rt.routable,
        &rt.unavailable,
        &rt.config.model_aliases,
        req.model_mut(),
    )?;
    let entry = rt.providers.get(&target.provider).ok_or_else(|| {
        GatewayError::internal(format!(
            "routing chose unknown provider '{}'",
            target.provider
        ))
    })?;
    if !entry.config.kind.serves(Capability::Realtime) {
        return Err(GatewayError::new(
            ErrorKind::InvalidRequest,
            format!(
                "provider '{}' ({}) does not offer the Realtime API",
                target.provider,
                entry.config.kind.as_str()
            ),
        )
        .with_code("unsupported_operation")
        .with_provider(&target.provider));
    }
    let settings = AttemptSettings {
        balancing: &rt.config.load_balancing,
        drop_excess: rt.config.client.drop_excess_requests,
        requested_timeout: None,
    };
    let key_index = choose_key(entry, &target.model, &settings, ctx.allowed_keys.as_ref())?;
    ctx.provider = Some(target.provider.clone());
    ctx.upstream_model = Some(target.model.clone());
    ctx.key_name = key_index
        .and_then(|i| entry.config.keys.get(i))
        .map(|k| k.name.clone());
    Ok((target.provider, target.model, key_index))
}

impl RealtimeAdmission {
    /// The request's context (routing decisions filled in).
    pub fn context(&self) -> &RequestContext {
        &self.ctx
    }

    /// The upstream model name (what a session body's `model` becomes).
    pub fn upstream_model(&self) -> &str {
        &self.model
    }

    /// Open the upstream WebSocket (`OpenAI-Beta` forwarded when the client sent it).
    pub async fn connect(&mut self, beta: Option<&str>) -> Result<RealtimeSocket, GatewayError> {
        let (model, beta) = (self.model.clone(), beta.map(str::to_owned));
        self.call(|p, key| async move {
            p.realtime_connect(key.as_ref(), &model, beta.as_deref())
                .await
        })
        .await
    }

    /// POST a session endpoint (`/realtime/sessions`, `/realtime/client_secrets`) upstream.
    pub async fn post(&mut self, path: &'static str, body: Bytes) -> Result<Bytes, GatewayError> {
        self.call(|p, key| async move { p.realtime_post(key.as_ref(), path, body).await })
            .await
    }

    /// One upstream call with the chosen key: timed, its secrets scrubbed from errors, and
    /// recorded in the request's trail.
    async fn call<T, F, Fut>(&mut self, f: F) -> Result<T, GatewayError>
    where
        F: FnOnce(Arc<dyn heimdall_providers::Provider>, Option<heimdall_config::KeyConfig>) -> Fut,
        Fut: std::future::Future<Output = Result<T, GatewayError>>,
    {
        let entry = self
            .runtime
            .providers
            .get(&self.provider)
            .ok_or_else(|| GatewayError::internal("the admitted provider left the runtime"))?;
        let key = self
            .key_index
            .and_then(|i| entry.config.keys.get(i))
            .cloned();
        let started = Instant::now();
        let attempt_started = started.duration_since(self.ctx.received_at);
        let result = f(Arc::clone(&entry.provider), key).await.map_err(|mut e| {
            entry.redactor.scrub_error(&mut e);
            e
        });
        let elapsed = started.elapsed();
        self.ctx.attempts += 1;
        self.ctx.upstream_time += elapsed;
        self.ctx.trail.push(AttemptRecord {
            provider: self.provider.clone(),
            model: self.model.clone(),
            key_name: self.ctx.key_name.clone(),
            status: result.as_ref().map_or_else(|e| e.status, |_| 200),
            error: result.as_ref().err().map(|e| e.kind.as_str()),
            latency: elapsed,
            started: attempt_started,
            queued: std::time::Duration::ZERO,
            span_id: None,
        });
        result
    }

    /// End a failed request (refused upstream, or never connected): `post` hooks see the
    /// error. Returns the error to answer with.
    pub async fn fail(mut self, e: GatewayError) -> GatewayError {
        let mut result = Err(e);
        if !self.runtime.pipeline.is_empty() {
            self.runtime.pipeline.post(&mut self.ctx, &mut result).await;
        }
        result
            .err()
            .unwrap_or_else(|| GatewayError::internal("a failure turned into an answer"))
    }

    /// End a session that ran (or a session endpoint that answered): the stream-end hooks see
    /// its summary (usage summed from `response.done`, duration, output, how it ended).
    pub fn finish(self, summary: &StreamSummary) {
        if !self.runtime.pipeline.is_empty() {
            self.runtime.pipeline.on_stream_end(&self.ctx, summary);
        }
    }
}
