//! The governance routes' part of the OpenAPI description (`/api/governance/*`): their
//! operations and the schemas of their answers.
//!
//! Why a file of its own: the route table and schemas of `openapi` were already near the size
//! a reader takes in at once; governance is a family of its own (virtual keys, teams,
//! customers, model configs, budgets, rate limits), described with the same helpers.

use schemars::SchemaGenerator;
use serde_json::{Value, json};

use super::Auth::{Admin, Public, Read};
use super::{DRY_RUN, Op, WRITE, array_of, obj, op, schema_ref, with_applied};

const VK: &str = "/api/governance/virtual-keys";

/// The governance operations.
#[rustfmt::skip]
pub(super) const OPERATIONS: &[Op] = &[
    op("get", VK, Read, "Virtual keys (never their values) with the usage of their budgets and rate limits", (200, "VirtualKeyList"), &[503]),
    op("post", VK, Admin, "Create a virtual key: its value is generated (or imported) and only its hash stored; a generated value is shown in this answer only", (201, "VirtualKeyChange"), &[400, 409, 503])
        .query(&[DRY_RUN])
        .body("VirtualKeyInput")
        .other(&[(200, "VirtualKeyChange")]),
    op("get", "/api/governance/virtual-keys/quota", Public, "The calling virtual key's own budget and rate limit with usage; the key authenticates itself (x-bf-vk, Authorization: Bearer, x-api-key)", (200, "VirtualKeyQuota"), &[401, 503]),
    op("get", "/api/governance/virtual-keys/{vk_id}", Read, "One virtual key (never its value)", (200, "VirtualKeyAnswer"), &[400, 404, 503]),
    op("put", "/api/governance/virtual-keys/{vk_id}", Admin, "Update a virtual key: fields sent replace the stored ones, null removes one (its value changes only by rotation)", (200, "VirtualKeyChange"), WRITE)
        .query(&[DRY_RUN])
        .body("VirtualKeyInput"),
    op("delete", "/api/governance/virtual-keys/{vk_id}", Admin, "Delete a virtual key", (200, "GovernanceDeleted"), WRITE)
        .query(&[DRY_RUN]),
    op("post", "/api/governance/virtual-keys/{vk_id}/rotate", Admin, "Give a virtual key a new value, shown in this answer only; the previous value stops working", (200, "VirtualKeyChange"), WRITE)
        .query(&[DRY_RUN]),
    op("get", "/api/governance/teams", Read, "Teams with the usage of their budgets and rate limits", (200, "TeamList"), &[503]),
    op("post", "/api/governance/teams", Admin, "Create a team", (201, "TeamChange"), &[400, 409, 503])
        .query(&[DRY_RUN])
        .body("TeamInput")
        .other(&[(200, "TeamChange")]),
    op("get", "/api/governance/teams/{team_id}", Read, "One team", (200, "TeamAnswer"), &[400, 404, 503]),
    op("put", "/api/governance/teams/{team_id}", Admin, "Update a team (fields sent replace the stored ones, null removes one)", (200, "TeamChange"), WRITE)
        .query(&[DRY_RUN])
        .body("TeamInput"),
    op("delete", "/api/governance/teams/{team_id}", Admin, "Delete a team (409 while virtual keys belong to it)", (200, "GovernanceDeleted"), WRITE)
        .query(&[DRY_RUN]),
    op("get", "/api/governance/customers", Read, "Customers with the usage of their budgets and rate limits", (200, "CustomerList"), &[503]),
    op("post", "/api/governance/customers", Admin, "Create a customer", (201, "CustomerChange"), &[400, 409, 503])
        .query(&[DRY_RUN])
        .body("CustomerInput")
        .other(&[(200, "CustomerChange")]),
    op("get", "/api/governance/customers/{customer_id}", Read, "One customer", (200, "CustomerAnswer"), &[400, 404, 503]),
    op("put", "/api/governance/customers/{customer_id}", Admin, "Update a customer (fields sent replace the stored ones, null removes one)", (200, "CustomerChange"), WRITE)
        .query(&[DRY_RUN])
        .body("CustomerInput"),
    op("delete", "/api/governance/customers/{customer_id}", Admin, "Delete a customer (409 while teams or virtual keys belong to it)", (200, "GovernanceDeleted"), WRITE)
        .query(&[DRY_RUN]),
    op("get", "/api/governance/budgets", Read, "Every budget in effect with its usage and owner, and the shared budgets no entity uses", (200, "BudgetList"), &[503]),
    op("get", "/api/governance/rate-limits", Read, "Every rate limit in effect with its usage and owner, and the shared ones no entity uses", (200, "RateLimitList"), &[503]),
    op("get", "/api/governance/model-configs", Read, "Budgets and rate limits of models and providers across every key", (200, "ModelConfigList"), &[503]),
    op("post", "/api/governance/model-configs", Admin, "Add a model config (one per provider and model)", (201, "ModelConfigChange"), &[400, 409, 503])
        .query(&[DRY_RUN])
        .body("ModelLimitConfig")
        .other(&[(200, "ModelConfigChange")]),
    op("get", "/api/governance/model-configs/{id}", Read, "One model config; its id is `{provider or *}/{model_name or *}`, URL-encoded", (200, "ModelConfigAnswer"), &[400, 404, 503]),
    op("put", "/api/governance/model-configs/{id}", Admin, "Update a model config (fields sent replace the stored ones; the id follows provider and model)", (200, "ModelConfigChange"), WRITE)
        .query(&[DRY_RUN])
        .body("ModelLimitConfig"),
    op("delete", "/api/governance/model-configs/{id}", Admin, "Delete a model config", (200, "GovernanceDeleted"), WRITE)
        .query(&[DRY_RUN]),
];

