//! Amazon Bedrock: Converse (`request`, `response`, `stream` over AWS event-stream frames),
//! Claude's own Messages body inside InvokeModel (`claude`), and the embedding models
//! (`embed`).

pub mod claude;
pub mod client;
pub mod embed;
pub mod request;
pub mod response;
pub mod stream;
