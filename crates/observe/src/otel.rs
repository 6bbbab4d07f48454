//! OpenTelemetry traces over OTLP (HTTP/protobuf or gRPC).
//!
//! Why spans are built at the end of a request: the gateway already records when the request
//! arrived, when each attempt started, how long it queued and waited upstream; building the
//! spans from those facts costs nothing on the request path and nothing at all for unsampled
//! requests. The one thing decided up front is identity: the trace id (the client's
//! `traceparent`, or a new one) and the span id of each upstream call, which the engine sends
//! upstream in `traceparent` so the provider's spans join the same trace.
//!
//! Spans: the request (server, `{operation} {model}`, GenAI semantic-convention attributes),
//! routing (until the first attempt), each attempt, and each upstream call (client).

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use heimdall_config::{OtelConfig, OtlpProtocol};
use heimdall_core::{RequestContext, TraceIds};
use heimdall_store::LogRecord;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks, SpanProcessor};

/// One span to build: identity, parent, kind, name, time window, attributes, failure.
struct SpanSpec {
    span_id: u64,
    parent: Option<u64>,
    kind: SpanKind,
    name: String,
    window: (SystemTime, SystemTime),
    attributes: Vec<KeyValue>,
    failed: Option<String>,
}

/// What the span of one MCP tool call says.
#[derive(Debug, Clone)]
pub struct ToolCallSpan<'a> {
    /// The MCP client (server) name.
    pub client: &'a str,
    /// The tool's own name.
    pub tool: &'a str,
    /// `execute`, `agent`, `mcp_server`.
    pub source: &'a str,
    /// The model's tool-call id, when known.
    pub call_id: Option<&'a str>,
    /// The span it is a child of (the agent turn's request span, or the caller's own span from
    /// its `traceparent`); `None`: the root of its trace.
    pub parent: Option<u64>,
    /// When it started and ended.
    pub window: (SystemTime, SystemTime),
    /// Why it failed.
    pub failed: Option<String>,
}

/// The trace exporter.
pub struct Tracing {
    processor: Box<dyn SpanProcessor>,
    sample_rate: f64,
    scope: InstrumentationScope,
}

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracing")
            .field("sample_rate", &self.sample_rate)
            .finish_non_exhaustive()
    }
}

