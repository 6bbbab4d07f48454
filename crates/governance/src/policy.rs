//! The enforcement view of the `governance` config: virtual keys indexed by the hash of their
//! value, each with its chain of levels (key → team → customer), provider rules, and the
//! model-, provider-, global- and scope-level budgets every request may count against.
//!
//! Why a separate, derived structure: the config is written for people (ids, references,
//! inline or shared budgets); a request needs one hash lookup and a ready list of counters.
//! It is rebuilt whole on every configuration change and swapped in atomically.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use heimdall_config::{
    BudgetAction, BudgetConfig, BudgetScope, GatewayConfig, GovernanceConfig, Limits,
    RateLimitRule, ResetPeriod, parse_period_word, parse_reset,
};
use heimdall_core::KeyAllowList;
use heimdall_observe::pricing::ProviderPrices;
use sha2::{Digest, Sha256};

/// SHA-256 of a virtual key's value.
pub type KeyHash = [u8; 32];

/// Hash a presented credential.
pub fn hash_key(value: &str) -> KeyHash {
    Sha256::digest(value.as_bytes()).into()
}

/// `sha256:<hex>` (the stored form).
pub fn hash_text(value: &str) -> String {
    let mut out = String::from("sha256:");
    for b in hash_key(value) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn parse_hash_text(text: &str) -> Option<KeyHash> {
    let hex = text.strip_prefix("sha256:")?;
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A budget as enforced.
#[derive(Debug, Clone)]
pub struct BudgetRule {
    /// Config id (or the owner's id for inline budgets).
    pub id: String,
    /// USD limit in micro-dollars.
    pub limit_micros: i64,
    /// When it resets.
    pub reset: Option<ResetPeriod>,
    /// The reset duration as written (for API answers).
    pub reset_text: Option<String>,
    /// Block or warn.
    pub action: BudgetAction,
    /// Its own alert fraction.
    pub alert_threshold: Option<f64>,
    /// The limit in USD as written.
    pub max_limit: f64,
}

/// A rate limit as enforced (windows in ms).
#[derive(Debug, Clone, Default)]
pub struct RateRule {
    /// Config id.
    pub id: String,
    /// (limit, window ms) for requests.
    pub requests: Option<(u64, i64)>,
    /// (limit, window ms) for tokens.
    pub tokens: Option<(u64, i64)>,
    /// Concurrent requests.
    pub in_flight: Option<u32>,
    /// As written, for API answers.
    pub source: RateLimitRule,
}

/// One level of the hierarchy a request counts against.
#[derive(Debug, Clone)]
pub struct Level {
    /// Counter name, e.g. `vk:<id>`, `team:<id>`, `model:<name>`.
    pub counter: String,
    /// What kind of level (`virtual_key`, `team`, `customer`, `provider_config`, `model`,
    /// `provider`, `global`, `user`), for errors, logs and metrics.
    pub kind: &'static str,
    /// The entity's id or name.
    pub name: String,
    /// Its budget.
    pub budget: Option<BudgetRule>,
    /// Its rate limit.
    pub rate: Option<RateRule>,
}

/// Which models a provider rule allows.
#[derive(Debug, Clone)]
pub enum ModelSet {
    /// `["*"]`.
    All,
    /// These exact names (empty: none).
    Only(Vec<String>),
}

impl ModelSet {
    /// Whether `model` is in the set.
    pub fn allows(&self, model: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(list) => list.iter().any(|m| m == model),
        }
    }
}

/// One provider a virtual key may use.
#[derive(Debug, Clone)]
pub struct ProviderRule {
    /// Provider name.
    pub provider: String,
    /// Share of bare-model traffic.
    pub weight: f64,
    /// Models allowed.
    pub models: ModelSet,
    /// This key's own level on this provider.
    pub level: Level,
}

/// A virtual key as enforced.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Inactive keys are refused.
    pub active: bool,
    /// Team id.
    pub team_id: Option<String>,
    /// Customer id (its own, or its team's).
    pub customer_id: Option<String>,
    /// Key, then team, then customer.
    pub levels: Vec<Level>,
    /// Providers it may use; empty: all.
    pub providers: Vec<ProviderRule>,
    /// Provider keys it may use.
    pub allowed_keys: Option<KeyAllowList>,
}

