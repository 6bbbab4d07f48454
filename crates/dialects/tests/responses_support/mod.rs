//! What the Responses golden tests share: the fixtures, the request and echo they are built
//! with, the stream runner and the shape every streamed event must have.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use heimdall_dialects::responses::{Echo, ResponsesRequest, ResponsesStream, to_chat, to_response};
use heimdall_schema::chat::{ChatChunk, ChatResponse};
use heimdall_schema::error::GatewayError;
use serde_json::{Value, json};

use crate::golden::Fixtures;

pub const ID: &str = "resp_0123";
pub const CREATED_AT: u64 = 1_741_476_542;

pub fn fx() -> Fixtures {
    Fixtures::of("responses")
}

/// `name` if the case has that optional file.
pub fn optional(name: &str) -> Option<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/responses")
        .join(name);
    path.exists().then(|| fx().json(name))
}

pub fn request(body: Value) -> ResponsesRequest {
    serde_json::from_value(body).unwrap()
}

pub fn echo(req: &ResponsesRequest) -> Echo {
    Echo::of(req, ID.to_owned(), CREATED_AT)
}

pub fn same(got: &Value, want: &Value, what: &str) {
    assert_eq!(got, want, "{what}\n got: {got:#}\nwant: {want:#}");
}

/// `patch` merged over a minimal valid request.
pub fn refused(patch: Value) -> GatewayError {
    let mut body = json!({"model": "gpt-4.1", "input": "Hello"});
    for (k, v) in patch.as_object().unwrap() {
        body[k] = v.clone();
    }
    match to_chat(&request(body.clone()), &[]) {
        Ok(t) => panic!(
            "{body} was accepted: {:#}",
            serde_json::to_value(&t.chat).unwrap()
        ),
        Err(e) => e,
    }
}

/// The response object as the client sees it (`encrypted_content` only when included).
pub fn shown(req: &ResponsesRequest, answer: &ChatResponse) -> Value {
    let e = echo(req);
    let mut v = to_response(&e, answer);
    e.client_view(&mut v);
    v
}

/// The fields every event type carries, from the openai-python event models
/// (`openai/types/responses/response_*_event.py`).
pub const REQUIRED_FIELDS: &[(&str, &[&str])] = &[
    ("response.created", &["response"]),
    ("response.in_progress", &["response"]),
    ("response.completed", &["response"]),
    ("response.incomplete", &["response"]),
    ("response.failed", &["response"]),
    ("response.output_item.added", &["output_index", "item"]),
    ("response.output_item.done", &["output_index", "item"]),
    (
        "response.content_part.added",
        &["item_id", "output_index", "content_index", "part"],
    ),
    (
        "response.content_part.done",
        &["item_id", "output_index", "content_index", "part"],
    ),
    (
        "response.output_text.delta",
        &[
            "item_id",
            "output_index",
            "content_index",
            "delta",
            "logprobs",
        ],
    ),
    (
        "response.output_text.done",
        &[
            "item_id",
            "output_index",
            "content_index",
            "text",
            "logprobs",
        ],
    ),
    (
        "response.function_call_arguments.delta",
        &["item_id", "output_index", "delta"],
    ),
    (
        "response.function_call_arguments.done",
        &["item_id", "output_index", "arguments"],
    ),
    (
        "response.reasoning_summary_part.added",
        &["item_id", "output_index", "summary_index", "part"],
    ),
    (
        "response.reasoning_summary_part.done",
        &["item_id", "output_index", "summary_index", "part"],
    ),
    (
        "response.reasoning_summary_text.delta",
        &["item_id", "output_index", "summary_index", "delta"],
    ),
    (
        "response.reasoning_summary_text.done",
        &["item_id", "output_index", "summary_index", "text"],
    ),
    (
        "response.refusal.delta",
        &["item_id", "output_index", "content_index", "delta"],
    ),
    (
        "response.refusal.done",
        &["item_id", "output_index", "content_index", "refusal"],
    ),
    (
        "response.custom_tool_call_input.delta",
        &["item_id", "output_index", "delta"],
    ),
    (
        "response.custom_tool_call_input.done",
        &["item_id", "output_index", "input"],
    ),
    ("error", &["message"]),
];

