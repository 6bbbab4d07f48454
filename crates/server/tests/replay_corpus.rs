//! A replay corpus of real recorded provider responses (`tests/replay/<provider>/`, see each
//! `ORIGIN.md`), each served by a raw stub upstream in the provider's own wire framing and sent
//! through the gateway's real HTTP path: `/v1/chat/completions` (stream or not, as recorded)
//! and, where the gateway has one, the provider's native drop-in route. The assertions are the
//! generic invariants real clients rely on; every check of a file is reported, not just the
//! first that fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;
#[path = "replay_support/expect.rs"]
mod expect;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::*;
use expect::*;
use heimdall_mock_provider::MockConfig;
use serde_json::{Value, json};

use heimdall_mock_provider::stream::eventstream_message;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum P {
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
    OpenAi,
    Azure,
}

impl P {
    fn dir(self) -> &'static str {
        match self {
            P::Anthropic => "anthropic",
            P::Gemini => "gemini",
            P::Bedrock => "bedrock",
            P::Cohere => "cohere",
            P::OpenAi => "openai",
            P::Azure => "azure",
        }
    }

    /// The upstream model the gateway is asked for (`<provider>/<model>`).
    fn model(self) -> &'static str {
        match self {
            P::Anthropic => "claude-sonnet-4-5",
            P::Gemini => "gemini-3-pro-preview",
            P::Bedrock => "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            P::Cohere => "command-a-03-2025",
            P::OpenAi => "gpt-4.1-nano",
            P::Azure => "gpt-5-nano",
        }
    }

    fn gateway_model(self) -> String {
        format!("{}/{}", self.dir(), self.model())
    }

    /// The provider block pointing at the stub (no retries: a recording is answered once).
    fn provider_config(self, addr: std::net::SocketAddr) -> Value {
        let key = json!([{"name": "k", "value": "replay-key", "models": [], "weight": 1}]);
        let net = |base: String| json!({"base_url": base, "max_retries": 0});
        match self {
            P::Anthropic => json!({"type": "anthropic", "keys": key,
                "network_config": net(format!("http://{addr}"))}),
            P::Gemini => json!({"type": "gemini", "keys": key,
                "network_config": net(format!("http://{addr}/v1beta"))}),
            P::Cohere => json!({"type": "cohere", "keys": key,
                "network_config": net(format!("http://{addr}"))}),
            P::OpenAi => json!({"type": "openai", "keys": key,
                "network_config": net(format!("http://{addr}/v1"))}),
            P::Bedrock => json!({"type": "bedrock",
                "network_config": net(format!("http://{addr}")),
                "keys": [{"name": "iam", "bedrock_key_config": {"region": "us-east-1",
                    "access_key": "AKIDREPLAY", "secret_key": "replay-secret"}}]}),
            P::Azure => json!({"type": "azure",
                "network_config": {"max_retries": 0},
                "keys": [{"name": "east", "value": "azure-secret",
                    "azure_key_config": {"endpoint": format!("http://{addr}"),
                        "deployments": {"gpt-5-nano": "router-prod"}}}]}),
        }
    }

    /// What the upstream request path must contain for the recording to be the right answer.
    fn expected_upstream_path(self, stream: bool) -> &'static str {
        match (self, stream) {
            (P::Anthropic, _) => "/v1/messages",
            (P::Gemini, true) => {
                "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
            }
            (P::Gemini, false) => "/v1beta/models/gemini-3-pro-preview:generateContent",
            (P::Bedrock, true) => "/converse-stream",
            (P::Bedrock, false) => "/converse",
            (P::Cohere, _) => "/v2/chat",
            (P::OpenAi, _) => "/v1/chat/completions",
            (P::Azure, _) => "/openai/deployments/router-prod/chat/completions",
        }
    }
}

/// One corpus file.
struct Recording {
    provider: P,
    file: &'static str,
    /// `*.chunks.txt`: one recorded event per line.
    stream: bool,
    /// The recorded lines (streams) as written.
    lines: Vec<String>,
    /// The recorded body (non-streams).
    body: String,
}

