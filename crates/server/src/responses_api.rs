//! `POST /v1/responses` and the stored-response routes (`GET`/`DELETE /v1/responses/{id}`,
//! `GET /v1/responses/{id}/input_items`), on every OpenAI-style prefix.
//!
//! Why its own handler: a Responses request may continue a stored conversation, so the
//! stored items are read before the request is translated, and the answer is stored before
//! the client learns its id (the final `response.completed` event, or the JSON body) — a
//! client that continues at once always finds it. Translation is `heimdall_dialects::responses`;
//! the engine sees an ordinary chat request, so routing, fallbacks, governance, the cache and
//! the request log all apply unchanged.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use heimdall_config::ProviderKind;
use heimdall_core::{Operation, Outcome};
use heimdall_dialects::openai::ChatCompletions;
use heimdall_dialects::responses::native::{client_body, client_frames};
use heimdall_dialects::responses::{Echo, ResponsesRequest, ResponsesStream, to_chat, to_response};
use heimdall_schema::error::GatewayError;
use heimdall_schema::native::{Dialect, NativeRequest};
use heimdall_store::StoredResponse;
use serde_json::{Value, json};

use crate::body::{body_error, decode_json};
use crate::chat_route::{address_naturally, error, reject};
use crate::headers::{apply_meta_headers, apply_overhead_header};
use crate::responses_store::{self, owner_of};
use crate::state::{AppState, new_context};

/// Names the hosted tools a translated request dropped (`web_search`, …).
const IGNORED_TOOLS: &str = "x-heimdall-ignored-tools";

