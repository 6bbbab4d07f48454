//! The Realtime API face: the WebSocket at `/v1/realtime?model=…` and the session endpoints
//! (`POST /v1/realtime/sessions`, `POST /v1/realtime/client_secrets`), also under Azure's
//! `/openai/v1`.
//!
//! Why a conversation and not an echo: the gateway reads server events for accounting, and
//! SDK tests wait for specific events, so the mock follows the protocol's order — on connect
//! `session.created`; `session.update` → `session.updated`; `conversation.item.create` → the
//! item event; `response.create` → `response.created`, text deltas (one per content piece,
//! `chunk_delay_ms` apart), `…text.done`, `response.done` with usage. A client that sent
//! `OpenAI-Beta: realtime=v1` gets the beta's event names (`response.text.delta`,
//! `conversation.item.created`), others the GA names. Knobs: the model suffix and `x-mock-*`
//! headers as everywhere (`latency_ms`, failures refuse the handshake with their status;
//! `chunks`; `cut_after` drops the socket after N deltas without a close frame; `error_after`
//! sends an `error` event after N deltas).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::handlers::{begin, credential, error, now, record};
use crate::knobs::Knobs;
use crate::payloads::content_pieces;

/// `?model=…` of the WebSocket.
#[derive(Deserialize)]
pub struct ConnectQuery {
    #[serde(default)]
    model: Option<String>,
}

/// `GET /v1/realtime?model=…`
pub async fn connect(
    State(s): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(q): Query<ConnectQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    s.served.fetch_add(1, Ordering::Relaxed);
    record(&s, &Method::GET, &uri, &headers, &Bytes::new());
    let full = q.model.unwrap_or_default();
    let mut knobs = Knobs::from_config(&s.config);
    if let Err(e) = knobs.apply_headers(&headers) {
        return error(400, &e);
    }
    let model = match knobs.apply_model_suffix(&full) {
        Ok(m) if !m.is_empty() => m.to_owned(),
        Ok(_) => return error(400, "model is required"),
        Err(e) => return error(400, &e),
    };
    let bearer = credential(&headers).to_owned();
    if bearer.is_empty() {
        return error(401, "missing bearer token");
    }
    if let Some(refused) = crate::handlers::before_answer(&s, &knobs, &full, true, &bearer).await {
        return refused;
    }
    let beta = headers
        .get("openai-beta")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("realtime=v1"));
    let id = s.ids.fetch_add(1, Ordering::Relaxed);
    upgrade.on_upgrade(move |socket| {
        Session {
            model,
            knobs,
            beta,
            id,
            events: 0,
        }
        .run(socket)
    })
}

/// One mock session's state.
struct Session {
    model: String,
    knobs: Knobs,
    beta: bool,
    id: u64,
    events: u64,
}

/// The session's end: the client left, or a knob cut the socket.
struct Gone;

impl Session {
    fn session_object(&self) -> Value {
        json!({
            "id": format!("sess_mock_{}", self.id),
            "object": "realtime.session",
            "type": "realtime",
            "model": self.model,
            "output_modalities": ["text"],
            "instructions": "",
        })
    }

    async fn send(&mut self, socket: &mut WebSocket, mut event: Value) -> Result<(), Gone> {
        self.events += 1;
        if let Some(obj) = event.as_object_mut() {
            obj.insert(
                "event_id".to_owned(),
                Value::from(format!("event_mock_{}_{}", self.id, self.events)),
            );
        }
        socket
            .send(Message::Text(event.to_string().into()))
            .await
            .map_err(|_| Gone)
    }