impl Recording {
    fn load(provider: P, file: &'static str) -> Self {
        let path = format!(
            "{}/tests/replay/{}/{file}",
            env!("CARGO_MANIFEST_DIR"),
            provider.dir()
        );
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{path}: {e}"))
            .unwrap();
        let stream = file.ends_with(".chunks.txt");
        let lines = if stream {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect()
        } else {
            Vec::new()
        };
        Self {
            provider,
            file,
            stream,
            lines,
            body: text,
        }
    }

    fn events(&self) -> Vec<Value> {
        self.lines
            .iter()
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| format!("{}: {e}", self.file))
                    .unwrap()
            })
            .collect()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("{}: {e}", self.file))
            .unwrap()
    }

    /// A recorded provider error (a non-stream body with a top-level `error`), with its status.
    fn error_status(&self) -> Option<u16> {
        if self.stream {
            return None;
        }
        let v = self.json();
        let e = v.get("error")?;
        Some(
            e["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(400),
        )
    }

    /// The recorded body in the provider's wire framing: (status, content-type, body).
    fn upstream_reply(&self) -> (u16, &'static str, Bytes) {
        if !self.stream {
            let status = self.error_status().unwrap_or(200);
            return (status, "application/json", Bytes::from(self.body.clone()));
        }
        let mut out = Vec::new();
        match self.provider {
            P::Anthropic | P::Cohere => {
                for (line, v) in self.lines.iter().zip(self.events()) {
                    let kind = v["type"].as_str().expect("an event without a type");
                    out.extend_from_slice(format!("event: {kind}\ndata: {line}\n\n").as_bytes());
                }
            }
            P::Gemini => {
                for line in &self.lines {
                    out.extend_from_slice(format!("data: {line}\n\n").as_bytes());
                }
            }
            P::OpenAi | P::Azure => {
                for line in &self.lines {
                    out.extend_from_slice(format!("data: {line}\n\n").as_bytes());
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
            P::Bedrock => {
                for v in self.events() {
                    let (kind, payload) = v
                        .as_object()
                        .and_then(|o| o.iter().next())
                        .expect("a Bedrock event is {type: payload}");
                    out.extend_from_slice(&eventstream_message(
                        &[
                            (":event-type", kind.as_str()),
                            (":content-type", "application/json"),
                            (":message-type", "event"),
                        ],
                        payload,
                    ));
                }
                return (200, "application/vnd.amazon.eventstream", Bytes::from(out));
            }
        }
        (200, "text/event-stream", Bytes::from(out))
    }

    /// What the recording says, in the provider-neutral terms a client cares about.
    fn expect(&self) -> Expect {
        match (self.provider, self.stream) {
            (P::Anthropic, true) => anthropic_stream(&self.events()),
            (P::Anthropic, false) => anthropic_body(&self.json()),
            (P::Gemini, true) => gemini_chunks(&self.events()),
            (P::Gemini, false) => gemini_chunks(&[self.json()]),
            (P::Bedrock, true) => bedrock_stream(&self.events()),
            (P::Bedrock, false) => bedrock_body(&self.json()),
            (P::Cohere, true) => cohere_stream(&self.events()),
            (P::Cohere, false) => cohere_body(&self.json()),
            (P::OpenAi | P::Azure, true) => openai_chunks(&self.events()),
            (P::OpenAi | P::Azure, false) => openai_body(&self.json()),
        }
    }
}

/// A raw upstream answering every request with one recorded reply; it remembers the paths.
struct Stub {
    addr: std::net::SocketAddr,
    paths: Arc<Mutex<Vec<String>>>,
}

async fn stub(status: u16, content_type: &'static str, body: Bytes) -> Stub {
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&paths);
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let body = body.clone();
        let seen = Arc::clone(&seen);
        async move {
            seen.lock().unwrap().push(uri.to_string());
            let mut r: Response = ([("content-type", content_type)], body).into_response();
            *r.status_mut() = StatusCode::from_u16(status).unwrap();
            r
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Stub { addr, paths }
}

/// A stub serving `rec` and a gateway whose provider `<dir>` points at it.
async fn replay_setup(rec: &Recording) -> (Stub, Harness) {
    let (status, ctype, body) = rec.upstream_reply();
    let s = stub(status, ctype, body).await;
    let config = json!({"providers": {rec.provider.dir(): rec.provider.provider_config(s.addr)}});
    let h = start_observed(MockConfig::default(), move |_| config, vec![], None).await;
    (s, h)
}

/// Failures of one file, all reported together.
struct Report {
    file: &'static str,
    route: &'static str,
    failures: Vec<String>,
}

impl Report {
    fn new(rec: &Recording, route: &'static str) -> Self {
        Self {
            file: rec.file,
            route,
            failures: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.failures
                .push(format!("{what}: got {got:?}, recorded {want:?}"));
        }
    }

    fn upstream_path(&mut self, stub: &Stub, want: &str) {
        let paths = stub.paths.lock().unwrap().clone();
        self.check(paths.len() == 1 && paths[0].contains(want), || {
            format!("upstream: expected one request to a path containing {want:?}, saw {paths:?}")
        });
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} via {}: {} failure(s):\n  - {}",
            self.file,
            self.route,
            self.failures.len(),
            self.failures.join("\n  - ")
        );
    }
}

