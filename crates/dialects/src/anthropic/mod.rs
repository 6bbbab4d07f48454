//! Anthropic Messages: the client side (`client_request`, `client_response`: the `/anthropic`
//! route) and the upstream side (`request`, `response`, `stream`, and `native` for sending a
//! client's own Messages body to a Claude target).

pub mod client_request;
pub mod client_response;
pub mod native;
pub mod request;
pub mod response;
pub mod stream;
