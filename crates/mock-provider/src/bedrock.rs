//! The mock's Bedrock face: `POST /model/{modelId}/converse` and `/converse-stream` (AWS
//! event-stream framing), with the SigV4 signature **recomputed** from the received request and
//! the secret of the access key, so a wrong signature (secret, region, service, signed headers,
//! body, path encoding) is refused with 403 as AWS would. A Bedrock API key (bearer) is also
//! accepted.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::handlers::begin;
use crate::payloads::{arguments_for, content_pieces};
use crate::stream::{Dialect, sse_body_in};

#[derive(Deserialize)]
struct ConverseIn {
    #[serde(default, rename = "toolConfig")]
    tool_config: Option<Value>,
    /// `{"thinking": {"type": "enabled", …}}` (Claude's reasoning on Bedrock) makes the answer
    /// start with a signed `reasoningContent` block.
    #[serde(default, rename = "additionalModelRequestFields")]
    additional: Option<Value>,
    #[serde(default)]
    messages: Vec<Value>,
}

/// What the mock "reasons" when reasoning is enabled.
const REASONING: &str = "The user asked; answer plainly.";

/// With reasoning enabled, Bedrock refuses a history whose last assistant turn called a tool
/// without its signed reasoning block first (as Claude does).
fn unsigned_tool_turn(req: &ConverseIn) -> bool {
    let Some(last) = req.messages.iter().rev().find(|m| m["role"] == "assistant") else {
        return false;
    };
    let blocks = last["content"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let calls_tool = blocks.iter().any(|b| b.get("toolUse").is_some());
    let signed = blocks.first().is_some_and(|b| {
        b.pointer("/reasoningContent/reasoningText/signature")
            .is_some()
            || b.pointer("/reasoningContent/redactedContent").is_some()
    });
    calls_tool && !signed
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut r = (status, Json(json!({"message": message}))).into_response();
    if let Ok(v) = HeaderValue::from_str(kind) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// `YYYYMMDDTHHMMSSZ` → time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(9..11)?, n(11..13)?, n(13..15)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Recompute the SigV4 signature of the request and compare it with the one it carries.
fn verify_sigv4(
    s: &Shared,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("missing Authorization")?;
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return if token.is_empty() {
            Err("empty bearer token".into())
        } else {
            Ok(())
        };
    }
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("unsupported authorization scheme")?;
    let field = |name: &str| {
        rest.split(", ")
            .find_map(|p| p.strip_prefix(name))
            .map(str::to_owned)
    };
    let credential = field("Credential=").ok_or("no Credential")?;
    let signed = field("SignedHeaders=").ok_or("no SignedHeaders")?;
    let signature = field("Signature=").ok_or("no Signature")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, _date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err("malformed credential scope".into());
    };
    if *service != "bedrock" {
        return Err(format!("signed for service '{service}', not bedrock"));
    }
    let secret = s
        .config
        .aws_credentials
        .iter()
        .find(|(k, _)| k == akid)
        .map(|(_, v)| v.clone())
        .ok_or("The security token included in the request is invalid.")?;
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("missing x-amz-date")?;
    let time = parse_amz_date(amz_date).ok_or("bad x-amz-date")?;
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let identity: Identity = Credentials::new(*akid, secret, token, None, "mock").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let pairs: Vec<(String, String)> = signed
        .split(';')
        .filter(|h| !matches!(*h, "x-amz-date" | "x-amz-security-token"))
        .map(|h| {
            let v = headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("");
            (h.to_owned(), v.to_owned())
        })
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let url = format!("http://{host}{uri}");
    let request = SignableRequest::new(
        method.as_str(),
        url.as_str(),
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let expected = instructions
        .headers()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.split("Signature=").nth(1).map(str::to_owned))
        .ok_or("could not recompute")?;
    if expected == signature {
        s.signatures_verified.fetch_add(1, Ordering::Relaxed);
        Ok(())
    } else {
        Err("The request signature we calculated does not match the signature you provided.".into())
    }
}

