//! Prometheus metrics: one registry, families named as Bifrost documents them (prefix
//! configurable: `heimdall` by default, `bifrost` reproduces Bifrost's names), updated from the
//! same per-request facts the request log records, plus gauges read from the runtime at scrape
//! time (provider health, queue depth, log-writer queue).
//!
//! Why bounded labels: provider, model, status class and error type only; no key or virtual-key
//! label by default. Extra labels come from `x-bf-prom-<name>` / `x-bf-dim-<name>` request
//! headers only for names listed in `client.prometheus_labels`.

mod cache;
mod mcp;

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use heimdall_core::{RequestContext, Runtime};
use heimdall_store::LogRecord;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::labels::{KnownModels, ValueBudget};
use super::series::SeriesCache;

/// A label set (name, value) pairs.
pub type Labels = Vec<(String, String)>;

type Counters = Family<Labels, Counter>;
type FloatCounters = Family<Labels, Counter<f64, AtomicU64>>;
type Gauges = Family<Labels, Gauge>;
type FloatGauges = Family<Labels, Gauge<f64, AtomicU64>>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_buckets() -> Histogram {
    // 1 ms … ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn overhead_buckets() -> Histogram {
    // 5 µs … ~80 ms: the gateway's own time is measured in microseconds.
    Histogram::new(exponential_buckets(0.000_005, 2.0, 15))
}

fn cost_buckets() -> Histogram {
    // $0.00001 … ~$10
    Histogram::new(exponential_buckets(0.000_01, 4.0, 11))
}

/// Every metric family the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// (exposed name, type, help) of every family, so an empty one is still declared.
    described: Vec<(String, &'static str, &'static str)>,
    extra_labels: Vec<String>,
    /// Providers and models that may be label values (others are `other`).
    known: KnownModels,
    /// The values extra labels have taken, bounded per label.
    extra_values: ValueBudget,
    http_requests: Counters,
    http_duration: Histograms,
    requests: Counters,
    success_requests: Counters,
    error_requests: Counters,
    request_errors: Counters,
    request_duration: Histograms,
    upstream_requests: Counters,
    upstream_latency: Histograms,
    upstream_errors: Counters,
    input_tokens: Counters,
    output_tokens: Counters,
    tokens: Counters,
    cost_total: FloatCounters,
    cost_dollars: FloatCounters,
    cost_per_request: Histograms,
    unpriced: Counters,
    cache_hits: Counters,
    cache_misses: Counters,
    cache_hit_ratio: FloatGauges,
    cache_size: Gauges,
    cache_evictions: Counters,
    cache_saved: FloatCounters,
    /// (hits, lookups) for the hit ratio; evictions reported so far.
    cache_totals: [std::sync::atomic::AtomicU64; 3],
    /// MCP tool calls and connections.
    mcp: mcp::McpSeries,
    fallbacks: Counters,
    retries: Counters,
    key_rotations: Counters,
    provider_health: Gauges,
    healthy_keys: Gauges,
    queue_depth: Gauges,
    queue_wait: Histograms,
    ttft: Histograms,
    inter_chunk: Histograms,
    overhead: Histograms,
    log_queue: Gauges,
    log_dropped: Gauges,
    /// Handles of the per-(provider, model) series every request touches.
    hot: SeriesCache,
}

/// Registers families and remembers how each is exposed.
struct Describer<'r> {
    registry: &'r mut Registry,
    prefix: String,
    described: Vec<(String, &'static str, &'static str)>,
}

impl<'r> Describer<'r> {
    fn new(registry: &'r mut Registry, prefix: &str) -> Self {
        Self {
            registry,
            prefix: prefix.to_owned(),
            described: Vec::new(),
        }
    }

    fn add(
        &mut self,
        name: &str,
        help: &'static str,
        kind: &'static str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        let base = if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}_{name}", self.prefix)
        };
        let exposed = if kind == "counter" {
            format!("{base}_total")
        } else {
            base
        };
        self.described.push((exposed, kind, help));
        self.registry.register(name, help, metric);
    }
}

