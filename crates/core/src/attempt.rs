//! Attempts against one target (a provider and model): key choice by strategy and health, the
//! provider's concurrency slot, deadlines, retries with backoff, key rotation on 429/401/403,
//! and the statistics and circuit breakers the attempts feed.
//!
//! Why streams are committed late: the first chunk is awaited inside the attempt, so an
//! upstream that fails before its first byte is retried (or falls back) like a non-streamed
//! failure and the client never sees a half-started stream. After the first chunk, failures
//! travel in-band, and silence longer than the idle deadline ends the stream with an error.

use heimdall_schema::audio::AudioChunk;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use heimdall_config::{HealthConfig, KeyConfig, LoadBalancingConfig};
use heimdall_providers::Provider;
use heimdall_schema::chat::ChatChunk;
use heimdall_schema::completions::CompletionChunk;
use heimdall_schema::error::{ErrorKind, GatewayError};
use tokio::sync::OwnedSemaphorePermit;

use crate::context::KeyAllowList;
use crate::context::{AttemptRecord, RequestContext};
use crate::deadline::{deadlines, timed_out, with_idle_timeout};
use crate::health::{Breaker, Transition};
use crate::keys::{KeyPicker, select_key};
use crate::plugin::{GatewayRequest, GatewayResponse};
use crate::runtime::ProviderEntry;
use crate::stream::BoxChunkStream;

/// What one successful attempt produced.
pub(crate) enum UpstreamReply {
    Full(GatewayResponse),
    ChatStream(ChatChunk, BoxChunkStream<ChatChunk>),
    CompletionStream(CompletionChunk, BoxChunkStream<CompletionChunk>),
    AudioStream(AudioChunk, BoxChunkStream<AudioChunk>),
}

impl UpstreamReply {
    /// Keep the provider slot for as long as the upstream is busy (until a stream ends), and
    /// bound the silence between chunks.
    /// Mid-stream errors are scrubbed of the provider's secrets like any other upstream error.
    fn guarded(self, slot: OwnedSemaphorePermit, idle: Duration, entry: &ProviderEntry) -> Self {
        fn guard<C: Send + 'static>(
            s: BoxChunkStream<C>,
            slot: OwnedSemaphorePermit,
            idle: Duration,
            entry: &ProviderEntry,
        ) -> BoxChunkStream<C> {
            let s = with_idle_timeout(s, idle, entry.config.name.clone());
            let redactor = Arc::clone(&entry.redactor);
            Box::pin(s.map(move |item| {
                let _slot = &slot;
                item.map_err(|mut e| {
                    redactor.scrub_error(&mut e);
                    e
                })
            }))
        }
        match self {
            Self::Full(r) => Self::Full(r),
            Self::ChatStream(first, s) => Self::ChatStream(first, guard(s, slot, idle, entry)),
            Self::CompletionStream(first, s) => {
                Self::CompletionStream(first, guard(s, slot, idle, entry))
            }
            Self::AudioStream(first, s) => Self::AudioStream(first, guard(s, slot, idle, entry)),
        }
    }
}

/// Request-wide settings an attempt needs.
pub(crate) struct AttemptSettings<'a> {
    pub balancing: &'a LoadBalancingConfig,
    pub drop_excess: bool,
    pub requested_timeout: Option<Duration>,
}

/// Failures that say the target is unwell (they feed circuit breakers).
fn is_health_failure(e: &GatewayError) -> bool {
    matches!(
        e.kind,
        ErrorKind::UpstreamServer
            | ErrorKind::UpstreamConnection
            | ErrorKind::UpstreamTimeout
            | ErrorKind::UpstreamProtocol
            | ErrorKind::UpstreamStreamError
    )
}

fn log_transition(t: Option<Transition>, provider: &str, key: Option<&str>, cause: &str) {
    match t {
        Some(Transition::Opened) => {
            tracing::warn!(
                provider,
                key,
                cause,
                "circuit opened: target skipped while healthy ones exist"
            );
        }
        Some(Transition::Closed) => {
            tracing::info!(provider, key, "circuit closed: target healthy again")
        }
        None => {}
    }
}

