//! What a request cost: the built-in price catalog (`data/pricing.json`, USD per 1M tokens,
//! with its sources and date), config overrides, and the usage → dollars arithmetic.
//!
//! Why a catalog in the repo: cost has to be known on every request without a network call,
//! and a model with no price must never look free — it is reported as unpriced (logs, a metric,
//! no cost header) unless the config names a default price.

use std::collections::HashMap;

use heimdall_config::{GatewayConfig, ModelPrice, PricingConfig, ProviderKind};
use heimdall_schema::usage::Usage;
use serde::Deserialize;

/// The catalog shipped with the binary.
const CATALOG: &str = include_str!("../data/pricing.json");

#[derive(Deserialize)]
struct CatalogFile {
    models: Vec<CatalogEntry>,
}

#[derive(Deserialize)]
struct CatalogEntry {
    provider: String,
    model: String,
    #[serde(flatten)]
    price: ModelPrice,
}

/// The price book with each configured provider's kind (prices are by kind): what a request
/// to `provider/model` is priced with, built from one configuration. The request log and
/// governance both hold one and rebuild it when the configuration changes.
#[derive(Debug, Clone, Default)]
pub struct ProviderPrices {
    /// Catalog, overrides and default price.
    pub book: PriceBook,
    /// Provider name → kind.
    pub kinds: HashMap<String, ProviderKind>,
}

impl ProviderPrices {
    /// The prices and provider kinds of `config`.
    pub fn of(config: &GatewayConfig) -> Self {
        Self {
            book: PriceBook::new(&config.pricing),
            kinds: config
                .providers
                .iter()
                .map(|(n, p)| (n.clone(), p.kind))
                .collect(),
        }
    }
}

/// Prices for every model the gateway can price.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    /// Catalog: provider kind name → model → price.
    catalog: HashMap<String, HashMap<String, ModelPrice>>,
    /// Config overrides: `provider/model` or bare model → price.
    overrides: HashMap<String, ModelPrice>,
    default_price: Option<ModelPrice>,
}

/// Where a price came from, for the log record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Priced {
    /// USD for the request.
    Cost(f64),
    /// No price known for the model (and no default configured).
    Unpriced,
}

impl PriceBook {
    /// The built-in catalog with `config`'s overrides.
    pub fn new(config: &PricingConfig) -> Self {
        let mut catalog: HashMap<String, HashMap<String, ModelPrice>> = HashMap::new();
        match serde_json::from_str::<CatalogFile>(CATALOG) {
            Ok(file) => {
                for e in file.models {
                    catalog
                        .entry(e.provider)
                        .or_default()
                        .insert(e.model, e.price);
                }
            }
            // The catalog is checked by a unit test; a broken build must not stop serving.
            Err(e) => tracing::error!(error = %e, "the built-in pricing catalog is unreadable"),
        }
        Self {
            catalog,
            overrides: config.overrides.clone().into_iter().collect(),
            default_price: config.default_price,
        }
    }

    /// Every model id the catalog and the overrides price, exactly as listed (an override's
    /// `provider/model` key also gives its model part).
    pub fn model_ids(&self) -> impl Iterator<Item = &str> + '_ {
        let overrides = self
            .overrides
            .keys()
            .flat_map(|k| [Some(k.as_str()), k.split_once('/').map(|(_, m)| m)])
            .flatten();
        self.catalog
            .values()
            .flat_map(|models| models.keys().map(String::as_str))
            .chain(overrides)
    }

    /// Models in the catalog.
    pub fn catalog_len(&self) -> usize {
        self.catalog.values().map(HashMap::len).sum()
    }

    /// The price of `model` served by the configured provider `provider` of `kind`: a config
    /// override (`provider/model`, then the bare model), then the catalog for the kind (exact
    /// model id, else the longest catalog id the model extends with a version suffix, e.g.
    /// `gpt-4o-2024-08-06` → `gpt-4o`), then the configured default.
    pub fn price(&self, provider: &str, kind: ProviderKind, model: &str) -> Option<ModelPrice> {
        let model = model.split(';').next().unwrap_or(model);
        if let Some(p) = self
            .overrides
            .get(&format!("{provider}/{model}"))
            .or_else(|| self.overrides.get(model))
        {
            return Some(*p);
        }
        self.catalog
            .get(kind.as_str())
            .and_then(|models| {
                models.get(model).or_else(|| {
                    models
                        .iter()
                        .filter(|(id, _)| {
                            model.len() > id.len()
                                && model.starts_with(id.as_str())
                                && matches!(model.as_bytes()[id.len()], b'-' | b'@' | b':')
                        })
                        .max_by_key(|(id, _)| id.len())
                        .map(|(_, p)| p)
                })
            })
            .copied()
            .or(self.default_price)
    }

    /// The cost of `usage` for `model` (see [`PriceBook::price`]).
    pub fn cost(&self, provider: &str, kind: ProviderKind, model: &str, usage: &Usage) -> Priced {
        match self.price(provider, kind, model) {
            Some(p) => Priced::Cost(cost_of(&p, usage)),
            None => Priced::Unpriced,
        }
    }
}

