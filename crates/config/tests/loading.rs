//! Loading both layouts, env references, validation paths, zero-config, and secret hygiene.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use heimdall_config::{
    ConfigFormat, FallbackTrigger, Layout, ProviderKind, ProxyKind, Strategy, from_environment,
    load_file, parse_str,
};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn error_text(json: &str) -> String {
    parse_str(json, ConfigFormat::Json, &env(&[]))
        .unwrap_err()
        .to_string()
}

#[test]
fn native_example_loads_with_keys_weights_and_env_values() {
    let e = env(&[
        ("OPENAI_API_KEY_1", "sk-one"),
        ("OPENAI_API_KEY_2", "sk-two"),
        ("GROQ_API_KEY", "gsk"),
        ("INTERNAL_LLM_TOKEN", "tok"),
    ]);
    let loaded = load_file(&example("config.json"), &e).unwrap();
    assert_eq!(loaded.layout, Layout::Native);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let cfg = loaded.config;
    let openai = cfg.provider("openai").unwrap();
    assert_eq!(openai.kind, ProviderKind::OpenAi);
    assert_eq!(openai.keys.len(), 2);
    assert_eq!(openai.keys[0].value.expose(), "sk-one");
    assert_eq!(openai.keys[0].weight, 0.7);
    assert_eq!(openai.keys[0].models, ["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(openai.network.max_retries, 2);
    assert_eq!(
        openai.network.retry_backoff_initial,
        Duration::from_millis(200)
    );
    assert_eq!(openai.network.extra_headers["X-Organization-ID"], "org-123");
    assert_eq!(
        openai.base_url().as_deref(),
        Some("https://api.openai.com/v1")
    );
    // A URL without a path gets /v1, as Bifrost does.
    assert_eq!(
        cfg.provider("ollama").unwrap().base_url().as_deref(),
        Some("http://localhost:11434/v1")
    );
    let vllm = cfg.provider("vllm").unwrap();
    assert_eq!(
        vllm.keys[1].base_url.as_deref(),
        Some("http://10.0.0.6:8000/v1")
    );
    let custom = cfg.provider("my-company-llm").unwrap();
    assert_eq!(custom.kind, ProviderKind::Custom);
    assert_eq!(custom.keys[0].value.expose(), "tok");
    assert_eq!(custom.proxy.as_ref().unwrap().kind, ProxyKind::Http);
    assert_eq!(cfg.model_aliases["fast"], "groq/llama-3.1-8b-instant");
    assert_eq!(cfg.server.port, Some(8080));
}

#[test]
fn bifrost_yaml_loads_without_and_with_env() {
    let loaded = load_file(&example("bifrost.yaml"), &env(&[])).unwrap();
    assert_eq!(loaded.layout, Layout::BifrostYaml);
    let cfg = &loaded.config;
    assert_eq!(cfg.providers.len(), 3);
    let openai = cfg.provider("openai-primary").unwrap();
    assert_eq!(openai.kind, ProviderKind::OpenAi);
    assert_eq!(
        openai.keys[0].unresolved_env.as_deref(),
        Some("OPENAI_API_KEY")
    );
    assert!(openai.models.contains(&"gpt-4o".to_owned()));
    assert_eq!(
        openai.network.default_request_timeout,
        Duration::from_secs(30)
    );
    assert_eq!(
        cfg.provider("groq-primary").unwrap().kind,
        ProviderKind::Groq
    );
    assert_eq!(
        cfg.provider("anthropic-backup").unwrap().kind,
        ProviderKind::Anthropic
    );
    assert_eq!(cfg.fallbacks["gpt-4o"].len(), 2);
    assert_eq!(cfg.load_balancing.strategy, Strategy::Adaptive);
    assert!(cfg.load_balancing.health.active_checks);
    assert_eq!(
        cfg.load_balancing.health.check_interval,
        Duration::from_secs(60)
    );
    // Every section acts: caching is the response cache's (crates/config/tests/cache_section.rs).
    assert!(cfg.cache.enabled);
    assert!(
        cfg.not_yet_active().is_empty(),
        "{:?}",
        cfg.not_yet_active()
    );
    let budgets = &cfg.governance.scoped_budgets;
    assert_eq!(budgets.len(), 2);
    assert_eq!(
        (budgets[0].name.as_str(), budgets[0].limit, budgets[0].scope),
        (
            "daily-ai-budget",
            50.0,
            heimdall_config::BudgetScope::Global
        )
    );
    assert_eq!(budgets[0].alert_threshold, Some(0.8));
    assert_eq!(
        (budgets[1].scope, budgets[1].period.as_str()),
        (heimdall_config::BudgetScope::User, "monthly")
    );
    let sec = &cfg.security;
    assert!(sec.cors.enabled);
    assert_eq!(sec.cors.allowed_origins.len(), 3);
    assert_eq!(sec.rate_limit.requests_per_minute, Some(100));
    assert_eq!(sec.rate_limit.requests_per_hour, Some(1000));
    assert!(!sec.api_keys.enabled);
    assert_eq!(cfg.server.timeout, Some(Duration::from_secs(60)));
    assert_eq!(cfg.process.log_level.as_deref(), Some("info"));
    assert!(cfg.process.log_json);
    assert_eq!(cfg.process.metrics_port, Some(9090));
    assert_eq!(cfg.process.metrics_path, "/metrics");
    assert_eq!(cfg.server.port, Some(8080));
    // Three unset key variables, and loadBalancing.config.maxRetries (retries are per provider).
    assert_eq!(loaded.warnings.len(), 4, "{:?}", loaded.warnings);

    let with_env = load_file(
        &example("bifrost.yaml"),
        &env(&[("OPENAI_API_KEY", "sk-real")]),
    )
    .unwrap();
    let k = &with_env.config.provider("openai-primary").unwrap().keys[0];
    assert_eq!(k.value.expose(), "sk-real");
    assert!(k.unresolved_env.is_none());
}

#[test]
fn yaml_and_json_of_the_same_config_are_equal() {
    let json = r#"{"providers":{"groq":{"keys":[{"name":"g","value":"env.G","models":["m"],"weight":2}],
        "network_config":{"default_request_timeout_in_seconds":7}}},"model_aliases":{"a":"groq/m"}}"#;
    let yaml = "providers:\n  groq:\n    keys:\n      - name: g\n        value: env.G\n        models: [m]\n        weight: 2\n    network_config:\n      default_request_timeout_in_seconds: 7\nmodel_aliases:\n  a: groq/m\n";
    let e = env(&[("G", "secret-g")]);
    let a = parse_str(json, ConfigFormat::Json, &e).unwrap().config;
    let b = parse_str(yaml, ConfigFormat::Yaml, &e).unwrap().config;
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&b).unwrap()
    );
}