impl Tracing {
    /// An exporter for `cfg` (must be called inside the tokio runtime: the gRPC exporter runs
    /// on it).
    pub fn new(cfg: &OtelConfig) -> Result<Self, String> {
        let endpoint = cfg
            .endpoint
            .clone()
            .ok_or_else(|| "otel.endpoint is required".to_owned())?;
        let resource = Resource::builder()
            .with_service_name(cfg.service_name.clone())
            .build();
        let mut processor: Box<dyn SpanProcessor> = match cfg.protocol {
            OtlpProtocol::Http => {
                let url = if endpoint.trim_end_matches('/').ends_with("/v1/traces") {
                    endpoint
                } else {
                    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
                };
                let headers: HashMap<String, String> = cfg.headers.clone().into_iter().collect();
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_endpoint(url)
                    .with_headers(headers)
                    .with_timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| format!("cannot build the OTLP/HTTP exporter: {e}"))?;
                Box::new(opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter).build())
            }
            OtlpProtocol::Grpc => {
                let mut metadata = tonic::metadata::MetadataMap::new();
                for (k, v) in &cfg.headers {
                    if let (Ok(k), Ok(v)) = (
                        tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes()),
                        v.parse(),
                    ) {
                        metadata.insert(k, v);
                    }
                }
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoint)
                    .with_metadata(metadata)
                    .with_timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| format!("cannot build the OTLP/gRPC exporter: {e}"))?;
                Box::new(
                    opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                        exporter,
                        opentelemetry_sdk::runtime::Tokio,
                    )
                    .build(),
                )
            }
        };
        processor.set_resource(&resource);
        Ok(Self {
            processor,
            sample_rate: cfg.sample_rate,
            scope: InstrumentationScope::builder("heimdall")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        })
    }

    /// The trace identity of a new request: the client's trace when it sent a valid
    /// `traceparent` (its sampled flag decides), else a new trace sampled at the configured rate.
    pub fn ids_for(&self, traceparent: Option<&str>) -> TraceIds {
        match traceparent.and_then(TraceIds::parse_traceparent) {
            Some((trace_id, parent, sampled)) => TraceIds {
                trace_id,
                parent_span_id: Some(parent),
                span_id: rand::random::<u64>() | 1,
                sampled,
            },
            None => TraceIds {
                trace_id: rand::random::<u128>() | 1,
                parent_span_id: None,
                span_id: rand::random::<u64>() | 1,
                sampled: rand::random::<f64>() < self.sample_rate,
            },
        }
    }

    fn span(&self, ids: &TraceIds, spec: SpanSpec) -> SpanData {
        let SpanSpec {
            span_id,
            parent,
            kind,
            name,
            window: (start, end),
            attributes,
            failed,
        } = spec;
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_bytes(ids.trace_id.to_be_bytes()),
                SpanId::from_bytes(span_id.to_be_bytes()),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: parent.map_or(SpanId::INVALID, |p| SpanId::from_bytes(p.to_be_bytes())),
            parent_span_is_remote: parent.is_some() && parent == ids.parent_span_id,
            span_kind: kind,
            name: Cow::Owned(name),
            start_time: start,
            end_time: end,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: match failed {
                Some(d) => Status::error(d),
                None => Status::Ok,
            },
            instrumentation_scope: self.scope.clone(),
        }
    }

    /// Export the spans of one finished request (nothing when it is not sampled).
    pub fn export(&self, ctx: &RequestContext, r: &LogRecord) {
        let Some(ids) = ctx.trace.filter(|t| t.sampled) else {
            return;
        };
        let start = ctx.started_at;
        let at = |d: Duration| start + d;
        let end = at(Duration::from_secs_f64(r.latency_ms.max(0.0) / 1000.0));
        let provider = r.provider.clone().unwrap_or_default();
        let model = r.model.clone().unwrap_or_else(|| r.model_requested.clone());
        let mut attrs = vec![
            KeyValue::new("gen_ai.operation.name", r.operation.clone()),
            KeyValue::new("gen_ai.system", provider.clone()),
            KeyValue::new("gen_ai.provider.name", provider.clone()),
            KeyValue::new("gen_ai.request.model", r.model_requested.clone()),
            KeyValue::new("gen_ai.response.model", model.clone()),
            KeyValue::new("gen_ai.usage.input_tokens", r.prompt_tokens),
            KeyValue::new("gen_ai.usage.output_tokens", r.completion_tokens),
            KeyValue::new("http.response.status_code", r.status),
            KeyValue::new("heimdall.request_id", r.id.clone()),
            KeyValue::new("heimdall.route", r.route.clone()),
            KeyValue::new("heimdall.attempts", r.attempts),
            KeyValue::new("heimdall.fallback_index", r.fallback_index),
            KeyValue::new("heimdall.stream", r.stream),
        ];
        if let Some(f) = &r.finish_reason {
            attrs.push(KeyValue::new(
                "gen_ai.response.finish_reasons",
                opentelemetry::Value::Array(
                    vec![opentelemetry::StringValue::from(f.clone())].into(),
                ),
            ));
        }
        if let Some(c) = r.cost {
            attrs.push(KeyValue::new("heimdall.cost_usd", c));
        }
        if let Some(t) = r.ttft_ms {
            attrs.push(KeyValue::new("heimdall.time_to_first_token_ms", t));
        }
        if let Some(e) = &r.error_type {
            attrs.push(KeyValue::new("error.type", e.clone()));
        }
        let failed = (!r.success).then(|| r.error.clone().unwrap_or_default());
        let mut spans = vec![self.span(
            &ids,
            SpanSpec {
                span_id: ids.span_id,
                parent: ids.parent_span_id,
                kind: SpanKind::Server,
                name: format!("{} {}", r.operation, r.model_requested),
                window: (start, end),
                attributes: attrs,
                failed,
            },
        )];
        let first_attempt = ctx.trail.first().map_or(end, |a| at(a.started));
        spans.push(self.span(
            &ids,
            SpanSpec {
                span_id: rand::random::<u64>() | 1,
                parent: Some(ids.span_id),
                kind: SpanKind::Internal,
                name: "route".to_owned(),
                window: (start, first_attempt),
                attributes: vec![KeyValue::new(
                    "gen_ai.request.model",
                    r.model_requested.clone(),
                )],
                failed: None,
            },
        ));
        for (n, a) in ctx.trail.iter().enumerate() {
            let attempt_id = rand::random::<u64>() | 1;
            let call_start = at(a.started + a.queued);
            let call_end = call_start + a.latency;
            let mut attrs = vec![
                KeyValue::new("gen_ai.provider.name", a.provider.clone()),
                KeyValue::new("gen_ai.system", a.provider.clone()),
                KeyValue::new("gen_ai.request.model", a.model.clone()),
                KeyValue::new("http.response.status_code", i64::from(a.status)),
                KeyValue::new("heimdall.attempt", n as i64 + 1),
            ];
            if let Some(e) = a.error {
                attrs.push(KeyValue::new("error.type", e));
            }
            let failed = a.error.map(str::to_owned);
            spans.push(self.span(
                &ids,
                SpanSpec {
                    span_id: attempt_id,
                    parent: Some(ids.span_id),
                    kind: SpanKind::Internal,
                    name: format!("attempt {}", n + 1),
                    window: (at(a.started), call_end),
                    attributes: attrs.clone(),
                    failed: failed.clone(),
                },
            ));
            spans.push(self.span(
                &ids,
                SpanSpec {
                    span_id: a.span_id.unwrap_or_else(|| rand::random::<u64>() | 1),
                    parent: Some(attempt_id),
                    kind: SpanKind::Client,
                    name: format!("{} {}", r.operation, a.model),
                    window: (call_start, call_end),
                    attributes: attrs,
                    failed,
                },
            ));
        }
        for s in spans {
            self.processor.on_end(s);
        }
    }

    /// Export the span of one MCP tool call in the trace `ids` (under `call.parent`); nothing
    /// when not sampled.
    pub fn export_tool_call(&self, ids: &TraceIds, call: &ToolCallSpan<'_>) {
        if !ids.sampled {
            return;
        }
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", format!("{}-{}", call.client, call.tool)),
            KeyValue::new("mcp.client.name", call.client.to_owned()),
            KeyValue::new("mcp.tool.name", call.tool.to_owned()),
            KeyValue::new("heimdall.tool_call.source", call.source.to_owned()),
        ];
        if let Some(id) = call.call_id {
            attributes.push(KeyValue::new("gen_ai.tool.call.id", id.to_owned()));
        }
        let span = self.span(
            ids,
            SpanSpec {
                span_id: rand::random::<u64>() | 1,
                parent: call.parent,
                kind: SpanKind::Internal,
                name: format!("execute_tool {}-{}", call.client, call.tool),
                window: call.window,
                attributes,
                failed: call.failed.clone(),
            },
        );
        self.processor.on_end(span);
    }

    /// Send what is buffered (shutdown, tests).
    pub fn flush(&self) {
        if let Err(e) = self.processor.force_flush() {
            tracing::warn!(error = %e, "trace export flush failed");
        }
    }
}
