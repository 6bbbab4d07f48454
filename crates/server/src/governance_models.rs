//! `/api/governance/model-configs[/{id}]`: budgets and rate limits of a model (on every
//! provider or one) or of a whole provider, across every key — `governance.model_configs`.
//!
//! Why an id made of the entry itself (`{provider or *}/{model_name or *}`, URL-encoded in the
//! path): a model config has no id field and at most one entry per provider and model makes
//! sense, so the pair names it, stably across export and re-import, where an index would
//! shift with every deletion.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use heimdall_control::ChangeError;
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::config_api::{body, dry_run};
use crate::governance_api::{
    IdPath, Params, Payload, Who, current, edit, list_mut, object, path_id, write_answer,
};
use crate::governance_bodies::{Shared, merge, strip_shown};
use crate::governance_views::model_config_id;
use crate::state::AppState;

/// `(provider, model_name)` of an id; `*` is "any".
fn parse_id(id: &str) -> Result<(Option<String>, Option<String>), ApiError> {
    let (p, m) = id.split_once('/').ok_or_else(|| {
        ApiError::bad_request(format!(
            "'{id}' is not a model config id: '{{provider or *}}/{{model_name or *}}', URL-encoded"
        ))
        .with_param("id")
    })?;
    let part = |s: &str| (s != "*" && !s.is_empty()).then(|| s.to_owned());
    Ok((part(p), part(m)))
}

fn field(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn key_of(v: &Value) -> (Option<String>, Option<String>) {
    (field(v, "provider"), field(v, "model_name"))
}

fn position(list: &[Value], key: &(Option<String>, Option<String>)) -> Option<usize> {
    list.iter().position(|v| key_of(v) == *key)
}

fn id_of(key: &(Option<String>, Option<String>)) -> String {
    model_config_id(key.0.as_deref(), key.1.as_deref())
}

fn exists(key: &(Option<String>, Option<String>)) -> ChangeError {
    ChangeError::Exists(format!(
        "a model config for '{}' exists; PUT /api/governance/model-configs/{{id}} changes it",
        id_of(key)
    ))
}

async fn shown(
    edited: &crate::governance_api::Edited,
    key: &(Option<String>, Option<String>),
) -> Value {
    let s = &edited.shown;
    match s
        .config()
        .model_configs
        .iter()
        .find(|m| m.provider == key.0 && m.model_name == key.1)
    {
        Some(m) => s.model_config(m).await,
        None => Value::Null,
    }
}

/// `GET /api/governance/model-configs`
pub async fn list_model_configs(State(state): State<AppState>) -> Result<Response, ApiError> {
    let s = current(&state)?;
    let mut all = Vec::new();
    for m in &s.config().model_configs {
        all.push(s.model_config(m).await);
    }
    Ok(Json(json!({"model_configs": all, "count": all.len()})).into_response())
}

/// `GET /api/governance/model-configs/{id}`
pub async fn get_model_config(
    State(state): State<AppState>,
    id: IdPath,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let (provider, model) = parse_id(&id)?;
    let s = current(&state)?;
    let m = s
        .config()
        .model_configs
        .iter()
        .find(|m| m.provider == provider && m.model_name == model)
        .ok_or_else(|| ApiError::not_found(format!("no model config '{id}'")))?;
    Ok(Json(json!({"model_config": s.model_config(m).await})).into_response())
}

/// `POST /api/governance/model-configs` (201): the body is a model config.
pub async fn create_model_config(
    State(state): State<AppState>,
    who: Who,
    params: Params,
    payload: Payload,
) -> Result<Response, ApiError> {
    let dry = dry_run(params)?;
    let mut o = object(body(payload)?, "model config")?;
    strip_shown(&mut o);
    o.remove("id");
    o.retain(|_, v| !v.is_null());
    let entry = Value::Object(o);
    let key = key_of(&entry);
    let k = key.clone();
    let edited = edit(&state, &who, dry, move |g| {
        let list = list_mut(g, "model_configs")?;
        if position(list, &k).is_some() {
            return Err(exists(&k));
        }
        list.push(entry);
        Ok(())
    })
    .await?;
    let m = shown(&edited, &key).await;
    Ok(write_answer(
        &edited.applied,
        StatusCode::CREATED,
        format!("model config '{}' created", id_of(&key)),
        json!({"model_config": m}),
    ))
}

/// `PUT /api/governance/model-configs/{id}`: a partial update (it may change the provider or
/// model, and with them the id).
pub async fn update_model_config(
    State(state): State<AppState>,
    who: Who,
    id: IdPath,
    params: Params,
    payload: Payload,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let old = parse_id(&id)?;
    let dry = dry_run(params)?;
    let mut o = object(body(payload)?, "model config")?;
    strip_shown(&mut o);
    o.remove("id");
    let mut new_key = None;
    let edited = edit(&state, &who, dry, |g| {
        let shared = Shared::of(g);
        let list = list_mut(g, "model_configs")?;
        let n = position(list, &old)
            .ok_or_else(|| ChangeError::NotFound(format!("no model config '{id}'")))?;
        let mut stored: Map<String, Value> = list[n].as_object().cloned().unwrap_or_default();
        merge(&mut stored, o, &shared);
        let entry = Value::Object(stored);
        let key = key_of(&entry);
        if list
            .iter()
            .enumerate()
            .any(|(j, v)| j != n && key_of(v) == key)
        {
            return Err(exists(&key));
        }
        list[n] = entry;
        new_key = Some(key);
        Ok(())
    })
    .await?;
    let key = new_key.unwrap_or(old);
    let m = shown(&edited, &key).await;
    Ok(write_answer(
        &edited.applied,
        StatusCode::OK,
        format!("model config '{}' updated", id_of(&key)),
        json!({"model_config": m}),
    ))
}

/// `DELETE /api/governance/model-configs/{id}`
pub async fn delete_model_config(
    State(state): State<AppState>,
    who: Who,
    id: IdPath,
    params: Params,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let key = parse_id(&id)?;
    let dry = dry_run(params)?;
    let edited = edit(&state, &who, dry, |g| {
        let list = list_mut(g, "model_configs")?;
        let n = position(list, &key)
            .ok_or_else(|| ChangeError::NotFound(format!("no model config '{id}'")))?;
        list.remove(n);
        Ok(())
    })
    .await?;
    Ok(write_answer(
        &edited.applied,
        StatusCode::OK,
        format!("model config '{id}' deleted"),
        json!({}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_provider_and_model_with_a_star_for_any() {
        assert_eq!(
            parse_id("openai/gpt-4o").unwrap(),
            (Some("openai".into()), Some("gpt-4o".into()))
        );
        assert_eq!(parse_id("*/gpt-4o").unwrap(), (None, Some("gpt-4o".into())));
        assert_eq!(parse_id("openai/*").unwrap(), (Some("openai".into()), None));
        assert_eq!(
            parse_id("vertex/publishers/x").unwrap(),
            (Some("vertex".into()), Some("publishers/x".into()))
        );
        assert!(parse_id("gpt-4o").is_err());
        assert_eq!(id_of(&(None, Some("m".into()))), "*/m");
    }
}
