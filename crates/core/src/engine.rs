//! The engine: one request from canonical request to canonical reply — pre hooks, routing, key
//! choice, upstream attempts with retries, post/stream hooks.
//!
//! Why streams are committed late: the first chunk is awaited inside the attempt loop, so an
//! upstream that fails before its first byte is retried like a non-streamed failure and the
//! client never sees a half-started stream. After the first chunk, failures travel in-band.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures::StreamExt;
use heimdall_config::{GatewayConfig, KeyConfig};
use heimdall_providers::Provider;
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse, StreamOptions};
use heimdall_schema::completions::{CompletionChunk, CompletionRequest, CompletionResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::models::Model;
use tokio::sync::OwnedSemaphorePermit;

use crate::context::RequestContext;
use crate::fallback;
use crate::keys::{pick_key, pick_key_index};
use crate::plugin::{GatewayRequest, GatewayResponse, Pipeline, PreOutcome};
use crate::routing::{RouteTarget, resolve};
use crate::runtime::{ProviderEntry, Runtime};
use crate::stream::{BoxChunkStream, ObservedChunk, ObservedStream};

/// The result of a request: a complete reply, or a stream already past its first chunk.
// Built once per request and moved straight to the transport: boxing would add an allocation
// for no gain.
#[allow(clippy::large_enum_variant)]
pub enum Outcome<R, C: ObservedChunk> {
    /// A complete reply (or error), with the final context.
    Done(Box<RequestContext>, Result<R, GatewayError>),
    /// A live stream; its context is inside.
    Stream(ObservedStream<C>),
}

enum UpstreamReply {
    Full(GatewayResponse),
    ChatStream(ChatChunk, BoxChunkStream<ChatChunk>),
    CompletionStream(CompletionChunk, BoxChunkStream<CompletionChunk>),
}

impl UpstreamReply {
    /// Keep the provider slot for as long as the upstream is busy: until the end of a stream.
    fn holding(self, slot: OwnedSemaphorePermit) -> Self {
        fn hold<C: Send + 'static>(
            s: BoxChunkStream<C>,
            slot: OwnedSemaphorePermit,
        ) -> BoxChunkStream<C> {
            Box::pin(s.map(move |item| {
                let _slot = &slot;
                item
            }))
        }
        match self {
            Self::Full(r) => Self::Full(r),
            Self::ChatStream(first, s) => Self::ChatStream(first, hold(s, slot)),
            Self::CompletionStream(first, s) => Self::CompletionStream(first, hold(s, slot)),
        }
    }
}

/// The gateway engine; cheap to share (`Arc`), reloadable.
pub struct Gateway {
    runtime: ArcSwap<Runtime>,
}

impl Gateway {
    /// An engine over `runtime`.
    pub fn new(runtime: Runtime) -> Self {
        Self {
            runtime: ArcSwap::from_pointee(runtime),
        }
    }

    /// Build the runtime from a config and start an engine over it.
    pub fn from_config(config: GatewayConfig, pipeline: Pipeline) -> Self {
        Self::new(Runtime::build(config, pipeline))
    }

    /// The current snapshot.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Swap in a new snapshot atomically; in-flight requests finish on the old one.
    pub fn replace(&self, runtime: Runtime) {
        self.runtime.store(Arc::new(runtime));
    }

    /// A chat completion, streamed or not (as `req.stream` says).
    pub async fn chat(
        &self,
        mut ctx: RequestContext,
        req: ChatRequest,
    ) -> Outcome<ChatResponse, ChatChunk> {
        ctx.stream = req.wants_stream();
        ctx.client_wants_stream_usage = req.client_wants_usage();
        let rt = self.runtime();
        match self.execute(&rt, &mut ctx, GatewayRequest::Chat(req)).await {
            Ok(UpstreamReply::ChatStream(first, rest)) => {
                Outcome::Stream(ObservedStream::new(first, rest, rt.pipeline.clone(), ctx))
            }
            Ok(UpstreamReply::Full(r)) => {
                finish(&rt.pipeline, ctx, Ok(r), |r| match r {
                    GatewayResponse::Chat(c) => Some(c),
                    _ => None,
                })
                .await
            }
            Ok(_) => Outcome::Done(Box::new(ctx), Err(mismatch())),
            Err(e) => finish(&rt.pipeline, ctx, Err(e), |_| None).await,
        }
    }

