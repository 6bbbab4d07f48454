//! The management API's routes (configuration, versions, providers and keys, sessions and
//! tokens, governance, the OpenAPI document), mounted beside the inference and log routes.
//!
//! Why a table of its own: `openapi` describes exactly these routes; keeping them in one place
//! keeps the description and the router from drifting apart (a test checks that every route
//! here is described).

use axum::Router;
use axum::routing::{delete, get, post};

use crate::state::AppState;
use crate::{
    cache_api, config_api, governance_api as gov, governance_models, providers_api, session_api,
};

/// Add the management routes.
pub fn mount(router: Router<AppState>) -> Router<AppState> {
    router
        .route(
            "/api/config",
            get(config_api::get_config).put(config_api::put_config),
        )
        .route("/api/config/versions", get(config_api::list_versions))
        .route(
            "/api/config/versions/{version}",
            get(config_api::get_version),
        )
        .route("/api/config/rollback/{version}", post(config_api::rollback))
        .route("/api/version", get(config_api::version))
        .route("/api/mcp/clients", get(crate::mcp_api::list))
        .route("/api/mcp/client", post(crate::mcp_api::create))
        .route(
            "/api/mcp/client/{id}",
            get(crate::mcp_api::get)
                .put(crate::mcp_api::update)
                .delete(crate::mcp_api::delete),
        )
        .route(
            "/api/mcp/client/{id}/reconnect",
            post(crate::mcp_api::reconnect),
        )
        .route("/api/mcp/logs", get(crate::mcp_api::logs))
        .route("/api/cache/stats", get(cache_api::stats))
        .route("/api/cache/clear", delete(cache_api::clear_all))
        .route(
            "/api/cache/clear/{request_id}",
            delete(cache_api::clear_request),
        )
        .route(
            "/api/cache/clear-by-key/{key}",
            delete(cache_api::clear_key),
        )
        .route(
            "/api/providers",
            get(providers_api::list).post(providers_api::create),
        )
        .route(
            "/api/providers/{provider}",
            get(providers_api::get)
                .put(providers_api::update)
                .delete(providers_api::delete),
        )
        .route(
            "/api/providers/{provider}/keys",
            get(providers_api::list_keys).post(providers_api::create_key),
        )
        .route(
            "/api/providers/{provider}/keys/{key_id}",
            get(providers_api::get_key)
                .put(providers_api::update_key)
                .delete(providers_api::delete_key),
        )
        .route(
            "/api/providers/{provider}/keys/{key_id}/test",
            post(crate::key_test::test_key),
        )
        .route("/api/keys", get(providers_api::all_keys))
        .route("/api/models", get(providers_api::models))
        .route("/api/proxy-config", get(providers_api::proxy_config))
        .route("/api/session/login", post(session_api::login))
        .route("/api/session/logout", post(session_api::logout))
        .route(
            "/api/session/is-auth-enabled",
            get(session_api::is_auth_enabled),
        )
        .route(
            "/api/tokens",
            get(session_api::list_tokens).post(session_api::create_token),
        )
        .route(
            "/api/tokens/{id}",
            axum::routing::delete(session_api::delete_token),
        )
        .route("/api/users", post(session_api::create_admin))
        .route("/api/openapi.json", get(crate::openapi::serve))
        .route(
            "/api/governance/virtual-keys",
            get(gov::list_virtual_keys).post(gov::create_virtual_key),
        )
        .route(
            "/api/governance/virtual-keys/quota",
            get(gov::virtual_key_quota),
        )
        .route(
            "/api/governance/virtual-keys/{vk_id}",
            get(gov::get_virtual_key)
                .put(gov::update_virtual_key)
                .delete(gov::delete_virtual_key),
        )
        .route(
            "/api/governance/virtual-keys/{vk_id}/rotate",
            post(gov::rotate_virtual_key),
        )
        .route(
            "/api/governance/teams",
            get(gov::list_teams).post(gov::create_team),
        )
        .route(
            "/api/governance/teams/{team_id}",
            get(gov::get_team)
                .put(gov::update_team)
                .delete(gov::delete_team),
        )
        .route(
            "/api/governance/customers",
            get(gov::list_customers).post(gov::create_customer),
        )
        .route(
            "/api/governance/customers/{customer_id}",
            get(gov::get_customer)
                .put(gov::update_customer)
                .delete(gov::delete_customer),
        )
        .route("/api/governance/budgets", get(gov::list_budgets))
        .route("/api/governance/rate-limits", get(gov::list_rate_limits))
        .route(
            "/api/governance/model-configs",
            get(governance_models::list_model_configs).post(governance_models::create_model_config),
        )
        .route(
            "/api/governance/model-configs/{id}",
            get(governance_models::get_model_config)
                .put(governance_models::update_model_config)
                .delete(governance_models::delete_model_config),
        )
}
