//! `GET /api/openapi.json`: the OpenAPI 3.1 description of the management, log and health
//! routes, built once from the table below and from the `JsonSchema` of the Rust types the
//! routes serialise (`Applied`, `DiffEntry`, `TokenInfo`, `ConfigVersionMeta`, `LogRecord`, …).
//!
//! Why generated from code, not a checked-in file: a description written beside the code
//! drifts from it. Here the serialised types give their own schemas, a unit test fails when a
//! route of `api_routes` or a management route of `app` has no entry in [`OPERATIONS`] (or an
//! entry has no route), and the `openapi_conformance` test validates every answer of a real
//! gateway against the served document.

mod cache;
mod dashboard;
mod governance;
mod mcp;

use std::sync::OnceLock;

use axum::Json;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Who may call an operation (see `mgmt_auth::access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Anyone.
    Public,
    /// `config:read`.
    Read,
    /// `admin`.
    Admin,
    /// `logs:read`.
    Logs,
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    name: &'static str,
    schema: &'static str,
    description: &'static str,
}

const fn p(name: &'static str, schema: &'static str, description: &'static str) -> Param {
    Param {
        name,
        schema,
        description,
    }
}

const DRY_RUN: &[Param] = &[p(
    "dry_run",
    r#"{"type": "boolean", "default": false}"#,
    "Validate and diff only: the answer says what would change; nothing is applied.",
)];
const VERSION_PAGE: &[Param] = &[
    p(
        "limit",
        r#"{"type": "integer", "minimum": 0, "maximum": 1000, "default": 50}"#,
        "Versions per page.",
    ),
    p(
        "offset",
        r#"{"type": "integer", "minimum": 0, "default": 0}"#,
        "Versions skipped (newest first).",
    ),
];
#[rustfmt::skip]
const LOG_FILTERS: &[Param] = &[
    p("providers", r#"{"type": "string"}"#, "Comma-separated provider names (alias `provider`)."),
    p("models", r#"{"type": "string"}"#, "Comma-separated models (alias `model`)."),
    p("status", r#"{"type": "string"}"#, "Comma-separated `success`, `error` or HTTP statuses."),
    p("stream", r#"{"type": "boolean"}"#, "Streamed requests only, or unstreamed only."),
    p("virtual_key_ids", r#"{"type": "string"}"#, "Comma-separated virtual key ids."),
    p("team_ids", r#"{"type": "string"}"#, "Comma-separated team ids."),
    p("customer_ids", r#"{"type": "string"}"#, "Comma-separated customer ids."),
    p("client_request_ids", r#"{"type": "string"}"#, "Comma-separated client `x-request-id`s."),
    p("start_time", r#"{"type": "string"}"#, "RFC 3339 or Unix milliseconds."),
    p("end_time", r#"{"type": "string"}"#, "RFC 3339 or Unix milliseconds."),
    p("min_latency", r#"{"type": "number"}"#, "Milliseconds."),
    p("max_latency", r#"{"type": "number"}"#, "Milliseconds."),
    p("min_tokens", r#"{"type": "integer"}"#, "Total tokens."),
    p("max_tokens", r#"{"type": "integer"}"#, "Total tokens."),
    p("min_cost", r#"{"type": "number"}"#, "USD."),
    p("max_cost", r#"{"type": "number"}"#, "USD."),
    p("content_search", r#"{"type": "string"}"#, "Text searched in inputs and outputs."),
];
#[rustfmt::skip]
const LOG_PAGE: &[Param] = &[
    p("limit", r#"{"type": "integer", "minimum": 1}"#, "Records per page (capped)."),
    p("offset", r#"{"type": "integer", "minimum": 0}"#, "Records skipped."),
    p(
        "sort_by",
        r#"{"enum": ["timestamp", "latency", "tokens", "cost"]}"#,
        "Sort key.",
    ),
    p("order", r#"{"enum": ["asc", "desc"]}"#, "Sort order (default `desc`)."),
];
const MODEL_FILTER: &[Param] = &[p(
    "provider",
    r#"{"type": "string"}"#,
    "Only this provider's models.",
)];

/// One operation: a method on a path, and what it takes and answers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    /// Lower-case HTTP method.
    pub(crate) method: &'static str,
    /// The path as the router spells it (`{name}` for a parameter).
    pub(crate) path: &'static str,
    summary: &'static str,
    pub(crate) auth: Auth,
    query: &'static [&'static [Param]],
    /// The request body's schema component.
    body: Option<&'static str>,
    /// The success status and its schema component.
    ok: (u16, &'static str),
    /// Failure statuses answered with `Error` (401 and 403 are added for non-public routes).
    errors: &'static [u16],
    /// Other statuses answered with a component other than `Error`.
    other: &'static [(u16, &'static str)],
    /// The success is a server-sent event stream whose events carry the `ok` component.
    stream: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    auth: Auth,
    summary: &'static str,
    ok: (u16, &'static str),
    errors: &'static [u16],
) -> Op {
    Op {
        method,
        path,
        summary,
        auth,
        query: &[],
        body: None,
        ok,
        errors,
        other: &[],
        stream: false,
    }
}

impl Op {
    const fn query(self, query: &'static [&'static [Param]]) -> Self {
        Self { query, ..self }
    }
    const fn body(self, component: &'static str) -> Self {
        Self {
            body: Some(component),
            ..self
        }
    }
    const fn other(self, other: &'static [(u16, &'static str)]) -> Self {
        Self { other, ..self }
    }
    const fn event_stream(self) -> Self {
        Self {
            stream: true,
            ..self
        }
    }
}

use Auth::{Admin, Logs, Public, Read};

/// Failures of a control-plane write: invalid input or configuration, unknown name, refused
/// (file mode, exists, conflict), store down or no control plane.
const WRITE: &[u16] = &[400, 404, 409, 503];

/// Every described operation.
#[rustfmt::skip]
pub(crate) const OPERATIONS: &[Op] = &[
    op("get", "/api/config", Read, "The configuration (secrets redacted), its mode and version", (200, "ConfigView"), &[503]),
    op("put", "/api/config", Admin, "Replace the configuration (or only `client_config`)", (200, "Applied"), WRITE)
        .query(&[DRY_RUN])
        .body("ConfigDocument"),
    op("get", "/api/config/versions", Read, "Configuration versions, newest first", (200, "VersionList"), &[400, 503])
        .query(&[VERSION_PAGE]),
    op("get", "/api/config/versions/{version}", Read, "One version with its diff and document (redacted)", (200, "ConfigVersion"), &[400, 404, 503]),
    op("post", "/api/config/rollback/{version}", Admin, "Make a version's configuration current (as a new version)", (200, "Rollback"), WRITE)
        .query(&[DRY_RUN]),
    op("get", "/api/version", Public, "Gateway version and configuration mode", (200, "VersionInfo"), &[]),
    op("get", "/api/providers", Read, "Providers (redacted) with their state", (200, "ProviderList"), &[503]),
    op("post", "/api/providers", Admin, "Add a provider", (200, "ProviderChange"), WRITE)
        .query(&[DRY_RUN])
        .body("ProviderInput"),
    op("get", "/api/providers/{provider}", Read, "One provider (redacted)", (200, "Provider"), &[400, 404, 503]),
    op("put", "/api/providers/{provider}", Admin, "Replace a provider (redacted secrets keep their stored values)", (200, "ProviderChange"), WRITE)
        .query(&[DRY_RUN])
        .body("ProviderInput"),
    op("delete", "/api/providers/{provider}", Admin, "Remove a provider", (200, "Deleted"), WRITE)
        .query(&[DRY_RUN]),
    op("get", "/api/providers/{provider}/keys", Read, "A provider's keys (redacted)", (200, "KeyList"), &[400, 404, 503]),
    op("post", "/api/providers/{provider}/keys", Admin, "Add a key (named `<provider>-key-<n>` unless named)", (200, "KeyChange"), WRITE)
        .query(&[DRY_RUN])
        .body("KeyInput"),
    op("get", "/api/providers/{provider}/keys/{key_id}", Read, "One key (redacted)", (200, "ProviderKey"), &[400, 404, 503]),
    op("put", "/api/providers/{provider}/keys/{key_id}", Admin, "Replace a key (a redacted value keeps the stored one)", (200, "KeyChange"), WRITE)
        .query(&[DRY_RUN])
        .body("KeyInput"),
    op("delete", "/api/providers/{provider}/keys/{key_id}", Admin, "Remove a key", (200, "Deleted"), WRITE)
        .query(&[DRY_RUN]),
    op("get", "/api/keys", Read, "Every provider's keys (redacted)", (200, "KeyList"), &[503]),
    op("get", "/api/models", Read, "Models each servable provider declares, as `provider/model`", (200, "ModelList"), &[400]).query(&[MODEL_FILTER]),
    op("get", "/api/proxy-config", Read, "Each provider's outbound proxy (redacted)", (200, "ProxyConfig"), &[503]),
    op("post", "/api/session/login", Public, "Log in: a session token and the `heimdall_session` cookie", (200, "LoginResult"), &[400, 401, 503])
        .body("Credentials"),
    op("post", "/api/session/logout", Public, "End the session the request carries", (200, "Message"), &[503]),
    op("get", "/api/session/is-auth-enabled", Public, "Whether credentials are required, and whether the request carries a valid one", (200, "AuthStatus"), &[]),
    op("get", "/api/tokens", Read, "API tokens (never their values)", (200, "TokenList"), &[503]),
    op("post", "/api/tokens", Admin, "Create an API token (its value is shown this once)", (201, "TokenCreated"), &[400, 503])
        .body("TokenRequest"),
    op("delete", "/api/tokens/{id}", Admin, "Revoke an API token", (200, "TokenDeleted"), &[400, 404, 503]),
    op("post", "/api/users", Admin, "Create an admin user (auth turns on with the first)", (201, "AdminCreated"), &[400, 503])
        .body("Credentials"),
    op("get", "/api/openapi.json", Public, "This document", (200, "OpenApiDocument"), &[]),
    op("get", "/api/providers/health", Read, "Circuit state, statistics and cooldowns of every provider and key", (200, "ProvidersHealth"), &[]),
    op("get", "/api/logs", Logs, "A page of request records (without payloads)", (200, "LogPage"), &[400, 503])
        .query(&[LOG_FILTERS, LOG_PAGE]),
    op("get", "/api/logs/stats", Logs, "Aggregates over the records matching a filter", (200, "LogStats"), &[400, 503])
        .query(&[LOG_FILTERS]),
    op("get", "/api/logs/dropped", Logs, "Records the log writer could not keep, and its queue", (200, "LogsDropped"), &[]),
    op("get", "/api/logs/{id}", Logs, "One request record with its input and output", (200, "LogRecord"), &[400, 404, 503]),
    op("get", "/health", Public, "Alive; `degraded` while the request-log store fails", (200, "Health"), &[]),
    op("get", "/ready", Public, "Ready when at least one provider can serve and the process is not draining (after SIGTERM)", (200, "Ready"), &[])
        .other(&[(503, "Ready")]),
];

/// Every described operation: the table above, then the governance routes'.
pub(crate) fn operations() -> impl Iterator<Item = &'static Op> {
    OPERATIONS
        .iter()
        .chain(governance::OPERATIONS)
        .chain(cache::OPERATIONS)
        .chain(mcp::OPERATIONS)
        .chain(dashboard::OPERATIONS)
}

/// The document, built on first use.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

/// `GET /api/openapi.json`
pub async fn serve() -> Json<&'static Value> {
    Json(document())
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Bool(true))
}

fn build() -> Value {
    let mut paths = Map::new();
    for o in operations() {
        let entry = paths
            .entry(o.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(e) = entry.as_object_mut() {
            e.insert(o.method.to_owned(), operation(o));
        }
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Heimdall management API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Configuration, versions, providers and keys, governance (virtual keys, teams, customers, budgets, rate limits), sessions and tokens, request logs and health. Reads need the `config:read` scope, writes `admin`, log routes `logs:read`. Until an admin or token exists, loopback clients need no credentials.",
        },
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token (`hk_…`), a session token (`hsess_…`) or the one-time setup token."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": crate::mgmt_auth::SESSION_COOKIE},
            },
        },
    })
}

fn tag(path: &str) -> &'static str {
    let p = path.trim_start_matches("/api");
    if path == "/health" || path == "/ready" || p == "/providers/health" {
        "health"
    } else if p.starts_with("/config") || p == "/version" {
        "config"
    } else if p.starts_with("/logs") {
        "logs"
    } else if p.starts_with("/governance") {
        "governance"
    } else if ["/session", "/tokens", "/users"]
        .iter()
        .any(|s| p.starts_with(s))
    {
        "auth"
    } else if p == "/openapi.json" {
        "meta"
    } else {
        "providers"
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => {
            "Invalid request (a bad parameter or body, or an invalid configuration with its field-path `issues`)"
        }
        401 => "No valid credential",
        403 => "The credential lacks the scope this route needs",
        404 => "Not found",
        409 => {
            "Refused: file mode, exists already, another writer changed the configuration first, or the provider is unavailable"
        }
        502 => "The upstream answered with an error",
        504 => "The upstream did not answer in time",
        503 => "Unavailable: no control plane, or its store or the log store failed",
        _ => "",
    }
}

fn json_response(status: u16, component: &str) -> Value {
    json!({
        "description": status_text(status),
        "content": {"application/json": {"schema": schema_ref(component)}},
    })
}

fn operation(o: &Op) -> Value {
    let mut params: Vec<Value> = o
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = if name == "version" {
                json!({"type": "integer", "minimum": 1})
            } else {
                json!({"type": "string"})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    params.extend(o.query.iter().flat_map(|g| g.iter()).map(|q| {
        json!({"name": q.name, "in": "query", "required": false,
            "description": q.description, "schema": parse(q.schema)})
    }));
    let mut responses = Map::new();
    let ok = if o.stream {
        json!({
            "description": "A server-sent event stream",
            "content": {"text/event-stream": {
                "schema": {"type": "string"},
                "x-event-data": schema_ref(o.ok.1),
            }},
        })
    } else {
        json_response(o.ok.0, o.ok.1)
    };
    responses.insert(o.ok.0.to_string(), ok);
    for (status, component) in o.other {
        let mut r = json_response(*status, component);
        if *status == 503 {
            r["description"] = json!("Not ready: no provider can serve");
        } else if *status == 200 {
            r["description"] = json!("Dry run: nothing was created");
        }
        responses.insert(status.to_string(), r);
    }
    let auth_errors: &[u16] = if o.auth == Public { &[] } else { &[401, 403] };
    let mut errors: Vec<u16> = o.errors.iter().chain(auth_errors).copied().collect();
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        responses.insert(status.to_string(), json_response(status, "Error"));
    }
    let id: String = format!("{}{}", o.method, o.path)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let mut out = json!({
        "operationId": id,
        "summary": o.summary,
        "tags": [tag(o.path)],
        "responses": responses,
    });
    if !params.is_empty() {
        out["parameters"] = Value::Array(params);
    }
    match o.auth {
        Public => out["security"] = json!([]),
        Read => out["x-required-scope"] = json!("config:read"),
        Admin => out["x-required-scope"] = json!("admin"),
        Logs => out["x-required-scope"] = json!("logs:read"),
    }
    if let Some(body) = o.body {
        out["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": schema_ref(body)}},
        });
    }
    out
}

/// The schemas derived from the serialised Rust types, then the hand-written ones (the
/// answers assembled with `json!` in the handlers).
fn schemas() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    generator.subschema_for::<heimdall_control::Applied>();
    generator.subschema_for::<heimdall_control::Mode>();
    generator.subschema_for::<heimdall_control::Scope>();
    generator.subschema_for::<heimdall_control::auth::TokenInfo>();
    generator.subschema_for::<heimdall_store::ConfigVersionMeta>();
    generator.subschema_for::<heimdall_store::LogPage>();
    generator.subschema_for::<heimdall_store::LogStats>();
    generator.subschema_for::<heimdall_store::LogRecord>();
    generator.subschema_for::<heimdall_config::Strategy>();
    governance::derive(&mut generator);
    dashboard::derive(&mut generator);
    let mut out = generator.take_definitions(true);
    // Listings show a version's diff parsed, not as the JSON text the store keeps.
    if let Some(props) = out
        .get_mut("ConfigVersionMeta")
        .and_then(|m| m.get_mut("properties"))
    {
        props["diff"] = diff_list();
    }
    out.extend(
        hand_written()
            .into_iter()
            .chain(governance::schemas())
            .chain(cache::schemas())
            .chain(mcp::schemas())
            .chain(dashboard::schemas())
            .map(|(name, schema)| (name.to_owned(), schema)),
    );
    out
}

fn obj(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn array_of(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn with_applied(required: &[&str], properties: Value) -> Value {
    json!({"allOf": [schema_ref("Applied"), obj(required, properties)]})
}

fn diff_list() -> Value {
    json!({"description": "The change from the previous version (null if unreadable).",
        "type": ["array", "null"], "items": schema_ref("DiffEntry")})
}

#[rustfmt::skip]
fn hand_written() -> Vec<(&'static str, Value)> {
    let s = json!({"type": "string"});
    let int = json!({"type": "integer"});
    let count = json!({"type": "integer", "minimum": 0});
    let boolean = json!({"type": "boolean"});
    let nullable_str = json!({"type": ["string", "null"]});
    let any_obj = json!({"type": "object"});
    let config_mode = json!({"enum": ["file", "store"]});
    let breaker = json!({"enum": ["closed", "open", "half_open"]});
    let issue = obj(&["path", "message"], json!({"path": s, "message": s}));
    let shown_key = obj(&["id", "name"], json!({"id": s, "name": s, "enabled": boolean}));
    let credentials = obj(&["username", "password"], json!({"username": s, "password": s}));
    vec![
        ("Error", obj(&["error"], json!({"error": obj(
            &["message", "type", "param"],
            json!({"message": s, "type": s, "param": nullable_str,
                "issues": {"description": "Field-path issues of an invalid configuration.",
                    "type": "array", "items": issue}}),
        )}))),
        ("ConfigView", obj(
            &["mode", "source", "version", "client_config", "config", "auth_config", "is_db_connected", "is_logs_connected"],
            json!({"mode": config_mode, "source": schema_ref("Mode"), "version": int,
                "client_config": any_obj, "config": any_obj,
                "auth_config": obj(&["is_enabled"], json!({"is_enabled": boolean})),
                "is_db_connected": boolean, "is_logs_connected": boolean}),
        )),
        ("ConfigDocument", json!({"type": "object", "description": "A whole configuration (native or Bifrost layout; redacted secrets sent back keep their stored values), or `{\"client_config\": {…}}` to replace the `client` section only."})),
        ("VersionList", obj(
            &["versions", "total", "current", "mode"],
            json!({"versions": array_of(schema_ref("ConfigVersionMeta")), "total": int,
                "current": int, "mode": config_mode}),
        )),
        ("ConfigVersion", obj(
            &["version", "created_at_ms", "actor", "source", "summary", "diff", "config", "current"],
            json!({"version": int, "created_at_ms": int, "actor": s, "source": s, "summary": s,
                "diff": diff_list(), "config": any_obj, "current": boolean}),
        )),
        ("Rollback", with_applied(&["rolled_back_to"], json!({"rolled_back_to": int}))),
        ("VersionInfo", obj(
            &["name", "version", "config_mode", "config_version"],
            json!({"name": s, "version": s, "config_mode": {"enum": ["file", "store", "fixed"]},
                "config_version": int}),
        )),
        ("Provider", obj(
            &["name", "provider", "status"],
            json!({"name": s, "provider": s,
                "status": {"enum": ["active", "unavailable", "pending"]},
                "unavailable_reason": s, "keys": array_of(shown_key)}),
        )),
        ("ProviderInput", json!({"type": "object", "description": "A provider entry as the configuration holds it, named by `provider` (or `name`; the path names it on PUT).",
            "properties": {"provider": s, "name": s, "keys": array_of(schema_ref("KeyInput"))}})),
        ("ProviderList", obj(&["total", "providers"],
            json!({"total": count, "providers": array_of(schema_ref("Provider"))}))),
        ("ProviderChange", with_applied(&["provider"],
            json!({"provider": {"description": "The provider as now shown (null on a dry run).",
                "anyOf": [schema_ref("Provider"), {"type": "null"}]}}))),
        ("ProviderKey", obj(&["id", "name", "provider", "enabled"], json!({"id": s, "name": s, "provider": s, "enabled": boolean}))),
        ("KeyInput", json!({"type": "object", "description": "A key entry as the configuration holds it (`id` is taken as `name`).",
            "properties": {"name": s, "id": s, "value": s,
                "models": array_of(s.clone()), "weight": {"type": "number"},
                "enabled": {"type": "boolean", "default": true, "description": "A disabled key is never chosen nor health-checked."}}})),
        ("KeyList", obj(&["total", "keys"], json!({"total": count, "keys": array_of(schema_ref("ProviderKey"))}))),
        ("KeyChange", with_applied(&["provider"], json!({"provider": s, "key_id": s}))),
        ("Deleted", with_applied(&["deleted"], json!({"deleted": s}))),
        ("ModelList", obj(&["total", "models"], json!({"total": count, "models": array_of(obj(
            &["id", "provider", "model", "kind"],
            json!({"id": s, "provider": s, "model": s, "kind": s}),
        ))}))),
        ("ProxyConfig", obj(&["enabled", "providers"], json!({"enabled": boolean,
            "providers": {"type": "object", "additionalProperties": true}}))),
        ("Credentials", credentials),
        ("LoginResult", obj(&["token", "expires_in", "username"],
            json!({"token": s, "expires_in": count, "username": s}))),
        ("Message", obj(&["message"], json!({"message": s}))),
        ("AuthStatus", obj(&["is_auth_enabled", "has_valid_token"],
            json!({"is_auth_enabled": boolean, "has_valid_token": boolean}))),
        ("TokenRequest", obj(&["name", "scopes"], json!({"name": s,
            "scopes": {"type": "array", "minItems": 1, "items": schema_ref("Scope")},
            "expires_at_ms": {"type": ["integer", "null"], "description": "Expiry, Unix milliseconds."}}))),
        ("TokenCreated", obj(&["token", "info", "note"],
            json!({"token": s, "info": schema_ref("TokenInfo"), "note": s}))),
        ("TokenList", obj(&["total", "tokens"],
            json!({"total": count, "tokens": array_of(schema_ref("TokenInfo"))}))),
        ("TokenDeleted", obj(&["deleted"], json!({"deleted": s}))),
        ("AdminCreated", obj(&["username"], json!({"username": s}))),
        ("OpenApiDocument", obj(&["openapi", "info", "paths", "components"],
            json!({"openapi": {"const": "3.1.0"}, "info": any_obj, "paths": any_obj, "components": any_obj}))),
        ("ProvidersHealth", obj(&["strategy", "active_checks", "providers"], json!({
            "strategy": schema_ref("Strategy"), "active_checks": boolean,
            "providers": array_of(obj(
                &["name", "kind", "state", "healthy", "streak", "total_failures", "latency_ewma_ms", "error_rate", "in_flight", "queued", "keys"],
                json!({"name": s, "kind": s, "state": breaker, "healthy": boolean,
                    "streak": count, "total_failures": count, "latency_ewma_ms": {"type": "number"},
                    "error_rate": {"type": "number"}, "in_flight": count, "queued": count,
                    "keys": array_of(obj(
                        &["name", "enabled", "state", "cooling_down", "total_failures", "latency_ewma_ms", "error_rate"],
                        json!({"name": s, "enabled": boolean, "state": breaker, "cooling_down": boolean,
                            "total_failures": count, "latency_ewma_ms": {"type": "number"},
                            "error_rate": {"type": "number"}}),
                    ))}),
            ))}))),
        ("LogsDropped", obj(&["enabled", "dropped", "pending"], json!({"enabled": boolean,
            "dropped": count, "pending": count, "accepted": count, "written": count,
            "failed_writes": count, "rejected": count, "failing": boolean,
            "store_open": boolean, "last_error": nullable_str}))),
        ("Health", obj(&["status"], json!({"status": {"enum": ["ok", "degraded"]},
            "log_store": obj(&["status", "pending", "dropped", "rejected", "last_error"],
                json!({"status": {"enum": ["ok", "failing"]}, "pending": count,
                    "dropped": count, "rejected": count, "last_error": nullable_str}))}))),
        ("Ready", obj(&["status", "providers", "unavailable"], json!({
            "status": {"enum": ["ready", "no_providers", "draining"]}, "providers": array_of(s),
            "unavailable": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "Providers that cannot serve, with the reason."}}))),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The `(method, path)` pairs a router source registers with `.route(path, method(…)…)`.
    fn registered(source: &str) -> BTreeSet<(String, String)> {
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut out = BTreeSet::new();
        let mut rest = code.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let open = rest.find('"').unwrap();
            let close = open + 1 + rest[open + 1..].find('"').unwrap();
            let path = &rest[open + 1..close];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .unwrap()
                .0;
            let methods = &rest[close..end];
            for m in [
                "get", "post", "put", "delete", "patch", "head", "options", "any",
            ] {
                let call = format!("{m}(");
                let found = methods.match_indices(&call).any(|(k, _)| {
                    methods[..k]
                        .chars()
                        .last()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                });
                if found {
                    out.insert((m.to_owned(), path.to_owned()));
                }
            }
        }
        out
    }

    fn described() -> BTreeSet<(String, String)> {
        operations()
            .map(|o| (o.method.to_owned(), o.path.to_owned()))
            .collect()
    }

    #[test]
    fn every_management_route_is_described_and_every_description_is_a_route() {
        let mut routes = registered(include_str!("api_routes.rs"));
        assert!(routes.len() > 20, "the route parser found {routes:?}");
        let app = registered(include_str!("app.rs"));
        assert!(app.contains(&("get".to_owned(), "/health".to_owned())));
        routes.extend(
            app.into_iter()
                .filter(|(_, p)| p.starts_with("/api") || p == "/health" || p == "/ready"),
        );
        let described = described();
        let missing: Vec<_> = routes.difference(&described).collect();
        assert!(
            missing.is_empty(),
            "routes without a description in openapi::OPERATIONS: {missing:?}"
        );
        let stale: Vec<_> = described.difference(&routes).collect();
        assert!(
            stale.is_empty(),
            "described operations with no route: {stale:?}"
        );
        assert_eq!(
            described.len(),
            operations().count(),
            "an operation is described twice"
        );
    }

    #[test]
    fn the_routes_auth_matches_mgmt_auth() {
        use crate::mgmt_auth::{Access, access};
        use heimdall_control::Scope;
        for o in operations() {
            let method: axum::http::Method = o.method.to_uppercase().parse().unwrap();
            let expected = match o.auth {
                Public => Access::Public,
                Read => Access::Needs(Scope::ConfigRead),
                Admin => Access::Needs(Scope::Admin),
                Logs => Access::Needs(Scope::LogsRead),
            };
            assert_eq!(access(&method, o.path), expected, "{} {}", o.method, o.path);
        }
    }

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.push(r);
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let mut found = Vec::new();
        refs(doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
            assert!(target.is_some(), "unresolved $ref {r}");
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "Applied",
            "DiffEntry",
            "TokenInfo",
            "ConfigVersionMeta",
            "LogRecord",
            "TrailEntry",
            "Error",
        ] {
            assert!(
                schemas.contains_key(name),
                "no {name} schema in {:?}",
                schemas.keys()
            );
        }
        for (name, schema) in schemas {
            assert!(
                jsonschema::meta::is_valid(schema),
                "{name} is not a valid JSON Schema: {schema}"
            );
        }
        let mut ids = BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()));
            }
        }
        // What the code always emits is required.
        let required = |name: &str| schemas[name]["required"].clone();
        assert_eq!(
            required("Applied"),
            json!(["version", "dry_run", "diff", "restart_required", "warnings"])
        );
        assert_eq!(required("DiffEntry"), json!(["path", "op"]));
        assert!(
            required("LogRecord")
                .as_array()
                .unwrap()
                .contains(&json!("cost"))
        );
    }
}
