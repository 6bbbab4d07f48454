//! Test harness: a real mock upstream on a socket, a real gateway on another, a real HTTP client.
#![allow(clippy::disallowed_methods)]
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod control;

use std::net::SocketAddr;
use std::sync::Arc;

use heimdall_config::{ConfigFormat, parse_str};
use heimdall_core::{Gateway, Pipeline, Plugin, Runtime};
use heimdall_mock_provider::{MockConfig, MockServer};
use heimdall_observe::{Observability, RequestLogger};
use heimdall_server::{AppParts, AppState, router};

pub struct Harness {
    pub mock: MockServer,
    pub gateway: Arc<Gateway>,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub observability: Arc<Observability>,
    /// The serving state (draining) the gateway's handlers see.
    pub lifecycle: Arc<heimdall_server::state::Lifecycle>,
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The body of `GET path` as text.
    pub async fn get_text(&self, path: &str) -> String {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        r.text().await.unwrap()
    }

    pub async fn chat(&self, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// A config whose provider `mock` points at the mock server; `extra` is merged into the
/// provider object and `top` into the root.
pub fn mock_config(mock: &MockServer, provider_extra: serde_json::Value) -> serde_json::Value {
    let mut provider = serde_json::json!({
        "type": "custom",
        "keys": [{"name": "k1", "value": "sk-test-1", "models": [], "weight": 1.0}],
        "network_config": {"base_url": mock.base_url(), "default_request_timeout_in_seconds": 5}
    });
    if let (Some(p), Some(e)) = (provider.as_object_mut(), provider_extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    serde_json::json!({"providers": {"mock": provider}})
}

pub async fn start_with(
    mock_cfg: MockConfig,
    config: impl FnOnce(&MockServer) -> serde_json::Value,
    plugins: Vec<Arc<dyn Plugin>>,
) -> Harness {
    start_observed(mock_cfg, config, plugins, None).await
}

/// A harness whose request logger writes to `writer` (metrics are always on).
pub async fn start_observed(
    mock_cfg: MockConfig,
    config: impl FnOnce(&MockServer) -> serde_json::Value,
    mut plugins: Vec<Arc<dyn Plugin>>,
    writer: Option<heimdall_store::LogWriter>,
) -> Harness {
    let mock = MockServer::start(mock_cfg).await.unwrap();
    let json = config(&mock).to_string();
    let empty: std::collections::BTreeMap<String, String> = Default::default();
    let loaded = parse_str(&json, ConfigFormat::Json, &empty).unwrap();
    let limit =
        usize::try_from(loaded.config.client.max_request_body_size_mb).unwrap() * 1024 * 1024;
    let observability = Arc::new(Observability::new(&loaded.config, writer));
    plugins.insert(0, Arc::new(RequestLogger(Arc::clone(&observability))));
    let gateway = Arc::new(Gateway::new(Runtime::build(
        loaded.config,
        Pipeline::new(plugins),
    )));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let lifecycle = Arc::new(heimdall_server::state::Lifecycle::default());
    let app = router(AppState::new(AppParts {
        gateway: Arc::clone(&gateway),
        body_limit: limit,
        observability: Arc::clone(&observability),
        client_limits: Arc::default(),
        control: None,
        governance: None,
        cache: None,
        responses: Default::default(),
        mcp: None,
        tool_logs: Default::default(),
        lifecycle: Arc::clone(&lifecycle),
    }));
    tokio::spawn(async move {
        // With the peer address on every request, as the real listener gives it.
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Harness {
        mock,
        gateway,
        addr,
        client: reqwest::Client::new(),
        observability,
        lifecycle,
    }
}

/// A gateway over a recording mock, configured by `config`.
pub async fn recording_gateway(config: impl FnOnce(&MockServer) -> serde_json::Value) -> Harness {
    start_with(
        MockConfig {
            record_requests: true,
            ..Default::default()
        },
        config,
        vec![],
    )
    .await
}

pub async fn start() -> Harness {
    start_with(
        MockConfig {
            record_requests: true,
            ..Default::default()
        },
        |m| mock_config(m, serde_json::json!({})),
        vec![],
    )
    .await
}

/// Split an SSE body into its `data:` payloads.
/// The `event:` names of an SSE body, in order.
pub fn sse_event_names(body: &str) -> Vec<&str> {
    body.lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect()
}

pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|ev| ev.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(str::to_owned)
        .collect()
}

/// `GET /api/providers/health` as JSON.
pub async fn health_report(h: &Harness) -> serde_json::Value {
    h.client
        .get(h.url("/api/providers/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The chunks of a complete stream (asserting it ended with `[DONE]`).
pub fn done_chunks(text: &str) -> Vec<serde_json::Value> {
    let events = sse_data(text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
    events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

/// The content text of a chunk sequence.
pub fn streamed_text(chunks: &[serde_json::Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// The finish reasons of a chunk sequence.
pub fn finish_reasons(chunks: &[serde_json::Value]) -> Vec<String> {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str().map(str::to_owned))
        .collect()
}

pub fn user_chat(model: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": "Hello"}]})
}

/// A fresh SQLite log store and a writer over it that flushes every 10 ms at normal priority
/// (tests wait for records), holding at most `max_pending` records.
pub async fn sqlite_writer(
    max_pending: usize,
) -> (
    heimdall_store::LogStore,
    heimdall_store::LogWriter,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/logs.db?mode=rwc", dir.path().display());
    let store = heimdall_store::LogStore::connect(&url).await.unwrap();
    let (writer, _task) = heimdall_store::LogWriter::start(
        store.clone(),
        &heimdall_config::LogsStoreConfig {
            batch_size: 10,
            flush_interval_ms: 10,
            max_pending,
            writer_priority: heimdall_config::WriterPriority::Normal,
            ..heimdall_config::LogsStoreConfig::default()
        },
    );
    (store, writer, dir)
}

/// The default mock gateway with its records going to a fresh SQLite store.
pub async fn start_logged(
    max_pending: usize,
) -> (
    Harness,
    heimdall_store::LogStore,
    heimdall_store::LogWriter,
    tempfile::TempDir,
) {
    let (store, writer, dir) = sqlite_writer(max_pending).await;
    let h = start_observed(
        MockConfig::default(),
        |m| mock_config(m, serde_json::json!({})),
        vec![],
        Some(writer.clone()),
    )
    .await;
    (h, store, writer, dir)
}

pub const PG: &str = "postgres://postgres@127.0.0.1:5432";

/// A new, empty PostgreSQL database reachable through `via` (host:port): (name, URL).
pub async fn fresh_pg(via: &str) -> (String, String) {
    let name = format!("heimdall_test_{}", uuid::Uuid::new_v4().simple());
    let admin = heimdall_store::LogStore::admin(&format!("{PG}/postgres"))
        .await
        .unwrap();
    admin
        .execute_raw(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await;
    (name.clone(), format!("postgres://postgres@{via}/{name}"))
}

/// Drop a database made by [`fresh_pg`].
pub async fn drop_pg(name: &str) {
    let admin = heimdall_store::LogStore::admin(&format!("{PG}/postgres"))
        .await
        .unwrap();
    admin
        .execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin.close().await;
}

/// `promtool check metrics` on an exposition (promtool comes with Debian's `prometheus`;
/// the test script installs it).
pub fn promtool_check(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is required (Debian package `prometheus`; scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

/// The reference MCP server's entry point (`@modelcontextprotocol/server-everything`, pinned
/// in tests/mcp/package-lock.json); the test fails with the command that installs it.
pub fn mcp_everything() -> &'static str {
    const PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
    );
    assert!(
        std::path::Path::new(PATH).exists(),
        "the MCP reference server is missing; run: npm ci --prefix tests/mcp"
    );
    PATH
}
