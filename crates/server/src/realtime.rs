//! The OpenAI Realtime API: `GET /v1/realtime?model=…` (a WebSocket piped to the provider's),
//! `POST /v1/realtime/sessions` and `POST /v1/realtime/client_secrets` (proxied with the
//! gateway's provider key).
//!
//! Why the upstream is opened before the client's upgrade is accepted: a refusal (governance,
//! routing, the upstream's own 401/404/429) is then an HTTP answer in OpenAI's error shape,
//! which SDKs report as such, instead of a WebSocket that opens and closes at once. After the
//! upgrade every message is forwarded as it arrives, both ways, with no buffering; either side
//! closing closes the other. Server events are read on the way (usage from `response.done`)
//! so the session is logged, priced and settled by the same plugin hooks as a stream.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use heimdall_core::realtime::{RealtimeAdmission, RealtimeSocket};
use heimdall_core::{Operation, StreamSummary};
use heimdall_dialects::realtime::RealtimeTally;
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::usage::Usage;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message as Upstream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as UpstreamClose;

use crate::body::{body_error, decode_json};
use crate::headers::apply_meta_headers;
use crate::openai::reject;
use crate::state::{AppState, new_context};

/// The query of `GET /v1/realtime`.
#[derive(Debug, Deserialize)]
pub struct RealtimeQuery {
    /// The model (`provider/model`, or bare as chat routing takes it).
    model: Option<String>,
    /// Joining an existing WebRTC/SIP call: not something a gateway in the middle can do.
    call_id: Option<String>,
}

/// `GET /v1/realtime?model=…`: the Realtime WebSocket.
pub async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<RealtimeQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(r) => {
            let e = GatewayError::invalid_request(
                format!("the Realtime API is a WebSocket: {}", r.body_text()),
                None,
            )
            .with_status(r.status().as_u16());
            return reject(&headers, e);
        }
    };
    let query = match query {
        Ok(Query(q)) => q,
        Err(r) => return reject(&headers, GatewayError::invalid_request(r.body_text(), None)),
    };
    if query.call_id.is_some() {
        let e = GatewayError::invalid_request(
            "joining a call (call_id) is not supported through the gateway",
            Some("call_id".into()),
        );
        return reject(&headers, e);
    }
    let Some(model) = query.model.filter(|m| !m.trim().is_empty()) else {
        let e = GatewayError::invalid_request(
            "the Realtime API needs ?model=… (provider/model)",
            Some("model".into()),
        );
        return reject(&headers, e);
    };
    let mut ctx = new_context(&headers, Operation::Realtime, &model);
    ctx.stream = true;
    let mut admission = match state.gateway.realtime_admit(ctx).await {
        Ok(a) => a,
        Err(refused) => {
            let (ctx, e) = *refused;
            let e = state.gateway.realtime_refused(ctx, e).await;
            return reject(&headers, e);
        }
    };
    let beta = headers
        .get("openai-beta")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let upstream = match admission.connect(beta.as_deref()).await {
        Ok(s) => s,
        Err(e) => {
            let e = admission.fail(e).await;
            return reject(&headers, e);
        }
    };
    // Browsers offer `realtime` (plus credential subprotocols): select it, or they give up.
    let offers_realtime = upgrade
        .requested_protocols()
        .any(|p| p.as_bytes() == b"realtime");
    let upgrade = if offers_realtime {
        upgrade.protocols(["realtime"])
    } else {
        upgrade
    };
    let mut ctx_headers = HeaderMap::new();
    apply_meta_headers(&mut ctx_headers, admission.context());
    let mut response = upgrade.on_upgrade(move |client| pipe(client, upstream, admission));
    response.headers_mut().extend(ctx_headers);
    response
}

/// How a piped session ended.
#[derive(Default)]
struct Ending {
    error: Option<GatewayError>,
    client_gone: bool,
}

