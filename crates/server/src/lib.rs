//! The HTTP transport: axum routes for the OpenAI-compatible API, health and readiness,
//! SSE encoding and error rendering.
//!
//! Why separate from the engine: the engine speaks canonical types only; dialects, status
//! codes, headers and body limits are transport concerns.

pub mod anthropic;
pub mod api_error;
pub mod api_routes;
pub mod app;
pub mod bedrock;
pub mod body;
pub mod cache_api;
pub mod chat_route;
pub mod client_policy;
pub mod cohere;
pub mod compat;
pub mod config_api;
pub mod gate;
pub mod genai;
pub mod governance_api;
pub mod governance_bodies;
pub mod governance_models;
pub mod governance_views;
pub mod headers;
pub mod ingress;
pub mod key_test;
pub mod litellm_compat;
pub mod log_stream;
pub mod logs_api;
pub mod mcp_access;
pub mod mcp_agent;
pub mod mcp_agent_stream;
pub mod mcp_api;
pub mod mcp_calls;
pub mod mcp_inject;
pub mod mcp_server;
pub mod media_api;
pub mod mgmt_auth;
pub mod openai;
pub mod openapi;
pub mod providers_api;
pub mod realtime;
pub mod responses_api;
pub mod responses_store;
pub mod session_api;
pub mod sse;
pub mod state;
pub mod ui_assets;

pub use app::{router, router_with};
pub use ingress::IngressPolicy;
pub use state::{AppParts, AppState};
