//! Tool injection: every chat request (any client dialect, and the Responses API, which runs
//! through the chat pipeline) is offered the connected MCP servers' tools the caller may use,
//! as functions named `<client>-<tool>`.
//!
//! Why a plugin: it must run after governance (which tells which virtual key is calling) and
//! before the cache (the tools offered are part of what decides the answer, so part of the
//! cache key). A request that arrived in a provider's own dialect and goes to that provider
//! as written gets the tools in its own body too, in that dialect's tool shape.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use heimdall_core::{GatewayRequest, Plugin, PreOutcome, RequestContext};
use heimdall_mcp::{McpManager, McpTool};
use heimdall_schema::chat::{ChatRequest, FunctionDefinition, Tool};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::native::Dialect;
use serde_json::{Map, Value, json};

use crate::mcp_access::{KeyGrant, RequestFilter, visible};

/// The context annotation that counts the MCP tools a request was offered.
pub const INJECTED_ANNOTATION: &str = "mcp.tools_injected";

/// The injection plugin.
pub struct McpInjection {
    manager: Arc<McpManager>,
    /// Each virtual key's grant, rebuilt on every configuration change.
    grants: ArcSwap<HashMap<String, KeyGrant>>,
}

impl McpInjection {
    /// Injection of `manager`'s tools, with the grants of `config`'s virtual keys; connects
    /// the clients `config` lists.
    pub fn new(manager: Arc<McpManager>, config: &heimdall_config::GatewayConfig) -> Self {
        let me = Self {
            manager,
            grants: ArcSwap::from_pointee(HashMap::new()),
        };
        me.reconfigure(config);
        me
    }

    /// The grant of the key that `ctx` says is calling.
    pub fn grant(&self, ctx: &RequestContext) -> KeyGrant {
        ctx.annotations
            .get(heimdall_governance::plugin::VIRTUAL_KEY_ANNOTATION)
            .and_then(|id| self.grants.load().get(id).cloned())
            .unwrap_or_default()
    }
}

#[async_trait]
impl Plugin for McpInjection {
    fn name(&self) -> &str {
        "mcp"
    }

    /// With no MCP tool offered it changes nothing; otherwise `pre` drops the client's bytes
    /// itself before it may add tools. It is in every gateway's pipeline, so without this the
    /// client's bytes never reached an upstream.
    fn rewrites_only_the_model(&self) -> bool {
        true
    }

    /// It has no `post`.
    fn leaves_the_answer_alone(&self) -> bool {
        true
    }

    async fn pre(
        &self,
        ctx: &mut RequestContext,
        req: &mut GatewayRequest,
    ) -> Result<PreOutcome, GatewayError> {
        let GatewayRequest::Chat(chat) = req else {
            return Ok(PreOutcome::Continue);
        };
        let offered = self.manager.tools();
        if offered.is_empty() {
            return Ok(PreOutcome::Continue);
        }
        // Tools may be added below: the typed request is what the upstream gets.
        chat.raw = None;
        let grant = self.grant(ctx);
        let filter = RequestFilter::from_headers(&ctx.headers);
        if let Some(reason) = filter.refused_by(&grant, &offered) {
            return Err(
                GatewayError::new(ErrorKind::Forbidden, reason).with_code("mcp_tool_not_allowed")
            );
        }
        let tools = visible(&offered, &grant, &filter);
        let added = inject(chat, &tools);
        if added > 0 {
            ctx.annotations
                .insert(INJECTED_ANNOTATION.to_owned(), added.to_string());
        }
        Ok(PreOutcome::Continue)
    }

    fn reconfigure(&self, config: &heimdall_config::GatewayConfig) {
        // Connections follow the configuration: new clients start, removed ones stop, changed
        // ones reconnect (in the background; this returns at once).
        self.manager.apply(&config.mcp);
        let grants = config
            .governance
            .virtual_keys
            .iter()
            .map(|k| (k.id.clone(), KeyGrant::of_key(config, Some(&k.id))))
            .collect();
        self.grants.store(Arc::new(grants));
    }
}

