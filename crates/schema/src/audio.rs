//! Audio (`POST /v1/audio/speech`, `/v1/audio/transcriptions`, `/v1/audio/translations`): the
//! speech request, and the one answer shape of all three — bytes with their content type.
//!
//! Why bytes for the answers: speech answers audio (`mp3`, `opus`, `aac`, `flac`, `wav`,
//! `pcm`, or SSE with `stream_format: "sse"`), and a transcription answers JSON or plain text
//! (`text`, `srt`, `vtt`) depending on `response_format`. Passing the upstream's bytes and
//! content type through keeps every format exactly as the provider wrote it; the
//! transcription request itself is a form ([`crate::form::FormRequest`]).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::GatewayError;

/// A text-to-speech request (OpenAI's shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechRequest {
    /// Model, as `provider/model`, a bare name, or an alias.
    pub model: String,
    /// The text to speak.
    pub input: String,
    /// The voice (`alloy`, `nova`, …, or a custom voice object).
    pub voice: Value,
    /// Instructions on how to speak (newer models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// `mp3` (default), `opus`, `aac`, `flac`, `wav` or `pcm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<String>,
    /// 0.25 to 4.0 (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// `audio` (default) or `sse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_format: Option<String>,
    /// Fields not modelled here, forwarded untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The audio formats OpenAI's speech endpoint produces.
pub const SPEECH_FORMATS: [&str; 6] = ["mp3", "opus", "aac", "flac", "wav", "pcm"];

impl SpeechRequest {
    /// Check the constraints a request must meet before any provider sees it.
    pub fn validate(&self) -> Result<(), GatewayError> {
        let bad = |m: &str, p: &str| Err(GatewayError::invalid_request(m, Some(p.to_owned())));
        if self.model.trim().is_empty() {
            return bad("model must not be empty", "model");
        }
        if self.input.is_empty() {
            return bad("input must not be empty", "input");
        }
        if matches!(&self.voice, Value::Null) || self.voice.as_str().is_some_and(str::is_empty) {
            return bad("voice is required", "voice");
        }
        if let Some(f) = &self.response_format
            && !SPEECH_FORMATS.contains(&f.as_str())
        {
            return bad(
                &format!("response_format must be one of {SPEECH_FORMATS:?}, got '{f}'"),
                "response_format",
            );
        }
        if let Some(s) = self.speed
            && !(0.25..=4.0).contains(&s)
        {
            return bad("speed must be between 0.25 and 4.0", "speed");
        }
        if let Some(f) = &self.stream_format
            && f != "audio"
            && f != "sse"
        {
            return bad("stream_format must be 'audio' or 'sse'", "stream_format");
        }
        Ok(())
    }

    /// The content type of the audio format asked for (what OpenAI answers with).
    pub fn content_type(&self) -> &'static str {
        audio_content_type(self.response_format.as_deref().unwrap_or("mp3"))
    }
}

/// The content type OpenAI answers a speech format with.
pub fn audio_content_type(format: &str) -> &'static str {
    match format {
        "opus" => "audio/opus",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "pcm" => "audio/pcm",
        _ => "audio/mpeg",
    }
}

/// A piece of streamed speech audio, as the upstream sent it; the first names the content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioChunk {
    /// The upstream's content type, on the first chunk only.
    pub content_type: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
}

/// An answer passed through as the upstream sent it: audio, or a transcription in JSON or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryResponse {
    /// The upstream's content type (`audio/mpeg`, `application/json`, `text/plain; …`).
    pub content_type: String,
    /// The body.
    pub body: Bytes,
}

impl BinaryResponse {
    /// Whether the body is text a log may hold (JSON or `text/*`), not audio.
    pub fn is_text(&self) -> bool {
        let ct = self.content_type.to_ascii_lowercase();
        ct.starts_with("text/") || ct.starts_with("application/json")
    }

    /// Usage a transcription answer reports (`gpt-4o-transcribe`: `usage.input_tokens`,
    /// `output_tokens`, `total_tokens`), as canonical usage.
    pub fn usage(&self) -> Option<crate::usage::Usage> {
        if !self.content_type.starts_with("application/json") {
            return None;
        }
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        let u = v.get("usage")?;
        let input = u.get("input_tokens")?.as_u64()?;
        let output = u.get("output_tokens").and_then(Value::as_u64).unwrap_or(0);
        Some(crate::usage::Usage {
            prompt_tokens: input,
            completion_tokens: output,
            total_tokens: u
                .get("total_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(input + output),
            ..Default::default()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn speech_validation_names_the_field() {
        let ok: SpeechRequest = serde_json::from_value(
            serde_json::json!({"model": "tts-1", "input": "hi", "voice": "alloy", "response_format": "wav", "x": 1}),
        )
        .unwrap();
        assert!(ok.validate().is_ok());
        assert_eq!(ok.content_type(), "audio/wav");
        assert_eq!(ok.extra.get("x"), Some(&serde_json::json!(1)));
        for (patch, param) in [
            (serde_json::json!({"input": ""}), "input"),
            (serde_json::json!({"voice": ""}), "voice"),
            (
                serde_json::json!({"response_format": "ogg"}),
                "response_format",
            ),
            (serde_json::json!({"speed": 9.0}), "speed"),
            (serde_json::json!({"stream_format": "x"}), "stream_format"),
        ] {
            let mut v = serde_json::to_value(&ok).unwrap();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            let r: SpeechRequest = serde_json::from_value(v).unwrap();
            assert_eq!(r.validate().unwrap_err().param.as_deref(), Some(param));
        }
    }

    #[test]
    fn transcription_usage_is_read_from_json_answers_only() {
        let json = BinaryResponse {
            content_type: "application/json".into(),
            body: Bytes::from_static(br#"{"text":"hi","usage":{"type":"tokens","input_tokens":14,"output_tokens":3,"total_tokens":17}}"#),
        };
        assert_eq!(json.usage().map(|u| u.total_tokens), Some(17));
        assert!(json.is_text());
        let audio = BinaryResponse {
            content_type: "audio/mpeg".into(),
            body: Bytes::from_static(b"ID3"),
        };
        assert!(audio.usage().is_none() && !audio.is_text());
    }
}
