//! Heimdall as one MCP server: `/mcp` (streamable HTTP) lists the tools of every connected MCP
//! server, as `<client>-<tool>` and filtered by the caller's virtual key, and calls them.
//!
//! Why stateless JSON answers: every request carries what it needs (the caller's credential
//! decides what it sees), so any replica behind a load balancer can answer any message, and
//! no session outlives a restart. The transport allows it: a server may answer a POST with one
//! JSON body, and may refuse the optional GET event stream with 405.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::mcp_access::{RequestFilter, visible};
use crate::state::AppState;

/// Protocol versions this server speaks, newest first.
const VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// JSON-RPC error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

fn rpc_error(id: &Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn rpc_result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// `GET`/`DELETE /mcp`: no server-initiated stream and no sessions here.
pub async fn not_offered() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(axum::http::header::ALLOW, "POST")],
        Json(json!({"jsonrpc": "2.0", "id": null,
            "error": {"code": INVALID_REQUEST, "message": "this server answers POST only (stateless, no event stream)"}})),
    )
        .into_response()
}

/// `POST /mcp`: one JSON-RPC message (or a batch).
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if state.mcp.is_none() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(rpc_error(
                &Value::Null,
                INVALID_REQUEST,
                "MCP is not configured on this gateway",
            )),
        )
            .into_response();
    }
    let message: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(rpc_error(
                    &Value::Null,
                    PARSE_ERROR,
                    format!("not JSON: {e}"),
                )),
            )
                .into_response();
        }
    };
    match message {
        Value::Array(items) => {
            let mut answers = Vec::new();
            for item in items {
                if let Some(a) = handle(&state, &headers, item).await {
                    answers.push(a);
                }
            }
            if answers.is_empty() {
                StatusCode::ACCEPTED.into_response()
            } else {
                Json(Value::Array(answers)).into_response()
            }
        }
        item => match handle(&state, &headers, item).await {
            Some(a) => Json(a).into_response(),
            // Notifications and responses are acknowledged without a body.
            None => StatusCode::ACCEPTED.into_response(),
        },
    }
}

/// The answer to one message; `None` for a notification.
async fn handle(state: &AppState, headers: &HeaderMap, msg: Value) -> Option<Value> {
    let method = msg.get("method").and_then(Value::as_str);
    let Some(id) = msg.get("id").cloned() else {
        // A notification (`notifications/initialized`, …) or a stray response.
        return None;
    };
    let Some(method) = method else {
        return Some(rpc_error(
            &id,
            INVALID_REQUEST,
            "a request needs a `method`",
        ));
    };
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    Some(match method {
        "initialize" => rpc_result(&id, initialize(&params)),
        "ping" => rpc_result(&id, json!({})),
        "tools/list" => rpc_result(&id, list_tools(state, headers)),
        "tools/call" => call_tool(state, headers, &id, &params).await,
        other => rpc_error(
            &id,
            METHOD_NOT_FOUND,
            format!("method '{other}' is not offered"),
        ),
    })
}

fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .filter(|v| VERSIONS.contains(v))
        .unwrap_or(VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "heimdall", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Tools of the MCP servers connected to this Heimdall gateway, named <server>-<tool>."
    })
}

fn list_tools(state: &AppState, headers: &HeaderMap) -> Value {
    let Some(manager) = &state.mcp else {
        return json!({"tools": []});
    };
    let caller = crate::mcp_api::caller_of(state, headers, "mcp_server");
    let filter = RequestFilter::from_http(headers);
    let tools: Vec<Value> = visible(&manager.tools(), &caller.grant, &filter)
        .iter()
        .map(|t| {
            let mut v = json!({"name": t.function_name(), "inputSchema": t.input_schema});
            if let (Some(o), Some(d)) = (v.as_object_mut(), &t.description) {
                o.insert("description".into(), Value::String(d.clone()));
            }
            v
        })
        .collect();
    json!({"tools": tools})
}

async fn call_tool(state: &AppState, headers: &HeaderMap, id: &Value, params: &Value) -> Value {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return rpc_error(id, INVALID_PARAMS, "tools/call needs `name`");
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => String::new(),
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(_) => return rpc_error(id, INVALID_PARAMS, "`arguments` must be an object"),
    };
    let caller = crate::mcp_api::caller_of(state, headers, "mcp_server");
    match crate::mcp_calls::run(state, &caller, None, name, &arguments).await {
        Ok(out) => {
            let mut result = json!({"content": out.content, "isError": out.is_error});
            if let (Some(o), Some(s)) = (result.as_object_mut(), out.structured) {
                o.insert("structuredContent".into(), s);
            }
            rpc_result(id, result)
        }
        // An unknown or forbidden tool is the caller's mistake (a protocol error); a tool
        // that failed to run is reported as a tool result the model can read.
        Err(e)
            if matches!(
                e.status,
                StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            ) =>
        {
            rpc_error(id, INVALID_PARAMS, e.message)
        }
        Err(e) => rpc_result(
            id,
            json!({"content": [{"type": "text", "text": e.message}], "isError": true}),
        ),
    }
}