/// A scoped budget from the reference yaml, as enforced.
#[derive(Debug, Clone)]
pub struct ScopedRule {
    /// Who it counts.
    pub scope: BudgetScope,
    /// Its budget (id = the budget's name).
    pub budget: BudgetRule,
}

/// A model-, provider- or model-on-provider level.
#[derive(Debug, Clone)]
pub struct ModelRule {
    /// Model name, or any.
    pub model: Option<String>,
    /// Provider name, or any.
    pub provider: Option<String>,
    /// The level.
    pub level: Level,
}

/// Everything a request is checked against, rebuilt on each config change.
#[derive(Debug, Default)]
pub struct Policy {
    /// Virtual keys by the hash of their value.
    pub keys: HashMap<KeyHash, Arc<KeyPolicy>>,
    /// Virtual keys by id.
    pub by_id: HashMap<String, Arc<KeyPolicy>>,
    /// Model and provider levels.
    pub models: Vec<ModelRule>,
    /// The global level.
    pub global: Option<Level>,
    /// Scoped budgets.
    pub scoped: Vec<ScopedRule>,
    /// Team and customer levels by id (for quota answers).
    pub teams: HashMap<String, Level>,
    /// Customer levels by id.
    pub customers: HashMap<String, Level>,
    /// Prices and provider kinds, for estimates and settlement.
    pub pricing: ProviderPrices,
    /// The end-user header.
    pub user_header: String,
    /// Alert fractions.
    pub thresholds: Vec<f64>,
    /// Alert webhook.
    pub webhook_url: Option<String>,
    /// Whether governance has anything to enforce.
    pub active: bool,
    /// Whether a credential is required on every inference request.
    pub enforce: bool,
}