/// The counter of `family` at the labels `labels()` makes: from `cell` when cached (filled on
/// first use), else looked up in the family.
fn counter<N, A>(
    cell: Option<&OnceLock<Counter<N, A>>>,
    family: &Family<Labels, Counter<N, A>>,
    labels: impl FnOnce() -> Labels,
) -> Counter<N, A>
where
    Counter<N, A>: Clone + Default,
{
    match cell {
        Some(c) => c
            .get_or_init(|| family.get_or_create_owned(&labels()))
            .clone(),
        None => family.get_or_create_owned(&labels()),
    }
}

/// [`counter`] for histograms.
fn histogram(
    cell: Option<&OnceLock<Histogram>>,
    family: &Histograms,
    labels: impl FnOnce() -> Labels,
) -> Histogram {
    match cell {
        Some(h) => h
            .get_or_init(|| family.get_or_create_owned(&labels()))
            .clone(),
        None => family.get_or_create_owned(&labels()),
    }
}

fn hist(constructor: fn() -> Histogram) -> Histograms {
    Family::new_with_constructor(constructor)
}

impl Metrics {
    /// A registry with every family, names prefixed with `prefix`.
    pub fn new(prefix: &str, extra_labels: Vec<String>, known: KnownModels) -> Self {
        let mut registry = if prefix.is_empty() {
            Registry::default()
        } else {
            Registry::with_prefix(prefix)
        };
        let m = Self {
            registry: Registry::default(),
            described: Vec::new(),
            hot: SeriesCache::default(),
            extra_labels,
            known,
            extra_values: ValueBudget::default(),
            http_requests: Counters::default(),
            http_duration: hist(latency_buckets),
            requests: Counters::default(),
            success_requests: Counters::default(),
            error_requests: Counters::default(),
            request_errors: Counters::default(),
            request_duration: hist(latency_buckets),
            upstream_requests: Counters::default(),
            upstream_latency: hist(latency_buckets),
            upstream_errors: Counters::default(),
            input_tokens: Counters::default(),
            output_tokens: Counters::default(),
            tokens: Counters::default(),
            cost_total: FloatCounters::default(),
            cost_dollars: FloatCounters::default(),
            cost_per_request: hist(cost_buckets),
            unpriced: Counters::default(),
            cache_hits: Counters::default(),
            cache_misses: Counters::default(),
            cache_hit_ratio: FloatGauges::default(),
            cache_size: Gauges::default(),
            cache_evictions: Counters::default(),
            cache_saved: FloatCounters::default(),
            cache_totals: Default::default(),
            mcp: mcp::McpSeries::default(),
            fallbacks: Counters::default(),
            retries: Counters::default(),
            key_rotations: Counters::default(),
            provider_health: Gauges::default(),
            healthy_keys: Gauges::default(),
            queue_depth: Gauges::default(),
            queue_wait: hist(overhead_buckets),
            ttft: hist(latency_buckets),
            inter_chunk: hist(latency_buckets),
            overhead: hist(overhead_buckets),
            log_queue: Gauges::default(),
            log_dropped: Gauges::default(),
        };
        let mut b = Describer::new(&mut registry, prefix);
        b.add(
            "http_requests",
            "HTTP requests by route and status class",
            "counter",
            m.http_requests.clone(),
        );
        b.add(
            "http_request_duration_seconds",
            "HTTP request duration by route",
            "histogram",
            m.http_duration.clone(),
        );
        b.add(
            "requests",
            "Requests by provider, model and status (success or error)",
            "counter",
            m.requests.clone(),
        );
        b.add(
            "success_requests",
            "Successful requests",
            "counter",
            m.success_requests.clone(),
        );
        b.add(
            "error_requests",
            "Failed requests",
            "counter",
            m.error_requests.clone(),
        );
        b.add(
            "request_errors",
            "Failed requests by error type",
            "counter",
            m.request_errors.clone(),
        );
        b.add(
            "request_duration_seconds",
            "End-to-end request latency",
            "histogram",
            m.request_duration.clone(),
        );
        b.add(
            "upstream_requests",
            "Upstream attempts by provider, model and status class",
            "counter",
            m.upstream_requests.clone(),
        );
        b.add(
            "upstream_latency_seconds",
            "Upstream attempt latency (to first chunk for streams)",
            "histogram",
            m.upstream_latency.clone(),
        );
        b.add(
            "upstream_errors",
            "Failed upstream attempts by error type",
            "counter",
            m.upstream_errors.clone(),
        );
        b.add(
            "input_tokens",
            "Prompt tokens",
            "counter",
            m.input_tokens.clone(),
        );
        b.add(
            "output_tokens",
            "Completion tokens",
            "counter",
            m.output_tokens.clone(),
        );
        b.add(
            "tokens",
            "Tokens by type (input, output, cached, reasoning)",
            "counter",
            m.tokens.clone(),
        );
        b.add("cost", "Spend in USD", "counter", m.cost_total.clone());
        b.add(
            "cost_dollars",
            "Spend in USD (Bifrost's name)",
            "counter",
            m.cost_dollars.clone(),
        );
        b.add(
            "cost_per_request",
            "Cost of priced requests in USD",
            "histogram",
            m.cost_per_request.clone(),
        );
        b.add(
            "unpriced_requests",
            "Requests whose model has no price",
            "counter",
            m.unpriced.clone(),
        );
        b.add("cache_hits", "Cache hits", "counter", m.cache_hits.clone());
        b.add(
            "cache_misses",
            "Cache misses",
            "counter",
            m.cache_misses.clone(),
        );
        b.add(
            "cache_hit_ratio",
            "Cache hit ratio (0-1)",
            "gauge",
            m.cache_hit_ratio.clone(),
        );
        b.add(
            "cache_size_bytes",
            "Cache size in bytes",
            "gauge",
            m.cache_size.clone(),
        );
        b.add(
            "cache_evictions",
            "Cache evictions",
            "counter",
            m.cache_evictions.clone(),
        );
        b.add(
            "cache_saved_dollars",
            "USD that cache hits saved (the price of the provider calls they replaced)",
            "counter",
            m.cache_saved.clone(),
        );
        m.mcp.register(&mut b);
        b.add(
            "fallback_triggered",
            "Fallbacks from one target to the next",
            "counter",
            m.fallbacks.clone(),
        );
        b.add(
            "retries",
            "Retries after failed attempts",
            "counter",
            m.retries.clone(),
        );
        b.add(
            "key_rotations",
            "Rotations away from a rate-limited or refused key",
            "counter",
            m.key_rotations.clone(),
        );
        b.add(
            "provider_health",
            "Provider health (1 healthy, 0 circuit open)",
            "gauge",
            m.provider_health.clone(),
        );
        b.add(
            "provider_healthy_keys",
            "Keys of a provider whose circuit is closed",
            "gauge",
            m.healthy_keys.clone(),
        );
        b.add(
            "queue_depth",
            "Requests waiting for a provider slot",
            "gauge",
            m.queue_depth.clone(),
        );
        b.add(
            "queue_wait_seconds",
            "Time queued for a provider slot",
            "histogram",
            m.queue_wait.clone(),
        );
        b.add(
            "stream_time_to_first_token_seconds",
            "Time from request to first streamed chunk",
            "histogram",
            m.ttft.clone(),
        );
        b.add(
            "stream_inter_chunk_seconds",
            "Mean time between streamed chunks, one observation per stream",
            "histogram",
            m.inter_chunk.clone(),
        );
        b.add(
            "gateway_overhead_seconds",
            "Time spent in the gateway itself (request time minus upstream and queue waits)",
            "histogram",
            m.overhead.clone(),
        );
        b.add(
            "log_writer_queue_depth",
            "Log records waiting to be written",
            "gauge",
            m.log_queue.clone(),
        );
        b.add(
            "log_writer_dropped",
            "Log records dropped: the writer queue was full, or the store refused them (cumulative)",
            "gauge",
            m.log_dropped.clone(),
        );
        let described = b.described;
        Self {
            registry,
            described,
            ..m
        }
    }

