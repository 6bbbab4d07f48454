//! Upstream providers: the `Provider` trait, the HTTP plumbing they share, and one module per
//! wire dialect.
//!
//! Why a separate crate: provider code is where wire quirks live; keeping it apart from the
//! engine means business logic only ever sees canonical types, and translators can be tested
//! (and later fuzzed and benchmarked) without the rest of the gateway.

pub mod anthropic;
pub mod base;
pub mod bedrock;
pub mod cohere;
pub mod direct;
pub mod gemini;
pub mod google_auth;
pub mod http;
pub mod oauth;
pub mod openai_compat;
pub mod provider;
pub mod realtime;
pub mod registry;
pub mod sse_json;
pub mod sse_translate;
pub mod vertex;

pub use heimdall_dialects::{chunk, sse, translate};
pub use provider::{ChatStream, CompletionStream, Provider};
pub use registry::build_provider;
