//! The MCP management API (Bifrost's paths): `GET /api/mcp/clients`, `POST /api/mcp/client`,
//! `PUT`/`DELETE /api/mcp/client/{id}`, `POST /api/mcp/client/{id}/reconnect`, the tool-call
//! log `GET /api/mcp/logs`, and the inference-side `POST /v1/mcp/tool/execute`.
//!
//! Why writes edit the configuration document: an MCP client is configuration like a provider
//! — versioned, diffed, rolled back, shared by replicas through the config store; the manager
//! follows each applied version (new clients connect, removed ones stop).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use heimdall_control::{ChangeError, document};
use heimdall_store::ToolCallQuery;
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::config_api::{actor, applied, body, control, dry_run};
use crate::governance_api::{Params, Who};
use crate::mcp_access::KeyGrant;
use crate::mcp_calls::{CallError, Caller};
use crate::providers_api::path_of;
use crate::state::AppState;

fn call_error(e: CallError) -> ApiError {
    ApiError::new(e.status, e.kind, e.message)
}

/// The `mcp.client_configs` entries of a document.
fn entries(doc: &Value) -> Vec<Value> {
    doc.pointer("/mcp/client_configs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn entries_mut(doc: &mut Value) -> Result<&mut Vec<Value>, ChangeError> {
    let root = doc
        .as_object_mut()
        .ok_or_else(|| ChangeError::Refused("the configuration is not an object".to_owned()))?;
    root.entry("mcp")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| ChangeError::Refused("`mcp` is not an object".to_owned()))?
        .entry("client_configs")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| ChangeError::Refused("mcp.client_configs is not a list".to_owned()))
}

fn name_of(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

/// A client as the API shows it: its configuration (secrets redacted), connection state and
/// tools.
fn shown(state: &AppState, entry: &Value) -> Value {
    let redacted = document::redacted(&json!({"mcp": {"client_configs": [entry]}}));
    let config = redacted
        .pointer("/mcp/client_configs/0")
        .cloned()
        .unwrap_or(Value::Null);
    let name = name_of(entry).unwrap_or_default();
    let status = state.mcp.as_ref().and_then(|m| m.client(name));
    let mut out = json!({"name": name, "config": config});
    if let (Some(o), Some(s)) = (out.as_object_mut(), status) {
        if let Ok(Value::Object(st)) = serde_json::to_value(&s) {
            for (k, v) in st {
                if k != "name" {
                    o.insert(k, v);
                }
            }
        }
    } else if let Some(o) = out.as_object_mut() {
        o.insert("state".into(), json!("disconnected"));
        o.insert("tools".into(), json!([]));
    }
    out
}

fn current_doc(state: &AppState) -> Result<Value, ApiError> {
    Ok(document::to_native(
        &control(state)?.config.current().document,
    ))
}

/// `GET /api/mcp/clients`
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let doc = current_doc(&state)?;
    let clients: Vec<Value> = entries(&doc).iter().map(|e| shown(&state, e)).collect();
    Ok(Json(json!({"clients": clients, "count": clients.len()})).into_response())
}

/// `GET /api/mcp/client/{id}`
pub async fn get(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_of(id)?;
    let doc = current_doc(&state)?;
    let entry = entries(&doc)
        .into_iter()
        .find(|e| name_of(e) == Some(id.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("no MCP client '{id}'")))?;
    Ok(Json(shown(&state, &entry)).into_response())
}

/// A client body: an object with a `name` (from the path when absent).
fn client_body(v: Value, name_from_path: Option<&str>) -> Result<(String, Value), ApiError> {
    let Value::Object(mut o) = v else {
        return Err(ApiError::bad_request(
            "the MCP client must be a JSON object",
        ));
    };
    let name = match (o.get("name").and_then(Value::as_str), name_from_path) {
        (Some(n), Some(p)) if n != p => {
            return Err(ApiError::bad_request(format!(
                "the body names '{n}' but the path '{p}'; a client cannot be renamed (delete it and create it again)"
            ))
            .with_param("name"));
        }
        (Some(n), _) => n.to_owned(),
        (None, Some(p)) => p.to_owned(),
        (None, None) => return Err(ApiError::bad_request("`name` is required").with_param("name")),
    };
    o.insert("name".into(), Value::String(name.clone()));
    Ok((name, Value::Object(o)))
}

