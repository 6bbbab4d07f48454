//! Who may manage the gateway: admin users (Argon2id password hashes) who log in for a
//! session, and API tokens with scopes, sent as bearer tokens. Until either exists, only
//! loopback clients — and a remote client holding the one-time setup token printed at
//! start — may use management and log routes.
//!
//! Why tokens are hashed with SHA-256 and passwords with Argon2id: a token is 32 random bytes
//! (nothing to guess, so a fast hash is enough and keeps a per-request check cheap); a
//! password is chosen by a person and must be slow to try. Neither is ever stored or logged
//! in clear; the database holds hashes only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use heimdall_store::{ConfigStore, TokenRow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Scope {
    /// Everything.
    #[serde(rename = "admin")]
    Admin,
    /// Read configuration, providers, keys, versions (secrets redacted).
    #[serde(rename = "config:read")]
    ConfigRead,
    /// Read request logs (prompts and answers).
    #[serde(rename = "logs:read")]
    LogsRead,
    /// Call the inference routes when they require auth.
    #[serde(rename = "inference")]
    Inference,
}

impl Scope {
    /// The scope's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::ConfigRead => "config:read",
            Self::LogsRead => "logs:read",
            Self::Inference => "inference",
        }
    }

    /// A scope by name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Admin,
            Self::ConfigRead,
            Self::LogsRead,
            Self::Inference,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// `admin:<user>`, `token:<id>`, `setup` or `loopback` (the actor in the version list).
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// Whether it may do what `needed` allows (`admin` may do everything).
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&needed)
    }

    /// A full-rights principal named `name`.
    pub fn admin(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            scopes: vec![Scope::Admin],
        }
    }
}

/// How long a login session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a verified token is trusted without asking the store again (a deleted token
/// stops working on other instances within this).
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);

/// Hex SHA-256 of a token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// An Argon2id hash of a password (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A token as listed (never its value or hash).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TokenInfo {
    /// Id (for deletion).
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// The token's last four characters, to recognise it.
    pub last4: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: Option<i64>,
}

impl From<TokenRow> for TokenInfo {
    fn from(t: TokenRow) -> Self {
        Self {
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            last4: t.last4,
            created_at_ms: t.created_at_ms,
            expires_at_ms: t.expires_at_ms,
        }
    }
}

/// Admin users, tokens, sessions and the setup token.
pub struct AuthService {
    store: ConfigStore,
    /// Admins + tokens known to exist (auth is on when > 0).
    principals: AtomicI64,
    setup_token: Mutex<Option<String>>,
    cache: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("enabled", &self.enabled())
            .finish()
    }
}

/// Why a credential operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Bad input (empty name, unknown scope, short password).
    #[error("{0}")]
    Invalid(String),
    /// Wrong user name or password.
    #[error("wrong user name or password")]
    WrongCredentials,
    /// The store failed.
    #[error("auth store: {0}")]
    Store(String),
}

fn store_err(e: impl std::fmt::Display) -> AuthError {
    AuthError::Store(e.to_string())
}

impl AuthService {
    /// Start: create the admin the config names (if missing); without any admin or token,
    /// make a one-time setup token (the caller prints it).
    pub async fn start(
        store: ConfigStore,
        auth: &heimdall_config::AuthConfig,
    ) -> Result<Self, AuthError> {
        if let (Some(user), Some(password)) = (&auth.admin_username, &auth.admin_password)
            && store.admin_hash(user).await.map_err(store_err)?.is_none()
        {
            let hash = hash_password(password.expose()).map_err(AuthError::Invalid)?;
            store.create_admin(user, &hash).await.map_err(store_err)?;
            tracing::info!(user = %user, "admin user created from governance.auth_config");
        }
        let service = Self {
            store,
            principals: AtomicI64::new(0),
            setup_token: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        };
        service.refresh().await?;
        if !service.enabled()
            && let Ok(mut t) = service.setup_token.lock()
        {
            *t = Some(random_token("hsetup_"));
        }
        Ok(service)
    }

    /// Count admins and tokens again and forget verified credentials (after another
    /// instance changed them: a revoked token stops working here too).
    pub async fn refresh(&self) -> Result<(), AuthError> {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
        let n = self.store.count_admins().await.map_err(store_err)?
            + self.store.count_tokens().await.map_err(store_err)?;
        self.principals.store(n, Ordering::Relaxed);
        if n > 0
            && let Ok(mut t) = self.setup_token.lock()
        {
            *t = None;
        }
        Ok(())
    }

    /// Whether any admin or token exists (then management needs credentials).
    pub fn enabled(&self) -> bool {
        self.principals.load(Ordering::Relaxed) > 0
    }

    /// The one-time setup token while auth is not configured.
    pub fn setup_token(&self) -> Option<String> {
        self.setup_token.lock().ok().and_then(|t| t.clone())
    }

