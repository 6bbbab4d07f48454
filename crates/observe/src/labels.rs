//! Which values may become metric labels.
//!
//! Why: a label value is a time series for as long as the process lives. Model names and
//! `x-bf-prom-*` header values come from clients; taking them as labels let a client create
//! series without end (2,000 made-up model names made `/metrics` 11.6 MB; 70,000 made the
//! gateway hold 377 MB). Providers and models become labels only when the operator named them
//! (config, fallbacks, aliases, key model lists) or the price catalog lists them; anything
//! else is `other`. Extra header labels keep their first values up to a fixed count per label.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::pricing::PriceBook;
use heimdall_config::GatewayConfig;

/// The label value for anything not known.
pub const OTHER: &str = "other";

/// Distinct values one extra label may take before new ones become `other`.
pub const EXTRA_VALUES_PER_LABEL: usize = 64;

/// Providers and models the operator knows of.
#[derive(Debug, Default)]
pub struct KnownModels {
    providers: HashSet<String>,
    models: HashSet<String>,
    /// Accept every value (unit tests of other metric behaviour).
    any: bool,
}

impl KnownModels {
    /// Every value is a label (no protection; for tests of the families themselves).
    pub fn any() -> Self {
        Self {
            any: true,
            ..Self::default()
        }
    }

    /// The providers and models of `config`, and the model ids `prices` lists.
    pub fn from_config(config: &GatewayConfig, prices: &PriceBook) -> Self {
        let mut k = Self::default();
        k.models.insert("none".to_owned());
        k.providers.insert("none".to_owned());
        for (name, p) in &config.providers {
            k.providers.insert(name.clone());
            k.models.extend(p.models.iter().cloned());
            for key in &p.keys {
                k.models.extend(key.models.iter().cloned());
                if let Some(a) = &key.azure {
                    k.models.extend(a.deployments.keys().cloned());
                    k.models.extend(a.deployments.values().cloned());
                }
                if let Some(b) = &key.bedrock {
                    k.models.extend(b.deployments.keys().cloned());
                    k.models.extend(b.deployments.values().cloned());
                }
            }
        }
        let references = config
            .fallbacks
            .iter()
            .flat_map(|(from, to)| std::iter::once(from).chain(to))
            .chain(config.model_aliases.iter().flat_map(|(a, t)| [a, t]));
        for r in references {
            k.models.insert(r.clone());
            if let Some((_, model)) = r.split_once('/') {
                k.models.insert(model.to_owned());
            }
        }
        k.models.extend(prices.model_ids().map(str::to_owned));
        k
    }

    /// `provider` if known, else `other`.
    pub fn provider<'a>(&self, provider: &'a str) -> &'a str {
        if self.any || self.providers.contains(provider) {
            provider
        } else {
            OTHER
        }
    }

    /// `model` if known, else `other`.
    pub fn model<'a>(&self, model: &'a str) -> &'a str {
        if self.any || self.models.contains(model) {
            model
        } else {
            OTHER
        }
    }

    /// A requested `provider/model` or bare name: kept when the operator knows it (as a whole,
    /// or a known provider with a known model), else `other`.
    pub fn reference<'a>(&self, reference: &'a str) -> &'a str {
        let known = self.any
            || self.models.contains(reference)
            || reference
                .split_once('/')
                .is_some_and(|(p, m)| self.providers.contains(p) && self.models.contains(m));
        if known { reference } else { OTHER }
    }
}

/// The values each extra label has taken, each bounded to [`EXTRA_VALUES_PER_LABEL`].
#[derive(Debug, Default)]
pub struct ValueBudget {
    seen: Mutex<HashMap<String, HashSet<String>>>,
}

impl ValueBudget {
    /// `value` if label `name` has taken it before or has room for it, else `other`.
    pub fn admit(&self, name: &str, value: &str) -> String {
        let Ok(mut seen) = self.seen.lock() else {
            return OTHER.to_owned();
        };
        let values = seen.entry(name.to_owned()).or_default();
        if values.contains(value) {
            return value.to_owned();
        }
        if values.len() < EXTRA_VALUES_PER_LABEL {
            values.insert(value.to_owned());
            return value.to_owned();
        }
        OTHER.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_models_and_providers_are_other() {
        let cfg = heimdall_config::parse_str(
            r#"{"providers": {"openai": {"type": "openai", "keys": [{"value": "sk-xxxxxxxxxx",
                "models": ["my-tuned-model"], "weight": 1}]}},
                "fallbacks": {"x": ["anthropic/claude-z"]}}"#,
            heimdall_config::ConfigFormat::Json,
            &std::collections::BTreeMap::new(),
        )
        .map(|l| l.config)
        .unwrap_or_default();
        let prices = PriceBook::new(&cfg.pricing);
        let k = KnownModels::from_config(&cfg, &prices);
        assert_eq!(k.provider("openai"), "openai");
        assert_eq!(k.provider("made-up"), OTHER);
        assert_eq!(k.model("my-tuned-model"), "my-tuned-model");
        assert_eq!(k.model("claude-z"), "claude-z");
        assert_eq!(k.model("gpt-4o"), "gpt-4o", "priced in the catalog");
        assert_eq!(k.model("evil\nline-12345"), OTHER);
        assert_eq!(k.reference("openai/gpt-4o"), "openai/gpt-4o");
        assert_eq!(k.reference("openai/zzz"), OTHER);
    }

    #[test]
    fn an_extra_label_stops_growing() {
        let b = ValueBudget::default();
        for i in 0..1000 {
            let v = b.admit("team", &format!("t{i}"));
            assert_eq!(v == OTHER, i >= EXTRA_VALUES_PER_LABEL, "{i}");
        }
        assert_eq!(b.admit("team", "t3"), "t3");
        assert_eq!(b.admit("other-label", "x"), "x");
    }
}
