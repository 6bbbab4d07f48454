//! Validation of the `governance` section: ids unique, references resolvable, durations
//! parseable, limits sane, a key under at most one of team or customer.
//!
//! Why before anything runs: a virtual key naming a deleted team would otherwise be enforced
//! with a silently missing level — its budget would not mean what it says.

use std::collections::{BTreeMap, HashSet};

use crate::build::LoadCtx;
use crate::governance::{
    BudgetConfig, GovernanceConfig, Limits, RateLimitRule, parse_period_word, parse_reset,
};
use crate::model::ProviderConfig;

/// Check `g`, reporting every problem with its field path.
pub(crate) fn check(
    g: &GovernanceConfig,
    providers: &BTreeMap<String, ProviderConfig>,
    ctx: &mut LoadCtx<'_>,
) {
    let budgets = unique(ctx, "governance.budgets", g.budgets.iter().map(|b| &b.id));
    let rates = unique(
        ctx,
        "governance.rate_limits",
        g.rate_limits.iter().map(|r| &r.id),
    );
    for (i, b) in g.budgets.iter().enumerate() {
        check_budget(ctx, &format!("governance.budgets[{i}]"), b);
    }
    for (i, r) in g.rate_limits.iter().enumerate() {
        check_rate(ctx, &format!("governance.rate_limits[{i}]"), r);
    }
    let refs = Refs {
        budgets: &budgets,
        rates: &rates,
    };
    let customers = unique(
        ctx,
        "governance.customers",
        g.customers.iter().map(|c| &c.id),
    );
    for (i, c) in g.customers.iter().enumerate() {
        refs.limits(ctx, &format!("governance.customers[{i}]"), &c.limits);
    }
    let teams = unique(ctx, "governance.teams", g.teams.iter().map(|t| &t.id));
    for (i, t) in g.teams.iter().enumerate() {
        let at = format!("governance.teams[{i}]");
        refs.limits(ctx, &at, &t.limits);
        if let Some(c) = &t.customer_id
            && !customers.contains(c.as_str())
        {
            ctx.issue(format!("{at}.customer_id"), format!("no customer '{c}'"));
        }
    }
    unique(
        ctx,
        "governance.virtual_keys",
        g.virtual_keys.iter().map(|v| &v.id),
    );
    let mut values = HashSet::new();
    for (i, vk) in g.virtual_keys.iter().enumerate() {
        let at = format!("governance.virtual_keys[{i}]");
        refs.limits(ctx, &at, &vk.limits);
        match (&vk.team_id, &vk.customer_id) {
            (Some(_), Some(_)) => ctx.issue(
                format!("{at}.team_id"),
                "a virtual key belongs to a team or to a customer, not both",
            ),
            (Some(t), None) if !teams.contains(t.as_str()) => {
                ctx.issue(format!("{at}.team_id"), format!("no team '{t}'"));
            }
            (None, Some(c)) if !customers.contains(c.as_str()) => {
                ctx.issue(format!("{at}.customer_id"), format!("no customer '{c}'"));
            }
            _ => {}
        }
        match (&vk.value, &vk.value_hash) {
            (None, None) => ctx.issue(
                format!("{at}.value"),
                "a virtual key needs its value (or value_hash)",
            ),
            (Some(v), _) if !values.insert(v.expose().to_owned()) => {
                ctx.issue(format!("{at}.value"), "two virtual keys share this value");
            }
            (_, Some(h)) if !is_hash(h) => ctx.issue(
                format!("{at}.value_hash"),
                "must be 'sha256:' and 64 hex digits",
            ),
            _ => {}
        }
        for (j, pc) in vk.provider_configs.iter().enumerate() {
            let at = format!("{at}.provider_configs[{j}]");
            refs.limits(ctx, &at, &pc.limits);
            if !providers.is_empty() && !providers.contains_key(&pc.provider) {
                ctx.issue(
                    format!("{at}.provider"),
                    format!("no provider '{}' is configured", pc.provider),
                );
            }
            if !(pc.weight.is_finite() && pc.weight >= 0.0) {
                ctx.issue(format!("{at}.weight"), "must be a number ≥ 0");
            }
        }
    }
    for (i, m) in g.model_configs.iter().enumerate() {
        let at = format!("governance.model_configs[{i}]");
        refs.limits(ctx, &at, &m.limits);
        if m.model_name.is_none() && m.provider.is_none() {
            ctx.issue(at, "needs model_name, provider, or both");
        }
    }
    refs.limits(ctx, "governance.global", &g.global);
    for (i, b) in g.scoped_budgets.iter().enumerate() {
        let at = format!("budgets[{i}]");
        if !(b.limit.is_finite() && b.limit >= 0.0) {
            ctx.issue(format!("{at}.limit"), "must be a USD amount ≥ 0");
        }
        if parse_period_word(&b.period).is_none() {
            ctx.issue(
                format!("{at}.period"),
                "daily, weekly, monthly, yearly or a duration like 1d",
            );
        }
        check_fraction(ctx, &format!("{at}.alert_threshold"), b.alert_threshold);
    }
    for (i, t) in g.alerts.thresholds.iter().enumerate() {
        check_fraction(ctx, &format!("governance.alerts.thresholds[{i}]"), Some(*t));
    }
    if let Some(url) = &g.alerts.webhook_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        ctx.issue("governance.alerts.webhook_url", "must be an http(s) URL");
    }
}

