//! The mock's Gemini face: `POST /v1beta/models/{model}:{method}` for `generateContent`,
//! `streamGenerateContent` (`alt=sse`), `embedContent` and `batchEmbedContents`, shaped as in
//! Google's Gemini API reference, with the shared knobs (model-name suffixes work in the path).
//!
//! Why: the Gemini provider is tested end to end — `x-goog-api-key`, URL building, the
//! whole-response-per-event stream without an end marker, function calls, usage metadata.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::handlers::{begin, sse_response};
use crate::payloads::{arguments_for, content_pieces};
use crate::stream::{Dialect, sse_body_in};

/// The `alt` query parameter (`sse` for streams).
#[derive(Deserialize)]
pub struct AltQuery {
    #[serde(default)]
    alt: Option<String>,
}

impl AltQuery {
    /// The `alt` value.
    pub fn alt(&self) -> Option<&str> {
        self.alt.as_deref()
    }
}

#[derive(Deserialize)]
struct GenerateIn {
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default, rename = "toolConfig")]
    tool_config: Option<Value>,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    requests: Vec<Value>,
}

fn google_error(status: StatusCode, state: &str, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": state}});
    (status, Json(body)).into_response()
}

/// The function the model "calls", per toolConfig (NONE → none; allowed names → the first).
fn planned_call(req: &GenerateIn) -> Option<(String, Value)> {
    let config = req
        .tool_config
        .as_ref()
        .map(|c| &c["functionCallingConfig"]);
    if config.is_some_and(|c| c["mode"] == "NONE") {
        return None;
    }
    let allowed = config.and_then(|c| c["allowedFunctionNames"][0].as_str());
    let decl = req
        .tools
        .iter()
        .filter_map(|t| t["functionDeclarations"].as_array())
        .flatten()
        .find(|d| allowed.is_none_or(|a| d["name"] == a))?;
    let schema = decl.get("parametersJsonSchema").or(decl.get("parameters"));
    let args: Value = serde_json::from_str(&arguments_for(schema)).unwrap_or(json!({}));
    Some((decl["name"].as_str().unwrap_or("tool").to_owned(), args))
}

/// `POST /v1beta/models/{model}:{method}`
#[allow(clippy::too_many_arguments)]
pub async fn model_action(
    State(s): State<Arc<Shared>>,
    Path(model_action): Path<String>,
    Query(q): Query<AltQuery>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get("x-goog-api-key").is_none() {
        return google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers. Please use an API key.",
        );
    }
    generate(&s, &model_action, q.alt(), (&method, &uri, &headers, &body)).await
}

/// The Gemini answer for `{model}:{method}`, shared by the Gemini API and Vertex AI faces.
pub(crate) async fn generate(
    s: &Shared,
    model_action: &str,
    alt: Option<&str>,
    request: (&Method, &axum::http::Uri, &HeaderMap, &Bytes),
) -> Response {
    let body = request.3;
    let Some((model, action)) = model_action.rsplit_once(':') else {
        return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no method in the path");
    };
    let stream = action == "streamGenerateContent";
    let (req, base, knobs) =
        match begin::<GenerateIn>(s, request, |_| model.to_owned(), |_| stream).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    match action {
        "embedContent" | "batchEmbedContents" => {
            let texts: Vec<String> = if action == "embedContent" {
                req.content
                    .iter()
                    .map(|c| c["parts"][0]["text"].as_str().unwrap_or("").to_owned())
                    .collect()
            } else {
                req.requests
                    .iter()
                    .map(|r| {
                        r["content"]["parts"][0]["text"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned()
                    })
                    .collect()
            };
            let vectors: Vec<Value> = texts
                .iter()
                .map(|t| json!({"values": [t.len() as f32 / 10.0, 0.5, -0.25, 1.0]}))
                .collect();
            return if action == "embedContent" {
                Json(
                    json!({"embedding": vectors.first().cloned().unwrap_or(json!({"values": []}))}),
                )
                .into_response()
            } else {
                Json(json!({"embeddings": vectors})).into_response()
            };
        }
        "generateContent" | "streamGenerateContent" => {}
        other => {
            return google_error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                &format!("method {other} not found"),
            );
        }
    }
    if stream && alt != Some("sse") {
        return google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "the mock only streams with alt=sse",
        );
    }
    let n = s.ids.fetch_add(1, Ordering::Relaxed);
    let id = format!("mock-gemini-{n}");
    let prompt = (body.len() as u64 / 4).max(1);
    let pieces = content_pieces(knobs.chunks);
    let call = planned_call(&req);
    let usage = |done: usize| {
        json!({"promptTokenCount": prompt, "candidatesTokenCount": done,
            "totalTokenCount": prompt + done as u64})
    };
    let response = |parts: Value, finish: Option<&str>, done: usize| {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let (Some(f), Some(o)) = (finish, c.as_object_mut()) {
            o.insert("finishReason".into(), json!(f));
        }
        json!({"candidates": [c], "usageMetadata": usage(done), "modelVersion": base,
            "responseId": id})
    };
    if !stream {
        let parts = match &call {
            Some((name, args)) => json!([{"functionCall": {"name": name, "args": args}}]),
            None => json!([{"text": pieces.concat()}]),
        };
        return Json(response(parts, Some("STOP"), pieces.len())).into_response();
    }
    let events: Vec<Value> = match &call {
        Some((name, args)) => vec![response(
            json!([{"functionCall": {"name": name, "args": args}}]),
            Some("STOP"),
            1,
        )],
        None => pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let last = i + 1 == pieces.len();
                response(json!([{"text": p}]), last.then_some("STOP"), i + 1)
            })
            .collect(),
    };
    sse_response(sse_body_in(
        Dialect::Gemini,
        events,
        &knobs,
        &s.active_streams,
    ))
}
