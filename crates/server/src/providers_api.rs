//! Providers and their keys on Bifrost's management paths: `/api/providers[/{provider}]`,
//! `/api/providers/{provider}/keys[/{key_id}]`, `/api/keys`, `/api/models`,
//! `/api/proxy-config`. Each write is an edit of the versioned configuration document (so it
//! is validated, diffed, stored and hot-applied like any other change); each answer is
//! redacted.
//!
//! Why a key's id is its `name`: names are unique within a provider, appear in logs and
//! metrics, and survive export and re-import; a generated id would not.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use heimdall_control::{ChangeError, document};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::config_api::{actor, applied, body, control, dry_run};
use crate::state::AppState;

use crate::governance_api::{Params, Who};

pub(crate) fn path_of<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// The providers of a document, as the native layout has them (a file in the `bifrost.yaml`
/// layout lists them).
fn providers_of(doc: &Value) -> Map<String, Value> {
    document::to_native(doc)
        .get("providers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn providers_mut(doc: &mut Value) -> Result<&mut Map<String, Value>, ChangeError> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| ChangeError::Refused("the configuration is not an object".to_owned()))?;
    obj.entry("providers")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ChangeError::Refused("`providers` is not an object".to_owned()))
}

/// A provider as the API shows it: its document entry (redacted), its name, and its state.
fn shown(state: &AppState, name: &str, entry: &Value) -> Value {
    let mut v = document::redacted(entry);
    if let Some(o) = v.as_object_mut() {
        o.insert("name".into(), json!(name));
        o.insert("provider".into(), json!(name));
        if let Some(keys) = o.get_mut("keys").and_then(Value::as_array_mut) {
            for (i, k) in keys.iter_mut().enumerate() {
                key_id(k, name, i);
            }
        }
        let rt = state.gateway.runtime();
        let status = if rt.providers.contains_key(name) {
            json!("active")
        } else if rt.unavailable.contains_key(name) {
            json!("unavailable")
        } else {
            json!("pending")
        };
        o.insert("status".into(), status);
        if let Some(reason) = rt.unavailable.get(name) {
            o.insert("unavailable_reason".into(), json!(reason));
        }
    }
    v
}

/// Give a shown key its id (its name, or the name the loader gives it) and its `enabled`
/// flag (true unless the configuration turns it off).
fn key_id(key: &mut Value, provider: &str, index: usize) {
    let name = key
        .get("name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("{provider}-key-{index}"), str::to_owned);
    if let Some(o) = key.as_object_mut() {
        o.insert("id".into(), json!(name));
        o.insert("name".into(), json!(name));
        o.entry("enabled").or_insert(json!(true));
    }
}

/// A key sent back as shown carries `enabled: true` where the stored one has no flag: left
/// out again, so that a round trip through the API changes nothing in the document.
fn drop_shown_default(key: &mut Value, stored: Option<&Value>) {
    let stored_has_flag = stored.is_some_and(|s| s.get("enabled").is_some());
    if let Some(o) = key.as_object_mut()
        && !stored_has_flag
        && o.get("enabled") == Some(&Value::Bool(true))
    {
        o.remove("enabled");
    }
}

/// [`drop_shown_default`] for each key of a provider entry, matched to the stored keys by name.
fn drop_shown_defaults(entry: &mut Value, stored: &Value, provider: &str) {
    let stored_keys = stored
        .get("keys")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if let Some(keys) = entry.get_mut("keys").and_then(Value::as_array_mut) {
        for k in keys {
            let name = k.get("name").and_then(Value::as_str).unwrap_or_default();
            let old = key_index(stored_keys, provider, name).and_then(|i| stored_keys.get(i));
            drop_shown_default(k, old);
        }
    }
}

/// The provider object of a request body: Bifrost's `{"provider": name, …}` (or `name`).
fn provider_body(mut v: Value, name_from_path: Option<&str>) -> Result<(String, Value), ApiError> {
    let obj = v
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the provider must be a JSON object"))?;
    let named = obj
        .remove("provider")
        .or_else(|| obj.remove("name"))
        .and_then(|n| n.as_str().map(str::to_owned));
    for shown_only in ["status", "unavailable_reason"] {
        obj.remove(shown_only);
    }
    if let Some(keys) = obj.get_mut("keys").and_then(Value::as_array_mut) {
        for k in keys {
            if let Some(o) = k.as_object_mut() {
                id_to_name(o);
            }
        }
    }
    let name = match (name_from_path, named) {
        (Some(p), Some(n)) if p != n => {
            return Err(ApiError::bad_request(format!(
                "the body names provider '{n}' but the path names '{p}'"
            ))
            .with_param("provider"));
        }
        (Some(p), _) => p.to_owned(),
        (None, Some(n)) => n,
        (None, None) => {
            return Err(
                ApiError::bad_request("`provider` (the provider's name) is required")
                    .with_param("provider"),
            );
        }
    };
    if name.is_empty() || name.contains('/') {
        return Err(ApiError::bad_request(format!(
            "'{name}' is not a provider name (non-empty, no '/')"
        ))
        .with_param("provider"));
    }
    Ok((name, v))
}

/// A key's `id` (as shown) is its name: kept as the name when none is given, never stored.
fn id_to_name(key: &mut Map<String, Value>) {
    if let Some(id) = key.remove("id")
        && !key.contains_key("name")
    {
        key.insert("name".into(), id);
    }
}

/// `GET /api/providers`
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let providers: Vec<Value> = providers_of(&c.config.current().document)
        .iter()
        .map(|(n, p)| shown(&state, n, p))
        .collect();
    Ok(Json(json!({"total": providers.len(), "providers": providers})).into_response())
}

