//! The configuration document (the JSON of Bifrost's `config.json`, or of the `bifrost.yaml`
//! layout) and what the control plane does to it without understanding it field by field:
//! find its secrets (to encrypt them at rest and redact them in every answer), keep a secret
//! a client sent back redacted, and diff two versions.
//!
//! Why on the document, not the validated model: the document is what users write, what is
//! versioned and what `export-config` gives back — with `env.VAR` references kept as
//! references. The model is derived from it on every change.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cipher::{DecryptError, ENCRYPTED_PREFIX, SecretCipher};

/// Field names whose string value is a secret wherever they appear.
const SECRET_FIELDS: &[&str] = &[
    "apiKey",
    "api_key",
    "client_secret",
    "access_key",
    "secret_key",
    "session_token",
    "auth_credentials",
    "password",
    "admin_password",
    "encryption_key",
    "token",
];

/// Whether the string at `path` (object keys and `[]` for array items) is a secret.
fn is_secret(path: &[&str]) -> bool {
    let Some(last) = path.last() else {
        return false;
    };
    if SECRET_FIELDS.contains(last) {
        return true;
    }
    let parent = |n: usize| path.len().checked_sub(n).map(|i| path[i]);
    match *last {
        // A provider key's value (`providers.<p>.keys[].value`) or a virtual key's
        // (`governance.virtual_keys[].value`).
        "value" => parent(2) == Some("[]") && matches!(parent(3), Some("keys" | "virtual_keys")),
        // Extra headers (upstream, OTLP exporter) often carry credentials: all are treated
        // as secrets.
        _ if matches!(parent(2), Some("headers" | "extra_headers")) => true,
        // An MCP server's environment (`mcp.client_configs[].stdio_config.env`) holds its
        // credentials.
        _ if parent(2) == Some("env") && parent(3) == Some("stdio_config") => true,
        // A database or Redis URL may carry its password.
        "url" => {
            parent(2) == Some("redis")
                || (parent(2) == Some("config")
                    && parent(3).is_some_and(|s| s.ends_with("_store") || s.ends_with("Store")))
        }
        _ => false,
    }
}

/// An `env.VAR` or `${VAR}` reference: not a secret itself, kept as written.
pub fn is_reference(s: &str) -> bool {
    s.starts_with("env.") || (s.starts_with("${") && s.ends_with('}'))
}

/// Call `f` on every secret string of the document.
fn walk_secrets(value: &mut Value, path: &mut Vec<&'static str>, f: &mut dyn FnMut(&mut String)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let key: &'static str = SECRET_FIELDS
                    .iter()
                    .chain(
                        [
                            "value",
                            "url",
                            "keys",
                            "config",
                            "headers",
                            "extra_headers",
                            "env",
                            "stdio_config",
                            "virtual_keys",
                            "redis",
                        ]
                        .iter(),
                    )
                    .find(|n| **n == k.as_str())
                    .copied()
                    .unwrap_or(if k.ends_with("_store") || k.ends_with("Store") {
                        "_store"
                    } else {
                        "*"
                    });
                path.push(key);
                walk_secrets(v, path, f);
                path.pop();
            }
        }
        Value::Array(items) => {
            for v in items {
                path.push("[]");
                walk_secrets(v, path, f);
                path.pop();
            }
        }
        Value::String(s) if is_secret(path) => f(s),
        _ => {}
    }
}

/// Apply `f` to every secret string.
pub fn for_each_secret(document: &mut Value, mut f: impl FnMut(&mut String)) {
    walk_secrets(document, &mut Vec::new(), &mut f);
}

/// Every literal secret value of a document (references excluded), for leak checks.
pub fn secret_values(document: &Value) -> Vec<String> {
    let mut doc = document.clone();
    let mut out = Vec::new();
    for_each_secret(&mut doc, |s| {
        if !s.is_empty() && !is_reference(s) {
            out.push(s.clone());
        }
    });
    out
}