/// Function tools named as in the recording (the request the recording answered had them).
fn tools_for(exp: &Expect) -> Value {
    let mut names: Vec<&str> = exp.tools.iter().map(|(n, _)| n.as_str()).collect();
    names.dedup();
    Value::Array(
        names
            .into_iter()
            .map(|n| {
                json!({"type": "function", "function": {"name": n, "description": n,
                    "parameters": {"type": "object", "properties": {}}}})
            })
            .collect(),
    )
}

/// The recording through `/v1/chat/completions`.
async fn replay_openai(provider: P, file: &'static str) {
    let rec = Recording::load(provider, file);
    let exp = rec.expect();
    assert!(
        rec.error_status().is_some() || !exp.text.is_empty() || !exp.tools.is_empty(),
        "{file}: the recording's text and tool calls could not be read"
    );
    let (stub, h) = replay_setup(&rec).await;
    let mut req = json!({"model": provider.gateway_model(), "stream": rec.stream,
        "messages": [{"role": "user", "content": "Hello"}]});
    if rec.stream {
        req["stream_options"] = json!({"include_usage": true});
    }
    if !exp.tools.is_empty() {
        req["tools"] = tools_for(&exp);
    }
    let r = h.chat(req).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let mut rep = Report::new(&rec, "/v1/chat/completions");
    rep.upstream_path(&stub, provider.expected_upstream_path(rec.stream));

    if let Some(recorded) = rec.error_status() {
        rep.check(!(200..300).contains(&status), || {
            format!("recorded {recorded} error answered {status}: {text}")
        });
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let msg = body["error"]["message"].as_str().unwrap_or("");
        rep.check(
            !msg.is_empty() && body["error"].get("type").is_some(),
            || format!("not an OpenAI error body: {text}"),
        );
        let upstream_msg = rec.json()["error"]["message"].as_str().unwrap().to_owned();
        rep.check(msg.contains(&upstream_msg), || {
            format!("error message {msg:?} lost the provider's {upstream_msg:?}")
        });
        return rep.finish();
    }

    rep.check(status == 200, || format!("status {status}: {text}"));
    if rec.stream {
        check_stream(&mut rep, &text, &exp);
    } else {
        check_completion(&mut rep, &text, &exp);
        // An OpenAI client asking an OpenAI upstream reads the upstream's own answer.
        let recorded = rec.upstream_reply().2;
        rep.check(
            provider != P::OpenAi || text.as_bytes() == &recorded[..],
            || format!("the answer is not the upstream's bytes: {text}"),
        );
    }
    rep.finish();
}

fn check_common(rep: &mut Report, got: &Expect, exp: &Expect) {
    rep.eq("content text", &got.text, &exp.text);
    if !exp.reasoning.is_empty() {
        rep.eq("reasoning_content", &got.reasoning, &exp.reasoning);
    }
    if !exp.signature.is_empty() {
        rep.eq("thinking_blocks signature", &got.signature, &exp.signature);
    }
    for (name, args) in &got.tools {
        rep.check(args.is_object(), || {
            format!("tool call {name}: arguments are not a JSON object: {args}")
        });
    }
    rep.eq("tool calls (name, arguments)", &got.tools, &exp.tools);
    rep.eq("finish_reason", &got.finish, &exp.finish);
    if exp.cached > 0 {
        rep.eq(
            "usage.prompt_tokens_details.cached_tokens",
            got.cached,
            exp.cached,
        );
    }
}

