//! The cache on the request path. `pre`: read the request's cache options, compute its exact
//! key (tenant and cache key included), join the single flight for it — a follower waits for
//! the leader's answer — and as leader look in the exact tier, then the semantic tier, and on a
//! miss remember what to store. `post` / `on_chunk` / `on_stream_end`: settle the flight with
//! the answer (or the failure) and store a complete answer in the backend.
//!
//! Why hooks never fail a request for the cache's sake: a backend or embedder error is logged
//! and counted, and the request goes upstream as a miss.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use arc_swap::{ArcSwap, ArcSwapOption};
use async_trait::async_trait;
use heimdall_config::{CacheConfig, GatewayConfig};
use heimdall_core::{
    CacheStatus, Gateway, GatewayRequest, GatewayResponse, Plugin, PluginState, PreOutcome,
    RequestContext, StreamChunk, StreamSummary,
};
use heimdall_schema::error::GatewayError;

use crate::answer::{CachedAnswer, StoredAnswer};
use crate::backend::{CacheBackend, Entry};
use crate::flight::{FlightOutcome, Flights, Joined, LeaderSlot, Progress};
use crate::index::VectorIndex;
use crate::key::{KeyScope, exact_key, semantic_parts};
use crate::options::{RequestOptions, Tiers, tenant_of};
use crate::setup::{Parts, SetupEnv};
use crate::stats::CacheStats;
use crate::{guard, replay, setup};

/// Annotation on a request answered by following another request's upstream call.
pub const COALESCED_ANNOTATION: &str = "cache.coalesced";

/// Semantic candidates above the threshold tried, most similar first, when the verifier
/// ([`guard`]) turns one down: a near-miss entry must not hide a true paraphrase behind it.
const SEMANTIC_CANDIDATES: usize = 4;

/// The response cache plugin.
pub struct ResponseCache {
    pub(crate) settings: ArcSwap<CacheConfig>,
    pub(crate) parts: Arc<ArcSwapOption<Parts>>,
    pub(crate) index: Arc<VectorIndex>,
    pub(crate) flights: Arc<Flights>,
    pub(crate) stats: Arc<CacheStats>,
    pub(crate) gateway: OnceLock<Weak<Gateway>>,
    pub(crate) env: SetupEnv,
}

/// What a leader that missed keeps until its answer is complete.
struct Pending {
    key: String,
    namespace: String,
    request_id: String,
    bucket: Option<String>,
    vector: Option<Vec<f32>>,
    /// The text embedded for the semantic tier, stored with the answer for the verifier.
    question: Option<String>,
    expires_at_ms: i64,
    no_store: bool,
    max_tokens: Option<u64>,
    max_entry_bytes: u64,
    backend: Arc<dyn CacheBackend>,
    index: Arc<VectorIndex>,
    stats: Arc<CacheStats>,
    slot: Mutex<Option<LeaderSlot>>,
}

impl Pending {
    fn of(ctx: &RequestContext) -> Option<&Self> {
        ctx.cache_state.0.as_ref()?.downcast_ref::<Self>()
    }

    fn take_slot(&self) -> Option<LeaderSlot> {
        self.slot.lock().ok()?.take()
    }

    fn with_slot(&self, f: impl FnOnce(&LeaderSlot)) {
        if let Ok(guard) = self.slot.lock()
            && let Some(slot) = guard.as_ref()
        {
            f(slot);
        }
    }

    /// Settle the flight with a complete answer and store it (in the background; the flight
    /// leaves the table once the entry is in the backend).
    fn settle(&self, slot: LeaderSlot, mut stored: StoredAnswer, completion_tokens: u64) {
        stored.question.clone_from(&self.question);
        let stored = Arc::new(stored);
        slot.flight()
            .finish(FlightOutcome::Answer(Arc::clone(&stored)));
        let too_long = self.max_tokens.is_some_and(|m| completion_tokens > m);
        if self.no_store || too_long {
            slot.release();
            return;
        }
        let (backend, index, stats) = (
            Arc::clone(&self.backend),
            Arc::clone(&self.index),
            Arc::clone(&self.stats),
        );
        let (key, namespace, request_id) = (
            self.key.clone(),
            self.namespace.clone(),
            self.request_id.clone(),
        );
        let (bucket, vector) = (self.bucket.clone(), self.vector.clone());
        let (expires_at_ms, max_bytes) = (self.expires_at_ms, self.max_entry_bytes);
        heimdall_core::task::spawn("cache-store", async move {
            let body = match stored.to_bytes() {
                Ok(b) if b.len() as u64 <= max_bytes => b,
                Ok(_) => {
                    stats.count(&stats.too_large);
                    slot.release();
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cache: answer not serialisable; not stored");
                    slot.release();
                    return;
                }
            };
            let entry = Entry {
                key: key.clone(),
                namespace,
                bucket: bucket.clone().unwrap_or_default(),
                request_id,
                vector: vector.clone(),
                body: body.into(),
                expires_at_ms,
            };
            match backend.put(entry).await {
                Ok(()) => {
                    stats.count(&stats.stores);
                    if let (Some(b), Some(v)) = (bucket, vector) {
                        index.insert(&b, &key, v, expires_at_ms);
                    }
                }
                Err(e) => {
                    stats.count(&stats.store_errors);
                    tracing::warn!(error = %e, "cache: store failed");
                }
            }
            slot.release();
        });
    }
}