/// The events of an SSE body (`event: <type>\ndata: <json>\n\n` frames); each frame's event
/// name must be its data's `type`.
pub fn parse_events(sse: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(sse).unwrap();
    assert!(text.ends_with("\n\n"), "the body ends with a blank line");
    text.split_terminator("\n\n")
        .map(|frame| {
            let (name, data) = frame
                .strip_prefix("event: ")
                .and_then(|f| f.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("not an SSE frame: {frame:?}"));
            let event: Value = serde_json::from_str(data).unwrap();
            assert_eq!(event["type"], name, "event name and data type");
            event
        })
        .collect()
}

pub fn chunks_of(name: &str) -> Vec<ChatChunk> {
    fx().read(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Feed `chunks`, finish, and send the final event: the events and the final object.
pub fn run_stream(req: &ResponsesRequest, chunks: &[ChatChunk]) -> (Vec<Value>, Value) {
    let mut stream = ResponsesStream::new(echo(req), req.model.clone());
    let mut out = Vec::new();
    for chunk in chunks {
        stream.chunk(chunk.clone(), &mut out);
    }
    let response = stream.finish(&mut out);
    stream.completed(&response, &mut out);
    (parse_events(&out), response)
}

/// Whether `got` has every field of `want` with the same value (objects recursively, arrays
/// element by element and of the same length).
pub fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| g.get(k).is_some_and(|gv| contains(gv, wv))),
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(gv, wv)| contains(gv, wv))
        }
        _ => got == want,
    }
}