fn check_completion(rep: &mut Report, text: &str, exp: &Expect) {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return rep.check(false, || format!("not JSON: {text}"));
    };
    rep.eq("object", body["object"].as_str(), Some("chat.completion"));
    rep.check(body["choices"][0]["message"].is_object(), || {
        format!("no choices[0].message: {body}")
    });
    rep.check(body["usage"]["prompt_tokens"].is_u64(), || {
        format!("no usage: {body}")
    });
    check_common(rep, &openai_body(&body), exp);
}

fn check_stream(rep: &mut Report, text: &str, exp: &Expect) {
    let data = sse_data(text);
    rep.eq(
        "last data payload",
        data.last().map(String::as_str),
        Some("[DONE]"),
    );
    let mut chunks = Vec::new();
    for (i, d) in data.iter().enumerate() {
        if d == "[DONE]" {
            rep.check(i + 1 == data.len(), || format!("[DONE] at {i} is not last"));
            continue;
        }
        let Ok(c) = serde_json::from_str::<Value>(d) else {
            rep.check(false, || format!("data #{i} is not JSON: {d}"));
            continue;
        };
        rep.check(c.get("error").is_none(), || {
            format!("error event mid-stream (data #{i}): {d}")
        });
        rep.check(
            c["object"] == "chat.completion.chunk"
                && c["id"].as_str().is_some_and(|s| !s.is_empty())
                && c["choices"].is_array(),
            || format!("data #{i} is not a chat.completion.chunk with an id and choices: {d}"),
        );
        chunks.push(c);
    }
    let finishes = chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
        .filter(|ch| !ch["finish_reason"].is_null())
        .count();
    rep.eq("chunks with a finish_reason", finishes, 1);
    rep.check(chunks.iter().any(|c| c["usage"].is_object()), || {
        "no usage chunk although stream_options.include_usage was set".to_owned()
    });
    check_common(rep, &openai_chunks(&chunks), exp);
}

/// SSE blocks as (event name, data) pairs.
fn sse_events(text: &str) -> Vec<(String, String)> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let ev = b
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            let data = b
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|s| s.strip_prefix(' ').unwrap_or(s))
                .collect::<Vec<_>>()
                .join("\n");
            (ev, data)
        })
        .collect()
}

fn pct(s: &str) -> String {
    s.replace('%', "%25")
        .replace('/', "%2F")
        .replace(':', "%3A")
        .replace(';', "%3B")
}

