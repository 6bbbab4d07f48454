//! Where entries live: the interface the memory, Redis and PostgreSQL backends share.
//!
//! Why vectors travel separately: neither this machine's Redis nor its PostgreSQL can search
//! vectors, so each instance keeps an in-process index ([`crate::index`]) and learns the
//! vectors other instances stored through [`CacheBackend::vectors_since`]; the backend stays the
//! single source of truth for entries and their expiry.

use async_trait::async_trait;
use bytes::Bytes;

pub mod memory;
pub mod postgres;
pub mod redis;

/// One stored answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The exact-tier key (hex); unique.
    pub key: String,
    /// The cache key (`x-bf-cache-key` or the default) it was stored under.
    pub namespace: String,
    /// The semantic bucket (tenant, cache key and answer-changing parameters, hashed).
    pub bucket: String,
    /// The request that stored it (for `DELETE /api/cache/clear/{request_id}`).
    pub request_id: String,
    /// The request text's embedding (unit length), when the semantic tier embedded it.
    pub vector: Option<Vec<f32>>,
    /// A serialised [`crate::StoredAnswer`].
    pub body: Bytes,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A vector another instance (or this one) stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRecord {
    /// The entry's exact key.
    pub key: String,
    /// Its semantic bucket.
    pub bucket: String,
    /// The embedding.
    pub vector: Vec<f32>,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// Counts a backend reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendStats {
    /// Live entries (expired ones may be counted until purged).
    pub entries: u64,
    /// Bytes they hold, roughly.
    pub bytes: u64,
    /// Entries evicted to stay within the size bound since start (memory backend; others 0:
    /// Redis and PostgreSQL only expire).
    pub evictions: u64,
}

/// A backend failure (the cache then answers as a miss and does not store: it never fails a
/// request).
#[derive(Debug, thiserror::Error)]
#[error("cache backend: {0}")]
pub struct BackendError(pub String);

/// An entry store.
#[async_trait]
pub trait CacheBackend: Send + Sync + 'static {
    /// `memory`, `redis`, `postgres`.
    fn name(&self) -> &'static str;
    /// The live entry under `key` (an expired one is `None`).
    async fn get(&self, key: &str) -> Result<Option<Entry>, BackendError>;
    /// Store (or replace) an entry.
    async fn put(&self, entry: Entry) -> Result<(), BackendError>;
    /// Remove the entry a request stored; returns how many were removed.
    async fn remove_by_request(&self, request_id: &str) -> Result<u64, BackendError>;
    /// Remove every entry stored under a cache key.
    async fn remove_by_namespace(&self, namespace: &str) -> Result<u64, BackendError>;
    /// Remove everything.
    async fn clear(&self) -> Result<u64, BackendError>;
    /// Vectors stored after `cursor` (opaque; `""` = from the start), at most `limit`, with
    /// the cursor to pass next. A backend private to this process returns none (the local
    /// index is fed directly).
    async fn vectors_since(
        &self,
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<VectorRecord>, String), BackendError>;
    /// Entry count and bytes.
    async fn stats(&self) -> Result<BackendStats, BackendError>;
}

/// A vector as the shared backends store it: little-endian `f32` bytes.
pub(crate) fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector read back (`None` for bytes that are not whole `f32`s).
pub(crate) fn vector_of(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}
