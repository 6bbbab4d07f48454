//! How the governance management API shows what it manages: virtual keys, teams, customers
//! and model configs in Bifrost's answer shapes, each budget and rate limit with the live
//! counters enforcement uses (`current_usage`, `remaining`, `request_current_usage`, …), and
//! the lists of every budget and rate limit in effect.
//!
//! Why apart from the handlers: the answer of a read and of a write are the same view of the
//! same entity, and the view must never carry a key's value or hash; one place builds it.

use std::sync::Arc;

use heimdall_config::{
    BudgetConfig, CustomerConfig, GovernanceConfig, Limits, ModelLimitConfig, RateLimitRule,
    TeamConfig, VirtualKeyConfig,
};
use heimdall_control::document;
use heimdall_governance::Governance;
use heimdall_governance::policy::{Level, Policy};
use heimdall_governance::usage::LevelUsage;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Fields an answer adds to a budget or rate limit (live usage): shown, never stored.
pub(crate) const USAGE_FIELDS: &[&str] = &[
    "current_usage",
    "reserved",
    "remaining",
    "period_start_ms",
    "period_end_ms",
    "token_current_usage",
    "request_current_usage",
];

/// A managed entity kind with an `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    /// `governance.virtual_keys`.
    VirtualKey,
    /// `governance.teams`.
    Team,
    /// `governance.customers`.
    Customer,
}

impl Entity {
    /// The document's array (and the list answer's field).
    pub(crate) fn section(self) -> &'static str {
        match self {
            Self::VirtualKey => "virtual_keys",
            Self::Team => "teams",
            Self::Customer => "customers",
        }
    }

    /// The field of a one-entity answer.
    pub(crate) fn one(self) -> &'static str {
        match self {
            Self::VirtualKey => "virtual_key",
            Self::Team => "team",
            Self::Customer => "customer",
        }
    }

    /// For messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::VirtualKey => "virtual key",
            Self::Team => "team",
            Self::Customer => "customer",
        }
    }

    /// Prefix of generated ids.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::VirtualKey => "vk",
            Self::Team => "team",
            Self::Customer => "customer",
        }
    }

    /// The API path of the collection.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::VirtualKey => "/api/governance/virtual-keys",
            Self::Team => "/api/governance/teams",
            Self::Customer => "/api/governance/customers",
        }
    }
}

/// The id of a model config: `{provider or *}/{model_name or *}`.
pub(crate) fn model_config_id(provider: Option<&str>, model: Option<&str>) -> String {
    format!("{}/{}", provider.unwrap_or("*"), model.unwrap_or("*"))
}

/// A governance section ready to be shown: typed, as written, and (on reads and applied
/// writes, not dry runs) the enforcement state whose counters it is shown with.
pub(crate) struct Shown {
    cfg: GovernanceConfig,
    raw: Value,
    live: Option<(Arc<Governance>, Arc<Policy>)>,
}

impl Shown {
    /// `section` (the document's `governance` object), with live usage from `governance`.
    pub(crate) fn new(section: Value, governance: Option<&Arc<Governance>>) -> Self {
        let cfg = serde_json::from_value(section.clone()).unwrap_or_else(|e| {
            tracing::warn!("the governance section does not parse for display: {e}");
            GovernanceConfig::default()
        });
        Self {
            cfg,
            raw: section,
            live: governance.map(|g| (Arc::clone(g), g.policy())),
        }
    }

    /// The typed section.
    pub(crate) fn config(&self) -> &GovernanceConfig {
        &self.cfg
    }

    fn policy(&self) -> Option<&Policy> {
        self.live.as_ref().map(|(_, p)| p.as_ref())
    }

    async fn usage(&self, level: Option<&Level>) -> LevelUsage {
        match (&self.live, level) {
            (Some((g, _)), Some(l)) => g.level_usage(l).await,
            _ => LevelUsage::default(),
        }
    }

    fn budget_of(&self, l: &Limits) -> Option<BudgetConfig> {
        l.budget.clone().or_else(|| {
            let id = l.budget_id.as_deref()?;
            self.cfg.budgets.iter().find(|b| b.id == id).cloned()
        })
    }

    fn rate_of(&self, l: &Limits) -> Option<RateLimitRule> {
        l.rate_limit.clone().or_else(|| {
            let id = l.rate_limit_id.as_deref()?;
            self.cfg.rate_limits.iter().find(|r| r.id == id).cloned()
        })
    }

    /// Put the budget and rate limit in effect of `l` into `o`, with `level`'s usage.
    async fn limits(&self, o: &mut Map<String, Value>, l: &Limits, level: Option<&Level>) {
        o.remove("budget");
        o.remove("rate_limit");
        let usage = self.usage(level).await;
        if let Some(b) = self.budget_of(l) {
            o.insert("budget".into(), with_usage(&b, usage.budget.as_ref()));
        }
        if let Some(r) = self.rate_of(l) {
            o.insert(
                "rate_limit".into(),
                with_usage(&r, usage.rate_limit.as_ref()),
            );
        }
    }