/// The recording through the provider's own drop-in route with a target of that provider.
async fn replay_native(provider: P, file: &'static str) {
    let rec = Recording::load(provider, file);
    let exp = rec.expect();
    assert!(
        rec.error_status().is_some() || !exp.text.is_empty() || !exp.tools.is_empty(),
        "{file}: the recording's text and tool calls could not be read"
    );
    let (stub, h) = replay_setup(&rec).await;
    let model = provider.gateway_model();
    let (route, url, body): (&'static str, String, Value) = match provider {
        P::Anthropic => (
            "/anthropic/v1/messages",
            h.url("/anthropic/v1/messages"),
            json!({"model": model, "max_tokens": 1024, "stream": rec.stream,
                "messages": [{"role": "user", "content": "Hello"}]}),
        ),
        P::Bedrock => (
            "/bedrock/model/{id}/converse[-stream]",
            h.url(&format!(
                "/bedrock/model/{}/{}",
                pct(&model),
                if rec.stream {
                    "converse-stream"
                } else {
                    "converse"
                }
            )),
            json!({"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}),
        ),
        P::Gemini => (
            "/genai/v1beta/models/{m}:(stream)generateContent",
            h.url(&if rec.stream {
                format!("/genai/v1beta/models/{model}:streamGenerateContent?alt=sse")
            } else {
                format!("/genai/v1beta/models/{model}:generateContent")
            }),
            json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}),
        ),
        P::Cohere => (
            "/cohere/v2/chat",
            h.url("/cohere/v2/chat"),
            json!({"model": model, "stream": rec.stream,
                "messages": [{"role": "user", "content": "Hello"}]}),
        ),
        P::OpenAi | P::Azure => unreachable!("no native route"),
    };
    let mut body = body;
    if !exp.tools.is_empty() {
        match provider {
            P::Anthropic => {
                body["tools"] = Value::Array(
                    tools_for(&exp)
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| {
                            json!({"name": t["function"]["name"],
                            "input_schema": {"type": "object", "properties": {}}})
                        })
                        .collect(),
                );
            }
            P::Cohere => body["tools"] = tools_for(&exp),
            P::Bedrock => {
                body["toolConfig"] = json!({"tools": tools_for(&exp).as_array().unwrap().iter()
                    .map(|t| json!({"toolSpec": {"name": t["function"]["name"],
                        "inputSchema": {"json": {"type": "object", "properties": {}}}}}))
                    .collect::<Vec<_>>()});
            }
            P::Gemini => {
                body["tools"] = json!([{"functionDeclarations": tools_for(&exp).as_array()
                    .unwrap().iter().map(|t| json!({"name": t["function"]["name"],
                        "parameters": {"type": "object", "properties": {}}}))
                    .collect::<Vec<_>>()}]);
            }
            P::OpenAi | P::Azure => {}
        }
    }
    let r = h
        .client
        .post(url)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut rep = Report::new(&rec, route);
    rep.upstream_path(&stub, provider.expected_upstream_path(rec.stream));

    if let Some(recorded) = rec.error_status() {
        rep.check(!(200..300).contains(&status), || {
            format!("recorded {recorded} error answered {status}: {text}")
        });
        let upstream_msg = rec.json()["error"]["message"].as_str().unwrap().to_owned();
        rep.check(text.contains(&upstream_msg), || {
            format!("error body lost the provider's message {upstream_msg:?}: {text}")
        });
        return rep.finish();
    }
    rep.check(status == 200, || format!("status {status}: {text}"));

    match (provider, rec.stream) {
        (P::Anthropic, true) => {
            // An Anthropic target: the event sequence is forwarded unchanged.
            let got = sse_events(&text);
            let want: Vec<(String, Value)> = rec
                .events()
                .into_iter()
                .map(|v| (v["type"].as_str().unwrap().to_owned(), v))
                .collect();
            rep.eq("event count", got.len(), want.len());
            for (i, ((ev, data), (wev, wdata))) in got.iter().zip(&want).enumerate() {
                let parsed: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                if ev != wev || &parsed != wdata {
                    rep.check(false, || {
                        format!("event #{i}: got {ev} {data}, recorded {wev} {wdata}")
                    });
                    break;
                }
            }
        }
        (P::Anthropic, false) => {
            let got: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            rep.check(got == rec.json(), || {
                format!("body changed: got {got}, recorded {}", rec.body)
            });
        }
        (P::Bedrock, true) => match heimdall_providers::bedrock::stream::decode_all(&bytes) {
            Ok(events) => {
                for e in events.iter().filter(|e| e.exception) {
                    rep.check(false, || {
                        format!("exception frame {}: {}", e.kind, e.payload)
                    });
                }
                let as_recorded: Vec<Value> = events
                    .iter()
                    .filter(|e| !e.exception)
                    .map(|e| json!({e.kind.clone(): e.payload.clone()}))
                    .collect();
                check_meaning(&mut rep, &bedrock_stream(&as_recorded), &exp);
            }
            Err(e) => rep.check(false, || format!("not an event stream ({e}): {text}")),
        },
        (P::Bedrock, false) => {
            let got: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            check_meaning(&mut rep, &bedrock_body(&got), &exp);
        }
        (P::Gemini, _) => {
            let chunks: Vec<Value> = if rec.stream {
                sse_events(&text)
                    .into_iter()
                    .map(|(_, d)| serde_json::from_str(&d).unwrap_or(json!({"unparsable": d})))
                    .collect()
            } else {
                vec![serde_json::from_str(&text).unwrap_or(Value::Null)]
            };
            for c in &chunks {
                rep.check(
                    c.get("error").is_none() && c.get("unparsable").is_none(),
                    || format!("bad chunk: {c}"),
                );
            }
            check_meaning(&mut rep, &gemini_chunks(&chunks), &exp);
        }
        (P::Cohere, true) => {
            let events: Vec<Value> = sse_events(&text)
                .into_iter()
                .filter(|(_, d)| !d.is_empty())
                .map(|(_, d)| serde_json::from_str(&d).unwrap_or(json!({"unparsable": d})))
                .collect();
            for e in &events {
                rep.check(
                    e.get("unparsable").is_none() && e["type"] != "error",
                    || format!("bad event: {e}"),
                );
            }
            check_meaning(&mut rep, &cohere_stream(&events), &exp);
        }
        (P::Cohere, false) => {
            let got: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            check_meaning(&mut rep, &cohere_body(&got), &exp);
        }
        (P::OpenAi | P::Azure, _) => unreachable!(),
    }
    rep.finish();
}

