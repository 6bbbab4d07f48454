//! A Responses API request sent as the client wrote it, to OpenAI (`{base}/responses`) or
//! Azure OpenAI (its v1 API, `{endpoint}/openai/v1/responses`, the deployment as `model`).
//!
//! Why only these two: they are the providers that serve the Responses API itself; every
//! other provider (and the OpenAI-compatible family) gets the request translated to chat. The
//! pure parts — the body, the answer and the stream both ways — are
//! `heimdall_dialects::responses::native`.

use futures::StreamExt;
use heimdall_config::{KeyConfig, ProviderKind};
use heimdall_dialects::responses::native::{ResponsesUpstream, parse_response, upstream_body};
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::native::NativeRequest;
use serde_json::Value;

use super::{Answer, OpenAiCompatProvider};
use crate::http::missing_key_config;
use crate::provider::ChatStream;
use crate::sse_translate::translated_sse_stream;

impl OpenAiCompatProvider {
    /// Whether this provider takes a Responses request as written.
    pub(super) fn takes_responses(&self) -> bool {
        self.azure || self.kind == ProviderKind::OpenAi
    }

    /// POST the client's body; a non-2xx answer is an error (in OpenAI's shape, as parsed for
    /// every OpenAI call).
    async fn responses_call(
        &self,
        key: Option<&KeyConfig>,
        native: &NativeRequest,
        model: &str,
        stream: bool,
    ) -> Result<reqwest::Response, GatewayError> {
        let (url, model) = if self.azure {
            let az = key
                .and_then(|k| k.azure.as_ref())
                .ok_or_else(|| missing_key_config(&self.base.name, "azure_key_config"))?;
            let deployment = az.deployments.get(model).map_or(model, String::as_str);
            (
                format!("{}/openai/v1/responses", az.endpoint.trim_end_matches('/')),
                deployment,
            )
        } else {
            (self.base(key, "/responses")?, model)
        };
        let body = upstream_body(native, model, stream)?;
        let encoded = serde_json::to_vec(&body).map_err(|e| {
            GatewayError::internal(format!(
                "cannot encode request for '{}': {e}",
                self.base.name
            ))
        })?;
        let auth = self.auth_headers(key).await?;
        let rb = self
            .base
            .client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .headers(auth)
            .body(encoded);
        self.send(rb).await
    }

    /// The whole answer: canonical, with the upstream's object kept as `native`.
    pub(super) async fn responses_json(
        &self,
        key: Option<&KeyConfig>,
        native: &NativeRequest,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        let answer = async {
            self.responses_call(key, native, &req.model, false)
                .await
                .map(Answer::Reqwest)
        };
        let value: Value = self.json(answer).await?;
        parse_response(&self.base.name, value)
    }

    /// The stream: canonical chunks carrying the upstream's frames.
    pub(super) async fn responses_stream(
        &self,
        key: Option<&KeyConfig>,
        native: &NativeRequest,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        // Time to first byte is bounded by the request timeout; after that the engine's idle
        // deadline bounds the silence between events.
        let response = tokio::time::timeout(
            self.base.backstop,
            self.responses_call(key, native, &req.model, true),
        )
        .await
        .map_err(|_| self.timed_out("start answering"))??;
        let name = self.base.name.to_string();
        let translator = ResponsesUpstream::new(&name);
        Ok(translated_sse_stream(name, response.bytes_stream(), translator).boxed())
    }
}
