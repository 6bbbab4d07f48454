//! OAuth2 access tokens for upstreams that want them (Azure Entra ID client credentials; Vertex
//! AI service-account JWT exchange), cached per credential until shortly before expiry.
//!
//! Why a cache with a lock per entry: tokens are valid for an hour and fetching one costs a
//! round trip to the identity provider; concurrent requests for the same credential must share
//! one fetch, not start a stampede, while requests for other credentials are not held up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use heimdall_schema::error::{ErrorKind, GatewayError};
use serde::Deserialize;

/// Refresh this long before a token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Slot {
    token: Option<(String, Instant)>,
}

/// Tokens by credential id.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache")
    }
}

/// A token endpoint's answer.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenCache {
    /// The cached token for `id`, or a fresh one from `fetch` (one fetch at a time per id).
    pub async fn get<F, Fut>(&self, id: &str, fetch: F) -> Result<String, GatewayError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<TokenResponse, GatewayError>>,
    {
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .map_err(|_| GatewayError::internal("token cache poisoned"))?;
            Arc::clone(slots.entry(id.to_owned()).or_default())
        };
        let mut slot = slot.lock().await;
        if let Some((token, expires)) = &slot.token
            && Instant::now() + REFRESH_MARGIN < *expires
        {
            return Ok(token.clone());
        }
        let fresh = fetch().await?;
        let ttl = Duration::from_secs(fresh.expires_in.unwrap_or(3600));
        slot.token = Some((fresh.access_token.clone(), Instant::now() + ttl));
        Ok(fresh.access_token)
    }
}

/// POST a form to a token endpoint and read the token.
pub async fn request_token(
    client: &reqwest::Client,
    provider: &str,
    url: &str,
    form: Vec<(&'static str, String)>,
) -> Result<TokenResponse, GatewayError> {
    let auth_error = |what: String| {
        GatewayError::new(
            ErrorKind::UpstreamAuth,
            format!("provider '{provider}': cannot obtain an access token: {what}"),
        )
        .with_status(502)
        .with_provider(provider)
    };
    let response = client
        .post(url)
        .form(&form)
        .send()
        .await
        .map_err(|e| auth_error(e.to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| auth_error(e.to_string()))?;
    if !status.is_success() {
        // OAuth errors: {"error": "invalid_grant", "error_description": "..."}.
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let d = v.get("error_description")?.as_str()?.to_owned();
                let e = v.get("error").and_then(|e| e.as_str()).unwrap_or("error");
                Some(format!("{e}: {d}"))
            })
            .unwrap_or_else(|| crate::http::upstream_message(&body));
        return Err(auth_error(format!(
            "token endpoint answered {status}: {detail}"
        )));
    }
    serde_json::from_slice(&body).map_err(|e| auth_error(format!("unreadable token response: {e}")))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_token_is_fetched_once_and_reused_until_near_expiry() {
        let cache = TokenCache::default();
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            let n = fetches.fetch_add(1, Ordering::SeqCst);
            Ok(TokenResponse {
                access_token: format!("t{n}"),
                expires_in: Some(3600),
            })
        };
        assert_eq!(cache.get("k", fetch).await.unwrap(), "t0");
        assert_eq!(cache.get("k", fetch).await.unwrap(), "t0");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // A token inside the refresh margin is replaced.
        let short = || async {
            Ok(TokenResponse {
                access_token: "short".to_owned(),
                expires_in: Some(30),
            })
        };
        assert_eq!(cache.get("other", short).await.unwrap(), "short");
        assert_eq!(cache.get("other", fetch).await.unwrap(), "t1");
    }
}
