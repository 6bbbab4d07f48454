//! Observability, apart from the transport: the request logger plugin (one log record, one
//! metrics update and one structured log line per request), Prometheus metrics, OpenTelemetry
//! export, the log record and the price catalog — the state behind `/metrics` and `/api/logs`,
//! which the server only serves.
//!
//! Why one plugin for all three: the record is built once from the context and the result or
//! stream summary; metrics and the log line are views of the same record, so they never
//! disagree. The same record also goes to live viewers (`GET /api/logs/stream`) the moment the
//! request finishes — through a broadcast channel touched only while someone watches, so the
//! hot path neither clones nor allocates for it otherwise.

pub mod labels;
pub mod metrics;
pub mod otel;
pub mod pricing;
pub mod record;
mod series;

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::pricing::{Priced, ProviderPrices};
use async_trait::async_trait;
use heimdall_config::{GatewayConfig, ProviderKind};
use heimdall_core::{
    GatewayRequest, GatewayResponse, Plugin, PreOutcome, RequestContext, StreamSummary,
};
use heimdall_schema::error::GatewayError;
use heimdall_schema::usage::{CompletionTokensDetails, PromptTokensDetails, Usage};
use heimdall_store::{LogRecord, LogWriter};

use self::metrics::Metrics;
use heimdall_schema::serde_util::{capped_json, capped_str};

use self::record::{INPUT_ANNOTATION, NO_CONTENT_HEADER, PAYLOAD_CAP};

/// The observability state shared by the plugin and the handlers.
pub struct Observability {
    /// The log writer (and through it the store), when request logging is on.
    pub writer: Option<LogWriter>,
    /// Prices for cost and provider kinds, replaced when the configuration changes (a provider
    /// added or a price overridden through the API is priced from its first request).
    pricing: ArcSwap<ProviderPrices>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// OpenTelemetry trace export, when `otel.enabled`.
    pub tracing: Option<otel::Tracing>,
    /// Input/output kept in records unless `client.disable_content_logging`.
    content_logging: bool,
    /// Finished requests (without input and output) for live viewers.
    live: tokio::sync::broadcast::Sender<Arc<LogRecord>>,
}

/// Records a live viewer may fall behind by before it misses some (and is told how many).
pub const LIVE_CAPACITY: usize = 1024;

