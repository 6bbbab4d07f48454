//! The response cache's routes in the OpenAPI description (`/api/cache/*`): statistics and
//! removals.
//!
//! Why a file of its own: like governance, a family of routes with its own answers, kept
//! beside the route table `openapi` checks against the router.

use serde_json::{Value, json};

use super::Auth::{Admin, Read};
use super::{Op, obj, op};

/// The cache operations.
#[rustfmt::skip]
pub(super) const OPERATIONS: &[Op] = &[
    op("get", "/api/cache/stats", Read, "The response cache: backend, embedder, entries, bytes, indexed vectors, requests in flight, and counters of hits, misses, coalesced requests and stores since start", (200, "CacheStats"), &[503]),
    op("delete", "/api/cache/clear", Admin, "Remove every cache entry", (200, "CacheRemoved"), &[503]),
    op("delete", "/api/cache/clear/{request_id}", Admin, "Remove the entry a request stored (its x-request-id)", (200, "CacheRemoved"), &[503]),
    op("delete", "/api/cache/clear-by-key/{key}", Admin, "Remove every entry stored under a cache key (x-bf-cache-key, or the default key)", (200, "CacheRemoved"), &[503]),
];

/// The answers' schemas.
#[rustfmt::skip]
pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    let count = json!({"type": "integer", "minimum": 0});
    let nullable_count = json!({"type": ["integer", "null"], "minimum": 0});
    let nullable_str = json!({"type": ["string", "null"]});
    let counters = [
        "hits_exact", "hits_semantic", "misses", "coalesced", "semantic_lookups", "semantic_rejected", "stores",
        "store_errors", "lookup_errors", "embed_errors", "too_large",
    ];
    let counter_props: serde_json::Map<String, Value> =
        counters.iter().map(|c| ((*c).to_owned(), count.clone())).collect();
    vec![
        ("CacheStats", obj(
            &["enabled", "backend", "embedder", "entries", "bytes", "vectors_indexed", "in_flight", "ttl_seconds", "threshold", "counters"],
            json!({"enabled": {"type": "boolean"}, "backend": nullable_str, "embedder": nullable_str,
                "entries": nullable_count, "bytes": nullable_count, "vectors_indexed": count,
                "in_flight": count, "ttl_seconds": {"type": "number"}, "threshold": {"type": "number"},
                "counters": obj(&counters, Value::Object(counter_props))}),
        )),
        ("CacheRemoved", obj(&["removed"], json!({"removed": count}))),
    ]
}
