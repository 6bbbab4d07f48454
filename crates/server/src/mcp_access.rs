//! Which MCP tools one request may see and run: the client's own `tools_to_execute` (applied
//! by the manager), the virtual key's `mcp_configs`, and the request's
//! `x-bf-mcp-include-clients` / `x-bf-mcp-include-tools` headers.
//!
//! Why one place: the chat injection, the execute endpoint, agent mode and the gateway's own
//! `/mcp` server must agree on what a caller may touch; a tool a key may not use is neither
//! offered to its model nor executed for it (403), whichever door the call comes through.

use std::collections::BTreeMap;

use heimdall_config::{GatewayConfig, ToolSelection};
use heimdall_mcp::McpTool;
use serde_json::Value;

/// Bifrost's request header naming the MCP clients whose tools a request gets.
pub const INCLUDE_CLIENTS_HEADER: &str = "x-bf-mcp-include-clients";
/// Bifrost's request header naming the tools a request gets.
pub const INCLUDE_TOOLS_HEADER: &str = "x-bf-mcp-include-tools";

/// What a virtual key may use: `None` when it is unrestricted (no key, or a key without
/// `mcp_configs`), else the clients it may use and which of their tools.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyGrant(pub Option<BTreeMap<String, ToolSelection>>);

impl KeyGrant {
    /// The grant of the virtual key `id` in `cfg` (unknown or absent: unrestricted).
    pub fn of_key(cfg: &GatewayConfig, id: Option<&str>) -> Self {
        let Some(key) = id.and_then(|id| cfg.governance.virtual_keys.iter().find(|k| k.id == id))
        else {
            return Self(None);
        };
        if key.mcp_configs.is_empty() {
            return Self(None);
        }
        let mut clients = BTreeMap::new();
        for entry in &key.mcp_configs {
            // Bifrost writes the client by name (`mcp_client_name`); its stored form by id.
            let Some(name) = ["mcp_client_name", "mcp_client_id", "client_name", "name"]
                .iter()
                .find_map(|f| entry.get(*f).and_then(Value::as_str))
            else {
                continue;
            };
            let tools = match entry.get("tools_to_execute").and_then(Value::as_array) {
                Some(list) => ToolSelection::from_list(
                    list.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                ),
                None => ToolSelection::All,
            };
            clients.insert(name.to_owned(), tools);
        }
        Self(Some(clients))
    }

    /// Whether the key may run `tool` of `client`.
    pub fn allows(&self, client: &str, tool: &str) -> bool {
        match &self.0 {
            None => true,
            Some(clients) => clients.get(client).is_some_and(|t| t.admits(tool)),
        }
    }
}

/// The request's own narrowing (`None`: the header is absent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFilter {
    /// Client names.
    pub clients: Option<Vec<String>>,
    /// Tool names: `<client>-<tool>`, `<client>-*`, or a bare tool name.
    pub tools: Option<Vec<String>>,
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl RequestFilter {
    /// From the request's headers (names lower-case, as the request context keeps them).
    pub fn from_headers(headers: &BTreeMap<String, String>) -> Self {
        Self {
            clients: headers.get(INCLUDE_CLIENTS_HEADER).map(|v| list(v)),
            tools: headers.get(INCLUDE_TOOLS_HEADER).map(|v| list(v)),
        }
    }

    /// From an HTTP header map.
    pub fn from_http(headers: &axum::http::HeaderMap) -> Self {
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(list);
        Self {
            clients: get(INCLUDE_CLIENTS_HEADER),
            tools: get(INCLUDE_TOOLS_HEADER),
        }
    }

    /// Whether the request asks for `tool`.
    pub fn admits(&self, tool: &McpTool) -> bool {
        let client_ok = self
            .clients
            .as_ref()
            .is_none_or(|c| c.iter().any(|n| *n == tool.client || n == "*"));
        let tool_ok = self.tools.as_ref().is_none_or(|names| {
            names.iter().any(|n| match n.split_once('-') {
                Some((c, "*")) => c == tool.client,
                Some((c, t)) if c == tool.client => t == tool.name,
                _ => *n == tool.name || n == "*",
            })
        });
        client_ok && tool_ok
    }

    /// A client or tool the request names that `grant` refuses (the 403 reason).
    pub fn refused_by(&self, grant: &KeyGrant, offered: &[McpTool]) -> Option<String> {
        let Some(allowed) = &grant.0 else {
            return None;
        };
        if let Some(c) = self
            .clients
            .iter()
            .flatten()
            .find(|c| *c != "*" && !allowed.contains_key(c.as_str()))
        {
            return Some(format!("this virtual key may not use the MCP client '{c}'"));
        }
        for name in self.tools.iter().flatten() {
            let Some((client, tool)) = name.split_once('-') else {
                continue;
            };
            if tool != "*"
                && !grant.allows(client, tool)
                && offered.iter().any(|t| t.client == client && t.name == tool)
            {
                return Some(format!(
                    "this virtual key may not use the MCP tool '{name}'"
                ));
            }
        }
        None
    }
}

