//! A request's log record, built from what the engine knows at its end: the context (routing,
//! attempts, timings), the result or the stream summary (status, usage, output), and the price.
//!
//! Why pure functions: what lands in the log (and in the metrics built from the same record)
//! is tested without a database or a server.

use std::time::UNIX_EPOCH;

use heimdall_core::{GatewayResponse, RequestContext, StreamSummary};
use heimdall_schema::error::GatewayError;
use heimdall_schema::usage::Usage;
use heimdall_store::{LogRecord, TrailEntry};

/// Header a client sends to keep one request's content out of the log.
pub const NO_CONTENT_HEADER: &str = "x-bf-disable-content-logging";
/// Context annotation holding the serialised input (set by the `pre` hook).
pub const INPUT_ANNOTATION: &str = "heimdall.log.input";

/// Most bytes of input or output stored per record.
pub const PAYLOAD_CAP: usize = 256 * 1024;

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Cut `s` to at most `cap` bytes on a character boundary.
pub fn capped(mut s: String, cap: usize) -> String {
    s.truncate(s.floor_char_boundary(cap));
    s
}

/// Token counts of a usage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tokens {
    /// Prompt tokens.
    pub prompt: u64,
    /// Completion tokens.
    pub completion: u64,
    /// Cached prompt tokens.
    pub cached: u64,
    /// Reasoning tokens.
    pub reasoning: u64,
}

