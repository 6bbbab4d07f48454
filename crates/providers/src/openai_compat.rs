//! The OpenAI dialect over HTTP: OpenAI itself and every OpenAI-compatible preset (Groq,
//! Mistral, Ollama, OpenRouter, xAI, Cerebras, DeepSeek, Together, Fireworks, Perplexity, vLLM,
//! SGLang, custom).
//!
//! Why one implementation: these upstreams share the wire format; what differs is the base URL,
//! whether a key is needed, and where a key's URL lives (vLLM/SGLang keep one per key). The
//! request is sent as the canonical type serialises it, so fields Heimdall does not model reach
//! the upstream untouched. The only translation is [`normalize_chunk`] (usage that some
//! upstreams put elsewhere), a pure function.
//!
//! Audio, images and rerank ride the same URLs and auth (Azure: the model's deployment):
//! uploads are re-encoded as `multipart/form-data` from the parts the client sent, answers
//! that are not JSON (speech audio, `text`/`srt`/`vtt` transcriptions) come back as bytes with
//! the upstream's content type, read whole within the response cap. They go through reqwest:
//! they are not the hot path the direct client is for.

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use heimdall_config::{KeyConfig, ProviderConfig, ProviderKind};
use heimdall_schema::audio::{BinaryResponse, SpeechRequest};
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::completions::{CompletionChunk, CompletionRequest, CompletionResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::form::FormRequest;
use heimdall_schema::images::{ImageGenerationRequest, ImagesResponse};
use heimdall_schema::models::{Model, ModelList};
use heimdall_schema::rerank::{RerankRequest, RerankResponse};
use heimdall_schema::usage::Usage;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::base::UpstreamBase;
use crate::direct::{DirectClient, body_stream, read_all};
use crate::http::{missing_key_config, openai_error, read_body, send_checked};
use crate::oauth::{TokenCache, request_token};
use crate::provider::{AudioStream, ChatStream, CompletionStream, Provider};
use crate::sse_json::sse_json_stream;
use heimdall_dialects::responses::native::native_of;

mod media;
mod responses;

/// A provider speaking the OpenAI HTTP API.
pub struct OpenAiCompatProvider {
    base: UpstreamBase,
    base_url: Option<String>,
    /// Azure OpenAI: deployment URLs, `api-key` or Entra ID tokens.
    azure: bool,
    /// The kind (which operations it serves: [`ProviderKind::capabilities`]).
    kind: ProviderKind,
    /// `network_config.extra_headers` and the handshake deadline, for the Realtime WebSocket
    /// (the HTTP clients carry their own).
    realtime: RealtimeSettings,
    tokens: TokenCache,
    /// The provider base URL's operation URLs, parsed once: parsing (with IDNA) on every
    /// request showed in profiles.
    parsed: Vec<(&'static str, reqwest::Url)>,
    /// The same, as the direct client takes them.
    parsed_uris: Vec<(&'static str, http::Uri)>,
    /// The hot-path client for POSTs (`None` behind a proxy: reqwest then).
    direct: Option<DirectClient>,
}

/// What the Realtime WebSocket needs beyond the HTTP clients.
struct RealtimeSettings {
    extra_headers: HeaderMap,
    handshake_timeout: std::time::Duration,
}

/// An upstream answer from either client.
enum Answer {
    Reqwest(reqwest::Response),
    Direct(http::Response<hyper::body::Incoming>),
}

/// The operations whose URLs are pre-parsed.
const PATHS: [&str; 4] = [
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/models",
];

impl OpenAiCompatProvider {
    /// Build from a validated provider config.
    pub fn new(config: &ProviderConfig) -> Result<Self, GatewayError> {
        Ok(Self {
            base: UpstreamBase::new(config)?,
            base_url: config.base_url(),
            azure: config.kind == ProviderKind::Azure,
            kind: config.kind,
            realtime: RealtimeSettings {
                extra_headers: crate::http::extra_headers(config)?,
                handshake_timeout: config.network.first_byte(),
            },
            tokens: TokenCache::default(),
            parsed: config
                .base_url()
                .map(|b| {
                    PATHS
                        .iter()
                        .filter_map(|p| Some((*p, reqwest::Url::parse(&format!("{b}{p}")).ok()?)))
                        .collect()
                })
                .unwrap_or_default(),
            parsed_uris: config
                .base_url()
                .map(|b| {
                    PATHS
                        .iter()
                        .filter_map(|p| Some((*p, format!("{b}{p}").parse::<http::Uri>().ok()?)))
                        .collect()
                })
                .unwrap_or_default(),
            direct: DirectClient::new(config)?,
        })
    }

    /// The URL of an operation (`path` like `/chat/completions`) for `model`: the base URL's,
    /// or for Azure the model's deployment on the key's endpoint.
    fn url(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        model: &str,
    ) -> Result<reqwest::Url, GatewayError> {
        if !self.azure
            && key.is_none_or(|k| k.base_url.is_none())
            && let Some((_, url)) = self.parsed.iter().find(|(p, _)| *p == path)
        {
            return Ok(url.clone());
        }
        self.parse(&self.url_string(key, path, model)?)
    }

    /// [`Self::url`] for the direct client.
    fn uri(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        model: &str,
    ) -> Result<http::Uri, GatewayError> {
        if !self.azure
            && key.is_none_or(|k| k.base_url.is_none())
            && let Some((_, uri)) = self.parsed_uris.iter().find(|(p, _)| *p == path)
        {
            return Ok(uri.clone());
        }
        let url = self.url_string(key, path, model)?;
        url.parse::<http::Uri>()
            .map_err(|e| crate::http::invalid_url(&self.base.name, &url, &e))
    }

    fn url_string(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        model: &str,
    ) -> Result<String, GatewayError> {
        if self.azure {
            let az = key
                .and_then(|k| k.azure.as_ref())
                .ok_or_else(|| missing_key_config(&self.base.name, "azure_key_config"))?;
            let deployment =
                crate::http::path_segment(az.deployments.get(model).map_or(model, String::as_str));
            return Ok(format!(
                "{}/openai/deployments/{deployment}{path}?api-version={}",
                az.endpoint, az.api_version
            ));
        }
        self.base(key, path)
    }

    fn parse(&self, url: &str) -> Result<reqwest::Url, GatewayError> {
        reqwest::Url::parse(url).map_err(|e| crate::http::invalid_url(&self.base.name, url, &e))
    }

    fn base(&self, key: Option<&KeyConfig>, path: &str) -> Result<String, GatewayError> {
        let base = key
            .and_then(|k| k.base_url.as_deref())
            .map(|u| u.trim_end_matches('/'))
            .or(self.base_url.as_deref())
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::Misconfigured,
                    format!(
                        "provider '{}' has no base URL configured (set network_config.base_url or a per-key URL)",
                        self.base.name
                    ),
                )
                .with_provider(&*self.base.name)
            })?;
        Ok(format!("{base}{path}"))
    }

    /// POST `body` as JSON to the operation `path`: through the direct client, or reqwest
    /// behind a proxy. A non-2xx answer is an error.
    async fn post<B: Serialize + ?Sized>(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        model: &str,
        body: &B,
    ) -> Result<Answer, GatewayError> {
        let body = serde_json::to_vec(body).map_err(|e| {
            GatewayError::internal(format!(
                "cannot encode request for '{}': {e}",
                self.base.name
            ))
        })?;
        self.post_bytes(key, path, model, body).await
    }

    /// A chat request's body: the client's own bytes with the model spliced in while they
    /// still stand for the request (`heimdall_schema::raw`), else the typed request encoded.
    async fn post_chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<Answer, GatewayError> {
        const PATH: &str = "/chat/completions";
        match req.raw.as_ref().and_then(|raw| raw.for_upstream(req)) {
            Some(body) => self.post_bytes(key, PATH, &req.model, body).await,
            None => self.post(key, PATH, &req.model, req).await,
        }
    }

    /// POST the JSON `body` to the operation `path`.
    async fn post_bytes(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        model: &str,
        body: Vec<u8>,
    ) -> Result<Answer, GatewayError> {
        let auth = self.auth_headers(key).await?;
        match &self.direct {
            Some(direct) => direct
                .post_json(
                    &self.base.name,
                    self.uri(key, path, model)?,
                    auth,
                    body,
                    openai_error,
                )
                .await
                .map(Answer::Direct),
            None => {
                let rb = self
                    .base
                    .client
                    .post(self.url(key, path, model)?)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .headers(auth)
                    .body(body);
                self.send(rb).await.map(Answer::Reqwest)
            }
        }
    }

    /// Credentials: `Authorization: Bearer <key>`; for Azure, `api-key: <key>` or an Entra ID
    /// token from the client-credentials flow (cached until shortly before expiry).
    async fn auth_headers(&self, key: Option<&KeyConfig>) -> Result<HeaderMap, GatewayError> {
        let mut headers = HeaderMap::new();
        let Some(k) = key else { return Ok(headers) };
        let secret = |v: String| {
            HeaderValue::try_from(v)
                .map(|mut v| {
                    v.set_sensitive(true);
                    v
                })
                .map_err(|_| {
                    GatewayError::new(
                        ErrorKind::Misconfigured,
                        format!(
                            "provider '{}': key '{}' cannot be sent in a header",
                            self.base.name, k.name
                        ),
                    )
                    .with_provider(&*self.base.name)
                })
        };
        if self.azure {
            if let Some(entra) = k.azure.as_ref().and_then(|a| a.entra.as_ref()) {
                let token = self
                    .tokens
                    .get(&k.name, || {
                        request_token(
                            &self.base.client,
                            &self.base.name,
                            &entra.token_url,
                            vec![
                                ("grant_type", "client_credentials".to_owned()),
                                ("client_id", entra.client_id.clone()),
                                ("client_secret", entra.client_secret.expose().to_owned()),
                                ("scope", entra.scope.clone()),
                            ],
                        )
                    })
                    .await?;
                headers.insert(AUTHORIZATION, secret(format!("Bearer {token}"))?);
            } else if !k.value.is_empty() {
                headers.insert("api-key", secret(k.value.expose().to_owned())?);
            }
            return Ok(headers);
        }
        if !k.value.is_empty() {
            headers.insert(
                AUTHORIZATION,
                secret(format!("Bearer {}", k.value.expose()))?,
            );
        }
        Ok(headers)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, GatewayError> {
        send_checked(&self.base.name, rb).await
    }

    /// A whole JSON answer, bounded by the provider's backstop timeout.
    async fn json<T: DeserializeOwned>(
        &self,
        answer: impl std::future::Future<Output = Result<Answer, GatewayError>>,
    ) -> Result<T, GatewayError> {
        Ok(self.json_and_bytes(answer).await?.0)
    }

    /// A whole JSON answer and the bytes it was read from.
    async fn json_and_bytes<T: DeserializeOwned>(
        &self,
        answer: impl std::future::Future<Output = Result<Answer, GatewayError>>,
    ) -> Result<(T, bytes::Bytes), GatewayError> {
        let read = async {
            match answer.await? {
                Answer::Direct(r) => read_all(&self.base.name, r).await,
                Answer::Reqwest(r) => read_body(&self.base.name, r).await,
            }
        };
        let bytes = tokio::time::timeout(self.base.backstop, read)
            .await
            .map_err(|_| self.timed_out("finish answering"))??;
        match serde_json::from_slice(&bytes) {
            Ok(answer) => Ok((answer, bytes)),
            Err(e) => Err(crate::http::invalid_response(
                &self.base.name,
                &format!("a readable answer ({e})"),
                &bytes,
            )),
        }
    }

    fn timed_out(&self, what: &str) -> GatewayError {
        GatewayError::new(
            ErrorKind::UpstreamTimeout,
            format!(
                "provider '{}' did not {what} within {:?}",
                self.base.name, self.base.backstop
            ),
        )
        .with_provider(&*self.base.name)
    }

    async fn stream<T: DeserializeOwned + Send + 'static>(
        &self,
        answer: impl std::future::Future<Output = Result<Answer, GatewayError>>,
    ) -> Result<BoxStream<'static, Result<T, GatewayError>>, GatewayError> {
        // Time to first byte (response headers) is bounded by the request timeout; after that
        // the engine's idle deadline bounds the silence between chunks.
        let answer = tokio::time::timeout(self.base.backstop, answer)
            .await
            .map_err(|_| self.timed_out("start answering"))??;
        let name = self.base.name.to_string();
        Ok(match answer {
            Answer::Direct(r) => sse_json_stream::<T, _, _>(name, body_stream(r)).boxed(),
            Answer::Reqwest(r) => sse_json_stream::<T, _, _>(name, r.bytes_stream()).boxed(),
        })
    }

    /// An authenticated GET through reqwest (model listing: off the hot path).
    async fn get_json<T: DeserializeOwned>(
        &self,
        key: Option<&KeyConfig>,
        url: String,
    ) -> Result<T, GatewayError> {
        let rb = self
            .base
            .client
            .get(url)
            .headers(self.auth_headers(key).await?)
            .timeout(self.base.backstop);
        let response = self.send(rb).await?;
        self.json(async { Ok(Answer::Reqwest(response)) }).await
    }
}

