//! The `mcp` section: which MCP servers the gateway connects to (Bifrost's `client_configs`),
//! which of their tools it offers to models and which it runs itself (agent mode), and the
//! tool manager's limits.
//!
//! Why typed here and not in the MCP crate: the control plane validates every change before it
//! takes effect; a client with no command or an unknown connection type must be refused with
//! its field path like any other config error, not discovered when the connection fails.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::build::LoadCtx;
use crate::model::{GatewayConfig, Secret};

/// How the gateway reaches an MCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum McpConnectionType {
    /// A child process speaking JSON-RPC on stdin/stdout.
    Stdio,
    /// Streamable HTTP (one endpoint, POST + optional SSE answers).
    Http,
    /// The legacy HTTP+SSE transport (GET an event stream, POST to the endpoint it names).
    Sse,
}

impl McpConnectionType {
    /// The name used in the config and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdio => "stdio",
            Self::Http => "http",
            Self::Sse => "sse",
        }
    }
}

/// How to start a stdio server.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct McpStdioConfig {
    /// Program to run.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Names of the gateway's environment variables passed through (Bifrost's `envs`); the
    /// child otherwise gets a minimal environment (`PATH`, `HOME`).
    pub envs: Vec<String>,
    /// Variables set for the child (`env.VAR` references resolved; may be credentials).
    pub env: BTreeMap<String, Secret>,
}

/// Which tools of a server a rule admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolSelection {
    /// Every tool (`["*"]`, or the field absent where that is the default).
    All,
    /// Only these tool names (empty: none).
    Only(Vec<String>),
}

impl ToolSelection {
    /// Whether `tool` is admitted.
    pub fn admits(&self, tool: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.iter().any(|n| n == tool),
        }
    }

    /// From a list as written (`"*"` anywhere means all).
    pub fn from_list(list: Vec<String>) -> Self {
        if list.iter().any(|n| n == "*") {
            Self::All
        } else {
            Self::Only(list)
        }
    }
}

/// One MCP server the gateway connects to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McpClientConfig {
    /// Unique name; tools are offered to models as `<name>-<tool>`.
    pub name: String,
    /// Transport.
    pub connection_type: McpConnectionType,
    /// URL for `http` and `sse`.
    pub connection_string: Option<String>,
    /// Process for `stdio`.
    pub stdio_config: Option<McpStdioConfig>,
    /// Headers sent with every HTTP request to the server (credentials: secrets).
    pub headers: BTreeMap<String, Secret>,
    /// Tools offered to models and executable (default all).
    pub tools_to_execute: ToolSelection,
    /// Tools the gateway runs itself when a model calls them (agent mode; default none).
    pub tools_to_auto_execute: ToolSelection,
    /// How often the tool list is fetched again (default 5 minutes; servers that announce
    /// list changes are re-read at once).
    pub tool_sync_interval: Duration,
}

/// Limits of tool execution and agent mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McpToolManagerConfig {
    /// Longest one tool call may take.
    pub tool_execution_timeout: Duration,
    /// Most model turns an agent-mode request makes before it answers with what it has.
    pub max_agent_depth: u32,
}

impl Default for McpToolManagerConfig {
    fn default() -> Self {
        Self {
            tool_execution_timeout: Duration::from_secs(30),
            max_agent_depth: 10,
        }
    }
}

/// The `mcp` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct McpConfig {
    /// The servers.
    pub client_configs: Vec<McpClientConfig>,
    /// Limits.
    pub tool_manager_config: McpToolManagerConfig,
}

impl McpConfig {
    /// A client by name.
    pub fn client(&self, name: &str) -> Option<&McpClientConfig> {
        self.client_configs.iter().find(|c| c.name == name)
    }
}

