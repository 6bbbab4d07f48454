//! Google Gemini (`generateContent`): the client side (`client_request`, `client_response`:
//! the `/genai` route, as the google-genai SDK speaks it) and the upstream side (`request`,
//! `response`, `stream`) for Gemini and Vertex AI.

pub mod client_request;
pub mod client_response;
pub mod request;
pub mod response;
pub mod stream;
