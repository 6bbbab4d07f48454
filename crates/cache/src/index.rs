//! The semantic tier's in-process nearest-neighbour index: unit vectors kept per bucket (the
//! tenant, cache key and answer-changing parameters that must match exactly), searched for
//! the most similar live entry above a threshold.
//!
//! Why two strategies: a bucket of a few hundred vectors is scanned exactly faster than any
//! graph can be built or walked, and an exact scan never misses; a bucket that grows past
//! `exact_scan_limit` switches to an HNSW graph (`hnsw_rs`) so a lookup stays sub-linear. The
//! graph only proposes candidates: their similarity and expiry are re-checked against the
//! stored vectors, so a hit is never decided on an approximate distance.
//!
//! Why tombstones: `hnsw_rs` cannot delete a point. A removed or replaced entry leaves its
//! graph node behind, filtered out of every search; the bucket's graph is rebuilt from the
//! live entries once tombstones make up more than half of it, and dropped when the bucket
//! falls back to the exact-scan size.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::hnsw::Hnsw;

/// Links per node and layer (`M`).
const HNSW_MAX_CONNECTIONS: usize = 16;
/// Candidate list width while building the graph.
const HNSW_EF_CONSTRUCTION: usize = 200;
/// Candidate list width while searching it; all of these candidates are re-checked exactly.
const HNSW_EF_SEARCH: usize = 64;
/// Layers the graph may grow (`hnsw_rs` caps this at 16).
const HNSW_MAX_LAYER: usize = 16;

/// The graph's distance: `1 - dot`, for unit vectors the cosine distance. Ours rather than
/// `anndists`' `DistDot`/`DistCosine`, which assert on rounding error (a dot product of two
/// identical unit vectors may come out a hair above 1) and would panic under the lock.
#[derive(Debug, Default, Clone, Copy)]
struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        (1.0 - dot(va, vb)).max(0.0)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Up to `limit` slots of `slots` at least `threshold` similar to `vector`, most similar
/// first (the earlier slot first on a tie).
fn most_similar<'a>(
    slots: impl Iterator<Item = &'a Slot>,
    vector: &[f32],
    threshold: f32,
    limit: usize,
) -> Vec<(&'a Slot, f32)> {
    let mut ranked: Vec<(&Slot, f32)> = Vec::new();
    for slot in slots {
        let similarity = dot(vector, &slot.vector);
        if similarity < threshold {
            continue;
        }
        // Insert after every entry at least as similar: a tie keeps the earlier slot first.
        let at = ranked.partition_point(|(_, s)| *s >= similarity);
        if at < limit {
            ranked.insert(at, (slot, similarity));
            ranked.truncate(limit);
        }
    }
    ranked
}

/// One stored vector.
struct Slot {
    key: String,
    vector: Vec<f32>,
    expires_at_ms: i64,
}

impl Slot {
    fn live_at(&self, now_ms: i64) -> bool {
        self.expires_at_ms > now_ms
    }
}

/// The vectors of one bucket. A slot's position is its id in the graph; `None` is a tombstone.
#[derive(Default)]
struct Bucket {
    slots: Vec<Option<Slot>>,
    by_key: HashMap<String, usize>,
    dimension: usize,
    graph: Option<Hnsw<'static, f32, UnitDot>>,
}

impl Bucket {
    fn live(&self) -> usize {
        self.by_key.len()
    }

    fn tombstones(&self) -> usize {
        self.slots.len() - self.live()
    }

    fn push(&mut self, key: &str, vector: Vec<f32>, expires_at_ms: i64) {
        let id = self.slots.len();
        self.dimension = vector.len();
        if let Some(graph) = &self.graph {
            graph.insert_slice((&vector, id));
        }
        self.by_key.insert(key.to_owned(), id);
        self.slots.push(Some(Slot {
            key: key.to_owned(),
            vector,
            expires_at_ms,
        }));
    }

