//! Counters of what the cache did, for `GET /api/cache/stats` (the per-request results and
//! the dollars saved are in the request log and Prometheus, counted by the logger).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Monotonic counters since start.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Hits on the exact key (coalesced followers included).
    pub hits_exact: AtomicU64,
    /// Hits by similarity.
    pub hits_semantic: AtomicU64,
    /// Lookups that found nothing (the request went upstream).
    pub misses: AtomicU64,
    /// Requests answered by (or failed with) another identical request's upstream call.
    pub coalesced: AtomicU64,
    /// Semantic lookups (requests embedded).
    pub semantic_lookups: AtomicU64,
    /// Semantic candidates above the threshold that the verifier turned down.
    pub semantic_rejected: AtomicU64,
    /// Answers stored.
    pub stores: AtomicU64,
    /// Stores the backend refused.
    pub store_errors: AtomicU64,
    /// Lookups the backend failed (answered as misses).
    pub lookup_errors: AtomicU64,
    /// Embedding calls that failed (semantic tier skipped).
    pub embed_errors: AtomicU64,
    /// Answers over the entry size limit (not stored).
    pub too_large: AtomicU64,
}

/// A snapshot of [`CacheStats`].
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Exact hits.
    pub hits_exact: u64,
    /// Semantic hits.
    pub hits_semantic: u64,
    /// Misses.
    pub misses: u64,
    /// Coalesced requests.
    pub coalesced: u64,
    /// Semantic lookups.
    pub semantic_lookups: u64,
    /// Semantic candidates turned down by the verifier.
    pub semantic_rejected: u64,
    /// Answers stored.
    pub stores: u64,
    /// Failed stores.
    pub store_errors: u64,
    /// Failed lookups.
    pub lookup_errors: u64,
    /// Failed embeddings.
    pub embed_errors: u64,
    /// Answers too large to store.
    pub too_large: u64,
}

impl CacheStats {
    /// Add one to `counter`.
    pub fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            hits_exact: g(&self.hits_exact),
            hits_semantic: g(&self.hits_semantic),
            misses: g(&self.misses),
            coalesced: g(&self.coalesced),
            semantic_lookups: g(&self.semantic_lookups),
            semantic_rejected: g(&self.semantic_rejected),
            stores: g(&self.stores),
            store_errors: g(&self.store_errors),
            lookup_errors: g(&self.lookup_errors),
            embed_errors: g(&self.embed_errors),
            too_large: g(&self.too_large),
        }
    }
}
