//! MCP clients: the gateway connects to the MCP servers of the `mcp` section (stdio child
//! processes, streamable HTTP, the legacy HTTP+SSE transport), keeps their tool lists, and
//! runs their tools when asked.
//!
//! Why a crate of its own: connections live as long as the gateway (reconnected with backoff,
//! re-synced on an interval) and are reconciled with every configuration change; the server
//! crate only asks for the current tools and for a call, and never sees a transport.

mod connect;
mod manager;
mod sse;
mod supervisor;

pub use manager::{
    ClientState, ClientStatus, McpManager, McpTool, ToolError, ToolInfo, ToolOutput,
};