#[test]
fn validation_errors_name_the_field_path() {
    let t = error_text(r#"{"providers":{"openai":{"keys":[{"value":"x","weight":"heavy"}]}}}"#);
    assert!(
        t.starts_with("providers.openai.keys[0].weight: invalid type"),
        "{t}"
    );
    let t = error_text(r#"{"providers":{"openai":{"keys":[{"value":"x","weight":-1}]}}}"#);
    assert!(
        t.contains("providers.openai.keys[0].weight: weight must be"),
        "{t}"
    );
    let t = error_text(r#"{"providers":{"my-llm":{"keys":[]}}}"#);
    assert!(
        t.contains("providers.my-llm: unknown provider type 'my-llm'"),
        "{t}"
    );
    let t = error_text(r#"{"providers":{"mine":{"type":"custom","keys":[{"value":"x"}]}}}"#);
    assert!(
        t.contains("providers.mine.network_config.base_url: a custom provider needs"),
        "{t}"
    );
    let t = error_text(r#"{"providers":{"vllm":{"keys":[{"value":""}]}}}"#);
    assert!(t.contains("providers.vllm.keys[0].base_url"), "{t}");
    let t = error_text(
        r#"{"providers":{"openai":{"keys":[{"value":"x"}],"network_config":{"base_url":"ftp://x"}}}}"#,
    );
    assert!(
        t.contains("providers.openai.network_config.base_url"),
        "{t}"
    );
    let t = error_text(
        r#"{"providers":{"openai":{"keys":[{"name":"a","value":"x"},{"name":"a","value":"y"}]}}}"#,
    );
    assert!(
        t.contains("providers.openai.keys[1].name: duplicate"),
        "{t}"
    );
    // Several problems are reported together.
    let t = error_text(r#"{"providers":{"a":{"type":"custom"},"vllm":{"keys":[{"value":""}]}}}"#);
    assert_eq!(t.lines().count(), 2, "{t}");
}

#[test]
fn zero_config_takes_known_variables_and_never_leaks_values() {
    let e = env(&[
        ("OPENAI_API_KEY", "sk-very-secret-value"),
        ("GROQ_API_KEY", "gsk-secret"),
        ("OLLAMA_HOST", "127.0.0.1:11434"),
        ("UNRELATED", "x"),
    ]);
    let loaded = from_environment(&e);
    assert_eq!(loaded.layout, Layout::Environment);
    let names: Vec<&String> = loaded.config.providers.keys().collect();
    assert_eq!(names, ["groq", "ollama", "openai"]);
    assert_eq!(
        loaded
            .config
            .provider("ollama")
            .unwrap()
            .base_url()
            .as_deref(),
        Some("http://127.0.0.1:11434/v1")
    );
    assert!(loaded.warnings.iter().any(|w| w.contains("OPENAI_API_KEY")));
    let everything = format!(
        "{:?}\n{}\n{:?}",
        loaded.config,
        serde_json::to_string(&loaded.config).unwrap(),
        loaded.warnings
    );
    assert!(!everything.contains("sk-very-secret-value"));
    assert!(!everything.contains("gsk-secret"));
    assert_eq!(
        loaded.config.provider("openai").unwrap().keys[0]
            .value
            .expose(),
        "sk-very-secret-value"
    );
}

#[test]
fn unset_variable_disables_the_key_with_a_warning_naming_it() {
    let loaded = parse_str(
        r#"{"providers":{"openai":{"keys":[{"value":"${NOT_SET_ANYWHERE}"}]}}}"#,
        ConfigFormat::Json,
        &env(&[]),
    )
    .unwrap();
    assert!(loaded.warnings[0].contains("NOT_SET_ANYWHERE"));
    assert!(loaded.warnings[0].contains("providers.openai.keys[0].value"));
}

#[test]
fn unknown_extension_is_refused() {
    let err = load_file(&PathBuf::from("config.toml"), &env(&[])).unwrap_err();
    assert!(err.to_string().contains(".json, .yaml or .yml"));
}

#[test]
fn native_layout_takes_balancing_triggers_and_timeouts() {
    let json = r#"{
        "providers": {"a": {"type": "openai", "keys": [{"value": "sk", "weight": 1}],
            "network_config": {"connect_timeout_in_seconds": 2, "first_byte_timeout_in_seconds": 1.5,
                "stream_idle_timeout_in_seconds": 4, "max_request_timeout_in_seconds": 90}}},
        "load_balancing": {"strategy": "round-robin", "config": {"unhealthyThreshold": 5,
            "healthyThreshold": 1, "circuitBreakerCooldown": 2000, "weights": {"a": 3}}},
        "fallback_triggers": ["rate_limit", "server_error"]
    }"#;
    let loaded = parse_str(json, ConfigFormat::Json, &env(&[])).unwrap();
    let c = loaded.config;
    assert_eq!(c.load_balancing.strategy, Strategy::RoundRobin);
    assert_eq!(c.load_balancing.health.unhealthy_threshold, 5);
    assert_eq!(c.load_balancing.health.healthy_threshold, 1);
    assert_eq!(c.load_balancing.health.open_for, Duration::from_secs(2));
    assert_eq!(c.load_balancing.provider_weights["a"], 3.0);
    assert_eq!(
        c.fallback_triggers,
        [FallbackTrigger::RateLimit, FallbackTrigger::ServerError]
    );
    assert!(c.not_yet_active().is_empty(), "{:?}", c.not_yet_active());
    let n = &c.provider("a").unwrap().network;
    assert_eq!(n.connect_timeout, Duration::from_secs(2));
    assert_eq!(n.first_byte(), Duration::from_millis(1500));
    assert_eq!(n.stream_idle(), Duration::from_secs(4));
    assert_eq!(n.request_timeout_cap(), Duration::from_secs(90));
}

#[test]
fn bad_balancing_values_name_their_path() {
    let json = r#"{"providers": {}, "loadBalancing": {"strategy": "fastest"},
        "fallback_triggers": ["server_error", "sometimes"]}"#;
    let err = parse_str(json, ConfigFormat::Json, &env(&[])).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("loadBalancing.strategy"), "{text}");
    assert!(text.contains("fallback_triggers[1]"), "{text}");
}

#[test]
fn azure_keys_need_an_endpoint_and_complete_entra_credentials() {
    let missing = r#"{"providers": {"az": {"type": "azure", "keys": [{"value": "k"}]}}}"#;
    let text = parse_str(missing, ConfigFormat::Json, &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("providers.az.keys[0].azure_key_config"),
        "{text}"
    );

    let partial = r#"{"providers": {"az": {"type": "azure", "keys": [{"azure_key_config":
        {"endpoint": "https://r.openai.azure.com", "tenant_id": "t"}}]}}}"#;
    let text = parse_str(partial, ConfigFormat::Json, &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("tenant_id, client_id and client_secret"),
        "{text}"
    );

    let ok = r#"{"providers": {"az": {"type": "azure", "keys": [{"value": "env.AZ_KEY",
        "azure_key_config": {"endpoint": "https://r.openai.azure.com/",
            "deployments": {"gpt-4o": "prod-4o"}}}]}}}"#;
    let cfg = parse_str(ok, ConfigFormat::Json, &env(&[("AZ_KEY", "secret")]))
        .unwrap()
        .config;
    let key = &cfg.provider("az").unwrap().keys[0];
    let az = key.azure.as_ref().unwrap();
    assert_eq!(az.endpoint, "https://r.openai.azure.com");
    assert_eq!(az.api_version, heimdall_config::DEFAULT_AZURE_API_VERSION);
    assert_eq!(
        key.models,
        ["gpt-4o"],
        "deployments declare the key's models"
    );
    assert_eq!(key.value.expose(), "secret");
}
