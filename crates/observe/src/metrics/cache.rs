//! The response cache's series: hits by type, misses, the hit ratio, the dollars hits saved
//! (from each request's record), and the cache's size and evictions (read at scrape time).
//!
//! Why beside the request series: a hit is a request like any other, counted from the same
//! record, so the cache crate needs no metrics of its own.

use super::{Labels, Metrics};

impl Metrics {
    /// A cache lookup's result (`hit-exact`, `hit-semantic`, `miss`) and what a hit saved.
    pub(super) fn cache_result(
        &self,
        result: &str,
        saved: Option<f64>,
        labels: impl Fn() -> Labels,
    ) {
        use std::sync::atomic::Ordering::Relaxed;
        let [hits, lookups, _] = &self.cache_totals;
        let total = lookups.fetch_add(1, Relaxed) + 1;
        let hit_count = match result.strip_prefix("hit-") {
            Some(kind) => {
                self.cache_hits
                    .get_or_create(&Self::with(labels(), "type", kind))
                    .inc();
                if let Some(s) = saved {
                    self.cache_saved.get_or_create(&labels()).inc_by(s);
                }
                hits.fetch_add(1, Relaxed) + 1
            }
            None => {
                self.cache_misses.get_or_create(&labels()).inc();
                hits.load(Relaxed)
            }
        };
        self.cache_hit_ratio
            .get_or_create(&Vec::new())
            .set(hit_count as f64 / total as f64);
    }

    /// The cache's size and its evictions so far (read at scrape time).
    pub fn cache_gauges(&self, bytes: u64, evictions: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.cache_size
            .get_or_create(&Vec::new())
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        let before = self.cache_totals[2].swap(evictions, Relaxed);
        if evictions > before {
            self.cache_evictions
                .get_or_create(&Vec::new())
                .inc_by(evictions - before);
        }
    }
}