impl Policy {
    /// Build from a validated config.
    pub fn build(cfg: &GatewayConfig) -> Self {
        let g = &cfg.governance;
        let lookup = Lookup::new(g);
        let customers: HashMap<String, Level> = g
            .customers
            .iter()
            .map(|c| (c.id.clone(), lookup.level("customer", &c.id, &c.limits)))
            .collect();
        let team_customer: BTreeMap<&str, Option<&String>> = g
            .teams
            .iter()
            .map(|t| (t.id.as_str(), t.customer_id.as_ref()))
            .collect();
        let teams: HashMap<String, Level> = g
            .teams
            .iter()
            .map(|t| (t.id.clone(), lookup.level("team", &t.id, &t.limits)))
            .collect();
        let mut keys = HashMap::new();
        let mut by_id = HashMap::new();
        for vk in &g.virtual_keys {
            let hash = match (&vk.value, &vk.value_hash) {
                (Some(v), _) => Some(hash_key(v.expose())),
                (None, Some(h)) => parse_hash_text(h),
                (None, None) => None,
            };
            let customer_id = vk.customer_id.clone().or_else(|| {
                vk.team_id
                    .as_deref()
                    .and_then(|t| team_customer.get(t).copied().flatten().cloned())
            });
            let mut levels = vec![lookup.level("virtual_key", &vk.id, &vk.limits)];
            levels.extend(vk.team_id.as_ref().and_then(|t| teams.get(t)).cloned());
            levels.extend(customer_id.as_ref().and_then(|c| customers.get(c)).cloned());
            let providers: Vec<ProviderRule> = vk
                .provider_configs
                .iter()
                .map(|pc| ProviderRule {
                    provider: pc.provider.clone(),
                    weight: pc.weight,
                    models: if pc.allowed_models.iter().any(|m| m == "*") {
                        ModelSet::All
                    } else {
                        ModelSet::Only(pc.allowed_models.clone())
                    },
                    level: lookup.level(
                        "provider_config",
                        &format!("{}:{}", vk.id, pc.provider),
                        &pc.limits,
                    ),
                })
                .collect();
            let restricted: BTreeMap<String, Vec<String>> = vk
                .provider_configs
                .iter()
                .filter_map(|pc| {
                    let ids = pc.key_ids.as_ref()?;
                    (!ids.iter().any(|k| k == "*")).then(|| (pc.provider.clone(), ids.clone()))
                })
                .collect();
            let policy = Arc::new(KeyPolicy {
                id: vk.id.clone(),
                name: vk.name.clone(),
                active: vk.is_active,
                team_id: vk.team_id.clone(),
                customer_id,
                levels,
                providers,
                allowed_keys: (!restricted.is_empty()).then(|| Arc::new(restricted)),
            });
            if let Some(h) = hash {
                keys.insert(h, Arc::clone(&policy));
            }
            by_id.insert(vk.id.clone(), policy);
        }
        let models = g
            .model_configs
            .iter()
            .map(|m| {
                let name = match (&m.provider, &m.model_name) {
                    (Some(p), Some(n)) => format!("{p}/{n}"),
                    (Some(p), None) => p.clone(),
                    (None, Some(n)) => n.clone(),
                    (None, None) => String::new(),
                };
                let kind = if m.model_name.is_some() {
                    "model"
                } else {
                    "provider"
                };
                ModelRule {
                    model: m.model_name.clone(),
                    provider: m.provider.clone(),
                    level: lookup.level(kind, &name, &m.limits),
                }
            })
            .collect();
        let global = (!g.global.is_empty()).then(|| lookup.level("global", "global", &g.global));
        let scoped = g
            .scoped_budgets
            .iter()
            .map(|b| ScopedRule {
                scope: b.scope,
                budget: BudgetRule {
                    id: b.name.clone(),
                    limit_micros: usd_to_micros(b.limit),
                    reset: parse_period_word(&b.period),
                    reset_text: Some(b.period.clone()),
                    action: b.action,
                    alert_threshold: b.alert_threshold,
                    max_limit: b.limit,
                },
            })
            .collect();
        Self {
            active: !g.is_empty(),
            enforce: cfg.auth.enforce_auth_on_inference,
            keys,
            by_id,
            models,
            global,
            scoped,
            teams,
            customers,
            pricing: ProviderPrices::of(cfg),
            user_header: g.user_header.to_ascii_lowercase(),
            thresholds: g.alerts.thresholds.clone(),
            webhook_url: g.alerts.webhook_url.clone(),
        }
    }

    /// Model and provider levels that apply to `provider`/`model`.
    pub fn model_levels<'a>(
        &'a self,
        provider: Option<&'a str>,
        model: &'a str,
    ) -> impl Iterator<Item = &'a Level> + 'a {
        self.models.iter().filter_map(move |r| {
            let model_ok = r.model.as_deref().is_none_or(|m| m == model);
            let provider_ok = match (&r.provider, provider) {
                (None, _) => true,
                (Some(p), Some(q)) => p == q,
                (Some(_), None) => false,
            };
            (model_ok && provider_ok).then_some(&r.level)
        })
    }
}

/// USD → integer micro-dollars (rounded up, so a limit is never loosened by rounding).
pub fn usd_to_micros(usd: f64) -> i64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * 1_000_000.0).ceil().min(i64::MAX as f64) as i64
    } else {
        0
    }
}

/// Shared budgets and rate limits by id.
struct Lookup<'a> {
    budgets: HashMap<&'a str, &'a BudgetConfig>,
    rates: HashMap<&'a str, &'a RateLimitRule>,
}

impl<'a> Lookup<'a> {
    fn new(g: &'a GovernanceConfig) -> Self {
        Self {
            budgets: g.budgets.iter().map(|b| (b.id.as_str(), b)).collect(),
            rates: g.rate_limits.iter().map(|r| (r.id.as_str(), r)).collect(),
        }
    }

