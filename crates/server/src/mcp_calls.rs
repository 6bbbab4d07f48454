//! Running one MCP tool call for a caller — the execute endpoint, agent mode and the gateway's
//! own `/mcp` server all come through here — with its permission check, timeout, log record,
//! metrics and trace span.
//!
//! Why one function: a tool call is an action in the world (a file written, a query run);
//! whichever door it came through, it must be refused the same way when the key may not use
//! the tool, and leave the same audit record (`GET /api/mcp/logs`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use heimdall_mcp::{McpManager, McpTool, ToolError, ToolOutput};
use heimdall_store::{ToolCallQuery, ToolCallRecord};
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::mcp_access::KeyGrant;
use crate::state::AppState;

/// Who asks for a call and why.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What the key may use.
    pub grant: KeyGrant,
    /// The key's id, for the record.
    pub virtual_key_id: Option<String>,
    /// The request the call belongs to (agent mode).
    pub request_id: Option<String>,
    /// `execute`, `agent` or `mcp_server`.
    pub source: &'static str,
    /// The trace a call's span joins (the agent turn's, or the caller's `traceparent`).
    pub trace: Option<heimdall_core::TraceIds>,
}

/// Why a call was not made or did not finish.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// The HTTP status that says it.
    pub status: StatusCode,
    /// `error.type`.
    pub kind: &'static str,
    /// For a person.
    pub message: String,
}

impl CallError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    fn outcome(&self) -> &'static str {
        match self.status {
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => "refused",
            StatusCode::GATEWAY_TIMEOUT => "timeout",
            _ => "failed",
        }
    }
}

/// The manager, or why MCP is not available.
pub fn manager(state: &AppState) -> Result<&std::sync::Arc<McpManager>, CallError> {
    state.mcp.as_ref().ok_or_else(|| {
        CallError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mcp_unavailable",
            "MCP is not configured on this gateway (the `mcp` section)",
        )
    })
}

/// The offered tool a function name names, if the caller may run it.
pub fn permitted(
    manager: &McpManager,
    function_name: &str,
    grant: &KeyGrant,
) -> Result<McpTool, CallError> {
    let tool = manager.resolve(function_name).ok_or_else(|| {
        CallError::new(
            StatusCode::NOT_FOUND,
            "tool_not_found",
            format!(
                "no MCP tool '{function_name}' is available (tools are named <client>-<tool>; the client may be disconnected)"
            ),
        )
    })?;
    if !grant.allows(&tool.client, &tool.name) {
        return Err(CallError::new(
            StatusCode::FORBIDDEN,
            "tool_not_allowed",
            format!("this virtual key may not use the MCP tool '{function_name}'"),
        ));
    }
    Ok(tool)
}

/// Parse tool-call arguments (a JSON object as text; empty means none).
pub fn arguments(text: &str) -> Result<Option<Map<String, Value>>, CallError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(Value::Null) => Ok(None),
        Ok(_) => Err(CallError::new(
            StatusCode::BAD_REQUEST,
            "invalid_arguments",
            "tool arguments must be a JSON object",
        )),
        Err(e) => Err(CallError::new(
            StatusCode::BAD_REQUEST,
            "invalid_arguments",
            format!("tool arguments are not valid JSON: {e}"),
        )),
    }
}