/// `POST /v1/responses`
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let bytes = match body.map_err(|r| body_error(r, state.body_limit)) {
        Ok(b) => b,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let req: ResponsesRequest = match decode_json(&bytes) {
        Ok(r) => r,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let owner = owner_from(&headers);
    let history = match &req.previous_response_id {
        Some(prev) => match stored_context(&state, prev, &owner).await {
            Ok(items) => items,
            Err(e) => return reject::<ChatCompletions>(&headers, &e),
        },
        None => Vec::new(),
    };
    let translated = match to_chat(&req, &history) {
        Ok(t) => t,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let mut chat = translated.chat;
    address_naturally(&state, None, &mut chat.model);
    // OpenAI and Azure OpenAI take the request as written (models only this API serves,
    // hosted tools, encrypted reasoning); the translation stays for fallbacks elsewhere.
    let natively = [ProviderKind::OpenAi, ProviderKind::Azure];
    if state.gateway.may_reach(&chat.model, &[], &natively)
        && let Ok(raw) = serde_json::from_slice::<Value>(&bytes)
    {
        chat.native = Some(NativeRequest {
            dialect: Dialect::OpenAiResponses,
            body: Arc::new(client_body(raw, &history, &translated.input_items)),
            headers: Vec::new(),
        });
    }
    drop(bytes);
    let ctx = new_context(&headers, Operation::Chat, &chat.model).in_route("responses");
    let created_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let echo = Echo::of(
        &req,
        format!("resp_{}", uuid::Uuid::now_v7().simple()),
        created_at,
    );
    let keep = req.store.unwrap_or(true).then(|| Keep {
        state: state.clone(),
        owner,
        input: translated.input_items,
        history,
    });
    let ignored = translated.ignored.join(",");
    let (mut response, served_by) = match state.gateway.chat(ctx, chat).await {
        Outcome::Done(ctx, Ok(answer)) => {
            let object = match &answer.native {
                Some(upstream) => {
                    let mut object = (**upstream).clone();
                    echo.patch(&mut object);
                    object
                }
                None => to_response(&echo, &answer),
            };
            let mut shown = object.clone();
            echo.client_view(&mut shown);
            let mut response = Json(&shown).into_response();
            if let Some(keep) = keep
                && let Err(e) = keep.store(&object, &shown).await
            {
                tracing::error!(request_id = %ctx.request_id, error = %e, "response not stored");
                response
                    .headers_mut()
                    .insert("x-heimdall-store", HeaderValue::from_static("failed"));
            }
            apply_meta_headers(response.headers_mut(), &ctx);
            apply_overhead_header(response.headers_mut(), &ctx);
            (response, ctx.provider.clone())
        }
        Outcome::Done(ctx, Err(e)) => {
            let mut response = error::<ChatCompletions>(&e);
            apply_meta_headers(response.headers_mut(), &ctx);
            (response, ctx.provider.clone())
        }
        Outcome::Stream(stream) => {
            let ctx = stream.context().clone();
            let model = ctx.requested_model.clone();
            let encoder = ResponsesStream::new(echo.clone(), model);
            let body =
                futures::stream::unfold(Some((stream, encoder, keep, echo)), |st| async move {
                    let (mut stream, mut encoder, mut keep, echo) = st?;
                    let mut out = Vec::with_capacity(1024);
                    match stream.next().await {
                        // The upstream's own events (OpenAI, Azure): forwarded, the final
                        // response stored before its event goes out.
                        Some(Ok(mut chunk)) if chunk.native.is_some() => {
                            let frames = chunk.native.take().unwrap_or_default();
                            let (text, last) = client_frames(&frames, |o| echo.patch(o));
                            if let Some(object) = last
                                && let Some(k) = keep.take()
                                && let Err(e) = k.store(&object, &object).await
                            {
                                tracing::error!(request_id = %stream.context().request_id,
                                    error = %e, "response not stored");
                            }
                            Some((
                                Ok::<Bytes, Infallible>(Bytes::from(text)),
                                Some((stream, encoder, keep, echo)),
                            ))
                        }
                        Some(Ok(chunk)) => {
                            encoder.chunk(chunk, &mut out);
                            Some((
                                Ok::<Bytes, Infallible>(out.into()),
                                Some((stream, encoder, keep, echo)),
                            ))
                        }
                        Some(Err(e)) => {
                            tracing::warn!(request_id = %stream.context().request_id, error = %e,
                                "stream failed after start");
                            if encoder.is_idle() {
                                // The upstream's own events went out: end them with the error.
                                encoder.error_event(&e, &mut out);
                            } else {
                                encoder.fail(&e, &mut out);
                            }
                            drop(stream);
                            Some((Ok(out.into()), None))
                        }
                        // A forwarded stream ended with its own final event.
                        None if encoder.is_idle() => {
                            drop(stream);
                            None
                        }
                        None => {
                            let object = encoder.finish(&mut out);
                            let mut shown = object.clone();
                            echo.client_view(&mut shown);
                            if let Some(keep) = keep
                                && let Err(e) = keep.store(&object, &shown).await
                            {
                                tracing::error!(request_id = %stream.context().request_id,
                                    error = %e, "response not stored");
                            }
                            encoder.completed(&object, &mut out);
                            drop(stream);
                            Some((Ok(out.into()), None))
                        }
                    }
                });
            let mut response = Response::new(Body::from_stream(body));
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            apply_meta_headers(h, &ctx);
            (response, ctx.provider.clone())
        }
    };
    // A provider that took the request as written runs the hosted tools itself.
    let served_as_written = served_by
        .and_then(|p| {
            let rt = state.gateway.runtime();
            rt.providers.get(&p).map(|e| e.config.kind)
        })
        .is_some_and(|k| natively.contains(&k));
    if !ignored.is_empty()
        && !served_as_written
        && let Ok(v) = HeaderValue::from_str(&ignored)
    {
        response.headers_mut().insert(IGNORED_TOOLS, v);
    }
    response
}

/// `POST /v1/responses/input_tokens`: the input tokens a Responses request would send (its
/// stored history included), counted with OpenAI's `o200k_base` tokenizer and the
/// gateway's per-message framing — exact for OpenAI's current models, an estimate for others.
/// No provider is called.
pub async fn input_tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req: ResponsesRequest = match body
        .map_err(|r| body_error(r, state.body_limit))
        .and_then(|b| decode_json(&b))
    {
        Ok(r) => r,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let history = match &req.previous_response_id {
        Some(prev) => match stored_context(&state, prev, &owner_from(&headers)).await {
            Ok(items) => items,
            Err(e) => return reject::<ChatCompletions>(&headers, &e),
        },
        None => Vec::new(),
    };
    match to_chat(&req, &history) {
        Ok(t) => {
            let estimate = heimdall_governance::estimate::estimate(
                &heimdall_core::GatewayRequest::Chat(t.chat),
            );
            Json(json!({"object": "response.input_tokens", "input_tokens": estimate.prompt_tokens}))
                .into_response()
        }
        Err(e) => reject::<ChatCompletions>(&headers, &e),
    }
}

/// What storing an answer needs: the conversation before it and the request's own input.
struct Keep {
    state: AppState,
    owner: String,
    input: Vec<Value>,
    history: Vec<Value>,
}

impl Keep {
    /// Store the answer under its id: the client's view of it (`shown`, what `GET` returns)
    /// and, from the whole `object`, the conversation up to and including it (signed
    /// reasoning kept, so the next turn can send it back).
    async fn store(self, object: &Value, shown: &Value) -> Result<(), String> {
        let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
        let output = object
            .get("output")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut context = self.history;
        context.extend(self.input.iter().cloned());
        context.extend(output);
        let created_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let record = StoredResponse {
            id: id.to_owned(),
            owner: self.owner,
            created_at_ms,
            input: Value::Array(self.input).to_string(),
            context: Value::Array(context).to_string(),
            response: shown.to_string(),
        };
        responses_store::put(&self.state, record).await
    }
}

/// The stored conversation a `previous_response_id` names.
async fn stored_context(
    state: &AppState,
    id: &str,
    owner: &str,
) -> Result<Vec<Value>, GatewayError> {
    let stored = load(state, id, owner).await?;
    serde_json::from_str(&stored.context).map_err(|e| {
        GatewayError::internal(format!("stored response {id} is unreadable: {e}"))
            .with_code("stored_response_unreadable")
    })
}

async fn load(state: &AppState, id: &str, owner: &str) -> Result<StoredResponse, GatewayError> {
    match responses_store::get(state, id, owner).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(not_found(id)),
        Err(e) => Err(GatewayError::new(
            heimdall_schema::error::ErrorKind::Internal,
            format!("stored responses are not readable: {e}"),
        )
        .with_status(503)
        .with_code("store_unavailable")),
    }
}

/// OpenAI's answer for an unknown (or another tenant's) response id.
fn not_found(id: &str) -> GatewayError {
    GatewayError::invalid_request(
        format!("Response with id '{id}' not found."),
        Some("previous_response_id".to_owned()),
    )
    .with_status(404)
    .with_code("not_found")
}

/// The owner of what this caller stores (see [`owner_of`]).
fn owner_from(headers: &HeaderMap) -> String {
    owner_of(crate::state::credential_of(headers).as_ref())
}

/// `GET /v1/responses/{id}`
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match load(&state, &id, &owner_from(&headers)).await {
        Ok(stored) => json_text(StatusCode::OK, stored.response),
        Err(e) => error::<ChatCompletions>(&without_param(e)),
    }
}

