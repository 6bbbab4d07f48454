//! The gateway's MCP clients as one object: reconciled with each configuration, asked for the
//! current tools on every chat request, and asked to run a tool.
//!
//! Why a snapshot: `tools()` runs per request, so the admitted tools of connected clients are
//! kept as one `Arc<[McpTool]>` rebuilt whenever a client connects, re-lists or drops (a dropped
//! client's tools vanish at once), and reading it is a pointer copy. Each client's connection
//! lives in its own supervisor task (`supervisor.rs`); this module only holds what they publish.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use heimdall_config::{McpClientConfig, McpConfig};
use rmcp::ServiceError;
use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value};

use crate::supervisor::{ClientRuntime, Listed, ReconnectRequest};

/// Every MCP client of the gateway.
pub struct McpManager {
    /// In config order.
    clients: Mutex<Vec<Arc<ClientRuntime>>>,
    /// What `tools()` hands out (arc-swap needs a sized pointee, hence the double `Arc`).
    snapshot: ArcSwap<Arc<[McpTool]>>,
}

/// What a client looks like now, for the API and the UI.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClientStatus {
    /// The client's configured name.
    pub name: String,
    /// `stdio`, `http` or `sse`.
    pub connection_type: &'static str,
    /// Connection state.
    pub state: ClientState,
    /// The last connect or transport error (never a header value).
    pub error: Option<String>,
    /// Every tool the server lists, admitted or not (empty while not connected).
    pub tools: Vec<ToolInfo>,
    /// When the current connection was made (unix ms).
    pub connected_at_ms: Option<u64>,
    /// How many times the connection dropped or failed and was tried again.
    pub reconnects: u64,
    /// The server's name from the handshake.
    pub server_name: Option<String>,
    /// The server's version from the handshake.
    pub server_version: Option<String>,
}

/// A client's connection state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientState {
    /// Starting the transport or the handshake.
    Connecting,
    /// Up, tools listed.
    Connected,
    /// Down; waiting to connect again.
    Disconnected,
}

/// One tool a server lists.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ToolInfo {
    /// The server's tool name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Admitted by `tools_to_execute` (offered to models, callable).
    pub executable: bool,
    /// Admitted by `tools_to_auto_execute` (the gateway runs it itself).
    pub auto_execute: bool,
}

/// A tool offered to models.
#[derive(Clone, Debug)]
pub struct McpTool {
    /// The client it belongs to.
    pub client: String,
    /// The server's tool name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The tool's `inputSchema` (`{"type":"object","properties":{}}` when the server gave none).
    pub input_schema: Value,
    /// Admitted by `tools_to_auto_execute`.
    pub auto_execute: bool,
}

impl McpTool {
    /// The function name a model sees: `<client>-<tool>`.
    pub fn function_name(&self) -> String {
        format!("{}-{}", self.client, self.name)
    }
}

/// What a tool call returned.
#[derive(Clone, Debug)]
pub struct ToolOutput {
    /// The result's content blocks as JSON.
    pub content: Vec<Value>,
    /// The result's `structuredContent`.
    pub structured: Option<Value>,
    /// The server flagged the result as an error.
    pub is_error: bool,
}

impl ToolOutput {
    /// The result as text for a model: text blocks joined with `\n`, any other block as JSON on
    /// its own line; with no content, the structured result as JSON.
    pub fn text(&self) -> String {
        if self.content.is_empty() {
            return self
                .structured
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default();
        }
        let lines: Vec<String> = self
            .content
            .iter()
            .map(|block| match (block.get("type"), block.get("text")) {
                (Some(Value::String(t)), Some(Value::String(text))) if t == "text" => text.clone(),
                _ => block.to_string(),
            })
            .collect();
        lines.join("\n")
    }
}

/// Why a tool call did not run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// No client of that name is configured.
    #[error("no MCP client named '{0}'")]
    UnknownClient(String),
    /// The tool is not admitted by `tools_to_execute` or not listed by the server.
    #[error("MCP client '{client}' offers no tool '{tool}'")]
    UnknownTool { client: String, tool: String },
    /// The client is not connected now.
    #[error("MCP client '{0}' is not connected")]
    NotConnected(String),
    /// No answer within the timeout.
    #[error("the MCP tool call timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The server answered with a protocol error, or the transport failed.
    #[error("the MCP tool call failed: {0}")]
    Failed(String),
}