/// How a secret is shown: its last four characters (none when it is short), references as
/// written.
pub fn redact_value(s: &str) -> String {
    if s.is_empty() || is_reference(s) {
        return s.to_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 12 {
        return "****".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("****{tail}")
}

/// Whether a string is a redacted form (as [`redact_value`] writes them).
pub fn is_redacted(s: &str) -> bool {
    s.starts_with("****")
}

/// The document with every secret redacted.
pub fn redacted(document: &Value) -> Value {
    let mut doc = document.clone();
    for_each_secret(&mut doc, |s| *s = redact_value(s));
    doc
}

/// The document with secrets encrypted for storage.
pub fn encrypted(document: &Value, cipher: &SecretCipher) -> Value {
    let mut doc = document.clone();
    for_each_secret(&mut doc, |s| {
        if !s.is_empty() && !is_reference(s) && !s.starts_with(ENCRYPTED_PREFIX) {
            *s = cipher.encrypt(s);
        }
    });
    doc
}

/// A stored document with its secrets decrypted.
pub fn decrypted(document: &Value, cipher: &SecretCipher) -> Result<Value, DecryptError> {
    let mut doc = document.clone();
    let mut failed = false;
    for_each_secret(&mut doc, |s| match cipher.decrypt(s) {
        Ok(plain) => *s = plain,
        Err(_) => failed = true,
    });
    if failed { Err(DecryptError) } else { Ok(doc) }
}

/// A client that read a redacted document and sends it back (or a part of it) means "keep the
/// secret": every redacted string in `incoming` whose counterpart at the same place in
/// `current` redacts to it is replaced by the current value. A redacted string with no such
/// counterpart is an error (the secret is unknown), reported with its path.
pub fn restore_redacted(incoming: &mut Value, current: &Value) -> Result<(), String> {
    fn go(new: &mut Value, old: Option<&Value>, path: &mut String) -> Result<(), String> {
        match new {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    go(v, old.and_then(|o| o.get(k)), path)?;
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    // Keys are matched by name when they have one, else by position.
                    let name = v.get("name").and_then(Value::as_str).map(str::to_owned);
                    let counterpart = old.and_then(Value::as_array).and_then(|o| match &name {
                        Some(n) => o
                            .iter()
                            .find(|e| e.get("name").and_then(Value::as_str) == Some(n)),
                        None => o.get(i),
                    });
                    go(v, counterpart, path)?;
                    path.truncate(len);
                }
            }
            Value::String(s) if is_redacted(s) => match old.and_then(Value::as_str) {
                Some(o) if redact_value(o) == *s => *s = o.to_owned(),
                _ => {
                    return Err(format!(
                        "{path}: '{s}' is a redacted secret that does not match the stored one; send the secret itself"
                    ));
                }
            },
            _ => {}
        }
        Ok(())
    }
    go(incoming, Some(current), &mut String::new())
}

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DiffEntry {
    /// Dotted path (`providers.openai.keys[0].weight`).
    pub path: String,
    /// `added`, `removed` or `changed`.
    #[schemars(extend("enum" = ["added", "removed", "changed"]))]
    pub op: &'static str,
    /// The value before (secrets redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after (secrets redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The differences from `old` to `new`, secrets redacted (objects compared key by key, arrays
/// item by item).
pub fn diff(old: &Value, new: &Value) -> Vec<DiffEntry> {
    let (old, new) = (redacted(old), redacted(new));
    let mut out = Vec::new();
    diff_into(&old, &new, String::new(), &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn diff_into(old: &Value, new: &Value, path: String, out: &mut Vec<DiffEntry>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => diff_into(va, vb, join(&path, k), out),
                    None => out.push(DiffEntry {
                        path: join(&path, k),
                        op: "removed",
                        before: Some(va.clone()),
                        after: None,
                    }),
                }
            }
            for (k, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                out.push(DiffEntry {
                    path: join(&path, k),
                    op: "added",
                    before: None,
                    after: Some(vb.clone()),
                });
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff_into(va, vb, format!("{path}[{i}]"), out);
            }
        }
        _ if old != new => out.push(DiffEntry {
            path,
            op: "changed",
            before: Some(old.clone()),
            after: Some(new.clone()),
        }),
        _ => {}
    }
}