/// `DELETE /v1/responses/{id}`
pub async fn delete_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match responses_store::delete(&state, &id, &owner_from(&headers)).await {
        Ok(true) => Json(json!({"id": id, "object": "response", "deleted": true})).into_response(),
        Ok(false) => error::<ChatCompletions>(&without_param(not_found(&id))),
        Err(e) => error::<ChatCompletions>(
            &GatewayError::internal(format!("stored responses are not writable: {e}"))
                .with_status(503)
                .with_code("store_unavailable"),
        ),
    }
}

/// Paging of `GET /v1/responses/{id}/input_items`.
#[derive(Debug, serde::Deserialize)]
pub struct ItemsQuery {
    /// `asc` or `desc` (default, newest first).
    #[serde(default)]
    order: Option<String>,
    /// 1 to 100 (default 20).
    #[serde(default)]
    limit: Option<usize>,
    /// An item id to start after.
    #[serde(default)]
    after: Option<String>,
}

/// `GET /v1/responses/{id}/input_items`
pub async fn input_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ItemsQuery>,
    headers: HeaderMap,
) -> Response {
    let stored = match load(&state, &id, &owner_from(&headers)).await {
        Ok(s) => s,
        Err(e) => return error::<ChatCompletions>(&without_param(e)),
    };
    let mut items: Vec<Value> = serde_json::from_str(&stored.input).unwrap_or_default();
    for (i, item) in items.iter_mut().enumerate() {
        if let Some(o) = item.as_object_mut()
            && !o.contains_key("id")
        {
            let suffix = id.strip_prefix("resp_").unwrap_or(&id);
            o.insert("id".to_owned(), json!(format!("msg_{suffix}in{i:02}")));
        }
    }
    if q.order.as_deref() != Some("asc") {
        items.reverse();
    }
    if let Some(after) = &q.after
        && let Some(pos) = items
            .iter()
            .position(|i| i.get("id").and_then(Value::as_str) == Some(after.as_str()))
    {
        items.drain(..=pos);
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let has_more = items.len() > limit;
    items.truncate(limit);
    let id_of = |i: Option<&Value>| i.and_then(|v| v.get("id")).cloned().unwrap_or(Value::Null);
    Json(json!({
        "object": "list",
        "first_id": id_of(items.first()),
        "last_id": id_of(items.last()),
        "has_more": has_more,
        "data": items,
    }))
    .into_response()
}

fn without_param(mut e: GatewayError) -> GatewayError {
    e.param = None;
    e
}

fn json_text(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