/// The same meaning, field by field, in the provider's own shape.
fn check_meaning(rep: &mut Report, got: &Expect, exp: &Expect) {
    rep.eq("text", &got.text, &exp.text);
    rep.eq("reasoning text", &got.reasoning, &exp.reasoning);
    rep.eq("reasoning signature", &got.signature, &exp.signature);
    rep.eq("tool calls (name, arguments)", &got.tools, &exp.tools);
    rep.eq("finish (mapped)", &got.finish, &exp.finish);
    rep.eq("cached prompt tokens", got.cached, exp.cached);
}

macro_rules! corpus {
    ($runner:ident: $($name:ident => $p:ident $file:literal;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                $runner(P::$p, $file).await;
            }
        )*
    };
}

// Every corpus file through `/v1/chat/completions`.
corpus! { replay_openai:
    openai_route_anthropic_text_stream => Anthropic "anthropic-text.chunks.txt";
    openai_route_anthropic_text => Anthropic "anthropic-text.json";
    openai_route_anthropic_tool_no_args_stream => Anthropic "anthropic-tool-no-args.chunks.txt";
    openai_route_anthropic_tool_no_args => Anthropic "anthropic-tool-no-args.json";
    openai_route_anthropic_thinking_stream => Anthropic "anthropic-clear-thinking.1.chunks.txt";
    openai_route_anthropic_thinking => Anthropic "anthropic-clear-thinking.1.json";
    openai_route_anthropic_json_tool_stream => Anthropic "anthropic-json-tool.1.chunks.txt";
    openai_route_anthropic_json_tool => Anthropic "anthropic-json-tool.1.json";
    openai_route_anthropic_web_search_stream => Anthropic "anthropic-web-search-tool.1.chunks.txt";
    openai_route_anthropic_web_search => Anthropic "anthropic-web-search-tool.1.json";
    openai_route_anthropic_code_execution_stream => Anthropic "anthropic-code-execution-20250825.1.chunks.txt";
    openai_route_anthropic_code_execution_prompt_cache_stream => Anthropic "anthropic-code-execution-20260120-prompt-cache.1.chunks.txt";
    openai_route_anthropic_message_delta_input_tokens_stream => Anthropic "anthropic-message-delta-input-tokens.chunks.txt";
    openai_route_anthropic_web_fetch_tool_error_result => Anthropic "anthropic-web-fetch-tool.error.json";

    openai_route_gemini_text_stream => Gemini "google-text.chunks.txt";
    openai_route_gemini_text => Gemini "google-text.json";
    openai_route_gemini_reasoning_stream => Gemini "google-reasoning.chunks.txt";
    openai_route_gemini_reasoning => Gemini "google-reasoning.json";
    openai_route_gemini_reasoning_gemini3_stream => Gemini "google-reasoning-gemini3.chunks.txt";
    openai_route_gemini_tool_call_stream => Gemini "google-tool-call.chunks.txt";
    openai_route_gemini_tool_call => Gemini "google-tool-call.json";
    openai_route_gemini_tool_call_gemini3_stream => Gemini "google-tool-call-gemini3.chunks.txt";
    openai_route_gemini_tool_call_gemini3 => Gemini "google-tool-call-gemini3.json";
    openai_route_gemini_429_error => Gemini "google-429-retry-info.json";

    openai_route_bedrock_text_stream => Bedrock "amazon-bedrock-text.chunks.txt";
    openai_route_bedrock_text => Bedrock "amazon-bedrock-text.json";
    openai_route_bedrock_reasoning_stream => Bedrock "amazon-bedrock-reasoning.chunks.txt";
    openai_route_bedrock_reasoning => Bedrock "amazon-bedrock-reasoning.json";

    openai_route_cohere_text_stream => Cohere "cohere-text.chunks.txt";
    openai_route_cohere_text => Cohere "cohere-text.json";
    openai_route_cohere_reasoning_stream => Cohere "cohere-reasoning.chunks.txt";
    openai_route_cohere_reasoning => Cohere "cohere-reasoning.json";
    openai_route_cohere_parallel_tool_calls_stream => Cohere "cohere-tool-call.chunks.txt";
    openai_route_cohere_parallel_tool_calls => Cohere "cohere-tool-call.json";
    openai_route_cohere_empty_tool_call_stream => Cohere "cohere-empty-tool-call.chunks.txt";
    openai_route_cohere_null_args => Cohere "cohere-null-args.json";
    openai_route_cohere_max_tokens => Cohere "cohere-max-tokens.json";
    openai_route_cohere_citations => Cohere "cohere-citations.json";

    openai_route_openai_text_stream => OpenAi "openai-text.chunks.txt";
    openai_route_openai_text => OpenAi "openai-text.json";
    openai_route_openai_400_error => OpenAi "reasoning-model-legacy-parameter-error.json";

    openai_route_azure_content_filter_stream => Azure "azure-model-router.1.chunks.txt";
}

