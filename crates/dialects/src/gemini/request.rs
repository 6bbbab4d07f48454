//! Canonical (OpenAI) requests → Gemini `generateContent` / `embedContent` bodies (the model
//! goes in the URL).
//!
//! Why these rules (fixtures and sources in `tests/fixtures/gemini/README.md`): Gemini takes
//! the system prompt as `systemInstruction`, roles `user`/`model`, one `Content` per turn of
//! `parts`; tool schemas are sent unchanged as `parametersJsonSchema` (standard JSON Schema,
//! not the OpenAPI subset), tool results need the function's name (looked up from the earlier
//! call id) and an object `response`.

use std::collections::HashMap;

use heimdall_schema::chat::{
    ChatMessage, ChatRequest, ContentPart, KnownPart, MessageContent, ResponseFormat,
    StopSequences, ToolChoice,
};
use heimdall_schema::embeddings::{EmbeddingInput, EmbeddingRequest};
use heimdall_schema::error::GatewayError;

use crate::translate::{data_url, invalid, push_turn, tool_arguments, unknown_tool_choice};
use serde_json::{Map, Value, json};

/// A MIME type from a URL's file extension (Gemini's `fileData` wants one).
fn mime_from_url(url: &str) -> Option<&'static str> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    Some(match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

fn parts(content: &MessageContent, path: &str) -> Result<Vec<Value>, GatewayError> {
    let list = match content {
        MessageContent::Text(t) if t.is_empty() => return Ok(Vec::new()),
        MessageContent::Text(t) => return Ok(vec![json!({"text": t})]),
        MessageContent::Parts(p) => p,
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, part) in list.iter().enumerate() {
        let at = format!("{path}.content[{i}]");
        out.push(match part {
            ContentPart::Known(KnownPart::Text { text, .. }) => json!({"text": text}),
            ContentPart::Known(KnownPart::Refusal { refusal, .. }) => json!({"text": refusal}),
            ContentPart::Known(KnownPart::ImageUrl { image_url, .. }) => {
                let url = image_url.url.as_str();
                if let Some((mime, data)) = data_url(url) {
                    json!({"inlineData": {"mimeType": mime, "data": data}})
                } else if url.starts_with("https://") || url.starts_with("http://") {
                    let mut fd = json!({"fileUri": url});
                    if let (Some(m), Some(o)) = (mime_from_url(url), fd.as_object_mut()) {
                        o.insert("mimeType".into(), json!(m));
                    }
                    json!({"fileData": fd})
                } else {
                    return Err(invalid(
                        "image_url.url must be an http(s) URL or a base64 data URL",
                        &format!("{at}.image_url.url"),
                    ));
                }
            }
            ContentPart::Known(KnownPart::InputAudio { input_audio, .. }) => {
                json!({"inlineData": {"mimeType": format!("audio/{}", input_audio.format),
                    "data": input_audio.data}})
            }
            ContentPart::Known(KnownPart::File { file, .. }) => {
                match file
                    .get("file_data")
                    .and_then(Value::as_str)
                    .and_then(data_url)
                {
                    Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
                    None => {
                        return Err(invalid(
                            "for gemini models a file part needs file_data as a base64 data URL",
                            &format!("{at}.file"),
                        ));
                    }
                }
            }
            // Gemini-native parts sent through the OpenAI API pass as they are.
            ContentPart::Other(v) => v.clone(),
        });
    }
    Ok(out)
}

