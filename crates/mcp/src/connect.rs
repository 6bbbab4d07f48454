//! Opening one MCP connection: the transport a client's config names (a child process, streamable
//! HTTP, or the legacy SSE transport), the MCP handshake, and the first tool list.
//!
//! Why kept apart from the supervisor: this is the only code that touches rmcp's transports
//! and the process environment, and it decides what a stdio server may see — a cleared
//! environment with only `PATH`, `HOME`, the names in `envs` and the configured `env`, so the
//! gateway's own credentials never leak into a child by accident.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use heimdall_config::{McpClientConfig, McpConnectionType, Secret};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, Tool};
use rmcp::service::{
    ClientCacheConfig, ClientInitializeError, NotificationContext, RunningService,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceError, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStderr, Command};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::sse::SseTransport;

/// Longest stderr line forwarded to the log; the rest of the line is dropped.
const MAX_STDERR_LINE: usize = 8 * 1024;

/// A live, initialised connection and the tools its server listed.
pub(crate) struct Connection {
    pub(crate) service: RunningService<RoleClient, Handler>,
    pub(crate) tools: Vec<Tool>,
    /// Signalled when the server announces that its tool list changed.
    pub(crate) tools_changed: Arc<Notify>,
}

/// The client side of the MCP session: identifies the gateway and turns
/// `notifications/tools/list_changed` into a re-list.
pub(crate) struct Handler {
    client: String,
    tools_changed: Arc<Notify>,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("heimdall", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!(client = %self.client, "MCP server announced a tool list change");
        self.tools_changed.notify_one();
    }
}

/// Connect `config`'s server, initialise the session and list its tools. `ct` cancels the
/// attempt and, once connected, the session.
pub(crate) async fn connect(
    config: &McpClientConfig,
    ct: CancellationToken,
) -> Result<Connection, String> {
    let tools_changed = Arc::new(Notify::new());
    let handler = Handler {
        client: config.name.clone(),
        tools_changed: tools_changed.clone(),
    };
    let service = match config.connection_type {
        McpConnectionType::Stdio => {
            let transport = spawn_stdio(config)?;
            handler.serve_with_ct(transport, ct).await
        }
        McpConnectionType::Http => {
            let url = url_of(config)?;
            let transport = StreamableHttpClientTransport::with_client(
                http_client(&config.headers)?,
                StreamableHttpClientTransportConfig::with_uri(url),
            );
            handler.serve_with_ct(transport, ct).await
        }
        McpConnectionType::Sse => {
            let url = url_of(config)?;
            let transport = SseTransport::connect(http_client(&config.headers)?, url, &config.name)
                .await
                .map_err(|e| e.to_string())?;
            handler.serve_with_ct(transport, ct).await
        }
    }
    .map_err(|e| format!("handshake failed: {}", init_error(&e)))?;
    // Re-lists must reach the server: they double as the liveness check of an idle connection.
    service
        .peer()
        .set_response_cache_config(ClientCacheConfig::disabled())
        .await;
    let tools = service
        .peer()
        .list_all_tools()
        .await
        .map_err(|e| format!("tools/list failed: {}", service_error(&e)))?;
    Ok(Connection {
        service,
        tools,
        tools_changed,
    })
}

/// A handshake error for the status: rmcp names the transport by its full generic type, which
/// says nothing to an operator; the cause chain does.
fn init_error(e: &ClientInitializeError) -> String {
    match e {
        ClientInitializeError::TransportError { error, context } => {
            format!("{context}: {}", chain(error.error.as_ref()))
        }
        other => other.to_string(),
    }
}

/// A request error for the status and the tool call's answer (see `init_error`).
pub(crate) fn service_error(e: &ServiceError) -> String {
    match e {
        ServiceError::TransportSend(t) => format!("transport failed: {}", chain(t.error.as_ref())),
        other => other.to_string(),
    }
}

/// An error and its causes, `a: b: c`, without repeating a cause its parent already shows.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

fn url_of(config: &McpClientConfig) -> Result<&str, String> {
    config
        .connection_string
        .as_deref()
        .ok_or_else(|| "no connection_string".to_owned())
}

/// Start the stdio server with its own small environment; stderr goes to the debug log.
fn spawn_stdio(config: &McpClientConfig) -> Result<TokioChildProcess, String> {
    let stdio = config
        .stdio_config
        .as_ref()
        .ok_or_else(|| "no stdio_config".to_owned())?;
    let mut command = Command::new(&stdio.command);
    command.args(&stdio.args).env_clear().kill_on_drop(true);
    let inherited = ["PATH", "HOME"]
        .into_iter()
        .chain(stdio.envs.iter().map(String::as_str));
    for name in inherited {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in &stdio.env {
        command.env(name, value.expose());
    }
    let (process, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start '{}': {e}", stdio.command))?;
    if let Some(stderr) = stderr {
        let client = config.name.clone();
        heimdall_core::task::spawn("mcp-stdio-stderr", forward_stderr(stderr, client));
    }
    Ok(process)
}

/// Forward the child's stderr to the debug log line by line, each line bounded.
async fn forward_stderr(stderr: ChildStderr, client: String) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) if !buf.is_empty() => buf,
            _ => break,
        };
        let (take, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, i + 1),
            None => (buf.len(), buf.len()),
        };
        let room = MAX_STDERR_LINE.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        let complete = end > take;
        reader.consume(end);
        if complete {
            log_stderr(&client, &line);
            line.clear();
        }
    }
    if !line.is_empty() {
        log_stderr(&client, &line);
    }
}

fn log_stderr(client: &str, line: &[u8]) {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches('\r');
    tracing::debug!(client, "{line}");
}

/// The HTTP client of an `http` or `sse` server: the configured headers on every request, no
/// redirects (they would carry those headers elsewhere), no proxy from the environment.
#[allow(clippy::disallowed_methods)] // provider clients are built elsewhere; this is the MCP one
fn http_client(
    headers: &std::collections::BTreeMap<String, Secret>,
) -> Result<reqwest::Client, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header '{name}': invalid name"))?;
        let mut value = HeaderValue::from_str(value.expose())
            .map_err(|_| format!("header '{name}': invalid value"))?;
        value.set_sensitive(true);
        map.insert(header, value);
    }
    reqwest::Client::builder()
        .default_headers(map)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}