fn answer(
    state: &AppState,
    name: &str,
    a: &heimdall_control::Applied,
    status: StatusCode,
) -> Response {
    let entry = if a.dry_run {
        Value::Null
    } else {
        current_doc(state)
            .ok()
            .and_then(|d| entries(&d).into_iter().find(|e| name_of(e) == Some(name)))
            .map_or(Value::Null, |e| shown(state, &e))
    };
    let mut r = applied(a, json!({"client": entry}));
    if !a.dry_run {
        *r.status_mut() = status;
    }
    r
}

/// `POST /api/mcp/client`
pub async fn create(
    State(state): State<AppState>,
    who: Who,
    params: Params,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let (name, entry) = client_body(body(payload)?, None)?;
    let n = name.clone();
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            let list = entries_mut(doc)?;
            if list.iter().any(|e| name_of(e) == Some(n.as_str())) {
                return Err(ChangeError::Exists(format!(
                    "MCP client '{n}' exists; PUT /api/mcp/client/{n} changes it"
                )));
            }
            list.push(entry);
            Ok(())
        })
        .await?;
    Ok(answer(&state, &name, &a, StatusCode::CREATED))
}

/// `PUT /api/mcp/client/{id}`: replace the client's configuration (redacted header values
/// sent back keep their stored values).
pub async fn update(
    State(state): State<AppState>,
    who: Who,
    id: Result<Path<String>, PathRejection>,
    params: Params,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let id = path_of(id)?;
    let (name, mut entry) = client_body(body(payload)?, Some(&id))?;
    let n = name.clone();
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            let list = entries_mut(doc)?;
            let slot = list
                .iter_mut()
                .find(|e| name_of(e) == Some(n.as_str()))
                .ok_or_else(|| ChangeError::NotFound(format!("no MCP client '{n}'")))?;
            keep_redacted_headers(&mut entry, slot);
            *slot = entry;
            Ok(())
        })
        .await?;
    Ok(answer(&state, &name, &a, StatusCode::OK))
}

/// Header values the client sent back as shown (redacted) keep what is stored.
fn keep_redacted_headers(incoming: &mut Value, stored: &Value) {
    let Some(headers) = incoming.get_mut("headers").and_then(Value::as_object_mut) else {
        return;
    };
    for (k, v) in headers.iter_mut() {
        if v.as_str().is_some_and(document::is_redacted)
            && let Some(old) = stored.pointer(&format!(
                "/headers/{}",
                k.replace('~', "~0").replace('/', "~1")
            ))
        {
            *v = old.clone();
        }
    }
}

/// `DELETE /api/mcp/client/{id}`
pub async fn delete(
    State(state): State<AppState>,
    who: Who,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let id = path_of(id)?;
    let n = id.clone();
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            let list = entries_mut(doc)?;
            let before = list.len();
            list.retain(|e| name_of(e) != Some(n.as_str()));
            if list.len() == before {
                return Err(ChangeError::NotFound(format!("no MCP client '{n}'")));
            }
            Ok(())
        })
        .await?;
    Ok(applied(&a, json!({"deleted": id})))
}

/// `POST /api/mcp/client/{id}/reconnect`
pub async fn reconnect(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_of(id)?;
    let manager = crate::mcp_calls::manager(&state).map_err(call_error)?;
    if !manager.reconnect(&id) {
        return Err(ApiError::not_found(format!("no MCP client '{id}'")));
    }
    Ok(
        Json(json!({"message": format!("MCP client '{id}' is reconnecting"), "name": id}))
            .into_response(),
    )
}