    fn tombstone(&mut self, key: &str) {
        if let Some(id) = self.by_key.remove(key)
            && let Some(slot) = self.slots.get_mut(id)
        {
            *slot = None;
        }
    }

    /// Keep the representation fitting the size: a graph above the limit, rebuilt when half
    /// of it is tombstones; a plain list at or under it, compacted on the same rule.
    fn maintain(&mut self, exact_scan_limit: usize) {
        let too_many_tombstones = self.tombstones() * 2 > self.slots.len();
        if self.live() > exact_scan_limit {
            if self.graph.is_none() || too_many_tombstones {
                self.compact();
                self.build_graph();
            }
        } else if self.graph.is_some() || too_many_tombstones {
            self.graph = None;
            self.compact();
        }
    }

    /// Drop the tombstones, renumbering the live slots.
    fn compact(&mut self) {
        let slots: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .filter(Option::is_some)
            .collect();
        self.by_key = slots
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.as_ref().map(|s| (s.key.clone(), id)))
            .collect();
        self.slots = slots;
    }

    fn build_graph(&mut self) {
        let graph = Hnsw::new(
            HNSW_MAX_CONNECTIONS,
            self.slots.len().max(1),
            HNSW_MAX_LAYER,
            HNSW_EF_CONSTRUCTION,
            UnitDot,
        );
        let points: Vec<(&[f32], usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.as_ref().map(|s| (s.vector.as_slice(), id)))
            .collect();
        graph.parallel_insert_slice(&points);
        self.graph = Some(graph);
    }

    fn search(
        &self,
        vector: &[f32],
        threshold: f32,
        now_ms: i64,
        limit: usize,
    ) -> Vec<(String, f32)> {
        if vector.len() != self.dimension || limit == 0 {
            return Vec::new();
        }
        let live = |id: usize| {
            self.slots
                .get(id)
                .and_then(Option::as_ref)
                .filter(|s| s.live_at(now_ms))
        };
        let exact = || {
            most_similar(
                self.slots.iter().flatten().filter(|s| s.live_at(now_ms)),
                vector,
                threshold,
                limit,
            )
        };
        let best = match &self.graph {
            Some(graph) => {
                // Unfiltered on purpose: `hnsw_rs`'s filtered search unwraps an empty heap
                // (a panic) when every point it holds is filtered out. Dead candidates are
                // dropped here instead; if all of them are dead (a cluster of tombstones or
                // expired entries not yet purged), the exact scan decides.
                let candidates = graph.search(vector, HNSW_EF_SEARCH, HNSW_EF_SEARCH);
                let mut live_candidates = candidates.iter().filter_map(|n| live(n.d_id)).peekable();
                if live_candidates.peek().is_some() {
                    most_similar(live_candidates, vector, threshold, limit)
                } else {
                    exact()
                }
            }
            None => exact(),
        };
        best.into_iter()
            .map(|(slot, similarity)| (slot.key.clone(), similarity))
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    buckets: HashMap<String, Bucket>,
    /// Which bucket holds each key (keys are unique across buckets).
    bucket_of: HashMap<String, String>,
}

impl Inner {
    fn remove(&mut self, key: &str, exact_scan_limit: usize) {
        let Some(bucket_name) = self.bucket_of.remove(key) else {
            return;
        };
        if let Some(bucket) = self.buckets.get_mut(&bucket_name) {
            bucket.tombstone(key);
            if bucket.live() == 0 {
                self.buckets.remove(&bucket_name);
            } else {
                bucket.maintain(exact_scan_limit);
            }
        }
    }
}

/// Nearest-neighbour search over unit vectors, partitioned by bucket. Thread-safe: searches
/// share a read lock; inserts and removals take the write lock (a graph rebuild runs under
/// it, which is why rebuilds wait for tombstones to reach half the graph).
pub struct VectorIndex {
    exact_scan_limit: usize,
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("exact_scan_limit", &self.exact_scan_limit)
            .field("len", &self.len())
            .finish()
    }
}

