//! The config file's JSON Schema: the checked-in `docs/config.schema.json` is what the code
//! generates, the repository's example configs (and the config snippets in the docs) validate
//! against it, and values of the wrong type do not — the same files the loader accepts or
//! rejects.
//!
//! Regenerate the checked-in file after changing a file-facing type:
//! `cargo run -p heimdall -- config-schema > docs/config.schema.json`, or
//! `HEIMDALL_BLESS=1 cargo test -p heimdall-config --test config_schema`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use heimdall_config::{ConfigFormat, json_schema, json_schema_pretty, parse_str};
use serde_json::{Value, json};

const SCHEMA_FILE: &str = "docs/config.schema.json";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema()).expect("the generated schema compiles")
}

/// The schema's complaints about `config`, one line each.
fn schema_errors(config: &Value) -> Vec<String> {
    validator()
        .iter_errors(config)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn loader_accepts(config: &Value) -> Result<(), String> {
    let no_env: BTreeMap<String, String> = BTreeMap::new();
    parse_str(&config.to_string(), ConfigFormat::Json, &no_env)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn checked_in_schema_matches_the_code() {
    let path = repo(SCHEMA_FILE);
    let generated = json_schema_pretty();
    if std::env::var("HEIMDALL_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "{SCHEMA_FILE} is out of date with the config types (first difference at line {}).\n\
             Regenerate it with\n    cargo run -p heimdall -- config-schema > {SCHEMA_FILE}\n\
             or\n    HEIMDALL_BLESS=1 cargo test -p heimdall-config --test config_schema",
            line + 1
        );
    }
}

#[test]
fn schema_is_draft_2020_12_with_its_title_and_a_dollar_schema_property() {
    let schema = json_schema();
    assert!(jsonschema::meta::is_valid(&schema));
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["title"],
        "Heimdall configuration (Bifrost config.json layout)"
    );
    assert_eq!(schema["properties"]["$schema"]["type"][0], "string");
    assert_eq!(heimdall_config::SCHEMA_TITLE, schema["title"]);
}

