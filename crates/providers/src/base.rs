//! What every provider instance starts from: its name, its pooled HTTP client (built by the one
//! client policy: timeouts, proxy, no redirects, caps) and the transport's backstop timeout.
//!
//! Why one type: six providers used to build these three fields by hand, each a chance to skip
//! the client policy; now each holds an `UpstreamBase` and adds only what its API needs.

use std::sync::Arc;
use std::time::Duration;

use heimdall_config::ProviderConfig;
use heimdall_schema::error::GatewayError;

use crate::http::build_client;

/// The common part of a provider instance.
pub struct UpstreamBase {
    /// The provider's configured name (`provider/model`).
    pub name: Arc<str>,
    /// The pooled client for this provider's upstream.
    pub client: reqwest::Client,
    /// The transport's own timeout, longer than the engine's deadlines (a backstop only).
    pub backstop: Duration,
}

impl UpstreamBase {
    /// From a validated provider config.
    pub fn new(config: &ProviderConfig) -> Result<Self, GatewayError> {
        Ok(Self {
            name: Arc::from(config.name.as_str()),
            client: build_client(config)?,
            backstop: config.network.backstop(),
        })
    }
}