/// `GET /api/providers/{provider}`
pub async fn get(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let name = path_of(name)?;
    let providers = providers_of(&c.config.current().document);
    let p = providers
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("no provider '{name}'")))?;
    Ok(Json(shown(&state, &name, p)).into_response())
}

/// `POST /api/providers`: add a provider (409 when it exists).
pub async fn create(
    State(state): State<AppState>,
    who: Who,
    params: Params,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let (name, entry) = provider_body(body(payload)?, None)?;
    let n = name.clone();
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            let providers = providers_mut(doc)?;
            if providers.contains_key(&n) {
                return Err(ChangeError::Exists(format!(
                    "provider '{n}' exists; PUT /api/providers/{n} changes it"
                )));
            }
            providers.insert(n, entry);
            Ok(())
        })
        .await?;
    provider_answer(&state, &name, &a)
}

fn provider_answer(
    state: &AppState,
    name: &str,
    a: &heimdall_control::Applied,
) -> Result<Response, ApiError> {
    let c = control(state)?;
    let doc = if a.dry_run {
        Value::Null
    } else {
        providers_of(&c.config.current().document)
            .get(name)
            .map_or(Value::Null, |p| shown(state, name, p))
    };
    Ok(applied(a, json!({"provider": doc})))
}

/// `PUT /api/providers/{provider}`: replace the provider (redacted secrets sent back keep
/// their stored values).
pub async fn update(
    State(state): State<AppState>,
    who: Who,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let name = path_of(name)?;
    let (name, mut entry) = provider_body(body(payload)?, Some(&name))?;
    let n = name.clone();
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            let providers = providers_mut(doc)?;
            let current = providers
                .get(&n)
                .ok_or_else(|| ChangeError::NotFound(format!("no provider '{n}'")))?;
            document::restore_redacted(&mut entry, current).map_err(|m| {
                ChangeError::Invalid(heimdall_config::ConfigError::one(
                    format!("providers.{n}"),
                    m,
                ))
            })?;
            drop_shown_defaults(&mut entry, current, &n);
            providers.insert(n, entry);
            Ok(())
        })
        .await?;
    provider_answer(&state, &name, &a)
}

/// `DELETE /api/providers/{provider}`
pub async fn delete(
    State(state): State<AppState>,
    who: Who,
    name: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let name = path_of(name)?;
    let n = name.clone();
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            providers_mut(doc)?
                .remove(&n)
                .map(|_| ())
                .ok_or_else(|| ChangeError::NotFound(format!("no provider '{n}'")))
        })
        .await?;
    Ok(applied(&a, json!({"deleted": name})))
}

fn keys_of(doc: &Value, provider: &str) -> Result<Vec<Value>, ApiError> {
    let p = providers_of(doc);
    let entry = p
        .get(provider)
        .ok_or_else(|| ApiError::not_found(format!("no provider '{provider}'")))?;
    Ok(entry
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

fn shown_keys(provider: &str, keys: &[Value]) -> Vec<Value> {
    // Redacted as a `keys` list: a key's `value` is a secret by its place in one.
    let redacted = document::redacted(&json!({ "keys": keys }));
    let keys = redacted["keys"].as_array().cloned().unwrap_or_default();
    keys.into_iter()
        .enumerate()
        .map(|(i, mut k)| {
            key_id(&mut k, provider, i);
            if let Some(o) = k.as_object_mut() {
                o.insert("provider".into(), json!(provider));
            }
            k
        })
        .collect()
}

/// The index of key `id` (its name, or its loader-given name) among `keys`.
fn key_index(keys: &[Value], provider: &str, id: &str) -> Option<usize> {
    keys.iter().enumerate().position(|(i, k)| {
        k.get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("{provider}-key-{i}") == id, |n| n == id)
    })
}

/// `GET /api/providers/{provider}/keys`
pub async fn list_keys(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let name = path_of(name)?;
    let keys = shown_keys(&name, &keys_of(&c.config.current().document, &name)?);
    Ok(Json(json!({"total": keys.len(), "keys": keys})).into_response())
}

/// `GET /api/providers/{provider}/keys/{key_id}`
pub async fn get_key(
    State(state): State<AppState>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let (provider, id) = path_of(ids)?;
    let keys = keys_of(&c.config.current().document, &provider)?;
    let i = key_index(&keys, &provider, &id)
        .ok_or_else(|| ApiError::not_found(format!("provider '{provider}' has no key '{id}'")))?;
    Ok(Json(shown_keys(&provider, &keys).swap_remove(i)).into_response())
}

fn keys_mut<'a>(doc: &'a mut Value, provider: &str) -> Result<&'a mut Vec<Value>, ChangeError> {
    let entry = providers_mut(doc)?
        .get_mut(provider)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ChangeError::NotFound(format!("no provider '{provider}'")))?;
    entry
        .entry("keys")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| ChangeError::Refused(format!("providers.{provider}.keys is not a list")))
}

