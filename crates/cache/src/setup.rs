//! Building the cache's parts from the config — the backend, the embedder, the task that keeps
//! the in-process vector index in step with the backend — and rebuilding them when a config
//! change touches them (knobs such as TTL or threshold apply at once without a rebuild).
//!
//! Why a rebuild runs in the background: connecting to Redis or PostgreSQL, or loading the
//! local model, takes time a config change must not block on; requests see the old parts
//! until the new ones are ready, and none while the cache is off.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use heimdall_config::{CacheBackendKind, CacheConfig, EmbeddingSource, GatewayConfig, RedisConfig};
use heimdall_core::{Operation, RequestContext};
use heimdall_schema::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingVector};

use crate::backend::CacheBackend;
use crate::backend::memory::MemoryBackend;
use crate::backend::postgres::PostgresBackend;
use crate::backend::redis::RedisBackend;
use crate::embed::{Embedder, normalize};
use crate::flight::Flights;
use crate::index::VectorIndex;
use crate::plugin::ResponseCache;
use crate::stats::CacheStats;

/// What the process gives the cache at start.
#[derive(Debug, Clone, Default)]
pub struct SetupEnv {
    /// The data directory (the local model's default folder is under it).
    pub app_dir: PathBuf,
    /// DSN of the PostgreSQL log store, the PostgreSQL backend's default.
    pub logs_postgres_url: Option<String>,
}

/// How the semantic tier embeds.
pub enum EmbedderHandle {
    /// In process.
    Local(Arc<dyn Embedder>),
    /// `provider/model` through the gateway.
    Gateway(String),
}

/// The parts built from the config.
pub struct Parts {
    /// Where entries live.
    pub backend: Arc<dyn CacheBackend>,
    /// The semantic tier's embedder, when there is one.
    pub embedder: Option<EmbedderHandle>,
    /// What they were built from (a change rebuilds them).
    identity: Identity,
}

/// The settings parts depend on.
#[derive(Debug, Clone, PartialEq)]
struct Identity {
    backend: CacheBackendKind,
    redis: Option<RedisConfig>,
    postgres: Option<String>,
    embedding: EmbeddingSource,
    dimension: Option<usize>,
    max_memory_bytes: u64,
}

impl Identity {
    fn of(config: &GatewayConfig) -> Self {
        let c = &config.cache;
        // Only what the chosen backend uses: a Redis change must not empty a memory cache.
        Self {
            backend: c.backend,
            redis: config
                .redis
                .clone()
                .filter(|_| c.backend == CacheBackendKind::Redis),
            postgres: c
                .postgres_url
                .as_ref()
                .map(|u| u.expose().to_owned())
                .filter(|_| c.backend == CacheBackendKind::Postgres),
            embedding: c.embedding.clone(),
            dimension: c.dimension,
            max_memory_bytes: c.max_memory_bytes,
        }
    }
}

impl ResponseCache {
    /// A cache for `config`, its parts built before it returns (so the first request can
    /// hit); a part that cannot be built is logged and the cache stays off until a config
    /// change builds it.
    pub async fn start(config: &GatewayConfig, env: SetupEnv) -> Arc<Self> {
        let cache = Arc::new(Self {
            settings: ArcSwap::from_pointee(config.cache.clone()),
            parts: Arc::new(ArcSwapOption::empty()),
            index: Arc::new(VectorIndex::new(config.cache.exact_scan_limit)),
            flights: Arc::new(Flights::default()),
            stats: Arc::new(CacheStats::default()),
            gateway: OnceLock::new(),
            env,
        });
        if config.cache.enabled {
            let identity = Identity::of(config);
            if let Some(parts) = build(&identity, &config.cache, &cache.env).await {
                install(&cache.parts, &cache.index, parts);
            }
        }
        cache
    }

    /// The backend in use, when the cache is on.
    pub fn backend(&self) -> Option<Arc<dyn CacheBackend>> {
        self.parts.load().as_ref().map(|p| Arc::clone(&p.backend))
    }

    /// The embedder's name, when the semantic tier is on.
    pub fn embedder_name(&self) -> Option<String> {
        self.parts
            .load()
            .as_ref()?
            .embedder
            .as_ref()
            .map(|e| match e {
                EmbedderHandle::Local(l) => l.name(),
                EmbedderHandle::Gateway(m) => m.clone(),
            })
    }