    async fn run(mut self, mut socket: WebSocket) {
        let created = json!({"type": "session.created", "session": self.session_object()});
        if self.send(&mut socket, created).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            let text = match message {
                Message::Text(t) => t,
                Message::Close(_) => return,
                _ => continue,
            };
            let event: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
            if self.answer(&mut socket, &event).await.is_err() {
                return;
            }
        }
    }

    async fn answer(&mut self, socket: &mut WebSocket, event: &Value) -> Result<(), Gone> {
        match event.get("type").and_then(Value::as_str).unwrap_or("") {
            "session.update" => {
                let mut session = self.session_object();
                if let (Some(target), Some(update)) = (
                    session.as_object_mut(),
                    event.get("session").and_then(Value::as_object),
                ) {
                    for (k, v) in update {
                        if k != "model" {
                            target.insert(k.clone(), v.clone());
                        }
                    }
                }
                let updated = json!({"type": "session.updated", "session": session});
                self.send(socket, updated).await
            }
            "conversation.item.create" => {
                let kind = if self.beta {
                    "conversation.item.created"
                } else {
                    "conversation.item.added"
                };
                let mut item = event.get("item").cloned().unwrap_or_else(|| json!({}));
                if let Some(obj) = item.as_object_mut() {
                    obj.entry("id")
                        .or_insert_with(|| Value::from(format!("item_mock_{}", self.events)));
                }
                self.send(
                    socket,
                    json!({"type": kind, "previous_item_id": null, "item": item}),
                )
                .await
            }
            "response.create" => self.respond(socket).await,
            other => {
                let e = json!({"type": "error", "error": {
                    "type": "invalid_request_error",
                    "code": "unknown_event",
                    "message": format!("the mock does not handle '{other}'"),
                }});
                self.send(socket, e).await
            }
        }
    }

    async fn respond(&mut self, socket: &mut WebSocket) -> Result<(), Gone> {
        let response_id = format!("resp_mock_{}_{}", self.id, self.events);
        let item_id = format!("item_mock_{}_{}", self.id, self.events);
        let response = |status: &str, usage: Value| {
            json!({
                "id": response_id, "object": "realtime.response", "status": status,
                "output": [], "usage": usage,
            })
        };
        let created =
            json!({"type": "response.created", "response": response("in_progress", Value::Null)});
        self.send(socket, created).await?;
        let (delta, done) = if self.beta {
            ("response.text.delta", "response.text.done")
        } else {
            ("response.output_text.delta", "response.output_text.done")
        };
        let pieces = content_pieces(self.knobs.chunks);
        for (i, piece) in pieces.iter().enumerate() {
            if self.knobs.cut_after == Some(i) {
                // Drop the socket without a close frame, as a crashed upstream does.
                return Err(Gone);
            }
            if self.knobs.error_after == Some(i) {
                let e = json!({"type": "error", "error": {
                    "type": "server_error", "code": null, "message": "mock in-session error",
                }});
                self.send(socket, e).await?;
            }
            if self.knobs.chunk_delay_ms > 0 && i > 0 {
                tokio::time::sleep(Duration::from_millis(self.knobs.chunk_delay_ms)).await;
            }
            let d = json!({
                "type": delta, "response_id": response_id, "item_id": item_id,
                "output_index": 0, "content_index": 0, "delta": piece,
            });
            self.send(socket, d).await?;
        }
        let text: String = pieces.concat();
        let output_tokens = pieces.len() as u64;
        let d = json!({
            "type": done, "response_id": response_id, "item_id": item_id,
            "output_index": 0, "content_index": 0, "text": text,
        });
        self.send(socket, d).await?;
        let usage = json!({
            "total_tokens": 12 + output_tokens, "input_tokens": 12, "output_tokens": output_tokens,
            "input_token_details": {"cached_tokens": 0, "text_tokens": 12, "audio_tokens": 0},
            "output_token_details": {"text_tokens": output_tokens, "audio_tokens": 0},
        });
        let done = json!({"type": "response.done", "response": response("completed", usage)});
        self.send(socket, done).await
    }
}

#[derive(Deserialize)]
struct SessionIn {
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
struct ClientSecretIn {
    #[serde(default)]
    session: Option<SessionIn>,
}

/// `POST /v1/realtime/sessions`: a beta session with its ephemeral key.
pub async fn sessions(
    State(s): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&Method::POST, &uri, &headers, &body);
    let model_of = |b: &SessionIn| b.model.clone().unwrap_or_default();
    let (_, model, _) = match begin::<SessionIn>(&s, request, model_of, |_| false).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = s.ids.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "id": format!("sess_mock_{id}"),
        "object": "realtime.session",
        "model": model,
        "modalities": ["audio", "text"],
        "client_secret": {"value": format!("ek_mock_{id}"), "expires_at": now() + 60},
    }))
    .into_response()
}

/// `POST /v1/realtime/client_secrets`: a GA client secret and the session it is for.
pub async fn client_secrets(
    State(s): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&Method::POST, &uri, &headers, &body);
    let model_of = |b: &ClientSecretIn| {
        b.session
            .as_ref()
            .and_then(|s| s.model.clone())
            .unwrap_or_default()
    };
    let (_, model, _) = match begin::<ClientSecretIn>(&s, request, model_of, |_| false).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = s.ids.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "value": format!("ek_mock_{id}"),
        "expires_at": now() + 600,
        "session": {
            "id": format!("sess_mock_{id}"),
            "object": "realtime.session",
            "type": "realtime",
            "model": model,
            "output_modalities": ["audio"],
        },
    }))
    .into_response()
}