    fn level(&self, kind: &'static str, name: &str, limits: &Limits) -> Level {
        let budget = limits
            .budget
            .as_ref()
            .or_else(|| {
                limits
                    .budget_id
                    .as_deref()
                    .and_then(|id| self.budgets.get(id).copied())
            })
            .map(|b| budget_rule(b, name));
        let rate = limits
            .rate_limit
            .as_ref()
            .or_else(|| {
                limits
                    .rate_limit_id
                    .as_deref()
                    .and_then(|id| self.rates.get(id).copied())
            })
            .map(|r| rate_rule(r, name));
        Level {
            counter: format!("{kind}:{name}"),
            kind,
            name: name.to_owned(),
            budget,
            rate,
        }
    }
}

fn budget_rule(b: &BudgetConfig, owner: &str) -> BudgetRule {
    BudgetRule {
        id: if b.id.is_empty() {
            owner.to_owned()
        } else {
            b.id.clone()
        },
        limit_micros: usd_to_micros(b.max_limit),
        reset: b.reset_duration.as_deref().and_then(parse_reset),
        reset_text: b.reset_duration.clone(),
        action: b.action,
        alert_threshold: b.alert_threshold,
        max_limit: b.max_limit,
    }
}

fn window(text: Option<&String>) -> Option<i64> {
    match parse_reset(text?)? {
        ResetPeriod::Fixed(ms) => Some(ms),
        _ => None,
    }
}

fn rate_rule(r: &RateLimitRule, owner: &str) -> RateRule {
    RateRule {
        id: if r.id.is_empty() {
            owner.to_owned()
        } else {
            r.id.clone()
        },
        requests: r
            .request_max_limit
            .zip(window(r.request_reset_duration.as_ref())),
        tokens: r
            .token_max_limit
            .zip(window(r.token_reset_duration.as_ref())),
        in_flight: r.max_in_flight,
        source: r.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> GatewayConfig {
        heimdall_config::parse_value(json, &heimdall_config::ProcessEnv)
            .unwrap()
            .config
    }

    #[test]
    fn keys_are_found_by_hash_with_their_whole_chain() {
        let cfg = config(serde_json::json!({
            "providers": {"openai": {"keys": [{"name": "k1", "value": "sk-x", "models": ["*"]}]}},
            "governance": {
                "budgets": [{"id": "b-team", "max_limit": 5, "reset_duration": "1M"}],
                "customers": [{"id": "acme", "budget": {"max_limit": 100}}],
                "teams": [{"id": "eng", "customer_id": "acme", "budget_id": "b-team"}],
                "virtual_keys": [{
                    "id": "vk1", "value": "sk-bf-one", "team_id": "eng",
                    "budget": {"max_limit": 1.0, "reset_duration": "1d"},
                    "rate_limit": {"request_max_limit": 100, "request_reset_duration": "1m"},
                    "provider_configs": [{"provider": "openai", "allowed_models": ["gpt-4o"], "key_ids": ["k1"]}]
                }]
            }
        }));
        let p = Policy::build(&cfg);
        let k = p.keys.get(&hash_key("sk-bf-one")).unwrap();
        let kinds: Vec<_> = k.levels.iter().map(|l| l.counter.as_str()).collect();
        assert_eq!(kinds, ["virtual_key:vk1", "team:eng", "customer:acme"]);
        assert_eq!(k.levels[0].budget.as_ref().unwrap().limit_micros, 1_000_000);
        assert_eq!(
            k.levels[0].rate.as_ref().unwrap().requests,
            Some((100, 60_000))
        );
        assert_eq!(k.customer_id.as_deref(), Some("acme"));
        assert!(k.providers[0].models.allows("gpt-4o"));
        assert!(!k.providers[0].models.allows("gpt-4o-mini"));
        assert_eq!(k.allowed_keys.as_ref().unwrap()["openai"], ["k1"]);
        assert!(!p.keys.contains_key(&hash_key("sk-bf-two")));
        assert_eq!(
            parse_hash_text(&hash_text("sk-bf-one")),
            Some(hash_key("sk-bf-one"))
        );
    }
}
