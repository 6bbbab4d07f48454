//! The dashboard's routes in the OpenAPI description: the log time series, the live log
//! stream, and trying a provider key.
//!
//! Why a file of its own: like the cache and governance, a family with its own answers (one of
//! them a server-sent event stream, not JSON), kept beside the table `openapi` checks against
//! the router.

use schemars::SchemaGenerator;
use serde_json::{Value, json};

use super::Auth::{Admin, Logs};
use super::{LOG_FILTERS, Op, Param, obj, op, p};

#[rustfmt::skip]
const SERIES: &[Param] = &[
    p("bucket_seconds", r#"{"type": "integer", "minimum": 1, "maximum": 86400}"#,
        "Bucket size in seconds (default: the smallest of 1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, … that splits the range into at most 60 parts)."),
    p("group_by", r#"{"enum": ["provider", "model", "virtual_key"]}"#,
        "Split the series: the 8 groups with most requests, then `(other)`; a missing value is `(none)`."),
];

/// The dashboard operations.
#[rustfmt::skip]
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/providers/{provider}/keys/{key_id}/test", Admin, "Try a key: list the provider's models with it, within the health-check timeout (body: none or `{}`; the outcome does not touch the circuit breakers)", (200, "KeyTestResult"), &[400, 404, 409, 502, 504]),
    op("get", "/api/logs/timeseries", Logs, "Requests, errors, latency percentiles, tokens and cost per time bucket over the records matching a filter (default: the last hour), optionally split by provider, model or virtual key", (200, "TimeSeries"), &[400, 503])
        .query(&[LOG_FILTERS, SERIES]),
    op("get", "/api/logs/stream", Logs, "Server-sent events: `ready` once subscribed, then `log` with each finished request's record (input and output null), `lagged` with `{\"missed\": n}` when the viewer fell behind, a `: keep-alive` comment every 15 s; ends when the gateway drains", (200, "LogRecord"), &[])
        .event_stream(),
];

/// The schemas derived from the answers' types.
pub(super) fn derive(generator: &mut SchemaGenerator) {
    generator.subschema_for::<heimdall_store::TimeSeries>();
}

/// The hand-written schemas (answers assembled with `json!`).
pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    let s = json!({"type": "string"});
    vec![(
        "KeyTestResult",
        obj(
            &["ok", "provider", "key", "latency_ms", "models"],
            json!({"ok": {"const": true}, "provider": s, "key": s,
                "latency_ms": {"type": "number", "minimum": 0},
                "models": {"type": "integer", "minimum": 0,
                    "description": "Models the provider listed for the key."}}),
        ),
    )]
}
