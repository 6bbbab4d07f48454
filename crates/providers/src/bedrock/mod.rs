//! AWS Bedrock provider: the Converse and ConverseStream APIs
//! (`POST https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse[-stream]`),
//! signed with SigV4 (`aws-sigv4`; access key, secret, optional session token, region per key)
//! or authorised with a Bedrock API key (bearer), streams decoded from AWS event-stream frames.
//!
//! Why the model id is percent-encoded: ids and ARNs contain `:` and `/`; AWS SDKs send them
//! encoded and sign the encoded path, so the gateway does the same and signs exactly the URL
//! it sends.

pub mod stream;

pub use heimdall_dialects::bedrock::{claude, embed, request, response};

use std::time::SystemTime;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use futures::StreamExt;
use heimdall_config::{BedrockKeyConfig, KeyConfig, ProviderConfig};
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{
    Embedding, EmbeddingRequest, EmbeddingResponse, EmbeddingVector, EncodingFormat,
};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::models::Model;
use heimdall_schema::native::NativeRequest;
use heimdall_schema::usage::EmbeddingUsage;
use serde_json::Value;

use crate::base::UpstreamBase;
use crate::http::now_secs;
use crate::http::{
    host_override, missing_key_config, read_body, read_json, send_checked_with, upstream_message,
};
use crate::provider::{ChatStream, Provider};
use http::HeaderMap;

/// A Bedrock provider instance.
pub struct BedrockProvider {
    base: UpstreamBase,
    /// Replaces `https://bedrock-runtime.{region}.amazonaws.com` (tests, VPC endpoints).
    host_override: Option<String>,
}

/// Percent-encode everything but RFC 3986 unreserved characters (one path segment).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a request.
pub fn sigv4_headers(
    cfg: &BedrockKeyConfig,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity = Credentials::new(
        cfg.access_key.expose(),
        cfg.secret_key.expose(),
        cfg.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "heimdall",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&cfg.region)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

impl BedrockProvider {
    /// Build from a validated provider config.
    pub fn new(config: &ProviderConfig) -> Result<Self, GatewayError> {
        let host_override = host_override(config);
        Ok(Self {
            base: UpstreamBase::new(config)?,
            host_override,
        })
    }

    fn bedrock_config<'k>(
        &self,
        key: Option<&'k KeyConfig>,
    ) -> Result<&'k BedrockKeyConfig, GatewayError> {
        key.and_then(|k| k.bedrock.as_ref())
            .ok_or_else(|| missing_key_config(&self.base.name, "bedrock_key_config"))
    }

    /// The client's Anthropic body when the request came as one and the model is Claude:
    /// such a request goes through InvokeModel as written ([`claude`]).
    fn claude_native<'r>(
        &self,
        key: Option<&KeyConfig>,
        req: &'r ChatRequest,
    ) -> Result<Option<&'r NativeRequest>, GatewayError> {
        let Some(native) = crate::anthropic::native::native_of(req) else {
            return Ok(None);
        };
        let cfg = self.bedrock_config(key)?;
        let id = cfg.deployments.get(&req.model).unwrap_or(&req.model);
        Ok(claude::is_claude(id).then_some(native))
    }

    fn url(&self, cfg: &BedrockKeyConfig, model: &str, op: &str) -> String {
        let id = cfg.deployments.get(model).map_or(model, String::as_str);
        let host = self
            .host_override
            .clone()
            .unwrap_or_else(|| format!("https://bedrock-runtime.{}.amazonaws.com", cfg.region));
        format!("{host}/model/{}/{op}", encode_segment(id))
    }

    async fn post(
        &self,
        key: Option<&KeyConfig>,
        model: &str,
        op: &str,
        body: &Value,
        stream: bool,
    ) -> Result<reqwest::Response, GatewayError> {
        let cfg = self.bedrock_config(key)?;
        let url = self.url(cfg, model, op);
        let bytes = serde_json::to_vec(body)
            .map_err(|e| GatewayError::internal(format!("cannot encode request: {e}")))?;
        let host = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| {
                    u.port()
                        .map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"))
                })
            })
            .unwrap_or_default();
        let accept = if stream {
            "application/vnd.amazon.eventstream"
        } else {
            "application/json"
        };
        let mut rb = self
            .base
            .client
            .post(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, accept);
        if cfg.access_key.is_empty() {
            // Bedrock API key: bearer auth, no signature.
            let value = key.map(|k| k.value.expose()).unwrap_or("");
            rb = rb.bearer_auth(value);
        } else {
            let signed = sigv4_headers(
                cfg,
                "POST",
                &url,
                &[
                    ("host", &host),
                    ("content-type", "application/json"),
                    ("accept", accept),
                ],
                &bytes,
                SystemTime::now(),
            )
            .map_err(|e| {
                GatewayError::new(
                    ErrorKind::UpstreamAuth,
                    format!(
                        "provider '{}': cannot sign the request: {e}",
                        self.base.name
                    ),
                )
                .with_provider(&*self.base.name)
            })?;
            for (k, v) in signed {
                rb = rb.header(k, v);
            }
        }
        rb = rb.body(bytes);
        if !stream {
            rb = rb.timeout(self.base.backstop);
        }
        send_checked_with(&self.base.name, rb, aws_error).await
    }
}

