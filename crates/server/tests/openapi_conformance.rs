//! Every management answer conforms to the served `/api/openapi.json`: a real gateway with a
//! real control plane (SQLite config store in a tempdir, store mode) is driven through every
//! described operation — successes and the typical failures (invalid config with issues,
//! unknown names, duplicates, no credential, wrong scope) — and each JSON body is validated
//! against the document's schema for its route and status.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "openapi_conformance/families.rs"]
mod families;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::control::{ControlHarness, ControlOptions, start_control};
use heimdall_mock_provider::{MockConfig, MockServer};
use reqwest::Method;
use serde_json::{Value, json};

/// The gateway under test and what checks its answers.
struct Conformance {
    base: String,
    client: reqwest::Client,
    doc: Value,
    /// The credential sent (`Authorization: Bearer`), if any.
    bearer: Option<String>,
    /// Mismatches: route, status, body, errors.
    failures: Vec<String>,
    /// `(method, template)` → statuses seen.
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
}

/// The described path template `path` (without its query) matches: exact first, else the one
/// with the fewest parameters.
fn template_of<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .keys()
        .filter(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segments.len()
                && ts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .min_by_key(|t| t.matches('{').count())
        .map(String::as_str)
}

impl Conformance {
    /// Send `method path` with `body`, validate the answer, and return its status and body.
    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body, |r| r).await
    }

    async fn call_with(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(b) = &body {
            req = req.json(b);
        }
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        let resp = extra(req).send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let route = format!("{method} {path}");
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                self.failures
                    .push(format!("{route} → {status}: not JSON ({e}): {text}"));
                return (status, Value::Null);
            }
        };
        self.validate(&route, method.as_str(), path, status, &value);
        (status, value)
    }

    fn validate(&mut self, route: &str, method: &str, path: &str, status: u16, body: &Value) {
        let method = method.to_lowercase();
        let Some(template) = template_of(&self.doc, path).map(str::to_owned) else {
            self.failures
                .push(format!("{route} → {status}: no described path: {body}"));
            return;
        };
        self.seen
            .entry((method.clone(), template.clone()))
            .or_default()
            .insert(status);
        let Some(response) = self.doc["paths"][&template][&method]["responses"]
            .get(status.to_string())
            .cloned()
        else {
            self.failures.push(format!(
                "{route} → {status}: status not described for {method} {template}: {body}"
            ));
            return;
        };
        let schema = &response["content"]["application/json"]["schema"];
        // The response schema, with the document's components beside it so that its
        // `#/components/schemas/…` references resolve.
        let wrapped = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator = match jsonschema::validator_for(&wrapped) {
            Ok(v) => v,
            Err(e) => {
                self.failures.push(format!(
                    "{route} → {status}: the schema of {method} {template} does not compile: {e}"
                ));
                return;
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("  at {}: {e}", e.instance_path()))
            .collect();
        if !errors.is_empty() {
            self.failures.push(format!(
                "{route} → {status} does not match {method} {template} {status}:\n{}\nbody: {}",
                errors.join("\n"),
                serde_json::to_string_pretty(body).unwrap_or_default()
            ));
        }
    }

    /// Assert `status`, recording a failure (with the body) otherwise.
    fn expect(&mut self, what: &str, got: (u16, &Value), want: u16) {
        if got.0 != want {
            self.failures
                .push(format!("{what}: expected {want}, got {}: {}", got.0, got.1));
        }
    }
}

/// A gateway in store mode over a fresh SQLite config store, seeded with one provider
/// (`mock`) pointing at a mock upstream, its request logs in a fresh SQLite log store.
async fn start() -> (Conformance, MockServer, ControlHarness, tempfile::TempDir) {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (_log_store, writer, log_dir) = common::sqlite_writer(10_000).await;
    let mut config = common::mock_config(&mock, json!({}));
    // Budgets need a price for the mock's model.
    config["pricing"] = json!({"default_price": {"input": 1.0, "output": 1.0}});
    // The cache as Bifrost's plugin has it: only requests with `x-bf-cache-key` are cached.
    config["cache"] = json!({"embedding_model": "none"});
    let h = start_control(ControlOptions {
        writer: Some(writer),
        governance: true,
        cache: true,
        mcp: true,
        ..ControlOptions::store(config)
    })
    .await;
    let base = h.url("");
    let client = reqwest::Client::new();
    let doc: Value = client
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .expect("the document is JSON");
    let c = Conformance {
        base,
        client,
        doc,
        bearer: None,
        failures: Vec::new(),
        seen: BTreeMap::new(),
    };
    (c, mock, h, log_dir)
}