/// The tools a request gets: those the manager offers, that the key may use and the request
/// asks for.
pub fn visible(offered: &[McpTool], grant: &KeyGrant, filter: &RequestFilter) -> Vec<McpTool> {
    offered
        .iter()
        .filter(|t| grant.allows(&t.client, &t.name) && filter.admits(t))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(client: &str, name: &str) -> McpTool {
        McpTool {
            client: client.into(),
            name: name.into(),
            description: None,
            input_schema: json!({"type": "object"}),
            auto_execute: false,
        }
    }

    fn cfg_with_key(mcp_configs: Value) -> GatewayConfig {
        let mut cfg = GatewayConfig::default();
        let key = serde_json::from_value(json!({
            "id": "vk1", "value": "sk-bf-x", "mcp_configs": mcp_configs
        }))
        .unwrap();
        cfg.governance.virtual_keys.push(key);
        cfg
    }

    #[test]
    fn a_key_without_mcp_configs_is_unrestricted() {
        let cfg = cfg_with_key(json!([]));
        assert_eq!(KeyGrant::of_key(&cfg, Some("vk1")), KeyGrant(None));
        assert_eq!(KeyGrant::of_key(&cfg, None), KeyGrant(None));
        assert_eq!(KeyGrant::of_key(&cfg, Some("other")), KeyGrant(None));
    }

    #[test]
    fn a_key_sees_only_its_clients_and_tools() {
        let cfg = cfg_with_key(json!([
            {"mcp_client_name": "fs", "tools_to_execute": ["read_file"]},
            {"mcp_client_name": "web"}
        ]));
        let grant = KeyGrant::of_key(&cfg, Some("vk1"));
        let offered = [
            tool("fs", "read_file"),
            tool("fs", "write_file"),
            tool("web", "search"),
            tool("db", "query"),
        ];
        let names: Vec<String> = visible(&offered, &grant, &RequestFilter::default())
            .iter()
            .map(McpTool::function_name)
            .collect();
        assert_eq!(names, ["fs-read_file", "web-search"]);
    }

    #[test]
    fn headers_narrow_and_a_named_forbidden_tool_is_refused() {
        let mut headers = BTreeMap::new();
        headers.insert(
            INCLUDE_TOOLS_HEADER.to_owned(),
            "fs-read_file, web-*".to_owned(),
        );
        let filter = RequestFilter::from_headers(&headers);
        let offered = [
            tool("fs", "read_file"),
            tool("fs", "write_file"),
            tool("web", "search"),
        ];
        let all = visible(&offered, &KeyGrant(None), &filter);
        assert_eq!(all.len(), 2);
        assert_eq!(filter.refused_by(&KeyGrant(None), &offered), None);

        let cfg =
            cfg_with_key(json!([{"mcp_client_name": "fs", "tools_to_execute": ["write_file"]}]));
        let grant = KeyGrant::of_key(&cfg, Some("vk1"));
        assert!(
            filter
                .refused_by(&grant, &offered)
                .unwrap()
                .contains("fs-read_file")
        );
        let clients = RequestFilter {
            clients: Some(vec!["web".into()]),
            tools: None,
        };
        assert!(
            clients
                .refused_by(&grant, &offered)
                .unwrap()
                .contains("'web'")
        );
    }
}
