//! Google service-account authentication for Vertex AI: a signed JWT (RS256) exchanged at the
//! OAuth token endpoint for an access token, cached until shortly before it expires.
//!
//! Why our own small implementation: the flow is two steps (sign a JWT with the key file's
//! private key, POST it as a `jwt-bearer` grant) and needs nothing of a full Google SDK; the
//! token endpoint is configurable so tests exchange real signed JWTs with the mock, which
//! verifies the signature.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use heimdall_schema::error::{ErrorKind, GatewayError};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use serde::Deserialize;
use serde_json::json;

use crate::oauth::{TokenCache, request_token};

/// The scope Vertex AI calls need.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The fields of a service-account key file that the flow uses.
#[derive(Deserialize)]
pub struct ServiceAccount {
    /// Signing identity.
    pub client_email: String,
    /// PEM (PKCS#8) private key.
    pub private_key: String,
    /// Key id, sent as the JWT `kid`.
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// Token endpoint named by the key file.
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

fn auth_error(provider: &str, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamAuth,
        format!("provider '{provider}': service-account credentials unusable: {what}"),
    )
    .with_status(502)
    .with_provider(provider)
}

/// A signed JWT assertion for `scope`, audience `token_url`, valid for an hour from `now`.
pub fn signed_assertion(
    sa: &ServiceAccount,
    scope: &str,
    token_url: &str,
    now: u64,
) -> Result<String, String> {
    let key = RsaPrivateKey::from_pkcs8_pem(&sa.private_key)
        .map_err(|e| format!("private_key is not a PKCS#8 PEM RSA key: {e}"))?;
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if let (Some(kid), Some(o)) = (&sa.private_key_id, header.as_object_mut()) {
        o.insert("kid".to_owned(), json!(kid));
    }
    let claims = json!({"iss": sa.client_email, "scope": scope, "aud": token_url,
        "iat": now, "exp": now + 3600});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = SigningKey::<Sha256>::new(key).sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

/// Access tokens for one provider's service-account keys.
#[derive(Debug, Default)]
pub struct GoogleAuth {
    cache: TokenCache,
}

impl GoogleAuth {
    /// A bearer token for the key file `credentials` (cached per key name).
    pub async fn token(
        &self,
        client: &reqwest::Client,
        provider: &str,
        key_name: &str,
        credentials: &str,
        token_url: Option<&str>,
    ) -> Result<String, GatewayError> {
        self.cache
            .get(key_name, || async {
                let sa: ServiceAccount =
                    serde_json::from_str(credentials).map_err(|e| auth_error(provider, e))?;
                let url = token_url
                    .or(sa.token_uri.as_deref())
                    .unwrap_or("https://oauth2.googleapis.com/token")
                    .to_owned();
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let assertion = signed_assertion(&sa, CLOUD_PLATFORM_SCOPE, &url, now)
                    .map_err(|e| auth_error(provider, e))?;
                request_token(
                    client,
                    provider,
                    &url,
                    vec![
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                        ),
                        ("assertion", assertion),
                    ],
                )
                .await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    use super::*;

    #[test]
    fn the_assertion_is_a_verifiable_rs256_jwt_with_the_documented_claims() {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
        let pem = rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(&key, Default::default())
            .unwrap()
            .to_string();
        let sa = ServiceAccount {
            client_email: "sa@p.iam.gserviceaccount.com".into(),
            private_key: pem,
            private_key_id: Some("kid-1".into()),
            token_uri: None,
        };
        let jwt = signed_assertion(&sa, CLOUD_PLATFORM_SCOPE, "https://t/token", 1000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
        );
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "sa@p.iam.gserviceaccount.com");
        assert_eq!(claims["aud"], "https://t/token");
        assert_eq!(claims["exp"], 4600);
        let sig =
            Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
        VerifyingKey::<Sha256>::new(key.to_public_key())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
    }
}
