//! Google Vertex AI provider: Gemini models through
//! `…/publishers/google/models/{model}:generateContent` and Anthropic models through
//! `…/publishers/anthropic/models/{model}:rawPredict`, on `{region}-aiplatform.googleapis.com`
//! (or `aiplatform.googleapis.com` for `global`), with a bearer token from the key's service
//! account (signed JWT exchanged at the token endpoint, cached until near expiry).
//!
//! Why one provider for two dialects: on Vertex the publisher is part of the URL and users
//! address both families through one project and one credential; the model name (`claude-…`)
//! says which translator applies. The translators are the Gemini and Anthropic ones — Vertex
//! only changes the URL, the auth, and (for Anthropic) moves the version into the body.

use async_trait::async_trait;
use futures::StreamExt;
use heimdall_config::{KeyConfig, ProviderConfig, VertexKeyConfig};
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::models::Model;
use heimdall_schema::native::NativeRequest;
use serde_json::{Value, json};

use crate::anthropic::native;
use crate::anthropic::stream::AnthropicStream;
use crate::base::UpstreamBase;
use crate::gemini::google_error;
use crate::gemini::stream::GeminiStream;
use crate::google_auth::GoogleAuth;
use crate::http::now_secs;
use crate::http::{host_override, missing_key_config, read_body, read_json, send_checked_with};
use crate::provider::{ChatStream, Provider};
use crate::sse_translate::translated_sse_stream;

/// The `anthropic_version` Vertex expects in the body of Anthropic requests.
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// A Vertex AI provider instance.
pub struct VertexProvider {
    base: UpstreamBase,
    /// Replaces `https://{region}-aiplatform.googleapis.com` (tests, private endpoints).
    host_override: Option<String>,
    auth: GoogleAuth,
}

/// Which model family (publisher) a model belongs to.
fn is_anthropic(model: &str) -> bool {
    model.starts_with("claude")
}

impl VertexProvider {
    /// Build from a validated provider config.
    pub fn new(config: &ProviderConfig) -> Result<Self, GatewayError> {
        let host_override = host_override(config);
        Ok(Self {
            base: UpstreamBase::new(config)?,
            host_override,
            auth: GoogleAuth::default(),
        })
    }

    fn vertex_config<'k>(
        &self,
        key: Option<&'k KeyConfig>,
    ) -> Result<&'k VertexKeyConfig, GatewayError> {
        key.and_then(|k| k.vertex.as_ref())
            .ok_or_else(|| missing_key_config(&self.base.name, "vertex_key_config"))
    }

    fn host(&self, region: &str) -> String {
        match &self.host_override {
            Some(h) => h.clone(),
            None if region == "global" => "https://aiplatform.googleapis.com".to_owned(),
            None => format!("https://{region}-aiplatform.googleapis.com"),
        }
    }

    fn url(&self, vc: &VertexKeyConfig, model: &str, method: &str) -> String {
        let publisher = if is_anthropic(model) {
            "anthropic"
        } else {
            "google"
        };
        use crate::http::path_segment;
        format!(
            "{}/v1/projects/{}/locations/{}/publishers/{publisher}/models/{}:{method}",
            self.host(&vc.region),
            path_segment(&vc.project_id),
            path_segment(&vc.region),
            path_segment(model)
        )
    }

    async fn post(
        &self,
        key: Option<&KeyConfig>,
        url: String,
        body: &Value,
        stream: bool,
        native: Option<&NativeRequest>,
    ) -> Result<reqwest::Response, GatewayError> {
        let vc = self.vertex_config(key)?;
        let key_name = key.map_or("", |k| k.name.as_str());
        let token = self
            .auth
            .token(
                &self.base.client,
                &self.base.name,
                key_name,
                vc.credentials.expose(),
                vc.token_url.as_deref(),
            )
            .await?;
        let rb = self.base.client.post(url).bearer_auth(token).json(body);
        let mut rb = native::with_headers(rb, native);
        if !stream {
            rb = rb.timeout(self.base.backstop);
        }
        send_checked_with(&self.base.name, rb, google_error).await
    }

    /// The Anthropic body for Vertex: no `model` (it is in the URL), `anthropic_version` in it.
    /// A request from the Anthropic SDK goes as the client wrote it (`native`), keeping
    /// `cache_control`, `thinking` and the rest; the client's own `anthropic_version`, if any,
    /// is kept too.
    fn anthropic_body(req: &ChatRequest, stream: bool) -> Result<Value, GatewayError> {
        let mut v = if let Some(n) = native::native_of(req) {
            Value::Object(native::messages_body(n, &req.model, stream)?)
        } else {
            let mut body = crate::anthropic::request::to_messages_request(req)?;
            if stream {
                body.set_stream();
            }
            serde_json::to_value(&body)
                .map_err(|e| GatewayError::internal(format!("cannot encode request: {e}")))?
        };
        if let Some(o) = v.as_object_mut() {
            o.remove("model");
            o.entry("anthropic_version")
                .or_insert_with(|| Value::String(VERTEX_ANTHROPIC_VERSION.to_owned()));
        }
        Ok(v)
    }
}