impl Tokens {
    /// From an OpenAI usage.
    pub fn of(u: &Usage) -> Self {
        Self {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
            cached: u
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning: u
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

/// Usage of a complete response, as an OpenAI usage (embeddings have prompt tokens only).
pub fn usage_of(r: &GatewayResponse) -> Option<Usage> {
    match r {
        GatewayResponse::Chat(c) => c.usage.clone(),
        GatewayResponse::Completion(c) => c.usage.clone(),
        GatewayResponse::Embedding(e) => e.usage.as_ref().map(|u| Usage {
            prompt_tokens: u.prompt_tokens,
            total_tokens: u.total_tokens,
            ..Usage::default()
        }),
        GatewayResponse::Binary(b) => b.usage(),
        GatewayResponse::Images(i) => i.token_usage(),
        GatewayResponse::Rerank(r) => r.tokens().map(|t| Usage {
            prompt_tokens: t,
            total_tokens: t,
            ..Usage::default()
        }),
    }
}

/// Text and finish reason of a complete response's first choice; for audio, images and rerank
/// what a log may hold: a transcription's text, never audio bytes or image data.
fn output_of(r: &GatewayResponse) -> (Option<String>, Option<String>) {
    match r {
        GatewayResponse::Binary(b) if b.is_text() => {
            let cut = b
                .body
                .get(..PAYLOAD_CAP.min(b.body.len()))
                .unwrap_or_default();
            (Some(String::from_utf8_lossy(cut).into_owned()), None)
        }
        GatewayResponse::Binary(b) => (
            Some(format!("<{} bytes of {}>", b.body.len(), b.content_type)),
            None,
        ),
        GatewayResponse::Images(i) => (Some(i.summary().to_string()), None),
        GatewayResponse::Rerank(r) => (serde_json::to_string(&r.results).ok(), None),
        other => chat_output_of(other),
    }
}

/// Text and finish reason of a chat or completion's first choice.
fn chat_output_of(r: &GatewayResponse) -> (Option<String>, Option<String>) {
    match r {
        GatewayResponse::Chat(c) => c.choices.first().map_or((None, None), |ch| {
            let text = ch.message.content.clone().or_else(|| {
                ch.message
                    .tool_calls
                    .as_ref()
                    .and_then(|t| serde_json::to_string(t).ok())
            });
            (text, ch.finish_reason.clone())
        }),
        GatewayResponse::Completion(c) => c.choices.first().map_or((None, None), |ch| {
            (Some(ch.text.clone()), ch.finish_reason.clone())
        }),
        GatewayResponse::Embedding(_)
        | GatewayResponse::Binary(_)
        | GatewayResponse::Images(_)
        | GatewayResponse::Rerank(_) => (None, None),
    }
}

/// The record skeleton every request shares.
fn base(ctx: &RequestContext) -> LogRecord {
    LogRecord {
        id: ctx.request_id.clone(),
        timestamp_ms: ctx
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        route: ctx.route.to_owned(),
        operation: ctx.operation.as_str().to_owned(),
        provider: ctx.provider.clone(),
        model_requested: ctx.requested_model.clone(),
        model: ctx.upstream_model.clone(),
        key_name: ctx.key_name.clone(),
        // Virtual key, team and customer ids as governance annotated them (ids, never the key).
        virtual_key_id: ctx.annotations.get("governance.virtual_key_id").cloned(),
        team_id: ctx.annotations.get("governance.team_id").cloned(),
        customer_id: ctx.annotations.get("governance.customer_id").cloned(),
        stream: ctx.stream,
        latency_ms: ms(ctx.received_at.elapsed()),
        overhead_ms: ms(ctx.overhead()),
        attempts: i64::from(ctx.attempts),
        retries: i64::from(ctx.retries),
        fallback_index: ctx.fallback_index as i64,
        trail: ctx
            .trail
            .iter()
            .map(|a| TrailEntry {
                provider: a.provider.clone(),
                model: a.model.clone(),
                key_name: a.key_name.clone(),
                status: a.status,
                error: a.error.map(str::to_owned),
                latency_ms: ms(a.latency),
            })
            .collect(),
        input: ctx.annotations.get(INPUT_ANNOTATION).cloned(),
        client_request_id: ctx.client_request_id.clone(),
        cache: ctx.cache.map(|c| c.as_str().to_owned()),
        ..LogRecord::default()
    }
}

fn set_usage(r: &mut LogRecord, usage: Option<&Usage>) {
    if let Some(u) = usage {
        let t = Tokens::of(u);
        r.prompt_tokens = t.prompt as i64;
        r.completion_tokens = t.completion as i64;
        r.cached_tokens = t.cached as i64;
        r.reasoning_tokens = t.reasoning as i64;
        r.total_tokens = (t.prompt + t.completion) as i64;
    }
}

fn set_error(r: &mut LogRecord, e: &GatewayError) {
    r.success = false;
    r.error_type = Some(e.kind.as_str().to_owned());
    r.error = Some(e.message.clone());
}

/// The record of a non-streamed request (or a stream that failed before its first chunk).
pub fn from_result(
    ctx: &RequestContext,
    result: &Result<GatewayResponse, GatewayError>,
    keep_content: bool,
) -> LogRecord {
    let mut r = base(ctx);
    match result {
        Ok(resp) => {
            r.status = 200;
            r.success = true;
            set_usage(&mut r, usage_of(resp).as_ref());
            let (text, finish) = output_of(resp);
            r.finish_reason = finish;
            if keep_content {
                r.output = text.map(|t| capped(t, PAYLOAD_CAP));
            }
        }
        Err(e) => {
            r.status = i64::from(e.status);
            set_error(&mut r, e);
        }
    }
    if !keep_content {
        r.input = None;
    }
    r
}

/// Status of a request whose client left before its answer (nginx's "client closed request").
pub const CLIENT_CLOSED_REQUEST: i64 = 499;

/// The record of a request whose client left before it had an answer: what the context
/// knows (routing, attempts so far, timings), status 499, no output.
pub fn abandoned(ctx: &RequestContext, keep_content: bool) -> LogRecord {
    let mut r = base(ctx);
    r.status = CLIENT_CLOSED_REQUEST;
    r.success = false;
    r.client_disconnected = true;
    r.error_type = Some("client_closed_request".to_owned());
    r.error = Some("the client closed the connection before the answer".to_owned());
    if !keep_content {
        r.input = None;
    }
    r
}

/// The record of a stream that started (its status was 200 to the client, whatever followed).
pub fn from_stream(ctx: &RequestContext, s: &StreamSummary, keep_content: bool) -> LogRecord {
    let mut r = base(ctx);
    r.status = 200;
    r.success = s.completed && s.error.is_none();
    r.latency_ms = ms(s.duration);
    r.ttft_ms = s.time_to_first_chunk.map(ms);
    r.finish_reason = s.finish_reason.clone();
    r.client_disconnected = s.client_disconnected;
    set_usage(&mut r, s.usage.as_ref());
    if let Some(e) = &s.error {
        set_error(&mut r, e);
    } else if s.client_disconnected {
        r.error_type = Some("client_disconnected".to_owned());
    }
    if keep_content {
        r.output = Some(capped(s.output.clone(), PAYLOAD_CAP)).filter(|o| !o.is_empty());
    } else {
        r.input = None;
    }
    r
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use heimdall_core::Operation;
    use heimdall_core::context::AttemptRecord;
    use heimdall_schema::error::ErrorKind;

    use super::*;

    fn ctx() -> RequestContext {
        let mut c = RequestContext::new("req-1".into(), Operation::Chat, "openai/gpt-4o".into())
            .in_route("anthropic");
        c.provider = Some("openai".into());
        c.upstream_model = Some("gpt-4o".into());
        c.attempts = 2;
        c.retries = 1;
        c.trail.push(AttemptRecord {
            provider: "openai".into(),
            model: "gpt-4o".into(),
            key_name: Some("k".into()),
            status: 503,
            error: Some("upstream_server"),
            latency: Duration::from_millis(5),
            started: Duration::from_millis(1),
            queued: Duration::ZERO,
            span_id: None,
        });
        c.annotations.insert(
            INPUT_ANNOTATION.into(),
            r#"[{"role":"user","content":"hi"}]"#.into(),
        );
        c
    }

    #[test]
    fn an_error_keeps_status_type_and_trail() {
        let e = GatewayError::new(ErrorKind::UpstreamTimeout, "slow");
        let r = from_result(&ctx(), &Err(e), true);
        assert_eq!(r.status, 504);
        assert!(!r.success);
        assert_eq!(r.error_type.as_deref(), Some("upstream_timeout"));
        assert_eq!(r.route, "anthropic");
        assert_eq!(r.trail[0].status, 503);
        assert_eq!((r.attempts, r.retries), (2, 1));
        assert!(r.input.is_some());
        let hidden = from_result(&ctx(), &Err(GatewayError::internal("x")), false);
        assert!(hidden.input.is_none() && hidden.output.is_none());
    }

    #[test]
    fn a_cut_stream_is_a_failure_with_its_partial_output() {
        let s = StreamSummary {
            chunks: 3,
            output: "Hello wor".into(),
            error: Some(GatewayError::new(ErrorKind::UpstreamProtocol, "cut")),
            time_to_first_chunk: Some(Duration::from_millis(7)),
            duration: Duration::from_millis(20),
            ..StreamSummary::default()
        };
        let r = from_stream(&ctx(), &s, true);
        assert_eq!(r.status, 200);
        assert!(!r.success);
        assert_eq!(r.output.as_deref(), Some("Hello wor"));
        assert_eq!(r.ttft_ms, Some(7.0));
        assert_eq!(r.error_type.as_deref(), Some("upstream_protocol"));
    }

    #[test]
    fn payloads_are_capped_on_a_char_boundary() {
        let s = capped("é".repeat(10), 5);
        assert_eq!(s, "éé");
    }
}