    /// The entity `id` of kind `e`.
    pub(crate) async fn entity(&self, e: Entity, id: &str) -> Option<Value> {
        Some(match e {
            Entity::VirtualKey => {
                let vk = self.cfg.virtual_keys.iter().find(|v| v.id == id)?;
                self.virtual_key(vk).await
            }
            Entity::Team => self.team(self.cfg.teams.iter().find(|t| t.id == id)?).await,
            Entity::Customer => {
                self.customer(self.cfg.customers.iter().find(|c| c.id == id)?)
                    .await
            }
        })
    }

    /// Every entity of kind `e`, in document order.
    pub(crate) async fn all(&self, e: Entity) -> Vec<Value> {
        let mut out = Vec::new();
        match e {
            Entity::VirtualKey => {
                for v in &self.cfg.virtual_keys {
                    out.push(self.virtual_key(v).await);
                }
            }
            Entity::Team => {
                for t in &self.cfg.teams {
                    out.push(self.team(t).await);
                }
            }
            Entity::Customer => {
                for c in &self.cfg.customers {
                    out.push(self.customer(c).await);
                }
            }
        }
        out
    }

    /// A virtual key: never its value or hash; a preview when the document holds the value.
    async fn virtual_key(&self, vk: &VirtualKeyConfig) -> Value {
        let mut o = object_of(vk);
        o.remove("value");
        o.remove("value_hash");
        o.insert("description".into(), json!(vk.description));
        o.insert("team_id".into(), json!(vk.team_id));
        o.insert("customer_id".into(), json!(vk.customer_id));
        o.insert("mcp_configs".into(), json!(vk.mcp_configs));
        let key = self.policy().and_then(|p| p.by_id.get(&vk.id)).cloned();
        self.limits(
            &mut o,
            &vk.limits,
            key.as_ref().and_then(|k| k.levels.first()),
        )
        .await;
        let mut configs = Vec::new();
        for (i, pc) in vk.provider_configs.iter().enumerate() {
            let mut p = object_of(pc);
            let level = key
                .as_ref()
                .and_then(|k| k.providers.get(i))
                .filter(|r| r.provider == pc.provider)
                .map(|r| &r.level);
            self.limits(&mut p, &pc.limits, level).await;
            configs.push(Value::Object(p));
        }
        o.insert("provider_configs".into(), Value::Array(configs));
        if let Some(preview) = self.preview(&vk.id) {
            o.insert("value_preview".into(), json!(preview));
        }
        Value::Object(o)
    }

    /// `sk-bf-…abcd` of a value the document holds as written (not a reference, not a hash).
    fn preview(&self, id: &str) -> Option<String> {
        let value = self.raw["virtual_keys"]
            .as_array()?
            .iter()
            .find(|v| v["id"] == id)?
            .get("value")?
            .as_str()?;
        let chars: Vec<char> = value.chars().collect();
        // Short values would be mostly shown by 10 of their characters.
        if document::is_reference(value) || chars.len() < 20 {
            return None;
        }
        let head: String = chars[..6].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        Some(format!("{head}…{tail}"))
    }

    async fn team(&self, t: &TeamConfig) -> Value {
        let mut o = object_of(t);
        o.insert("customer_id".into(), json!(t.customer_id));
        let level = self.policy().and_then(|p| p.teams.get(&t.id));
        self.limits(&mut o, &t.limits, level).await;
        Value::Object(o)
    }

    async fn customer(&self, c: &CustomerConfig) -> Value {
        let mut o = object_of(c);
        let level = self.policy().and_then(|p| p.customers.get(&c.id));
        self.limits(&mut o, &c.limits, level).await;
        Value::Object(o)
    }

    /// A model config with its id.
    pub(crate) async fn model_config(&self, m: &ModelLimitConfig) -> Value {
        let mut o = object_of(m);
        o.insert(
            "id".into(),
            json!(model_config_id(
                m.provider.as_deref(),
                m.model_name.as_deref()
            )),
        );
        o.insert("provider".into(), json!(m.provider));
        o.insert("model_name".into(), json!(m.model_name));
        let level = self.policy().and_then(|p| {
            p.models
                .iter()
                .find(|r| r.model == m.model_name && r.provider == m.provider)
                .map(|r| &r.level)
        });
        self.limits(&mut o, &m.limits, level).await;
        Value::Object(o)
    }

    /// Every level enforcement counts against (keys, their provider configs, teams,
    /// customers, model configs, global), each once, in a stable order.
    fn levels(&self) -> Vec<&Level> {
        let Some(p) = self.policy() else {
            return Vec::new();
        };
        let mut keys: Vec<_> = p.by_id.values().collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        let mut out: Vec<&Level> = Vec::new();
        for k in keys {
            out.extend(k.levels.first());
            out.extend(k.providers.iter().map(|r| &r.level));
        }
        for map in [&p.teams, &p.customers] {
            let mut named: Vec<_> = map.iter().collect();
            named.sort_by(|a, b| a.0.cmp(b.0));
            out.extend(named.into_iter().map(|(_, l)| l));
        }
        out.extend(p.models.iter().map(|r| &r.level));
        out.extend(p.global.as_ref());
        out
    }

