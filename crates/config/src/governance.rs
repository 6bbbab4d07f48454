//! The `governance` section (Bifrost's layout: `budgets`, `rate_limits`, `customers`, `teams`,
//! `virtual_keys`, plus Heimdall's `model_configs`, `alerts` and the Redis failure policy), the
//! reference `bifrost.yaml`'s top-level `budgets`, and the top-level `redis` section.
//!
//! Why typed here rather than in the governance crate: the control plane validates every
//! change (file, API, rollback) by building a `GatewayConfig`, so a bad reset duration or a
//! virtual key naming a missing team must fail there, with a field path, before anything runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::build::LoadCtx;
use crate::model::{GatewayConfig, Secret};

/// Everything governance enforces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GovernanceConfig {
    /// Budgets referenced by id (`budget_id`) from keys, teams, customers, provider configs.
    #[serde(default)]
    pub budgets: Vec<BudgetConfig>,
    /// Rate limits referenced by id (`rate_limit_id`).
    #[serde(default)]
    pub rate_limits: Vec<RateLimitRule>,
    /// Customers (top of the hierarchy).
    #[serde(default)]
    pub customers: Vec<CustomerConfig>,
    /// Teams, each optionally under a customer.
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// Virtual keys: under a team, directly under a customer, or standalone.
    #[serde(default)]
    pub virtual_keys: Vec<VirtualKeyConfig>,
    /// Model-level and provider-level budgets and limits, across every key.
    #[serde(default)]
    pub model_configs: Vec<ModelLimitConfig>,
    /// Budget and rate limit over all governed traffic.
    #[serde(default)]
    pub global: Limits,
    /// Budgets by scope from the reference `bifrost.yaml` (`budgets:` at the top level).
    #[serde(default)]
    pub scoped_budgets: Vec<ScopedBudget>,
    /// Threshold alerts (log line, metric, webhook).
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// What happens while the shared counter store (Redis) is unreachable.
    #[serde(default)]
    pub on_store_unavailable: StoreFailurePolicy,
    /// Header naming the end user for per-user budgets and limits.
    #[serde(default = "default_user_header")]
    pub user_header: String,
}

fn default_user_header() -> String {
    "x-bf-user-id".to_owned()
}

impl GovernanceConfig {
    /// Whether anything is configured (no entity and no budget: the plugin stays out).
    pub fn is_empty(&self) -> bool {
        self.virtual_keys.is_empty()
            && self.model_configs.is_empty()
            && self.scoped_budgets.is_empty()
            && self.global.is_empty()
    }
}

/// A budget or limit reference, or one written inline (the management API writes inline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Limits {
    /// Id of an entry of `governance.budgets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_id: Option<String>,
    /// Id of an entry of `governance.rate_limits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_id: Option<String>,
    /// An inline budget (wins over `budget_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetConfig>,
    /// An inline rate limit (wins over `rate_limit_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitRule>,
}

impl Limits {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.budget_id.is_none()
            && self.rate_limit_id.is_none()
            && self.budget.is_none()
            && self.rate_limit.is_none()
    }
}

/// A spending limit in USD that resets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BudgetConfig {
    /// Id (required in `governance.budgets`; generated for inline budgets).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The limit in USD.
    pub max_limit: f64,
    /// `30s`, `5m`, `1h`, `1d`, `1w`, `1M`, `1Y` (any count); absent: never resets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_duration: Option<String>,
    /// Periods start on UTC calendar boundaries (day, Monday, 1st of month, 1 January)
    /// rather than on multiples of the duration since the Unix epoch. Months and years are
    /// always calendar periods.
    #[serde(default, skip_serializing_if = "is_false")]
    pub calendar_aligned: bool,
    /// Fraction of the limit (0–1] at which an alert fires (besides `alerts.thresholds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_threshold: Option<f64>,
    /// `block` (default) refuses with 402 when spent; `warn` only alerts.
    #[serde(default, skip_serializing_if = "BudgetAction::is_block")]
    pub action: BudgetAction,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a spent budget does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetAction {
    /// Refuse with 402.
    #[default]
    Block,
    /// Alert only.
    Warn,
}

