//! Bifrost's governance management API on `/api/governance/*`: virtual keys, teams and
//! customers (list, get, create, partial update, delete), a key's rotation, the budgets and
//! rate limits in effect, and a key's own quota. Every write is an edit of the `governance`
//! section of the versioned configuration document — validated (field paths in 400s),
//! versioned, hot-applied, `?dry_run=true` supported, refused in file mode — like any change.
//!
//! Why through the document rather than a table of its own: governance is configuration a
//! file may also hold; one source keeps export, rollback and replicas consistent. A virtual
//! key's value is generated here and only its `sha256:` hash is ever stored: the value is
//! shown once, in the answer that created (or rotated) it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use heimdall_control::{Applied, ChangeError, Principal};
use heimdall_governance::Governance;
use heimdall_governance::policy::{hash_key, hash_text};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::config_api::{actor, applied, body, control, dry_run};
use crate::governance_bodies::{
    Shared, key_value, merge, new_key_value, stored_hash, strip_shown, take_id,
};
use crate::governance_views::{Entity, Shown};
use crate::state::AppState;

pub(crate) type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;
pub(crate) type Who = Option<axum::Extension<Principal>>;
pub(crate) type Payload = Result<Json<Value>, JsonRejection>;
pub(crate) type IdPath = Result<Path<String>, PathRejection>;

/// Governance, or a 503 saying it is not wired.
pub(crate) fn governance(state: &AppState) -> Result<&Arc<Governance>, ApiError> {
    state.governance.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "governance_unavailable",
            "governance is not enabled in this gateway",
        )
    })
}

pub(crate) fn path_id(p: IdPath) -> Result<String, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// The current `governance` section, shown with live usage.
pub(crate) fn current(state: &AppState) -> Result<Shown, ApiError> {
    let g = governance(state)?;
    let c = control(state)?;
    let section = c
        .config
        .current()
        .document
        .get("governance")
        .cloned()
        .unwrap_or_else(|| json!({}));
    Ok(Shown::new(section, Some(g)))
}

/// A change applied (or tried) and the `governance` section it left.
pub(crate) struct Edited {
    pub(crate) applied: Applied,
    pub(crate) shown: Shown,
}

/// Edit the `governance` section of the document as `f` says.
pub(crate) async fn edit(
    state: &AppState,
    who: &Who,
    dry: bool,
    f: impl FnOnce(&mut Map<String, Value>) -> Result<(), ChangeError> + Send,
) -> Result<Edited, ApiError> {
    let g = governance(state)?;
    let c = control(state)?;
    let mut after = Value::Null;
    let a = c
        .config
        .edit(&actor(who.as_ref()), dry, |doc| {
            let section = governance_mut(doc)?;
            f(section)?;
            after = Value::Object(section.clone());
            Ok(())
        })
        .await?;
    // A dry run changed nothing enforcement counts: its answer has no usage.
    let live = (!a.dry_run).then_some(g);
    Ok(Edited {
        shown: Shown::new(after, live),
        applied: a,
    })
}

fn governance_mut(doc: &mut Value) -> Result<&mut Map<String, Value>, ChangeError> {
    doc.as_object_mut()
        .ok_or_else(|| ChangeError::Refused("the configuration is not an object".to_owned()))?
        .entry("governance")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ChangeError::Refused("`governance` is not an object".to_owned()))
}

/// The array `name` of the section (created when absent).
pub(crate) fn list_mut<'a>(
    section: &'a mut Map<String, Value>,
    name: &str,
) -> Result<&'a mut Vec<Value>, ChangeError> {
    section
        .entry(name)
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| ChangeError::Refused(format!("governance.{name} is not a list")))
}

fn index_of(list: &[Value], id: &str) -> Option<usize> {
    list.iter().position(|v| v["id"] == id)
}

/// The answer to a write: the change (version, diff, …), a message, and `extra`.
pub(crate) fn write_answer(
    a: &Applied,
    status: StatusCode,
    message: String,
    extra: Value,
) -> Response {
    let message = if a.dry_run {
        format!("dry run, nothing applied: {message}")
    } else {
        message
    };
    let mut out = json!({ "message": message });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    let mut r = applied(a, out);
    if !a.dry_run {
        *r.status_mut() = status;
    }
    r
}