/// Run `function_name(arguments)` for `caller`: checked, timed out, logged, counted, traced.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    call_id: Option<&str>,
    function_name: &str,
    arguments_text: &str,
) -> Result<ToolOutput, CallError> {
    let started_wall = SystemTime::now();
    let started = Instant::now();
    let manager = manager(state)?;
    let checked = permitted(manager, function_name, &caller.grant)
        .and_then(|tool| Ok((tool, arguments(arguments_text)?)));
    // A name that resolved is a configured client's tool; any other is the caller's text, kept
    // (bounded) in the record but never made a metric label (a caller could mint series).
    let resolved = checked.is_ok() || manager.resolve(function_name).is_some();
    let (client, tool_name) = match &checked {
        Ok((t, _)) => (t.client.clone(), t.name.clone()),
        Err(_) => match function_name.split_once('-') {
            Some((c, t)) => (clip_name(c), clip_name(t)),
            None => (String::new(), clip_name(function_name)),
        },
    };
    let span = tracing::info_span!("mcp.tool_call", client = %client, tool = %tool_name,
        source = caller.source, request_id = caller.request_id.as_deref().unwrap_or(""));
    let result = match checked {
        Err(e) => Err(e),
        Ok((tool, args)) => {
            let timeout = state
                .gateway
                .runtime()
                .config
                .mcp
                .tool_manager_config
                .tool_execution_timeout;
            manager
                .call_tool(&tool.client, &tool.name, args, timeout)
                .instrument(span.clone())
                .await
                .map_err(|e| call_failure(&e, timeout))
        }
    };
    let elapsed = started.elapsed();
    let (status, out_text, error) = match &result {
        Ok(o) if o.is_error => ("tool_error", None, Some(o.text())),
        Ok(o) => ("ok", Some(o.text()), None),
        Err(e) => (e.outcome(), None, Some(e.message.clone())),
    };
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "MCP tool call"
        );
    });
    {
        let (c, t) = if resolved {
            (client.as_str(), tool_name.as_str())
        } else {
            ("unknown", "unknown")
        };
        state
            .observability
            .metrics
            .mcp_tool_call(c, t, status, elapsed.as_secs_f64());
    }
    if let (Some(t), Some(ids)) = (&state.observability.tracing, &caller.trace) {
        t.export_tool_call(
            ids,
            &heimdall_observe::otel::ToolCallSpan {
                client: &client,
                tool: &tool_name,
                source: caller.source,
                call_id,
                // Agent mode: under the turn's request span; otherwise under the caller's own
                // span (its `traceparent`), or the root of a new trace.
                parent: if caller.source == "agent" {
                    Some(ids.span_id)
                } else {
                    ids.parent_span_id
                },
                window: (started_wall, started_wall + elapsed),
                failed: error.clone().filter(|_| status != "ok"),
            },
        );
    }
    let record = ToolCallRecord {
        id: uuid::Uuid::now_v7().to_string(),
        request_id: caller.request_id.clone(),
        timestamp_ms: started_wall
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        client,
        tool: tool_name,
        source: caller.source.to_owned(),
        arguments: clip(arguments_text),
        result: out_text.as_deref().map(clip),
        error: error.as_deref().map(clip),
        status: status.to_owned(),
        latency_ms: elapsed.as_secs_f64() * 1000.0,
        virtual_key_id: caller.virtual_key_id.clone(),
    };
    keep(state, record).await;
    result
}

fn call_failure(e: &ToolError, timeout: Duration) -> CallError {
    match e {
        ToolError::UnknownClient(_) | ToolError::UnknownTool { .. } => {
            CallError::new(StatusCode::NOT_FOUND, "tool_not_found", e.to_string())
        }
        ToolError::NotConnected(_) => CallError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mcp_client_unavailable",
            e.to_string(),
        ),
        ToolError::Timeout(_) => CallError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "tool_timeout",
            format!(
                "the tool did not answer within {:.1} s",
                timeout.as_secs_f64()
            ),
        ),
        ToolError::Failed(_) => {
            CallError::new(StatusCode::BAD_GATEWAY, "tool_failed", e.to_string())
        }
    }
}

/// A client or tool name as the caller wrote it, bounded.
fn clip_name(s: &str) -> String {
    s.chars().take(128).collect()
}

/// Most characters of arguments or output kept in a record.
const RECORD_TEXT_CAP: usize = 64 * 1024;

fn clip(s: &str) -> String {
    if s.len() <= RECORD_TEXT_CAP {
        return s.to_owned();
    }
    let mut end = RECORD_TEXT_CAP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes in all]", &s[..end], s.len())
}

/// Tool-call records kept in process when there is no log database (the newest 1,000).
#[derive(Default)]
pub struct MemoryToolLogs {
    records: Mutex<VecDeque<ToolCallRecord>>,
}

const MEMORY_RECORDS: usize = 1000;

impl MemoryToolLogs {
    fn push(&self, r: ToolCallRecord) {
        if let Ok(mut q) = self.records.lock() {
            if q.len() >= MEMORY_RECORDS {
                q.pop_front();
            }
            q.push_back(r);
        }
    }

    fn query(&self, q: &ToolCallQuery) -> Vec<ToolCallRecord> {
        let Ok(records) = self.records.lock() else {
            return Vec::new();
        };
        records
            .iter()
            .rev()
            .filter(|r| q.admits(r))
            .skip(q.offset.unwrap_or(0) as usize)
            .take(q.page_size() as usize)
            .cloned()
            .collect()
    }
}

async fn keep(state: &AppState, record: ToolCallRecord) {
    use crate::responses_store::{Keeping, keeping};
    let failed = match keeping(state).await {
        Ok(Keeping::Database(db)) => match db.put_tool_call(&record).await {
            Ok(()) => return,
            Err(e) => Some(e.to_string()),
        },
        Ok(Keeping::Memory) => None,
        Err(e) => Some(e),
    };
    if let Some(e) = failed {
        tracing::warn!(error = %e, "MCP tool call not written to the log database; kept in memory");
    }
    state.tool_logs.push(record);
}

/// Tool-call records passing `q`, newest first.
pub async fn records(state: &AppState, q: &ToolCallQuery) -> Result<Vec<ToolCallRecord>, String> {
    use crate::responses_store::{Keeping, keeping};
    match keeping(state).await? {
        Keeping::Database(db) => db.tool_calls(q).await.map_err(|e| e.to_string()),
        Keeping::Memory => Ok(state.tool_logs.query(q)),
    }
}