impl Observability {
    /// From the config, with the log writer when request logging is on. Call inside the
    /// tokio runtime (the gRPC trace exporter runs on it).
    pub fn new(config: &GatewayConfig, writer: Option<LogWriter>) -> Self {
        let tracing = if config.otel.enabled {
            match otel::Tracing::new(&config.otel) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::error!(error = %e, "OpenTelemetry export disabled");
                    None
                }
            }
        } else {
            None
        };
        let pricing = ProviderPrices::of(config);
        Self {
            tracing,
            writer,
            metrics: Metrics::new(
                &config.client.metrics_prefix,
                config.client.prometheus_labels.clone(),
                labels::KnownModels::from_config(config, &pricing.book),
            ),
            pricing: ArcSwap::from_pointee(pricing),
            content_logging: !config.client.disable_content_logging,
            live: tokio::sync::broadcast::Sender::new(LIVE_CAPACITY),
        }
    }

    /// Every request that finishes from now on, as its record without input and output (also
    /// when request logging is off). A receiver more than [`LIVE_CAPACITY`] records behind
    /// gets `Lagged` with the number missed, then continues.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<LogRecord>> {
        self.live.subscribe()
    }

    fn keeps_content(&self, ctx: &RequestContext) -> bool {
        self.writer.is_some()
            && self.content_logging
            && ctx
                .headers
                .get(NO_CONTENT_HEADER)
                .is_none_or(|v| v != "true")
    }

    /// Price the record's usage (sets `cost` or `unpriced`).
    fn price(&self, r: &mut LogRecord) -> Option<f64> {
        if r.prompt_tokens == 0 && r.completion_tokens == 0 {
            return None;
        }
        let provider = r.provider.as_deref().unwrap_or("");
        let pricing = self.pricing.load();
        let kind = pricing
            .kinds
            .get(provider)
            .copied()
            .unwrap_or(ProviderKind::Custom);
        let model = r.model.as_deref().unwrap_or(&r.model_requested);
        let usage = Usage {
            prompt_tokens: r.prompt_tokens.max(0) as u64,
            completion_tokens: r.completion_tokens.max(0) as u64,
            total_tokens: r.total_tokens.max(0) as u64,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(r.cached_tokens.max(0) as u64),
                ..Default::default()
            }),
            completion_tokens_details: Some(CompletionTokensDetails {
                reasoning_tokens: Some(r.reasoning_tokens.max(0) as u64),
                ..Default::default()
            }),
            ..Usage::default()
        };
        match pricing.book.cost(provider, kind, model, &usage) {
            Priced::Cost(c) if r.cache.as_deref().is_some_and(|c| c.starts_with("hit")) => {
                // Answered from the cache: nothing was paid; the price is what it saved.
                r.cost_saved = Some(c);
                r.cost = Some(0.0);
                Some(0.0)
            }
            Priced::Cost(c) => {
                r.cost = Some(c);
                Some(c)
            }
            Priced::Unpriced => {
                r.unpriced = true;
                None
            }
        }
    }

    /// Metrics, the log line, and the store, for one finished request.
    fn finish(&self, ctx: &RequestContext, mut rec: LogRecord, cost: Option<f64>) {
        self.metrics.record(ctx, &rec, cost);
        if let Some(t) = &self.tracing {
            t.export(ctx, &rec);
        }
        tracing::info!(
            target: "heimdall::request",
            request_id = %rec.id,
            client_request_id = rec.client_request_id.as_deref().unwrap_or(""),
            route = %rec.route,
            provider = rec.provider.as_deref().unwrap_or(""),
            model = rec.model.as_deref().unwrap_or(&rec.model_requested),
            status = rec.status,
            success = rec.success,
            stream = rec.stream,
            latency_ms = format_args!("{:.2}", rec.latency_ms),
            ttft_ms = rec.ttft_ms.map(|t| format!("{t:.2}")).unwrap_or_default(),
            prompt_tokens = rec.prompt_tokens,
            completion_tokens = rec.completion_tokens,
            cost = cost.map(|c| format!("{c:.8}")).unwrap_or_else(|| if rec.unpriced { "unpriced".to_owned() } else { String::new() }),
            attempts = rec.attempts,
            error_type = rec.error_type.as_deref().unwrap_or(""),
            "request"
        );
        // Nobody watching (the usual case): no copy, no allocation, no channel traffic.
        let watched = self.live.receiver_count() > 0;
        match &self.writer {
            Some(w) => {
                if watched {
                    let _ = self.live.send(Arc::new(without_payload(&mut rec)));
                }
                w.log(rec);
            }
            None if watched => {
                rec.input = None;
                rec.output = None;
                let _ = self.live.send(Arc::new(rec));
            }
            None => {}
        }
    }
}

/// A copy of `rec` without its input and output (which are not copied: taken out and put back).
fn without_payload(rec: &mut LogRecord) -> LogRecord {
    let input = rec.input.take();
    let output = rec.output.take();
    let copy = rec.clone();
    rec.input = input;
    rec.output = output;
    copy
}

/// Observability for `config`: when request logging is on (`client.enable_logging` and
/// `logs_store.enabled`), a writer that opens the store in the background (SQLite in
/// `app_dir` unless configured otherwise) — a database that is down at start does not stop
/// the gateway; records queue until it answers. Returns the writer task to await at shutdown.
pub fn start(
    config: &GatewayConfig,
    app_dir: &Path,
) -> (Arc<Observability>, Option<tokio::task::JoinHandle<()>>) {
    let (writer, task) = if config.client.enable_logging && config.logs_store.enabled {
        let (w, t) = LogWriter::connect(&config.logs_store, app_dir.to_path_buf());
        (Some(w), Some(t))
    } else {
        (None, None)
    };
    (Arc::new(Observability::new(config, writer)), task)
}

/// The request logger: records every request that reaches the engine.
pub struct RequestLogger(pub Arc<Observability>);

