//! Cohere v2 chat and embed: the upstream side (`request`, `response`, `stream`).

pub mod client;
pub mod request;
pub mod response;
pub mod stream;