/// `GET /api/mcp/logs?client=&tool=&status=&source=&request_id=&limit=&offset=`
pub async fn logs(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let number = |name: &str| -> Result<Option<u32>, ApiError> {
        p.get(name)
            .map(|v| {
                v.parse::<u32>().map_err(|_| {
                    ApiError::bad_request(format!("`{name}` must be a whole number"))
                        .with_param(name)
                })
            })
            .transpose()
    };
    let q = ToolCallQuery {
        client: p.get("client").cloned(),
        tool: p.get("tool").cloned(),
        status: p.get("status").cloned(),
        source: p.get("source").cloned(),
        request_id: p.get("request_id").cloned(),
        limit: number("limit")?,
        offset: number("offset")?,
    };
    let records = crate::mcp_calls::records(&state, &q)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "log_store_unavailable", e))?;
    Ok(Json(json!({"logs": records, "count": records.len(),
        "limit": q.page_size(), "offset": q.offset.unwrap_or(0)}))
    .into_response())
}

/// The caller of an inference-side MCP route: their virtual key's grant.
pub(crate) fn caller_of(state: &AppState, headers: &HeaderMap, source: &'static str) -> Caller {
    let credential = crate::state::credential_of(headers);
    let key_id = match (&state.governance, &credential) {
        (Some(g), Some(c)) => g
            .policy()
            .keys
            .get(&heimdall_governance::policy::hash_key(c.expose()))
            .map(|k| k.id.clone()),
        _ => None,
    };
    let rt = state.gateway.runtime();
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    Caller {
        grant: KeyGrant::of_key(&rt.config, key_id.as_deref()),
        virtual_key_id: key_id,
        request_id: None,
        source,
        trace: state
            .observability
            .tracing
            .as_ref()
            .map(|t| t.ids_for(traceparent)),
    }
}

/// `POST /v1/mcp/tool/execute[?format=responses]`: run one tool call the model made and answer
/// with the message that carries its result (a chat `tool` message, or a Responses
/// `function_call_output` item).
pub async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Params,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let responses = match p.get("format").map(String::as_str) {
        None | Some("" | "chat") => false,
        Some("responses") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown format '{other}' (chat, responses)"
            ))
            .with_param("format"));
        }
    };
    let call = body(payload)?;
    let (id, name, arguments) = if responses {
        (
            call.get("call_id").and_then(Value::as_str),
            call.get("name").and_then(Value::as_str),
            call.get("arguments"),
        )
    } else {
        (
            call.get("id").and_then(Value::as_str),
            call.pointer("/function/name").and_then(Value::as_str),
            call.pointer("/function/arguments"),
        )
    };
    let Some(name) = name else {
        let field = if responses { "name" } else { "function.name" };
        return Err(ApiError::bad_request(format!("`{field}` is required")).with_param(field));
    };
    let arguments = match arguments {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        // Some clients send the arguments as an object.
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(_) => {
            return Err(
                ApiError::bad_request("`arguments` must be a JSON string").with_param("arguments")
            );
        }
    };
    let caller = caller_of(&state, &headers, "execute");
    let out = crate::mcp_calls::run(&state, &caller, id, name, &arguments)
        .await
        .map_err(call_error)?;
    let text = out.text();
    let id = id.unwrap_or_default();
    let mut message = if responses {
        json!({"type": "function_call_output", "call_id": id, "output": text})
    } else {
        json!({"role": "tool", "content": text, "tool_call_id": id})
    };
    if let Some(o) = message.as_object_mut() {
        let mut extra = Map::new();
        if out.is_error {
            extra.insert("is_error".into(), Value::Bool(true));
        }
        if let Some(s) = out.structured {
            extra.insert("structured_content".into(), s);
        }
        if !extra.is_empty() {
            o.insert("extra_fields".into(), Value::Object(extra));
        }
    }
    Ok(Json(message).into_response())
}