#[async_trait]
impl Provider for VertexProvider {
    fn name(&self) -> &str {
        &self.base.name
    }

    async fn chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        let vc = self.vertex_config(key)?;
        if is_anthropic(&req.model) {
            let body = Self::anthropic_body(req, false)?;
            let response = self
                .post(
                    key,
                    self.url(vc, &req.model, "rawPredict"),
                    &body,
                    false,
                    native::native_of(req),
                )
                .await?;
            let bytes = read_body(&self.base.name, response).await?;
            return native::parse_response(
                &self.base.name,
                &bytes,
                native::native_of(req).is_some(),
                now_secs(),
            );
        }
        let body = crate::gemini::request::to_generate_request(req)?;
        let response = self
            .post(
                key,
                self.url(vc, &req.model, "generateContent"),
                &body,
                false,
                None,
            )
            .await?;
        let v: Value = read_json(&self.base.name, response).await?;
        crate::gemini::check_generate_response(&self.base.name, &v)?;
        crate::gemini::response::from_generate_response(
            &v,
            &req.model,
            now_secs(),
            &crate::http::new_completion_id(),
        )
        .map_err(|e| e.with_provider(&*self.base.name))
    }

    async fn chat_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let vc = self.vertex_config(key)?;
        let name = self.base.name.to_string();
        if is_anthropic(&req.model) {
            let body = Self::anthropic_body(req, true)?;
            let response = self
                .post(
                    key,
                    self.url(vc, &req.model, "streamRawPredict"),
                    &body,
                    true,
                    native::native_of(req),
                )
                .await?;
            let t = AnthropicStream::new(&self.base.name, now_secs())
                .keeping_frames(native::native_of(req).is_some());
            return Ok(Box::pin(
                translated_sse_stream(name, response.bytes_stream(), t).boxed(),
            ));
        }
        let body = crate::gemini::request::to_generate_request(req)?;
        let url = format!(
            "{}?alt=sse",
            self.url(vc, &req.model, "streamGenerateContent")
        );
        let response = self.post(key, url, &body, true, None).await?;
        let t = GeminiStream::new(&req.model, now_secs());
        Ok(Box::pin(
            translated_sse_stream(name, response.bytes_stream(), t).boxed(),
        ))
    }

    /// Text embeddings through the publisher model's `:predict` (Vertex's embeddings API).
    async fn embeddings(
        &self,
        key: Option<&KeyConfig>,
        req: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, GatewayError> {
        let vc = self.vertex_config(key)?;
        let texts: Vec<String> = match &req.input {
            EmbeddingInput::Text(t) => vec![t.clone()],
            EmbeddingInput::Texts(v) => v.clone(),
            _ => {
                return Err(GatewayError::invalid_request(
                    "vertex embeddings take text input, not token ids",
                    Some("input".to_owned()),
                ));
            }
        };
        let instances: Vec<Value> = texts.iter().map(|t| json!({"content": t})).collect();
        let mut body = json!({"instances": instances});
        if let (Some(d), Some(o)) = (req.dimensions, body.as_object_mut()) {
            o.insert("parameters".into(), json!({"outputDimensionality": d}));
        }
        let response = self
            .post(key, self.url(vc, &req.model, "predict"), &body, false, None)
            .await?;
        let v: Value = read_json(&self.base.name, response).await?;
        let predictions = v["predictions"].as_array().cloned().unwrap_or_default();
        let tokens: u64 = predictions
            .iter()
            .filter_map(|p| {
                p.pointer("/embeddings/statistics/token_count")
                    .and_then(Value::as_f64)
            })
            .map(|t| t as u64)
            .sum();
        let as_embeddings = json!({"embeddings": predictions
            .iter()
            .map(|p| json!({"values": p["embeddings"]["values"]}))
            .collect::<Vec<_>>()});
        let mut out = crate::gemini::response::from_embed_response(
            &as_embeddings,
            &req.model,
            req.encoding_format,
        );
        if let Some(u) = out.usage.as_mut() {
            u.prompt_tokens = tokens;
            u.total_tokens = tokens;
        }
        Ok(out)
    }

    async fn list_models(&self, _key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError> {
        Err(GatewayError::new(
            ErrorKind::InvalidRequest,
            format!(
                "provider '{}' (vertex) cannot list publisher models; declare them in the provider's `models`",
                self.base.name
            ),
        )
        .with_provider(&*self.base.name))
    }
}
