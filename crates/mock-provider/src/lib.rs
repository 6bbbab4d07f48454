//! A mock of the OpenAI HTTP API with timing and fault knobs: the test double of every gateway
//! test and the upstream of the benchmarks.
//!
//! Why its own crate with a library and a binary: tests start it in-process on a free port
//! (no process management), benchmarks run the release binary pinned to a core. It must be
//! fast (it should never be the bottleneck of a benchmark) and faithful (payloads shaped as in
//! the OpenAI API reference), and it must fail in every way real upstreams do.
// The mock is a test double and benchmark upstream, not the gateway.
#![allow(clippy::disallowed_methods)]

mod anthropic;
mod azure;
mod bedrock;
mod cohere;
mod gemini;
mod handlers;
pub mod knobs;
mod media;
pub mod payloads;
mod realtime;
mod responses;
pub mod stream;
mod vertex;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::sync::oneshot;

/// Server-wide defaults (each can be overridden per request).
#[derive(Clone, Debug, Default)]
pub struct MockConfig {
    /// Delay before answering, ms.
    pub latency_ms: u64,
    /// Delay between stream chunks, ms.
    pub chunk_delay_ms: u64,
    /// Content chunks per answer (0: 8).
    pub chunks: usize,
    /// Probability of failing each request.
    pub fail_rate: f64,
    /// Status of a failure (0: 500).
    pub fail_status: u16,
    /// `Retry-After` seconds on 429 (0: 1).
    pub retry_after: u64,
    /// Keep the last requests for inspection.
    pub record_requests: bool,
    /// Models listed by `/v1/models` (empty: a default list).
    pub models: Vec<String>,
    /// Public key (PEM) whose signature a Google JWT-bearer assertion must carry; without it
    /// the token endpoint checks only the assertion's shape and claims.
    pub google_public_key_pem: Option<String>,
    /// AWS access key id → secret, for verifying SigV4 signatures.
    pub aws_credentials: Vec<(String, String)>,
}

/// A request as the mock received it (when recording).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// JSON body (null when not JSON).
    pub body: serde_json::Value,
}

/// How many requests are kept when recording.
const RECORD_LIMIT: usize = 2000;

pub(crate) struct Shared {
    pub config: MockConfig,
    pub served: AtomicU64,
    pub active_streams: Arc<AtomicU64>,
    pub ids: AtomicU64,
    pub recorded: Mutex<VecDeque<RecordedRequest>>,
    pub fail_counters: Mutex<HashMap<String, u64>>,
    pub tokens_issued: AtomicU64,
    pub signatures_verified: AtomicU64,
}

impl Shared {
    fn new(config: MockConfig) -> Self {
        Self {
            config,
            served: AtomicU64::new(0),
            active_streams: Arc::new(AtomicU64::new(0)),
            ids: AtomicU64::new(0),
            recorded: Mutex::new(VecDeque::new()),
            fail_counters: Mutex::new(HashMap::new()),
            tokens_issued: AtomicU64::new(0),
            signatures_verified: AtomicU64::new(0),
        }
    }

    pub fn record(&self, r: RecordedRequest) {
        if let Ok(mut q) = self.recorded.lock() {
            if q.len() >= RECORD_LIMIT {
                q.pop_front();
            }
            q.push_back(r);
        }
    }

    /// Count a request against `fail_first` for its model string; true while it must fail.
    pub fn should_fail_first(&self, key: &str, first: u64) -> bool {
        match self.fail_counters.lock() {
            Ok(mut m) => {
                let n = m.entry(key.to_owned()).or_insert(0);
                *n += 1;
                *n <= first
            }
            Err(_) => false,
        }
    }
}

/// The mock's routes (with and without the `/v1` prefix), for embedding in another server.
pub fn router(config: MockConfig) -> Router {
    router_with(Arc::new(Shared::new(config)))
}

fn router_with(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/chat/completions", post(handlers::chat))
        .route("/completions", post(handlers::completions))
        .route("/embeddings", post(handlers::embeddings))
        .route("/audio/speech", post(media::speech))
        .route("/audio/transcriptions", post(media::transcriptions))
        .route("/audio/translations", post(media::translations))
        .route("/images/generations", post(media::image_generations))
        .route("/images/edits", post(media::image_edits))
        .route("/rerank", post(media::rerank))
        .route("/models", get(handlers::models))
        .route("/messages", post(anthropic::messages))
        .route("/responses", post(responses::create))
        .route("/realtime", get(realtime::connect))
        .route("/realtime/sessions", post(realtime::sessions))
        .route("/realtime/client_secrets", post(realtime::client_secrets));
    Router::new()
        .nest("/v1", api.clone())
        // Azure OpenAI's v1 API (the Realtime API lives there).
        .nest("/openai/v1", api.clone())
        .merge(api)
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(azure::chat),
        )
        .route(
            "/openai/deployments/{deployment}/{operation}",
            post(azure::deployment),
        )
        .route("/openai/models", get(azure::models))
        .route("/v2/chat", post(cohere::chat))
        .route("/v1beta/models/{model_action}", post(gemini::model_action))
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model_action}",
            post(vertex::publisher_model),
        )
        .route("/google/token", post(vertex::token))
        .route("/model/{model_id}/{operation}", post(bedrock::model_operation))
        .route("/v2/embed", post(cohere::embed))
        .route("/v2/rerank", post(media::cohere_rerank))
        .route(
            "/openai/deployments/{deployment}/audio/{operation}",
            post(azure::audio),
        )
        .route(
            "/openai/deployments/{deployment}/images/{operation}",
            post(azure::images),
        )
        .route("/entra/{tenant}/oauth2/v2.0/token", post(azure::token))
        .route("/health", get(|| async { "ok" }))
        .route(
            "/_mock/requests",
            get(handlers::recorded).delete(handlers::clear_recorded),
        )
        .with_state(shared)
}

/// A running mock server; stops when dropped or shut down.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MockServer {
    /// Start on a free loopback port.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Start on `addr`.
    pub async fn start_on(addr: SocketAddr, config: MockConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let app = router_with(Arc::clone(&shared));
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Recorded requests, oldest first (when recording).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .recorded
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forget recorded requests.
    pub fn clear_requests(&self) {
        if let Ok(mut q) = self.shared.recorded.lock() {
            q.clear();
        }
    }

    /// Stream bodies currently open (drops to zero when clients go away).
    pub fn active_streams(&self) -> u64 {
        self.shared.active_streams.load(Ordering::Relaxed)
    }

    /// Access tokens issued by the mock's token endpoints.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens_issued.load(Ordering::Relaxed)
    }

    /// SigV4 signatures the Bedrock face recomputed and found valid.
    pub fn signatures_verified(&self) -> u64 {
        self.shared.signatures_verified.load(Ordering::Relaxed)
    }

    /// Requests served so far (always counted).
    pub fn request_count(&self) -> u64 {
        self.shared.served.load(Ordering::Relaxed)
    }

    /// Stop and wait for the server task.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