    /// A text completion, streamed or not.
    pub async fn completion(
        &self,
        mut ctx: RequestContext,
        req: CompletionRequest,
    ) -> Outcome<CompletionResponse, CompletionChunk> {
        ctx.stream = req.stream.unwrap_or(false);
        ctx.client_wants_stream_usage = req
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let rt = self.runtime();
        match self
            .execute(&rt, &mut ctx, GatewayRequest::Completion(req))
            .await
        {
            Ok(UpstreamReply::CompletionStream(first, rest)) => {
                Outcome::Stream(ObservedStream::new(first, rest, rt.pipeline.clone(), ctx))
            }
            Ok(UpstreamReply::Full(r)) => {
                finish(&rt.pipeline, ctx, Ok(r), |r| match r {
                    GatewayResponse::Completion(c) => Some(c),
                    _ => None,
                })
                .await
            }
            Ok(_) => Outcome::Done(Box::new(ctx), Err(mismatch())),
            Err(e) => finish(&rt.pipeline, ctx, Err(e), |_| None).await,
        }
    }

    /// Embeddings.
    pub async fn embeddings(
        &self,
        mut ctx: RequestContext,
        req: EmbeddingRequest,
    ) -> (RequestContext, Result<EmbeddingResponse, GatewayError>) {
        let rt = self.runtime();
        let result = match self
            .execute(&rt, &mut ctx, GatewayRequest::Embedding(req))
            .await
        {
            Ok(UpstreamReply::Full(r)) => Ok(r),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        let result = run_post(&rt.pipeline, &ctx, result)
            .await
            .and_then(|r| match r {
                GatewayResponse::Embedding(e) => Ok(e),
                _ => Err(mismatch()),
            });
        (ctx, result)
    }

    /// Models across servable providers, as `provider/model` ids.
    ///
    /// A provider whose config declares models answers from config (no network); others are
    /// asked upstream, concurrently, each bounded by `timeout`; a failing upstream is skipped
    /// and reported in the second return value.
    pub async fn list_models(&self, timeout: Duration) -> (Vec<Model>, Vec<String>) {
        let rt = self.runtime();
        let tasks = rt.providers.values().map(|entry| {
            let entry = Arc::clone(entry);
            async move { list_provider_models(&entry, timeout).await }
        });
        let mut models = Vec::new();
        let mut errors = Vec::new();
        for result in futures::future::join_all(tasks).await {
            match result {
                Ok(m) => models.extend(m),
                Err(e) => errors.push(e),
            }
        }
        models.sort_by(|a, b| a.id.cmp(&b.id));
        models.dedup_by(|a, b| a.id == b.id);
        (models, errors)
    }

    /// Walk the fallback plan: per target, pre hooks (they see the model being tried), routing,
    /// then attempts with that provider's retry budget; move on only on target failures.
    async fn execute(
        &self,
        rt: &Runtime,
        ctx: &mut RequestContext,
        mut req: GatewayRequest,
    ) -> Result<UpstreamReply, GatewayError> {
        let request_fallbacks = fallback::take_request_fallbacks(extra_of(&mut req))?;
        let plan = fallback::plan(model_of(&mut req), request_fallbacks, &rt.config.fallbacks);
        let mut tried: Vec<(String, String)> = Vec::new();
        let mut done: Vec<RouteTarget> = Vec::new();
        let mut last_error = None;
        for (index, reference) in plan.iter().enumerate() {
            reference.clone_into(model_of(&mut req));
            if !rt.pipeline.is_empty()
                && let PreOutcome::Respond(r) = rt.pipeline.pre(ctx, &mut req).await?
            {
                return Ok(UpstreamReply::Full(r));
            }
            let routed = resolve(
                &rt.routable,
                &rt.unavailable,
                &rt.config.model_aliases,
                model_of(&mut req),
            );
            let target = match routed {
                Ok(t) if done.contains(&t) => continue,
                Ok(t) => t,
                Err(e) if plan.len() > 1 && fallback::should_fall_back(&e) => {
                    tried.push((reference.clone(), e.message.clone()));
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let entry = rt.providers.get(&target.provider).ok_or_else(|| {
                GatewayError::internal(format!(
                    "routing chose unknown provider '{}'",
                    target.provider
                ))
            })?;
            prepare_upstream(&mut req, &target.model, ctx.stream);
            ctx.provider = Some(target.provider.clone());
            ctx.upstream_model = Some(target.model.clone());
            ctx.fallback_index = index;
            let drop_excess = rt.config.client.drop_excess_requests;
            match attempt_with_retries(entry, ctx, &req, drop_excess).await {
                Ok(reply) => return Ok(reply),
                Err(e) if fallback::should_fall_back(&e) => {
                    tracing::debug!(request_id = %ctx.request_id, target = %reference, error = %e, "target failed; trying the next");
                    tried.push((
                        format!("{}/{}", target.provider, target.model),
                        e.message.clone(),
                    ));
                    done.push(target);
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(match last_error {
            Some(e) => fallback::all_failed(&tried, e),
            None => GatewayError::internal("fallback plan was empty"),
        })
    }
}

fn model_of(req: &mut GatewayRequest) -> &mut String {
    match req {
        GatewayRequest::Chat(r) => &mut r.model,
        GatewayRequest::Completion(r) => &mut r.model,
        GatewayRequest::Embedding(r) => &mut r.model,
    }
}

fn extra_of(req: &mut GatewayRequest) -> &mut serde_json::Map<String, serde_json::Value> {
    match req {
        GatewayRequest::Chat(r) => &mut r.extra,
        GatewayRequest::Completion(r) => &mut r.extra,
        GatewayRequest::Embedding(r) => &mut r.extra,
    }
}

/// Rewrite the request for the upstream: its model name, and always ask for stream usage.
fn prepare_upstream(req: &mut GatewayRequest, model: &str, stream: bool) {
    model.clone_into(model_of(req));
    let stream_options = match req {
        GatewayRequest::Chat(r) => &mut r.stream_options,
        GatewayRequest::Completion(r) => &mut r.stream_options,
        GatewayRequest::Embedding(_) => return,
    };
    if stream {
        stream_options
            .get_or_insert_with(StreamOptions::default)
            .include_usage = Some(true);
    }
}

/// Attempts against one target. A 429/401/403 puts the key in cooldown (for `Retry-After`, or
/// `key_cooldown`) and rotates to another key without spending the retry budget; network errors,
/// timeouts and 5xx retry (any usable key) with backoff up to `max_retries`.
async fn attempt_with_retries(
    entry: &ProviderEntry,
    ctx: &mut RequestContext,
    req: &GatewayRequest,
    drop_excess: bool,
) -> Result<UpstreamReply, GatewayError> {
    let network = &entry.config.network;
    let max_retries = network.max_retries;
    let model = ctx.upstream_model.clone().unwrap_or_default();
    let mut retries = 0u32;
    let mut rotations = 0usize;
    let mut rotated_from: Option<GatewayError> = None;
    loop {
        let picked = pick_key_index(&entry.config, &model, rand::random::<f64>(), |i| {
            entry.cooldowns.is_cooling(i)
        });
        let index = match picked {
            Ok(i) => i,
            // No other key left after a rotation: answer with the upstream's own error.
            Err(e) => return Err(rotated_from.take().unwrap_or(e)),
        };
        let key = index.and_then(|i| entry.config.keys.get(i));
        ctx.key_name = key.map(|k| k.name.clone());
        let (slot, queued) = entry
            .limiter
            .acquire(
                &entry.config.name,
                drop_excess,
                network.default_request_timeout,
            )
            .await?;
        ctx.queue_time += queued;
        ctx.attempts += 1;
        let started = Instant::now();
        let result = call_once(entry.provider.as_ref(), key, req, ctx.stream).await;
        ctx.upstream_time += started.elapsed();
        let e = match result {
            Ok(reply) => return Ok(reply.holding(slot)),
            Err(e) => e,
        };
        drop(slot);
        let key_at_fault = matches!(
            e.kind,
            ErrorKind::UpstreamRateLimited | ErrorKind::UpstreamAuth
        );
        if let (true, Some(i)) = (key_at_fault, index) {
            let cooldown = e
                .retry_after_secs
                .map_or(network.key_cooldown, Duration::from_secs);
            entry.cooldowns.cool(i, cooldown);
            if rotations < entry.config.keys.len() {
                rotations += 1;
                tracing::debug!(request_id = %ctx.request_id, key = ctx.key_name.as_deref().unwrap_or(""), ?cooldown, error = %e, "key cooling down; rotating");
                rotated_from = Some(e);
                continue;
            }
        }
        if e.is_retryable() && retries < max_retries {
            retries += 1;
            let delay = backoff(
                retries,
                network.retry_backoff_initial,
                network.retry_backoff_max,
                e.retry_after_secs,
            );
            tracing::debug!(request_id = %ctx.request_id, retry = retries, error = %e, ?delay, "retrying upstream");
            tokio::time::sleep(delay).await;
            continue;
        }
        return Err(e);
    }
}

/// Exponential backoff with jitter in `[d/2, d]`, `d = initial * 2^(attempt-1)` capped at
/// `max`; a `Retry-After` from upstream wins when it is longer (still capped at `max`).
pub fn backoff(
    attempt: u32,
    initial: Duration,
    max: Duration,
    retry_after: Option<u64>,
) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(max);
    let jittered = capped.mul_f64(0.5 + rand::random::<f64>() * 0.5);
    match retry_after {
        Some(secs) => Duration::from_secs(secs).max(jittered).min(max),
        None => jittered,
    }
}

async fn call_once(
    provider: &dyn Provider,
    key: Option<&KeyConfig>,
    req: &GatewayRequest,
    stream: bool,
) -> Result<UpstreamReply, GatewayError> {
    match (req, stream) {
        (GatewayRequest::Chat(r), false) => provider
            .chat(key, r)
            .await
            .map(|c| UpstreamReply::Full(GatewayResponse::Chat(c))),
        (GatewayRequest::Chat(r), true) => {
            let mut s = provider.chat_stream(key, r).await?;
            let first = first_chunk(&mut s, provider.name()).await?;
            Ok(UpstreamReply::ChatStream(first, s))
        }
        (GatewayRequest::Completion(r), false) => provider
            .completion(key, r)
            .await
            .map(|c| UpstreamReply::Full(GatewayResponse::Completion(c))),
        (GatewayRequest::Completion(r), true) => {
            let mut s = provider.completion_stream(key, r).await?;
            let first = first_chunk(&mut s, provider.name()).await?;
            Ok(UpstreamReply::CompletionStream(first, s))
        }
        (GatewayRequest::Embedding(r), _) => provider
            .embeddings(key, r)
            .await
            .map(|e| UpstreamReply::Full(GatewayResponse::Embedding(e))),
    }
}

async fn first_chunk<C>(s: &mut BoxChunkStream<C>, provider: &str) -> Result<C, GatewayError> {
    match s.next().await {
        Some(r) => r,
        None => Err(GatewayError::new(
            ErrorKind::UpstreamProtocol,
            format!("provider '{provider}' ended the stream before sending any chunk"),
        )
        .with_provider(provider)),
    }
}

async fn run_post(
    pipeline: &Pipeline,
    ctx: &RequestContext,
    mut result: Result<GatewayResponse, GatewayError>,
) -> Result<GatewayResponse, GatewayError> {
    if !pipeline.is_empty() {
        pipeline.post(ctx, &mut result).await;
    }
    result
}

async fn finish<R, C: ObservedChunk>(
    pipeline: &Pipeline,
    ctx: RequestContext,
    result: Result<GatewayResponse, GatewayError>,
    unwrap: impl Fn(GatewayResponse) -> Option<R>,
) -> Outcome<R, C> {
    let result = run_post(pipeline, &ctx, result)
        .await
        .and_then(|r| unwrap(r).ok_or_else(mismatch));
    Outcome::Done(Box::new(ctx), result)
}

fn mismatch() -> GatewayError {
    GatewayError::internal("a plugin or provider answered with a response of the wrong operation")
}

async fn list_provider_models(
    entry: &ProviderEntry,
    timeout: Duration,
) -> Result<Vec<Model>, String> {
    let cfg = &entry.config;
    let mut declared: Vec<String> = cfg.models.clone();
    for k in &cfg.keys {
        for m in &k.models {
            if !declared.contains(m) {
                declared.push(m.clone());
            }
        }
    }
    let ids = if declared.is_empty() {
        let key = pick_key(cfg, "", rand::random::<f64>()).map_err(|e| e.message)?;
        let listed = tokio::time::timeout(timeout, entry.provider.list_models(key))
            .await
            .map_err(|_| {
                format!(
                    "provider '{}' did not list models within {timeout:?}",
                    cfg.name
                )
            })?
            .map_err(|e| e.message)?;
        listed.into_iter().map(|m| m.id).collect()
    } else {
        declared
    };
    Ok(ids
        .into_iter()
        .map(|id| Model {
            id: format!("{}/{id}", cfg.name),
            object: "model".to_owned(),
            created: 0,
            owned_by: cfg.name.clone(),
            extra: Default::default(),
        })
        .collect())
}
