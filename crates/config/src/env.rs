//! Environment-variable references in config values: `env.VAR` (the whole value, Bifrost's
//! form) and `${VAR}` (anywhere in a string, the bifrost.yaml form).
//!
//! Why resolved at load and tracked: secrets stay out of config files, and a reference to an
//! unset variable must disable what it feeds (a key) with a warning that names the variable,
//! never silently send an empty credential. Values are never printed.

use std::collections::{BTreeMap, HashMap};

/// Where variables come from (the process environment, or a map in tests).
pub trait EnvLookup {
    /// The variable's value, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvLookup for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl EnvLookup for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl EnvLookup for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// A resolved string and the variables it referenced that were not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The value with references replaced (unset ones by nothing).
    pub value: String,
    /// Names of unset variables.
    pub missing: Vec<String>,
}

/// Resolve `env.VAR` and `${VAR}` references in `raw`.
pub fn resolve(raw: &str, env: &dyn EnvLookup) -> Resolved {
    let trimmed = raw.trim();
    if let Some(name) = trimmed.strip_prefix("env.")
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return match env.var(name) {
            Some(v) => Resolved {
                value: v,
                missing: vec![],
            },
            None => Resolved {
                value: String::new(),
                missing: vec![name.to_owned()],
            },
        };
    }
    let mut value = String::with_capacity(raw.len());
    let mut missing = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        value.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match env.var(name) {
                    Some(v) => value.push_str(&v),
                    None => missing.push(name.to_owned()),
                }
                rest = &after[end + 1..];
            }
            None => {
                value.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    value.push_str(rest);
    Resolved { value, missing }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        [("A", "1"), ("B", "two")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn resolves_both_reference_forms() {
        assert_eq!(resolve("env.A", &env()).value, "1");
        assert_eq!(resolve("${A}-${B}", &env()).value, "1-two");
        assert_eq!(resolve("plain", &env()).value, "plain");
        let r = resolve("env.NOPE", &env());
        assert_eq!((r.value.as_str(), r.missing), ("", vec!["NOPE".to_owned()]));
        let r = resolve("x${NOPE}y", &env());
        assert_eq!(
            (r.value.as_str(), r.missing),
            ("xy", vec!["NOPE".to_owned()])
        );
    }
}
