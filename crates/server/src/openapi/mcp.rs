//! The MCP routes in the OpenAPI description (`/api/mcp/*`): the clients, their writes and
//! reconnection, and the tool-call log.
//!
//! Why a file of its own: like governance and the cache, a family of routes with its own
//! answers, kept beside the route table `openapi` checks against the router.

use serde_json::{Value, json};

use super::Auth::{Admin, Read};
use super::{DRY_RUN, Op, Param, WRITE, array_of, obj, op, p, schema_ref, with_applied};

#[rustfmt::skip]
const LOG_FILTERS: &[Param] = &[
    p("client", r#"{"type": "string"}"#, "Only this MCP client."),
    p("tool", r#"{"type": "string"}"#, "Only this tool (its own name)."),
    p("status", r#"{"enum": ["ok", "tool_error", "failed", "timeout", "refused"]}"#, "Only this outcome."),
    p("source", r#"{"enum": ["execute", "agent", "mcp_server"]}"#, "Only calls made this way."),
    p("request_id", r#"{"type": "string"}"#, "Only calls an agent-mode turn made."),
    p("limit", r#"{"type": "integer", "minimum": 1, "maximum": 1000}"#, "Calls per page (default 100)."),
    p("offset", r#"{"type": "integer", "minimum": 0}"#, "Calls skipped."),
];

/// The MCP operations.
#[rustfmt::skip]
pub(super) const OPERATIONS: &[Op] = &[
    op("get", "/api/mcp/clients", Read, "The configured MCP clients: configuration (secrets redacted), connection state and tools", (200, "McpClientList"), &[503]),
    op("post", "/api/mcp/client", Admin, "Add an MCP client (it connects in the background)", (201, "McpClientChange"), WRITE)
        .query(&[DRY_RUN])
        .body("McpClientInput")
        .other(&[(200, "McpClientChange")]),
    op("get", "/api/mcp/client/{id}", Read, "One MCP client", (200, "McpClient"), &[400, 404, 503]),
    op("put", "/api/mcp/client/{id}", Admin, "Replace an MCP client's configuration (redacted header values keep their stored values; it reconnects)", (200, "McpClientChange"), WRITE)
        .query(&[DRY_RUN])
        .body("McpClientInput"),
    op("delete", "/api/mcp/client/{id}", Admin, "Remove an MCP client (its connection stops)", (200, "Deleted"), WRITE)
        .query(&[DRY_RUN]),
    op("post", "/api/mcp/client/{id}/reconnect", Admin, "Drop the client's connection and connect again now", (200, "McpReconnect"), &[400, 404, 503]),
    op("get", "/api/mcp/logs", Read, "MCP tool calls the gateway made, newest first", (200, "McpToolLogs"), &[400, 503])
        .query(&[LOG_FILTERS]),
];

/// The answers' schemas.
#[rustfmt::skip]
pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    let s = json!({"type": "string"});
    let count = json!({"type": "integer", "minimum": 0});
    let nullable_str = json!({"type": ["string", "null"]});
    let tool = obj(&["name", "executable", "auto_execute"], json!({"name": s, "description": nullable_str,
        "executable": {"type": "boolean"}, "auto_execute": {"type": "boolean"}}));
    vec![
        ("McpClientInput", json!({"type": "object", "required": ["connection_type"],
            "description": "One `mcp.client_configs` entry (docs/mcp.md); `name` may come from the path",
            "properties": {"name": s, "connection_type": {"enum": ["stdio", "http", "sse"]},
                "connection_string": s, "stdio_config": {"type": "object"}, "headers": {"type": "object"},
                "tools_to_execute": array_of(s.clone()), "tools_to_auto_execute": array_of(s.clone()),
                "tool_sync_interval": {"type": ["string", "number"]}}})),
        ("McpClient", obj(&["name", "config", "state", "tools"], json!({
            "name": s, "config": {"type": "object"},
            "connection_type": {"enum": ["stdio", "http", "sse"]},
            "state": {"enum": ["connecting", "connected", "disconnected"]},
            "error": nullable_str, "tools": array_of(tool),
            "connected_at_ms": {"type": ["integer", "null"]}, "reconnects": count,
            "server_name": nullable_str, "server_version": nullable_str}))),
        ("McpClientList", obj(&["clients", "count"], json!({"clients": array_of(schema_ref("McpClient")), "count": count}))),
        ("McpClientChange", with_applied(&["client"], json!({"client": {"anyOf": [schema_ref("McpClient"), {"type": "null"}]}}))),
        ("McpReconnect", obj(&["message", "name"], json!({"message": s, "name": s}))),
        ("McpToolCall", obj(
            &["id", "timestamp_ms", "client", "tool", "source", "arguments", "status", "latency_ms"],
            json!({"id": s, "request_id": nullable_str, "timestamp_ms": {"type": "integer"}, "client": s,
                "tool": s, "source": {"enum": ["execute", "agent", "mcp_server"]}, "arguments": s,
                "result": nullable_str, "error": nullable_str,
                "status": {"enum": ["ok", "tool_error", "failed", "timeout", "refused"]},
                "latency_ms": {"type": "number"}, "virtual_key_id": nullable_str}),
        )),
        ("McpToolLogs", obj(&["logs", "count", "limit", "offset"], json!({"logs": array_of(schema_ref("McpToolCall")),
            "count": count, "limit": count, "offset": count}))),
    ]
}