// The same recordings through the provider's native drop-in route.
corpus! { replay_native:
    native_anthropic_text_stream => Anthropic "anthropic-text.chunks.txt";
    native_anthropic_text => Anthropic "anthropic-text.json";
    native_anthropic_tool_no_args_stream => Anthropic "anthropic-tool-no-args.chunks.txt";
    native_anthropic_tool_no_args => Anthropic "anthropic-tool-no-args.json";
    native_anthropic_thinking_stream => Anthropic "anthropic-clear-thinking.1.chunks.txt";
    native_anthropic_thinking => Anthropic "anthropic-clear-thinking.1.json";
    native_anthropic_json_tool_stream => Anthropic "anthropic-json-tool.1.chunks.txt";
    native_anthropic_web_search_stream => Anthropic "anthropic-web-search-tool.1.chunks.txt";
    native_anthropic_web_search => Anthropic "anthropic-web-search-tool.1.json";
    native_anthropic_code_execution_stream => Anthropic "anthropic-code-execution-20250825.1.chunks.txt";
    native_anthropic_code_execution_prompt_cache_stream => Anthropic "anthropic-code-execution-20260120-prompt-cache.1.chunks.txt";
    native_anthropic_message_delta_input_tokens_stream => Anthropic "anthropic-message-delta-input-tokens.chunks.txt";
    native_anthropic_web_fetch_tool_error_result => Anthropic "anthropic-web-fetch-tool.error.json";

    native_bedrock_text_stream => Bedrock "amazon-bedrock-text.chunks.txt";
    native_bedrock_text => Bedrock "amazon-bedrock-text.json";
    native_bedrock_reasoning_stream => Bedrock "amazon-bedrock-reasoning.chunks.txt";
    native_bedrock_reasoning => Bedrock "amazon-bedrock-reasoning.json";

    native_gemini_text_stream => Gemini "google-text.chunks.txt";
    native_gemini_text => Gemini "google-text.json";
    native_gemini_reasoning_stream => Gemini "google-reasoning.chunks.txt";
    native_gemini_tool_call_stream => Gemini "google-tool-call.chunks.txt";
    native_gemini_tool_call => Gemini "google-tool-call.json";
    native_gemini_429_error => Gemini "google-429-retry-info.json";

    native_cohere_text_stream => Cohere "cohere-text.chunks.txt";
    native_cohere_text => Cohere "cohere-text.json";
    native_cohere_reasoning_stream => Cohere "cohere-reasoning.chunks.txt";
    native_cohere_reasoning => Cohere "cohere-reasoning.json";
    native_cohere_parallel_tool_calls_stream => Cohere "cohere-tool-call.chunks.txt";
    native_cohere_parallel_tool_calls => Cohere "cohere-tool-call.json";
    native_cohere_empty_tool_call_stream => Cohere "cohere-empty-tool-call.chunks.txt";
    native_cohere_null_args => Cohere "cohere-null-args.json";
}
