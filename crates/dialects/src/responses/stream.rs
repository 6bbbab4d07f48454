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

/// The item being streamed.
enum Open {
    Reasoning {
        text: String,
        blocks: Vec<ThinkingBlock>,
    },
    Message {
        text: String,
        refusal: String,
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
            let reasoning = delta.reasoning_content.filter(|r| !r.is_empty());
            let blocks = delta.thinking_blocks.unwrap_or_default();
            if reasoning.is_some() || !blocks.is_empty() {
                self.reasoning(reasoning.as_deref(), blocks, out);
            }
            if let Some(Some(text)) = delta
                .content
                .filter(|c| c.as_deref().is_some_and(|t| !t.is_empty()))
            {
                self.text(&text, out);
            }
            if let Some(Some(refusal)) = delta.refusal {
                self.ensure_message(out);
                if let Some(Open::Message { refusal: r, .. }) = &mut self.open {
                    r.push_str(&refusal);
                }
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

    /// Close the open item and return the final response object (to store before it is sent).
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

    /// Append the final event for `response` (from [`Self::finish`]).
    pub fn completed(&mut self, response: &Value, out: &mut Vec<u8>) {
        let kind = if response.get("status").and_then(Value::as_str) == Some("incomplete") {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.event(kind, json!({"response": response}), out);
    }

    /// Append the report of a failure after the start: `response.failed`, then `error`.
    pub fn fail(&mut self, e: &GatewayError, out: &mut Vec<u8>) {
        self.start(out);
        let failed = self.echo.object(
            &self.model,
            "failed",
            self.items.clone(),
            self.usage.as_ref(),
            None,
            Some(e),
        );
        self.event("response.failed", json!({"response": failed}), out);
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

    fn reasoning(&mut self, text: Option<&str>, blocks: Vec<ThinkingBlock>, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close(out);
            let (index, id) = (self.index(), self.echo.item_id("rs", self.index()));
            self.event(
                "response.output_item.added",
                json!({"output_index": index, "item": {"type": "reasoning", "id": id, "summary": []}}),
                out,
            );
            self.event(
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": index, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}}),
                out,
            );
            self.open = Some(Open::Reasoning {
                text: String::new(),
                blocks: Vec::new(),
            });
        }
        let text = text.map(str::to_owned).or_else(|| {
            let t: String = blocks
                .iter()
                .filter_map(|b| b.thinking.as_deref())
                .collect();
            (!t.is_empty()).then_some(t)
        });
        if let Some(Open::Reasoning {
            text: acc,
            blocks: kept,
        }) = &mut self.open
        {
            kept.extend(blocks.into_iter().filter(|b| b.signature.is_some()));
            if let Some(t) = &text {
                acc.push_str(t);
            }
        }
        if let Some(delta) = text {
            let (index, id) = (self.index(), self.echo.item_id("rs", self.index()));
            self.event(
                "response.reasoning_summary_text.delta",
                json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": delta}),
                out,
            );
        }
    }

    fn ensure_message(&mut self, out: &mut Vec<u8>) {
        if matches!(self.open, Some(Open::Message { .. })) {
            return;
        }
        self.close(out);
        let (index, id) = (self.index(), self.echo.item_id("msg", self.index()));
        self.event(
            "response.output_item.added",
            json!({"output_index": index, "item": {"type": "message", "id": id,
                   "status": "in_progress", "role": "assistant", "content": []}}),
            out,
        );
        self.event(
            "response.content_part.added",
            json!({"item_id": id, "output_index": index, "content_index": 0, "part": output_text("")}),
            out,
        );
        self.open = Some(Open::Message {
            text: String::new(),
            refusal: String::new(),
        });
    }

    fn text(&mut self, delta: &str, out: &mut Vec<u8>) {
        self.ensure_message(out);
        if let Some(Open::Message { text, .. }) = &mut self.open {
            text.push_str(delta);
        }
        let (index, id) = (self.index(), self.echo.item_id("msg", self.index()));
        self.event(
            "response.output_text.delta",
            json!({"item_id": id, "output_index": index, "content_index": 0, "delta": delta, "logprobs": []}),
            out,
        );
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
            Open::Reasoning { text, blocks } => {
                let id = self.echo.item_id("rs", index);
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
                self.echo.reasoning_item(index, &text, &blocks)
            }
            Open::Message { text, refusal } => {
                let id = self.echo.item_id("msg", index);
                self.event(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
                    out,
                );
                self.event(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": output_text(&text)}),
                    out,
                );
                let refusal = (!refusal.is_empty()).then_some(refusal);
                self.echo
                    .message_item(index, &text, refusal.as_deref(), "completed")
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
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    self.event(
                        "response.function_call_arguments.done",
                        json!({"item_id": self.echo.item_id("fc", index), "output_index": index,
                               "name": name, "arguments": arguments}),
                        out,
                    );
                }
                item
            }
        };
        self.event(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
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
