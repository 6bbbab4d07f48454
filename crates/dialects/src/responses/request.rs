//! A Responses API request (`POST /v1/responses`) → the canonical chat request.
//!
//! Why a translation and not a pass-through everywhere: agent frameworks (Codex, the Agents
//! SDK, the Vercel AI SDK) speak only this API, and most providers do not; its input items map
//! onto chat messages one to one (messages, `function_call` → an assistant tool call,
//! `function_call_output` → a tool message, `reasoning` → a signed thinking block), so every
//! provider the gateway can chat with can serve it. What the canonical model cannot express is
//! either refused with a field-named 400 (`background`, `conversation`, `prompt`, stored file
//! ids) or, for hosted tools a provider would run itself (`web_search`, `file_search`, …),
//! dropped and named in [`Translated::ignored`] so the route can say so in a header.

use heimdall_schema::chat::{
    AssistantMessage, ChatMessage, ChatRequest, ContentPart, FunctionCall, FunctionDefinition,
    ImageUrl, InstructionMessage, JsonSchemaFormat, KnownPart, MessageContent, NamedToolChoice,
    ResponseFormat, StreamOptions, Tool, ToolCall, ToolChoice, ToolChoiceFunction, ToolMessage,
    UserMessage,
};
use heimdall_schema::error::GatewayError;
use heimdall_schema::thinking::ThinkingBlock;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The fields of a Responses request the gateway reads; the rest stays in `extra` (echoed).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponsesRequest {
    /// Model, as `provider/model`, a bare name, or an alias.
    pub model: String,
    /// A string (one user message) or a list of input items.
    #[serde(default)]
    pub input: Option<Value>,
    /// A system message placed before the input (not carried over by `previous_response_id`).
    #[serde(default)]
    pub instructions: Option<String>,
    /// Tools the model may call.
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    /// `auto`, `none`, `required`, or `{"type":"function","name":…}`.
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Upper bound on generated tokens, reasoning included.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// Whether the model may call several tools at once.
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    /// Continue the conversation of a stored response.
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// Store the response for `previous_response_id` and `GET /v1/responses/{id}` (default true).
    #[serde(default)]
    pub store: Option<bool>,
    /// Stream the answer as Responses events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// `{"format": {"type": "text" | "json_object" | "json_schema", …}}`.
    #[serde(default)]
    pub text: Option<Value>,
    /// `{"effort": …, "summary": …}`.
    #[serde(default)]
    pub reasoning: Option<Value>,
    /// Extra output to include (`reasoning.encrypted_content`).
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// Up to 16 key/value pairs kept with the response.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// End-user id (deprecated upstream in favour of `safety_identifier`).
    #[serde(default)]
    pub user: Option<String>,
    /// Everything else (echoed on the response where OpenAI echoes it; forwarded as chat
    /// extras where chat has the same field: `prompt_cache_key`, `service_tier`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The canonical request and what the route needs beside it.
#[derive(Debug)]
pub struct Translated {
    /// The chat request to hand to the engine.
    pub chat: ChatRequest,
    /// This request's own input, normalised to items (stored for the next turn).
    pub input_items: Vec<Value>,
    /// Tool types dropped because the target cannot run them (`web_search`, …).
    pub ignored: Vec<String>,
}

/// Fields chat completions has under the same name and meaning: forwarded as extras.
const FORWARDED: &[&str] = &["prompt_cache_key", "service_tier", "safety_identifier"];

/// Fields whose feature the gateway does not offer through translation: a clear 400.
const REFUSED: &[(&str, &str)] = &[
    (
        "background",
        "background responses are not supported by the gateway",
    ),
    (
        "conversation",
        "the Conversations API is not supported; use previous_response_id",
    ),
    ("prompt", "stored prompt templates are not supported"),
];

/// Translate `req`; `history` is the stored conversation `previous_response_id` names (its
/// input and output items), empty for a new conversation.
pub fn to_chat(req: &ResponsesRequest, history: &[Value]) -> Result<Translated, GatewayError> {
    if req.model.trim().is_empty() {
        return Err(bad("model must not be empty", "model"));
    }
    for (field, why) in REFUSED {
        if req
            .extra
            .get(*field)
            .is_some_and(|v| !v.is_null() && *v != Value::Bool(false))
        {
            return Err(bad(why, field));
        }
    }
    let input_items = normalise_input(req.input.as_ref())?;
    let mut messages = Vec::with_capacity(history.len() + input_items.len() + 1);
    if let Some(instructions) = req.instructions.as_deref().filter(|s| !s.is_empty()) {
        messages.push(ChatMessage::System(InstructionMessage {
            content: MessageContent::Text(instructions.to_owned()),
            name: None,
            extra: Map::new(),
        }));
    }
    let mut items = ItemReader {
        messages,
        current: None,
        pending_thinking: Vec::new(),
    };
    for (i, item) in history.iter().enumerate() {
        items
            .push(item)
            .map_err(|e| prefix(e, &format!("previous_response_id (stored item {i})")))?;
    }
    for (i, item) in input_items.iter().enumerate() {
        items
            .push(item)
            .map_err(|e| prefix(e, &format!("input[{i}]")))?;
    }
    let messages = items.finish();
    if messages.is_empty() {
        return Err(bad("input must not be empty", "input"));
    }
    let (tools, ignored) = tools(req.tools.as_deref())?;
    let mut chat = ChatRequest {
        model: req.model.clone(),
        messages,
        stream: req.stream,
        // The final `response.completed` event carries usage: always ask for it.
        stream_options: req.stream.unwrap_or(false).then(|| StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        temperature: req.temperature,
        top_p: req.top_p,
        max_completion_tokens: req.max_output_tokens,
        user: req.user.clone(),
        reasoning_effort: req
            .reasoning
            .as_ref()
            .and_then(|r| r.get("effort"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice: tool_choice(req.tool_choice.as_ref())?,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format: response_format(req.text.as_ref())?,
        ..ChatRequest::default()
    };
    if chat.tools.is_none() {
        // A tool choice without tools (all of them hosted and dropped) would be refused.
        chat.tool_choice = None;
        chat.parallel_tool_calls = None;
    }
    // `text.verbosity` (GPT-5) is chat's `verbosity`.
    if let Some(v) = req
        .text
        .as_ref()
        .and_then(|t| t.get("verbosity"))
        .filter(|v| !v.is_null())
    {
        chat.extra.insert("verbosity".to_owned(), v.clone());
    }
    for field in FORWARDED {
        if let Some(v) = req.extra.get(*field).filter(|v| !v.is_null()) {
            chat.extra.insert((*field).to_owned(), v.clone());
        }
    }
    chat.validate()?;
    Ok(Translated {
        chat,
        input_items,
        ignored,
    })
}

/// `input` as a list of items: a string is one user message.
fn normalise_input(input: Option<&Value>) -> Result<Vec<Value>, GatewayError> {
    match input {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![serde_json::json!({
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}],
        })]),
        // Messages with string content take the part form the API lists them in.
        Some(Value::Array(items)) => Ok(items.iter().map(with_content_parts).collect()),
        Some(_) => Err(bad("input must be a string or an array of items", "input")),
    }
}

/// A message item with string content as a one-part list (`input_text`, or `output_text` for
/// the assistant); any other item unchanged.
fn with_content_parts(item: &Value) -> Value {
    let mut item = item.clone();
    let is_message = item.get("type").is_none_or(|t| t == "message");
    if let (true, Some(o)) = (is_message, item.as_object_mut())
        && let Some(Value::String(text)) = o.get("content")
    {
        let kind = if o.get("role").and_then(Value::as_str) == Some("assistant") {
            "output_text"
        } else {
            "input_text"
        };
        let parts = serde_json::json!([{"type": kind, "text": text}]);
        o.insert("content".to_owned(), parts);
        o.entry("type")
            .or_insert_with(|| Value::String("message".to_owned()));
    }
    item
}

/// Reads items in order into chat messages: consecutive assistant output (text, tool calls,
/// reasoning) becomes one assistant message, as chat completions expects.
struct ItemReader {
    messages: Vec<ChatMessage>,
    /// The assistant turn being read (text, tool calls and reasoning items in a row).
    current: Option<AssistantMessage>,
    /// Reasoning items waiting for the assistant turn they belong to.
    pending_thinking: Vec<ThinkingBlock>,
}

impl ItemReader {
    fn push(&mut self, item: &Value) -> Result<(), GatewayError> {
        let obj = item
            .as_object()
            .ok_or_else(|| bad("an input item must be an object", ""))?;
        let kind = obj.get("type").and_then(Value::as_str);
        // `{"id": …}` alone is an item reference (its `type` is optional).
        if kind.is_none() && obj.get("role").is_none() && obj.contains_key("id") {
            return Err(bad(
                "item_reference is not supported; send the item itself or use previous_response_id",
                "id",
            ));
        }
        match kind {
            None | Some("message") => self.message(obj),
            Some("function_call") | Some("custom_tool_call") => {
                let call_id = str_field(obj, "call_id")?;
                let name = str_field(obj, "name")?;
                let arguments = if kind == Some("custom_tool_call") {
                    serde_json::json!({"input": obj.get("input").and_then(Value::as_str).unwrap_or_default()})
                        .to_string()
                } else {
                    obj.get("arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}")
                        .to_owned()
                };
                let call = ToolCall {
                    id: call_id.to_owned(),
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: name.to_owned(),
                        arguments,
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                };
                self.assistant()
                    .tool_calls
                    .get_or_insert_with(Vec::new)
                    .push(call);
                Ok(())
            }
            Some("function_call_output") | Some("custom_tool_call_output") => {
                let call_id = str_field(obj, "call_id")?;
                let content = match obj.get("output") {
                    Some(Value::String(s)) => MessageContent::Text(s.clone()),
                    Some(Value::Array(parts)) => content_parts(parts)?,
                    Some(other) => MessageContent::Text(other.to_string()),
                    None => return Err(bad("a function_call_output needs an output", "output")),
                };
                self.close_turn();
                self.messages.push(ChatMessage::Tool(ToolMessage {
                    content,
                    tool_call_id: call_id.to_owned(),
                    extra: Map::new(),
                }));
                Ok(())
            }
            Some("reasoning") => {
                let summary: String = obj
                    .get("summary")
                    .and_then(Value::as_array)
                    .map(|parts| {
                        parts
                            .iter()
                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                            .collect::<Vec<_>>()
                            .join("\n\n")
                    })
                    .unwrap_or_default();
                let signature = obj
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                // Only a signed block can go back to a provider that checks signatures; an
                // unsigned summary is the model's own words about its reasoning, not input.
                if let Some(enc) = signature {
                    let block = match enc.strip_prefix(super::response::REDACTED_PREFIX) {
                        Some(data) => ThinkingBlock::redacted(data.to_owned()),
                        None => ThinkingBlock::thinking(Some(summary), Some(enc)),
                    };
                    self.pending_thinking.push(block);
                }
                Ok(())
            }
            Some("item_reference") => Err(bad(
                "item_reference is not supported; send the item itself or use previous_response_id",
                "type",
            )),
            Some(other) => Err(bad(
                &format!("input item type '{other}' is not supported by the gateway"),
                "type",
            )),
        }
    }

    fn message(&mut self, obj: &Map<String, Value>) -> Result<(), GatewayError> {
        let role = str_field(obj, "role")?;
        let content = match obj.get("content") {
            Some(Value::String(s)) => MessageContent::Text(s.clone()),
            Some(Value::Array(parts)) => content_parts(parts)?,
            _ => {
                return Err(bad(
                    "a message needs content (a string or parts)",
                    "content",
                ));
            }
        };
        if role == "assistant" {
            let assistant = self.assistant();
            let text = content.text();
            let refusal: String = match &content {
                MessageContent::Parts(parts) => parts
                    .iter()
                    .filter_map(|p| match p {
                        ContentPart::Known(KnownPart::Refusal { refusal, .. }) => {
                            Some(refusal.as_str())
                        }
                        _ => None,
                    })
                    .collect(),
                MessageContent::Text(_) => String::new(),
            };
            if !text.is_empty() {
                let joined = match assistant.content.take() {
                    Some(prev) => prev.text() + &text,
                    None => text,
                };
                assistant.content = Some(MessageContent::Text(joined));
            }
            if !refusal.is_empty() {
                assistant.refusal = Some(refusal);
            }
            return Ok(());
        }
        self.close_turn();
        let message = match role {
            "user" => ChatMessage::User(UserMessage {
                content,
                name: None,
                extra: Map::new(),
            }),
            "system" => ChatMessage::System(instruction(content)),
            "developer" => ChatMessage::Developer(instruction(content)),
            other => {
                return Err(bad(
                    &format!("role must be user, assistant, system or developer, got '{other}'"),
                    "role",
                ));
            }
        };
        self.messages.push(message);
        Ok(())
    }

    /// The assistant message of the current turn (a new one after any other role).
    fn assistant(&mut self) -> &mut AssistantMessage {
        let thinking = std::mem::take(&mut self.pending_thinking);
        let current = self.current.get_or_insert_with(AssistantMessage::default);
        if !thinking.is_empty() {
            current
                .thinking_blocks
                .get_or_insert_with(Vec::new)
                .extend(thinking);
        }
        current
    }

    /// A non-assistant item ends the assistant turn; reasoning that preceded nothing is dropped.
    fn close_turn(&mut self) {
        if let Some(a) = self.current.take() {
            self.messages.push(ChatMessage::Assistant(Box::new(a)));
        }
        self.pending_thinking.clear();
    }

    fn finish(mut self) -> Vec<ChatMessage> {
        self.close_turn();
        self.messages
    }
}

fn instruction(content: MessageContent) -> InstructionMessage {
    InstructionMessage {
        content,
        name: None,
        extra: Map::new(),
    }
}

/// Responses content parts → chat parts.
fn content_parts(parts: &[Value]) -> Result<MessageContent, GatewayError> {
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
        let field = |name: &str| part.get(name).and_then(Value::as_str);
        let converted = match kind {
            "input_text" | "output_text" | "text" | "summary_text" => KnownPart::Text {
                text: field("text").unwrap_or_default().to_owned(),
                extra: Map::new(),
            },
            "refusal" => KnownPart::Refusal {
                refusal: field("refusal").unwrap_or_default().to_owned(),
                extra: Map::new(),
            },
            "input_image" => {
                let Some(url) = field("image_url") else {
                    return Err(bad(
                        "input_image needs image_url (file_id references to uploaded files are not supported)",
                        &format!("content[{i}].image_url"),
                    ));
                };
                KnownPart::ImageUrl {
                    image_url: ImageUrl {
                        url: url.to_owned(),
                        detail: field("detail").map(str::to_owned),
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                }
            }
            "input_file" => {
                let mut file = Map::new();
                for name in ["file_data", "filename", "file_id"] {
                    if let Some(v) = field(name) {
                        file.insert(name.to_owned(), Value::String(v.to_owned()));
                    }
                }
                if field("file_url").is_some() {
                    return Err(bad(
                        "input_file by file_url is not supported; send file_data (base64) instead",
                        &format!("content[{i}].file_url"),
                    ));
                }
                if file.is_empty() {
                    return Err(bad(
                        "input_file needs file_data or file_id",
                        &format!("content[{i}]"),
                    ));
                }
                KnownPart::File {
                    file,
                    extra: Map::new(),
                }
            }
            other => {
                return Err(bad(
                    &format!("content part type '{other}' is not supported"),
                    &format!("content[{i}].type"),
                ));
            }
        };
        out.push(ContentPart::Known(converted));
    }
    Ok(MessageContent::Parts(out))
}

/// Function (and custom) tools → chat tools; hosted tools are dropped and named.
fn tools(tools: Option<&[Value]>) -> Result<(Vec<Tool>, Vec<String>), GatewayError> {
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    for (i, tool) in tools.unwrap_or_default().iter().enumerate() {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or_default();
        let text = |name: &str| tool.get(name).and_then(Value::as_str).map(str::to_owned);
        match kind {
            "function" => {
                let Some(name) = text("name") else {
                    return Err(bad(
                        "a function tool needs a name",
                        &format!("tools[{i}].name"),
                    ));
                };
                out.push(function_tool(
                    name,
                    text("description"),
                    tool.get("parameters").cloned(),
                    tool.get("strict").and_then(Value::as_bool),
                ));
            }
            // A freeform tool (Codex's apply_patch): one string argument, `input`.
            "custom" => {
                let Some(name) = text("name") else {
                    return Err(bad(
                        "a custom tool needs a name",
                        &format!("tools[{i}].name"),
                    ));
                };
                out.push(function_tool(
                    name,
                    text("description"),
                    Some(serde_json::json!({
                        "type": "object",
                        "properties": {"input": {"type": "string"}},
                        "required": ["input"],
                    })),
                    None,
                ));
            }
            "" => return Err(bad("a tool needs a type", &format!("tools[{i}].type"))),
            other => {
                if !ignored.iter().any(|t| t == other) {
                    ignored.push(other.to_owned());
                }
            }
        }
    }
    Ok((out, ignored))
}

fn function_tool(
    name: String,
    description: Option<String>,
    parameters: Option<Value>,
    strict: Option<bool>,
) -> Tool {
    Tool {
        kind: "function".to_owned(),
        function: Some(FunctionDefinition {
            name,
            description,
            parameters,
            strict,
            extra: Map::new(),
        }),
        extra: Map::new(),
    }
}

/// The names of the custom (freeform) tools of a request: their calls answer as
/// `custom_tool_call` items.
pub fn custom_tool_names(req: &ResponsesRequest) -> Vec<String> {
    req.tools
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("custom"))
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn tool_choice(choice: Option<&Value>) -> Result<Option<ToolChoice>, GatewayError> {
    match choice {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(mode)) if matches!(mode.as_str(), "auto" | "none" | "required") => {
            Ok(Some(ToolChoice::Mode(mode.clone())))
        }
        Some(Value::Object(o)) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
            match (kind, o.get("name").and_then(Value::as_str)) {
                ("function" | "custom", Some(name)) => {
                    Ok(Some(ToolChoice::Named(NamedToolChoice {
                        kind: "function".to_owned(),
                        function: Some(ToolChoiceFunction {
                            name: name.to_owned(),
                            extra: Map::new(),
                        }),
                        extra: Map::new(),
                    })))
                }
                // `allowed_tools` with mode `required` still requires a call.
                ("allowed_tools", _) => Ok(o
                    .get("mode")
                    .and_then(Value::as_str)
                    .map(|m| ToolChoice::Mode(m.to_owned()))),
                _ => Err(bad(
                    "tool_choice must be auto, none, required or a function by name",
                    "tool_choice",
                )),
            }
        }
        Some(_) => Err(bad(
            "tool_choice must be auto, none, required or an object",
            "tool_choice",
        )),
    }
}

