//! A Gemini `generateContent` request (as the Google GenAI SDK sends it) → the canonical chat
//! request. The model comes from the URL.
//!
//! Why ids are made up here: Gemini function calls and responses are matched by name and
//! order, OpenAI's by id; each `functionCall` gets `call_<k>` and the next `functionResponse`
//! with that name answers it.

use heimdall_schema::chat::ChatRequest;
use heimdall_schema::error::GatewayError;
use serde_json::{Map, Value, json};

use crate::conversation::{DialectBody, MessageSink, translate_value};

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(message, Some(param.to_owned()))
}

fn text_parts(parts: &Value) -> String {
    parts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .collect::<Vec<_>>()
        .join("")
}

/// Translate a `generateContent` body (as a `Value`: tests and tools) for `model`.
pub fn to_chat_request(
    model: &str,
    body: &Value,
    stream: bool,
) -> Result<ChatRequest, GatewayError> {
    translate_value(body, "contents", |b| from_body(model, b, stream))
}

/// Translate a `generateContent` body for `model`, one turn at a time.
pub fn from_body(
    model: &str,
    request: &DialectBody<'_>,
    stream: bool,
) -> Result<ChatRequest, GatewayError> {
    let body = request.head();
    let mut messages = MessageSink::new();
    if let Some(si) = body.get("systemInstruction") {
        messages.push(json!({"role": "system", "content": text_parts(&si["parts"])}))?;
    }
    let contents = request
        .turns()
        .ok_or_else(|| invalid("contents is required", "contents"))?;
    let mut pending: Vec<(String, String)> = Vec::new(); // (name, id) of calls awaiting responses
    let mut next_call = 0usize;
    for (i, c) in contents.enumerate() {
        let c = c?;
        let role = c["role"].as_str().unwrap_or("user");
        let parts = c["parts"].as_array().cloned().unwrap_or_default();
        match role {
            "model" => {
                let mut text = String::new();
                let mut calls = Vec::new();
                for p in &parts {
                    if let Some(fc) = p.get("functionCall") {
                        let id = fc["id"]
                            .as_str()
                            .map_or_else(|| format!("call_{next_call}"), str::to_owned);
                        next_call += 1;
                        let name = fc["name"].as_str().unwrap_or("").to_owned();
                        pending.push((name.clone(), id.clone()));
                        calls.push(json!({"id": id, "type": "function", "function": {"name": name,
                            "arguments": fc.get("args").cloned().unwrap_or(json!({})).to_string()}}));
                    } else if let Some(t) = p["text"].as_str()
                        && p["thought"] != true
                    {
                        text.push_str(t);
                    }
                }
                let mut m = json!({"role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { Value::String(text) }});
                if !calls.is_empty()
                    && let Some(o) = m.as_object_mut()
                {
                    o.insert("tool_calls".into(), Value::Array(calls));
                }
                messages.push(m)?;
            }
            "user" | "function" => {
                let mut user_parts = Vec::new();
                for p in &parts {
                    if let Some(fr) = p.get("functionResponse") {
                        let name = fr["name"].as_str().unwrap_or("");
                        let id = match fr["id"].as_str() {
                            Some(id) => id.to_owned(),
                            None => {
                                let pos = pending.iter().position(|(n, _)| n == name).ok_or_else(|| {
                                    invalid(
                                        format!("functionResponse '{name}' answers no earlier functionCall"),
                                        &format!("contents[{i}]"),
                                    )
                                })?;
                                pending.remove(pos).1
                            }
                        };
                        messages.push(json!({"role": "tool", "tool_call_id": id,
                            "content": fr["response"].to_string()}))?;
                    } else if let Some(t) = p["text"].as_str() {
                        user_parts.push(json!({"type": "text", "text": t}));
                    } else if let Some(d) = p.get("inlineData") {
                        let url = format!(
                            "data:{};base64,{}",
                            d["mimeType"].as_str().unwrap_or(""),
                            d["data"].as_str().unwrap_or("")
                        );
                        user_parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
                    } else if let Some(f) = p.get("fileData") {
                        user_parts.push(json!({"type": "image_url",
                            "image_url": {"url": f["fileUri"]}}));
                    }
                }
                if !user_parts.is_empty() {
                    messages.push(json!({"role": "user", "content": user_parts}))?;
                }
            }
            other => {
                return Err(invalid(
                    format!("role must be user or model, got '{other}'"),
                    &format!("contents[{i}].role"),
                ));
            }
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    if stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let g = &body["generationConfig"];
    crate::translate::copy_fields(
        g,
        &mut out,
        &[
            ("temperature", "temperature"),
            ("topP", "top_p"),
            ("maxOutputTokens", "max_tokens"),
            ("stopSequences", "stop"),
            ("seed", "seed"),
            ("presencePenalty", "presence_penalty"),
            ("frequencyPenalty", "frequency_penalty"),
        ],
    );
    if g["responseMimeType"] == "application/json" {
        let schema = g
            .get("responseJsonSchema")
            .or(g.get("response_json_schema"))
            .or(g.get("responseSchema"));
        out.insert(
            "response_format".into(),
            match schema {
                Some(s) => {
                    json!({"type": "json_schema", "json_schema": {"name": "response", "schema": s}})
                }
                None => json!({"type": "json_object"}),
            },
        );
    }
    let decls: Vec<Value> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["functionDeclarations"].as_array())
        .flatten()
        .map(|d| {
            let mut f = json!({"name": d["name"],
                "description": d.get("description").cloned().unwrap_or(Value::Null)});
            // The SDK sends either spelling (REST is camelCase; google-genai 3.x sends snake).
            // A function without parameters stays without: each upstream side supplies what
            // its API requires (Anthropic an empty object schema), none is invented here.
            if let (Some(p), Some(o)) = (
                d.get("parametersJsonSchema")
                    .or(d.get("parameters_json_schema"))
                    .or(d.get("parameters")),
                f.as_object_mut(),
            ) {
                o.insert("parameters".into(), p.clone());
            }
            json!({"type": "function", "function": f})
        })
        .collect();
    if !decls.is_empty() {
        out.insert("tools".into(), Value::Array(decls));
    }
    if let Some(fc) = body.pointer("/toolConfig/functionCallingConfig") {
        let allowed = fc["allowedFunctionNames"].as_array();
        let choice = match (fc["mode"].as_str(), allowed.map(Vec::as_slice)) {
            (Some("ANY"), Some([one])) => json!({"type": "function", "function": {"name": one}}),
            (Some("ANY"), _) => json!("required"),
            (Some("NONE"), _) => json!("none"),
            _ => json!("auto"),
        };
        out.insert("tool_choice".into(), choice);
    }
    messages.finish(out)
}
