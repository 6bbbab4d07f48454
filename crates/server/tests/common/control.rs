//! A gateway with a real control plane: a SQLite (or PostgreSQL) config store in a temporary
//! app dir, the encryption key file, auth — wired as the binary wires them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use heimdall_control::{ControlPlane, Mode, SecretCipher};
use heimdall_core::{Gateway, Pipeline, Plugin, Runtime};
use heimdall_observe::{Observability, RequestLogger};
use heimdall_server::{AppParts, AppState, router};

pub struct ControlHarness {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    pub control: ControlPlane,
    pub client: reqwest::Client,
    pub dir: Arc<tempfile::TempDir>,
    /// Governance (counters in memory), when `ControlOptions::governance`.
    pub governance: Option<Arc<heimdall_governance::Governance>>,
    /// The response cache, when `ControlOptions::cache`.
    pub cache: Option<Arc<heimdall_cache::ResponseCache>>,
    /// The MCP clients, when `ControlOptions::mcp`.
    pub mcp: Option<Arc<heimdall_mcp::McpManager>>,
}

impl ControlHarness {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `method path` with a JSON body, answered as (status, JSON body).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        bearer: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut r = self.client.request(method, self.url(path));
        if let Some(b) = body {
            r = r.json(&b);
        }
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(body), None)
            .await
    }
}

/// How to start a gateway with a control plane.
pub struct ControlOptions {
    pub mode: Mode,
    pub document: serde_json::Value,
    /// The app dir (config store, key file).
    pub dir: Arc<tempfile::TempDir>,
    /// The config store (default: SQLite in `dir`).
    pub store_url: Option<String>,
    /// The encryption passphrase (default: a key file in `dir`).
    pub passphrase: Option<String>,
    /// Request logs go here (default: none).
    pub writer: Option<heimdall_store::LogWriter>,
    /// Listen address (default `127.0.0.1:0`).
    pub bind: SocketAddr,
    /// Wire governance (in-memory counters) as the binary does (default: off).
    pub governance: bool,
    /// Wire the response cache as the binary does (default: off).
    pub cache: bool,
    /// Wire MCP (clients of the document's `mcp` section, tool injection) as the binary does
    /// (default: off).
    pub mcp: bool,
}

impl ControlOptions {
    /// Store mode on a fresh app dir, seeded with `document`.
    pub fn store(document: serde_json::Value) -> Self {
        Self {
            mode: Mode::Store,
            document,
            dir: Arc::new(tempfile::tempdir().unwrap()),
            store_url: None,
            passphrase: None,
            writer: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            governance: false,
            cache: false,
            mcp: false,
        }
    }
}

/// Start a gateway as `o` says.
pub async fn start_control(o: ControlOptions) -> ControlHarness {
    let ControlOptions {
        mode,
        document,
        dir,
        store_url,
        passphrase,
        writer,
        bind,
        governance,
        cache,
        mcp,
    } = o;
    let url = store_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("config.db").display()
        )
    });
    let cipher = SecretCipher::load(passphrase.as_deref(), dir.path()).unwrap();
    let env: std::collections::BTreeMap<String, String> = Default::default();
    let (control, loaded) = ControlPlane::open(mode, document, &url, cipher, Arc::new(env))
        .await
        .unwrap();
    let observability = Arc::new(Observability::new(&loaded.config, writer));
    let logger: Arc<dyn Plugin> = Arc::new(RequestLogger(Arc::clone(&observability)));
    // Governance before the logger, as the binary has it.
    let governance = governance.then(|| {
        Arc::new(heimdall_governance::Governance::new(
            &loaded.config,
            heimdall_governance::ledger::Ledger::memory(),
        ))
    });
    let mut plugins: Vec<Arc<dyn Plugin>> = match &governance {
        Some(g) => vec![Arc::clone(g) as Arc<dyn Plugin>, logger],
        None => vec![logger],
    };
    // MCP injection after governance and the logger, before the cache, as the binary has it.
    let mcp = mcp.then(heimdall_mcp::McpManager::new);
    if let Some(m) = &mcp {
        plugins.push(Arc::new(heimdall_server::mcp_inject::McpInjection::new(
            Arc::clone(m),
            &loaded.config,
        )));
    }
    // The cache after the logger, as the binary has it.
    let cache = if cache {
        let env = heimdall_cache::SetupEnv {
            app_dir: dir.path().to_path_buf(),
            logs_postgres_url: None,
        };
        let c = heimdall_cache::ResponseCache::start(&loaded.config, env).await;
        plugins.push(Arc::clone(&c) as Arc<dyn Plugin>);
        Some(c)
    } else {
        None
    };
    let gateway = Arc::new(Gateway::new(Runtime::build(
        loaded.config,
        Pipeline::new(plugins),
    )));
    control.config.attach(Arc::clone(&gateway));
    if let Some(c) = &cache {
        c.attach(&gateway);
    }
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(AppState::new(AppParts {
        gateway: Arc::clone(&gateway),
        body_limit: 10 * 1024 * 1024,
        observability,
        client_limits: Arc::default(),
        control: Some(Arc::new(control.clone())),
        governance: governance.clone(),
        cache: cache.clone(),
        responses: Default::default(),
        mcp: mcp.clone(),
        tool_logs: Default::default(),
        lifecycle: Default::default(),
    }));
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    ControlHarness {
        addr,
        gateway,
        control,
        client: reqwest::Client::new(),
        dir,
        governance,
        cache,
        mcp,
    }
}

/// Store mode on a fresh SQLite store, seeded with `document`.
pub async fn start_store_mode(document: serde_json::Value) -> ControlHarness {
    start_control(ControlOptions::store(document)).await
}