/// Fenced ```json / ```yaml blocks of a Markdown file.
fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let fence = line.trim_start();
        match &mut current {
            None if matches!(fence, "```json" | "```yaml" | "```yml") => {
                current = Some(String::new());
            }
            Some(text) if fence.starts_with("```") => {
                blocks.push(std::mem::take(text));
                current = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn parse_block(text: &str, from: &str) -> Value {
    yaml_serde::from_str(text).unwrap_or_else(|e| panic!("{from}: unreadable block: {e}\n{text}"))
}

#[test]
fn repository_example_configs_validate() {
    let validator = validator();
    let mut checked = Vec::new();
    let mut check = |from: String, config: &Value| {
        let errors: Vec<String> = validator
            .iter_errors(config)
            .map(|e| format!("  {}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{from} does not match {SCHEMA_FILE}:\n{}",
            errors.join("\n")
        );
        checked.push(from);
    };

    // The native-layout example (examples/bifrost.yaml is the other layout: `providers` is a
    // list there, which this schema does not describe).
    let text = std::fs::read_to_string(repo("examples/config.json")).unwrap();
    check(
        "examples/config.json".to_owned(),
        &serde_json::from_str(&text).unwrap(),
    );

    // Whole-config snippets in the docs (the bifrost.yaml-layout one excepted).
    for doc in ["docs/configuration.md", "docs/observability.md"] {
        let markdown = std::fs::read_to_string(repo(doc)).unwrap();
        for (i, block) in code_blocks(&markdown).iter().enumerate() {
            let from = format!("{doc} block {}", i + 1);
            let config = parse_block(block, &from);
            if config.get("providers").is_some_and(Value::is_array) {
                continue;
            }
            check(from, &config);
        }
    }
    // Key snippets in docs/providers.md, inside a provider of their kind.
    let markdown = std::fs::read_to_string(repo("docs/providers.md")).unwrap();
    for (i, block) in code_blocks(&markdown).iter().enumerate() {
        let from = format!("docs/providers.md block {}", i + 1);
        let key = parse_block(block, &from);
        check(from, &json!({"providers": {"p": {"keys": [key]}}}));
    }

    assert!(checked.len() >= 8, "too few examples found: {checked:?}");
}

#[test]
fn wrong_types_fail_validation_as_they_fail_loading() {
    let cases = [
        json!({"providers": {"openai": {"keys": "nope"}}}),
        json!({"providers": {"openai": {"keys": [{"weight": "heavy"}]}}}),
        json!({"providers": {"openai": {"network_config": {"max_retries": -1}}}}),
        json!({"providers": {"openai": {"provider_type": 5}}}),
        json!({"providers": {"openai": {"proxy_config": {"url": "http://p:3128"}}}}),
        json!({"aliases": {"fast": 1}}),
        json!({"server": {"port": 70000}}),
        json!({"client": {"drop_excess_requests": "yes"}}),
        json!({"otel": {"sampleRate": "all"}}),
        json!({"otel": {"protocol": "thrift"}}),
        json!({"logs_store": {"type": "mysql"}}),
        json!({"logsStore": {"unknown_setting": 1}}),
        json!({"pricing": {"overrides": {"m": {"output": 1.0}}}}),
        json!({"loadBalancing": {"strategy": "fastest"}}),
        json!({"load_balancing": {"config": {"healthCheck": "on"}}}),
        json!({"fallback_triggers": ["timeout", "sunspots"]}),
        json!({"fallbackTriggers": "timeout"}),
    ];
    for config in cases {
        assert!(
            !schema_errors(&config).is_empty(),
            "the schema accepts {config}"
        );
        assert!(
            loader_accepts(&config).is_err(),
            "the loader accepts {config}"
        );
    }
    let errors = schema_errors(&json!({"providers": {"openai": {"keys": "nope"}}}));
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/providers/openai/keys")),
        "{errors:?}"
    );
}

#[test]
fn env_references_unknown_keys_and_aliases_validate_as_they_load() {
    let config = json!({
        "$schema": "./docs/config.schema.json",
        "providers": {
            "openai": {
                "provider_type": "openai",
                "keys": [{"name": "k", "value": "env.OPENAI_API_KEY", "weight": 1}],
                "network_config": {
                    "base_url": "${OPENAI_BASE_URL}",
                    "extra_headers": {"X-Org": "env.ORG"},
                    "retry_backoff_initial_ms": 100,
                    "retry_backoff_max_ms": 1000
                },
                "proxy_config": {"type": "environment", "password": "env.PROXY_PASSWORD"},
                "some_bifrost_setting": true
            },
            "vllm": {"keys": [{"url": "env.VLLM_URL"}]}
        },
        "aliases": {"fast": "openai/gpt-4o-mini"},
        "client": {"future_client_setting": 1},
        "logsStore": {"type": "postgres", "config": {"port": "env.PG_PORT", "password": "env.PG"}},
        "otel": {"enabled": true, "collector_url": "env.OTEL_URL", "protocol": "http/protobuf", "sampleRate": 0.5},
        "load_balancing": {"strategy": "round-robin", "config": {"maxRetries": 2}},
        "fallbackTriggers": ["timeout", "bad_request"],
        "caching": {"enabled": false}
    });
    let errors = schema_errors(&config);
    assert!(errors.is_empty(), "{errors:?}");
    let env: BTreeMap<String, String> = [("VLLM_URL", "http://gpu:8000/v1"), ("PG_PORT", "5433")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let loaded = parse_str(&config.to_string(), ConfigFormat::Json, &env).unwrap();
    assert_eq!(loaded.config.logs_store.port, 5433);
    assert_eq!(loaded.config.otel.sample_rate, 0.5);
    assert_eq!(loaded.config.model_aliases["fast"], "openai/gpt-4o-mini");
    assert_eq!(
        loaded.config.not_yet_active(),
        ["client.future_client_setting"]
    );
}

#[test]
fn a_top_level_dollar_schema_is_ignored_silently() {
    let no_env: BTreeMap<String, String> = BTreeMap::new();
    let json = r#"{"$schema": "./docs/config.schema.json",
        "providers": {"ollama": {"models": ["llama3.2"]}}}"#;
    let yaml = "$schema: ./docs/config.schema.json\nproviders:\n  - {name: o, type: ollama}\n";
    for (text, format) in [(json, ConfigFormat::Json), (yaml, ConfigFormat::Yaml)] {
        let loaded = parse_str(text, format, &no_env).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(
            loaded.config.not_yet_active().is_empty(),
            "{:?}",
            loaded.config.not_yet_active()
        );
        assert!(loaded.config.inactive_sections.is_empty());
    }
}