/// A JSON object body.
pub(crate) fn object(v: Value, what: &str) -> Result<Map<String, Value>, ApiError> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::bad_request(format!(
            "the {what} must be a JSON object"
        ))),
    }
}

async fn shown_entity(edited: &Edited, e: Entity, id: &str) -> Value {
    edited.shown.entity(e, id).await.unwrap_or(Value::Null)
}

async fn list(state: &AppState, e: Entity) -> Result<Response, ApiError> {
    let all = current(state)?.all(e).await;
    Ok(Json(json!({ e.section(): all, "count": all.len() })).into_response())
}

async fn get_one(state: &AppState, e: Entity, id: IdPath) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let shown = current(state)?
        .entity(e, &id)
        .await
        .ok_or_else(|| ApiError::not_found(format!("no {} '{id}'", e.label())))?;
    Ok(Json(json!({ e.one(): shown })).into_response())
}

async fn create(
    state: &AppState,
    who: Who,
    params: Params,
    payload: Payload,
    e: Entity,
) -> Result<Response, ApiError> {
    let dry = dry_run(params)?;
    let mut o = object(body(payload)?, e.label())?;
    strip_shown(&mut o);
    let id = take_id(&mut o, e)?;
    let secret = if e == Entity::VirtualKey {
        key_value(&mut o)?
    } else {
        None
    };
    o.insert("id".into(), json!(id));
    let new_hash = o.get("value_hash").cloned();
    let i = id.clone();
    let edited = edit(state, &who, dry, move |g| {
        let list = list_mut(g, e.section())?;
        if index_of(list, &i).is_some() {
            return Err(ChangeError::Exists(format!(
                "{} '{i}' exists; PUT {}/{i} changes it",
                e.label(),
                e.path()
            )));
        }
        if let Some(h) = new_hash.as_ref().and_then(Value::as_str)
            && list.iter().any(|v| stored_hash(v).as_deref() == Some(h))
        {
            return Err(ChangeError::Exists(
                "another virtual key has this value".to_owned(),
            ));
        }
        list.push(Value::Object(o));
        Ok(())
    })
    .await?;
    let mut shown = shown_entity(&edited, e, &id).await;
    if let (Some(v), false, Some(s)) = (secret, edited.applied.dry_run, shown.as_object_mut()) {
        // Shown this once: only its hash is stored.
        s.insert("value".into(), json!(v));
    }
    Ok(write_answer(
        &edited.applied,
        StatusCode::CREATED,
        format!("{} '{id}' created", e.label()),
        json!({ e.one(): shown }),
    ))
}

async fn update(
    state: &AppState,
    who: Who,
    id: IdPath,
    params: Params,
    payload: Payload,
    e: Entity,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let dry = dry_run(params)?;
    let mut o = object(body(payload)?, e.label())?;
    strip_shown(&mut o);
    if o.remove("id").is_some_and(|v| v != id.as_str()) {
        return Err(ApiError::bad_request(format!(
            "the body names another id than the path's '{id}'"
        ))
        .with_param("id"));
    }
    if e == Entity::VirtualKey
        && let Some(f) = ["value", "value_hash"]
            .into_iter()
            .find(|f| o.contains_key(*f))
    {
        return Err(ApiError::bad_request(format!(
            "a virtual key's {f} is not changed by an update: POST {}/{id}/rotate gives it a new value",
            e.path()
        ))
        .with_param(f));
    }
    if e == Entity::VirtualKey {
        // A key moved to a team leaves its customer, and the other way round (as in Bifrost).
        for (set, other) in [("team_id", "customer_id"), ("customer_id", "team_id")] {
            if o.get(set).is_some_and(|v| !v.is_null()) && !o.contains_key(other) {
                o.insert(other.to_owned(), Value::Null);
            }
        }
    }
    let i = id.clone();
    let edited = edit(state, &who, dry, move |g| {
        let shared = Shared::of(g);
        let list = list_mut(g, e.section())?;
        let n = index_of(list, &i)
            .ok_or_else(|| ChangeError::NotFound(format!("no {} '{i}'", e.label())))?;
        let stored = list[n].as_object_mut().ok_or_else(|| {
            ChangeError::Refused(format!("governance.{}[{n}] is not an object", e.section()))
        })?;
        merge(stored, o, &shared);
        Ok(())
    })
    .await?;
    let shown = shown_entity(&edited, e, &id).await;
    Ok(write_answer(
        &edited.applied,
        StatusCode::OK,
        format!("{} '{id}' updated", e.label()),
        json!({ e.one(): shown }),
    ))
}