fn key_body(v: Value) -> Result<Value, ApiError> {
    let mut v = v;
    let o = v
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the key must be a JSON object"))?;
    id_to_name(o);
    o.remove("provider");
    Ok(v)
}

/// `POST /api/providers/{provider}/keys`: add a key (named `<provider>-key-<n>` unless named).
pub async fn create_key(
    State(state): State<AppState>,
    who: Who,
    name: Result<Path<String>, PathRejection>,
    params: Params,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let provider = path_of(name)?;
    let mut key = key_body(body(payload)?)?;
    let p = provider.clone();
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            let keys = keys_mut(doc, &p)?;
            let name = match key.get("name").and_then(Value::as_str) {
                Some(n) => n.to_owned(),
                None => (keys.len()..)
                    .map(|i| format!("{p}-key-{i}"))
                    .find(|n| key_index(keys, &p, n).is_none())
                    .unwrap_or_default(),
            };
            if key_index(keys, &p, &name).is_some() {
                return Err(ChangeError::Exists(format!(
                    "provider '{p}' has a key '{name}'"
                )));
            }
            key["name"] = json!(name);
            keys.push(key);
            Ok(())
        })
        .await?;
    Ok(applied(&a, json!({"provider": provider})))
}

/// `PUT /api/providers/{provider}/keys/{key_id}`: replace a key (a redacted value sent back
/// keeps the stored one).
pub async fn update_key(
    State(state): State<AppState>,
    who: Who,
    ids: Result<Path<(String, String)>, PathRejection>,
    params: Params,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let (provider, id) = path_of(ids)?;
    let mut key = key_body(body(payload)?)?;
    let (p, k) = (provider.clone(), id.clone());
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            let keys = keys_mut(doc, &p)?;
            let i = key_index(keys, &p, &k)
                .ok_or_else(|| ChangeError::NotFound(format!("provider '{p}' has no key '{k}'")))?;
            if key.get("name").is_none() {
                key["name"] = json!(k);
            }
            document::restore_redacted(&mut key, &keys[i]).map_err(|m| {
                ChangeError::Invalid(heimdall_config::ConfigError::one(
                    format!("providers.{p}.keys[{i}]"),
                    m,
                ))
            })?;
            drop_shown_default(&mut key, keys.get(i));
            keys[i] = key;
            Ok(())
        })
        .await?;
    Ok(applied(&a, json!({"provider": provider, "key_id": id})))
}

/// `DELETE /api/providers/{provider}/keys/{key_id}`
pub async fn delete_key(
    State(state): State<AppState>,
    who: Who,
    ids: Result<Path<(String, String)>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let (provider, id) = path_of(ids)?;
    let (p, k) = (provider.clone(), id.clone());
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, move |doc| {
            let keys = keys_mut(doc, &p)?;
            let i = key_index(keys, &p, &k)
                .ok_or_else(|| ChangeError::NotFound(format!("provider '{p}' has no key '{k}'")))?;
            keys.remove(i);
            Ok(())
        })
        .await?;
    Ok(applied(&a, json!({"deleted": id})))
}

/// `GET /api/keys`: every provider's keys (redacted).
pub async fn all_keys(State(state): State<AppState>) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let doc = c.config.current().document.clone();
    let keys: Vec<Value> = providers_of(&doc)
        .iter()
        .flat_map(|(name, p)| {
            let keys = p
                .get("keys")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            shown_keys(name, &keys)
        })
        .collect();
    Ok(Json(json!({"total": keys.len(), "keys": keys})).into_response())
}

/// `GET /api/models[?provider=]`: the models each servable provider declares (in `models` or
/// a key's list), as `provider/model`.
pub async fn models(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let only = p.get("provider");
    let rt = state.gateway.runtime();
    let mut models = Vec::new();
    for (name, pc) in &rt.routable {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let mut declared: Vec<&String> = pc
            .models
            .iter()
            .chain(pc.keys.iter().flat_map(|k| k.models.iter()))
            .collect();
        declared.sort();
        declared.dedup();
        for m in declared {
            models.push(
                json!({"id": format!("{name}/{m}"), "provider": name, "model": m,
                "kind": pc.kind.as_str()}),
            );
        }
    }
    Ok(Json(json!({"total": models.len(), "models": models})).into_response())
}

/// `GET /api/proxy-config`: the outbound proxy of each provider that has one (redacted).
pub async fn proxy_config(State(state): State<AppState>) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let proxies: Map<String, Value> = providers_of(&c.config.current().document)
        .iter()
        .filter_map(|(n, p)| {
            p.get("proxy_config")
                .map(|x| (n.clone(), document::redacted(x)))
        })
        .collect();
    Ok(Json(json!({"enabled": !proxies.is_empty(), "providers": proxies})).into_response())
}
