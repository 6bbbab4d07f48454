//! Images (`POST /v1/images/generations`, `/v1/images/edits`): the generation request and the
//! one answer shape of both.
//!
//! The edit request is a form ([`crate::form::FormRequest`]: `image`/`image[]` files, `mask`,
//! `prompt`, …); a generation is JSON. Both answer `{created, data: [{url | b64_json,
//! revised_prompt}], usage?}`; fields not modelled here (`background`, `output_format`,
//! `quality`, `size` on GPT image answers) pass through in `extra`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::GatewayError;

/// An image generation request (OpenAI's shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageGenerationRequest {
    /// Model, as `provider/model`, a bare name, or an alias. Required here (OpenAI defaults to
    /// `dall-e-2`; the gateway needs it to route).
    pub model: String,
    /// What to draw.
    pub prompt: String,
    /// How many images (1–10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// `1024x1024`, `1536x1024`, `auto`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// `standard`, `hd`, `low`, `medium`, `high`, `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// `url` or `b64_json` (DALL·E models; GPT image models always answer `b64_json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<String>,
    /// `vivid` or `natural` (DALL·E 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// `transparent`, `opaque` or `auto` (GPT image models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// `png`, `jpeg` or `webp` (GPT image models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// Fields not modelled here (`moderation`, `output_compression`, `user`, …), forwarded.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageGenerationRequest {
    /// Check the constraints a request must meet before any provider sees it.
    pub fn validate(&self) -> Result<(), GatewayError> {
        let bad = |m: &str, p: &str| Err(GatewayError::invalid_request(m, Some(p.to_owned())));
        if self.model.trim().is_empty() {
            return bad("model must not be empty", "model");
        }
        if self.prompt.trim().is_empty() {
            return bad("prompt must not be empty", "prompt");
        }
        if self.n.is_some_and(|n| !(1..=10).contains(&n)) {
            return bad("n must be between 1 and 10", "n");
        }
        if let Some(f) = &self.response_format
            && f != "url"
            && f != "b64_json"
        {
            return bad(
                "response_format must be 'url' or 'b64_json'",
                "response_format",
            );
        }
        Ok(())
    }
}

/// An images answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagesResponse {
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The images.
    #[serde(default)]
    pub data: Vec<ImageData>,
    /// Token usage (GPT image models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One image of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageData {
    /// Where to fetch it (`response_format: "url"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The image, base64 (`response_format: "b64_json"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    /// The prompt the model actually used (DALL·E 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImagesResponse {
    /// Canonical usage from `usage.input_tokens` / `output_tokens` (GPT image models).
    pub fn token_usage(&self) -> Option<crate::usage::Usage> {
        let u = self.usage.as_ref()?;
        let input = u.get("input_tokens")?.as_u64()?;
        let output = u.get("output_tokens").and_then(Value::as_u64).unwrap_or(0);
        Some(crate::usage::Usage {
            prompt_tokens: input,
            completion_tokens: output,
            total_tokens: input + output,
            ..Default::default()
        })
    }

    /// What a log may hold of the answer: per image whether it is a URL or base64 (and its
    /// length), never the image itself.
    pub fn summary(&self) -> Value {
        let data: Vec<Value> = self
            .data
            .iter()
            .map(|d| match (&d.url, &d.b64_json) {
                (Some(u), _) => serde_json::json!({"url": u}),
                (None, Some(b)) => serde_json::json!({"b64_json_bytes": b.len()}),
                (None, None) => serde_json::json!({}),
            })
            .collect();
        serde_json::json!({"created": self.created, "data": data})
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generation_request_keeps_unknown_fields_and_checks_known_ones() {
        let r: ImageGenerationRequest = serde_json::from_value(serde_json::json!({
            "model": "dall-e-3", "prompt": "a cat", "n": 1, "moderation": "low"}))
        .unwrap();
        assert!(r.validate().is_ok());
        assert_eq!(r.extra.get("moderation"), Some(&serde_json::json!("low")));
        let mut bad = r.clone();
        bad.n = Some(11);
        assert_eq!(bad.validate().unwrap_err().param.as_deref(), Some("n"));
        let mut bad = r;
        bad.prompt = " ".into();
        assert_eq!(bad.validate().unwrap_err().param.as_deref(), Some("prompt"));
    }

    #[test]
    fn summary_never_holds_the_image() {
        let r: ImagesResponse = serde_json::from_value(serde_json::json!({
            "created": 1, "data": [{"b64_json": "iVBORw0KGgo="}],
            "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}}))
        .unwrap();
        assert!(!r.summary().to_string().contains("iVBOR"));
        assert_eq!(r.token_usage().map(|u| u.total_tokens), Some(30));
    }
}
