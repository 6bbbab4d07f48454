//! One request's log record, as written and as the query API returns it.

use serde::{Deserialize, Serialize};

/// One upstream attempt in a record's trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrailEntry {
    /// Provider name.
    pub provider: String,
    /// Model sent upstream.
    pub model: String,
    /// Key name (never the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// HTTP status of the attempt.
    pub status: u16,
    /// Failure class, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds waiting on the upstream.
    pub latency_ms: f64,
}

/// One request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct LogRecord {
    /// Request id (the `x-request-id` the client saw).
    pub id: String,
    /// Arrival, Unix milliseconds.
    pub timestamp_ms: i64,
    /// API dialect the client spoke (`openai`, `anthropic`, …).
    pub route: String,
    /// `chat`, `completion`, `embedding`.
    pub operation: String,
    /// Provider that served (or last tried).
    pub provider: Option<String>,
    /// Model as the client named it.
    pub model_requested: String,
    /// Model sent upstream on the last attempt.
    pub model: Option<String>,
    /// Provider key name (never the key).
    pub key_name: Option<String>,
    /// Virtual key id (governance).
    pub virtual_key_id: Option<String>,
    /// Team id (governance).
    pub team_id: Option<String>,
    /// Customer id (governance).
    pub customer_id: Option<String>,
    /// HTTP status the client received.
    pub status: i64,
    /// True for a successful request (a stream that ended cleanly).
    pub success: bool,
    /// Failure class (`upstream_timeout`, `model_not_found`, …).
    pub error_type: Option<String>,
    /// Failure message.
    pub error: Option<String>,
    /// Streamed answer.
    pub stream: bool,
    /// Milliseconds to the first chunk (streams).
    pub ttft_ms: Option<f64>,
    /// Milliseconds from arrival to the end of the answer.
    pub latency_ms: f64,
    /// Milliseconds spent in the gateway itself (latency minus upstream and queue waits).
    pub overhead_ms: f64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Prompt tokens read from the provider's cache.
    pub cached_tokens: i64,
    /// Reasoning tokens (part of completion tokens).
    pub reasoning_tokens: i64,
    /// Prompt + completion.
    pub total_tokens: i64,
    /// USD; `None` when unpriced or nothing was used.
    pub cost: Option<f64>,
    /// No price is known for the model.
    pub unpriced: bool,
    /// Upstream attempts (1 = no retry, no fallback).
    pub attempts: i64,
    /// Retries after failed attempts.
    pub retries: i64,
    /// Position of the serving target in the fallback plan.
    pub fallback_index: i64,
    /// Every attempt.
    pub trail: Vec<TrailEntry>,
    /// Last finish reason.
    pub finish_reason: Option<String>,
    /// The stream ended because the client went away.
    pub client_disconnected: bool,
    /// The client's own `x-request-id`, when it sent one (the record's id is always the
    /// gateway's: a client reusing an id still gets one record per request).
    pub client_request_id: Option<String>,
    /// What the response cache did: `hit-exact`, `hit-semantic`, `miss`; absent when it did
    /// not look (off, or the request had no cache key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// For a cache hit: USD the provider call would have cost (`cost` is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_saved: Option<f64>,
    /// Input messages as JSON (absent when content logging is off).
    pub input: Option<String>,
    /// Output text (absent when content logging is off).
    pub output: Option<String>,
}

impl LogRecord {
    /// Bytes the record holds in memory (itself, its strings and its trail), as the allocator
    /// sees them: what the writer's byte bound counts. Capacities, not lengths (a text built up
    /// from stream deltas holds more than it shows), each allocation rounded up to 16 bytes
    /// plus 16 of allocator overhead — measured, a queue counted by lengths alone held 1.7×
    /// its bound in resident memory.
    pub fn approx_bytes(&self) -> usize {
        fn heap(capacity: usize) -> usize {
            if capacity == 0 {
                0
            } else {
                capacity.next_multiple_of(16) + 16
            }
        }
        let opt = |s: &Option<String>| s.as_ref().map_or(0, |s| heap(s.capacity()));
        std::mem::size_of::<Self>()
            + [
                &self.id,
                &self.route,
                &self.operation,
                &self.model_requested,
            ]
            .into_iter()
            .map(|s| heap(s.capacity()))
            .sum::<usize>()
            + [
                &self.provider,
                &self.model,
                &self.key_name,
                &self.virtual_key_id,
                &self.team_id,
                &self.customer_id,
                &self.error_type,
                &self.error,
                &self.finish_reason,
                &self.client_request_id,
                &self.cache,
                &self.input,
                &self.output,
            ]
            .into_iter()
            .map(opt)
            .sum::<usize>()
            + heap(self.trail.capacity() * std::mem::size_of::<TrailEntry>())
            + self
                .trail
                .iter()
                .map(|t| {
                    heap(t.provider.capacity())
                        + heap(t.model.capacity())
                        + opt(&t.key_name)
                        + opt(&t.error)
                })
                .sum::<usize>()
    }
}
