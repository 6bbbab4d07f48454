//! Canonical chat chunks → the Responses API's typed stream events.
//!
//! Why a state machine: chat deltas are flat (text, reasoning and tool-call fragments on one
//! delta), while a Responses stream is a tree — an output item opens
//! (`response.output_item.added`), its content part opens, deltas fill it, and each level
//! closes in order (`…delta` → `…done` → `content_part.done` → `output_item.done`). SDK
//! stream helpers rebuild the response from these events by index, so items must open and
//! close exactly once, in order, and `response.completed` must carry the same output.
//! A failure after the start ends with `response.failed` and an `error` event, never with
//! `response.completed`: a truncated answer is never reported as a success.

use heimdall_schema::chat::ChatChunk;
use heimdall_schema::error::GatewayError;
use heimdall_schema::thinking::ThinkingBlock;
use heimdall_schema::usage::Usage;
use serde_json::{Value, json};

use super::response::{Echo, output_text, status_of};

/// A message content part of `kind` holding `text`.
fn part_of(kind: &str, text: &str) -> Value {
    if kind == "refusal" {
        json!({"type": "refusal", "refusal": text})
    } else {
        output_text(text)
    }
}

/// The item being streamed.
enum Open {
    Reasoning {
        text: String,
        /// Whether the summary part was announced (only once text arrives).
        part: bool,
        block: Option<ThinkingBlock>,
    },
    Message {
        /// The message's parts in the order they opened: `output_text` or `refusal`, and
        /// what each holds so far.
        parts: Vec<(&'static str, String)>,
    },
    Call {
        tool_index: u32,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// Encodes one streamed answer as Responses events (`event: <type>\ndata: <json>\n\n`).
pub struct ResponsesStream {
    echo: Echo,
    model: String,
    sequence: u64,
    started: bool,
    /// Finished items as stored (signed reasoning kept whole).
    items: Vec<Value>,
    open: Option<Open>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
}

impl ResponsesStream {
    /// A stream for the response `echo` describes; `model` until the first chunk names one.
    pub fn new(echo: Echo, model: String) -> Self {
        Self {
            echo,
            model,
            sequence: 0,
            started: false,
            items: Vec::new(),
            open: None,
            usage: None,
            finish_reason: None,
        }
    }

    /// Whether nothing was encoded yet (a stream whose events were all forwarded as the
    /// upstream sent them).
    pub fn is_idle(&self) -> bool {
        !self.started
    }

    /// Append the events one chunk becomes.
    pub fn chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        if !chunk.model.is_empty() {
            self.model.clone_from(&chunk.model);
        }
        self.start(out);
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let delta = choice.delta;
            if let Some(r) = delta.reasoning_content.filter(|r| !r.is_empty()) {
                self.reasoning_text(&r, out);
            }
            for block in delta.thinking_blocks.unwrap_or_default() {
                self.reasoning_block(block, out);
            }
            if let Some(Some(text)) = delta
                .content
                .filter(|c| c.as_deref().is_some_and(|t| !t.is_empty()))
            {
                self.message_delta("output_text", &text, out);
            }
            if let Some(Some(refusal)) = delta
                .refusal
                .filter(|r| r.as_deref().is_some_and(|t| !t.is_empty()))
            {
                self.message_delta("refusal", &refusal, out);
            }
            for call in delta.tool_calls.unwrap_or_default() {
                let (name, args) = call
                    .function
                    .map(|f| (f.name, f.arguments))
                    .unwrap_or_default();
                self.tool_call(call.index, call.id, name, args.unwrap_or_default(), out);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
        }
    }

    /// Close the open item and return the final response object, whole (to store; the
    /// client's view of it is [`Echo::client_view`]) — before its event is sent.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Value {
        self.start(out);
        self.close(out);
        let (status, incomplete) = status_of(self.finish_reason.as_deref());
        self.echo.object(
            &self.model,
            status,
            self.items.clone(),
            self.usage.as_ref(),
            incomplete,
            None,
        )
    }

    /// Append the final event for `response` (from [`Self::finish`]), as the client sees it.
    pub fn completed(&mut self, response: &Value, out: &mut Vec<u8>) {
        let kind = if response.get("status").and_then(Value::as_str) == Some("incomplete") {
            "response.incomplete"
        } else {
            "response.completed"
        };
        let mut shown = response.clone();
        self.echo.client_view(&mut shown);
        self.event(kind, json!({"response": shown}), out);
    }

    /// Append the report of a failure after the start: `response.failed`, then `error`.
    pub fn fail(&mut self, e: &GatewayError, out: &mut Vec<u8>) {
        self.start(out);
        let mut failed = self.echo.object(
            &self.model,
            "failed",
            self.items.clone(),
            self.usage.as_ref(),
            None,
            Some(e),
        );
        self.echo.client_view(&mut failed);
        self.event("response.failed", json!({"response": failed}), out);
        self.error_event(e, out);
    }

    /// Append only the `error` event: the end of a stream whose events were the upstream's
    /// own (forwarded as sent), which this encoder never started.
    pub fn error_event(&mut self, e: &GatewayError, out: &mut Vec<u8>) {
        let code = e.code.clone().unwrap_or_else(|| e.kind.as_str().to_owned());
        // `error` also as an object: OpenAI's SDKs raise on an event whose data has one, so a
        // client iterating the raw stream cannot take the cut answer for a whole one.
        self.event(
            "error",
            json!({"code": code, "message": e.message, "param": e.param,
                   "error": {"type": e.kind.openai_type(), "code": code, "message": e.message}}),
            out,
        );
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self
            .echo
            .object(&self.model, "in_progress", Vec::new(), None, None, None);
        self.event("response.created", json!({"response": response}), out);
        self.event("response.in_progress", json!({"response": response}), out);
    }

    fn index(&self) -> usize {
        self.items.len()
    }

    fn open_reasoning(&mut self, out: &mut Vec<u8>) {
        if matches!(self.open, Some(Open::Reasoning { .. })) {
            return;
        }
        self.close(out);
        let (index, id) = (self.index(), self.echo.item_id("rs", self.index()));
        self.event(
            "response.output_item.added",
            json!({"output_index": index, "item": {"type": "reasoning", "id": id, "summary": []}}),
            out,
        );
        self.open = Some(Open::Reasoning {
            text: String::new(),
            part: false,
            block: None,
        });
    }

    fn reasoning_text(&mut self, delta: &str, out: &mut Vec<u8>) {
        self.open_reasoning(out);
        let (index, id) = (self.index(), self.echo.item_id("rs", self.index()));
        let announce = match &mut self.open {
            Some(Open::Reasoning { text, part, .. }) => {
                text.push_str(delta);
                !std::mem::replace(part, true)
            }
            _ => false,
        };
        if announce {
            self.event(
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": index, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}}),
                out,
            );
        }
        self.event(
            "response.reasoning_summary_text.delta",
            json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": delta}),
            out,
        );
    }

    /// A signed block ends the reasoning item it signs (the next text starts another); a
    /// redacted block is an item of its own.
    fn reasoning_block(&mut self, block: ThinkingBlock, out: &mut Vec<u8>) {
        if let Some(t) = block.thinking.as_deref().filter(|t| !t.is_empty()) {
            self.reasoning_text(t, out);
        }
        if block.kind == "redacted_thinking" {
            self.close(out);
        }
        if block.signature.is_none() && block.data.is_none() {
            return;
        }
        self.open_reasoning(out);
        if let Some(Open::Reasoning { block: b, .. }) = &mut self.open {
            *b = Some(block);
        }
        self.close(out);
    }

    /// Text or refusal for the message item, opening it (and the part) as needed.
    fn message_delta(&mut self, kind: &'static str, delta: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Message { .. })) {
            self.close(out);
            let (index, id) = (self.index(), self.echo.item_id("msg", self.index()));
            self.event(
                "response.output_item.added",
                json!({"output_index": index, "item": {"type": "message", "id": id,
                       "status": "in_progress", "role": "assistant", "content": []}}),
                out,
            );
            self.open = Some(Open::Message { parts: Vec::new() });
        }
        let (index, id) = (self.index(), self.echo.item_id("msg", self.index()));
        let Some(Open::Message { parts }) = &mut self.open else {
            return;
        };
        let content_index = match parts.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                parts.push((kind, String::new()));
                let i = parts.len() - 1;
                let part = part_of(kind, "");
                self.event(
                    "response.content_part.added",
                    json!({"item_id": id, "output_index": index, "content_index": i, "part": part}),
                    out,
                );
                i
            }
        };
        if let Some(Open::Message { parts }) = &mut self.open
            && let Some((_, acc)) = parts.get_mut(content_index)
        {
            acc.push_str(delta);
        }
        let body = if kind == "refusal" {
            json!({"item_id": id, "output_index": index, "content_index": content_index, "delta": delta})
        } else {
            json!({"item_id": id, "output_index": index, "content_index": content_index, "delta": delta, "logprobs": []})
        };
        let event = if kind == "refusal" {
            "response.refusal.delta"
        } else {
            "response.output_text.delta"
        };
        self.event(event, body, out);
    }

    fn tool_call(
        &mut self,
        tool_index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
        out: &mut Vec<u8>,
    ) {
        let same = matches!(&self.open, Some(Open::Call { tool_index: t, .. }) if *t == tool_index);
        if !same {
            self.close(out);
            let call_id = id.unwrap_or_else(|| self.echo.item_id("call", self.index()));
            let name = name.unwrap_or_default();
            let mut item = self
                .echo
                .call_item(self.index(), &call_id, &name, "", "in_progress");
            if let Some(o) = item.as_object_mut()
                && o.contains_key("input")
            {
                o.insert("input".to_owned(), json!(""));
            }
            self.event(
                "response.output_item.added",
                json!({"output_index": self.index(), "item": item}),
                out,
            );
            self.open = Some(Open::Call {
                tool_index,
                call_id,
                name,
                arguments: String::new(),
            });
        }
        if arguments.is_empty() {
            return;
        }
        let custom = match &mut self.open {
            Some(Open::Call {
                arguments: acc,
                name,
                ..
            }) => {
                acc.push_str(&arguments);
                self.echo.custom_tools.iter().any(|t| t == name)
            }
            _ => return,
        };
        // A freeform tool's input is whole only once its JSON wrapper is: it goes in the done
        // item, not as argument deltas.
        if !custom {
            let (index, item_id) = (self.index(), self.echo.item_id("fc", self.index()));
            self.event(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": index, "delta": arguments}),
                out,
            );
        }
    }

    /// Emit the closing events of the open item and keep its final form.
    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let index = self.index();
        let item = match open {
            Open::Reasoning { text, part, block } => {
                let id = self.echo.item_id("rs", index);
                if part {
                    self.event(
                        "response.reasoning_summary_text.done",
                        json!({"item_id": id, "output_index": index, "summary_index": 0, "text": text}),
                        out,
                    );
                    self.event(
                        "response.reasoning_summary_part.done",
                        json!({"item_id": id, "output_index": index, "summary_index": 0,
                               "part": {"type": "summary_text", "text": text}}),
                        out,
                    );
                }
                self.echo.reasoning_item(index, &text, block.as_ref())
            }
            Open::Message { parts } => {
                let id = self.echo.item_id("msg", index);
                let mut content = Vec::with_capacity(parts.len());
                for (i, (kind, text)) in parts.iter().enumerate() {
                    let (done, body) = if *kind == "refusal" {
                        (
                            "response.refusal.done",
                            json!({"item_id": id, "output_index": index, "content_index": i, "refusal": text}),
                        )
                    } else {
                        (
                            "response.output_text.done",
                            json!({"item_id": id, "output_index": index, "content_index": i, "text": text, "logprobs": []}),
                        )
                    };
                    self.event(done, body, out);
                    let part = part_of(kind, text);
                    self.event(
                        "response.content_part.done",
                        json!({"item_id": id, "output_index": index, "content_index": i, "part": part}),
                        out,
                    );
                    content.push(part);
                }
                json!({"type": "message", "id": id, "status": "completed", "role": "assistant",
                       "content": content})
            }
            Open::Call {
                call_id,
                name,
                arguments,
                ..
            } => {
                let item = self
                    .echo
                    .call_item(index, &call_id, &name, &arguments, "completed");
                match item.get("type").and_then(Value::as_str) {
                    Some("function_call") => self.event(
                        "response.function_call_arguments.done",
                        json!({"item_id": self.echo.item_id("fc", index), "output_index": index,
                               "name": name, "arguments": arguments}),
                        out,
                    ),
                    // A freeform tool's input is whole only now (its JSON wrapper closed).
                    _ => {
                        let input = item.get("input").cloned().unwrap_or(json!(""));
                        let item_id = item.get("id").cloned().unwrap_or(Value::Null);
                        self.event(
                            "response.custom_tool_call_input.delta",
                            json!({"item_id": item_id, "output_index": index, "delta": input}),
                            out,
                        );
                        self.event(
                            "response.custom_tool_call_input.done",
                            json!({"item_id": item_id, "output_index": index, "input": input}),
                            out,
                        );
                    }
                }
                item
            }
        };
        let mut shown = item.clone();
        self.echo.client_view(&mut shown);
        self.event(
            "response.output_item.done",
            json!({"output_index": index, "item": shown}),
            out,
        );
        self.items.push(item);
    }

    fn event(&mut self, kind: &str, mut body: Value, out: &mut Vec<u8>) {
        if let Some(o) = body.as_object_mut() {
            o.insert("type".to_owned(), json!(kind));
            o.insert("sequence_number".to_owned(), json!(self.sequence));
        }
        self.sequence += 1;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        // A `Value` always serialises.
        let _ = serde_json::to_writer(&mut *out, &body);
        out.extend_from_slice(b"\n\n");
    }
}