/// Add `tools` to the request (those it does not already declare by name); how many were
/// added.
pub fn inject(chat: &mut ChatRequest, tools: &[McpTool]) -> usize {
    let declared = |name: &str, list: &Option<Vec<Tool>>| {
        list.iter()
            .flatten()
            .any(|t| t.function.as_ref().is_some_and(|f| f.name == name))
    };
    let new: Vec<&McpTool> = tools
        .iter()
        .filter(|t| {
            let name = t.function_name();
            is_function_name(&name) && !declared(&name, &chat.tools)
        })
        .collect();
    if new.is_empty() {
        return 0;
    }
    let list = chat.tools.get_or_insert_with(Vec::new);
    for t in &new {
        list.push(Tool {
            kind: "function".to_owned(),
            function: Some(FunctionDefinition {
                name: t.function_name(),
                description: t.description.clone(),
                parameters: Some(t.input_schema.clone()),
                strict: None,
                extra: Map::new(),
            }),
            extra: Map::new(),
        });
    }
    if let Some(native) = chat.native.as_mut() {
        let mut body = (*native.body).clone();
        if let Some(obj) = body.as_object_mut() {
            let entry = obj
                .entry("tools")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(items) = entry.as_array_mut() {
                for t in &new {
                    items.push(native_tool(native.dialect, t));
                }
            }
        }
        native.body = Arc::new(body);
    }
    new.len()
}

/// Whether providers take `name` as a function name (OpenAI's rule, the strictest common one:
/// 1–64 of `a-z A-Z 0-9 _ -`). An MCP tool named otherwise (`files.read`) would make every
/// request that carries it fail upstream, so it is not offered to models; it stays callable
/// through the execute endpoint and `/mcp`.
fn is_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A tool in a native dialect's own shape.
fn native_tool(dialect: Dialect, t: &McpTool) -> Value {
    let description = t.description.clone().unwrap_or_default();
    match dialect {
        Dialect::Anthropic => json!({
            "name": t.function_name(),
            "description": description,
            "input_schema": t.input_schema,
        }),
        Dialect::OpenAiResponses => json!({
            "type": "function",
            "name": t.function_name(),
            "description": description,
            "parameters": t.input_schema,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdall_schema::native::NativeRequest;

    fn echo() -> McpTool {
        McpTool {
            client: "everything".into(),
            name: "echo".into(),
            description: Some("Echoes".into()),
            input_schema: json!({"type": "object", "properties": {"message": {"type": "string"}}}),
            auto_execute: false,
        }
    }

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn adds_functions_once_and_keeps_the_clients_own() {
        let mut chat = request(json!({"model": "m", "messages": [],
            "tools": [{"type": "function", "function": {"name": "mine"}}]}));
        assert_eq!(inject(&mut chat, &[echo()]), 1);
        assert_eq!(inject(&mut chat, &[echo()]), 0);
        let tools = chat.tools.unwrap();
        assert_eq!(tools.len(), 2);
        let f = tools[1].function.as_ref().unwrap();
        assert_eq!(f.name, "everything-echo");
        assert_eq!(
            f.parameters.as_ref().unwrap()["properties"]["message"]["type"],
            "string"
        );
    }

    #[test]
    fn a_tool_no_provider_would_take_is_not_offered() {
        let mut chat = request(json!({"model": "m", "messages": []}));
        let mut dotted = echo();
        dotted.name = "files.read".into();
        let mut long = echo();
        long.name = "x".repeat(60);
        assert_eq!(inject(&mut chat, &[dotted, long, echo()]), 1);
        assert_eq!(
            chat.tools.unwrap()[0].function.as_ref().unwrap().name,
            "everything-echo"
        );
    }

    #[test]
    fn a_native_body_gets_the_tool_in_its_own_shape() {
        let mut chat = request(json!({"model": "m", "messages": []}));
        chat.native = Some(NativeRequest {
            dialect: Dialect::Anthropic,
            body: Arc::new(json!({"model": "m", "messages": []})),
            headers: Vec::new(),
        });
        inject(&mut chat, &[echo()]);
        let body = &chat.native.as_ref().unwrap().body;
        assert_eq!(body["tools"][0]["name"], "everything-echo");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
    }
}