/// What a well-formed Responses stream guarantees a client, whatever the answer: contiguous
/// sequence numbers, `created` and `in_progress` first, items opened and closed one at a
/// time in output order, each part's deltas adding up to its done text, and a final
/// `response` whose output is exactly the items of the `output_item.done` events.
pub fn check_stream_shape(name: &str, events: &[Value]) {
    let required: BTreeMap<&str, &[&str]> = REQUIRED_FIELDS.iter().copied().collect();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e["sequence_number"],
            json!(i),
            "{name}: sequence_number of event {i}"
        );
        let kind = e["type"].as_str().unwrap();
        let fields = required
            .get(kind)
            .unwrap_or_else(|| panic!("{name}: unexpected event type {kind}"));
        for f in *fields {
            assert!(e.get(*f).is_some(), "{name}: event {i} ({kind}) lacks {f}");
        }
    }
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds[..2],
        ["response.created", "response.in_progress"],
        "{name}"
    );
    for e in &events[..2] {
        assert_eq!(e["response"]["id"], ID, "{name}");
        assert_eq!(e["response"]["status"], "in_progress", "{name}");
        assert_eq!(e["response"]["output"], json!([]), "{name}");
    }
    let last = events.last().unwrap();
    let terminal = ["response.completed", "response.incomplete"];
    assert!(
        terminal.contains(&last["type"].as_str().unwrap()),
        "{name}: ends with {}",
        last["type"]
    );
    assert!(
        kinds[..kinds.len() - 1]
            .iter()
            .all(|k| !terminal.contains(k) && *k != "response.failed" && *k != "error"),
        "{name}: one final event, at the end: {kinds:?}"
    );

    // Item by item.
    struct OpenItem {
        index: u64,
        id: String,
        kind: String,
        part_open: bool,
        text: String,
        /// The parts of the `…part.done` events, in order.
        parts: Vec<Value>,
        arguments: String,
        saw_input_delta: bool,
    }
    let mut open: Option<OpenItem> = None;
    let mut done_items: Vec<Value> = Vec::new();
    for (i, e) in events[2..events.len() - 1].iter().enumerate() {
        let i = i + 2;
        let kind = e["type"].as_str().unwrap();
        let at = format!("{name}: event {i} ({kind})");
        if kind == "response.output_item.added" {
            assert!(open.is_none(), "{at}: an item is still open");
            assert_eq!(
                e["output_index"],
                json!(done_items.len()),
                "{at}: output_index"
            );
            let item = &e["item"];
            open = Some(OpenItem {
                index: done_items.len() as u64,
                id: item["id"].as_str().unwrap().to_owned(),
                kind: item["type"].as_str().unwrap().to_owned(),
                part_open: false,
                text: String::new(),
                parts: Vec::new(),
                arguments: item["arguments"].as_str().unwrap_or_default().to_owned(),
                saw_input_delta: false,
            });
            continue;
        }
        let item = open
            .as_mut()
            .unwrap_or_else(|| panic!("{at}: no item is open"));
        assert_eq!(e["output_index"], json!(item.index), "{at}: output_index");
        if kind != "response.output_item.done" {
            assert_eq!(e["item_id"], json!(item.id), "{at}: item_id");
        }
        match kind {
            "response.content_part.added" | "response.reasoning_summary_part.added" => {
                assert!(!item.part_open, "{at}: a part is already open");
                item.part_open = true;
                item.text.clear();
            }
            "response.output_text.delta"
            | "response.reasoning_summary_text.delta"
            | "response.refusal.delta" => {
                assert!(item.part_open, "{at}: delta outside a part");
                item.text.push_str(e["delta"].as_str().unwrap());
            }
            "response.output_text.done" | "response.reasoning_summary_text.done" => {
                assert!(item.part_open, "{at}: done outside a part");
                assert_eq!(e["text"], json!(item.text), "{at}: the deltas add up");
            }
            "response.refusal.done" => {
                assert_eq!(e["refusal"], json!(item.text), "{at}: the deltas add up");
            }
            "response.content_part.done" | "response.reasoning_summary_part.done" => {
                assert!(item.part_open, "{at}: no part is open");
                let part = &e["part"];
                let text = part.get("text").or_else(|| part.get("refusal")).unwrap();
                assert_eq!(text, &json!(item.text), "{at}: part text");
                item.parts.push(part.clone());
                item.part_open = false;
            }
            "response.function_call_arguments.delta" => {
                item.arguments.push_str(e["delta"].as_str().unwrap());
            }
            "response.custom_tool_call_input.delta" => {
                item.arguments.push_str(e["delta"].as_str().unwrap());
                item.saw_input_delta = true;
            }
            "response.function_call_arguments.done" => {
                assert_eq!(e["arguments"], json!(item.arguments), "{at}");
            }
            "response.custom_tool_call_input.done" => {
                if item.saw_input_delta {
                    assert_eq!(e["input"], json!(item.arguments), "{at}: the deltas add up");
                }
                item.arguments = e["input"].as_str().unwrap().to_owned();
                item.saw_input_delta = true;
            }
            "response.output_item.done" => {
                assert!(!item.part_open, "{at}: a part is still open");
                let done = &e["item"];
                assert_eq!(done["id"], json!(item.id), "{at}: item id");
                assert_eq!(done["type"], json!(item.kind), "{at}: item type");
                // The done item holds exactly what was streamed into it.
                match item.kind.as_str() {
                    "message" => {
                        assert_eq!(done["content"], json!(item.parts), "{at}: streamed parts");
                    }
                    "reasoning" => {
                        assert_eq!(done["summary"], json!(item.parts), "{at}: streamed summary");
                    }
                    "function_call" => {
                        assert_eq!(done["arguments"], json!(item.arguments), "{at}: arguments");
                    }
                    "custom_tool_call" => {
                        assert!(
                            item.saw_input_delta,
                            "{at}: no custom_tool_call_input event"
                        );
                        assert_eq!(done["input"], json!(item.arguments), "{at}: input");
                    }
                    other => panic!("{at}: unexpected item type {other}"),
                }
                done_items.push(done.clone());
                open = None;
            }
            other => panic!("{at}: unexpected {other} inside an item"),
        }
    }
    assert!(open.is_none(), "{name}: an item was never closed");
    assert_eq!(
        last["response"]["output"],
        json!(done_items),
        "{name}: the final output is the done items"
    );
    assert_eq!(last["response"]["id"], ID, "{name}");
}

pub fn chunk(delta: Value, finish: Option<&str>) -> ChatChunk {
    serde_json::from_value(json!({
        "id": "chatcmpl-C3ZsD9y4Nt7Vp0Xd3Ze6Mf8Hi1Jl", "object": "chat.completion.chunk",
        "created": CREATED_AT, "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
    }))
    .unwrap()
}