impl McpManager {
    /// A manager with no clients; `apply` a config to start some.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            clients: Mutex::new(Vec::new()),
            snapshot: ArcSwap::from_pointee(Arc::from(Vec::new())),
        })
    }

    /// Reconcile with the config: start clients not running, stop removed ones, restart those
    /// whose config changed. Returns at once (tasks do the work; needs a tokio runtime).
    pub fn apply(self: &Arc<Self>, config: &McpConfig) {
        let mut clients = lock(&self.clients);
        let mut old = std::mem::take(&mut *clients);
        for wanted in &config.client_configs {
            if let Some(pos) = old.iter().position(|c| c.config.name == wanted.name) {
                let running = old.remove(pos);
                if running.config == *wanted {
                    clients.push(running);
                    continue;
                }
                tracing::info!(client = %wanted.name, "MCP client config changed; restarting it");
                running.stop();
            }
            clients.push(self.start(wanted.clone()));
        }
        for removed in old {
            tracing::info!(client = %removed.config.name, "MCP client removed; stopping it");
            removed.stop();
        }
        self.publish_locked(&clients);
    }

    fn start(self: &Arc<Self>, config: McpClientConfig) -> Arc<ClientRuntime> {
        let (runtime, requests) = ClientRuntime::new(config);
        if tokio::runtime::Handle::try_current().is_ok() {
            let task =
                crate::supervisor::supervise(runtime.clone(), requests, Arc::downgrade(self));
            heimdall_core::task::spawn("mcp-client", task);
        } else {
            tracing::error!(client = %runtime.config.name, "MCP client not started: no tokio runtime");
            runtime.update(|s| {
                s.state = ClientState::Disconnected;
                s.error = Some("not started: no tokio runtime".to_owned());
            });
        }
        runtime
    }

    /// Every configured client's status, in config order.
    pub fn clients(&self) -> Vec<ClientStatus> {
        lock(&self.clients).iter().map(|c| c.status()).collect()
    }

    /// One client's status.
    pub fn client(&self, name: &str) -> Option<ClientStatus> {
        self.find(name).map(|c| c.status())
    }

    /// The admitted tools of connected clients (a shared snapshot; cheap).
    pub fn tools(&self) -> Arc<[McpTool]> {
        Arc::clone(&self.snapshot.load())
    }

    /// The tool a model-facing function name `<client>-<tool>` names, if currently offered.
    pub fn resolve(&self, function_name: &str) -> Option<McpTool> {
        let (client, tool) = function_name.split_once('-')?;
        self.snapshot
            .load()
            .iter()
            .find(|t| t.client == client && t.name == tool)
            .cloned()
    }

    /// Call `tool` of `client` with `arguments`, waiting at most `timeout`.
    pub async fn call_tool(
        &self,
        client: &str,
        tool: &str,
        arguments: Option<Map<String, Value>>,
        timeout: Duration,
    ) -> Result<ToolOutput, ToolError> {
        let runtime = self
            .find(client)
            .ok_or_else(|| ToolError::UnknownClient(client.to_owned()))?;
        let unknown = || ToolError::UnknownTool {
            client: client.to_owned(),
            tool: tool.to_owned(),
        };
        if !runtime.config.tools_to_execute.admits(tool) {
            return Err(unknown());
        }
        let (peer, generation, listed) = runtime.with_state(|s| {
            let listed = s.tools.iter().any(|t| t.name == tool);
            (s.peer.clone(), s.generation, listed)
        });
        let peer = peer.ok_or_else(|| ToolError::NotConnected(client.to_owned()))?;
        if !listed {
            return Err(unknown());
        }
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        let result = match tokio::time::timeout(timeout, peer.call_tool(params)).await {
            Err(_) => return Err(ToolError::Timeout(timeout)),
            Ok(Ok(result)) => result,
            Ok(Err(e)) => {
                // A JSON-RPC error is the server's answer; only a broken transport means the
                // connection is gone.
                let error = crate::supervisor::scrub_url(
                    &crate::connect::service_error(&e),
                    &runtime.config,
                );
                if matches!(
                    e,
                    ServiceError::TransportSend(_) | ServiceError::TransportClosed
                ) {
                    tracing::warn!(
                        client,
                        tool,
                        error,
                        "MCP transport failed during a tool call; reconnecting"
                    );
                    runtime.request_reconnect(ReconnectRequest::TransportFailed {
                        generation,
                        error: error.clone(),
                    });
                }
                return Err(ToolError::Failed(error));
            }
        };
        Ok(ToolOutput {
            content: result
                .content
                .iter()
                .filter_map(|block| serde_json::to_value(block).ok())
                .collect(),
            structured: result.structured_content,
            is_error: result.is_error.unwrap_or(false),
        })
    }

    /// Drop the connection and connect again now (false: no such client).
    pub fn reconnect(&self, name: &str) -> bool {
        match self.find(name) {
            Some(runtime) => {
                runtime.request_reconnect(ReconnectRequest::Manual);
                true
            }
            None => false,
        }
    }

    /// Stop every client (children killed); `apply` starts them again.
    pub fn shutdown(&self) {
        let mut clients = lock(&self.clients);
        for client in clients.drain(..) {
            client.stop();
        }
        self.publish_locked(&clients);
    }

    fn find(&self, name: &str) -> Option<Arc<ClientRuntime>> {
        lock(&self.clients)
            .iter()
            .find(|c| c.config.name == name)
            .cloned()
    }

    /// Rebuild the tool snapshot from every configured client's state (a supervisor calls this
    /// after each change; a removed client's late changes no longer count).
    pub(crate) fn publish(&self) {
        let clients = lock(&self.clients);
        self.publish_locked(&clients);
    }

    /// Under the clients lock, so snapshots are stored in the order their states changed.
    fn publish_locked(&self, clients: &[Arc<ClientRuntime>]) {
        let mut tools = Vec::new();
        for client in clients {
            let config = &client.config;
            client.with_state(|s| {
                if s.state != ClientState::Connected {
                    return;
                }
                tools.extend(
                    s.tools
                        .iter()
                        .filter(|t| config.tools_to_execute.admits(&t.name))
                        .map(|t| mcp_tool(config, t)),
                );
            });
        }
        self.snapshot.store(Arc::new(Arc::from(tools)));
    }
}

