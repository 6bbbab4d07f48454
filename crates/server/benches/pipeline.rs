//! Micro-benchmarks of the gateway's own work per request, without sockets: decoding an OpenAI
//! request and encoding it again, and the whole in-process path of `POST /v1/chat/completions`
//! — router, body decode and validation, engine (routing, key selection, deadlines, retries
//! bookkeeping), the plugin chain (the request logger: record, metrics, log line) and the JSON
//! or SSE encoding of the answer — against a provider that answers at once from memory.
//!
//! Why: the side-by-side benchmark (`bench/run.sh`) measures the gateway with its sockets; these
//! isolate what the code costs so a change to it shows up without the kernel's noise.
//! `cargo bench -p heimdall-server --bench pipeline`; CI runs each once as a smoke test
//! (`cargo test --workspace --benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use divan::{Bencher, black_box};
use heimdall_config::{ConfigFormat, KeyConfig, parse_str};
use heimdall_core::{Gateway, Pipeline, Plugin, Runtime};
use heimdall_observe::{Observability, RequestLogger};
use heimdall_providers::provider::{ChatStream, Provider};
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::models::Model;
use heimdall_server::{AppParts, AppState, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn main() {
    divan::main();
}

/// A ~1 KB chat request, as the side-by-side benchmark sends it.
fn body(stream: bool) -> String {
    serde_json::json!({
        "model": "bench/gpt-4o",
        "stream": stream,
        "messages": [{"role": "user", "content": "x".repeat(900)}]
    })
    .to_string()
}

/// Answers from memory: one response, or a stream of `CHUNKS` chunks and a usage chunk.
struct InstantProvider {
    response: ChatResponse,
    chunk: ChatChunk,
    usage: ChatChunk,
}

const CHUNKS: usize = 8;

#[async_trait]
impl Provider for InstantProvider {
    fn name(&self) -> &str {
        "bench"
    }

    async fn chat(
        &self,
        _key: Option<&KeyConfig>,
        _req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        Ok(self.response.clone())
    }

    async fn chat_stream(
        &self,
        _key: Option<&KeyConfig>,
        _req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let chunks = std::iter::repeat_n(self.chunk.clone(), CHUNKS).chain([self.usage.clone()]);
        Ok(Box::pin(futures::stream::iter(chunks.map(Ok))))
    }

    async fn list_models(&self, _key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError> {
        Ok(Vec::new())
    }
}

fn provider() -> InstantProvider {
    InstantProvider {
        response: serde_json::from_str(
            r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench provider. This answer is short."},
            "finish_reason":"stop","logprobs":null}],
            "usage":{"prompt_tokens":230,"completion_tokens":12,"total_tokens":242}}"#,
        )
        .unwrap(),
        chunk: serde_json::from_str(
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o",
            "choices":[{"index":0,"delta":{"content":"Hello "},"finish_reason":null}]}"#,
        )
        .unwrap(),
        usage: serde_json::from_str(
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o",
            "choices":[],"usage":{"prompt_tokens":230,"completion_tokens":8,"total_tokens":238}}"#,
        )
        .unwrap(),
    }
}

/// The router as `heimdall serve` builds it (request logger in the plugin chain, metrics on,
/// no database: the writer's queue push is the only part of logging left out).
fn app() -> axum::Router {
    app_with(false)
}

/// The same router with governance as `heimdall serve` wires it (plugin first, counters in
/// memory), a virtual key with a budget, a team and customer above it with budgets, and a
/// request and token rate limit: every request tokenises its prompt, reserves and settles at
/// three levels and counts two sliding windows.
fn app_with(governed: bool) -> axum::Router {
    app_full(governed, None)
}

/// The router of [`app`] with the response cache after the logger, as `heimdall serve` wires
/// it: memory backend, exact tier, every request cached under one key.
fn app_cached(rt: &tokio::runtime::Runtime) -> axum::Router {
    let json = r#"{"providers": {}, "cache": {"default_cache_key": "bench", "ttl": "1h"}}"#;
    let env: std::collections::BTreeMap<String, String> = Default::default();
    let config = parse_str(json, ConfigFormat::Json, &env).unwrap().config;
    let cache = rt.block_on(heimdall_cache::ResponseCache::start(
        &config,
        heimdall_cache::SetupEnv::default(),
    ));
    app_full(false, Some(cache))
}

