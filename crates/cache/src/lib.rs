//! The response cache: an exact tier (a hash of the request's canonical form) and a semantic
//! tier (nearest neighbour of the request text's embedding, among entries whose answer-changing
//! parameters match exactly), kept apart per tenant and per cache key, with identical requests
//! in flight coalesced into one upstream call.
//!
//! Why a plugin: a hit is decided after governance has identified (and admitted) the caller
//! and before any upstream work; the answer is stored from the same hooks that see every
//! complete answer and every stream chunk. Entries hold canonical answers, so a hit is
//! replayed in whatever dialect the client speaks.

pub mod answer;
pub mod assemble;
pub mod backend;
pub mod embed;
pub mod flight;
pub mod guard;
pub mod index;
pub mod key;
pub mod options;
pub mod plugin;
pub mod replay;
pub mod setup;
pub mod stats;

pub use answer::{CachedAnswer, StoredAnswer};
pub use backend::{BackendError, BackendStats, CacheBackend, Entry, VectorRecord};
pub use embed::Embedder;
pub use plugin::{COALESCED_ANNOTATION, ResponseCache};
pub use setup::SetupEnv;
pub use stats::StatsSnapshot;