/// `text.format` → `response_format`.
fn response_format(text: Option<&Value>) -> Result<Option<ResponseFormat>, GatewayError> {
    let Some(format) = text.and_then(|t| t.get("format")).filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject { extra: Map::new() })),
        Some("json_schema") => {
            let Some(name) = format.get("name").and_then(Value::as_str) else {
                return Err(bad("a json_schema format needs a name", "text.format.name"));
            };
            Ok(Some(ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat {
                    name: name.to_owned(),
                    description: format
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    schema: format.get("schema").cloned(),
                    strict: format.get("strict").and_then(Value::as_bool),
                    extra: Map::new(),
                },
                extra: Map::new(),
            }))
        }
        _ => Err(bad(
            "text.format.type must be text, json_object or json_schema",
            "text.format.type",
        )),
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, GatewayError> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(&format!("{name} must be a string"), name))
}

fn bad(message: &str, param: &str) -> GatewayError {
    GatewayError::invalid_request(
        message.to_owned(),
        (!param.is_empty()).then(|| param.to_owned()),
    )
}

/// The same error, its param under `at` (`input[3].content`).
fn prefix(mut e: GatewayError, at: &str) -> GatewayError {
    let param = match e.param.take() {
        Some(p) if !p.is_empty() => format!("{at}.{p}"),
        _ => at.to_owned(),
    };
    e.message = format!("{param}: {}", e.message);
    e.param = Some(param);
    e
}