fn app_full(governed: bool, cache: Option<Arc<heimdall_cache::ResponseCache>>) -> axum::Router {
    let json = r#"{"providers": {"bench": {"type": "custom",
        "keys": [{"name": "k", "value": "sk-bench", "models": [], "weight": 1}],
        "network_config": {"base_url": "http://127.0.0.1:9/v1"}}},
        "pricing": {"overrides": {"bench/gpt-4o": {"input": 2.5, "output": 10.0}}},
        "governance": {
          "customers": [{"id": "acme", "budget": {"max_limit": 1000000000, "reset_duration": "1M"}}],
          "teams": [{"id": "eng", "customer_id": "acme", "budget": {"max_limit": 1000000000, "reset_duration": "1M"}}],
          "virtual_keys": [{"id": "bench", "value": "sk-bf-bench", "team_id": "eng",
            "budget": {"max_limit": 1000000000, "reset_duration": "1d"},
            "rate_limit": {"request_max_limit": 1000000000, "request_reset_duration": "1m",
                           "token_max_limit": 1000000000000, "token_reset_duration": "1m"}}]}}"#;
    let env: std::collections::BTreeMap<String, String> = Default::default();
    let config = parse_str(json, ConfigFormat::Json, &env).unwrap().config;
    let observability = Arc::new(Observability::new(&config, None));
    let logger: Arc<dyn Plugin> = Arc::new(RequestLogger(Arc::clone(&observability)));
    let governance = governed.then(|| {
        Arc::new(heimdall_governance::Governance::new(
            &config,
            heimdall_governance::ledger::Ledger::memory(),
        ))
    });
    let mut plugins: Vec<Arc<dyn Plugin>> = Vec::new();
    if let Some(g) = &governance {
        plugins.push(g.clone());
    }
    plugins.push(logger);
    if let Some(c) = &cache {
        plugins.push(c.clone());
    }
    let pc = config.providers["bench"].clone();
    let runtime = Runtime::with_providers(
        config,
        vec![(pc, Arc::new(provider()) as Arc<dyn Provider>)],
        Pipeline::new(plugins),
    );
    router(AppState::new(AppParts {
        gateway: Arc::new(Gateway::new(runtime)),
        body_limit: 10 * 1024 * 1024,
        observability,
        client_limits: Arc::default(),
        control: None,
        governance,
        cache,
        responses: Default::default(),
        mcp: None,
        tool_logs: Default::default(),
        lifecycle: Default::default(),
    }))
}

/// Decode the 1 KB request into the canonical type and encode it again (what an upstream
/// request costs before the network).
#[divan::bench]
fn request_parse_and_reserialise(bencher: Bencher) {
    let raw = body(false);
    bencher.bench(|| {
        let req: ChatRequest =
            heimdall_server::body::decode_json(black_box(raw.as_bytes())).unwrap();
        black_box(serde_json::to_vec(&req).unwrap())
    });
}

/// Send `raw` to `/v1/chat/completions` in process and read the whole answer.
async fn call(app: &axum::Router, raw: &str) -> axum::body::Bytes {
    call_as(app, raw, "sk-client").await
}

/// [`call`] with `credential` as the bearer token.
async fn call_as(app: &axum::Router, raw: &str, credential: &str) -> axum::body::Bytes {
    call_with(app, raw, credential, ("x-bench", "1")).await
}

/// [`call_as`] with one more header.
async fn call_with(
    app: &axum::Router,
    raw: &str,
    credential: &str,
    extra: (&str, &str),
) -> axum::body::Bytes {
    let request = axum::http::Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {credential}"))
        .header(extra.0, extra.1)
        .body(Body::from(raw.to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap().to_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One non-streamed chat completion through the whole in-process path.
#[divan::bench]
fn chat_completion_in_process(bencher: Bencher) {
    let (rt, app, raw) = (runtime(), app(), body(false));
    bencher.bench_local(|| black_box(rt.block_on(call(&app, &raw))));
}

/// One streamed chat completion (8 chunks and usage) through the whole in-process path,
/// reading every SSE frame.
#[divan::bench]
fn chat_stream_in_process(bencher: Bencher) {
    let (rt, app, raw) = (runtime(), app(), body(true));
    bencher.bench_local(|| {
        let bytes = rt.block_on(call(&app, &raw));
        assert!(bytes.ends_with(b"data: [DONE]\n\n"));
        black_box(bytes)
    });
}

/// [`chat_completion_in_process`] with governance on (see [`app_with`]): the difference is
/// governance's whole per-request cost.
#[divan::bench]
fn chat_completion_governed_in_process(bencher: Bencher) {
    let (rt, app, raw) = (runtime(), app_with(true), body(false));
    bencher.bench_local(|| black_box(rt.block_on(call_as(&app, &raw, "sk-bf-bench"))));
}

/// [`chat_stream_in_process`] with governance on.
#[divan::bench]
fn chat_stream_governed_in_process(bencher: Bencher) {
    let (rt, app, raw) = (runtime(), app_with(true), body(true));
    bencher.bench_local(|| {
        let bytes = rt.block_on(call_as(&app, &raw, "sk-bf-bench"));
        assert!(bytes.ends_with(b"data: [DONE]\n\n"));
        black_box(bytes)
    });
}

/// [`chat_completion_in_process`] with the response cache on and every request a miss
/// (`x-bf-cache-no-store`: looked up, never stored): what the cache adds to a miss.
#[divan::bench]
fn chat_completion_cache_miss_in_process(bencher: Bencher) {
    let rt = runtime();
    let (app, raw) = (app_cached(&rt), body(false));
    bencher.bench_local(|| {
        black_box(rt.block_on(call_with(
            &app,
            &raw,
            "sk-client",
            ("x-bf-cache-no-store", "true"),
        )))
    });
}

/// The same request answered from the cache (an exact hit, no upstream call).
#[divan::bench]
fn chat_completion_cache_hit_in_process(bencher: Bencher) {
    let rt = runtime();
    let (app, raw) = (app_cached(&rt), body(false));
    rt.block_on(call(&app, &raw));
    // The first answer is stored in the background.
    rt.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(50)).await });
    bencher.bench_local(|| black_box(rt.block_on(call(&app, &raw))));
}
