//! The Heimdall engine, usable as a library: runtime snapshot, routing, key selection, retries,
//! the plugin pipeline and stream observation.
//!
//! Why a library crate: the HTTP server is one transport over it; Rust users can embed the same
//! engine in-process (as Bifrost's Go package is used), and tests drive it without a socket.

mod abandon;
pub mod attempt;
pub mod balance;
pub mod context;
pub mod deadline;
pub mod engine;
pub mod fallback;
pub mod health;
pub mod keys;
pub mod limiter;
pub mod plugin;
pub mod probe;
pub mod realtime;
pub mod redact;
pub mod routing;
pub mod runtime;
pub mod stream;
pub mod task;

pub use context::{
    CacheStatus, Credential, KeyAllowList, Operation, PluginState, RequestContext, TraceIds,
};
pub use engine::{Gateway, Outcome};
pub use plugin::{
    GatewayRequest, GatewayResponse, Pipeline, Plugin, PreOutcome, PreStream, StreamChunk,
    StreamSummary,
};
pub use runtime::{ProviderEntry, Runtime};
pub use stream::{BoxChunkStream, ObservedChunk, ObservedStream};