/// USD for `usage` at `price`: uncached input at the input price, cached input at the cached
/// price (or the input price), output at the output price; reasoning tokens are part of the
/// output count and only priced apart when the model prices them apart.
pub fn cost_of(price: &ModelPrice, usage: &Usage) -> f64 {
    let cached = usage
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0)
        .min(usage.prompt_tokens);
    let reasoning = usage
        .completion_tokens_details
        .as_ref()
        .and_then(|d| d.reasoning_tokens)
        .unwrap_or(0)
        .min(usage.completion_tokens);
    let per = |tokens: u64, usd_per_million: f64| tokens as f64 * usd_per_million / 1_000_000.0;
    let input = per(usage.prompt_tokens - cached, price.input)
        + per(cached, price.cached_input.unwrap_or(price.input));
    let output = match price.reasoning {
        Some(r) => per(usage.completion_tokens - reasoning, price.output) + per(reasoning, r),
        None => per(usage.completion_tokens, price.output),
    };
    input + output
}

#[cfg(test)]
mod tests {
    use heimdall_schema::usage::{CompletionTokensDetails, PromptTokensDetails};

    use super::*;

    fn usage(prompt: u64, cached: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(cached),
                ..Default::default()
            }),
            completion_tokens_details: Some(CompletionTokensDetails::default()),
            ..Default::default()
        }
    }

    #[test]
    fn the_catalog_parses_and_covers_every_native_provider() {
        let file: CatalogFile = serde_json::from_str(CATALOG).unwrap();
        assert!(file.models.len() > 100);
        let book = PriceBook::new(&PricingConfig::default());
        for kind in [
            "openai",
            "anthropic",
            "gemini",
            "vertex",
            "bedrock",
            "azure",
            "cohere",
            "mistral",
            "groq",
            "deepseek",
            "xai",
        ] {
            assert!(book.catalog.contains_key(kind), "no prices for {kind}");
        }
        for e in &file.models {
            assert!(e.price.input >= 0.0 && e.price.output >= 0.0, "{}", e.model);
        }
    }

    #[test]
    fn cost_uses_cached_and_output_prices() {
        let book = PriceBook::new(&PricingConfig::default());
        // gpt-4o: $2.50 in, $1.25 cached, $10 out per 1M.
        let c = book.cost(
            "openai",
            ProviderKind::OpenAi,
            "gpt-4o",
            &usage(1_000_000, 200_000, 100_000),
        );
        let expected = 0.8 * 2.5 + 0.2 * 1.25 + 0.1 * 10.0;
        assert!(
            matches!(c, Priced::Cost(x) if (x - expected).abs() < 1e-9),
            "{c:?}"
        );
        // A dated id resolves to its family; a longer family wins over a shorter one.
        let mini = book
            .price("openai", ProviderKind::OpenAi, "gpt-4o-mini-2024-07-18")
            .unwrap();
        assert_eq!(mini.input, 0.15);
        // Unknown → unpriced, never $0.
        assert_eq!(
            book.cost("mock", ProviderKind::Custom, "gpt-4o", &usage(10, 0, 10)),
            Priced::Unpriced
        );
    }

    #[test]
    fn overrides_and_default_price_apply() {
        let cfg: PricingConfig = serde_json::from_value(serde_json::json!({
            "overrides": {"mock/gpt-4o": {"input": 1.0, "output": 2.0}},
            "default_price": {"input": 5.0, "output": 5.0}
        }))
        .unwrap();
        let book = PriceBook::new(&cfg);
        let c = book.cost(
            "mock",
            ProviderKind::Custom,
            "gpt-4o;chunks=3",
            &usage(1_000_000, 0, 1_000_000),
        );
        assert_eq!(c, Priced::Cost(3.0));
        let d = book.cost(
            "mock",
            ProviderKind::Custom,
            "other",
            &usage(1_000_000, 0, 0),
        );
        assert_eq!(d, Priced::Cost(5.0));
    }
}