impl Drop for McpManager {
    fn drop(&mut self) {
        for client in lock(&self.clients).iter() {
            client.stop();
        }
    }
}

fn mcp_tool(config: &McpClientConfig, tool: &Listed) -> McpTool {
    McpTool {
        client: config.name.clone(),
        name: tool.name.clone(),
        description: tool.description.clone(),
        input_schema: tool.input_schema.clone(),
        auto_execute: config.tools_to_auto_execute.admits(&tool.name),
    }
}

/// A poisoned lock only means another thread panicked mid-update; the data is still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn output(content: Vec<Value>, structured: Option<Value>) -> ToolOutput {
        ToolOutput {
            content,
            structured,
            is_error: false,
        }
    }

    #[test]
    fn text_joins_text_blocks_and_shows_other_blocks_as_json() {
        let image = json!({"type": "image", "data": "AAAA", "mimeType": "image/png"});
        let out = output(
            vec![
                json!({"type": "text", "text": "first"}),
                image.clone(),
                json!({"type": "text", "text": "last"}),
            ],
            Some(json!({"ignored": true})),
        );
        assert_eq!(out.text(), format!("first\n{image}\nlast"));
    }

    #[test]
    fn text_falls_back_to_the_structured_result() {
        assert_eq!(
            output(vec![], Some(json!({"sum": 5}))).text(),
            r#"{"sum":5}"#
        );
        assert_eq!(output(vec![], None).text(), "");
    }

    #[test]
    fn function_names_split_at_the_first_dash() {
        let manager = McpManager::new();
        let tool = McpTool {
            client: "everything".into(),
            name: "get-sum".into(),
            description: None,
            input_schema: json!({"type": "object"}),
            auto_execute: false,
        };
        assert_eq!(tool.function_name(), "everything-get-sum");
        manager.snapshot.store(Arc::new(Arc::from(vec![tool])));
        assert_eq!(
            manager.resolve("everything-get-sum").map(|t| t.name),
            Some("get-sum".into())
        );
        assert!(manager.resolve("everything-get").is_none());
        assert!(manager.resolve("everything").is_none());
        assert_eq!(manager.tools().len(), 1);
    }

    #[test]
    fn errors_say_what_went_wrong() {
        let e = ToolError::UnknownTool {
            client: "fs".into(),
            tool: "rm".into(),
        };
        assert_eq!(e.to_string(), "MCP client 'fs' offers no tool 'rm'");
        assert_eq!(
            ToolError::Timeout(Duration::from_secs(2)).to_string(),
            "the MCP tool call timed out after 2000 ms"
        );
    }
}
