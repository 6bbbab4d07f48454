//! The JSON Schema of the config file in the native layout (Bifrost's `config.json`), generated
//! from the same serde types the loader reads.
//!
//! Why generated: a hand-written schema drifts from the loader; this one is derived from the
//! `Raw*` structs (their doc comments become descriptions, their serde renames, defaults and
//! flattening are honoured by schemars), checked in as `docs/config.schema.json`, and a test
//! fails when the two differ. schemars ignores serde's `alias`, so each alias is also written as
//! `#[schemars(extend("x-aliases" = [...]))]` next to it and expanded here into a property of its
//! own (or an extra enum value); a test checks that every alias in the sources is in the schema.

use schemars::JsonSchema;
use serde_json::{Map, Value};

use crate::balancing::{FallbackTrigger, RawLoadBalancing};
use crate::native::RawNative;
use crate::observability::{OtelConfig, PricingConfig, RawLogsStore};

/// The title of the generated schema.
pub const SCHEMA_TITLE: &str = "Heimdall configuration (Bifrost config.json layout)";

/// The extension keyword that carries serde aliases until they are expanded.
const ALIASES: &str = "x-aliases";

/// Heimdall's config file in Bifrost's `config.json` layout (JSON or YAML; `providers` is an
/// object). Values that name secrets, keys or URLs accept `env.VAR` and `${VAR}` references.
/// Keys Heimdall does not know are allowed: they are kept and reported as "parsed but not yet
/// active".
#[derive(JsonSchema)]
#[schemars(title = "Heimdall configuration (Bifrost config.json layout)")]
#[allow(dead_code)] // Only its schema is used; the loader reads `RawNative` and the sections.
struct ConfigFile {
    /// The JSON Schema this file follows, for editors (e.g. `./docs/config.schema.json`);
    /// Heimdall ignores it.
    #[schemars(rename = "$schema")]
    schema: Option<String>,
    #[schemars(flatten)]
    native: RawNative,
    #[schemars(flatten)]
    sections: Sections,
}

/// The sections the loader takes from the remaining top-level keys.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Sections {
    /// Where request logs go (SQLite or PostgreSQL), retention and the writer's queue.
    #[schemars(default, extend("x-aliases" = ["logsStore"]))]
    logs_store: RawLogsStore,
    /// OpenTelemetry trace export over OTLP.
    #[schemars(default)]
    otel: OtelConfig,
    /// Per-model price overrides (USD per 1M tokens) and the price for unknown models.
    #[schemars(default)]
    pricing: PricingConfig,
    /// Balancing strategy, provider weights, circuit breakers and active health checks.
    #[schemars(
        rename = "loadBalancing",
        default,
        extend("x-aliases" = ["load_balancing"])
    )]
    load_balancing: RawLoadBalancing,
    /// Failure classes that move a request on to its next fallback target.
    #[schemars(
        default = "default_triggers",
        extend("x-aliases" = ["fallbackTriggers"])
    )]
    fallback_triggers: Vec<FallbackTrigger>,
    /// CORS, per-client rate limits, API-key enforcement and an IP allow-list.
    #[schemars(default)]
    security: crate::security::SecurityConfig,
    /// Where configuration versions are kept (same shape as `logs_store`; default SQLite
    /// `config.db` in the app dir).
    #[schemars(extend("x-aliases" = ["configStore"]))]
    config_store: Option<RawLogsStore>,
    /// Passphrase that encrypts stored secrets (`env.VAR` allowed; `HEIMDALL_ENCRYPTION_KEY`
    /// wins; default: a key file in the app dir).
    encryption_key: Option<String>,
    /// Process log settings and the Prometheus listener.
    observability: Option<crate::security::RawObservability>,
    /// Bifrost's governance section: admin credentials, virtual keys, the customer → team →
    /// key hierarchy, budgets, rate limits.
    governance: Option<Governance>,
    /// Budgets by scope (the reference `bifrost.yaml` layout keeps them at the top level).
    budgets: Option<Vec<crate::governance::ScopedBudget>>,
    /// The Redis that instances share governance counters in.
    redis: Option<crate::governance::RawRedis>,
    /// The response cache (exact and semantic tiers); the reference `bifrost.yaml` layout's
    /// `caching` section has the same keys and caches every request.
    #[schemars(extend("x-aliases" = ["caching"]))]
    cache: Option<crate::cache::RawCache>,
    /// MCP servers whose tools the gateway offers to models, runs (execute endpoint, agent
    /// mode) and serves back at `/mcp`.
    mcp: Option<crate::mcp::RawMcp>,
    /// Bifrost's plugin list; the `semantic_cache` entry's `config` is the `cache` section
    /// (its requests opt in with `x-bf-cache-key` unless `default_cache_key` is set).
    plugins: Option<Vec<Value>>,
}

