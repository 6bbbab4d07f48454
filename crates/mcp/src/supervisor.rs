//! One task per MCP client keeps its connection alive: connect (bounded), list the tools,
//! then watch for the session ending, the sync interval, a `tools/list_changed` announcement,
//! a reconnect request or a stop; after a drop, wait with exponential backoff and connect again.
//!
//! Why a supervisor and not connect-on-demand: chat requests must see a tool list without
//! waiting for a handshake, and a crashed stdio server or a restarted HTTP server has to come
//! back by itself. The task owns the connection; the manager only sees what it publishes
//! (state, tools, a `Peer` for calls), and a dropped connection's tools are withdrawn before
//! anything else happens.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use heimdall_config::McpClientConfig;
use rmcp::model::Tool;
use rmcp::{Peer, RoleClient};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::connect::{Connection, connect, service_error};
use crate::manager::{ClientState, ClientStatus, McpManager, ToolInfo, lock};

/// Longest a connection attempt (spawn or dial, handshake, first tool list) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a re-list may take before the connection counts as dead.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a connected server is pinged: a streamable HTTP session does not end when its
/// server goes away (the transport retries its event stream), so without this its tools would
/// be offered until the next re-list.
const PING_EVERY: Duration = Duration::from_secs(10);
/// How long a ping may take before the connection counts as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// First wait after a drop; doubled after each failure up to `MAX_BACKOFF`.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// Longest error text kept in the status.
const MAX_ERROR_CHARS: usize = 1000;

/// Why the supervisor should drop the connection and connect again.
#[derive(Debug, Clone)]
pub(crate) enum ReconnectRequest {
    /// Asked for through the API.
    Manual,
    /// A tool call's transport failed on the connection of `generation` (ignored when that
    /// connection is already gone).
    TransportFailed { generation: u64, error: String },
}

/// A tool as the server listed it.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) input_schema: Value,
}

/// What the supervisor publishes about its client.
pub(crate) struct RuntimeState {
    pub(crate) state: ClientState,
    pub(crate) error: Option<String>,
    pub(crate) tools: Vec<Listed>,
    pub(crate) connected_at_ms: Option<u64>,
    pub(crate) reconnects: u64,
    pub(crate) server_name: Option<String>,
    pub(crate) server_version: Option<String>,
    /// The live session, for tool calls.
    pub(crate) peer: Option<Peer<RoleClient>>,
    /// Counts connections; tells a stale transport-failure report from a current one.
    pub(crate) generation: u64,
}

/// One configured client: its config, its published state, and the handles to steer its task.
pub(crate) struct ClientRuntime {
    pub(crate) config: McpClientConfig,
    stop: CancellationToken,
    requests: mpsc::Sender<ReconnectRequest>,
    state: Mutex<RuntimeState>,
}

impl ClientRuntime {
    /// A runtime in state `Connecting`, and the receiver its supervisor reads requests from.
    pub(crate) fn new(config: McpClientConfig) -> (Arc<Self>, mpsc::Receiver<ReconnectRequest>) {
        let (requests, rx) = mpsc::channel(4);
        let runtime = Arc::new(Self {
            config,
            stop: CancellationToken::new(),
            requests,
            state: Mutex::new(RuntimeState {
                state: ClientState::Connecting,
                error: None,
                tools: Vec::new(),
                connected_at_ms: None,
                reconnects: 0,
                server_name: None,
                server_version: None,
                peer: None,
                generation: 0,
            }),
        });
        (runtime, rx)
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut RuntimeState)) {
        f(&mut lock(&self.state));
    }

    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&RuntimeState) -> R) -> R {
        f(&lock(&self.state))
    }

    /// Stop the supervisor; its session and child process go with it.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    /// Ask for a reconnect; one pending request is enough, so a full queue drops it.
    pub(crate) fn request_reconnect(&self, request: ReconnectRequest) {
        let _ = self.requests.try_send(request);
    }

    pub(crate) fn status(&self) -> ClientStatus {
        let config = &self.config;
        self.with_state(|s| ClientStatus {
            name: config.name.clone(),
            connection_type: config.connection_type.as_str(),
            state: s.state,
            error: s.error.as_deref().map(|e| scrub_url(e, config)),
            tools: s
                .tools
                .iter()
                .map(|t| ToolInfo {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    executable: config.tools_to_execute.admits(&t.name),
                    auto_execute: config.tools_to_auto_execute.admits(&t.name),
                })
                .collect(),
            connected_at_ms: s.connected_at_ms,
            reconnects: s.reconnects,
            server_name: s.server_name.clone(),
            server_version: s.server_version.clone(),
        })
    }
}