/// The governance routes: the hierarchy, a key used and its quota, model configs, rotation,
/// refusals, and deletion bottom-up.
async fn governance(c: &mut Conformance) {
    use Method as M;
    let vk_body = json!({
        "id": "vk1", "name": "ci", "team_id": "eng",
        "budget": {"max_limit": 10, "reset_duration": "1d"},
        "rate_limit": {"request_max_limit": 100, "request_reset_duration": "1m"},
        "provider_configs": [{"provider": "mock", "allowed_models": ["*"], "budget": {"max_limit": 5}}]
    });
    let bad_budget = json!({"max_limit": 1, "reset_duration": "soon"});
    let model = json!({"provider": "mock", "model_name": "gpt-4o", "budget": {"max_limit": 50}});
    let mut value = String::new();
    for (m, path, body, want) in [
        (
            M::POST,
            "/api/governance/customers?dry_run=true",
            Some(json!({"id": "acme"})),
            200,
        ),
        (
            M::POST,
            "/api/governance/customers",
            Some(json!({"id": "acme", "name": "Acme", "budget": {"max_limit": 100}})),
            201,
        ),
        (
            M::POST,
            "/api/governance/customers",
            Some(json!({"id": "acme"})),
            409,
        ),
        (
            M::POST,
            "/api/governance/customers",
            Some(json!({"budget": bad_budget})),
            400,
        ),
        (M::GET, "/api/governance/customers", None, 200),
        (M::GET, "/api/governance/customers/acme", None, 200),
        (M::GET, "/api/governance/customers/nope", None, 404),
        (
            M::PUT,
            "/api/governance/customers/acme",
            Some(json!({"name": "Acme Inc"})),
            200,
        ),
        (
            M::PUT,
            "/api/governance/customers/nope",
            Some(json!({"name": "x"})),
            404,
        ),
        (
            M::POST,
            "/api/governance/teams?dry_run=true",
            Some(json!({"id": "eng"})),
            200,
        ),
        (
            M::POST,
            "/api/governance/teams",
            Some(json!({"id": "eng", "name": "Eng", "customer_id": "acme",
            "rate_limit": {"request_max_limit": 1000, "request_reset_duration": "1h"}})),
            201,
        ),
        (
            M::POST,
            "/api/governance/teams",
            Some(json!({"id": "eng"})),
            409,
        ),
        (
            M::POST,
            "/api/governance/teams",
            Some(json!({"customer_id": "nobody"})),
            400,
        ),
        (M::GET, "/api/governance/teams", None, 200),
        (M::GET, "/api/governance/teams/eng", None, 200),
        (M::GET, "/api/governance/teams/nope", None, 404),
        (
            M::PUT,
            "/api/governance/teams/eng",
            Some(json!({"name": "Engineering"})),
            200,
        ),
        (
            M::PUT,
            "/api/governance/teams/nope",
            Some(json!({"name": "x"})),
            404,
        ),
        (
            M::POST,
            "/api/governance/virtual-keys?dry_run=true",
            Some(vk_body.clone()),
            200,
        ),
        (
            M::POST,
            "/api/governance/virtual-keys",
            Some(vk_body.clone()),
            201,
        ),
        (M::POST, "/api/governance/virtual-keys", Some(vk_body), 409),
        (
            M::POST,
            "/api/governance/virtual-keys",
            Some(json!({"budget": bad_budget})),
            400,
        ),
        (M::GET, "/api/governance/virtual-keys", None, 200),
        (M::GET, "/api/governance/virtual-keys/vk1", None, 200),
        (M::GET, "/api/governance/virtual-keys/nope", None, 404),
        (
            M::PUT,
            "/api/governance/virtual-keys/vk1",
            Some(json!({"description": "the CI's key"})),
            200,
        ),
        (
            M::PUT,
            "/api/governance/virtual-keys/vk1",
            Some(json!({"value": "sk-bf-x"})),
            400,
        ),
        (
            M::PUT,
            "/api/governance/virtual-keys/nope",
            Some(json!({"name": "x"})),
            404,
        ),
        (
            M::POST,
            "/api/governance/model-configs?dry_run=true",
            Some(model.clone()),
            200,
        ),
        (
            M::POST,
            "/api/governance/model-configs",
            Some(model.clone()),
            201,
        ),
        (M::POST, "/api/governance/model-configs", Some(model), 409),
        (
            M::POST,
            "/api/governance/model-configs",
            Some(json!({"budget": {"max_limit": 1}})),
            400,
        ),
        (M::GET, "/api/governance/model-configs", None, 200),
        (
            M::GET,
            "/api/governance/model-configs/mock%2Fgpt-4o",
            None,
            200,
        ),
        (
            M::GET,
            "/api/governance/model-configs/mock%2Fnope",
            None,
            404,
        ),
        (M::GET, "/api/governance/model-configs/nope", None, 400),
        (
            M::PUT,
            "/api/governance/model-configs/mock%2Fgpt-4o",
            Some(json!({"budget": {"max_limit": 60}})),
            200,
        ),
        (
            M::PUT,
            "/api/governance/model-configs/mock%2Fnope",
            Some(json!({})),
            404,
        ),
    ] {
        let what = format!("{m} {path}");
        let (status, body) = c.call(m, path, body).await;
        c.expect(&what, (status, &body), want);
        if let Some(v) = body["virtual_key"]["value"].as_str() {
            value = v.to_owned();
        }
    }
    // The key at work, then its usage and its own quota.
    let r = c
        .client
        .post(format!("{}/v1/chat/completions", c.base))
        .header("x-bf-vk", &value)
        .json(&common::user_chat("mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let quota = "/api/governance/virtual-keys/quota";
    let v = value.clone();
    let r = c
        .call_with(M::GET, quota, None, |r| r.header("x-bf-vk", v))
        .await;
    c.expect("quota", (r.0, &r.1), 200);
    let r = c
        .call_with(M::GET, quota, None, |r| r.header("x-bf-vk", "sk-bf-nope"))
        .await;
    c.expect("quota of an unknown key", (r.0, &r.1), 401);
    for (m, path, want) in [
        (M::GET, "/api/governance/budgets", 200),
        (M::GET, "/api/governance/rate-limits", 200),
        (
            M::POST,
            "/api/governance/virtual-keys/vk1/rotate?dry_run=true",
            200,
        ),
        (M::POST, "/api/governance/virtual-keys/vk1/rotate", 200),
        (M::POST, "/api/governance/virtual-keys/nope/rotate", 404),
        (M::DELETE, "/api/governance/teams/eng", 409),
        (M::DELETE, "/api/governance/customers/acme", 409),
        (
            M::DELETE,
            "/api/governance/virtual-keys/vk1?dry_run=true",
            200,
        ),
        (M::DELETE, "/api/governance/virtual-keys/vk1", 200),
        (M::DELETE, "/api/governance/virtual-keys/vk1", 404),
        (M::DELETE, "/api/governance/teams/eng", 200),
        (M::DELETE, "/api/governance/customers/acme", 200),
        (M::DELETE, "/api/governance/customers/acme", 404),
        (
            M::DELETE,
            "/api/governance/model-configs/mock%2Fgpt-4o",
            200,
        ),
        (
            M::DELETE,
            "/api/governance/model-configs/mock%2Fgpt-4o",
            404,
        ),
    ] {
        let what = format!("{m} {path}");
        let r = c.call(m, path, None).await;
        c.expect(&what, (r.0, &r.1), want);
    }
}

#[tokio::test]
async fn every_management_answer_matches_the_openapi_document() {
    let (mut c, mock, _gateway, _log_dir) = start().await;
    assert_eq!(c.doc["openapi"], "3.1.0", "{}", c.doc);
    assert_eq!(c.doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    use Method as M;

    // Public routes, and the document validating itself.
    for path in [
        "/api/openapi.json",
        "/health",
        "/ready",
        "/api/version",
        "/api/session/is-auth-enabled",
    ] {
        let r = c.call(M::GET, path, None).await;
        c.expect(path, (r.0, &r.1), 200);
    }

    // Configuration (loopback, no admin yet: no credential needed).
    let (_, view) = c.call(M::GET, "/api/config", None).await;
    let config = view["config"].clone();
    let r = c
        .call(M::PUT, "/api/config?dry_run=true", Some(config.clone()))
        .await;
    c.expect("dry-run PUT /api/config", (r.0, &r.1), 200);
    let mut changed = config.clone();
    changed["client"] = json!({"drop_excess_requests": true});
    let r = c.call(M::PUT, "/api/config", Some(changed)).await;
    c.expect("PUT /api/config", (r.0, &r.1), 200);
    let r = c
        .call(
            M::PUT,
            "/api/config",
            Some(json!({"client_config": {"drop_excess_requests": false}})),
        )
        .await;
    c.expect("PUT /api/config client_config", (r.0, &r.1), 200);
    let mut invalid = config.clone();
    invalid["providers"]["mock"]["keys"] = json!("not a list");
    let (status, body) = c.call(M::PUT, "/api/config", Some(invalid)).await;
    c.expect("invalid PUT /api/config", (status, &body), 400);
    assert!(
        body["error"]["issues"]
            .as_array()
            .is_some_and(|i| !i.is_empty()),
        "an invalid configuration names its issues: {body}"
    );
    let r = c
        .call(M::PUT, "/api/config?dry_run=maybe", Some(config))
        .await;
    c.expect("bad dry_run", (r.0, &r.1), 400);
    let r = c.call(M::PUT, "/api/config", Some(json!([1, 2]))).await;
    c.expect("non-object config", (r.0, &r.1), 400);

    // Versions and rollback.
    let (_, versions) = c
        .call(M::GET, "/api/config/versions?limit=10&offset=0", None)
        .await;
    assert!(versions["total"].as_i64().unwrap_or(0) >= 3, "{versions}");
    let r = c.call(M::GET, "/api/config/versions?limit=abc", None).await;
    c.expect("bad limit", (r.0, &r.1), 400);
    let r = c.call(M::GET, "/api/config/versions/1", None).await;
    c.expect("version 1", (r.0, &r.1), 200);
    let r = c.call(M::GET, "/api/config/versions/999", None).await;
    c.expect("unknown version", (r.0, &r.1), 404);
    let r = c.call(M::GET, "/api/config/versions/abc", None).await;
    c.expect("bad version", (r.0, &r.1), 400);
    let r = c
        .call(M::POST, "/api/config/rollback/1?dry_run=true", None)
        .await;
    c.expect("dry-run rollback", (r.0, &r.1), 200);
    let r = c.call(M::POST, "/api/config/rollback/1", None).await;
    c.expect("rollback", (r.0, &r.1), 200);
    let r = c.call(M::POST, "/api/config/rollback/999", None).await;
    c.expect("rollback to an unknown version", (r.0, &r.1), 404);

    // Providers and keys.
    let second = json!({
        "provider": "second",
        "type": "custom",
        "models": ["m1"],
        "keys": [{"name": "s1", "value": "sk-second", "models": [], "weight": 1.0}],
        "network_config": {"base_url": mock.base_url()},
        "proxy_config": {"type": "http", "url": "http://127.0.0.1:9"},
    });
    for (m, path, body, want) in [
        (M::GET, "/api/providers", None, 200),
        (M::GET, "/api/providers/mock", None, 200),
        (M::GET, "/api/providers/nope", None, 404),
        (
            M::POST,
            "/api/providers?dry_run=true",
            Some(second.clone()),
            200,
        ),
        (M::POST, "/api/providers", Some(second.clone()), 200),
        (M::POST, "/api/providers", Some(second.clone()), 409),
        (
            M::POST,
            "/api/providers",
            Some(json!({"type": "custom"})),
            400,
        ),
        (M::PUT, "/api/providers/second", Some(second.clone()), 200),
        (
            M::PUT,
            "/api/providers/nope",
            Some(json!({"type": "custom"})),
            404,
        ),
        (
            M::PUT,
            "/api/providers/second",
            Some(json!({"provider": "other"})),
            400,
        ),
        (M::GET, "/api/proxy-config", None, 200),
        (M::GET, "/api/providers/second/keys", None, 200),
        (M::GET, "/api/providers/nope/keys", None, 404),
        (
            M::POST,
            "/api/providers/second/keys",
            Some(json!({"name": "s2", "value": "sk-2", "models": [], "weight": 1.0})),
            200,
        ),
        (
            M::POST,
            "/api/providers/second/keys",
            Some(json!({"name": "s2", "value": "sk-2", "models": [], "weight": 1.0})),
            409,
        ),
        (
            M::POST,
            "/api/providers/nope/keys",
            Some(json!({"value": "sk-3"})),
            404,
        ),
        (M::GET, "/api/providers/second/keys/s2", None, 200),
        (M::GET, "/api/providers/second/keys/nope", None, 404),
        (
            M::PUT,
            "/api/providers/second/keys/s2",
            Some(json!({"value": "sk-2b", "models": [], "weight": 2.0})),
            200,
        ),
        (
            M::PUT,
            "/api/providers/second/keys/nope",
            Some(json!({"value": "x"})),
            404,
        ),
        (M::GET, "/api/keys", None, 200),
        (M::GET, "/api/models", None, 200),
        (M::GET, "/api/models?provider=second", None, 200),
        (M::GET, "/api/providers/health", None, 200),
        (
            M::DELETE,
            "/api/providers/second/keys/s2?dry_run=true",
            None,
            200,
        ),
        (M::DELETE, "/api/providers/second/keys/s2", None, 200),
        (M::DELETE, "/api/providers/second/keys/s2", None, 404),
        (M::DELETE, "/api/providers/second", None, 200),
        (M::DELETE, "/api/providers/second", None, 404),
    ] {
        let what = format!("{m} {path}");
        let r = c.call(m, path, body).await;
        c.expect(&what, (r.0, &r.1), want);
    }

    governance(&mut c).await;
    families::cache(&mut c).await;
    families::mcp(&mut c).await;

    // Request logs: one request through the gateway, then its record.
    let r = c
        .client
        .post(format!("{}/v1/chat/completions", c.base))
        .json(&common::user_chat("mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let (_, page) = c.call(M::GET, "/api/logs", None).await;
        if page["total"].as_i64().unwrap_or(0) > 0 || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let id = page["logs"][0]["id"].as_str().expect("a record").to_owned();
    for (path, want) in [
        (format!("/api/logs/{id}"), 200),
        ("/api/logs/not-a-record".to_owned(), 404),
        ("/api/logs?limit=0".to_owned(), 400),
        (
            "/api/logs?provider=mock&sort_by=latency&order=asc".to_owned(),
            200,
        ),
        ("/api/logs/stats".to_owned(), 200),
        ("/api/logs/stats?status=nope".to_owned(), 400),
        ("/api/logs/dropped".to_owned(), 200),
    ] {
        let r = c.call(M::GET, &path, None).await;
        c.expect(&path, (r.0, &r.1), want);
    }
    families::dashboard(&mut c).await;

    // Credentials: the first token turns auth on.
    let (status, created) = c
        .call(
            M::POST,
            "/api/tokens",
            Some(json!({"name": "ci", "scopes": ["admin"]})),
        )
        .await;
    c.expect("POST /api/tokens", (status, &created), 201);
    let admin = created["token"].as_str().unwrap().to_owned();
    let r = c.call(M::GET, "/api/providers", None).await;
    c.expect("no credential once a token exists", (r.0, &r.1), 401);
    c.bearer = Some("hk_not-a-token".to_owned());
    let r = c.call(M::GET, "/api/config", None).await;
    c.expect("unknown token", (r.0, &r.1), 401);
    c.bearer = Some(admin);
    let (_, reader) = c
        .call(
            M::POST,
            "/api/tokens",
            Some(json!({"name": "reader", "scopes": ["config:read"], "expires_at_ms": 4_102_444_800_000_i64})),
        )
        .await;
    let r = c
        .call(
            M::POST,
            "/api/tokens",
            Some(json!({"name": "bad", "scopes": ["root"]})),
        )
        .await;
    c.expect("unknown scope", (r.0, &r.1), 400);
    let r = c
        .call(M::POST, "/api/tokens", Some(json!({"name": "x"})))
        .await;
    c.expect("token without scopes", (r.0, &r.1), 400);
    let r = c.call(M::GET, "/api/tokens", None).await;
    c.expect("GET /api/tokens", (r.0, &r.1), 200);
    let r = c.call(M::GET, "/api/session/is-auth-enabled", None).await;
    c.expect("is-auth-enabled with a token", (r.0, &r.1), 200);
    let admin = c
        .bearer
        .replace(reader["token"].as_str().unwrap().to_owned());
    let r = c.call(M::GET, "/api/config", None).await;
    c.expect("read token reads", (r.0, &r.1), 200);
    let r = c.call(M::POST, "/api/providers", Some(second)).await;
    c.expect("read token writes", (r.0, &r.1), 403);
    let r = c.call(M::GET, "/api/logs", None).await;
    c.expect("read token reads logs", (r.0, &r.1), 403);
    c.bearer = admin;
    let reader_id = reader["info"]["id"].as_str().unwrap().to_owned();
    let r = c
        .call(M::DELETE, &format!("/api/tokens/{reader_id}"), None)
        .await;
    c.expect("DELETE /api/tokens/{id}", (r.0, &r.1), 200);
    let r = c.call(M::DELETE, "/api/tokens/nope", None).await;
    c.expect("DELETE an unknown token", (r.0, &r.1), 404);

    // Admin users and sessions.
    let user = json!({"username": "root", "password": "correct horse battery"});
    let r = c.call(M::POST, "/api/users", Some(user.clone())).await;
    c.expect("POST /api/users", (r.0, &r.1), 201);
    let r = c.call(M::POST, "/api/users", Some(user.clone())).await;
    c.expect("duplicate admin", (r.0, &r.1), 400);
    let r = c
        .call(
            M::POST,
            "/api/users",
            Some(json!({"username": "short", "password": "x"})),
        )
        .await;
    c.expect("short password", (r.0, &r.1), 400);
    c.bearer = None;
    let (_, login) = c
        .call(M::POST, "/api/session/login", Some(user.clone()))
        .await;
    let session = login["token"].as_str().unwrap_or_default().to_owned();
    let r = c
        .call(
            M::POST,
            "/api/session/login",
            Some(json!({"username": "root", "password": "wrong password"})),
        )
        .await;
    c.expect("wrong password", (r.0, &r.1), 401);
    let r = c
        .call(M::POST, "/api/session/login", Some(json!({"username": 1})))
        .await;
    c.expect("bad login body", (r.0, &r.1), 400);
    let cookie = format!("heimdall_session={session}");
    let r = c
        .call_with(M::GET, "/api/config", None, |r| {
            r.header("cookie", cookie.clone())
        })
        .await;
    c.expect("session cookie", (r.0, &r.1), 200);
    let r = c
        .call_with(M::POST, "/api/session/logout", None, |r| {
            r.header("cookie", cookie.clone())
        })
        .await;
    c.expect("logout", (r.0, &r.1), 200);
    let r = c
        .call_with(M::GET, "/api/config", None, |r| r.header("cookie", cookie))
        .await;
    c.expect("ended session", (r.0, &r.1), 401);

    // Every described operation was exercised with a success.
    let mut unexercised = Vec::new();
    for (template, item) in c.doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let ok = c
                .seen
                .get(&(method.clone(), template.clone()))
                .is_some_and(|s| s.iter().any(|st| (200..300).contains(st)));
            if !ok {
                unexercised.push(format!("{method} {template}"));
            }
        }
    }
    assert!(
        unexercised.is_empty(),
        "operations never answered with a success here: {unexercised:?}"
    );
    assert!(
        c.failures.is_empty(),
        "{} mismatch(es) with /api/openapi.json:\n\n{}",
        c.failures.len(),
        c.failures.join("\n\n")
    );
}