/// Bifrost's `mcp` section: the MCP servers the gateway connects to and the tool manager's
/// limits.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMcp {
    /// The MCP servers (one client each).
    #[serde(default)]
    client_configs: Vec<RawClient>,
    /// Limits of tool execution and agent mode.
    #[serde(default)]
    tool_manager_config: Option<RawToolManager>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawToolManager {
    /// Longest one tool call may take: seconds, or `30s`, `5m` (default 30 s).
    #[serde(default)]
    tool_execution_timeout: Option<Value>,
    /// Most tool rounds an agent-mode request runs before it answers with what it has
    /// (default 10).
    #[serde(default)]
    max_agent_depth: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawClient {
    /// Unique name (letters, digits, `_`); its tools are offered as `<name>-<tool>`.
    name: String,
    /// Bifrost's stored client id; the name is the id here.
    #[serde(default)]
    #[allow(dead_code)]
    client_id: Option<String>,
    /// `stdio` (a child process), `http` (streamable HTTP) or `sse` (the legacy HTTP+SSE
    /// transport).
    connection_type: String,
    /// The server's URL for `http` and `sse` (`env.VAR` allowed).
    #[serde(default)]
    connection_string: Option<String>,
    /// The process for `stdio`.
    #[serde(default)]
    stdio_config: Option<RawStdio>,
    /// Headers sent with every HTTP request to the server (secrets: encrypted at rest,
    /// redacted in answers; `env.VAR` allowed).
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Tools offered to models and executable (`["*"]` or absent: all; `[]`: none).
    #[serde(default)]
    tools_to_execute: Option<Vec<String>>,
    /// Tools the gateway runs itself when a model calls them (agent mode; absent: none).
    #[serde(default)]
    tools_to_auto_execute: Option<Vec<String>>,
    /// How often the tool list is read again: seconds or `30s`, `5m` (default 5 minutes).
    #[serde(default)]
    tool_sync_interval: Option<Value>,
    /// Bifrost's UI field, accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    is_ping_available: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawStdio {
    /// Program to run (found on `PATH`).
    command: String,
    /// Its arguments.
    #[serde(default)]
    args: Vec<String>,
    /// Names of the gateway's environment variables passed to the child (it otherwise gets
    /// only `PATH` and `HOME`).
    #[serde(default)]
    envs: Vec<String>,
    /// Variables set for the child (`env.VAR` allowed; secrets).
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// Read `mcp` into `cfg.mcp`.
pub(crate) fn take_mcp(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    let Some(v) = cfg.inactive_sections.remove("mcp") else {
        return;
    };
    let raw = match serde_path_to_error::deserialize::<_, RawMcp>(v) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(format!("mcp.{}", e.path()), e.into_inner().to_string());
            return;
        }
    };
    let mut out = McpConfig::default();
    if let Some(tm) = raw.tool_manager_config {
        if let Some(t) = tm.tool_execution_timeout {
            match crate::cache::parse_ttl(&t) {
                Some(d) => out.tool_manager_config.tool_execution_timeout = d,
                None => ctx.issue(
                    "mcp.tool_manager_config.tool_execution_timeout",
                    "must be seconds or a duration like 30s, 5m",
                ),
            }
        }
        if let Some(d) = tm.max_agent_depth {
            if d == 0 {
                ctx.issue(
                    "mcp.tool_manager_config.max_agent_depth",
                    "must be at least 1",
                );
            } else {
                out.tool_manager_config.max_agent_depth = d;
            }
        }
    }
    for (i, c) in raw.client_configs.into_iter().enumerate() {
        if let Some(client) = client(i, c, ctx) {
            if out.client(&client.name).is_some() {
                ctx.issue(
                    format!("mcp.client_configs[{i}].name"),
                    format!("'{}' names another client too", client.name),
                );
                continue;
            }
            out.client_configs.push(client);
        }
    }
    cfg.mcp = out;
}