/// How a live connection ended.
enum Ended {
    Stopped,
    Manual,
    Failed(String),
}

/// Keep `runtime`'s client connected until it is stopped or the manager is gone.
pub(crate) async fn supervise(
    runtime: Arc<ClientRuntime>,
    mut requests: mpsc::Receiver<ReconnectRequest>,
    manager: Weak<McpManager>,
) {
    let client = runtime.config.name.clone();
    let mut backoff = INITIAL_BACKOFF;
    let mut generation = 0u64;
    loop {
        runtime.update(|s| s.state = ClientState::Connecting);
        if !publish(&manager) {
            return;
        }
        let session = runtime.stop.child_token();
        let attempt =
            tokio::time::timeout(CONNECT_TIMEOUT, connect(&runtime.config, session.clone()));
        let outcome = tokio::select! {
            _ = runtime.stop.cancelled() => return,
            Some(_) = wanted_reconnect(&mut requests, None) => {
                session.cancel();
                runtime.update(|s| s.reconnects += 1);
                backoff = INITIAL_BACKOFF;
                continue;
            }
            r = attempt => match r {
                Ok(r) => r,
                Err(_) => Err(format!("no connection within {} s", CONNECT_TIMEOUT.as_secs())),
            },
        };
        let ended = match outcome {
            Ok(connection) => {
                generation += 1;
                let started = Instant::now();
                let ended =
                    run_connected(&runtime, &mut requests, &manager, connection, generation).await;
                session.cancel();
                if started.elapsed() > STABLE_AFTER {
                    backoff = INITIAL_BACKOFF;
                }
                ended
            }
            Err(error) => {
                session.cancel();
                Ended::Failed(error)
            }
        };
        match ended {
            Ended::Stopped => return,
            Ended::Manual => {
                tracing::info!(client, "MCP client reconnecting on request");
                runtime.update(|s| {
                    disconnect(s);
                    s.state = ClientState::Connecting;
                    s.reconnects += 1;
                });
                backoff = INITIAL_BACKOFF;
            }
            Ended::Failed(error) => {
                let error = bounded(error);
                tracing::warn!(
                    client,
                    error,
                    retry_in_ms = backoff.as_millis() as u64,
                    "MCP client disconnected"
                );
                runtime.update(|s| {
                    disconnect(s);
                    s.error = Some(error);
                    s.reconnects += 1;
                });
                if !publish(&manager) {
                    return;
                }
                tokio::select! {
                    _ = runtime.stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                    Some(_) = wanted_reconnect(&mut requests, None) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Publish the connection, then serve until it ends; the tools are re-listed on the sync
/// interval and when the server announces a change.
async fn run_connected(
    runtime: &ClientRuntime,
    requests: &mut mpsc::Receiver<ReconnectRequest>,
    manager: &Weak<McpManager>,
    connection: Connection,
    generation: u64,
) -> Ended {
    let client = runtime.config.name.as_str();
    let Connection {
        service,
        tools,
        tools_changed,
    } = connection;
    let peer = service.peer().clone();
    let server = peer.peer_info().and_then(|info| info.server_info.clone());
    let tools = listed(tools);
    tracing::info!(
        client,
        tools = tools.len(),
        server_name = server.as_ref().map(|s| s.name.as_str()),
        server_version = server.as_ref().map(|s| s.version.as_str()),
        "MCP client connected"
    );
    runtime.update(|s| {
        s.state = ClientState::Connected;
        s.tools = tools;
        s.connected_at_ms = Some(unix_ms());
        s.server_name = server.as_ref().map(|s| s.name.clone());
        s.server_version = server.as_ref().map(|s| s.version.clone());
        s.peer = Some(peer.clone());
        s.generation = generation;
    });
    if !publish(manager) {
        return Ended::Stopped;
    }
    let every = runtime
        .config
        .tool_sync_interval
        .max(Duration::from_secs(1));
    let mut sync = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let closed = service.waiting();
    tokio::pin!(closed);
    loop {
        let liveness_only = tokio::select! {
            _ = runtime.stop.cancelled() => return Ended::Stopped,
            quit = &mut closed => return Ended::Failed(match quit {
                Ok(reason) => format!("the session ended ({reason:?})"),
                Err(e) => format!("the session task failed: {e}"),
            }),
            Some(failed) = wanted_reconnect(requests, Some(generation)) => return match failed {
                ReconnectRequest::Manual => Ended::Manual,
                ReconnectRequest::TransportFailed { error, .. } => {
                    Ended::Failed(format!("a tool call failed: {error}"))
                }
            },
            _ = tools_changed.notified() => false,
            _ = sync.tick() => false,
            _ = ping.tick() => true,
        };
        if liveness_only {
            let request = rmcp::model::PingRequest {
                method: Default::default(),
                extensions: Default::default(),
            };
            let answered = tokio::select! {
                _ = runtime.stop.cancelled() => return Ended::Stopped,
                r = tokio::time::timeout(PING_TIMEOUT, peer.send_request(request.into())) => r,
            };
            match answered {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => return Ended::Failed(format!("ping failed: {}", service_error(&e))),
                Err(_) => {
                    return Ended::Failed(format!(
                        "ping gave no answer within {} s",
                        PING_TIMEOUT.as_secs()
                    ));
                }
            }
        }
        let relisted = tokio::select! {
            _ = runtime.stop.cancelled() => return Ended::Stopped,
            r = tokio::time::timeout(LIST_TIMEOUT, peer.list_all_tools()) => r,
        };
        match relisted {
            Ok(Ok(tools)) => {
                let tools = listed(tools);
                tracing::debug!(client, tools = tools.len(), "MCP tools re-listed");
                runtime.update(|s| s.tools = tools);
                if !publish(manager) {
                    return Ended::Stopped;
                }
            }
            Ok(Err(e)) => {
                return Ended::Failed(format!("tools/list failed: {}", service_error(&e)));
            }
            Err(_) => {
                return Ended::Failed(format!(
                    "tools/list gave no answer within {} s",
                    LIST_TIMEOUT.as_secs()
                ));
            }
        }
    }
}

/// Wait for a reconnect request that applies: a manual one, or a transport failure of the
/// current connection (`generation`). `None` only if the channel closed, which cannot happen
/// while the runtime (holding the sender) lives.
async fn wanted_reconnect(
    requests: &mut mpsc::Receiver<ReconnectRequest>,
    generation: Option<u64>,
) -> Option<ReconnectRequest> {
    loop {
        match requests.recv().await? {
            ReconnectRequest::TransportFailed { generation: g, .. } if Some(g) != generation => {}
            request => return Some(request),
        }
    }
}

/// Withdraw the session and its tools.
fn disconnect(s: &mut RuntimeState) {
    s.state = ClientState::Disconnected;
    s.peer = None;
    s.tools.clear();
    s.connected_at_ms = None;
}

/// Rebuild the manager's snapshot; false when the manager is gone.
fn publish(manager: &Weak<McpManager>) -> bool {
    match manager.upgrade() {
        Some(m) => {
            m.publish();
            true
        }
        None => false,
    }
}

fn listed(tools: Vec<Tool>) -> Vec<Listed> {
    tools
        .into_iter()
        .map(|t| Listed {
            name: t.name.into_owned(),
            description: t.description.map(|d| d.into_owned()),
            input_schema: if t.input_schema.is_empty() {
                json!({"type": "object", "properties": {}})
            } else {
                Value::Object(t.input_schema.as_ref().clone())
            },
        })
        .collect()
}

/// `text` without the query of the client's URL: a `connection_string` may carry a token
/// there (`…/sse?key=…`), and HTTP errors quote the URL they failed on.
pub(crate) fn scrub_url(text: &str, config: &McpClientConfig) -> String {
    match config
        .connection_string
        .as_deref()
        .and_then(|u| u.split_once('?'))
    {
        Some((_, query)) if !query.is_empty() => text.replace(query, "…"),
        _ => text.to_owned(),
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn bounded(mut error: String) -> String {
    if let Some((cut, _)) = error.char_indices().nth(MAX_ERROR_CHARS) {
        error.truncate(cut);
        error.push('…');
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdall_config::{McpConnectionType, ToolSelection};

    #[test]
    fn a_token_in_the_url_query_never_reaches_the_status() {
        let config = McpClientConfig {
            name: "web".into(),
            connection_type: McpConnectionType::Sse,
            connection_string: Some("https://mcp.example/sse?key=s3cret-token".into()),
            stdio_config: None,
            headers: Default::default(),
            tools_to_execute: ToolSelection::All,
            tools_to_auto_execute: ToolSelection::Only(Vec::new()),
            tool_sync_interval: Duration::from_secs(300),
        };
        let text = "error sending request for url (https://mcp.example/sse?key=s3cret-token)";
        let scrubbed = scrub_url(text, &config);
        assert!(!scrubbed.contains("s3cret"), "{scrubbed}");
        assert!(scrubbed.contains("https://mcp.example/sse?…"));
    }
}
