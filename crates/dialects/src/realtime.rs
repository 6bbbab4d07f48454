//! The OpenAI Realtime API's server events, read (never changed) as they pass through the
//! gateway: the usage of each `response.done`, summed over the session, and the text the model
//! sent, for the session's log record.
//!
//! Why read and not translate: the gateway pipes Realtime sessions byte for byte (the client
//! and the upstream speak the same protocol); it only needs what accounting needs. Both event
//! generations are understood: the GA names (`response.output_text.delta`,
//! `response.output_audio_transcript.delta`) and the beta ones (`response.text.delta`,
//! `response.audio_transcript.delta`); `response.done` carries usage in both.

use std::borrow::Cow;

use heimdall_schema::usage::{CompletionTokensDetails, PromptTokensDetails, Usage};
use serde::Deserialize;

/// What a session's server events added up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RealtimeTally {
    /// Usage summed over every `response.done` (None until one reported usage).
    pub usage: Option<Usage>,
    /// Responses that ended (`response.done`).
    pub responses: u64,
    /// Status of the last response (`completed`, `cancelled`, `failed`, `incomplete`).
    pub last_status: Option<String>,
    /// Text and audio transcript deltas, up to `cap` bytes.
    pub output: String,
    /// True when `output` stopped at the cap.
    pub output_truncated: bool,
    /// The message of the last `error` event.
    pub last_error: Option<String>,
}

#[derive(Deserialize)]
struct ServerEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    response: Option<DoneResponse>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct DoneResponse {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    usage: Option<RealtimeUsage>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
}

/// `response.usage` of a Realtime response.
#[derive(Deserialize, Default)]
struct RealtimeUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
    #[serde(default)]
    input_token_details: Option<TokenDetails>,
    #[serde(default)]
    output_token_details: Option<TokenDetails>,
}

#[derive(Deserialize, Default)]
struct TokenDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    audio_tokens: Option<u64>,
}

/// Server events whose `delta` is text the model produced.
const TEXT_DELTAS: [&str; 4] = [
    "response.output_text.delta",
    "response.text.delta",
    "response.output_audio_transcript.delta",
    "response.audio_transcript.delta",
];

fn add(total: &mut Option<u64>, more: Option<u64>) {
    if let Some(m) = more {
        *total = Some(total.unwrap_or(0) + m);
    }
}

impl RealtimeTally {
    /// Read one server event (a WebSocket text message), keeping at most `cap` bytes of output.
    /// Anything that is not a JSON event is ignored: the client still receives it as sent.
    pub fn observe(&mut self, message: &str, cap: usize) {
        let Ok(event) = serde_json::from_str::<ServerEvent<'_>>(message) else {
            return;
        };
        match event.kind.as_ref() {
            "response.done" => {
                self.responses += 1;
                if let Some(r) = event.response {
                    self.last_status = r.status;
                    if let Some(u) = r.usage {
                        self.add_usage(&u);
                    }
                }
            }
            "error" => {
                self.last_error = event.error.and_then(|e| e.message);
            }
            kind if TEXT_DELTAS.contains(&kind) => {
                if let Some(delta) = event.delta {
                    self.push_output(&delta, cap);
                }
            }
            _ => {}
        }
    }

    fn add_usage(&mut self, u: &RealtimeUsage) {
        let usage = self.usage.get_or_insert_with(Usage::default);
        usage.prompt_tokens += u.input_tokens;
        usage.completion_tokens += u.output_tokens;
        usage.total_tokens += if u.total_tokens > 0 {
            u.total_tokens
        } else {
            u.input_tokens + u.output_tokens
        };
        if let Some(d) = &u.input_token_details {
            let details = usage
                .prompt_tokens_details
                .get_or_insert_with(PromptTokensDetails::default);
            add(&mut details.cached_tokens, d.cached_tokens);
            add(&mut details.audio_tokens, d.audio_tokens);
        }
        if let Some(d) = &u.output_token_details {
            let details = usage
                .completion_tokens_details
                .get_or_insert_with(CompletionTokensDetails::default);
            add(&mut details.audio_tokens, d.audio_tokens);
        }
    }

    fn push_output(&mut self, delta: &str, cap: usize) {
        if self.output_truncated {
            return;
        }
        let room = cap.saturating_sub(self.output.len());
        if delta.len() <= room {
            self.output.push_str(delta);
            return;
        }
        let mut cut = room;
        while !delta.is_char_boundary(cut) {
            cut -= 1;
        }
        self.output.push_str(delta.get(..cut).unwrap_or_default());
        self.output_truncated = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_of_every_response_done_is_summed_with_its_details() {
        let mut t = RealtimeTally::default();
        t.observe(
            r#"{"type":"session.created","event_id":"e0","session":{}}"#,
            100,
        );
        t.observe(
            r#"{"type":"response.output_text.delta","delta":"Hel"}"#,
            100,
        );
        t.observe(r#"{"type":"response.text.delta","delta":"lo"}"#, 100);
        t.observe(
            r#"{"type":"response.done","response":{"status":"completed","usage":{"input_tokens":10,"output_tokens":4,"total_tokens":14,"input_token_details":{"cached_tokens":2,"audio_tokens":3},"output_token_details":{"audio_tokens":1}}}}"#,
            100,
        );
        t.observe(
            r#"{"type":"response.done","response":{"status":"cancelled","usage":{"input_tokens":5,"output_tokens":1}}}"#,
            100,
        );
        let u = t.usage.clone().unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (15, 5, 20)
        );
        assert_eq!(u.prompt_tokens_details.unwrap().cached_tokens, Some(2));
        assert_eq!(u.completion_tokens_details.unwrap().audio_tokens, Some(1));
        assert_eq!(t.responses, 2);
        assert_eq!(t.last_status.as_deref(), Some("cancelled"));
        assert_eq!(t.output, "Hello");
    }

    #[test]
    fn output_stops_at_the_cap_on_a_char_boundary_and_junk_is_ignored() {
        let mut t = RealtimeTally::default();
        t.observe("not json", 4);
        t.observe(r#"{"type":"response.output_text.delta","delta":"abé"}"#, 3);
        t.observe(r#"{"type":"response.output_text.delta","delta":"x"}"#, 3);
        assert_eq!(t.output, "ab");
        assert!(t.output_truncated);
        assert!(t.usage.is_none());
        t.observe(r#"{"type":"error","error":{"message":"bad event"}}"#, 3);
        assert_eq!(t.last_error.as_deref(), Some("bad event"));
    }
}
