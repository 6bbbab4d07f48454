//! Handles of the series one `(provider, model)` touches on every request, looked up once.
//!
//! Why: recording a request touched ~12 metric families, each a label-vector clone, a SipHash
//! of it and a lock; in `perf` that was ~6% of the gateway's CPU per request. prometheus-client
//! metrics are shared handles (`Arc` inside), so a clone taken once keeps counting into the same
//! series. Each handle is created on first use only, so the exposition shows exactly the series
//! it showed before. Only label sets without client-supplied extra labels are cached (those are
//! unbounded), and at most [`MAX_CACHED`] of them.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, RwLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

/// Most label sets kept; past this, lookups go through the families as before.
pub(super) const MAX_CACHED: usize = 4096;

/// The hot series of one label set (`provider`, `model`).
#[derive(Default)]
pub(super) struct Series {
    pub requests_success: OnceLock<Counter>,
    pub requests_error: OnceLock<Counter>,
    pub success: OnceLock<Counter>,
    pub errors: OnceLock<Counter>,
    pub duration: OnceLock<Histogram>,
    pub upstream_2xx: OnceLock<Counter>,
    pub upstream_latency: OnceLock<Histogram>,
    pub input_tokens: OnceLock<Counter>,
    pub output_tokens: OnceLock<Counter>,
    /// `tokens{type}` for input, output, cached, reasoning.
    pub tokens: [OnceLock<Counter>; 4],
    pub cost_total: OnceLock<Counter<f64, AtomicU64>>,
    pub cost_dollars: OnceLock<Counter<f64, AtomicU64>>,
    pub cost_per_request: OnceLock<Histogram>,
    pub unpriced: OnceLock<Counter>,
    pub ttft: OnceLock<Histogram>,
}

/// Label set → its series: provider, then model (both looked up by `&str`, no allocation).
#[derive(Default)]
pub(super) struct SeriesCache {
    map: RwLock<HashMap<String, HashMap<String, Arc<Series>>>>,
    len: std::sync::atomic::AtomicUsize,
}

impl SeriesCache {
    /// The series of `(provider, model)`, created on first use; `None` once the cache is full.
    pub fn get(&self, provider: &str, model: &str) -> Option<Arc<Series>> {
        if let Ok(map) = self.map.read()
            && let Some(s) = map.get(provider).and_then(|models| models.get(model))
        {
            return Some(Arc::clone(s));
        }
        use std::sync::atomic::Ordering::Relaxed;
        if self.len.load(Relaxed) >= MAX_CACHED {
            return None;
        }
        let mut map = self.map.write().ok()?;
        let models = map.entry(provider.to_owned()).or_default();
        if let Some(s) = models.get(model) {
            return Some(Arc::clone(s));
        }
        self.len.fetch_add(1, Relaxed);
        let s = Arc::new(Series::default());
        models.insert(model.to_owned(), Arc::clone(&s));
        Some(s)
    }
}