    /// Every limit object the entities reference by id (`budget_id` or `rate_limit_id` with
    /// no inline one).
    fn referenced(&self, budgets: bool) -> Vec<&str> {
        let g = &self.cfg;
        let mut all: Vec<&Limits> = Vec::new();
        all.extend(g.customers.iter().map(|c| &c.limits));
        all.extend(g.teams.iter().map(|t| &t.limits));
        for v in &g.virtual_keys {
            all.push(&v.limits);
            all.extend(v.provider_configs.iter().map(|p| &p.limits));
        }
        all.extend(g.model_configs.iter().map(|m| &m.limits));
        all.push(&g.global);
        all.into_iter()
            .filter_map(|l| {
                if budgets {
                    l.budget_id.as_deref().filter(|_| l.budget.is_none())
                } else {
                    l.rate_limit_id
                        .as_deref()
                        .filter(|_| l.rate_limit.is_none())
                }
            })
            .collect()
    }

    /// Every budget in effect with its usage and owner, then the shared budgets no entity
    /// references (`owner: null`).
    pub(crate) async fn budgets(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for level in self.levels() {
            let Some(rule) = &level.budget else { continue };
            let usage = self.usage(Some(level)).await;
            let Some(view) = usage.budget else { continue };
            let mut o = object_of(&view);
            o.insert("action".into(), json!(rule.action));
            if let Some(t) = rule.alert_threshold {
                o.insert("alert_threshold".into(), json!(t));
            }
            o.insert("owner".into(), owner(level));
            out.push(Value::Object(o));
        }
        let used = self.referenced(true);
        for b in &self.cfg.budgets {
            if !used.contains(&b.id.as_str()) {
                let mut o = object_of(b);
                o.insert("owner".into(), Value::Null);
                out.push(Value::Object(o));
            }
        }
        out
    }

    /// Every rate limit in effect with its usage and owner, then the unreferenced shared ones.
    pub(crate) async fn rate_limits(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for level in self.levels() {
            if level.rate.is_none() {
                continue;
            }
            let usage = self.usage(Some(level)).await;
            let Some(view) = usage.rate_limit else {
                continue;
            };
            let mut o = object_of(&view);
            o.insert("owner".into(), owner(level));
            out.push(Value::Object(o));
        }
        let used = self.referenced(false);
        for r in &self.cfg.rate_limits {
            if !used.contains(&r.id.as_str()) {
                let mut o = object_of(r);
                o.insert("owner".into(), Value::Null);
                out.push(Value::Object(o));
            }
        }
        out
    }
}

fn owner(level: &Level) -> Value {
    json!({"kind": level.kind, "id": level.name})
}

fn object_of<T: Serialize>(v: &T) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    }
}

/// A budget or rate limit as configured, with the counters of its level (its id then the
/// counter's: an inline one without an id counts under its owner's).
fn with_usage<C: Serialize, U: Serialize>(config: &C, usage: Option<&U>) -> Value {
    let mut o = object_of(config);
    if let Some(u) = usage {
        let u = object_of(u);
        if let Some(id) = u.get("id") {
            o.insert("id".into(), id.clone());
        }
        for f in USAGE_FIELDS {
            if let Some(v) = u.get(*f) {
                o.insert((*f).to_owned(), v.clone());
            }
        }
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_shown_without_its_value_and_with_a_preview_only_of_a_long_plain_value() {
        let section = json!({
            "virtual_keys": [
                {"id": "a", "value": "sk-bf-abcdefghijklmnopqrstuvwxyz"},
                {"id": "b", "value": "env.VK_B"},
                {"id": "c", "value_hash": format!("sha256:{}", "0".repeat(64))},
                {"id": "d", "value": "short-value"}
            ],
            "budgets": [{"id": "shared", "max_limit": 5}],
            "teams": [{"id": "t", "budget_id": "shared"}]
        });
        let shown = Shown::new(section, None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let a = rt.block_on(shown.entity(Entity::VirtualKey, "a")).unwrap();
        assert_eq!(a["value_preview"], "sk-bf-…wxyz");
        assert!(a.get("value").is_none() && a.get("value_hash").is_none());
        assert_eq!(a["provider_configs"], json!([]));
        assert_eq!(a["team_id"], Value::Null);
        for id in ["b", "c", "d"] {
            let v = rt.block_on(shown.entity(Entity::VirtualKey, id)).unwrap();
            assert!(v.get("value_preview").is_none(), "{v}");
            assert!(v.get("value_hash").is_none(), "{v}");
        }
        let t = rt.block_on(shown.entity(Entity::Team, "t")).unwrap();
        assert_eq!(t["budget"]["max_limit"], 5.0, "{t}");
        assert_eq!(t["budget_id"], "shared");
        assert!(rt.block_on(shown.entity(Entity::Team, "x")).is_none());
        assert_eq!(model_config_id(Some("openai"), None), "openai/*");
    }
}