    /// The current settings.
    pub fn settings(&self) -> Arc<CacheConfig> {
        self.settings.load_full()
    }

    /// The counters since start.
    pub fn stats_snapshot(&self) -> crate::stats::StatsSnapshot {
        self.stats.snapshot()
    }

    /// Vectors in this instance's index.
    pub fn indexed_vectors(&self) -> usize {
        self.index.len()
    }

    /// Requests leading a flight right now.
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// Forget every vector (after the backend was cleared).
    pub fn clear_index(&self) {
        self.index.clear();
    }
}

/// A new config: knobs at once, parts rebuilt in the background when what they depend on
/// changed (or the cache was turned on).
pub(crate) fn apply(cache: &ResponseCache, config: &GatewayConfig) {
    cache.settings.store(Arc::new(config.cache.clone()));
    if !config.cache.enabled {
        return;
    }
    let identity = Identity::of(config);
    if cache
        .parts
        .load()
        .as_ref()
        .is_some_and(|p| p.identity == identity)
    {
        return;
    }
    let (slot, index, env, settings) = (
        Arc::clone(&cache.parts),
        Arc::clone(&cache.index),
        cache.env.clone(),
        config.cache.clone(),
    );
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    heimdall_core::task::spawn("cache-rebuild", async move {
        if let Some(parts) = build(&identity, &settings, &env).await {
            index.clear();
            install(&slot, &index, parts);
            tracing::info!("cache: backend and embedder rebuilt for the new configuration");
        }
    });
}

fn install(slot: &Arc<ArcSwapOption<Parts>>, index: &Arc<VectorIndex>, parts: Parts) {
    let parts = Arc::new(parts);
    slot.store(Some(Arc::clone(&parts)));
    spawn_index_sync(Arc::clone(slot), Arc::clone(index), parts);
}

async fn build(identity: &Identity, c: &CacheConfig, env: &SetupEnv) -> Option<Parts> {
    let backend: Arc<dyn CacheBackend> = match identity.backend {
        CacheBackendKind::Memory => Arc::new(MemoryBackend::new(c.max_memory_bytes)),
        CacheBackendKind::Redis => {
            let Some(r) = &identity.redis else {
                tracing::error!(
                    "cache: backend redis needs the top-level `redis` section; cache off"
                );
                return None;
            };
            match RedisBackend::connect(r.url.expose(), &r.key_prefix).await {
                Ok(b) => Arc::new(b),
                Err(e) => {
                    tracing::error!(error = %e, "cache: Redis backend unavailable; cache off");
                    return None;
                }
            }
        }
        CacheBackendKind::Postgres => {
            let Some(dsn) = identity
                .postgres
                .clone()
                .or_else(|| env.logs_postgres_url.clone())
            else {
                tracing::error!(
                    "cache: backend postgres needs `postgres_url` (or a PostgreSQL log store); cache off"
                );
                return None;
            };
            match PostgresBackend::connect(&dsn, "heimdall_").await {
                Ok(b) => Arc::new(b),
                Err(e) => {
                    tracing::error!(error = %e, "cache: PostgreSQL backend unavailable; cache off");
                    return None;
                }
            }
        }
    };
    let embedder = embedder_for(identity, env).await;
    tracing::info!(
        backend = backend.name(),
        semantic = embedder.is_some(),
        "cache on"
    );
    Some(Parts {
        backend,
        embedder,
        identity: identity.clone(),
    })
}

async fn embedder_for(identity: &Identity, env: &SetupEnv) -> Option<EmbedderHandle> {
    match &identity.embedding {
        EmbeddingSource::None => None,
        EmbeddingSource::Gateway { model } => Some(EmbedderHandle::Gateway(model.clone())),
        EmbeddingSource::Local { path } => {
            let dir = path
                .clone()
                .unwrap_or_else(|| env.app_dir.join("models").join("all-MiniLM-L6-v2"));
            local_embedder(dir, identity.dimension).await
        }
    }
}