struct Refs<'a> {
    budgets: &'a HashSet<&'a str>,
    rates: &'a HashSet<&'a str>,
}

impl Refs<'_> {
    fn limits(&self, ctx: &mut LoadCtx<'_>, at: &str, l: &Limits) {
        if let Some(id) = &l.budget_id
            && l.budget.is_none()
            && !self.budgets.contains(id.as_str())
        {
            ctx.issue(format!("{at}.budget_id"), format!("no budget '{id}'"));
        }
        if let Some(id) = &l.rate_limit_id
            && l.rate_limit.is_none()
            && !self.rates.contains(id.as_str())
        {
            ctx.issue(
                format!("{at}.rate_limit_id"),
                format!("no rate limit '{id}'"),
            );
        }
        if let Some(b) = &l.budget {
            check_budget(ctx, &format!("{at}.budget"), b);
        }
        if let Some(r) = &l.rate_limit {
            check_rate(ctx, &format!("{at}.rate_limit"), r);
        }
    }
}

fn unique<'a>(
    ctx: &mut LoadCtx<'_>,
    at: &str,
    ids: impl Iterator<Item = &'a String>,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if id.is_empty() {
            ctx.issue(format!("{at}[{i}].id"), "an id is required");
        } else if !seen.insert(id.as_str()) {
            ctx.issue(format!("{at}[{i}].id"), format!("id '{id}' is used twice"));
        }
    }
    seen
}

fn check_budget(ctx: &mut LoadCtx<'_>, at: &str, b: &BudgetConfig) {
    if !(b.max_limit.is_finite() && b.max_limit >= 0.0) {
        ctx.issue(format!("{at}.max_limit"), "must be a USD amount ≥ 0");
    }
    if let Some(d) = &b.reset_duration
        && parse_reset(d).is_none()
    {
        ctx.issue(
            format!("{at}.reset_duration"),
            format!("'{d}' is not a duration like 30s, 5m, 1h, 1d, 1w, 1M, 1Y"),
        );
    }
    check_fraction(ctx, &format!("{at}.alert_threshold"), b.alert_threshold);
}

fn check_rate(ctx: &mut LoadCtx<'_>, at: &str, r: &RateLimitRule) {
    for (limit, window, name) in [
        (r.token_max_limit, &r.token_reset_duration, "token"),
        (r.request_max_limit, &r.request_reset_duration, "request"),
    ] {
        match (limit, window) {
            (Some(_), None) => ctx.issue(
                format!("{at}.{name}_reset_duration"),
                format!("{name}_max_limit needs a window"),
            ),
            (_, Some(w))
                if !matches!(
                    parse_reset(w),
                    Some(crate::governance::ResetPeriod::Fixed(_))
                ) =>
            {
                ctx.issue(
                    format!("{at}.{name}_reset_duration"),
                    format!("'{w}' is not a window like 30s, 1m, 1h, 1d"),
                );
            }
            _ => {}
        }
    }
}

fn check_fraction(ctx: &mut LoadCtx<'_>, at: &str, f: Option<f64>) {
    if let Some(f) = f
        && !(f > 0.0 && f <= 1.0)
    {
        ctx.issue(at.to_owned(), "must be a fraction in (0, 1]");
    }
}

fn is_hash(h: &str) -> bool {
    h.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}