impl BudgetAction {
    fn is_block(&self) -> bool {
        *self == Self::Block
    }
}

/// Requests and tokens per sliding window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RateLimitRule {
    /// Id (required in `governance.rate_limits`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Most tokens (prompt + completion) per `token_reset_duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_max_limit: Option<u64>,
    /// The token window (`1m`, `1h`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_reset_duration: Option<String>,
    /// Most requests per `request_reset_duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_max_limit: Option<u64>,
    /// The request window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_reset_duration: Option<String>,
    /// Most requests in flight at once (Heimdall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
}

/// A customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CustomerConfig {
    /// Unique id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Its budget and rate limit.
    #[serde(flatten)]
    pub limits: Limits,
}

/// A team.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeamConfig {
    /// Unique id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The customer it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Its budget and rate limit.
    #[serde(flatten)]
    pub limits: Limits,
}

/// A virtual key: what a client presents instead of a provider key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VirtualKeyConfig {
    /// Unique id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The key itself, when written in a file (`env.VAR` allowed); a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Secret>,
    /// `sha256:<hex>` of the key (what the management API stores; the key is shown once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_hash: Option<String>,
    /// Inactive keys are refused with 401.
    #[serde(default = "yes")]
    pub is_active: bool,
    /// The team it belongs to (exclusive with `customer_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// The customer it belongs to directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Its own budget and rate limit.
    #[serde(flatten)]
    pub limits: Limits,
    /// Providers it may use (none listed: every provider and model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_configs: Vec<VkProviderConfig>,
    /// MCP tools it may execute (kept for the MCP work).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_configs: Vec<Value>,
}

fn yes() -> bool {
    true
}

/// One provider a virtual key may use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VkProviderConfig {
    /// Provider name.
    pub provider: String,
    /// Share of this key's bare-model traffic.
    #[serde(default = "one")]
    pub weight: f64,
    /// Models allowed on this provider: `["*"]` all, empty none (Bifrost v1.5 semantics).
    #[serde(default)]
    pub allowed_models: Vec<String>,
    /// Provider key names (ids) it may use: absent or `["*"]` all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ids: Option<Vec<String>>,
    /// Budget and rate limit of this key on this provider.
    #[serde(flatten)]
    pub limits: Limits,
}

fn one() -> f64 {
    1.0
}

/// Budget and limit of a model (on any provider, or one) or of a whole provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelLimitConfig {
    /// The model (absent: every model of `provider`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// The provider (absent: the model on every provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The budget and rate limit.
    #[serde(flatten)]
    pub limits: Limits,
}

/// A budget by scope (the reference `bifrost.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScopedBudget {
    /// Name (alerts say it).
    pub name: String,
    /// USD.
    pub limit: f64,
    /// Who it counts.
    #[serde(default)]
    pub scope: BudgetScope,
    /// `daily`, `weekly`, `monthly`, `yearly` (UTC calendar periods).
    #[serde(default = "monthly")]
    pub period: String,
    /// Fraction at which an alert fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_threshold: Option<f64>,
    /// `block` (default) or `warn`.
    #[serde(default)]
    pub action: BudgetAction,
}

fn monthly() -> String {
    "monthly".to_owned()
}

/// What a scoped budget counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetScope {
    /// All governed traffic together.
    #[default]
    Global,
    /// Each end user (the `user_header`) on their own.
    User,
    /// Each team on its own.
    Team,
    /// Each virtual key on its own.
    #[serde(alias = "virtual-key", alias = "vk")]
    VirtualKey,
}

/// Alerts when spend crosses a fraction of a budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertsConfig {
    /// Fractions (0–1] of every budget at which to alert.
    #[serde(default = "default_thresholds")]
    pub thresholds: Vec<f64>,
    /// Where alerts are POSTed as JSON (absent: log line and metric only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            thresholds: default_thresholds(),
            webhook_url: None,
        }
    }
}

fn default_thresholds() -> Vec<f64> {
    vec![0.8, 1.0]
}

/// Fail-open or fail-closed while Redis is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreFailurePolicy {
    /// Go on with this instance's own counters; reconcile when the store returns.
    #[default]
    FailOpen,
    /// Refuse governed requests (503).
    FailClosed,
}

