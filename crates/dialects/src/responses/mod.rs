//! The OpenAI Responses API (`POST /v1/responses`) as a client dialect, translated through the
//! canonical chat model so every provider can serve it.
//!
//! Why not a `ClientDialect`: a Responses request may continue a stored conversation
//! (`previous_response_id`) and its answer is stored for the next turn, so the route reads the
//! store before translating and writes it before the final event; the translation itself stays
//! pure code here — request items → messages (`request`), the answer → a response object
//! (`response`), chunks → typed events (`stream`).

pub mod native;
pub mod request;
pub mod response;
pub mod stream;

pub use request::{ResponsesRequest, Translated, to_chat};
pub use response::{Echo, to_response};
pub use stream::ResponsesStream;