fn client(i: usize, c: RawClient, ctx: &mut LoadCtx<'_>) -> Option<McpClientConfig> {
    let path = format!("mcp.client_configs[{i}]");
    let name = c.name.trim().to_owned();
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    {
        // `-` separates the client from the tool in the function name a model sees.
        ctx.issue(
            format!("{path}.name"),
            format!(
                "'{name}' must be letters, digits and '_' (it prefixes tool names as <name>-<tool>)"
            ),
        );
        return None;
    }
    let connection_type = match c.connection_type.to_ascii_lowercase().as_str() {
        "stdio" => McpConnectionType::Stdio,
        "http" | "streamable_http" | "streamablehttp" => McpConnectionType::Http,
        "sse" => McpConnectionType::Sse,
        other => {
            ctx.issue(
                format!("{path}.connection_type"),
                format!("unknown connection type '{other}' (stdio, http, sse)"),
            );
            return None;
        }
    };
    let connection_string = c
        .connection_string
        .as_deref()
        .and_then(|s| ctx.url(&format!("{path}.connection_string"), s));
    let stdio_config = c.stdio_config.map(|s| McpStdioConfig {
        command: ctx.resolve(&format!("{path}.stdio_config.command"), &s.command),
        args: s.args,
        envs: s.envs,
        env: s
            .env
            .into_iter()
            .map(|(k, v)| {
                let value = ctx.resolve(&format!("{path}.stdio_config.env.{k}"), &v);
                (k, Secret::new(value))
            })
            .collect(),
    });
    match connection_type {
        McpConnectionType::Stdio
            if stdio_config
                .as_ref()
                .is_none_or(|s| s.command.trim().is_empty()) =>
        {
            ctx.issue(
                format!("{path}.stdio_config"),
                "a stdio client needs stdio_config.command",
            );
            return None;
        }
        McpConnectionType::Http | McpConnectionType::Sse if connection_string.is_none() => {
            ctx.issue(
                format!("{path}.connection_string"),
                "an http or sse client needs its server's URL",
            );
            return None;
        }
        _ => {}
    }
    let headers = c
        .headers
        .into_iter()
        .map(|(k, v)| {
            let value = ctx.resolve(&format!("{path}.headers.{k}"), &v);
            (k, Secret::new(value))
        })
        .collect();
    let mut tool_sync_interval = Duration::from_secs(300);
    if let Some(v) = c.tool_sync_interval {
        match crate::cache::parse_ttl(&v) {
            Some(d) => tool_sync_interval = d.max(Duration::from_secs(1)),
            None => ctx.issue(
                format!("{path}.tool_sync_interval"),
                "must be seconds or a duration like 30s, 5m",
            ),
        }
    }
    Some(McpClientConfig {
        name,
        connection_type,
        connection_string,
        stdio_config,
        headers,
        tools_to_execute: c
            .tools_to_execute
            .map_or(ToolSelection::All, ToolSelection::from_list),
        tools_to_auto_execute: c
            .tools_to_auto_execute
            .map_or(ToolSelection::Only(Vec::new()), ToolSelection::from_list),
        tool_sync_interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::EnvLookup;
    use serde_json::json;

    struct NoEnv;
    impl EnvLookup for NoEnv {
        fn var(&self, _name: &str) -> Option<String> {
            None
        }
    }

    fn read(v: Value) -> (McpConfig, Vec<String>) {
        let mut cfg = GatewayConfig::default();
        cfg.inactive_sections.insert("mcp".into(), v);
        let env = NoEnv;
        let mut ctx = LoadCtx::new(&env);
        take_mcp(&mut cfg, &mut ctx);
        (cfg.mcp, ctx.issues.iter().map(|i| i.path.clone()).collect())
    }

    #[test]
    fn reads_bifrost_client_configs() {
        let (m, issues) = read(json!({
            "client_configs": [
                {"name": "everything", "connection_type": "stdio",
                 "stdio_config": {"command": "npx", "args": ["-y", "x"], "envs": ["HOME"]},
                 "tools_to_execute": ["*"], "tools_to_auto_execute": ["echo"]},
                {"name": "web", "connection_type": "http", "connection_string": "http://127.0.0.1:3001/mcp",
                 "headers": {"Authorization": "Bearer t"}, "tool_sync_interval": "30s"}
            ],
            "tool_manager_config": {"tool_execution_timeout": 5, "max_agent_depth": 3}
        }));
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(m.client_configs.len(), 2);
        assert_eq!(
            m.client_configs[0].connection_type,
            McpConnectionType::Stdio
        );
        assert!(m.client_configs[0].tools_to_auto_execute.admits("echo"));
        assert!(!m.client_configs[0].tools_to_auto_execute.admits("add"));
        assert!(m.client_configs[1].tools_to_execute.admits("anything"));
        assert!(!m.client_configs[1].tools_to_auto_execute.admits("anything"));
        assert_eq!(
            m.client_configs[1].tool_sync_interval,
            Duration::from_secs(30)
        );
        assert_eq!(m.tool_manager_config.max_agent_depth, 3);
        assert_eq!(
            m.tool_manager_config.tool_execution_timeout,
            Duration::from_secs(5)
        );
    }

    #[test]
    fn refuses_incomplete_clients_with_their_path() {
        let (m, issues) = read(json!({"client_configs": [
            {"name": "a", "connection_type": "stdio"},
            {"name": "b", "connection_type": "sse"},
            {"name": "c", "connection_type": "carrier-pigeon"},
            {"name": "d-e", "connection_type": "http", "connection_string": "http://x"},
            {"name": "f", "connection_type": "http", "connection_string": "http://x"},
            {"name": "f", "connection_type": "http", "connection_string": "http://y"}
        ]}));
        assert_eq!(
            issues,
            [
                "mcp.client_configs[0].stdio_config",
                "mcp.client_configs[1].connection_string",
                "mcp.client_configs[2].connection_type",
                "mcp.client_configs[3].name",
                "mcp.client_configs[5].name"
            ]
        );
        assert_eq!(m.client_configs.len(), 1);
    }
}