    /// Who holds `credential` (a token, a session token, or the setup token).
    pub async fn authenticate(&self, credential: &str) -> Result<Option<Principal>, AuthError> {
        if credential.is_empty() {
            return Ok(None);
        }
        if let Some(setup) = self.setup_token()
            && constant_time_eq(setup.as_bytes(), credential.as_bytes())
        {
            return Ok(Some(Principal::admin("setup")));
        }
        let hash = token_hash(credential);
        if let Ok(cache) = self.cache.lock()
            && let Some((p, at)) = cache.get(&hash)
            && at.elapsed() < TOKEN_CACHE_TTL
        {
            return Ok(Some(p.clone()));
        }
        let now = crate::unix_ms();
        let principal = if let Some(t) = self.store.token_by_hash(&hash).await.map_err(store_err)? {
            if t.expires_at_ms.is_some_and(|e| e <= now) {
                None
            } else {
                Some(Principal {
                    name: format!("token:{}", t.id),
                    scopes: t.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
                })
            }
        } else {
            self.store
                .session_user(&hash, now)
                .await
                .map_err(store_err)?
                .map(|user| Principal::admin(format!("admin:{user}")))
        };
        if let (Some(p), Ok(mut cache)) = (&principal, self.cache.lock()) {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash, (p.clone(), Instant::now()));
        }
        Ok(principal)
    }

    /// Log in: a session token (valid [`SESSION_TTL`]) for a right user name and password.
    pub async fn login(&self, username: &str, password: &str) -> Result<String, AuthError> {
        let hash = self.store.admin_hash(username).await.map_err(store_err)?;
        // Verify against a dummy hash for unknown users, so timing does not tell which exist.
        let phc = match &hash {
            Some(h) => h.clone(),
            None => dummy_hash(),
        };
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
            .await
            .unwrap_or(false);
        if !ok || hash.is_none() {
            return Err(AuthError::WrongCredentials);
        }
        // Expired sessions go when new ones come (no sweeper task needed).
        if let Err(e) = self.store.purge_sessions(crate::unix_ms()).await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
        let token = random_token("hsess_");
        let expires =
            crate::unix_ms() + i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX / 2);
        self.store
            .create_session(&token_hash(&token), username, expires)
            .await
            .map_err(store_err)?;
        Ok(token)
    }

    /// End a session.
    pub async fn logout(&self, session_token: &str) -> Result<(), AuthError> {
        let hash = token_hash(session_token);
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&hash);
        }
        self.store.delete_session(&hash).await.map_err(store_err)?;
        self.changed().await
    }

    /// Create an admin user.
    pub async fn create_admin(&self, username: &str, password: &str) -> Result<(), AuthError> {
        if username.trim().is_empty() {
            return Err(AuthError::Invalid("username must not be empty".to_owned()));
        }
        if password.chars().count() < 8 {
            return Err(AuthError::Invalid(
                "password must be at least 8 characters".to_owned(),
            ));
        }
        if self
            .store
            .admin_hash(username)
            .await
            .map_err(store_err)?
            .is_some()
        {
            return Err(AuthError::Invalid(format!("user '{username}' exists")));
        }
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(store_err)?
            .map_err(AuthError::Invalid)?;
        if !self
            .store
            .create_admin(username, &hash)
            .await
            .map_err(store_err)?
        {
            return Err(AuthError::Invalid(format!("user '{username}' exists")));
        }
        self.changed().await
    }

    /// Count again here, and tell other instances on the store (they refresh on any
    /// notification; version 0 names no configuration version).
    async fn changed(&self) -> Result<(), AuthError> {
        self.refresh().await?;
        if let Err(e) = self.store.notify(0).await {
            tracing::warn!(error = %e, "could not notify other instances of a credential change");
        }
        Ok(())
    }

    /// Create a token; its value is returned once and never again.
    pub async fn create_token(
        &self,
        name: &str,
        scopes: &[String],
        expires_at_ms: Option<i64>,
    ) -> Result<(TokenInfo, String), AuthError> {
        if scopes.is_empty() {
            return Err(AuthError::Invalid("scopes must not be empty".to_owned()));
        }
        if let Some(bad) = scopes.iter().find(|s| Scope::parse(s).is_none()) {
            return Err(AuthError::Invalid(format!(
                "unknown scope '{bad}' (admin, config:read, logs:read, inference)"
            )));
        }
        let token = random_token("hk_");
        let row = TokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            token_hash: token_hash(&token),
            scopes: scopes.to_vec(),
            last4: token[token.len().saturating_sub(4)..].to_owned(),
            created_at_ms: crate::unix_ms(),
            expires_at_ms,
        };
        self.store.create_token(&row).await.map_err(store_err)?;
        self.changed().await?;
        Ok((row.into(), token))
    }

    /// All tokens (without values).
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, AuthError> {
        Ok(self
            .store
            .list_tokens()
            .await
            .map_err(store_err)?
            .into_iter()
            .map(TokenInfo::from)
            .collect())
    }

    /// Delete a token; false when there was none.
    pub async fn delete_token(&self, id: &str) -> Result<bool, AuthError> {
        let deleted = self.store.delete_token(id).await.map_err(store_err)?;
        self.changed().await?;
        Ok(deleted)
    }
}

/// A hash to verify against for unknown users (made once).
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password("not a real password").unwrap_or_default())
        .clone()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
    }

    #[test]
    fn scopes_parse_by_their_wire_names() {
        assert_eq!(Scope::parse("logs:read"), Some(Scope::LogsRead));
        assert_eq!(Scope::parse("root"), None);
        let reader = Principal {
            name: "t".into(),
            scopes: vec![Scope::ConfigRead],
        };
        assert!(reader.allows(Scope::ConfigRead));
        assert!(!reader.allows(Scope::LogsRead));
        assert!(Principal::admin("a").allows(Scope::LogsRead));
    }
}