/// A one-line summary of a diff for the version list.
pub fn summarize(diff: &[DiffEntry]) -> String {
    let mut parts: Vec<String> = diff
        .iter()
        .take(3)
        .map(|d| format!("{} {}", d.path, d.op))
        .collect();
    if diff.len() > 3 {
        parts.push(format!("and {} more", diff.len() - 3));
    }
    if parts.is_empty() {
        "no change".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The `bifrost.yaml` layout rewritten in the native layout (the store keeps the native one:
/// the management API edits `providers.<name>` in place). Sections both layouts share pass
/// unchanged.
pub fn to_native(document: &Value) -> Value {
    let Some(Value::Array(list)) = document.get("providers") else {
        return document.clone();
    };
    let mut out = document.as_object().cloned().unwrap_or_default();
    let mut providers = Map::new();
    for p in list {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            continue;
        };
        let mut np = Map::new();
        if let Some(t) = p.get("type") {
            np.insert("type".into(), t.clone());
        }
        if let Some(k) = p.get("apiKey").or_else(|| p.get("api_key")) {
            np.insert(
                "keys".into(),
                serde_json::json!([{"name": format!("{name}-key-0"), "value": k, "models": [], "weight": 1.0}]),
            );
        }
        if let Some(m) = p.get("models") {
            np.insert("models".into(), m.clone());
        }
        let mut network = Map::new();
        if let Some(c) = p.get("config") {
            if let Some(ms) = c.get("timeout").and_then(Value::as_u64) {
                network.insert(
                    "default_request_timeout_in_seconds".into(),
                    Value::from(ms.div_ceil(1000).max(1)),
                );
            }
            if let Some(url) = c.get("baseUrl").or_else(|| c.get("base_url")) {
                network.insert("base_url".into(), url.clone());
            }
            if let Some(org) = c
                .get("organization")
                .filter(|o| o.as_str().is_some_and(|s| !s.is_empty()))
            {
                network.insert(
                    "extra_headers".into(),
                    serde_json::json!({"OpenAI-Organization": org}),
                );
            }
        }
        if !network.is_empty() {
            np.insert("network_config".into(), Value::Object(network));
        }
        providers.insert(name.to_owned(), Value::Object(np));
    }
    out.insert("providers".into(), Value::Object(providers));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "providers": {
                "openai": {"keys": [
                    {"name": "a", "value": "sk-live-abcdefgh1234", "models": []},
                    {"name": "b", "value": "env.OPENAI_API_KEY"}
                ]},
                "bedrock": {"keys": [{"value": "", "bedrock_key_config": {
                    "access_key": "AKIAEXAMPLE12345", "secret_key": "wJalrXUtnFEMI/K7MDENG", "region": "us-east-1"}}]}
            },
            "logs_store": {"type": "postgres", "config": {"url": "postgres://u:pw@h/db", "password": "hunter2hunter2"}},
            "otel": {"headers": {"Authorization": "Bearer otlp-token-9876"}},
            "client": {"drop_excess_requests": true}
        })
    }

    #[test]
    fn secrets_are_found_by_place_and_redacted_to_their_last_four() {
        let r = redacted(&doc());
        let text = r.to_string();
        for s in secret_values(&doc()) {
            assert!(!text.contains(&s), "{s} leaked in {text}");
        }
        assert_eq!(r["providers"]["openai"]["keys"][0]["value"], "****1234");
        assert_eq!(
            r["providers"]["openai"]["keys"][1]["value"],
            "env.OPENAI_API_KEY"
        );
        assert_eq!(
            r["providers"]["bedrock"]["keys"][0]["bedrock_key_config"]["region"],
            "us-east-1"
        );
        assert_eq!(r["client"]["drop_excess_requests"], true);
        assert_eq!(secret_values(&doc()).len(), 6);
    }

    #[test]
    fn virtual_key_values_and_the_redis_url_are_secrets() {
        let d = json!({
            "governance": {"virtual_keys": [{"id": "vk", "value": "sk-bf-abcdefgh1234", "name": "value"}]},
            "redis": {"url": "redis://:hunter2@h:6379/0"}
        });
        let text = redacted(&d).to_string();
        assert!(
            !text.contains("abcdefgh") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(text.contains("\"name\":\"value\""), "{text}");
    }

    #[test]
    fn a_redacted_secret_sent_back_keeps_the_stored_one() {
        let current = doc();
        let mut incoming = redacted(&current);
        restore_redacted(&mut incoming, &current).unwrap();
        assert_eq!(incoming, current);
        let mut forged =
            json!({"providers": {"openai": {"keys": [{"name": "a", "value": "****9999"}]}}});
        let e = restore_redacted(&mut forged, &current).unwrap_err();
        assert!(e.starts_with("providers.openai.keys[0].value"), "{e}");
    }

    #[test]
    fn encryption_covers_every_secret_and_round_trips() {
        let c = SecretCipher::from_passphrase("k", "test").unwrap();
        let stored = encrypted(&doc(), &c);
        let text = stored.to_string();
        for s in secret_values(&doc()) {
            assert!(!text.contains(&s), "{s} stored in clear");
        }
        assert!(text.contains("env.OPENAI_API_KEY"));
        assert_eq!(decrypted(&stored, &c).unwrap(), doc());
    }

    #[test]
    fn diffs_name_paths_and_never_show_secrets() {
        let old = doc();
        let mut new = doc();
        new["providers"]["openai"]["keys"][0]["value"] = json!("sk-live-zzzzzzzz5678");
        new["client"]["drop_excess_requests"] = json!(false);
        new["providers"]["groq"] = json!({"keys": []});
        let d = diff(&old, &new);
        let mut paths: Vec<_> = d.iter().map(|e| (e.path.as_str(), e.op)).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                ("client.drop_excess_requests", "changed"),
                ("providers.groq", "added"),
                ("providers.openai.keys[0].value", "changed"),
            ]
        );
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("sk-live"));
        assert!(text.contains("****5678"));
    }

    #[test]
    fn the_yaml_layout_becomes_native() {
        let yaml = json!({"providers": [{"name": "groq-primary", "type": "groq", "apiKey": "${GROQ_API_KEY}",
            "models": ["llama-3.1-8b-instant"], "config": {"timeout": 15000, "organization": null}}],
            "server": {"port": 8080}});
        let n = to_native(&yaml);
        assert_eq!(n["providers"]["groq-primary"]["type"], "groq");
        assert_eq!(
            n["providers"]["groq-primary"]["keys"][0]["value"],
            "${GROQ_API_KEY}"
        );
        assert_eq!(
            n["providers"]["groq-primary"]["network_config"]["default_request_timeout_in_seconds"],
            15
        );
        assert_eq!(n["server"]["port"], 8080);
    }
}
