//! MCP tool calls in the log database: each call the gateway made for a client (the execute
//! endpoint, agent mode, its own `/mcp` server) with its arguments, result, error and latency,
//! listed by `GET /api/mcp/logs`.
//!
//! Why beside the request logs: a tool call belongs to an audit trail like a request does —
//! kept as long (the same retention), shared by replicas on PostgreSQL, and linked to the
//! request that made it by `request_id`.

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::store::{LogStore, StoreError, storable};

/// One tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallRecord {
    /// Our id for the call.
    pub id: String,
    /// The request it was made for (agent mode), if any.
    pub request_id: Option<String>,
    /// When it started (Unix ms).
    pub timestamp_ms: i64,
    /// The MCP client (server) name.
    pub client: String,
    /// The tool's own name.
    pub tool: String,
    /// What made the call: `execute`, `agent`, `mcp_server`.
    pub source: String,
    /// The arguments (JSON text).
    pub arguments: String,
    /// The tool's output (text), when it answered.
    pub result: Option<String>,
    /// Why it failed (the gateway's reason, or the tool's own error output).
    pub error: Option<String>,
    /// `ok`, `tool_error` (the tool answered with isError), `failed`, `timeout`, `refused`.
    pub status: String,
    /// How long the call took, ms.
    pub latency_ms: f64,
    /// The virtual key the caller used, if any.
    pub virtual_key_id: Option<String>,
}

/// Filters of a tool-call listing.
#[derive(Debug, Clone, Default)]
pub struct ToolCallQuery {
    /// Only this client.
    pub client: Option<String>,
    /// Only this tool.
    pub tool: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only calls made by this source (`execute`, `agent`, `mcp_server`).
    pub source: Option<String>,
    /// Only calls made for this request.
    pub request_id: Option<String>,
    /// At most this many (newest first; default 100, at most 1,000).
    pub limit: Option<u32>,
    /// Skip this many.
    pub offset: Option<u32>,
}

impl ToolCallQuery {
    /// Whether `r` passes the filters (the in-memory twin of the SQL below).
    pub fn admits(&self, r: &ToolCallRecord) -> bool {
        self.client.as_ref().is_none_or(|c| *c == r.client)
            && self.tool.as_ref().is_none_or(|t| *t == r.tool)
            && self.status.as_ref().is_none_or(|s| *s == r.status)
            && self.source.as_ref().is_none_or(|s| *s == r.source)
            && self
                .request_id
                .as_ref()
                .is_none_or(|id| r.request_id.as_ref() == Some(id))
    }

    /// The page size asked for, bounded.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }
}

const COLUMNS: &str = "id, request_id, timestamp_ms, client, tool, source, arguments, result, \
                       error, status, latency_ms, virtual_key_id";

impl LogStore {
    /// Keep a tool call.
    pub async fn put_tool_call(&self, r: &ToolCallRecord) -> Result<(), StoreError> {
        // Only constants are formatted in; every value is bound.
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO mcp_tool_calls ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(storable(&r.id))
        .bind(r.request_id.as_deref().map(storable))
        .bind(r.timestamp_ms)
        .bind(storable(&r.client))
        .bind(storable(&r.tool))
        .bind(storable(&r.source))
        .bind(storable(&r.arguments))
        .bind(r.result.as_deref().map(storable))
        .bind(r.error.as_deref().map(storable))
        .bind(storable(&r.status))
        .bind(r.latency_ms)
        .bind(r.virtual_key_id.as_deref().map(storable))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Tool calls passing `q`, newest first.
    pub async fn tool_calls(&self, q: &ToolCallQuery) -> Result<Vec<ToolCallRecord>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM mcp_tool_calls WHERE 1 = 1");
        let mut binds: Vec<&str> = Vec::new();
        for (column, value) in [
            ("client", &q.client),
            ("tool", &q.tool),
            ("status", &q.status),
            ("source", &q.source),
            ("request_id", &q.request_id),
        ] {
            if let Some(v) = value {
                binds.push(v);
                sql.push_str(&format!(" AND {column} = ${}", binds.len()));
            }
        }
        sql.push_str(&format!(
            " ORDER BY timestamp_ms DESC, id DESC LIMIT {} OFFSET {}",
            q.page_size(),
            q.offset.unwrap_or(0)
        ));
        // Column names and numbers are ours; the filter values are bound.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(ToolCallRecord {
                    id: row.try_get("id")?,
                    request_id: row.try_get("request_id")?,
                    timestamp_ms: row.try_get("timestamp_ms")?,
                    client: row.try_get("client")?,
                    tool: row.try_get("tool")?,
                    source: row.try_get("source")?,
                    arguments: row.try_get("arguments")?,
                    result: row.try_get("result")?,
                    error: row.try_get("error")?,
                    status: row.try_get("status")?,
                    latency_ms: row.try_get("latency_ms")?,
                    virtual_key_id: row.try_get("virtual_key_id")?,
                })
            })
            .collect()
    }
}