#[cfg(feature = "local-embeddings")]
async fn local_embedder(dir: PathBuf, dimension: Option<usize>) -> Option<EmbedderHandle> {
    if !dir.join("model.safetensors").exists() {
        tracing::warn!(dir = %dir.display(), "cache: no local embedding model (run scripts/fetch-embedding-model.sh); exact tier only");
        return None;
    }
    let loaded =
        tokio::task::spawn_blocking(move || crate::embed::local::LocalEmbedder::load(&dir)).await;
    match loaded {
        Ok(Ok(e)) => {
            if let Some(d) = dimension.filter(|d| Some(*d) != e.dimension()) {
                tracing::error!(
                    configured = d,
                    "cache: dimension does not match the local model (384); semantic tier off"
                );
                return None;
            }
            Some(EmbedderHandle::Local(Arc::new(e)))
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cache: local embedding model failed to load; exact tier only");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "cache: local embedding model failed to load; exact tier only");
            None
        }
    }
}

#[cfg(not(feature = "local-embeddings"))]
async fn local_embedder(dir: PathBuf, _dimension: Option<usize>) -> Option<EmbedderHandle> {
    if dir.join("model.safetensors").exists() {
        tracing::warn!(
            "cache: this binary was built without the `local-embeddings` feature; exact tier only"
        );
    }
    None
}

/// Learn the vectors other instances store, and drop expired ones, while `parts` is current.
fn spawn_index_sync(slot: Arc<ArcSwapOption<Parts>>, index: Arc<VectorIndex>, parts: Arc<Parts>) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    heimdall_core::task::spawn("cache-index-sync", async move {
        let mut cursor = String::new();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut rounds = 0u64;
        loop {
            tick.tick().await;
            let current = slot.load();
            if !current.as_ref().is_some_and(|p| Arc::ptr_eq(p, &parts)) {
                return;
            }
            drop(current);
            rounds += 1;
            if rounds.is_multiple_of(240) {
                index.purge_expired(crate::backend::memory::now_ms());
            }
            if parts.embedder.is_none() {
                continue;
            }
            loop {
                match parts.backend.vectors_since(&cursor, 1000).await {
                    Ok((records, next)) => {
                        let full = records.len() >= 1000;
                        for r in records {
                            index.insert(&r.bucket, &r.key, r.vector, r.expires_at_ms);
                        }
                        cursor = next;
                        if !full {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "cache: vector sync failed; retrying");
                        break;
                    }
                }
            }
        }
    });
}

/// The unit-length embedding of `text`, by `handle`. Through the gateway it is a request of
/// its own: routed, keyed, retried, logged and priced like any, on the caller's credential
/// (so it counts against the caller's budget).
pub(crate) async fn embed(
    cache: &ResponseCache,
    handle: &EmbedderHandle,
    ctx: &RequestContext,
    text: &str,
) -> Result<Vec<f32>, String> {
    match handle {
        EmbedderHandle::Local(e) => e.embed(text).await.map_err(|e| e.to_string()),
        EmbedderHandle::Gateway(model) => {
            let gateway = cache
                .gateway
                .get()
                .and_then(std::sync::Weak::upgrade)
                .ok_or("the gateway is not attached")?;
            let mut ectx = RequestContext::new(
                uuid::Uuid::now_v7().to_string(),
                Operation::Embedding,
                model.clone(),
            )
            .in_route(ctx.route);
            ectx.credential.clone_from(&ctx.credential);
            ectx.annotations
                .insert("cache.embedding_for".to_owned(), ctx.request_id.clone());
            let req = EmbeddingRequest {
                model: model.clone(),
                input: EmbeddingInput::Text(text.to_owned()),
                encoding_format: None,
                dimensions: None,
                user: None,
                extra: serde_json::Map::new(),
            };
            let (_, result) = gateway.embeddings(ectx, req).await;
            let response = result.map_err(|e| e.to_string())?;
            let mut vector = match response.data.into_iter().next().map(|d| d.embedding) {
                Some(EmbeddingVector::Float(v)) => v,
                Some(EmbeddingVector::Base64(b)) => decode_base64(&b)?,
                None => return Err("the embedding response had no data".to_owned()),
            };
            normalize(&mut vector);
            Ok(vector)
        }
    }
}

fn decode_base64(text: &str) -> Result<Vec<f32>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| e.to_string())?;
    crate::backend::vector_of(&bytes).ok_or_else(|| "the embedding was not whole f32s".to_owned())
}
