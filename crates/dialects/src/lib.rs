//! Every wire dialect Heimdall speaks, in both directions, as pure code: what a client of the
//! dialect sends and receives (`client_*`), what the gateway sends to and receives from a
//! provider of the dialect (`request`, `response`, `stream`), and the stream state machines.
//!
//! Why one IO-free crate: a dialect's knowledge used to be split between the providers crate
//! (upstream side) and the server (client side), in two styles; here each dialect's two sides
//! sit together, share their mappings, and are tested with golden fixtures and recorded
//! traffic without a socket. `heimdall-providers` keeps auth, URLs and transport; the server
//! keeps routes.

pub mod anthropic;
pub mod bedrock;
pub mod chunk;
pub mod client;
pub mod cohere;
pub mod conversation;
pub mod event;
pub mod gemini;
pub mod json;
pub mod multipart;
pub mod openai;
pub mod realtime;
pub mod responses;
pub mod sse;
pub mod translate;
