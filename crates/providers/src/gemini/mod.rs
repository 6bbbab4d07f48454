//! Google Gemini API provider (Generative Language API, `x-goog-api-key`):
//! `models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:embedContent`,
//! `:batchEmbedContents`, translated by pure functions tested with golden fixtures
//! (`tests/fixtures/gemini/`).

pub use heimdall_dialects::gemini::{request, response, stream};

use async_trait::async_trait;
use futures::StreamExt;
use heimdall_config::{KeyConfig, ProviderConfig};
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::models::Model;
use serde_json::Value;

use crate::base::UpstreamBase;
use crate::http::now_secs;
use crate::http::{read_json, send_checked_with, upstream_message};
use crate::provider::{ChatStream, Provider};
use crate::sse_translate::translated_sse_stream;
use http::HeaderMap;

/// A Gemini API provider instance.
pub struct GeminiProvider {
    base: UpstreamBase,
    base_url: String,
}

impl GeminiProvider {
    /// Build from a validated provider config.
    pub fn new(config: &ProviderConfig) -> Result<Self, GatewayError> {
        Ok(Self {
            base: UpstreamBase::new(config)?,
            base_url: config
                .base_url()
                .unwrap_or_else(|| "https://generativelanguage.googleapis.com/v1beta".to_owned()),
        })
    }

    fn model_url(&self, model: &str, method: &str) -> String {
        // The model name comes from the client: one path segment, whatever it holds.
        let model = crate::http::path_segment(model.strip_prefix("models/").unwrap_or(model));
        format!("{}/models/{model}:{method}", self.base_url)
    }

    async fn send(
        &self,
        rb: reqwest::RequestBuilder,
        key: Option<&KeyConfig>,
    ) -> Result<reqwest::Response, GatewayError> {
        let rb = match key.filter(|k| !k.value.is_empty()) {
            Some(k) => rb.header("x-goog-api-key", k.value.expose()),
            None => rb,
        };
        send_checked_with(&self.base.name, rb, google_error).await
    }

    async fn post(
        &self,
        url: String,
        body: &Value,
        key: Option<&KeyConfig>,
        stream: bool,
    ) -> Result<reqwest::Response, GatewayError> {
        let mut rb = self.base.client.post(url).json(body);
        if !stream {
            rb = rb.timeout(self.base.backstop);
        }
        self.send(rb, key).await
    }
}

/// A Google error (`{"error": {"code", "message", "status"}}`) → a typed error; an invalid API
/// key (400 `API_KEY_INVALID`) is the gateway's credential problem, so it counts as auth.
pub fn google_error(
    provider: &str,
    status: u16,
    _headers: &HeaderMap,
    body: &[u8],
) -> GatewayError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let key_invalid = String::from_utf8_lossy(body).contains("API_KEY_INVALID");
    let status = if key_invalid { 401 } else { status };
    let mut e = GatewayError::from_upstream_status(
        status,
        format!("provider '{provider}': {}", upstream_message(body)),
    )
    .with_provider(provider);
    if let Some(s) = v.pointer("/error/status").and_then(Value::as_str) {
        e = e.with_code(s);
    }
    if key_invalid {
        e.kind = ErrorKind::UpstreamAuth;
    }
    e
}

/// A `generateContent` answer must carry `candidates` (or say why not in `promptFeedback`):
/// a 200 without them is a broken upstream, not an empty answer.
pub(crate) fn check_generate_response(provider: &str, v: &Value) -> Result<(), GatewayError> {
    if v.get("candidates").is_some_and(Value::is_array) || response::blocked_prompt(v).is_some() {
        return Ok(());
    }
    Err(crate::http::invalid_json_response(
        provider,
        "candidates",
        v,
    ))
}

#[async_trait]
impl Provider for GeminiProvider {
    fn name(&self) -> &str {
        &self.base.name
    }

    async fn chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        let body = request::to_generate_request(req)?;
        let url = self.model_url(&req.model, "generateContent");
        let response = self.post(url, &body, key, false).await?;
        let v: Value = read_json(&self.base.name, response).await?;
        check_generate_response(&self.base.name, &v)?;
        response::from_generate_response(
            &v,
            &req.model,
            now_secs(),
            &crate::http::new_completion_id(),
        )
        .map_err(|e| {
            let msg = format!("provider '{}': {}", self.base.name, e.message);
            GatewayError { message: msg, ..e }.with_provider(&*self.base.name)
        })
    }

    async fn chat_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let body = request::to_generate_request(req)?;
        let url = format!(
            "{}?alt=sse",
            self.model_url(&req.model, "streamGenerateContent")
        );
        let response = self.post(url, &body, key, true).await?;
        let translator = stream::GeminiStream::new(&req.model, now_secs());
        let s = translated_sse_stream(
            self.base.name.to_string(),
            response.bytes_stream(),
            translator,
        );
        Ok(Box::pin(s.boxed()))
    }

    async fn embeddings(
        &self,
        key: Option<&KeyConfig>,
        req: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, GatewayError> {
        let (body, batch) = request::to_embed_request(req)?;
        let method = if batch {
            "batchEmbedContents"
        } else {
            "embedContent"
        };
        let response = self
            .post(self.model_url(&req.model, method), &body, key, false)
            .await?;
        let v: Value = read_json(&self.base.name, response).await?;
        Ok(response::from_embed_response(
            &v,
            &req.model,
            req.encoding_format,
        ))
    }

    async fn list_models(&self, key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError> {
        let rb = self
            .base
            .client
            .get(format!("{}/models?pageSize=1000", self.base_url))
            .timeout(self.base.backstop);
        let response = self.send(rb, key).await?;
        let v: Value = read_json(&self.base.name, response).await?;
        Ok(v["models"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["name"].as_str())
            .map(|n| Model {
                id: n.strip_prefix("models/").unwrap_or(n).to_owned(),
                object: "model".to_owned(),
                created: 0,
                owned_by: "google".to_owned(),
                extra: Default::default(),
            })
            .collect())
    }
}