/// Feed one attempt's outcome to the statistics and breakers of the provider and the key.
pub(crate) fn record_outcome(
    entry: &ProviderEntry,
    key: Option<usize>,
    result: Result<Duration, &GatewayError>,
    health: &HealthConfig,
) {
    let key_name = key
        .and_then(|i| entry.config.keys.get(i))
        .map(|k| k.name.as_str());
    let key_stats = key.and_then(|i| entry.key_stats.get(i));
    let key_breaker: Option<&Breaker> = key.and_then(|i| entry.key_breakers.get(i));
    let name = entry.config.name.as_str();
    match result {
        Ok(latency) => {
            entry.stats.observe(latency, true);
            if let Some(s) = key_stats {
                s.observe(latency, true);
            }
            match key_breaker {
                Some(b) => log_transition(b.success(health), name, key_name, ""),
                None => log_transition(entry.breaker.success(health), name, None, ""),
            }
        }
        Err(e) if is_health_failure(e) => {
            entry.stats.observe(Duration::ZERO, false);
            if let Some(s) = key_stats {
                s.observe(Duration::ZERO, false);
            }
            match key_breaker {
                Some(b) => log_transition(b.failure(health), name, key_name, &e.message),
                None => log_transition(entry.breaker.failure(health), name, None, &e.message),
            }
        }
        Err(e)
            if matches!(
                e.kind,
                ErrorKind::UpstreamRateLimited | ErrorKind::UpstreamAuth
            ) =>
        {
            // The key's fault (cooldown handles it); it still counts against adaptive choice.
            if let Some(s) = key_stats {
                s.observe(Duration::ZERO, false);
            }
        }
        Err(_) => {}
    }
}

/// Choose a key: healthy (breaker not open) and not cooling first; if none is, any key not
/// cooling — an open breaker is skipped only while healthy keys exist.
pub(crate) fn choose_key(
    entry: &ProviderEntry,
    model: &str,
    settings: &AttemptSettings<'_>,
    allowed: Option<&KeyAllowList>,
) -> Result<Option<usize>, GatewayError> {
    let picker = KeyPicker {
        strategy: settings.balancing.strategy,
        stats: &entry.key_stats,
        turn: &entry.key_turn,
        r1: rand::random(),
        r2: rand::random(),
    };
    let health = &settings.balancing.health;
    let names = allowed
        .and_then(|a| a.get(&entry.config.name))
        .filter(|n| !n.iter().any(|n| n == "*"));
    let barred = |i: usize| {
        names.is_some_and(|n| {
            entry
                .config
                .keys
                .get(i)
                .is_none_or(|k| !n.contains(&k.name))
        })
    };
    if names.is_some() && (0..entry.config.keys.len()).all(barred) {
        return Err(GatewayError::new(
            ErrorKind::Forbidden,
            format!(
                "this virtual key may not use any key of provider '{}'",
                entry.config.name
            ),
        ));
    }
    select_key(&entry.config, model, &picker, |i| {
        barred(i)
            || entry.cooldowns.is_cooling(i)
            || entry
                .key_breakers
                .get(i)
                .is_some_and(|b| !b.is_available(health))
    })
    .or_else(|_| {
        select_key(&entry.config, model, &picker, |i| {
            barred(i) || entry.cooldowns.is_cooling(i)
        })
    })
}

