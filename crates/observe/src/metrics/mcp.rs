//! MCP series: tool calls by client, tool and outcome, their duration, and whether each MCP
//! server is connected (read at scrape time).
//!
//! Why here: `/metrics` renders one registry; the MCP crate reports what happened and the
//! server crate sets the connection gauges before each render, like the cache's size.

use super::{Counters, Describer, Gauges, Histograms, Labels, Metrics, hist, latency_buckets};

/// The MCP families.
pub(super) struct McpSeries {
    calls: Counters,
    duration: Histograms,
    up: Gauges,
    tools: Gauges,
}

impl Default for McpSeries {
    fn default() -> Self {
        Self {
            calls: Counters::default(),
            duration: hist(latency_buckets),
            up: Gauges::default(),
            tools: Gauges::default(),
        }
    }
}

impl McpSeries {
    pub(super) fn register(&self, b: &mut Describer<'_>) {
        b.add(
            "mcp_tool_calls",
            "MCP tool calls by client, tool and outcome (ok, tool_error, failed, timeout, refused)",
            "counter",
            self.calls.clone(),
        );
        b.add(
            "mcp_tool_duration_seconds",
            "MCP tool call duration",
            "histogram",
            self.duration.clone(),
        );
        b.add(
            "mcp_client_up",
            "1 while the gateway is connected to the MCP server",
            "gauge",
            self.up.clone(),
        );
        b.add(
            "mcp_client_tools",
            "Tools the connected MCP server lists",
            "gauge",
            self.tools.clone(),
        );
    }
}

fn tool_labels(client: &str, tool: &str) -> Labels {
    vec![
        ("client".to_owned(), client.to_owned()),
        ("tool".to_owned(), tool.to_owned()),
    ]
}

impl Metrics {
    /// One tool call's outcome and duration.
    pub fn mcp_tool_call(&self, client: &str, tool: &str, outcome: &str, seconds: f64) {
        let labels = tool_labels(client, tool);
        self.mcp.duration.get_or_create(&labels).observe(seconds);
        self.mcp
            .calls
            .get_or_create(&Self::with(labels, "outcome", outcome))
            .inc();
    }

    /// Each configured MCP client: connected or not, and how many tools it lists. Clients no
    /// longer configured drop out.
    pub fn mcp_clients(&self, clients: &[(String, bool, usize)]) {
        self.mcp.up.clear();
        self.mcp.tools.clear();
        for (name, up, tools) in clients {
            let l = vec![("client".to_owned(), name.clone())];
            self.mcp.up.get_or_create(&l).set(i64::from(*up));
            self.mcp
                .tools
                .get_or_create(&l)
                .set(i64::try_from(*tools).unwrap_or(i64::MAX));
        }
    }
}