impl VectorIndex {
    /// An empty index; buckets holding more than `exact_scan_limit` vectors are searched
    /// through an HNSW graph instead of an exact scan.
    pub fn new(exact_scan_limit: usize) -> Self {
        Self {
            exact_scan_limit,
            inner: RwLock::new(Inner::default()),
        }
    }

    /// Store `vector` (unit length) under `key` in `bucket`, replacing whatever `key` held.
    /// An empty or non-finite vector is not stored. A vector whose length differs from the
    /// bucket's (the embedding model changed) empties the bucket first: the old vectors can
    /// no longer be compared with new queries.
    pub fn insert(&self, bucket: &str, key: &str, vector: Vec<f32>, expires_at_ms: i64) {
        if vector.is_empty() || !vector.iter().all(|x| x.is_finite()) {
            tracing::debug!(key, "cache index: empty or non-finite vector not indexed");
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.remove(key, self.exact_scan_limit);
        let stale_dimension = inner
            .buckets
            .get(bucket)
            .is_some_and(|b| b.live() > 0 && b.dimension != vector.len());
        if stale_dimension && let Some(old) = inner.buckets.remove(bucket) {
            for k in old.by_key.keys() {
                inner.bucket_of.remove(k);
            }
        }
        let b = inner.buckets.entry(bucket.to_owned()).or_default();
        b.push(key, vector, expires_at_ms);
        b.maintain(self.exact_scan_limit);
        inner.bucket_of.insert(key.to_owned(), bucket.to_owned());
    }

    /// The live entry of `bucket` most similar to `vector` (cosine similarity, a dot product
    /// of unit vectors) if that similarity is at least `threshold`: its key and similarity.
    /// Entries whose `expires_at_ms` is not after `now_ms` are skipped.
    pub fn search(
        &self,
        bucket: &str,
        vector: &[f32],
        threshold: f32,
        now_ms: i64,
    ) -> Option<(String, f32)> {
        self.search_ranked(bucket, vector, threshold, now_ms, 1)
            .into_iter()
            .next()
    }

    /// Like [`Self::search`], but up to `limit` entries, most similar first: the candidates a
    /// verifier ([`crate::guard`]) may turn down one after another.
    pub fn search_ranked(
        &self,
        bucket: &str,
        vector: &[f32],
        threshold: f32,
        now_ms: i64,
        limit: usize,
    ) -> Vec<(String, f32)> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner
            .buckets
            .get(bucket)
            .map(|b| b.search(vector, threshold, now_ms, limit))
            .unwrap_or_default()
    }