    /// `provider`, `model` plus the allowed extra labels from the request's headers.
    fn labels(&self, ctx: &RequestContext, provider: &str, model: &str) -> Labels {
        let mut l = vec![
            ("provider".to_owned(), provider.to_owned()),
            ("model".to_owned(), model.to_owned()),
        ];
        for name in &self.extra_labels {
            let value = ctx
                .headers
                .get(&format!("x-bf-prom-{name}"))
                .or_else(|| ctx.headers.get(&format!("x-bf-dim-{name}")));
            let value = value.map_or_else(String::new, |v| self.extra_values.admit(name, v));
            l.push((name.clone(), value));
        }
        l
    }

    fn with(mut l: Labels, name: &str, value: &str) -> Labels {
        l.push((name.to_owned(), value.to_owned()));
        l
    }

    /// Record one finished request (the same facts as its log record).
    pub fn record(&self, ctx: &RequestContext, r: &LogRecord, cost: Option<f64>) {
        // A request no provider took (unknown model, bad input) is labelled `none`/`none`: the
        // requested name is client input and would make label values unbounded.
        // Unknown providers and models (client input) are `other` (see `labels`).
        let provider = self.known.provider(r.provider.as_deref().unwrap_or("none"));
        let model = match (&r.provider, &r.model) {
            (Some(_), Some(m)) => self.known.model(m),
            _ => "none",
        };
        let hot = if self.extra_labels.is_empty() {
            self.hot.get(provider, model)
        } else {
            None
        };
        let hot = hot.as_deref();
        // The label vector is built only when a series is not cached yet.
        let labels = || self.labels(ctx, provider, model);
        let status = if r.success { "success" } else { "error" };
        let (requests_cell, outcome_cell) = match hot {
            Some(s) if r.success => (Some(&s.requests_success), Some(&s.success)),
            Some(s) => (Some(&s.requests_error), Some(&s.errors)),
            None => (None, None),
        };
        counter(requests_cell, &self.requests, || {
            Self::with(labels(), "status", status)
        })
        .inc();
        if r.success {
            counter(outcome_cell, &self.success_requests, labels).inc();
        } else {
            counter(outcome_cell, &self.error_requests, labels).inc();
            let kind = r.error_type.as_deref().unwrap_or("unknown");
            self.request_errors
                .get_or_create(&Self::with(labels(), "error_type", kind))
                .inc();
        }
        histogram(hot.map(|s| &s.duration), &self.request_duration, labels)
            .observe(r.latency_ms / 1000.0);
        self.overhead
            .get_or_create(&Vec::new())
            .observe(r.overhead_ms / 1000.0);
        if !ctx.queue_time.is_zero() {
            self.queue_wait
                .get_or_create(&vec![("provider".to_owned(), provider.to_owned())])
                .observe(ctx.queue_time.as_secs_f64());
        }
        for a in &ctx.trail {
            // The usual attempt: the provider and model that answered, with a 2xx.
            let (a_provider, a_model) =
                (self.known.provider(&a.provider), self.known.model(&a.model));
            let same = a_provider == provider && a_model == model;
            let cached = hot.filter(|_| same);
            let al = || self.labels(ctx, a_provider, a_model);
            if a.status / 100 == 2 {
                counter(
                    cached.map(|s| &s.upstream_2xx),
                    &self.upstream_requests,
                    || Self::with(al(), "status_class", "2xx"),
                )
                .inc();
            } else {
                let class = format!("{}xx", a.status / 100);
                self.upstream_requests
                    .get_or_create(&Self::with(al(), "status_class", &class))
                    .inc();
            }
            histogram(
                cached.map(|s| &s.upstream_latency),
                &self.upstream_latency,
                al,
            )
            .observe(a.latency.as_secs_f64());
            if let Some(kind) = a.error {
                self.upstream_errors
                    .get_or_create(&Self::with(al(), "error_type", kind))
                    .inc();
            }
        }
        // A fallback served (or was last tried): from the requested target's provider to the
        // provider of the target that answered.
        if r.fallback_index > 0 {
            let requested = self.known.reference(&r.model_requested);
            let from = r
                .model_requested
                .split_once('/')
                .map_or("unknown", |(p, _)| self.known.provider(p));
            let fl = vec![
                ("model".to_owned(), requested.to_owned()),
                ("from".to_owned(), from.to_owned()),
                ("to".to_owned(), provider.to_owned()),
            ];
            self.fallbacks.get_or_create(&fl).inc();
        }
        if r.retries > 0 {
            self.retries
                .get_or_create(&labels())
                .inc_by(r.retries as u64);
        }
        if ctx.key_rotations > 0 {
            self.key_rotations
                .get_or_create(&vec![("provider".to_owned(), provider.to_owned())])
                .inc_by(u64::from(ctx.key_rotations));
        }
        counter(hot.map(|s| &s.input_tokens), &self.input_tokens, labels)
            .inc_by(r.prompt_tokens.max(0) as u64);
        counter(hot.map(|s| &s.output_tokens), &self.output_tokens, labels)
            .inc_by(r.completion_tokens.max(0) as u64);
        let tokens = [
            ("input", r.prompt_tokens),
            ("output", r.completion_tokens),
            ("cached", r.cached_tokens),
            ("reasoning", r.reasoning_tokens),
        ];
        for (i, (kind, n)) in tokens.into_iter().enumerate() {
            if n > 0 {
                counter(hot.map(|s| &s.tokens[i]), &self.tokens, || {
                    Self::with(labels(), "type", kind)
                })
                .inc_by(n as u64);
            }
        }
        match cost {
            Some(c) => {
                counter(hot.map(|s| &s.cost_total), &self.cost_total, labels).inc_by(c);
                counter(hot.map(|s| &s.cost_dollars), &self.cost_dollars, labels).inc_by(c);
                histogram(
                    hot.map(|s| &s.cost_per_request),
                    &self.cost_per_request,
                    labels,
                )
                .observe(c);
            }
            None if r.unpriced => {
                counter(hot.map(|s| &s.unpriced), &self.unpriced, labels).inc();
            }
            None => {}
        }
        if let Some(ttft) = r.ttft_ms {
            histogram(hot.map(|s| &s.ttft), &self.ttft, labels).observe(ttft / 1000.0);
        }
        if let Some(result) = r.cache.as_deref() {
            self.cache_result(result, r.cost_saved, labels);
        }
    }