/// The top-level `redis` section: the store instances share counters in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedisConfig {
    /// `redis://host:port/db` (a secret: it may carry a password).
    pub url: Secret,
    /// Prefix of every key.
    pub key_prefix: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedis {
    /// `redis://…` (`env.VAR` allowed).
    url: String,
    /// Key prefix (default `heimdall:`).
    #[serde(default)]
    key_prefix: Option<String>,
}

/// A reset period as parsed from `30s` … `1Y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetPeriod {
    /// A fixed length in milliseconds.
    Fixed(i64),
    /// A number of weeks starting on Mondays (calendar) or epoch multiples.
    Weeks(i64),
    /// A number of calendar months.
    Months(i64),
    /// A number of calendar years.
    Years(i64),
}

/// Parse `<count><unit>`: `s`, `m` (minutes), `h`, `d`, `w`, `M` (months), `Y`/`y` (years).
pub fn parse_reset(text: &str) -> Option<ResetPeriod> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (count, unit) = text.split_at(unit_at);
    let n: i64 = count.parse().ok().filter(|n| *n > 0 && *n < 100_000)?;
    Some(match unit {
        "s" => ResetPeriod::Fixed(n * 1_000),
        "m" => ResetPeriod::Fixed(n * 60_000),
        "h" => ResetPeriod::Fixed(n * 3_600_000),
        "d" => ResetPeriod::Fixed(n * 86_400_000),
        "w" => ResetPeriod::Weeks(n),
        "M" | "mo" => ResetPeriod::Months(n),
        "Y" | "y" => ResetPeriod::Years(n),
        _ => return None,
    })
}

/// The `period` word of a scoped budget → its reset period.
pub fn parse_period_word(word: &str) -> Option<ResetPeriod> {
    Some(match word {
        "daily" | "day" => ResetPeriod::Fixed(86_400_000),
        "weekly" | "week" => ResetPeriod::Weeks(1),
        "monthly" | "month" => ResetPeriod::Months(1),
        "yearly" | "year" | "annual" => ResetPeriod::Years(1),
        other => return parse_reset(other),
    })
}

/// Move `governance` (what `auth_config` left), the yaml layout's `budgets` and `redis` into
/// the typed config (references are checked with the whole config, in `validate`).
pub(crate) fn take_governance(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    if let Some(v) = cfg.inactive_sections.remove("governance") {
        match serde_path_to_error::deserialize::<_, GovernanceConfig>(v) {
            Ok(g) => cfg.governance = g,
            Err(e) => ctx.issue(
                format!("governance.{}", e.path()),
                e.into_inner().to_string(),
            ),
        }
    }
    if let Some(v) = cfg.inactive_sections.remove("budgets") {
        match serde_path_to_error::deserialize::<_, Vec<ScopedBudget>>(v) {
            Ok(b) => cfg.governance.scoped_budgets.extend(b),
            Err(e) => ctx.issue(format!("budgets{}", e.path()), e.into_inner().to_string()),
        }
    }
    if let Some(v) = cfg.inactive_sections.remove("redis") {
        match serde_path_to_error::deserialize::<_, RawRedis>(v) {
            Ok(r) => {
                let url = ctx.resolve("redis.url", &r.url);
                cfg.redis = Some(RedisConfig {
                    url: Secret::new(url),
                    key_prefix: r.key_prefix.unwrap_or_else(|| "heimdall:".to_owned()),
                });
            }
            Err(e) => ctx.issue(format!("redis.{}", e.path()), e.into_inner().to_string()),
        }
    }
    resolve_key_values(&mut cfg.governance, ctx);
}

/// `env.VAR` in a virtual key's `value` is resolved like any secret.
fn resolve_key_values(g: &mut GovernanceConfig, ctx: &mut LoadCtx<'_>) {
    for (i, vk) in g.virtual_keys.iter_mut().enumerate() {
        if let Some(v) = vk.value.take() {
            let path = format!("governance.virtual_keys[{i}].value");
            let resolved = ctx.resolve(&path, v.expose());
            vk.value = Some(Secret::new(resolved)).filter(|v| !v.is_empty());
        }
    }
}