/// An AWS error (`x-amzn-errortype: Type:…`, body `{"message": …}`) → a typed error; the AWS
/// error type becomes the code.
pub fn aws_error(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> GatewayError {
    let kind = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_owned());
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or(v.get("Message"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| upstream_message(body));
    let mut e =
        GatewayError::from_upstream_status(status, format!("provider '{provider}': {message}"))
            .with_provider(provider);
    if let Some(k) = kind {
        e = e.with_code(k);
    }
    e
}

fn response_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map_or_else(
            || format!("chatcmpl-{:032x}", rand::random::<u128>()),
            |id| format!("chatcmpl-{id}"),
        )
}

#[async_trait]
impl Provider for BedrockProvider {
    fn name(&self) -> &str {
        &self.base.name
    }

    async fn chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        if let Some(native) = self.claude_native(key, req)? {
            let body = Value::Object(claude::invoke_body(native)?);
            let response = self.post(key, &req.model, "invoke", &body, false).await?;
            let bytes = read_body(&self.base.name, response).await?;
            return crate::anthropic::native::parse_response(
                &self.base.name,
                &bytes,
                true,
                now_secs(),
            );
        }
        let body = request::to_converse_request(req)?;
        let response = self.post(key, &req.model, "converse", &body, false).await?;
        let id = response_id(&response);
        let v: Value = read_json(&self.base.name, response).await?;
        // Converse's documented answer: `output.message.content` is an array.
        if !v
            .pointer("/output/message/content")
            .is_some_and(Value::is_array)
        {
            return Err(crate::http::invalid_json_response(
                &self.base.name,
                "output.message.content",
                &v,
            ));
        }
        Ok(response::from_converse_response(
            &v,
            &id,
            &req.model,
            now_secs(),
        ))
    }

    async fn chat_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        if let Some(native) = self.claude_native(key, req)? {
            let body = Value::Object(claude::invoke_body(native)?);
            let response = self
                .post(key, &req.model, "invoke-with-response-stream", &body, true)
                .await?;
            let t = claude::ClaudeInvokeStream::new(&self.base.name, now_secs());
            return Ok(Box::pin(
                stream::converse_stream(self.base.name.to_string(), response.bytes_stream(), t)
                    .boxed(),
            ));
        }
        let body = request::to_converse_request(req)?;
        let response = self
            .post(key, &req.model, "converse-stream", &body, true)
            .await?;
        let id = response_id(&response);
        let t = stream::BedrockStream::new(&id, &req.model, now_secs());
        Ok(Box::pin(
            stream::converse_stream(self.base.name.to_string(), response.bytes_stream(), t).boxed(),
        ))
    }

    async fn embeddings(
        &self,
        key: Option<&KeyConfig>,
        req: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, GatewayError> {
        let cfg = self.bedrock_config(key)?;
        let id = cfg
            .deployments
            .get(&req.model)
            .map_or(req.model.as_str(), String::as_str);
        let family = embed::family(id)?;
        let texts = embed::texts(req)?;
        let calls = embed::bodies(family, req, &texts)
            .into_iter()
            .map(|body| async move {
                let response = self.post(key, &req.model, "invoke", &body, false).await?;
                read_json::<Value>(&self.base.name, response).await
            });
        let answers = futures::future::try_join_all(calls).await?;
        let (vectors, tokens) = embed::vectors(family, &answers);
        Ok(EmbeddingResponse {
            object: "list".to_owned(),
            data: vectors
                .into_iter()
                .enumerate()
                .map(|(i, v)| Embedding {
                    object: "embedding".to_owned(),
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    embedding: match req.encoding_format {
                        Some(EncodingFormat::Base64) => {
                            EmbeddingVector::Base64(EmbeddingVector::encode_base64(&v))
                        }
                        _ => EmbeddingVector::Float(v),
                    },
                    extra: Default::default(),
                })
                .collect(),
            model: req.model.clone(),
            usage: Some(EmbeddingUsage {
                prompt_tokens: tokens,
                total_tokens: tokens,
                extra: Default::default(),
            }),
            extra: Default::default(),
        })
    }

    async fn list_models(&self, _key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError> {
        Err(GatewayError::new(
            ErrorKind::InvalidRequest,
            format!(
                "provider '{}' (bedrock) does not list models; declare them in `models` or key deployments",
                self.base.name
            ),
        )
        .with_provider(&*self.base.name))
    }
}