#[async_trait]
impl Plugin for RequestLogger {
    fn name(&self) -> &str {
        "request-logger"
    }

    fn rewrites_only_the_model(&self) -> bool {
        true
    }

    /// It reads the answer for the record.
    fn leaves_the_answer_alone(&self) -> bool {
        true
    }

    fn reconfigure(&self, config: &GatewayConfig) {
        self.0.pricing.store(Arc::new(ProviderPrices::of(config)));
    }

    async fn pre(
        &self,
        ctx: &mut RequestContext,
        req: &mut GatewayRequest,
    ) -> Result<PreOutcome, GatewayError> {
        if let (Some(t), None) = (&self.0.tracing, ctx.trace) {
            ctx.trace = Some(t.ids_for(ctx.headers.get("traceparent").map(String::as_str)));
        }
        // Fallback targets run the pre hooks again: the input is the same.
        if self.0.keeps_content(ctx) && !ctx.annotations.contains_key(INPUT_ANNOTATION) {
            let input = match req {
                // The client's own JSON of the messages when it still stands for them: no
                // second encoding of the conversation before the upstream call.
                GatewayRequest::Chat(c) => match &c.raw {
                    Some(raw) => std::str::from_utf8(raw.messages_json())
                        .ok()
                        .map(|text| capped_str(text, PAYLOAD_CAP)),
                    None => capped_json(&c.messages, PAYLOAD_CAP),
                },
                GatewayRequest::Completion(c) => capped_json(&c.prompt, PAYLOAD_CAP),
                GatewayRequest::Embedding(e) => capped_json(&e.input, PAYLOAD_CAP),
                GatewayRequest::Speech(s) => capped_json(&s.input, PAYLOAD_CAP),
                GatewayRequest::ImageGeneration(i) => capped_json(&i.prompt, PAYLOAD_CAP),
                // Uploads are recorded by file name and size, never their bytes.
                GatewayRequest::Transcription(f)
                | GatewayRequest::Translation(f)
                | GatewayRequest::ImageEdit(f) => capped_json(&f.summary(), PAYLOAD_CAP),
                GatewayRequest::Rerank(r) => capped_json(
                    &serde_json::json!({"query": r.query, "documents": r.documents}),
                    PAYLOAD_CAP,
                ),
            };
            if let Some(text) = input {
                ctx.annotations.insert(INPUT_ANNOTATION.to_owned(), text);
            }
        }
        Ok(PreOutcome::Continue)
    }

    async fn post(
        &self,
        ctx: &mut RequestContext,
        result: &mut Result<GatewayResponse, GatewayError>,
    ) {
        if let Err(GatewayError {
            upstream_excerpt: Some(excerpt),
            ..
        }) = result
        {
            // What the upstream sent instead of its documented answer: for the operator only.
            tracing::warn!(
                request_id = %ctx.request_id,
                provider = ctx.provider.as_deref().unwrap_or(""),
                excerpt = %excerpt.0,
                "upstream answered 200 with an unusable body"
            );
        }
        let mut rec = record::from_result(ctx, result, self.0.keeps_content(ctx));
        let cost = self.0.price(&mut rec);
        ctx.cost = cost;
        self.0.finish(ctx, rec, cost);
    }

    fn on_abandoned(&self, ctx: &RequestContext) {
        let rec = record::abandoned(ctx, self.0.keeps_content(ctx));
        self.0.finish(ctx, rec, None);
    }

    fn on_stream_end(&self, ctx: &RequestContext, summary: &StreamSummary) {
        let mut rec = record::from_stream(ctx, summary, self.0.keeps_content(ctx));
        let cost = self.0.price(&mut rec);
        if let (Some(first), true) = (summary.time_to_first_chunk, summary.chunks > 1) {
            let rest = summary.duration.saturating_sub(first).as_secs_f64();
            let provider = rec.provider.as_deref().unwrap_or("none");
            let model = rec.model.as_deref().unwrap_or(&rec.model_requested);
            self.0
                .metrics
                .inter_chunk(ctx, provider, model, rest / (summary.chunks - 1) as f64);
        }
        self.0.finish(ctx, rec, cost);
    }
}
