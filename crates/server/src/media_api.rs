//! Audio, images and rerank: `POST /v1/audio/speech`, `/v1/audio/transcriptions`,
//! `/v1/audio/translations`, `/v1/images/generations`, `/v1/images/edits`, `/v1/rerank`, and
//! Cohere's `/cohere/v2/rerank`.
//!
//! Each handler reads and checks the request (JSON, or a `multipart/form-data` upload read
//! whole within `client.max_upload_size_mb`), hands it to the engine's one whole-answer path
//! (`Gateway::unary`: routing, keys, retries, fallbacks, deadlines and plugins as for
//! embeddings), and renders the answer: audio and transcriptions as the upstream's bytes and
//! content type, images and rerank as JSON, errors in OpenAI's shape (Cohere's on `/cohere`).
//!
//! Why uploads are read whole before routing: a retry or a fallback sends the same form again,
//! and the size limit must answer 413 before any provider is paid.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use heimdall_config::ProviderKind;
use heimdall_core::{
    GatewayRequest, GatewayResponse, ObservedStream, Operation, Outcome, RequestContext,
};
use heimdall_dialects::client::ClientDialect;
use heimdall_dialects::cohere::client::Chat as CohereChat;
use heimdall_dialects::openai::ChatCompletions;
use heimdall_schema::audio::AudioChunk;
use heimdall_schema::audio::SpeechRequest;
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::form::FormRequest;
use heimdall_schema::images::ImageGenerationRequest;
use heimdall_schema::rerank::RerankRequest;

use crate::body::{body_error, decode_json};
use crate::headers::{apply_meta_headers, apply_overhead_header};
use crate::state::{AppState, new_context};

/// The `response_format`s a transcription may ask for (`diarized_json` for the diarizing
/// model); a translation takes the first five.
const TRANSCRIPTION_FORMATS: [&str; 6] = [
    "json",
    "text",
    "srt",
    "verbose_json",
    "vtt",
    "diarized_json",
];

/// `POST /v1/audio/speech`
pub async fn speech(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req: SpeechRequest = match json_body(&state, body).and_then(|r: SpeechRequest| {
        r.validate()?;
        Ok(r)
    }) {
        Ok(r) => r,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let ctx = new_context(&headers, Operation::Speech, &req.model);
    match state.gateway.speech(ctx, req).await {
        Outcome::Done(ctx, result) => {
            let mut response = match result.map(GatewayResponse::Binary).and_then(render) {
                Ok(r) => r,
                Err(e) => crate::chat_route::error::<ChatCompletions>(&e),
            };
            apply_meta_headers(response.headers_mut(), &ctx);
            apply_overhead_header(response.headers_mut(), &ctx);
            response
        }
        Outcome::Stream(stream) => audio_response(stream).await,
    }
}

/// Streamed speech: the upstream's bytes as they arrive, under the content type its first
/// chunk names. A failure after the start ends the body abruptly (no clean end of the
/// chunked body), so a client never takes cut audio for a whole file.
async fn audio_response(mut stream: ObservedStream<AudioChunk>) -> Response {
    let ctx = stream.context().clone();
    let first = stream.next().await;
    let content_type = match &first {
        Some(Ok(c)) => c.content_type.clone(),
        _ => None,
    }
    .and_then(|ct| HeaderValue::from_str(&ct).ok())
    .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let rest = futures::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.next().await {
            Some(Ok(chunk)) => Some((Ok(chunk.bytes), Some(stream))),
            Some(Err(e)) => {
                tracing::warn!(request_id = %stream.context().request_id, error = %e,
                    "speech stream failed after start");
                drop(stream);
                Some((Err(std::io::Error::other(e.message)), None))
            }
            None => None,
        }
    });
    let head = futures::stream::iter(first.map(|r| {
        r.map(|c| c.bytes)
            .map_err(|e| std::io::Error::other(e.message))
    }));
    let mut response = Response::new(Body::from_stream(head.chain(rest)));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    apply_meta_headers(h, &ctx);
    response
}

/// `POST /v1/audio/transcriptions`
pub async fn transcriptions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let req = match form_body(&state, &headers, body).await.and_then(|f| {
        check_audio_form(&f, &TRANSCRIPTION_FORMATS)?;
        Ok(f)
    }) {
        Ok(f) => f,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let ctx = new_context(&headers, Operation::Transcription, &req.model);
    run::<ChatCompletions>(&state, ctx, GatewayRequest::Transcription(req)).await
}