#[async_trait]
impl Provider for OpenAiCompatProvider {
    fn name(&self) -> &str {
        &self.base.name
    }

    async fn chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        if let Some(native) = native_of(req).filter(|_| self.takes_responses()) {
            return Box::pin(self.responses_json(key, native, req)).await;
        }
        // Both calls boxed: held inline, their futures (several KB) made this method's future
        // that large, and it was copied whole into its box on every request (callgrind: ~8 KB
        // of memcpy per request).
        let (mut answer, bytes): (ChatResponse, _) =
            Box::pin(self.json_and_bytes(self.post_chat(key, req))).await?;
        // A chat completion always carries at least one choice; none is a broken upstream.
        if answer.choices.is_empty() {
            return Err(crate::http::invalid_response(
                &self.base.name,
                "any choice",
                b"{\"choices\":[]}",
            ));
        }
        if req.raw.is_some() {
            // The client sent OpenAI's own body, so it reads OpenAI's own answer: the route
            // may write these bytes instead of encoding the decoded answer again. A copy: the
            // bytes read are usually a slice of the upstream connection's read buffer, which
            // would stay alive (and unusable to hyper) while the answer holds it.
            answer.raw = Some(bytes::Bytes::copy_from_slice(&bytes));
        }
        Ok(answer)
    }

    async fn chat_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        if let Some(native) = native_of(req).filter(|_| self.takes_responses()) {
            return self.responses_stream(key, native, req).await;
        }
        let stream = self.stream::<ChatChunk>(self.post_chat(key, req)).await?;
        let mut identity = ChunkIdentity::default();
        Ok(stream
            .filter_map(move |item| {
                std::future::ready(match item {
                    Ok(chunk) => identity.normalize(chunk).map(Ok),
                    Err(e) => Some(Err(e)),
                })
            })
            .boxed())
    }

    async fn completion(
        &self,
        key: Option<&KeyConfig>,
        req: &CompletionRequest,
    ) -> Result<CompletionResponse, GatewayError> {
        self.json(self.post(key, "/completions", &req.model, req))
            .await
    }

    async fn completion_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &CompletionRequest,
    ) -> Result<CompletionStream, GatewayError> {
        let stream = self
            .stream::<CompletionChunk>(self.post(key, "/completions", &req.model, req))
            .await?;
        Ok(stream)
    }

    async fn embeddings(
        &self,
        key: Option<&KeyConfig>,
        req: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, GatewayError> {
        self.json(self.post(key, "/embeddings", &req.model, req))
            .await
    }

    async fn speech(
        &self,
        key: Option<&KeyConfig>,
        req: &SpeechRequest,
    ) -> Result<AudioStream, GatewayError> {
        let body = serde_json::to_vec(req).map_err(|e| {
            GatewayError::internal(format!(
                "cannot encode request for '{}': {e}",
                self.base.name
            ))
        })?;
        self.audio_stream(key, "/audio/speech", &req.model, body, req.content_type())
            .await
    }

    async fn transcription(
        &self,
        key: Option<&KeyConfig>,
        req: &FormRequest,
    ) -> Result<BinaryResponse, GatewayError> {
        self.binary(
            self.post_form(key, "/audio/transcriptions", req),
            "application/json",
        )
        .await
    }

    async fn translation(
        &self,
        key: Option<&KeyConfig>,
        req: &FormRequest,
    ) -> Result<BinaryResponse, GatewayError> {
        self.binary(
            self.post_form(key, "/audio/translations", req),
            "application/json",
        )
        .await
    }

    async fn image_generation(
        &self,
        key: Option<&KeyConfig>,
        req: &ImageGenerationRequest,
    ) -> Result<ImagesResponse, GatewayError> {
        self.json(self.post(key, "/images/generations", &req.model, req))
            .await
    }

    async fn image_edit(
        &self,
        key: Option<&KeyConfig>,
        req: &FormRequest,
    ) -> Result<ImagesResponse, GatewayError> {
        self.json(self.post_form(key, "/images/edits", req)).await
    }

    async fn rerank(
        &self,
        key: Option<&KeyConfig>,
        req: &RerankRequest,
    ) -> Result<RerankResponse, GatewayError> {
        // Azure OpenAI has no rerank deployments (Cohere's rerank on Azure is a Cohere API).
        if self.azure {
            return Err(self.unsupported("rerank"));
        }
        let mut answer: RerankResponse = self
            .json(self.post(key, "/rerank", &req.model, &req.upstream_body(false)))
            .await?;
        if answer.id.is_empty() {
            answer.id = format!("rerank-{:016x}", rand::random::<u64>());
        }
        Ok(answer)
    }

    async fn list_models(&self, key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError> {
        let url = match key.and_then(|k| k.azure.as_ref()) {
            Some(az) if self.azure => format!(
                "{}/openai/models?api-version={}",
                az.endpoint, az.api_version
            ),
            _ => self.base(key, "/models")?,
        };
        let list: ModelList = self.get_json(key, url).await?;
        Ok(list.data)
    }

    async fn realtime_connect(
        &self,
        key: Option<&KeyConfig>,
        model: &str,
        beta: Option<&str>,
    ) -> Result<crate::realtime::RealtimeSocket, GatewayError> {
        let base = self.realtime_url(key, "/realtime")?;
        if self.direct.is_none() {
            return Err(GatewayError::new(
                ErrorKind::Misconfigured,
                format!(
                    "provider '{}': the Realtime API does not go through a proxy",
                    self.base.name
                ),
            )
            .with_provider(&*self.base.name));
        }
        let model = match key.and_then(|k| k.azure.as_ref()) {
            Some(az) if self.azure => az.deployments.get(model).map_or(model, String::as_str),
            _ => model,
        };
        let url = format!(
            "{}?model={}",
            crate::realtime::websocket_url(&base),
            crate::realtime::query_value(model)
        );
        let mut headers = self.realtime.extra_headers.clone();
        headers.extend(self.auth_headers(key).await?);
        if let Some(beta) = beta.and_then(|b| HeaderValue::from_str(b).ok()) {
            headers.insert("openai-beta", beta);
        }
        crate::realtime::connect(
            &self.base.name,
            &url,
            headers,
            self.realtime.handshake_timeout,
        )
        .await
    }

    async fn realtime_post(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        body: bytes::Bytes,
    ) -> Result<bytes::Bytes, GatewayError> {
        let url = self.parse(&self.realtime_url(key, path)?)?;
        let rb = self
            .base
            .client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .headers(self.auth_headers(key).await?)
            .body(body);
        let answer = self.send(rb).await?;
        tokio::time::timeout(self.base.backstop, read_body(&self.base.name, answer))
            .await
            .map_err(|_| self.timed_out("finish answering"))?
    }
}

impl OpenAiCompatProvider {
    /// The URL of a Realtime endpoint (`/realtime`, `/realtime/sessions`, …): under the base
    /// URL, or for Azure under the key endpoint's v1 API (`{endpoint}/openai/v1`, where Azure
    /// serves the GA Realtime API). Kinds without the Realtime API refuse.
    fn realtime_url(&self, key: Option<&KeyConfig>, path: &str) -> Result<String, GatewayError> {
        if !self.kind.serves(heimdall_config::Capability::Realtime) {
            return Err(self.unsupported("the Realtime API"));
        }
        if self.azure {
            let az = key
                .and_then(|k| k.azure.as_ref())
                .ok_or_else(|| missing_key_config(&self.base.name, "azure_key_config"))?;
            return Ok(format!(
                "{}/openai/v1{path}",
                az.endpoint.trim_end_matches('/')
            ));
        }
        self.base(key, path)
    }
}

/// The identity of a stream's chunks, carried onto chunks that come without it.
///
/// Why: Azure OpenAI's content filter sends a chunk before the answer (`choices: []`, empty
/// `id`, `object` and `model`, only `prompt_filter_results`) and, with asynchronous filtering,
/// filter-only chunks with an empty identity; the OpenAI SDKs reject or mis-assemble those.
/// A chunk with neither choices nor usage carries nothing a client can use and is dropped; an
/// empty identity is filled from the stream's own.
#[derive(Debug, Default)]
pub struct ChunkIdentity {
    id: String,
    model: String,
    created: u64,
}

impl ChunkIdentity {
    /// The chunk as a client may receive it, or `None` when it carries nothing.
    pub fn normalize(&mut self, chunk: ChatChunk) -> Option<ChatChunk> {
        let mut chunk = normalize_chunk(chunk);
        if chunk.choices.is_empty() && chunk.usage.is_none() {
            return None;
        }
        if chunk.object.is_empty() {
            "chat.completion.chunk".clone_into(&mut chunk.object);
        }
        fill(&mut chunk.id, &mut self.id);
        fill(&mut chunk.model, &mut self.model);
        if chunk.created == 0 {
            chunk.created = self.created;
        } else {
            self.created = chunk.created;
        }
        Some(chunk)
    }
}

/// An empty `field` takes the remembered value; a present one is remembered.
fn fill(field: &mut String, remembered: &mut String) {
    if field.is_empty() {
        field.clone_from(remembered);
    } else if field != remembered {
        remembered.clone_from(field);
    }
}

/// Bring upstream-specific chunk quirks into the canonical shape.
///
/// Groq reports stream usage in `x_groq.usage` on the last chunk instead of `usage`.
pub fn normalize_chunk(mut chunk: ChatChunk) -> ChatChunk {
    if chunk.usage.is_none()
        && let Some(usage) = chunk
            .extra
            .get("x_groq")
            .and_then(|x| x.get("usage"))
            .and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok())
    {
        chunk.usage = Some(usage);
    }
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groq_usage_in_x_groq_becomes_canonical_usage() {
        let chunk: ChatChunk = serde_json::from_str(
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"llama",
                "choices":[{"index":0,"delta":{},"finish_reason":"stop"}],
                "x_groq":{"id":"req_1","usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}}"#,
        )
        .unwrap();
        let out = normalize_chunk(chunk);
        assert_eq!(out.usage.as_ref().map(|u| u.total_tokens), Some(12));
    }

    #[test]
    fn azure_content_filter_chunks_are_dropped_or_given_the_stream_identity() {
        // Azure OpenAI's documented stream with content filtering: a prompt-filter chunk
        // first, answer chunks, then (asynchronous filter) a filter-only chunk.
        let lines = [
            r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}"#,
            r#"{"choices":[{"content_filter_results":{},"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0}],"created":1712345678,"id":"chatcmpl-9A","model":"gpt-4o-2024-05-13","object":"chat.completion.chunk","system_fingerprint":"fp_1"}"#,
            r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":"stop","index":0}],"created":1712345678,"id":"chatcmpl-9A","model":"gpt-4o-2024-05-13","object":"chat.completion.chunk"}"#,
            r#"{"choices":[{"content_filter_offsets":{"check_offset":0,"start_offset":0,"end_offset":2},"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"finish_reason":null,"index":0}],"created":0,"id":"","model":"","object":""}"#,
        ];
        let mut identity = ChunkIdentity::default();
        let out: Vec<ChatChunk> = lines
            .iter()
            .filter_map(|l| identity.normalize(serde_json::from_str(l).unwrap()))
            .collect();
        assert_eq!(out.len(), 3, "the prompt-filter chunk is dropped");
        for c in &out {
            assert_eq!(c.id, "chatcmpl-9A");
            assert_eq!(c.object, "chat.completion.chunk");
            assert_eq!(c.model, "gpt-4o-2024-05-13");
            assert_eq!(c.created, 1_712_345_678);
        }
    }

    #[test]
    fn usage_already_present_is_kept() {
        let chunk: ChatChunk = serde_json::from_str(
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],
                "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},
                "x_groq":{"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}}"#,
        )
        .unwrap();
        assert_eq!(
            normalize_chunk(chunk).usage.map(|u| u.total_tokens),
            Some(2)
        );
    }
}