impl ResponseCache {
    /// Answer from `stored` as a hit of `status`.
    fn hit(
        &self,
        ctx: &mut RequestContext,
        status: CacheStatus,
        stored: &StoredAnswer,
    ) -> Option<PreOutcome> {
        let outcome = replay::outcome(stored, ctx.operation, ctx.stream)?;
        ctx.cache = Some(status);
        ctx.provider.clone_from(&stored.provider);
        ctx.upstream_model.clone_from(&stored.model);
        match status {
            CacheStatus::HitExact => self.stats.count(&self.stats.hits_exact),
            CacheStatus::HitSemantic { .. } => self.stats.count(&self.stats.hits_semantic),
            CacheStatus::Miss => {}
        }
        Some(outcome)
    }

    /// A leader's hit: answer from `stored` and give it to the followers. The slot, dropped on
    /// return, takes the settled flight out of the table (nothing is left to store).
    fn lead_hit(
        &self,
        ctx: &mut RequestContext,
        slot: &LeaderSlot,
        status: CacheStatus,
        stored: StoredAnswer,
    ) -> Option<PreOutcome> {
        let out = self.hit(ctx, status, &stored)?;
        slot.flight()
            .finish(FlightOutcome::Answer(Arc::new(stored)));
        Some(out)
    }

    /// The stored answer under `key`, when it is there and readable.
    async fn read(&self, backend: &dyn CacheBackend, key: &str) -> Option<StoredAnswer> {
        match backend.get(key).await {
            Ok(Some(e)) => match StoredAnswer::from_bytes(&e.body) {
                Ok(a) => Some(a),
                Err(err) => {
                    tracing::warn!(error = %err, "cache: unreadable entry; ignored");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                self.stats.count(&self.stats.lookup_errors);
                tracing::warn!(error = %e, "cache: lookup failed; treated as a miss");
                None
            }
        }
    }

    /// Lead: exact tier, semantic tier, else register what to store.
    async fn lead(
        &self,
        ctx: &mut RequestContext,
        req: &GatewayRequest,
        slot: LeaderSlot,
        options: &RequestOptions,
        scope: &KeyScope<'_>,
        key: String,
    ) -> Option<PreOutcome> {
        let settings = self.settings.load();
        let parts = self.parts.load_full()?;
        let backend = Arc::clone(&parts.backend);
        if options.tiers != Tiers::Semantic
            && let Some(stored) = self.read(backend.as_ref(), &key).await
            && let Some(out) = self.lead_hit(ctx, &slot, CacheStatus::HitExact, stored)
        {
            return Some(out);
        }
        let mut semantic = None;
        if options.tiers != Tiers::Exact
            && let Some(embedder) = &parts.embedder
            && let Some(sp) = semantic_parts(req, scope, settings.conversation_history_threshold)
        {
            self.stats.count(&self.stats.semantic_lookups);
            match setup::embed(self, embedder, ctx, &sp.text).await {
                Ok(vector) => {
                    let now = crate::backend::memory::now_ms();
                    let candidates = self.index.search_ranked(
                        &sp.bucket,
                        &vector,
                        options.threshold,
                        now,
                        SEMANTIC_CANDIDATES,
                    );
                    for (found, similarity) in candidates {
                        let Some(stored) = self.read(backend.as_ref(), &found).await else {
                            self.index.remove(&found);
                            continue;
                        };
                        if let Some(why) = stored
                            .question
                            .as_deref()
                            .and_then(|q| guard::mismatch(&sp.text, q))
                        {
                            self.stats.count(&self.stats.semantic_rejected);
                            tracing::debug!(request_id = %ctx.request_id, similarity, reason = why.as_str(), "cache: semantic candidate turned down");
                            continue;
                        }
                        let status = CacheStatus::HitSemantic { similarity };
                        if let Some(out) = self.lead_hit(ctx, &slot, status, stored) {
                            return Some(out);
                        }
                    }
                    semantic = Some((sp.bucket, vector, sp.text));
                }
                Err(e) => {
                    self.stats.count(&self.stats.embed_errors);
                    tracing::warn!(request_id = %ctx.request_id, error = %e, "cache: embedding failed; semantic tier skipped");
                }
            }
        }
        self.stats.count(&self.stats.misses);
        ctx.cache = Some(CacheStatus::Miss);
        let (bucket, vector, question) =
            semantic.map_or((None, None, None), |(b, v, q)| (Some(b), Some(v), Some(q)));
        let ttl_ms = i64::try_from(options.ttl.as_millis()).unwrap_or(i64::MAX);
        let pending = Pending {
            key,
            namespace: options.namespace.clone(),
            request_id: ctx.request_id.clone(),
            bucket,
            vector,
            question,
            expires_at_ms: crate::backend::memory::now_ms().saturating_add(ttl_ms),
            no_store: options.no_store,
            max_tokens: settings.max_tokens,
            max_entry_bytes: settings.max_entry_bytes,
            backend,
            index: Arc::clone(&self.index),
            stats: Arc::clone(&self.stats),
            slot: Mutex::new(Some(slot)),
        };
        ctx.cache_state = PluginState(Some(Arc::new(pending)));
        None
    }
}

#[async_trait]
impl Plugin for ResponseCache {
    fn name(&self) -> &str {
        "cache"
    }

