//! Zero-config: providers from well-known environment variables when no file is given.
//!
//! Why: `heimdall` with `OPENAI_API_KEY` set should just work, like the SDKs do. The notes
//! say which variables were used (never their values) so the start-up log explains itself.

use crate::build::LoadCtx;
use crate::env::EnvLookup;
use crate::kinds::{ALL_KINDS, ProviderKind};
use crate::model::{GatewayConfig, NetworkConfig, ProviderConfig, normalize_base_url};

/// Build a config from environment variables; the second value lists what was used.
pub fn build(env: &dyn EnvLookup) -> (GatewayConfig, Vec<String>) {
    let mut cfg = GatewayConfig::default();
    let mut notes = Vec::new();
    let mut ctx = LoadCtx::new(env);
    for kind in ALL_KINDS {
        let preset = kind.preset();
        let Some(var) = preset
            .api_key_env
            .iter()
            .find(|v| env.var(v).is_some_and(|s| !s.trim().is_empty()))
        else {
            continue;
        };
        let name = kind.as_str().to_owned();
        let key = ctx.key(
            &name,
            0,
            None,
            Some(&format!("env.{var}")),
            vec![],
            None,
            None,
        );
        let mut network = NetworkConfig::default();
        if *kind == ProviderKind::OpenAi
            && let Some(url) = env.var("OPENAI_BASE_URL").filter(|u| !u.is_empty())
        {
            network.base_url = Some(normalize_base_url(&url));
            notes.push("openai base URL from OPENAI_BASE_URL".to_owned());
        }
        notes.push(format!("provider {name} from {var}"));
        cfg.providers.insert(
            name.clone(),
            ProviderConfig {
                name,
                kind: *kind,
                keys: vec![key],
                network,
                concurrency: Default::default(),
                proxy: None,
                models: vec![],
            },
        );
    }
    for (kind, vars) in [
        (
            ProviderKind::Ollama,
            &["OLLAMA_BASE_URL", "OLLAMA_HOST"][..],
        ),
        (ProviderKind::Vllm, &["VLLM_BASE_URL"][..]),
        (ProviderKind::Sglang, &["SGLANG_BASE_URL"][..]),
    ] {
        let Some((var, url)) = vars
            .iter()
            .find_map(|v| env.var(v).filter(|u| !u.trim().is_empty()).map(|u| (*v, u)))
        else {
            continue;
        };
        let url = if url.contains("://") {
            url
        } else {
            format!("http://{url}")
        };
        let name = kind.as_str().to_owned();
        notes.push(format!("provider {name} from {var}"));
        cfg.providers.insert(
            name.clone(),
            ProviderConfig {
                name,
                kind,
                keys: vec![],
                network: NetworkConfig {
                    base_url: Some(normalize_base_url(&url)),
                    ..NetworkConfig::default()
                },
                concurrency: Default::default(),
                proxy: None,
                models: vec![],
            },
        );
    }
    notes.extend(ctx.warnings);
    (cfg, notes)
}

/// The zero-config providers as a configuration document (native layout), keys as `env.VAR`
/// references: what store mode seeds an empty store with when no file is given.
pub fn document(env: &dyn EnvLookup) -> serde_json::Value {
    let (cfg, _) = build(env);
    let mut providers = serde_json::Map::new();
    for (name, p) in &cfg.providers {
        let mut entry = serde_json::Map::new();
        let var = p
            .kind
            .preset()
            .api_key_env
            .iter()
            .find(|v| env.var(v).is_some_and(|s| !s.trim().is_empty()));
        if let Some(var) = var {
            entry.insert(
                "keys".into(),
                serde_json::json!([{"name": format!("{name}-key-0"), "value": format!("env.{var}"), "models": [], "weight": 1.0}]),
            );
        }
        if let Some(url) = &p.network.base_url {
            entry.insert(
                "network_config".into(),
                serde_json::json!({"base_url": url}),
            );
        }
        providers.insert(name.clone(), serde_json::Value::Object(entry));
    }
    if providers.is_empty() {
        return serde_json::json!({});
    }
    serde_json::json!({ "providers": providers })
}