/// `POST /model/{modelId}/{operation}` (`converse`, `converse-stream`).
pub async fn model_operation(
    State(s): State<Arc<Shared>>,
    Path((model_id, operation)): Path<(String, String)>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = verify_sigv4(&s, &method, &uri, &headers, &body) {
        return aws_error(StatusCode::FORBIDDEN, "InvalidSignatureException", &e);
    }
    let stream = match operation.as_str() {
        "converse" => false,
        "converse-stream" => true,
        "invoke" | "invoke-with-response-stream" if model_id.contains("anthropic.claude") => {
            let stream = operation == "invoke-with-response-stream";
            let request = (&method, &uri, &headers, &body);
            return crate::anthropic::bedrock_invoke(&s, request, &model_id, stream).await;
        }
        "invoke" => return invoke_embedding(&s, &model_id, &body),
        _ => {
            return aws_error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "unknown operation",
            );
        }
    };
    let request = (&method, &uri, &headers, &body);
    let (req, base, knobs) =
        match begin::<ConverseIn>(&s, request, |_| model_id.clone(), |_| stream).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let _ = base;
    let reasoning = req
        .additional
        .as_ref()
        .is_some_and(|a| a.pointer("/thinking/type") == Some(&json!("enabled")));
    if reasoning && unsigned_tool_turn(&req) {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.",
        );
    }
    let n = s.ids.fetch_add(1, Ordering::Relaxed);
    let signature = format!("mock-bedrock-signature-{n}");
    let pieces = content_pieces(knobs.chunks);
    let input_tokens = (body.len() as u64 / 4).max(1);
    let usage = json!({"inputTokens": input_tokens, "outputTokens": pieces.len(),
        "totalTokens": input_tokens + pieces.len() as u64});
    let tool = req.tool_config.as_ref().and_then(|c| {
        let choice = &c["toolChoice"];
        let named = choice.pointer("/tool/name").and_then(Value::as_str);
        let spec = c["tools"]
            .as_array()?
            .iter()
            .map(|t| &t["toolSpec"])
            .find(|t| named.is_none_or(|n| t["name"] == n))?;
        if choice.get("auto").is_some() && named.is_none() && choice.get("any").is_none() {
            // auto: the mock answers in text.
            return None;
        }
        let args = arguments_for(spec.pointer("/inputSchema/json"));
        Some((
            format!("tooluse_mock{n}"),
            spec["name"].as_str().unwrap_or("tool").to_owned(),
            args,
        ))
    });
    let stop = if tool.is_some() {
        "tool_use"
    } else {
        "end_turn"
    };
    let request_id = format!("mock-bedrock-{n}");
    let mut response = if !stream {
        let mut content = match &tool {
            Some((id, name, args)) => json!([{"toolUse": {"toolUseId": id, "name": name,
                "input": serde_json::from_str::<Value>(args).unwrap_or(json!({}))}}]),
            None => json!([{"text": pieces.concat()}]),
        };
        if reasoning && let Some(blocks) = content.as_array_mut() {
            blocks.insert(
                0,
                json!({"reasoningContent": {"reasoningText":
                    {"text": REASONING, "signature": signature}}}),
            );
        }
        Json(
            json!({"output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 12}}),
        )
        .into_response()
    } else {
        let ev = |event: &str, payload: Value| json!({"event": event, "payload": payload});
        let mut events = vec![ev("messageStart", json!({"role": "assistant"}))];
        let block = u64::from(reasoning);
        if reasoning {
            // Bedrock sends no contentBlockStart for reasoning: text deltas, then the signature.
            for delta in [json!({"text": REASONING}), json!({"signature": signature})] {
                events.push(ev(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": 0, "delta": {"reasoningContent": delta}}),
                ));
            }
            events.push(ev("contentBlockStop", json!({"contentBlockIndex": 0})));
        }
        match &tool {
            Some((id, name, args)) => {
                events.push(ev(
                    "contentBlockStart",
                    json!({"contentBlockIndex": block,
                    "start": {"toolUse": {"toolUseId": id, "name": name}}}),
                ));
                let chars: Vec<char> = args.chars().collect();
                let per = chars.len().div_ceil(knobs.chunks.max(1)).max(1);
                for piece in chars.chunks(per) {
                    let piece: String = piece.iter().collect();
                    events.push(ev(
                        "contentBlockDelta",
                        json!({"contentBlockIndex": block,
                        "delta": {"toolUse": {"input": piece}}}),
                    ));
                }
            }
            None => {
                for p in &pieces {
                    events.push(ev(
                        "contentBlockDelta",
                        json!({"contentBlockIndex": block,
                        "delta": {"text": p}}),
                    ));
                }
            }
        }
        events.push(ev("contentBlockStop", json!({"contentBlockIndex": block})));
        events.push(ev("messageStop", json!({"stopReason": stop})));
        events.push(ev(
            "metadata",
            json!({"usage": usage, "metrics": {"latencyMs": 12}}),
        ));
        let mut r = Response::new(sse_body_in(
            Dialect::Bedrock,
            events,
            &knobs,
            &s.active_streams,
        ));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.amazon.eventstream"),
        );
        r
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

/// `invoke` for embedding models: Amazon Titan (`inputText`) and Cohere Embed (`texts`).
fn invoke_embedding(s: &Shared, model_id: &str, body: &[u8]) -> Response {
    s.served.fetch_add(1, Ordering::Relaxed);
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let vector = |t: &str| json!([t.len() as f32 / 10.0, 0.5, -0.25, 1.0]);
    if model_id.contains("amazon.titan-embed") {
        let Some(text) = v["inputText"].as_str() else {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "inputText is required",
            );
        };
        Json(json!({"embedding": vector(text), "inputTextTokenCount": text.len() / 4 + 1}))
            .into_response()
    } else if model_id.contains("cohere.embed") {
        let Some(texts) = v["texts"].as_array() else {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "texts is required",
            );
        };
        if v.get("input_type").is_none() {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "input_type is required",
            );
        }
        let vectors: Vec<Value> = texts
            .iter()
            .map(|t| vector(t.as_str().unwrap_or("")))
            .collect();
        Json(
            json!({"id": "mock-embed", "embeddings": {"float": vectors}, "texts": texts,
            "response_type": "embeddings_by_type"}),
        )
        .into_response()
    } else {
        aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "not an embedding model",
        )
    }
}