    /// One observation of a stream's mean inter-chunk time.
    pub fn inter_chunk(&self, ctx: &RequestContext, provider: &str, model: &str, seconds: f64) {
        self.inter_chunk
            .get_or_create(&self.labels(ctx, provider, model))
            .observe(seconds);
    }

    /// One HTTP request (any route, including 4xx before the engine).
    pub fn http(&self, route: &str, status: u16, seconds: f64) {
        let class = format!("{}xx", status / 100);
        self.http_requests
            .get_or_create(&vec![
                ("route".to_owned(), route.to_owned()),
                ("status_class".to_owned(), class),
            ])
            .inc();
        self.http_duration
            .get_or_create(&vec![("route".to_owned(), route.to_owned())])
            .observe(seconds);
    }

    /// Scrape-time gauges from the runtime and the log writer, then the text exposition.
    pub fn render(&self, rt: &Runtime, log_pending: u64, log_dropped: u64) -> String {
        for (name, entry) in &rt.providers {
            let health = &rt.config.load_balancing.health;
            let l = vec![("provider".to_owned(), name.clone())];
            self.provider_health
                .get_or_create(&l)
                .set(i64::from(entry.is_available(health)));
            self.healthy_keys
                .get_or_create(&l)
                .set(entry.healthy_keys(health) as i64);
            self.queue_depth
                .get_or_create(&l)
                .set(entry.limiter.waiting() as i64);
        }
        self.log_queue
            .get_or_create(&Vec::new())
            .set(log_pending as i64);
        self.log_dropped
            .get_or_create(&Vec::new())
            .set(log_dropped as i64);
        let mut om = String::new();
        if let Err(e) = encode(&mut om, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        let mut out = to_prometheus_text(&om);
        // Families with no series yet are still declared, so dashboards and checks see the
        // whole set from the first scrape.
        for (name, kind, help) in &self.described {
            if !out.contains(&format!("# TYPE {name} ")) {
                out.push_str(&format!("# HELP {name} {help}.\n# TYPE {name} {kind}\n"));
            }
        }
        out
    }
}

/// OpenMetrics text (what the client library writes) → the classic Prometheus text format
/// every scraper and `promtool` read: counters are declared under their `_total` sample name,
/// and the OpenMetrics-only `# UNIT` / `# EOF` lines go.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + counters.len() * 16);
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match rewritten {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use heimdall_core::Operation;

    use super::*;

    fn exposition(m: &Metrics) -> String {
        let mut om = String::new();
        encode(&mut om, &m.registry).unwrap();
        om
    }

    fn finished(success: bool) -> LogRecord {
        LogRecord {
            provider: Some("p".into()),
            model: Some("m".into()),
            success,
            status: if success { 200 } else { 502 },
            error_type: (!success).then(|| "upstream_server_error".to_owned()),
            prompt_tokens: 10,
            completion_tokens: 5,
            latency_ms: 12.0,
            ..LogRecord::default()
        }
    }

    /// The cached series count into the same series the families expose, for both outcomes,
    /// with and without client-chosen extra labels (which bypass the cache).
    #[test]
    fn cached_series_count_like_the_families() {
        for extra in [vec![], vec!["team".to_owned()]] {
            let m = Metrics::new("t", extra.clone(), KnownModels::any());
            let mut ctx = RequestContext::new("r".into(), Operation::Chat, "p/m".into());
            ctx.headers.insert("x-bf-prom-team".into(), "a".into());
            for _ in 0..3 {
                m.record(&ctx, &finished(true), Some(0.5));
            }
            m.record(&ctx, &finished(false), None);
            let text = exposition(&m);
            let team = if extra.is_empty() { "" } else { ",team=\"a\"" };
            for (series, value) in [
                (
                    format!(
                        "t_requests_total{{provider=\"p\",model=\"m\"{team},status=\"success\"}}"
                    ),
                    "3",
                ),
                (
                    format!(
                        "t_requests_total{{provider=\"p\",model=\"m\"{team},status=\"error\"}}"
                    ),
                    "1",
                ),
                (
                    format!("t_success_requests_total{{provider=\"p\",model=\"m\"{team}}}"),
                    "3",
                ),
                (
                    format!("t_error_requests_total{{provider=\"p\",model=\"m\"{team}}}"),
                    "1",
                ),
                (
                    format!("t_input_tokens_total{{provider=\"p\",model=\"m\"{team}}}"),
                    "40",
                ),
                (
                    format!("t_tokens_total{{provider=\"p\",model=\"m\"{team},type=\"output\"}}"),
                    "20",
                ),
                (
                    format!("t_cost_total{{provider=\"p\",model=\"m\"{team}}}"),
                    "1.5",
                ),
                (
                    format!("t_request_duration_seconds_count{{provider=\"p\",model=\"m\"{team}}}"),
                    "4",
                ),
            ] {
                let line = format!("{series} {value}");
                assert!(
                    text.lines().any(|l| l == line),
                    "missing `{line}` in\n{text}"
                );
            }
        }
    }
}
