//! Shared building blocks for the layout loaders: the load context (environment, warnings,
//! collected errors) and the provider/key builders both layouts use.
//!
//! Why collect instead of failing fast: a config with three mistakes should report three
//! mistakes, each with its field path, in one run of `check-config`.

use std::time::Duration;

use crate::env::{EnvLookup, resolve};
use crate::kinds::ProviderKind;
use crate::model::{KeyConfig, Secret, normalize_base_url};

/// One problem in a config file, with the path of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted path, e.g. `providers.openai.keys[1].weight` (empty for the whole file).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A config that cannot be used; every issue names its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems found.
    pub issues: Vec<ConfigIssue>,
}

impl ConfigError {
    /// An error with one issue.
    pub fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            issues: vec![ConfigIssue {
                path: path.into(),
                message: message.into(),
            }],
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

/// State while turning a raw file into the model.
pub struct LoadCtx<'a> {
    env: &'a dyn EnvLookup,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
    /// Fatal findings.
    pub issues: Vec<ConfigIssue>,
}

impl<'a> LoadCtx<'a> {
    /// A fresh context.
    pub fn new(env: &'a dyn EnvLookup) -> Self {
        Self {
            env,
            warnings: Vec::new(),
            issues: Vec::new(),
        }
    }

    /// Record a fatal issue.
    pub fn issue(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Resolve env references in a non-secret value; unset variables become warnings.
    pub fn resolve(&mut self, path: &str, raw: &str) -> String {
        let r = resolve(raw, self.env);
        for var in &r.missing {
            self.warnings.push(format!(
                "{path}: environment variable {var} is not set; using an empty value"
            ));
        }
        r.value
    }

    /// Check and normalise a URL (http/https only).
    pub fn url(&mut self, path: &str, raw: &str) -> Option<String> {
        let value = self.resolve(path, raw);
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            self.issue(path, format!("'{value}' is not an http:// or https:// URL"));
            return None;
        }
        Some(normalize_base_url(value))
    }

    /// Build a key: resolve its secret (an unset variable disables the key with a warning).
    #[allow(clippy::too_many_arguments)]
    pub fn key(
        &mut self,
        provider: &str,
        index: usize,
        name: Option<String>,
        raw_value: Option<&str>,
        models: Vec<String>,
        weight: Option<f64>,
        url: Option<&str>,
    ) -> KeyConfig {
        let path = format!("providers.{provider}.keys[{index}]");
        let (value, unresolved_env) = match raw_value {
            Some(raw) => {
                let r = resolve(raw, self.env);
                match r.missing.first() {
                    Some(var) => {
                        self.warnings.push(format!(
                            "{path}.value: environment variable {var} is not set; this key is disabled"
                        ));
                        (String::new(), Some(var.clone()))
                    }
                    None => (r.value, None),
                }
            }
            None => (String::new(), None),
        };
        let weight = weight.unwrap_or(1.0);
        if !weight.is_finite() || weight < 0.0 {
            self.issue(
                format!("{path}.weight"),
                format!("weight must be a finite number >= 0, got {weight}"),
            );
        }
        let base_url = url.and_then(|u| self.url(&format!("{path}.base_url"), u));
        KeyConfig {
            name: name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| format!("{provider}-key-{index}")),
            value: Secret::new(value),
            models,
            weight,
            enabled: true,
            base_url,
            unresolved_env,
            azure: None,
            vertex: None,
            bedrock: None,
        }
    }

    /// Parse a kind name, or record an issue listing the known kinds.
    pub fn kind(&mut self, path: &str, name: &str) -> Option<ProviderKind> {
        let kind = ProviderKind::parse(name);
        if kind.is_none() {
            self.issue(
                path,
                format!(
                    "unknown provider type '{name}'; known types: {}",
                    crate::kinds::kind_names()
                ),
            );
        }
        kind
    }
}

/// The listener limits from `server`'s `header_read_timeout_seconds`,
/// `body_read_timeout_seconds`, `idle_timeout_seconds` (in that order) and `max_connections`.
pub(crate) fn listener_limits(
    [header, body, idle]: [Option<f64>; 3],
    max_connections: Option<usize>,
    ctx: &mut LoadCtx<'_>,
) -> crate::model::ListenerLimits {
    let mut l = crate::model::ListenerLimits::default();
    let mut seconds = |field: &str, v: Option<f64>, into: &mut Duration| {
        if let Some(v) = v {
            match Duration::try_from_secs_f64(v) {
                Ok(d) if !d.is_zero() => *into = d,
                _ => ctx.issue(
                    format!("server.{field}"),
                    "must be a positive number of seconds",
                ),
            }
        }
    };
    seconds(
        "header_read_timeout_seconds",
        header,
        &mut l.header_read_timeout,
    );
    seconds("body_read_timeout_seconds", body, &mut l.body_read_timeout);
    seconds("idle_timeout_seconds", idle, &mut l.idle_timeout);
    if let Some(n) = max_connections {
        if n == 0 {
            ctx.issue("server.max_connections".to_owned(), "must be at least 1");
        } else {
            l.max_connections = n;
        }
    }
    l
}