/// Bifrost's `governance` section.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Governance {
    /// Admin user created at start when missing; `disable_auth_on_inference: false` makes
    /// inference require an API token.
    auth_config: Option<crate::security::RawAuthConfig>,
    /// Virtual keys, teams, customers, budgets, rate limits.
    #[serde(flatten)]
    enforced: crate::governance::GovernanceConfig,
}

fn default_triggers() -> Vec<FallbackTrigger> {
    FallbackTrigger::DEFAULT.to_vec()
}

/// The JSON Schema (draft 2020-12) of the config file in the native layout, with every map's
/// keys sorted so the output is stable.
pub fn json_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut value = generator.into_root_schema_for::<ConfigFile>().to_value();
    expand_aliases(&mut value);
    tidy(&mut value);
    sorted(value)
}

/// [`json_schema`] as the checked-in file holds it: pretty-printed, with a trailing newline.
pub fn json_schema_pretty() -> String {
    // Serialising a `Value` cannot fail (its keys are strings).
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Replace each `x-aliases` annotation: on a property, by a property of the same schema per
/// alias; on a `const` (an enum variant), by an `enum` of the name and its aliases.
fn expand_aliases(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            if let Some(Value::Object(props)) = obj.get_mut("properties") {
                let mut added = Vec::new();
                for (name, prop) in props.iter_mut() {
                    let Some(aliases) = prop.as_object_mut().and_then(|p| p.remove(ALIASES)) else {
                        continue;
                    };
                    for alias in aliases.as_array().into_iter().flatten() {
                        if let Some(alias) = alias.as_str() {
                            let mut schema = prop.clone();
                            if let Some(s) = schema.as_object_mut() {
                                s.insert(
                                    "description".to_owned(),
                                    Value::String(format!("Alias of `{name}`.")),
                                );
                            }
                            added.push((alias.to_owned(), schema));
                        }
                    }
                }
                props.extend(added);
            }
            if let Some(aliases) = obj.remove(ALIASES)
                && let Some(name) = obj.remove("const")
            {
                let mut names = vec![name];
                names.extend(aliases.as_array().into_iter().flatten().cloned());
                obj.insert("enum".to_owned(), Value::Array(names));
            }
            for v in obj.values_mut() {
                expand_aliases(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(expand_aliases),
        _ => {}
    }
}

/// Drop `"default": null` (what `#[serde(default)]` on an `Option` yields: editors would insert
/// it) and unwrap doc-comment lines inside a paragraph of a description.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            if obj.get("default").is_some_and(Value::is_null) {
                obj.remove("default");
            }
            if let Some(Value::String(d)) = obj.get_mut("description") {
                *d = d
                    .split("\n\n")
                    .map(|para| para.lines().map(str::trim).collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n\n");
            }
            obj.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// The value with every object's keys in sorted order (whatever serde_json's map keeps).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(obj) => {
            let mut entries: Vec<(String, Value)> = obj.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn property<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
        schema.get("properties")?.get(name)
    }

    #[test]
    fn every_section_the_loader_takes_is_a_top_level_property() {
        let schema = json_schema();
        let names = crate::observability::LOGS_STORE_KEYS
            .iter()
            .chain(&crate::balancing::LOAD_BALANCING_KEYS)
            .chain(&crate::balancing::FALLBACK_TRIGGERS_KEYS)
            .chain(&["otel", "pricing", "$schema"]);
        for name in names {
            assert!(property(&schema, name).is_some(), "{name} missing");
        }
        assert_eq!(schema["title"], SCHEMA_TITLE);
        assert_eq!(schema["additionalProperties"], Value::Bool(true));
    }

    /// Property names documented as aliases, and enum values, anywhere in the schema.
    fn alias_names(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(obj) => {
                if let Some(Value::Object(props)) = obj.get("properties") {
                    for (name, p) in props {
                        if p["description"]
                            .as_str()
                            .is_some_and(|d| d.starts_with("Alias of"))
                        {
                            out.push(name.clone());
                        }
                    }
                }
                if let Some(Value::Array(values)) = obj.get("enum") {
                    out.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                }
                obj.values().for_each(|v| alias_names(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| alias_names(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_serde_alias_in_the_file_facing_sources_is_in_the_schema() {
        let schema = json_schema();
        let mut names = Vec::new();
        alias_names(&schema, &mut names);
        let sources = [
            include_str!("native.rs"),
            include_str!("observability.rs"),
            include_str!("balancing.rs"),
        ];
        let mut count = 0;
        for src in sources {
            for part in src.split("alias = \"").skip(1) {
                let alias = part.split('"').next().unwrap();
                count += 1;
                assert!(
                    names.iter().any(|n| n == alias),
                    "serde alias '{alias}' is not in the schema: add \
                     #[schemars(extend(\"x-aliases\" = [\"{alias}\"]))] next to it"
                );
            }
        }
        assert!(count >= 7, "{count}");
        assert!(!schema.to_string().contains(ALIASES));
    }
}