/// What still belongs to team or customer `id` (it cannot be deleted before them).
fn dependents(g: &Map<String, Value>, e: Entity, id: &str) -> Vec<String> {
    let under = |section: &str, field: &str, label: &str| -> Vec<String> {
        g.get(section)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v[field] == id)
            .map(|v| format!("{label} '{}'", v["id"].as_str().unwrap_or_default()))
            .collect()
    };
    match e {
        Entity::VirtualKey => Vec::new(),
        Entity::Team => under("virtual_keys", "team_id", "virtual key"),
        Entity::Customer => {
            let mut d = under("teams", "customer_id", "team");
            d.extend(under("virtual_keys", "customer_id", "virtual key"));
            d
        }
    }
}

async fn delete(
    state: &AppState,
    who: Who,
    id: IdPath,
    params: Params,
    e: Entity,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let dry = dry_run(params)?;
    let mut in_use = None;
    let i = id.clone();
    let result = edit(state, &who, dry, |g| {
        let d = dependents(g, e, &i);
        if !d.is_empty() {
            let m = format!(
                "{} '{i}' still has {}; delete or move them first",
                e.label(),
                d.join(", ")
            );
            in_use = Some(m.clone());
            return Err(ChangeError::Refused(m));
        }
        let list = list_mut(g, e.section())?;
        let n = index_of(list, &i)
            .ok_or_else(|| ChangeError::NotFound(format!("no {} '{i}'", e.label())))?;
        list.remove(n);
        Ok(())
    })
    .await;
    if let Some(m) = in_use {
        return Err(ApiError::new(StatusCode::CONFLICT, "in_use", m));
    }
    let edited = result?;
    Ok(write_answer(
        &edited.applied,
        StatusCode::OK,
        format!("{} '{id}' deleted", e.label()),
        json!({}),
    ))
}

/// `POST /api/governance/virtual-keys/{vk_id}/rotate`: a new value (shown this once); the old
/// one stops working as the change applies.
pub async fn rotate_virtual_key(
    State(state): State<AppState>,
    who: Who,
    id: IdPath,
    params: Params,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let dry = dry_run(params)?;
    let value = new_key_value();
    let hash = hash_text(&value);
    let i = id.clone();
    let edited = edit(&state, &who, dry, move |g| {
        let list = list_mut(g, "virtual_keys")?;
        let n = index_of(list, &i)
            .ok_or_else(|| ChangeError::NotFound(format!("no virtual key '{i}'")))?;
        let stored = list[n].as_object_mut().ok_or_else(|| {
            ChangeError::Refused(format!("governance.virtual_keys[{n}] is not an object"))
        })?;
        stored.remove("value");
        stored.insert("value_hash".into(), json!(hash));
        Ok(())
    })
    .await?;
    let mut shown = shown_entity(&edited, Entity::VirtualKey, &id).await;
    if let (false, Some(s)) = (edited.applied.dry_run, shown.as_object_mut()) {
        s.insert("value".into(), json!(value));
    }
    Ok(write_answer(
        &edited.applied,
        StatusCode::OK,
        format!("virtual key '{id}' rotated: its previous value no longer works"),
        json!({ "virtual_key": shown }),
    ))
}

