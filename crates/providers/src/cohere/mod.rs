//! Cohere v2 provider: `POST {base}/v2/chat` (JSON and SSE), `/v2/embed` and `/v2/rerank`
//! (already the canonical rerank shape: documents go as strings, without `return_documents`,
//! which v2 does not have), bearer auth,
//! translated to and from the canonical types by pure functions tested with golden fixtures
//! (`tests/fixtures/cohere/`).

pub use heimdall_dialects::cohere::{request, response, stream};

use async_trait::async_trait;
use futures::StreamExt;
use heimdall_config::{KeyConfig, ProviderConfig};
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::models::Model;
use heimdall_schema::rerank::{RerankRequest, RerankResponse};
use serde_json::Value;

use crate::base::UpstreamBase;
use crate::http::now_secs;
use crate::http::{read_body, read_json, send_checked, unreadable};
use crate::provider::{ChatStream, Provider};
use crate::sse_translate::translated_sse_stream;

/// A Cohere provider instance.
pub struct CohereProvider {
    base: UpstreamBase,
    base_url: String,
}

impl CohereProvider {
    /// Build from a validated provider config (`base_url` without `/v2`).
    pub fn new(config: &ProviderConfig) -> Result<Self, GatewayError> {
        let base = config
            .network
            .base_url
            .clone()
            .or_else(|| config.kind.preset().default_base_url.map(str::to_owned))
            .unwrap_or_default();
        let base = base.trim_end_matches('/');
        let base = base
            .strip_suffix("/v1")
            .or(base.strip_suffix("/v2"))
            .unwrap_or(base);
        Ok(Self {
            base: UpstreamBase::new(config)?,
            base_url: base.to_owned(),
        })
    }

    async fn post(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        body: &Value,
        stream: bool,
    ) -> Result<reqwest::Response, GatewayError> {
        let mut rb = self
            .base
            .client
            .post(format!("{}{path}", self.base_url))
            .json(body);
        if !stream {
            rb = rb.timeout(self.base.backstop);
        }
        send_checked(&self.base.name, authed(rb, key)).await
    }

    async fn body(&self, response: reqwest::Response) -> Result<bytes::Bytes, GatewayError> {
        read_body(&self.base.name, response).await
    }

    fn unreadable(&self, e: impl std::fmt::Display) -> GatewayError {
        unreadable(&self.base.name, e)
    }
}

/// Bearer credentials, when the key has a value.
fn authed(rb: reqwest::RequestBuilder, key: Option<&KeyConfig>) -> reqwest::RequestBuilder {
    match key.filter(|k| !k.value.is_empty()) {
        Some(k) => rb.bearer_auth(k.value.expose()),
        None => rb,
    }
}

#[async_trait]
impl Provider for CohereProvider {
    fn name(&self) -> &str {
        &self.base.name
    }

    async fn chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        let body = request::to_chat_request(req, false)?;
        let response = self.post(key, "/v2/chat", &body, false).await?;
        let bytes = self.body(response).await?;
        response::from_chat_response(&bytes, &req.model, now_secs()).map_err(|e| self.unreadable(e))
    }

    async fn chat_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let body = request::to_chat_request(req, true)?;
        let response = self.post(key, "/v2/chat", &body, true).await?;
        let translator = stream::CohereStream::new(&req.model, now_secs());
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
        let body = request::to_embed_request(req)?;
        let response = self.post(key, "/v2/embed", &body, false).await?;
        let bytes = self.body(response).await?;
        response::from_embed_response(&bytes, &req.model, req.encoding_format)
            .map_err(|e| self.unreadable(e.message))
    }

    async fn rerank(
        &self,
        key: Option<&KeyConfig>,
        req: &RerankRequest,
    ) -> Result<RerankResponse, GatewayError> {
        let response = self
            .post(key, "/v2/rerank", &req.upstream_body(true), false)
            .await?;
        read_json(&self.base.name, response).await
    }

    async fn list_models(&self, key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError> {
        let rb = self
            .base
            .client
            .get(format!("{}/v1/models?page_size=1000", self.base_url))
            .timeout(self.base.backstop);
        let response = send_checked(&self.base.name, authed(rb, key)).await?;
        let v: Value = read_json(&self.base.name, response).await?;
        Ok(v["models"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["name"].as_str())
            .map(|id| Model {
                id: id.to_owned(),
                object: "model".to_owned(),
                created: 0,
                owned_by: "cohere".to_owned(),
                extra: Default::default(),
            })
            .collect())
    }
}