/// Attempts against one target. A 429/401/403 puts the key in cooldown (for `Retry-After`, or
/// `key_cooldown`) and rotates to another key without spending the retry budget; network errors,
/// timeouts and 5xx retry (any usable key) with backoff up to `max_retries`.
pub(crate) async fn attempt_with_retries(
    entry: &ProviderEntry,
    ctx: &mut RequestContext,
    req: &GatewayRequest,
    settings: &AttemptSettings<'_>,
) -> Result<UpstreamReply, GatewayError> {
    let network = &entry.config.network;
    let limits = deadlines(network, settings.requested_timeout);
    let limit = if ctx.stream {
        limits.first_byte
    } else {
        limits.request
    };
    let max_retries = network.max_retries;
    let model = ctx.upstream_model.clone().unwrap_or_default();
    let mut rotations = 0usize;
    let mut rotated_from: Option<GatewayError> = None;
    loop {
        let index = match choose_key(entry, &model, settings, ctx.allowed_keys.as_ref()) {
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
                settings.drop_excess,
                network.default_request_timeout,
            )
            .await?;
        ctx.queue_time += queued;
        ctx.attempts += 1;
        let started = Instant::now();
        let attempt_started = started
            .duration_since(ctx.received_at)
            .saturating_sub(queued);
        let span_id = ctx.trace.map(|_| rand::random::<u64>() | 1);
        let traceparent = ctx.trace.zip(span_id).map(|(t, s)| t.traceparent(s));
        let result = {
            let _provider_inflight = entry.stats.begin();
            let _key_inflight = index
                .and_then(|i| entry.key_stats.get(i))
                .map(|s| s.begin());
            let call = heimdall_providers::http::with_traceparent(
                traceparent,
                heimdall_providers::http::with_response_cap(
                    network.max_response_bytes,
                    call_once(entry.provider.as_ref(), key, req, ctx.stream),
                ),
            );
            match tokio::time::timeout(limit, call).await {
                Ok(r) => r,
                Err(_) => Err(timed_out(
                    &entry.config.name,
                    if ctx.stream {
                        "first chunk"
                    } else {
                        "response"
                    },
                    limit,
                )),
            }
        };
        // The attempt boundary: nothing an upstream sent back leaves it with a key inside.
        let result = result.map_err(|mut e| {
            entry.redactor.scrub_error(&mut e);
            e
        });
        let elapsed = started.elapsed();
        ctx.upstream_time += elapsed;
        ctx.trail.push(AttemptRecord {
            provider: entry.config.name.clone(),
            model: model.clone(),
            key_name: ctx.key_name.clone(),
            status: result.as_ref().map_or_else(|e| e.status, |_| 200),
            error: result.as_ref().err().map(|e| e.kind.as_str()),
            latency: elapsed,
            started: attempt_started,
            queued,
            span_id,
        });
        let health = &settings.balancing.health;
        let e = match result {
            Ok(reply) => {
                record_outcome(entry, index, Ok(elapsed), health);
                return Ok(reply.guarded(slot, limits.idle, entry));
            }
            Err(e) => e,
        };
        drop(slot);
        record_outcome(entry, index, Err(&e), health);
        let key_at_fault = matches!(
            e.kind,
            ErrorKind::UpstreamRateLimited | ErrorKind::UpstreamAuth
        );
        if let (true, Some(i)) = (key_at_fault, index) {
            let cooldown = e
                .retry_after_secs
                .map_or(network.key_cooldown, |s| Duration::from_secs(u64::from(s)));
            entry.cooldowns.cool(i, cooldown);
            if rotations < entry.config.keys.len() {
                rotations += 1;
                ctx.key_rotations += 1;
                tracing::debug!(request_id = %ctx.request_id, key = ctx.key_name.as_deref().unwrap_or(""), ?cooldown, error = %e, "key cooling down; rotating");
                rotated_from = Some(e);
                continue;
            }
        }
        if e.is_retryable() && ctx.retries_on_target < max_retries {
            ctx.retries_on_target += 1;
            ctx.retries += 1;
            let delay = backoff(
                ctx.retries_on_target,
                network.retry_backoff_initial,
                network.retry_backoff_max,
                e.retry_after_secs,
            );
            tracing::debug!(request_id = %ctx.request_id, retry = ctx.retries_on_target, error = %e, ?delay, "retrying upstream");
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
    retry_after: Option<u32>,
) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(max);
    let jittered = capped.mul_f64(0.5 + rand::random::<f64>() * 0.5);
    match retry_after {
        Some(secs) => Duration::from_secs(u64::from(secs)).max(jittered).min(max),
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
        // Speech streams its audio as it arrives; like every stream, it is committed only
        // once the first bytes are in, so a failure before them is retried.
        (GatewayRequest::Speech(r), _) => {
            let mut s = provider.speech(key, r).await?;
            let first = first_chunk(&mut s, provider.name()).await?;
            Ok(UpstreamReply::AudioStream(first, s))
        }
        (GatewayRequest::Transcription(r), _) => provider
            .transcription(key, r)
            .await
            .map(|b| UpstreamReply::Full(GatewayResponse::Binary(b))),
        (GatewayRequest::Translation(r), _) => provider
            .translation(key, r)
            .await
            .map(|b| UpstreamReply::Full(GatewayResponse::Binary(b))),
        (GatewayRequest::ImageGeneration(r), _) => provider
            .image_generation(key, r)
            .await
            .map(|i| UpstreamReply::Full(GatewayResponse::Images(i))),
        (GatewayRequest::ImageEdit(r), _) => provider
            .image_edit(key, r)
            .await
            .map(|i| UpstreamReply::Full(GatewayResponse::Images(i))),
        (GatewayRequest::Rerank(r), _) => provider.rerank(key, r).await.map(|mut answer| {
            // One answer shape whoever served it: documents as the client asked for them.
            r.settle_documents(&mut answer);
            UpstreamReply::Full(GatewayResponse::Rerank(answer))
        }),
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
