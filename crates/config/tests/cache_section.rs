//! The cache section in its three spellings — the reference yaml's `caching`, Bifrost's
//! `semantic_cache` plugin entry, a native `cache` — and its validation paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use heimdall_config::{
    CacheBackendKind, ConfigFormat, EmbeddingSource, TenantScope, load_file, parse_str,
};

fn no_env() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn the_reference_yaml_caches_every_request_in_memory() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/bifrost.yaml");
    let cfg = load_file(&path, &no_env()).unwrap().config;
    let c = &cfg.cache;
    assert!(c.enabled);
    assert_eq!(c.backend, CacheBackendKind::Memory);
    assert_eq!(c.threshold, 0.95);
    assert_eq!(c.ttl, Duration::from_secs(3600));
    assert_eq!(c.max_tokens, Some(4000));
    assert!(c.exclude_models.contains(&"whisper-1".to_owned()));
    assert_eq!(c.default_cache_key.as_deref(), Some("default"));
    // No embedder named: exact hits only (the semantic tier is opt-in).
    assert_eq!(c.embedding, EmbeddingSource::None);
    assert!(!cfg.inactive_sections.contains_key("caching"));
}

#[test]
fn bifrosts_plugin_entry_is_opt_in_and_embeds_through_its_provider() {
    let json = r#"{"providers": {}, "plugins": [
        {"name": "telemetry", "enabled": true},
        {"name": "semantic_cache", "enabled": true, "config": {
            "provider": "openai", "embedding_model": "text-embedding-3-small", "dimension": 1536,
            "ttl": "5m", "threshold": 0.8, "conversation_history_threshold": 5,
            "cache_by_model": true, "cache_by_provider": false, "exclude_system_prompt": true,
            "keys": [{"value": "sk"}]}}]}"#;
    let loaded = parse_str(json, ConfigFormat::Json, &no_env()).unwrap();
    let c = &loaded.config.cache;
    assert!(c.enabled);
    assert_eq!(
        c.default_cache_key, None,
        "Bifrost's plugin caches only keyed requests"
    );
    assert_eq!(
        c.embedding,
        EmbeddingSource::Gateway {
            model: "openai/text-embedding-3-small".into()
        }
    );
    assert_eq!(c.dimension, Some(1536));
    assert_eq!(c.ttl, Duration::from_secs(300));
    assert_eq!(c.conversation_history_threshold, 5);
    assert!(!c.cache_by_provider && c.exclude_system_prompt);
    assert!(
        loaded.warnings.iter().any(|w| w.contains("keys")),
        "{:?}",
        loaded.warnings
    );
    // The other plugin entry is kept (and reported) as before.
    assert!(loaded.config.inactive_sections.contains_key("plugins"));
}

#[test]
fn a_native_section_takes_every_knob() {
    let json = r#"{"providers": {}, "redis": {"url": "redis://127.0.0.1:6379/0"},
        "cache": {"backend": "redis", "ttl": 90, "embedding_model": "none",
                  "tenant_scope": "team", "max_memory_mb": 8, "max_entry_kb": 64,
                  "default_cache_key": "k", "exact_scan_limit": 100}}"#;
    let c = parse_str(json, ConfigFormat::Json, &no_env())
        .unwrap()
        .config
        .cache;
    assert_eq!(c.backend, CacheBackendKind::Redis);
    assert_eq!(c.ttl, Duration::from_secs(90));
    assert_eq!(c.embedding, EmbeddingSource::None);
    assert_eq!(c.tenant_scope, TenantScope::Team);
    assert_eq!(c.max_memory_bytes, 8 << 20);
    assert_eq!(c.max_entry_bytes, 64 << 10);
    assert_eq!(c.exact_scan_limit, 100);
}

#[test]
fn bad_cache_values_name_their_path() {
    for (json, path) in [
        (
            r#"{"providers": {}, "cache": {"backend": "mongo"}}"#,
            "cache.backend",
        ),
        (
            r#"{"providers": {}, "cache": {"ttl": "soon"}}"#,
            "cache.ttl",
        ),
        (
            r#"{"providers": {}, "cache": {"threshold": 1.5}}"#,
            "cache.threshold",
        ),
        (
            r#"{"providers": {}, "cache": {"tenant_scope": "world"}}"#,
            "cache.tenant_scope",
        ),
        (
            r#"{"providers": {}, "cache": {"similarity": 0.9}}"#,
            "cache",
        ),
    ] {
        let e = parse_str(json, ConfigFormat::Json, &no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains(path), "{json}: {e}");
    }
}