    /// Forget `key` (whichever bucket holds it).
    pub fn remove(&self, key: &str) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.remove(key, self.exact_scan_limit);
    }

    /// Forget everything.
    pub fn clear(&self) {
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = Inner::default();
    }

    /// The number of entries held (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .bucket_of
            .len()
    }

    /// Whether the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop the entries expired at `now_ms`.
    pub fn purge_expired(&self, now_ms: i64) {
        let mut guard = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let inner = &mut *guard;
        inner.buckets.retain(|_, bucket| {
            let expired: Vec<String> = bucket
                .slots
                .iter()
                .flatten()
                .filter(|s| !s.live_at(now_ms))
                .map(|s| s.key.clone())
                .collect();
            if expired.is_empty() {
                return true;
            }
            for key in &expired {
                bucket.tombstone(key);
                inner.bucket_of.remove(key);
            }
            bucket.maintain(self.exact_scan_limit);
            bucket.live() > 0
        });
    }

    /// Whether `bucket` is currently searched through a graph (for tests and stats).
    pub fn uses_graph(&self, bucket: &str) -> bool {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .buckets
            .get(bucket)
            .is_some_and(|b| b.graph.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000;
    const LATER: i64 = i64::MAX;

    /// A small deterministic generator (splitmix64), so the tests need no `rand`.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in (0, 1].
        fn unit(&mut self) -> f64 {
            ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
        }

        /// A direction drawn uniformly on the sphere (Gaussian coordinates, normalised).
        fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
            let v: Vec<f32> = (0..dim)
                .map(|_| {
                    let (u1, u2) = (self.unit(), self.unit());
                    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                })
                .collect();
            unit(&v)
        }

        /// A unit vector near `v` (`spread` scales a random direction added to it).
        fn near(&mut self, v: &[f32], spread: f32) -> Vec<f32> {
            let noise = self.unit_vector(v.len());
            unit(
                &v.iter()
                    .zip(&noise)
                    .map(|(a, n)| a + spread * n)
                    .collect::<Vec<_>>(),
            )
        }
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        crate::embed::normalize(&mut v);
        v
    }

    /// The key `index` finds in `bucket` for the direction `v`.
    fn find(
        index: &VectorIndex,
        bucket: &str,
        v: &[f32],
        threshold: f32,
        now: i64,
    ) -> Option<String> {
        index
            .search(bucket, &unit(v), threshold, now)
            .map(|(k, _)| k)
    }

    #[test]
    fn ranked_search_lists_candidates_above_the_threshold_most_similar_first() {
        let index = VectorIndex::new(100);
        index.insert("b", "far", unit(&[1.0, 1.0, 0.0]), LATER);
        index.insert("b", "near", unit(&[1.0, 0.1, 0.0]), LATER);
        index.insert("b", "mid", unit(&[1.0, 0.5, 0.0]), LATER);
        index.insert("b", "below", unit(&[0.0, 0.0, 1.0]), LATER);
        index.insert("b", "gone", unit(&[1.0, 0.0, 0.0]), NOW);
        let keys = |limit| -> Vec<String> {
            index
                .search_ranked("b", &unit(&[1.0, 0.0, 0.0]), 0.5, NOW, limit)
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(keys(4), ["near", "mid", "far"]);
        assert_eq!(keys(2), ["near", "mid"]);
        assert!(keys(0).is_empty());
        assert!(
            index
                .search_ranked("other", &unit(&[1.0, 0.0, 0.0]), 0.5, NOW, 4)
                .is_empty()
        );
    }

    #[test]
    fn exact_scan_returns_the_nearest() {
        fn shared_between_threads<T: Send + Sync>() {}
        shared_between_threads::<VectorIndex>();
        let index = VectorIndex::new(100);
        index.insert("b", "x", unit(&[1.0, 0.0, 0.0]), LATER);
        index.insert("b", "xy", unit(&[1.0, 1.0, 0.0]), LATER);
        index.insert("b", "z", unit(&[0.0, 0.0, 1.0]), LATER);
        let (key, sim) = index
            .search("b", &unit(&[1.0, 0.2, 0.0]), 0.5, NOW)
            .unwrap();
        assert_eq!(key, "x");
        assert!((sim - unit(&[1.0, 0.2, 0.0])[0]).abs() < 1e-6);
        assert_eq!(
            find(&index, "b", &[0.1, 0.0, 1.0], 0.5, NOW).as_deref(),
            Some("z")
        );
        assert!(!index.uses_graph("b"));
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn threshold_is_respected() {
        let index = VectorIndex::new(100);
        index.insert("b", "x", unit(&[1.0, 0.0]), LATER);
        // cos 45° ≈ 0.707
        assert_eq!(find(&index, "b", &[1.0, 1.0], 0.71, NOW), None);
        assert_eq!(
            find(&index, "b", &[1.0, 1.0], 0.70, NOW).as_deref(),
            Some("x")
        );
        assert_eq!(
            find(&index, "b", &[1.0, 0.0], 0.9999, NOW).as_deref(),
            Some("x")
        );
    }

    #[test]
    fn buckets_are_separate() {
        let index = VectorIndex::new(100);
        index.insert("tenant-a", "x", unit(&[1.0, 0.0]), LATER);
        assert_eq!(find(&index, "tenant-b", &[1.0, 0.0], 0.5, NOW), None);
        index.insert("tenant-b", "y", unit(&[0.0, 1.0]), LATER);
        assert_eq!(
            find(&index, "tenant-b", &[1.0, 0.1], 0.0, NOW).as_deref(),
            Some("y")
        );
    }

    #[test]
    fn expired_entries_are_skipped_and_purged() {
        let index = VectorIndex::new(100);
        index.insert("b", "old", unit(&[1.0, 0.0]), NOW);
        index.insert("b", "fresh", unit(&[1.0, 0.3]), NOW + 10);
        assert_eq!(
            find(&index, "b", &[1.0, 0.0], 0.5, NOW - 1).as_deref(),
            Some("old")
        );
        // `expires_at_ms == now` is expired.
        assert_eq!(
            find(&index, "b", &[1.0, 0.0], 0.5, NOW).as_deref(),
            Some("fresh")
        );
        assert_eq!(find(&index, "b", &[1.0, 0.0], 0.5, NOW + 10), None);
        index.purge_expired(NOW);
        assert_eq!(index.len(), 1);
        index.purge_expired(NOW + 10);
        assert!(index.is_empty());
    }

    #[test]
    fn insert_replaces_an_existing_key() {
        let index = VectorIndex::new(100);
        index.insert("b", "k", unit(&[1.0, 0.0]), LATER);
        index.insert("b", "k", unit(&[0.0, 1.0]), LATER);
        assert_eq!(index.len(), 1);
        assert_eq!(find(&index, "b", &[1.0, 0.0], 0.5, NOW), None);
        assert_eq!(
            find(&index, "b", &[0.0, 1.0], 0.5, NOW).as_deref(),
            Some("k")
        );
        // Moving a key to another bucket leaves nothing behind in the first.
        index.insert("other", "k", unit(&[0.0, 1.0]), LATER);
        assert_eq!(index.len(), 1);
        assert_eq!(find(&index, "b", &[0.0, 1.0], 0.5, NOW), None);
    }

    #[test]
    fn remove_and_clear() {
        let index = VectorIndex::new(100);
        index.insert("b", "x", unit(&[1.0, 0.0]), LATER);
        index.insert("b", "y", unit(&[0.0, 1.0]), LATER);
        index.remove("x");
        index.remove("never-there");
        assert_eq!(index.len(), 1);
        assert_eq!(
            find(&index, "b", &[1.0, 0.1], 0.0, NOW).as_deref(),
            Some("y")
        );
        index.clear();
        assert!(index.is_empty());
        assert_eq!(find(&index, "b", &[0.0, 1.0], 0.0, NOW), None);
    }

    #[test]
    fn bad_vectors_and_a_new_dimension() {
        let index = VectorIndex::new(100);
        index.insert("b", "nan", vec![f32::NAN, 0.0], LATER);
        index.insert("b", "empty", Vec::new(), LATER);
        assert!(index.is_empty());
        index.insert("b", "two", unit(&[1.0, 0.0]), LATER);
        // A query of another length matches nothing.
        assert_eq!(find(&index, "b", &[1.0, 0.0, 0.0], 0.0, NOW), None);
        // A stored vector of another length (the model changed) empties the bucket.
        index.insert("b", "three", unit(&[1.0, 0.0, 0.0]), LATER);
        assert_eq!(index.len(), 1);
        assert_eq!(
            find(&index, "b", &[1.0, 0.0, 0.0], 0.5, NOW).as_deref(),
            Some("three")
        );
    }

    #[test]
    fn a_large_bucket_uses_hnsw_and_agrees_with_the_exact_scan() {
        const DIM: usize = 32;
        let mut rng = Rng(42);
        let graph = VectorIndex::new(50);
        let exact = VectorIndex::new(usize::MAX);
        let vectors: Vec<Vec<f32>> = (0..2_000).map(|_| rng.unit_vector(DIM)).collect();
        for (i, v) in vectors.iter().enumerate() {
            graph.insert("big", &format!("k{i}"), v.clone(), LATER);
            exact.insert("big", &format!("k{i}"), v.clone(), LATER);
        }
        assert!(graph.uses_graph("big") && !exact.uses_graph("big"));
        assert_eq!(graph.len(), 2_000);

        // A planted near-duplicate of a fresh query is found, with its exact similarity.
        let query = rng.unit_vector(DIM);
        let planted = rng.near(&query, 0.05);
        let expected = dot(&query, &planted);
        graph.insert("big", "planted", planted, LATER);
        let (key, sim) = graph.search("big", &query, 0.95, NOW).unwrap();
        assert_eq!(key, "planted");
        assert!((sim - expected).abs() < 1e-6, "{sim} vs {expected}");
        graph.remove("planted");

        let agreement = |rng: &mut Rng| {
            let queries: Vec<Vec<f32>> = (0..100).map(|_| rng.unit_vector(DIM)).collect();
            queries
                .iter()
                .filter(|q| {
                    let want = find(&exact, "big", q, -1.0, NOW);
                    assert!(want.is_some());
                    find(&graph, "big", q, -1.0, NOW) == want
                })
                .count()
        };
        let agreed = agreement(&mut rng);
        eprintln!("HNSW agrees with the exact scan on {agreed}/100 queries");
        assert!(
            agreed >= 95,
            "HNSW agreed with the exact scan on {agreed}/100 queries"
        );

        // Deleting most of the bucket leaves tombstones, then rebuilds the graph.
        for i in (0..2_000).filter(|i| i % 4 != 0) {
            graph.remove(&format!("k{i}"));
            exact.remove(&format!("k{i}"));
        }
        assert_eq!(graph.len(), 500);
        assert!(graph.uses_graph("big"));
        let agreed = agreement(&mut rng);
        eprintln!("after deletions: {agreed}/100");
        assert!(agreed >= 95, "after deletions: {agreed}/100");
        {
            let inner = graph.inner.read().unwrap();
            let bucket = &inner.buckets["big"];
            assert!(bucket.tombstones() * 2 <= bucket.slots.len());
        }

        // Expired entries are never returned from the graph's candidates.
        let q = vectors[0].clone();
        graph.insert("big", "k0", q.clone(), NOW);
        assert_ne!(find(&graph, "big", &q, -1.0, NOW).as_deref(), Some("k0"));
        assert_eq!(
            find(&graph, "big", &q, 0.999, NOW - 1).as_deref(),
            Some("k0")
        );

        // A query whose graph neighbourhood is all expired (more near-duplicates than the
        // search width, not yet purged) still finds the live entry behind them.
        let q = rng.unit_vector(DIM);
        for i in 0..(2 * HNSW_EF_SEARCH) {
            graph.insert("big", &format!("stale{i}"), rng.near(&q, 0.01), NOW);
        }
        graph.insert("big", "live", rng.near(&q, 0.2), LATER);
        assert_eq!(find(&graph, "big", &q, 0.9, NOW).as_deref(), Some("live"));
        graph.purge_expired(NOW); // the stale ones and "k0"
        assert_eq!(graph.len(), 500);
        assert_eq!(find(&graph, "big", &q, 0.9, NOW).as_deref(), Some("live"));
        graph.remove("live");

        // Falling back under the limit drops the graph.
        for i in (0..2_000).filter(|i| i % 4 == 0).skip(40) {
            graph.remove(&format!("k{i}"));
        }
        assert_eq!(graph.len(), 39); // "k0" was purged
        assert!(!graph.uses_graph("big"));
        assert_eq!(
            find(&graph, "big", &vectors[4], 0.999, NOW).as_deref(),
            Some("k4")
        );
    }
}