/// Forward messages both ways until either side closes, then end the request with the
/// session's summary.
async fn pipe(client: WebSocket, upstream: RealtimeSocket, admission: RealtimeAdmission) {
    let started = admission.context().received_at;
    let (mut to_client, mut from_client) = client.split();
    let (mut to_upstream, mut from_upstream) = upstream.split();
    let mut tally = RealtimeTally::default();
    let mut messages = 0u64;
    let mut first: Option<std::time::Duration> = None;
    let mut ending = Ending::default();
    loop {
        tokio::select! {
            incoming = from_client.next() => match incoming {
                Some(Ok(Message::Close(frame))) => {
                    let _ = to_upstream.send(Upstream::Close(frame.map(close_upstream))).await;
                    break;
                }
                Some(Ok(message)) => {
                    let Some(message) = to_upstream_message(message) else { continue };
                    if let Err(e) = to_upstream.send(message).await {
                        ending.error = Some(upstream_failure(&admission, &e.to_string()));
                        let _ = to_client.send(Message::Close(Some(going_away(1011)))).await;
                        break;
                    }
                }
                Some(Err(_)) | None => {
                    ending.client_gone = true;
                    let _ = to_upstream.send(Upstream::Close(None)).await;
                    break;
                }
            },
            outgoing = from_upstream.next() => match outgoing {
                Some(Ok(Upstream::Close(frame))) => {
                    let _ = to_client.send(Message::Close(frame.map(close_client))).await;
                    break;
                }
                Some(Ok(message)) => {
                    messages += 1;
                    first.get_or_insert_with(|| started.elapsed());
                    if let Upstream::Text(text) = &message {
                        tally.observe(text.as_str(), heimdall_core::plugin::OUTPUT_CAP);
                    }
                    let Some(message) = to_client_message(message) else { continue };
                    if to_client.send(message).await.is_err() {
                        ending.client_gone = true;
                        let _ = to_upstream.send(Upstream::Close(None)).await;
                        break;
                    }
                }
                Some(Err(e)) => {
                    ending.error = Some(upstream_failure(&admission, &e.to_string()));
                    let _ = to_client.send(Message::Close(Some(going_away(1011)))).await;
                    break;
                }
                None => {
                    ending.error = Some(upstream_failure(&admission, "the connection ended without a close frame"));
                    let _ = to_client.send(Message::Close(Some(going_away(1011)))).await;
                    break;
                }
            },
        }
    }
    let _ = to_upstream.close().await;
    let _ = to_client.close().await;
    let summary = StreamSummary {
        chunks: messages,
        usage: tally.usage,
        finish_reason: tally.last_status,
        completed: ending.error.is_none() && !ending.client_gone,
        client_disconnected: ending.client_gone,
        error: ending.error,
        time_to_first_chunk: first,
        duration: started.elapsed(),
        output: tally.output,
        output_truncated: tally.output_truncated,
    };
    admission.finish(&summary);
}

fn upstream_failure(admission: &RealtimeAdmission, what: &str) -> GatewayError {
    let provider = admission.context().provider.clone().unwrap_or_default();
    GatewayError::new(
        ErrorKind::UpstreamStreamError,
        format!("provider '{provider}': the realtime session failed: {what}"),
    )
    .with_provider(provider)
}

fn going_away(code: u16) -> CloseFrame {
    CloseFrame {
        code,
        reason: "upstream realtime session failed".into(),
    }
}

fn close_upstream(f: CloseFrame) -> UpstreamClose {
    UpstreamClose {
        code: f.code.into(),
        reason: f.reason.as_str().into(),
    }
}

fn close_client(f: UpstreamClose) -> CloseFrame {
    CloseFrame {
        code: f.code.into(),
        reason: f.reason.as_str().into(),
    }
}

/// A client message for the upstream; pings and pongs stay on their own hop (each side of the
/// gateway answers its peer's pings itself).
fn to_upstream_message(m: Message) -> Option<Upstream> {
    match m {
        Message::Text(t) => {
            let bytes: Bytes = t.into();
            tokio_tungstenite::tungstenite::Utf8Bytes::try_from(bytes)
                .ok()
                .map(Upstream::Text)
        }
        Message::Binary(b) => Some(Upstream::Binary(b)),
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => None,
    }
}