/// `GET /api/governance/virtual-keys/quota`: the calling key's own budget and rate limit
/// (and those of its provider configs) with their usage; the key authenticates itself.
pub async fn virtual_key_quota(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let g = governance(&state)?;
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", m);
    let credential = crate::client_policy::credential(&headers)
        .and_then(|c| std::str::from_utf8(c).ok())
        .ok_or_else(|| {
            unauthorized("send the virtual key (x-bf-vk, Authorization: Bearer, or x-api-key)")
        })?;
    let policy = g.policy();
    let key = policy
        .keys
        .get(&hash_key(credential))
        .ok_or_else(|| unauthorized("unknown virtual key"))?;
    let own = match key.levels.first() {
        Some(l) => g.level_usage(l).await,
        None => Default::default(),
    };
    let mut providers = Vec::new();
    for r in &key.providers {
        let u = g.level_usage(&r.level).await;
        providers
            .push(json!({"provider": r.provider, "budget": u.budget, "rate_limit": u.rate_limit}));
    }
    Ok(Json(json!({
        "virtual_key_id": key.id,
        "name": key.name,
        "is_active": key.active,
        "team_id": key.team_id,
        "customer_id": key.customer_id,
        "budget": own.budget,
        "rate_limit": own.rate_limit,
        "provider_configs": providers,
    }))
    .into_response())
}

/// `GET /api/governance/budgets`: every budget in effect with its usage.
pub async fn list_budgets(State(state): State<AppState>) -> Result<Response, ApiError> {
    let all = current(&state)?.budgets().await;
    Ok(Json(json!({"budgets": all, "count": all.len()})).into_response())
}

/// `GET /api/governance/rate-limits`: every rate limit in effect with its usage.
pub async fn list_rate_limits(State(state): State<AppState>) -> Result<Response, ApiError> {
    let all = current(&state)?.rate_limits().await;
    Ok(Json(json!({"rate_limits": all, "count": all.len()})).into_response())
}

macro_rules! entity_routes {
    ($e:expr, $list:ident, $get:ident, $create:ident, $update:ident, $delete:ident, $name:literal) => {
        #[doc = concat!("`GET /api/governance/", $name, "`")]
        pub async fn $list(State(state): State<AppState>) -> Result<Response, ApiError> {
            list(&state, $e).await
        }
        #[doc = concat!("`GET /api/governance/", $name, "/{id}`")]
        pub async fn $get(State(state): State<AppState>, id: IdPath) -> Result<Response, ApiError> {
            get_one(&state, $e, id).await
        }
        #[doc = concat!("`POST /api/governance/", $name, "` (201)")]
        pub async fn $create(
            State(state): State<AppState>,
            who: Who,
            params: Params,
            payload: Payload,
        ) -> Result<Response, ApiError> {
            create(&state, who, params, payload, $e).await
        }
        #[doc = concat!("`PUT /api/governance/", $name, "/{id}` (a partial update)")]
        pub async fn $update(
            State(state): State<AppState>,
            who: Who,
            id: IdPath,
            params: Params,
            payload: Payload,
        ) -> Result<Response, ApiError> {
            update(&state, who, id, params, payload, $e).await
        }
        #[doc = concat!("`DELETE /api/governance/", $name, "/{id}`")]
        pub async fn $delete(
            State(state): State<AppState>,
            who: Who,
            id: IdPath,
            params: Params,
        ) -> Result<Response, ApiError> {
            delete(&state, who, id, params, $e).await
        }
    };
}

entity_routes!(
    Entity::VirtualKey,
    list_virtual_keys,
    get_virtual_key,
    create_virtual_key,
    update_virtual_key,
    delete_virtual_key,
    "virtual-keys"
);
entity_routes!(
    Entity::Team,
    list_teams,
    get_team,
    create_team,
    update_team,
    delete_team,
    "teams"
);
entity_routes!(
    Entity::Customer,
    list_customers,
    get_customer,
    create_customer,
    update_customer,
    delete_customer,
    "customers"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_team_with_keys_names_them() {
        let g = map(
            json!({"virtual_keys": [{"id": "k1", "team_id": "t"}, {"id": "k2"}],
            "teams": [{"id": "t", "customer_id": "c"}]}),
        );
        assert_eq!(dependents(&g, Entity::Team, "t"), ["virtual key 'k1'"]);
        assert_eq!(dependents(&g, Entity::Customer, "c"), ["team 't'"]);
        assert!(dependents(&g, Entity::Team, "u").is_empty());
    }
}