/// `POST /v1/audio/translations`
pub async fn translations(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let req = match form_body(&state, &headers, body).await.and_then(|f| {
        check_audio_form(&f, &TRANSCRIPTION_FORMATS[..5])?;
        Ok(f)
    }) {
        Ok(f) => f,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let ctx = new_context(&headers, Operation::Translation, &req.model);
    run::<ChatCompletions>(&state, ctx, GatewayRequest::Translation(req)).await
}

/// `POST /v1/images/generations`
pub async fn image_generations(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req: ImageGenerationRequest =
        match json_body(&state, body).and_then(|r: ImageGenerationRequest| {
            r.validate()?;
            Ok(r)
        }) {
            Ok(r) => r,
            Err(e) => return reject::<ChatCompletions>(&headers, &e),
        };
    let ctx = new_context(&headers, Operation::ImageGeneration, &req.model);
    run::<ChatCompletions>(&state, ctx, GatewayRequest::ImageGeneration(req)).await
}

/// `POST /v1/images/edits`
pub async fn image_edits(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let req = match form_body(&state, &headers, body).await.and_then(|f| {
        f.require_file("image", &["image", "image[]"])?;
        f.require_field("prompt")?;
        Ok(f)
    }) {
        Ok(f) => f,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let ctx = new_context(&headers, Operation::ImageEdit, &req.model);
    run::<ChatCompletions>(&state, ctx, GatewayRequest::ImageEdit(req)).await
}

/// `POST /v1/rerank`
pub async fn rerank(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req = match rerank_request(&state, body) {
        Ok(r) => r,
        Err(e) => return reject::<ChatCompletions>(&headers, &e),
    };
    let ctx = new_context(&headers, Operation::Rerank, &req.model);
    run::<ChatCompletions>(&state, ctx, GatewayRequest::Rerank(req)).await
}

/// `POST /cohere/v2/rerank` (the Cohere SDK's `client.v2.rerank`): a bare model name goes to
/// the Cohere provider when one has it; errors in Cohere's shape.
pub async fn cohere_rerank(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut req = match rerank_request(&state, body) {
        Ok(r) => r,
        Err(e) => return reject::<CohereChat>(&headers, &e),
    };
    crate::chat_route::address_naturally(&state, Some(ProviderKind::Cohere), &mut req.model);
    let mut ctx = new_context(&headers, Operation::Rerank, &req.model);
    if let Some(route) = CohereChat::ROUTE {
        ctx = ctx.in_route(route);
    }
    run::<CohereChat>(&state, ctx, GatewayRequest::Rerank(req)).await
}

fn rerank_request(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<RerankRequest, GatewayError> {
    let req: RerankRequest = json_body(state, body)?;
    req.validate()?;
    Ok(req)
}

/// The file, and a known `response_format` when one is given.
fn check_audio_form(form: &FormRequest, formats: &[&str]) -> Result<(), GatewayError> {
    form.require_file("file", &["file"])?;
    match form.field("response_format") {
        Some(f) if !formats.contains(&f.trim()) => Err(GatewayError::invalid_request(
            format!("response_format must be one of {formats:?}, got '{f}'"),
            Some("response_format".into()),
        )),
        _ => Ok(()),
    }
}

fn json_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, GatewayError> {
    let bytes = body.map_err(|r| body_error(r, state.body_limit))?;
    decode_json(&bytes)
}

/// The largest upload the live configuration accepts, in bytes.
fn upload_limit(state: &AppState) -> usize {
    let mb = state.gateway.runtime().config.client.max_upload_size_mb;
    usize::try_from(mb)
        .unwrap_or(usize::MAX)
        .saturating_mul(1024 * 1024)
}

/// Read a `multipart/form-data` upload whole (413 past the limit) and parse it.
async fn form_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<FormRequest, GatewayError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Refuse a body that is not a form before reading it.
    heimdall_dialects::multipart::boundary(content_type)?;
    let limit = upload_limit(state);
    let bytes = read_upload(body, limit).await?;
    heimdall_dialects::multipart::parse_request(content_type, &bytes)
}

/// Read an upload of at most `limit` bytes. One that is larger is still read (and dropped)
/// up to [`DRAIN_ALLOWANCE`] past the limit before the 413, so the client, still sending,
/// reads the answer instead of a reset connection; past that the connection is given up.
async fn read_upload(body: Body, limit: usize) -> Result<Bytes, GatewayError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            GatewayError::invalid_request(format!("could not read request body: {e}"), None)
        })?;
        total = total.saturating_add(chunk.len());
        if total <= limit {
            kept.extend_from_slice(&chunk);
        } else {
            kept = Vec::new();
            if total > limit.saturating_add(crate::ingress::DRAIN_ALLOWANCE) {
                break;
            }
        }
    }
    if total > limit {
        return Err(GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!(
                "upload is larger than the limit of {limit} bytes ({} MB; client.max_upload_size_mb)",
                limit / (1024 * 1024)
            ),
        ));
    }
    Ok(Bytes::from(kept))
}

/// Through the engine, rendered for a client of dialect `D`.
async fn run<D: ClientDialect>(
    state: &AppState,
    ctx: RequestContext,
    req: GatewayRequest,
) -> Response {
    let (ctx, result) = state.gateway.unary(ctx, req).await;
    let mut response = match result.and_then(render) {
        Ok(r) => r,
        Err(e) => crate::chat_route::error::<D>(&e),
    };
    apply_meta_headers(response.headers_mut(), &ctx);
    apply_overhead_header(response.headers_mut(), &ctx);
    response
}

/// The answer as the client receives it.
fn render(answer: GatewayResponse) -> Result<Response, GatewayError> {
    match answer {
        GatewayResponse::Binary(b) => {
            let content_type = HeaderValue::from_str(&b.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let mut r = Response::new(Body::from(b.body));
            r.headers_mut().insert(header::CONTENT_TYPE, content_type);
            Ok(r)
        }
        GatewayResponse::Images(i) => Ok((StatusCode::OK, axum::Json(i)).into_response()),
        GatewayResponse::Rerank(r) => Ok((StatusCode::OK, axum::Json(r)).into_response()),
        GatewayResponse::Chat(_)
        | GatewayResponse::Completion(_)
        | GatewayResponse::Embedding(_) => Err(GatewayError::internal(
            "a plugin or provider answered with a response of the wrong operation",
        )),
    }
}

/// A request refused before the engine, in dialect `D`.
fn reject<D: ClientDialect>(headers: &HeaderMap, e: &GatewayError) -> Response {
    crate::chat_route::reject::<D>(headers, e)
}
