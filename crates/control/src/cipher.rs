//! Secrets at rest: AES-256-GCM over each secret string of a stored configuration, with the
//! key from `HEIMDALL_ENCRYPTION_KEY` (or the config's `encryption_key`) or a key file created
//! once, mode 0600, in the app dir.
//!
//! Why per string, not the whole document: the stored document stays readable JSON (diffs,
//! `export-config`, a DBA's `SELECT`) while no provider key is readable without the key.
//! A passphrase is stretched with Argon2id; a fresh random nonce per value.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

/// The prefix of an encrypted value in a stored document.
pub const ENCRYPTED_PREFIX: &str = "enc:v1:";

/// The environment variable that holds the encryption passphrase.
pub const KEY_ENV: &str = "HEIMDALL_ENCRYPTION_KEY";

/// The key file's name in the app dir.
pub const KEY_FILE: &str = "encryption.key";

/// Encrypts and decrypts secret strings.
#[derive(Clone)]
pub struct SecretCipher {
    cipher: Aes256Gcm,
    /// Where the key came from (for the start-up log; never the key).
    pub source: String,
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCipher")
            .field("source", &self.source)
            .finish()
    }
}

/// A secret that could not be decrypted.
#[derive(Debug, thiserror::Error)]
#[error(
    "a stored secret cannot be decrypted: the encryption key differs from the one it was stored with (set {KEY_ENV} to that key, or restore the app dir's {KEY_FILE})"
)]
pub struct DecryptError;

impl SecretCipher {
    /// A cipher from a passphrase (stretched with Argon2id; a fixed, versioned salt so every
    /// instance given the same passphrase derives the same key).
    pub fn from_passphrase(passphrase: &str, source: impl Into<String>) -> Result<Self, String> {
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(
                passphrase.as_bytes(),
                b"heimdall-config-secrets-v1",
                &mut key,
            )
            .map_err(|e| format!("cannot derive the encryption key: {e}"))?;
        Self::from_key(&key, source)
    }

    fn from_key(key: &[u8], source: impl Into<String>) -> Result<Self, String> {
        let cipher = Aes256Gcm::new_from_slice(key)
            .map_err(|_| "the encryption key must be 32 bytes".to_owned())?;
        Ok(Self {
            cipher,
            source: source.into(),
        })
    }

    /// The cipher for this process: `passphrase` when given (environment or config), else the
    /// app dir's key file, created with 32 random bytes (mode 0600) when absent.
    pub fn load(passphrase: Option<&str>, app_dir: &Path) -> Result<Self, String> {
        if let Some(p) = passphrase.filter(|p| !p.is_empty()) {
            return Self::from_passphrase(p, "the configured encryption key");
        }
        let path = app_dir.join(KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(&path)?,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let key = B64
            .decode(text.trim())
            .map_err(|_| format!("{} is not a base64 key", path.display()))?;
        Self::from_key(&key, format!("the key file {}", path.display()))
    }

    /// Encrypt a value (a fresh nonce each time).
    pub fn encrypt(&self, plain: &str) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        match self.cipher.encrypt(nonce, plain.as_bytes()) {
            Ok(ct) => {
                let mut out = nonce_bytes.to_vec();
                out.extend_from_slice(&ct);
                format!("{ENCRYPTED_PREFIX}{}", B64.encode(out))
            }
            // AES-GCM fails only past 64 GiB of plaintext; never store the value in clear.
            Err(_) => ENCRYPTED_PREFIX.to_owned(),
        }
    }

    /// Decrypt a value written by [`encrypt`](Self::encrypt); other strings pass unchanged.
    pub fn decrypt(&self, stored: &str) -> Result<String, DecryptError> {
        let Some(b64) = stored.strip_prefix(ENCRYPTED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let bytes = B64.decode(b64).map_err(|_| DecryptError)?;
        if bytes.len() < 12 {
            return Err(DecryptError);
        }
        let (nonce, ct) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| DecryptError)?;
        String::from_utf8(plain).map_err(|_| DecryptError)
    }
}

fn create_key_file(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let key: [u8; 32] = rand::random();
    let text = B64.encode(key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tracing::info!(path = %path.display(), "created the key that encrypts stored secrets (mode 0600); back it up with the config store");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_a_wrong_key_cannot_read_them() {
        let a = SecretCipher::from_passphrase("one", "test").unwrap();
        let b = SecretCipher::from_passphrase("two", "test").unwrap();
        let stored = a.encrypt("sk-live-1234");
        assert!(stored.starts_with(ENCRYPTED_PREFIX));
        assert!(!stored.contains("sk-live"));
        assert_ne!(stored, a.encrypt("sk-live-1234"), "a fresh nonce each time");
        assert_eq!(a.decrypt(&stored).unwrap(), "sk-live-1234");
        assert!(b.decrypt(&stored).is_err());
        assert_eq!(
            a.decrypt("env.OPENAI_API_KEY").unwrap(),
            "env.OPENAI_API_KEY"
        );
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = SecretCipher::load(None, dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = SecretCipher::load(None, dir.path()).unwrap();
        assert_eq!(b.decrypt(&a.encrypt("x")).unwrap(), "x");
    }
}