    fn rewrites_only_the_model(&self) -> bool {
        true
    }

    /// It stores a copy of the answer.
    fn leaves_the_answer_alone(&self) -> bool {
        true
    }

    async fn pre(
        &self,
        ctx: &mut RequestContext,
        req: &mut GatewayRequest,
    ) -> Result<PreOutcome, GatewayError> {
        // Fallback targets run the pre hooks again: the cache looks once, for the request as
        // the client made it.
        // A Realtime session is admitted with a chat-shaped request but is never cached.
        if ctx.cache.is_some()
            || !matches!(req, GatewayRequest::Chat(_) | GatewayRequest::Completion(_))
            || ctx.operation == heimdall_core::Operation::Realtime
        {
            return Ok(PreOutcome::Continue);
        }
        let settings = self.settings.load_full();
        if !settings.enabled {
            return Ok(PreOutcome::Continue);
        }
        if self.parts.load().is_none() {
            return Ok(PreOutcome::Continue);
        }
        let Some(options) = RequestOptions::read(ctx, &settings)? else {
            return Ok(PreOutcome::Continue);
        };
        let native = match &*req {
            GatewayRequest::Chat(c) => c
                .native
                .as_ref()
                .and_then(|n| serde_json::to_string(&*n.body).ok()),
            _ => None,
        };
        let tenant = tenant_of(ctx, settings.tenant_scope, native.as_deref());
        let scope = KeyScope {
            tenant: &tenant,
            namespace: &options.namespace,
            cache_by_model: settings.cache_by_model,
            cache_by_provider: settings.cache_by_provider,
            exclude_system_prompt: settings.exclude_system_prompt,
        };
        let Some(key) = exact_key(req, &scope) else {
            return Ok(PreOutcome::Continue);
        };
        loop {
            let cap = usize::try_from(settings.max_entry_bytes).unwrap_or(usize::MAX);
            match self.flights.join(&key, cap) {
                Joined::Leader(slot) => {
                    let led = self
                        .lead(ctx, req, slot, &options, &scope, key.clone())
                        .await;
                    return Ok(led.unwrap_or(PreOutcome::Continue));
                }
                Joined::Follower(flight) => match flight.wait(ctx.stream).await {
                    Progress::Streaming => {
                        let followed = match ctx.operation {
                            heimdall_core::Operation::Chat => flight
                                .follow_chat()
                                .map(|(f, r)| heimdall_core::PreStream::Chat(f, r)),
                            heimdall_core::Operation::Completion => flight
                                .follow_completion()
                                .map(|(f, r)| heimdall_core::PreStream::Completion(f, r)),
                            heimdall_core::Operation::Embedding
                            | heimdall_core::Operation::Speech
                            | heimdall_core::Operation::Transcription
                            | heimdall_core::Operation::Translation
                            | heimdall_core::Operation::ImageGeneration
                            | heimdall_core::Operation::ImageEdit
                            | heimdall_core::Operation::Rerank
                            | heimdall_core::Operation::Realtime => None,
                        };
                        if let Some(s) = followed {
                            self.follow_noted(ctx);
                            return Ok(PreOutcome::Stream(s));
                        }
                        return Ok(PreOutcome::Continue);
                    }
                    Progress::Done(FlightOutcome::Answer(stored)) => {
                        if let Some(out) = self.hit(ctx, CacheStatus::HitExact, &stored) {
                            self.follow_noted(ctx);
                            return Ok(out);
                        }
                        return Ok(PreOutcome::Continue);
                    }
                    Progress::Done(FlightOutcome::Failed(e)) => {
                        ctx.cache = Some(CacheStatus::Miss);
                        self.stats.count(&self.stats.coalesced);
                        return Err(e);
                    }
                    Progress::Done(FlightOutcome::Abandoned) => continue,
                },
            }
        }
    }