/// The schemas derived from the configuration's types.
pub(super) fn derive(generator: &mut SchemaGenerator) {
    generator.subschema_for::<heimdall_config::BudgetConfig>();
    generator.subschema_for::<heimdall_config::RateLimitRule>();
    generator.subschema_for::<heimdall_config::VkProviderConfig>();
    generator.subschema_for::<heimdall_config::ModelLimitConfig>();
}

/// The hand-written schemas (answers assembled with `json!`).
#[rustfmt::skip]
pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    let s = json!({"type": "string"});
    let num = json!({"type": "number"});
    let int = json!({"type": "integer"});
    let count = json!({"type": "integer", "minimum": 0});
    let boolean = json!({"type": "boolean"});
    let nullable_str = json!({"type": ["string", "null"]});
    let nullable_int = json!({"type": ["integer", "null"]});
    let any_obj = json!({"type": "object"});
    let owner = json!({"anyOf": [obj(&["kind", "id"], json!({"kind": s, "id": s})), {"type": "null"}],
        "description": "The level it counts for (`virtual_key`, `provider_config`, `team`, `customer`, `model`, `provider`, `global`); null: a shared one no entity uses."});
    let budget_usage = json!({"current_usage": num, "reserved": num, "remaining": num,
        "period_start_ms": int, "period_end_ms": nullable_int});
    let rate_usage = json!({"token_current_usage": count, "request_current_usage": count});
    let limits = |mut props: Value| {
        props["budget_id"] = s.clone();
        props["rate_limit_id"] = s.clone();
        props["budget"] = schema_ref("GovernanceBudget");
        props["rate_limit"] = schema_ref("GovernanceRateLimit");
        props
    };
    let inputs = |mut props: Value| {
        props["id"] = json!({"type": "string", "description": "Generated when absent."});
        props["budget_id"] = s.clone();
        props["rate_limit_id"] = s.clone();
        props["budget"] = schema_ref("BudgetConfig");
        props["rate_limit"] = schema_ref("RateLimitRule");
        json!({"type": "object", "properties": props})
    };
    let list = |field: &str, item: &str| {
        obj(&[field, "count"], json!({field: array_of(schema_ref(item)), "count": count}))
    };
    let one = |field: &str, item: &str| obj(&[field], json!({field: schema_ref(item)}));
    let change = |field: &str, item: &str| {
        with_applied(&["message", field], json!({"message": s, field: schema_ref(item)}))
    };
    vec![
        ("GovernanceBudget", json!({"allOf": [schema_ref("BudgetConfig"), obj(&[], budget_usage.clone())],
            "description": "A budget in effect (its own or a shared one) with the usage of its current period (absent on a dry run)."})),
        ("GovernanceRateLimit", json!({"allOf": [schema_ref("RateLimitRule"), obj(&[], rate_usage.clone())],
            "description": "A rate limit in effect with the usage of its current windows (absent on a dry run)."})),
        ("GovernanceProviderConfig", obj(&["provider", "weight", "allowed_models"], limits(json!({
            "provider": s, "weight": num, "allowed_models": array_of(s.clone()),
            "key_ids": {"type": ["array", "null"], "items": s}})))),
        ("VirtualKey", obj(
            &["id", "name", "description", "is_active", "team_id", "customer_id", "provider_configs", "mcp_configs"],
            limits(json!({"id": s, "name": s, "description": s, "is_active": boolean,
                "team_id": nullable_str, "customer_id": nullable_str,
                "provider_configs": array_of(schema_ref("GovernanceProviderConfig")),
                "mcp_configs": array_of(any_obj.clone()),
                "value_preview": {"type": "string", "description": "`sk-bf-…abcd`, when the configuration holds the value itself."},
                "value": {"type": "string", "description": "The key, in the answer that created (generated) or rotated it only."},
                "value_hash": false})),
        )),
        ("VirtualKeyInput", inputs(json!({"name": s, "description": s, "is_active": boolean,
            "team_id": nullable_str, "customer_id": nullable_str,
            "provider_configs": array_of(schema_ref("VkProviderConfig")),
            "mcp_configs": array_of(any_obj.clone()),
            "value": {"type": "string", "description": "Import an existing key (creation only; only its hash is stored)."}}))),
        ("VirtualKeyList", list("virtual_keys", "VirtualKey")),
        ("VirtualKeyAnswer", one("virtual_key", "VirtualKey")),
        ("VirtualKeyChange", change("virtual_key", "VirtualKey")),
        ("Team", obj(&["id", "name", "customer_id"], limits(json!({"id": s, "name": s, "customer_id": nullable_str})))),
        ("TeamInput", inputs(json!({"name": s, "customer_id": nullable_str}))),
        ("TeamList", list("teams", "Team")),
        ("TeamAnswer", one("team", "Team")),
        ("TeamChange", change("team", "Team")),
        ("Customer", obj(&["id", "name"], limits(json!({"id": s, "name": s})))),
        ("CustomerInput", inputs(json!({"name": s}))),
        ("CustomerList", list("customers", "Customer")),
        ("CustomerAnswer", one("customer", "Customer")),
        ("CustomerChange", change("customer", "Customer")),
        ("ModelConfig", obj(&["id", "provider", "model_name"], limits(json!({
            "id": {"type": "string", "description": "`{provider or *}/{model_name or *}`"},
            "provider": nullable_str, "model_name": nullable_str})))),
        ("ModelConfigList", list("model_configs", "ModelConfig")),
        ("ModelConfigAnswer", one("model_config", "ModelConfig")),
        ("ModelConfigChange", change("model_config", "ModelConfig")),
        ("GovernanceDeleted", with_applied(&["message"], json!({"message": s}))),
        ("BudgetUsage", obj(
            &["id", "max_limit", "reset_duration", "current_usage", "reserved", "remaining", "period_start_ms", "period_end_ms"],
            {
                let mut p = budget_usage;
                p["id"] = s.clone();
                p["max_limit"] = num.clone();
                p["reset_duration"] = nullable_str.clone();
                p
            },
        )),
        ("RateLimitUsage", obj(
            &["id", "token_max_limit", "token_reset_duration", "token_current_usage", "request_max_limit", "request_reset_duration", "request_current_usage", "max_in_flight"],
            {
                let mut p = rate_usage;
                p["id"] = s.clone();
                p["token_max_limit"] = nullable_int.clone();
                p["token_reset_duration"] = nullable_str.clone();
                p["request_max_limit"] = nullable_int.clone();
                p["request_reset_duration"] = nullable_str.clone();
                p["max_in_flight"] = nullable_int.clone();
                p
            },
        )),
        ("BudgetList", list("budgets", "BudgetEntry")),
        ("BudgetEntry", json!({"anyOf": [
            {"allOf": [schema_ref("BudgetUsage"), obj(&["owner"], json!({"owner": owner, "action": schema_ref("BudgetAction"), "alert_threshold": num}))]},
            {"allOf": [schema_ref("BudgetConfig"), obj(&["owner"], json!({"owner": {"type": "null"}}))]},
        ]})),
        ("RateLimitList", list("rate_limits", "RateLimitEntry")),
        ("RateLimitEntry", json!({"anyOf": [
            {"allOf": [schema_ref("RateLimitUsage"), obj(&["owner"], json!({"owner": owner}))]},
            {"allOf": [schema_ref("RateLimitRule"), obj(&["owner"], json!({"owner": {"type": "null"}}))]},
        ]})),
        ("VirtualKeyQuota", obj(
            &["virtual_key_id", "name", "is_active", "team_id", "customer_id", "budget", "rate_limit", "provider_configs"],
            json!({"virtual_key_id": s, "name": s, "is_active": boolean,
                "team_id": nullable_str, "customer_id": nullable_str,
                "budget": {"anyOf": [schema_ref("BudgetUsage"), {"type": "null"}]},
                "rate_limit": {"anyOf": [schema_ref("RateLimitUsage"), {"type": "null"}]},
                "provider_configs": array_of(obj(&["provider", "budget", "rate_limit"], json!({"provider": s,
                    "budget": {"anyOf": [schema_ref("BudgetUsage"), {"type": "null"}]},
                    "rate_limit": {"anyOf": [schema_ref("RateLimitUsage"), {"type": "null"}]}})))}),
        )),
    ]
}