/// An upstream message for the client (see [`to_upstream_message`]).
fn to_client_message(m: Upstream) -> Option<Message> {
    match m {
        Upstream::Text(t) => {
            let bytes: Bytes = t.into();
            axum::extract::ws::Utf8Bytes::try_from(bytes)
                .ok()
                .map(Message::Text)
        }
        Upstream::Binary(b) => Some(Message::Binary(b)),
        Upstream::Ping(_) | Upstream::Pong(_) | Upstream::Close(_) | Upstream::Frame(_) => None,
    }
}

/// Where a session endpoint's body names the model.
#[derive(Clone, Copy)]
enum ModelAt {
    /// `{"model": …}` (`/realtime/sessions`).
    Top,
    /// `{"session": {"model": …}}` (`/realtime/client_secrets`).
    Session,
}

/// `POST /v1/realtime/sessions` (the beta's ephemeral-key sessions).
pub async fn create_session(
    state: State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    session_endpoint(state, headers, body, "/realtime/sessions", ModelAt::Top).await
}

/// `POST /v1/realtime/client_secrets` (the GA API's ephemeral client secrets).
pub async fn create_client_secret(
    state: State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    session_endpoint(
        state,
        headers,
        body,
        "/realtime/client_secrets",
        ModelAt::Session,
    )
    .await
}

async fn session_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    path: &'static str,
    at: ModelAt,
) -> Response {
    let mut doc: serde_json::Map<String, serde_json::Value> = match body
        .map_err(|r| body_error(r, state.body_limit))
        .and_then(|b| decode_json(&b))
    {
        Ok(d) => d,
        Err(e) => return reject(&headers, e),
    };
    let Some(model) = model_slot(&mut doc, at)
        .and_then(|m| m.as_str())
        .filter(|m| !m.trim().is_empty())
        .map(str::to_owned)
    else {
        let param = match at {
            ModelAt::Top => "model",
            ModelAt::Session => "session.model",
        };
        let e = GatewayError::invalid_request(
            format!("{param} is required to route the session (provider/model)"),
            Some(param.into()),
        );
        return reject(&headers, e);
    };
    let ctx = new_context(&headers, Operation::Realtime, &model);
    let mut admission = match state.gateway.realtime_admit(ctx).await {
        Ok(a) => a,
        Err(refused) => {
            let (ctx, e) = *refused;
            let e = state.gateway.realtime_refused(ctx, e).await;
            return reject(&headers, e);
        }
    };
    if let Some(slot) = model_slot(&mut doc, at) {
        *slot = serde_json::Value::from(admission.upstream_model());
    }
    let upstream_body = match serde_json::to_vec(&doc) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            let e = GatewayError::internal(format!("cannot re-encode the body: {e}"));
            return reject(&headers, admission.fail(e).await);
        }
    };
    let started = Instant::now();
    match admission.post(path, upstream_body).await {
        Ok(answer) => {
            let mut response = (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                answer,
            )
                .into_response();
            apply_meta_headers(response.headers_mut(), admission.context());
            let received = admission.context().received_at;
            admission.finish(&StreamSummary {
                usage: Some(Usage::default()),
                completed: true,
                time_to_first_chunk: Some(started.duration_since(received)),
                duration: received.elapsed(),
                ..StreamSummary::default()
            });
            response
        }
        Err(e) => reject(&headers, admission.fail(e).await),
    }
}

/// The body's model field for `at`, when it has one.
fn model_slot(
    doc: &mut serde_json::Map<String, serde_json::Value>,
    at: ModelAt,
) -> Option<&mut serde_json::Value> {
    match at {
        ModelAt::Top => doc.get_mut("model"),
        ModelAt::Session => doc.get_mut("session")?.as_object_mut()?.get_mut("model"),
    }
}
