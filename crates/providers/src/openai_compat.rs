//! The OpenAI dialect over HTTP: OpenAI itself and every OpenAI-compatible preset (Groq,
//! Mistral, Ollama, OpenRouter, xAI, Cerebras, DeepSeek, Together, Fireworks, Perplexity, vLLM,
//! SGLang, custom).
//!
//! Why one implementation: these upstreams share the wire format; what differs is the base URL,
//! whether a key is needed, and where a key's URL lives (vLLM/SGLang keep one per key). The
//! request is sent as the canonical type serialises it, so fields Heimdall does not model reach
//! the upstream untouched. The only translation is [`normalize_chunk`] (usage that some
//! upstreams put elsewhere), a pure function.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use heimdall_config::{KeyConfig, ProviderConfig, ProviderKind};
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::completions::{CompletionChunk, CompletionRequest, CompletionResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::models::{Model, ModelList};
use heimdall_schema::usage::Usage;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::{build_client, missing_key_config, send_checked, transport_error};
use crate::oauth::{TokenCache, request_token};
use crate::provider::{ChatStream, CompletionStream, Provider};
use crate::sse_json::sse_json_stream;

/// A provider speaking the OpenAI HTTP API.
pub struct OpenAiCompatProvider {
    name: Arc<str>,
    base_url: Option<String>,
    client: reqwest::Client,
    timeout: std::time::Duration,
    /// Azure OpenAI: deployment URLs, `api-key` or Entra ID tokens.
    azure: bool,
    tokens: TokenCache,
    /// The provider base URL's operation URLs, parsed once: parsing (with IDNA) on every
    /// request showed in profiles.
    parsed: Vec<(&'static str, reqwest::Url)>,
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
            name: Arc::from(config.name.as_str()),
            base_url: config.base_url(),
            client: build_client(config)?,
            timeout: config.network.backstop(),
            azure: config.kind == ProviderKind::Azure,
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
        if self.azure {
            let az = key
                .and_then(|k| k.azure.as_ref())
                .ok_or_else(|| missing_key_config(&self.name, "azure_key_config"))?;
            let deployment = az.deployments.get(model).map_or(model, String::as_str);
            let url = format!(
                "{}/openai/deployments/{deployment}{path}?api-version={}",
                az.endpoint, az.api_version
            );
            return self.parse(&url);
        }
        if key.is_none_or(|k| k.base_url.is_none())
            && let Some((_, url)) = self.parsed.iter().find(|(p, _)| *p == path)
        {
            return Ok(url.clone());
        }
        self.parse(&self.base(key, path)?)
    }

    fn parse(&self, url: &str) -> Result<reqwest::Url, GatewayError> {
        reqwest::Url::parse(url).map_err(|e| {
            GatewayError::new(
                ErrorKind::NoKeyAvailable,
                format!("provider '{}' has an invalid URL '{url}': {e}", self.name),
            )
            .with_provider(&*self.name)
        })
    }

    fn base(&self, key: Option<&KeyConfig>, path: &str) -> Result<String, GatewayError> {
        let base = key
            .and_then(|k| k.base_url.as_deref())
            .map(|u| u.trim_end_matches('/'))
            .or(self.base_url.as_deref())
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::NoKeyAvailable,
                    format!(
                        "provider '{}' has no base URL configured (set network_config.base_url or a per-key URL)",
                        self.name
                    ),
                )
                .with_provider(&*self.name)
            })?;
        Ok(format!("{base}{path}"))
    }

    async fn post<B: Serialize + ?Sized>(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        model: &str,
        body: &B,
    ) -> Result<reqwest::RequestBuilder, GatewayError> {
        let body = serde_json::to_vec(body).map_err(|e| {
            GatewayError::internal(format!("cannot encode request for '{}': {e}", self.name))
        })?;
        let rb = self
            .client
            .post(self.url(key, path, model)?)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.authed(rb, key).await
    }

    /// Credentials: `Authorization: Bearer <key>`; for Azure, `api-key: <key>` or an Entra ID
    /// token from the client-credentials flow (cached until shortly before expiry).
    async fn authed(
        &self,
        rb: reqwest::RequestBuilder,
        key: Option<&KeyConfig>,
    ) -> Result<reqwest::RequestBuilder, GatewayError> {
        let Some(k) = key else { return Ok(rb) };
        if self.azure {
            if let Some(entra) = k.azure.as_ref().and_then(|a| a.entra.as_ref()) {
                let token = self
                    .tokens
                    .get(&k.name, || {
                        request_token(
                            &self.client,
                            &self.name,
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
                return Ok(rb.bearer_auth(token));
            }
            return Ok(if k.value.is_empty() {
                rb
            } else {
                rb.header("api-key", k.value.expose())
            });
        }
        Ok(if k.value.is_empty() {
            rb
        } else {
            rb.bearer_auth(k.value.expose())
        })
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, GatewayError> {
        send_checked(&self.name, rb).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> Result<T, GatewayError> {
        let response = self.send(rb.timeout(self.timeout)).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&self.name, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            GatewayError::new(
                ErrorKind::UpstreamProtocol,
                format!(
                    "provider '{}' returned an unreadable response: {e}",
                    self.name
                ),
            )
            .with_provider(&*self.name)
        })
    }

    async fn stream<T: DeserializeOwned + Send + 'static>(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> Result<impl futures::Stream<Item = Result<T, GatewayError>> + Send + 'static, GatewayError>
    {
        // Time to first byte (response headers) is bounded by the request timeout; after that the
        // client's per-read timeout bounds the silence between chunks.
        let response = tokio::time::timeout(self.timeout, self.send(rb))
            .await
            .map_err(|_| {
                GatewayError::new(
                    ErrorKind::UpstreamTimeout,
                    format!(
                        "provider '{}' did not start answering within {:?}",
                        self.name, self.timeout
                    ),
                )
                .with_provider(&*self.name)
            })??;
        Ok(sse_json_stream::<T, _>(
            self.name.to_string(),
            response.bytes_stream(),
        ))
    }
}

#[async_trait]
impl Provider for OpenAiCompatProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        self.json(self.post(key, "/chat/completions", &req.model, req).await?)
            .await
    }

    async fn chat_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let stream = self
            .stream::<ChatChunk>(self.post(key, "/chat/completions", &req.model, req).await?)
            .await?;
        Ok(Box::pin(stream.map(|item| item.map(normalize_chunk))))
    }

    async fn completion(
        &self,
        key: Option<&KeyConfig>,
        req: &CompletionRequest,
    ) -> Result<CompletionResponse, GatewayError> {
        self.json(self.post(key, "/completions", &req.model, req).await?)
            .await
    }

    async fn completion_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &CompletionRequest,
    ) -> Result<CompletionStream, GatewayError> {
        let stream = self
            .stream::<CompletionChunk>(self.post(key, "/completions", &req.model, req).await?)
            .await?;
        Ok(Box::pin(stream))
    }

    async fn embeddings(
        &self,
        key: Option<&KeyConfig>,
        req: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, GatewayError> {
        self.json(self.post(key, "/embeddings", &req.model, req).await?)
            .await
    }

    async fn list_models(&self, key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError> {
        let url = match key.and_then(|k| k.azure.as_ref()) {
            Some(az) if self.azure => format!(
                "{}/openai/models?api-version={}",
                az.endpoint, az.api_version
            ),
            _ => self.base(key, "/models")?,
        };
        let rb = self.authed(self.client.get(url), key).await?;
        let list: ModelList = self.json(rb).await?;
        Ok(list.data)
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