/// Translate a chat request into a `generateContent` body.
pub fn to_generate_request(req: &ChatRequest) -> Result<Value, GatewayError> {
    let mut system: Vec<Value> = Vec::new();
    let mut contents: Vec<Value> = Vec::new();
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (i, m) in req.messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        match m {
            ChatMessage::System(s) | ChatMessage::Developer(s) => {
                system.extend(parts(&s.content, &path)?);
            }
            ChatMessage::User(u) => {
                push_turn(&mut contents, "user", "parts", parts(&u.content, &path)?)
            }
            ChatMessage::Assistant(a) => {
                let mut p = match &a.content {
                    Some(c) => parts(c, &path)?,
                    None => Vec::new(),
                };
                for (j, call) in a.tool_calls.iter().flatten().enumerate() {
                    call_names.insert(&call.id, &call.function.name);
                    let args = tool_arguments(
                        &call.function.arguments,
                        &format!("{path}.tool_calls[{j}].function.arguments"),
                    )?;
                    p.push(json!({"functionCall": {"name": call.function.name, "args": args}}));
                }
                push_turn(&mut contents, "model", "parts", p);
            }
            ChatMessage::Tool(t) => {
                let name = call_names.get(t.tool_call_id.as_str()).ok_or_else(|| {
                    invalid(
                        format!(
                            "tool_call_id '{}' matches no earlier assistant tool call; gemini needs the function name",
                            t.tool_call_id
                        ),
                        &format!("{path}.tool_call_id"),
                    )
                })?;
                let text = t.content.text();
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => json!({"result": text}),
                };
                push_turn(
                    &mut contents,
                    "user",
                    "parts",
                    vec![json!({"functionResponse": {"name": name, "response": response}})],
                );
            }
            ChatMessage::Function(_) => {
                return Err(invalid(
                    "the legacy 'function' role is not supported for gemini models; send tool results with role 'tool'",
                    &format!("{path}.role"),
                ));
            }
        }
    }

    let mut body = Map::new();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    body.insert("contents".into(), Value::Array(contents));

    let mut generation = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            generation.insert(k.to_owned(), v);
        }
    };
    put("temperature", req.temperature.map(|v| json!(v)));
    put("topP", req.top_p.map(|v| json!(v)));
    put(
        "maxOutputTokens",
        req.max_completion_tokens
            .or(req.max_tokens)
            .map(|v| json!(v)),
    );
    put(
        "stopSequences",
        req.stop.as_ref().map(|s| match s {
            StopSequences::One(s) => json!([s]),
            StopSequences::Many(v) => json!(v),
        }),
    );
    put("candidateCount", req.n.filter(|n| *n > 1).map(|v| json!(v)));
    put("seed", req.seed.map(|v| json!(v)));
    put("presencePenalty", req.presence_penalty.map(|v| json!(v)));
    put("frequencyPenalty", req.frequency_penalty.map(|v| json!(v)));
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema, .. }) => {
            put("responseMimeType", Some(json!("application/json")));
            put("responseJsonSchema", json_schema.schema.clone());
        }
        Some(ResponseFormat::JsonObject { .. }) => {
            put("responseMimeType", Some(json!("application/json")));
        }
        _ => {}
    }
    let budget = match req.reasoning_effort.as_deref() {
        Some("none") | Some("minimal") => Some(0),
        Some("low") => Some(1024),
        Some("medium") => Some(8192),
        Some("high") => Some(24576),
        _ => None,
    };
    if let Some(b) = budget {
        put(
            "thinkingConfig",
            Some(json!({"thinkingBudget": b, "includeThoughts": b > 0})),
        );
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }

    let declarations: Vec<Value> = req
        .tools
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| match (&t.kind[..], &t.function) {
            ("function", Some(f)) => {
                let mut d = json!({"name": f.name});
                if let Some(o) = d.as_object_mut() {
                    if let Some(desc) = &f.description {
                        o.insert("description".into(), json!(desc));
                    }
                    if let Some(p) = &f.parameters {
                        o.insert("parametersJsonSchema".into(), p.clone());
                    }
                }
                Ok(d)
            }
            _ => Err(invalid(
                format!("tool type '{}' is not supported for gemini models", t.kind),
                &format!("tools[{i}].type"),
            )),
        })
        .collect::<Result<_, _>>()?;
    if !declarations.is_empty() {
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    let mode = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(m)) => Some(match m.as_str() {
            "auto" => json!({"mode": "AUTO"}),
            "required" => json!({"mode": "ANY"}),
            "none" => json!({"mode": "NONE"}),
            other => return Err(unknown_tool_choice(other)),
        }),
        Some(ToolChoice::Named(n)) => {
            let name = n.function.as_ref().map(|f| f.name.as_str()).unwrap_or("");
            Some(json!({"mode": "ANY", "allowedFunctionNames": [name]}))
        }
    };
    if let Some(m) = mode {
        body.insert("toolConfig".into(), json!({"functionCallingConfig": m}));
    }
    for k in ["safetySettings", "cachedContent", "labels"] {
        if let Some(v) = req.extra.get(k) {
            body.insert(k.to_owned(), v.clone());
        }
    }
    if req.logit_bias.is_some() || req.user.is_some() || req.parallel_tool_calls.is_some() {
        tracing::debug!("logit_bias/user/parallel_tool_calls dropped: no gemini equivalent");
    }
    Ok(Value::Object(body))
}

/// An embeddings request: `embedContent` body for one string, `batchEmbedContents` for a list.
/// Returns the body and whether it is a batch.
pub fn to_embed_request(req: &EmbeddingRequest) -> Result<(Value, bool), GatewayError> {
    let content = |t: &str| json!({"parts": [{"text": t}]});
    match &req.input {
        EmbeddingInput::Text(t) => {
            let mut body = json!({"content": content(t)});
            if let (Some(d), Some(o)) = (req.dimensions, body.as_object_mut()) {
                o.insert("outputDimensionality".into(), json!(d));
            }
            Ok((body, false))
        }
        EmbeddingInput::Texts(list) => {
            let requests: Vec<Value> = list
                .iter()
                .map(|t| {
                    let mut r =
                        json!({"model": format!("models/{}", req.model), "content": content(t)});
                    if let (Some(d), Some(o)) = (req.dimensions, r.as_object_mut()) {
                        o.insert("outputDimensionality".into(), json!(d));
                    }
                    r
                })
                .collect();
            Ok((json!({"requests": requests}), true))
        }
        _ => Err(invalid(
            "gemini embeddings take text input, not token ids",
            "input",
        )),
    }
}
