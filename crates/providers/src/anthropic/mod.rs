//! Anthropic Messages API provider: `POST {base}/messages` with `x-api-key` and
//! `anthropic-version`, JSON and SSE, translated to and from the canonical (OpenAI) types.
//!
//! Why the translators live apart from the HTTP code: they are pure functions tested with golden
//! fixtures from Anthropic's published reference (`tests/fixtures/anthropic/`); this module
//! only adds authentication, headers and transport.

pub mod native;
pub use heimdall_dialects::anthropic::{request, response, stream};

use async_trait::async_trait;
use futures::StreamExt;
use heimdall_config::{KeyConfig, ProviderConfig};
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::models::Model;
use serde::Deserialize;

use crate::base::UpstreamBase;
use crate::http::{now_secs, openai_error, read_body, read_json, send_checked_with};
use crate::provider::{ChatStream, Provider};
use crate::sse_translate::translated_sse_stream;
use http::HeaderMap;

/// The API version sent unless `extra_headers` sets another.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// An Anthropic provider instance.
pub struct AnthropicProvider {
    base: UpstreamBase,
    base_url: Option<String>,
    set_version: bool,
}

impl AnthropicProvider {
    /// Build from a validated provider config.
    pub fn new(config: &ProviderConfig) -> Result<Self, GatewayError> {
        let set_version = !config
            .network
            .extra_headers
            .keys()
            .any(|h| h.eq_ignore_ascii_case("anthropic-version"));
        Ok(Self {
            base: UpstreamBase::new(config)?,
            base_url: config.base_url(),
            set_version,
        })
    }

    fn url(&self, key: Option<&KeyConfig>, path: &str) -> Result<String, GatewayError> {
        let base = key
            .and_then(|k| k.base_url.as_deref())
            .or(self.base_url.as_deref())
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::NoKeyAvailable,
                    format!("provider '{}' has no base URL configured", self.base.name),
                )
                .with_provider(&*self.base.name)
            })?;
        Ok(format!("{}{path}", base.trim_end_matches('/')))
    }

    fn authed(
        &self,
        rb: reqwest::RequestBuilder,
        key: Option<&KeyConfig>,
    ) -> reqwest::RequestBuilder {
        let mut rb = rb;
        if let Some(k) = key.filter(|k| !k.value.is_empty()) {
            rb = rb.header("x-api-key", k.value.expose());
        }
        if self.set_version {
            rb = rb.header("anthropic-version", ANTHROPIC_VERSION);
        }
        rb
    }

    async fn send(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<reqwest::Response, GatewayError> {
        let native = native::native_of(req);
        let encoded = match native {
            Some(n) => serde_json::to_vec(&native::messages_body(n, &req.model, stream)?),
            None => {
                let mut body = request::to_messages_request(req)?;
                if stream {
                    body.set_stream();
                }
                serde_json::to_vec(&body)
            }
        };
        let bytes = encoded.map_err(|e| {
            GatewayError::internal(format!(
                "cannot encode request for '{}': {e}",
                self.base.name
            ))
        })?;
        let rb = self
            .base
            .client
            .post(self.url(key, "/messages")?)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(bytes);
        let mut rb = native::with_headers(rb, native);
        if !stream {
            rb = rb.timeout(self.base.backstop);
        }
        self.execute(rb, key).await
    }

    /// Send with credentials; a non-2xx answer becomes a typed error.
    async fn execute(
        &self,
        rb: reqwest::RequestBuilder,
        key: Option<&KeyConfig>,
    ) -> Result<reqwest::Response, GatewayError> {
        send_checked_with(
            &self.base.name,
            self.authed(rb, key),
            anthropic_status_error,
        )
        .await
    }
}

#[derive(Deserialize)]
struct ModelPage {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
    #[serde(default)]
    created_at: Option<String>,
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.base.name
    }

    async fn chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError> {
        let response = self.send(key, req, false).await?;
        let bytes = read_body(&self.base.name, response).await?;
        native::parse_response(
            &self.base.name,
            &bytes,
            native::native_of(req).is_some(),
            now_secs(),
        )
    }

    async fn chat_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError> {
        let response = self.send(key, req, true).await?;
        let translator = stream::AnthropicStream::new(&self.base.name, now_secs())
            .keeping_frames(native::native_of(req).is_some());
        let s = translated_sse_stream(
            self.base.name.to_string(),
            response.bytes_stream(),
            translator,
        );
        Ok(Box::pin(s.boxed()))
    }

    async fn list_models(&self, key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError> {
        let rb = self
            .base
            .client
            .get(self.url(key, "/models?limit=1000")?)
            .timeout(self.base.backstop);
        let response = self.execute(rb, key).await?;
        let page: ModelPage = read_json(&self.base.name, response).await?;
        Ok(page
            .data
            .into_iter()
            .map(|m| Model {
                id: m.id,
                object: "model".to_owned(),
                created: m.created_at.as_deref().and_then(rfc3339_secs).unwrap_or(0),
                owned_by: "anthropic".to_owned(),
                extra: Default::default(),
            })
            .collect())
    }
}

/// Anthropic's errors (`{"type":"error","error":{"type","message"}}`), or any other body; the
/// 529 `overloaded_error` is a server-side condition OpenAI clients know as 503.
pub fn anthropic_status_error(
    provider: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> GatewayError {
    let mut e = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.pointer("/error/type").is_some() => {
            response::anthropic_error(provider, Some(status), &v)
        }
        _ => openai_error(provider, status, headers, body),
    };
    if status == 529 {
        e.kind = ErrorKind::UpstreamServer;
        e.status = 503;
    }
    e
}

/// Unix seconds of an RFC 3339 UTC time as Anthropic writes `created_at`
/// (`2025-02-19T00:00:00Z`, fractional seconds allowed); `None` for anything else.
fn rfc3339_secs(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::rfc3339_secs;

    #[test]
    fn model_creation_times_become_unix_seconds() {
        assert_eq!(rfc3339_secs("2025-02-19T00:00:00Z"), Some(1_739_923_200));
        assert_eq!(rfc3339_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_secs("2024-02-29T12:30:05.123Z"),
            Some(1_709_209_805)
        );
        assert_eq!(rfc3339_secs("yesterday"), None);
        assert_eq!(rfc3339_secs("2025-13-01T00:00:00Z"), None);
    }
}