    async fn post(
        &self,
        ctx: &mut RequestContext,
        result: &mut Result<GatewayResponse, GatewayError>,
    ) {
        let Some(p) = Pending::of(ctx) else { return };
        let Some(slot) = p.take_slot() else { return };
        let (provider, model) = (ctx.provider.clone(), ctx.upstream_model.clone());
        let (answer, usage) = match result {
            Ok(GatewayResponse::Chat(r)) => {
                let mut r = r.clone();
                r.native = None;
                r.raw = None;
                let usage = r.usage.clone();
                (CachedAnswer::Chat(r), usage)
            }
            Ok(GatewayResponse::Completion(r)) => {
                (CachedAnswer::Completion(r.clone()), r.usage.clone())
            }
            Ok(
                GatewayResponse::Embedding(_)
                | GatewayResponse::Binary(_)
                | GatewayResponse::Images(_)
                | GatewayResponse::Rerank(_),
            ) => return slot.release(),
            Err(e) => return slot.fail(e),
        };
        let tokens = usage.map_or(0, |u| u.completion_tokens);
        let stored = StoredAnswer {
            provider,
            model,
            answer,
            question: None,
        };
        p.settle(slot, stored, tokens);
    }

    fn on_chunk(&self, ctx: &RequestContext, chunk: &mut StreamChunk<'_>) {
        let Some(p) = Pending::of(ctx) else { return };
        p.with_slot(|slot| match chunk {
            StreamChunk::Chat(c) => slot.flight().push_chat(c),
            StreamChunk::Completion(c) => slot.flight().push_completion(c),
            // Speech is never cached (no slot is taken for it).
            StreamChunk::Audio(_) => {}
        });
    }

    fn on_stream_end(&self, ctx: &RequestContext, summary: &StreamSummary) {
        let Some(p) = Pending::of(ctx) else { return };
        let Some(slot) = p.take_slot() else { return };
        if let Some(e) = &summary.error {
            return slot.fail(e);
        }
        // A stream cut short (client gone, no finish reason) is never stored; dropping the
        // slot tells followers to start over.
        if !summary.completed || summary.client_disconnected || summary.finish_reason.is_none() {
            return;
        }
        let answer = match ctx.operation {
            heimdall_core::Operation::Chat => CachedAnswer::ChatStream(slot.flight().chat_chunks()),
            heimdall_core::Operation::Completion => {
                CachedAnswer::CompletionStream(slot.flight().completion_chunks())
            }
            heimdall_core::Operation::Embedding
            | heimdall_core::Operation::Speech
            | heimdall_core::Operation::Transcription
            | heimdall_core::Operation::Translation
            | heimdall_core::Operation::ImageGeneration
            | heimdall_core::Operation::ImageEdit
            | heimdall_core::Operation::Rerank
            | heimdall_core::Operation::Realtime => return,
        };
        let tokens = summary.usage.as_ref().map_or(0, |u| u.completion_tokens);
        let stored = StoredAnswer {
            provider: ctx.provider.clone(),
            model: ctx.upstream_model.clone(),
            answer,
            question: None,
        };
        p.settle(slot, stored, tokens);
    }

    fn on_abandoned(&self, ctx: &RequestContext) {
        if let Some(p) = Pending::of(ctx) {
            drop(p.take_slot());
        }
    }

    fn reconfigure(&self, config: &GatewayConfig) {
        setup::apply(self, config);
    }
}

impl ResponseCache {
    fn follow_noted(&self, ctx: &mut RequestContext) {
        self.stats.count(&self.stats.coalesced);
        ctx.cache.get_or_insert(CacheStatus::HitExact);
        ctx.annotations
            .insert(COALESCED_ANNOTATION.to_owned(), "true".to_owned());
    }

    /// Give the cache the engine it embeds through (for a `provider/model` embedder).
    pub fn attach(&self, gateway: &Arc<Gateway>) {
        let _ = self.gateway.set(Arc::downgrade(gateway));
    }
}
