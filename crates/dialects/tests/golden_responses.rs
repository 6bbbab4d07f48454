//! Golden fixtures for the OpenAI Responses API translation (shapes from OpenAI's published API
//! reference and the openai-python types; sources in `fixtures/responses/README.md`): Responses
//! request → canonical chat request, chat answer → `response` object, chat chunks → typed
//! Responses stream events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use std::collections::BTreeMap;

use golden::Fixtures;
use heimdall_dialects::responses::{Echo, ResponsesRequest, ResponsesStream, to_chat, to_response};
use heimdall_schema::chat::{ChatChunk, ChatResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::{Value, json};

/// The fixed id and creation time every `resp_*` and `stream_*` case is built with.
const ID: &str = "resp_0123";
const CREATED_AT: u64 = 1_741_476_542;

fn fx() -> Fixtures {
    Fixtures::of("responses")
}

/// `name` if the case has that optional file.
fn optional(name: &str) -> Option<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/responses")
        .join(name);
    path.exists().then(|| fx().json(name))
}

fn request(body: Value) -> ResponsesRequest {
    serde_json::from_value(body).unwrap()
}

fn echo(req: &ResponsesRequest) -> Echo {
    Echo::of(req, ID.to_owned(), CREATED_AT)
}

fn same(got: &Value, want: &Value, what: &str) {
    assert_eq!(got, want, "{what}\n got: {got:#}\nwant: {want:#}");
}

// ------------------------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------------------------

#[test]
fn requests_translate_to_canonical_chat_requests() {
    for case in fx().cases("req", ".responses.json") {
        let req = request(fx().json(&format!("req_{case}.responses.json")));
        let history = optional(&format!("req_{case}.history.json"))
            .map(|h| h.as_array().unwrap().clone())
            .unwrap_or_default();
        let t = to_chat(&req, &history).unwrap_or_else(|e| panic!("req_{case}: {e:?}"));
        let want = fx().json(&format!("req_{case}.chat.json"));
        same(
            &serde_json::to_value(&t.chat).unwrap(),
            &want,
            &format!("req_{case}"),
        );
        let ignored = optional(&format!("req_{case}.ignored.json")).unwrap_or(json!([]));
        assert_eq!(json!(t.ignored), ignored, "req_{case}: ignored tools");
    }
}

#[test]
fn input_items_are_the_requests_own_input_in_item_form() {
    // A string is one user message with an `input_text` part.
    let req = request(fx().json("req_string_input.responses.json"));
    let t = to_chat(&req, &[]).unwrap();
    assert_eq!(
        json!(t.input_items),
        json!([{"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "Are semicolons optional in JavaScript?"}]}])
    );

    // Messages with string content take the part form (`input_text`, `output_text` for the
    // assistant); other items are kept as sent.
    let body = fx().json("req_function_calls.responses.json");
    let t = to_chat(&request(body.clone()), &[]).unwrap();
    let sent = body["input"].as_array().unwrap();
    assert_eq!(t.input_items.len(), sent.len());
    assert_eq!(
        t.input_items[0],
        json!({"type": "message", "role": "developer",
               "content": [{"type": "input_text", "text": "Use the tools to answer questions about the weather."}]})
    );
    assert_eq!(&t.input_items[2..], &sent[2..]);

    // With previous_response_id, only this request's input is returned (the history is stored).
    let req = request(fx().json("req_history.responses.json"));
    let history = fx().json("req_history.history.json");
    let t = to_chat(&req, history.as_array().unwrap()).unwrap();
    assert_eq!(
        json!(t.input_items),
        fx().json("req_history.responses.json")["input"]
    );
}

#[test]
fn instructions_of_the_stored_response_are_not_carried_over() {
    // The reference: "When using along with previous_response_id, the instructions from a
    // previous response will not be carried over to the next response." The stored history
    // is items only, so without `instructions` on this request there is no system message.
    let mut body = fx().json("req_history.responses.json");
    body.as_object_mut().unwrap().remove("instructions");
    let history = fx().json("req_history.history.json");
    let t = to_chat(&request(body), history.as_array().unwrap()).unwrap();
    let chat = serde_json::to_value(&t.chat).unwrap();
    let roles: Vec<&str> = chat["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool"]);
}

/// `patch` merged over a minimal valid request.
fn refused(patch: Value) -> GatewayError {
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

#[test]
fn untranslatable_requests_are_client_errors_naming_the_field() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}},
                        "required": ["a"], "additionalProperties": false});
    let cases = [
        (json!({"background": true}), "background"),
        (
            json!({"conversation": "conv_689667905b048191b4740501625afd940c7533ace33a2dab"}),
            "conversation",
        ),
        (
            json!({"conversation": {"id": "conv_689667905b048191b4740501625afd940c7533ace33a2dab"}}),
            "conversation",
        ),
        (
            json!({"prompt": {"id": "pmpt_abc123", "version": "2",
                              "variables": {"customer_name": "Jane Doe"}}}),
            "prompt",
        ),
        (
            json!({"input": [{"type": "item_reference", "id": "msg_123"}]}),
            "input[0].type",
        ),
        (
            json!({"input": [
                {"role": "user", "content": "Hi"},
                {"type": "mcp_approval_response",
                 "approval_request_id": "mcpr_682d498e3bd4819196a0ce1664f8e77b", "approve": true}
            ]}),
            "input[1].type",
        ),
        (
            json!({"tool_choice": {"type": "file_search"}}),
            "tool_choice",
        ),
        (json!({"tool_choice": {"type": "function"}}), "tool_choice"),
        (json!({"tool_choice": 1}), "tool_choice"),
        (
            json!({"text": {"format": {"type": "json_schema", "schema": schema, "strict": true}}}),
            "text.format.name",
        ),
        (
            json!({"text": {"format": {"type": "yaml"}}}),
            "text.format.type",
        ),
        (json!({"input": 42}), "input"),
        (json!({"input": {"role": "user", "content": "Hi"}}), "input"),
        (json!({"input": []}), "input"),
        (
            json!({"input": [{"role": "tool", "content": "Hi"}]}),
            "input[0].role",
        ),
        (
            json!({"input": [{"role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "file_id": "file-6F2ksmvXxt4VdoqmHRw6kL", "detail": "auto"}
            ]}]}),
            "input[0].content[1].image_url",
        ),
        (
            json!({"input": [{"type": "function_call_output", "call_id": "call_1"}]}),
            "input[0].output",
        ),
        (
            json!({"tools": [{"type": "function", "parameters": {}, "strict": true}]}),
            "tools[0].name",
        ),
        (json!({"model": ""}), "model"),
        (json!({"temperature": 2.5}), "temperature"),
    ];
    for (patch, param) in cases {
        let e = refused(patch.clone());
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{patch}: {e:?}");
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some(param)),
            "{patch}: {e:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Responses
// ------------------------------------------------------------------------------------------

/// The response object as the client sees it (`encrypted_content` only when included).
fn shown(req: &ResponsesRequest, answer: &ChatResponse) -> Value {
    let e = echo(req);
    let mut v = to_response(&e, answer);
    e.client_view(&mut v);
    v
}

#[test]
fn chat_answers_translate_to_response_objects() {
    for case in fx().cases("resp", ".chat.json") {
        let req = request(fx().json(&format!("resp_{case}.request.json")));
        let answer: ChatResponse =
            serde_json::from_value(fx().json(&format!("resp_{case}.chat.json"))).unwrap();
        let got = shown(&req, &answer);
        same(
            &got,
            &fx().json(&format!("resp_{case}.responses.json")),
            &format!("resp_{case}"),
        );
    }
}

// ------------------------------------------------------------------------------------------
// Streams
// ------------------------------------------------------------------------------------------

/// The fields every event type carries, from the openai-python event models
/// (`openai/types/responses/response_*_event.py`).
const REQUIRED_FIELDS: &[(&str, &[&str])] = &[
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
fn parse_events(sse: &[u8]) -> Vec<Value> {
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

fn chunks_of(name: &str) -> Vec<ChatChunk> {
    fx().read(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Feed `chunks`, finish, and send the final event: the events and the final object.
fn run_stream(req: &ResponsesRequest, chunks: &[ChatChunk]) -> (Vec<Value>, Value) {
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
fn contains(got: &Value, want: &Value) -> bool {
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
fn check_stream_shape(name: &str, events: &[Value]) {
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

#[test]
fn chunk_streams_translate_to_response_events() {
    for case in fx().cases("stream", ".chunks.jsonl") {
        let name = format!("stream_{case}");
        let req = request(fx().json(&format!("{name}.request.json")));
        let (events, response) = run_stream(&req, &chunks_of(&format!("{name}.chunks.jsonl")));
        check_stream_shape(&name, &events);
        assert_eq!(
            events.last().unwrap()["response"],
            response,
            "{name}: the final event carries the object finish() returned"
        );
        let want: Vec<Value> = fx()
            .read(&format!("{name}.events.jsonl"))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let types = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|e| e["type"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(types(&events), types(&want), "{name}: event types");
        for (i, (g, w)) in events.iter().zip(&want).enumerate() {
            assert!(
                contains(g, w),
                "{name}: event {i}\n got: {g:#}\nwant (subset): {w:#}"
            );
        }
    }
}

#[test]
fn a_stream_answer_matches_the_same_answer_unstreamed() {
    // The stream's final object and `to_response` of the joined answer agree (the route stores
    // either one for `previous_response_id`).
    let answer = |model: &str, message: Value, finish: &str, usage: Value| -> ChatResponse {
        serde_json::from_value(json!({
            "id": "chatcmpl-0", "object": "chat.completion", "created": CREATED_AT, "model": model,
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": null, "message": message}],
            "usage": usage
        }))
        .unwrap()
    };
    let cases = [
        (
            "stream_tool_calls",
            answer(
                "gpt-4.1-2025-04-14",
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_12345xyz", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}"}},
                    {"id": "call_67890abc", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"location\":\"Bogotá, Colombia\"}"}}]}),
                "tool_calls",
                json!({"prompt_tokens": 1183, "completion_tokens": 47, "total_tokens": 1230,
                       "prompt_tokens_details": {"cached_tokens": 1024}}),
            ),
        ),
        (
            "stream_reasoning",
            answer(
                "claude-sonnet-4-5-20250929",
                json!({"role": "assistant", "content": "17 × 23 = **391**.",
                       "reasoning_content": "17 × 23: 17 × 20 = 340 and 17 × 3 = 51, so the product is 340 + 51 = 391. Check: 391 / 23 = 17.",
                       "thinking_blocks": [{"type": "thinking",
                           "thinking": "17 × 23: 17 × 20 = 340 and 17 × 3 = 51, so the product is 340 + 51 = 391. Check: 391 / 23 = 17.",
                           "signature": "ErUBCkYIBRgCIkD3m9Qx7cVt2LpZr8WkHn4sYe1oTa6uJf0gBd5iKl3NqXvMw2yPzCh7RbEj9UxG4sDk8FnLp0OqVw6Ta1Zr"}]}),
                "stop",
                json!({"prompt_tokens": 45, "completion_tokens": 210, "total_tokens": 255,
                       "completion_tokens_details": {"reasoning_tokens": 180}}),
            ),
        ),
    ];
    for (name, whole) in cases {
        let req = request(fx().json(&format!("{name}.request.json")));
        let (_, streamed) = run_stream(&req, &chunks_of(&format!("{name}.chunks.jsonl")));
        same(&streamed, &shown(&req, &whole), name);
    }
}

#[test]
fn a_failure_after_the_start_ends_with_failed_then_error_never_completed() {
    let req = request(fx().json("stream_text.request.json"));
    let chunks = chunks_of("stream_text.chunks.jsonl");
    let mut stream = ResponsesStream::new(echo(&req), req.model.clone());
    let mut out = Vec::new();
    for chunk in &chunks[..3] {
        stream.chunk(chunk.clone(), &mut out);
    }
    let mut e = GatewayError::new(ErrorKind::UpstreamStreamError, "Overloaded");
    e.code = Some("overloaded_error".to_owned());
    stream.fail(&e, &mut out);
    let events = parse_events(&out);

    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.failed",
            "error",
        ]
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], json!(i));
    }
    let failed = &events[6]["response"];
    assert_eq!(failed["id"], ID);
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error"],
        json!({"code": "overloaded_error", "message": "Overloaded"})
    );
    assert_eq!(failed["incomplete_details"], Value::Null);
    let error = &events[7];
    assert_eq!(error["code"], "overloaded_error");
    assert_eq!(error["message"], "Overloaded");
    assert_eq!(error["param"], Value::Null);
    assert!(!kinds.contains(&"response.completed"));

    // Failing before any chunk still opens the stream first.
    let mut stream = ResponsesStream::new(echo(&req), req.model.clone());
    let mut out = Vec::new();
    stream.fail(&e, &mut out);
    let kinds: Vec<String> = parse_events(&out)
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.failed",
            "error"
        ]
    );
}

#[test]
fn a_custom_tool_choice_names_the_function_the_tool_became() {
    let mut body = fx().json("req_codex.responses.json");
    body["tool_choice"] = json!({"type": "custom", "name": "apply_patch"});
    let t = to_chat(&request(body), &[]).unwrap();
    assert_eq!(
        serde_json::to_value(&t.chat).unwrap()["tool_choice"],
        json!({"type": "function", "function": {"name": "apply_patch"}})
    );
}

// ------------------------------------------------------------------------------------------
// Cases once found to deviate from the reference (fixed; the README lists them). Each test
// states what OpenAI's reference or SDK expects.
// ------------------------------------------------------------------------------------------

fn chunk(delta: Value, finish: Option<&str>) -> ChatChunk {
    serde_json::from_value(json!({
        "id": "chatcmpl-C3ZsD9y4Nt7Vp0Xd3Ze6Mf8Hi1Jl", "object": "chat.completion.chunk",
        "created": CREATED_AT, "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
    }))
    .unwrap()
}

#[test]

fn a_tool_choice_outside_the_documented_options_is_refused() {
    // ToolChoiceOptions = Literal["none", "auto", "required"] (openai-python).
    let e = refused(
        json!({"tools": [fx().json("req_tools_named.responses.json")["tools"][0]],
                           "tool_choice": "sometimes"}),
    );
    assert_eq!((e.status, e.param.as_deref()), (400, Some("tool_choice")));
}

#[test]

fn an_input_file_by_url_is_not_dropped_silently() {
    // ResponseInputFileParam has file_url ("The URL of the file to be sent to the model");
    // chat completions' file part has no URL, so the part must be refused, not emptied.
    let url = "https://www.berkshirehathaway.com/letters/2024ltr.pdf";
    let body = json!({"model": "gpt-4.1", "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "Summarise this letter."},
        {"type": "input_file", "filename": "2024ltr.pdf", "file_url": url}]}]});
    match to_chat(&request(body), &[]) {
        Err(e) => assert!(
            e.param
                .as_deref()
                .is_some_and(|p| p.starts_with("input[0].content[1]")),
            "{e:?}"
        ),
        Ok(t) => {
            let chat = serde_json::to_string(&t.chat).unwrap();
            assert!(chat.contains(url), "the URL was dropped: {chat}");
        }
    }
}

#[test]

fn an_item_reference_without_type_is_refused_as_an_item_reference() {
    // ItemReference = {id: Required[str], type: Optional[Literal["item_reference"]]}.
    let e = refused(json!({"input": [{"id": "msg_68af1a2b3c4d5e73"}]}));
    assert_eq!(e.status, 400);
    assert!(e.message.contains("item_reference"), "{e:?}");
}

#[test]

fn usage_has_every_field_the_sdk_requires() {
    // openai-python ResponseUsage.InputTokensDetails: cache_write_tokens: int, cached_tokens: int.
    let req = request(fx().json("resp_text.request.json"));
    let answer: ChatResponse = serde_json::from_value(fx().json("resp_text.chat.json")).unwrap();
    let got = to_response(&echo(&req), &answer);
    let details = &got["usage"]["input_tokens_details"];
    assert!(details.get("cache_write_tokens").is_some(), "{details}");
}

#[test]

fn a_streamed_refusal_streams_a_refusal_part() {
    // Reference: content_part.added {part: {type: refusal}}, response.refusal.delta …,
    // response.refusal.done {refusal}, content_part.done {part: {type: refusal, refusal}}.
    let req = request(
        json!({"model": "gpt-4o-2024-08-06", "input": "How do I pick a lock?",
                             "stream": true}),
    );
    let chunks = [
        chunk(
            json!({"role": "assistant", "content": null, "refusal": null}),
            None,
        ),
        chunk(json!({"refusal": "I'm sorry, "}), None),
        chunk(json!({"refusal": "I can't help with that."}), None),
        chunk(json!({}), Some("stop")),
    ];
    let (events, _) = run_stream(&req, &chunks);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.refusal.delta",
            "response.refusal.delta",
            "response.refusal.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(events[3]["part"]["type"], "refusal");
    check_stream_shape("stream refusal", &events);
}

#[test]

fn a_streamed_custom_tool_call_reports_its_input() {
    // Reference: response.custom_tool_call_input.delta / .done (item_id, output_index,
    // delta / input) between the item's added and done events.
    let req = request(fx().json("resp_custom_tool.request.json"));
    let chunks = [
        chunk(json!({"role": "assistant", "content": null}), None),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_patch0001", "type": "function",
                                   "function": {"name": "apply_patch", "arguments": ""}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"input\":\"*** Begin Patch\\n"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "*** End Patch\\n\"}"}}]}),
            None,
        ),
        chunk(json!({}), Some("tool_calls")),
    ];
    let (events, response) = run_stream(&req, &chunks);
    assert_eq!(
        response["output"][0]["input"],
        "*** Begin Patch\n*** End Patch\n"
    );
    check_stream_shape("stream custom tool", &events);
}

#[test]

fn a_streamed_reasoning_item_without_text_is_consistent() {
    // A provider's redacted (encrypted) reasoning block streams no text: the summary part
    // opened and closed at summary_index 0 is missing from the done item (`summary: []`).
    let req = request(fx().json("stream_reasoning.request.json"));
    let chunks = [
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(
            json!({"thinking_blocks": [{"type": "redacted_thinking",
                                        "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"}]}),
            None,
        ),
        chunk(json!({"content": "Hello."}), None),
        chunk(json!({}), Some("stop")),
    ];
    let (events, _) = run_stream(&req, &chunks);
    check_stream_shape("stream redacted reasoning", &events);
}

#[test]

fn signed_reasoning_survives_a_round_trip_through_response_items() {
    // Anthropic (the provider whose signatures `encrypted_content` carries) needs every
    // thinking / redacted_thinking block of a tool-use turn back unmodified. Today the blocks
    // collapse into one reasoning item: the texts joined, the first signature kept, the
    // redacted block's data lost — the next turn's single block no longer matches its
    // signature.
    let blocks = json!([
        {"type": "thinking", "thinking": "The user wants the weather.", "signature": "EqQBCkYIBxgCKkBsigA"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
        {"type": "thinking", "thinking": "I will call get_weather.", "signature": "EqQBCkYIBxgCKkBsigB"}
    ]);
    let req = request(
        json!({"model": "claude-sonnet-4-5", "input": "Weather in Paris?",
                             "include": ["reasoning.encrypted_content"], "store": false}),
    );
    let answer: ChatResponse = serde_json::from_value(json!({
        "id": "msg_01", "object": "chat.completion", "created": CREATED_AT,
        "model": "claude-sonnet-4-5-20250929",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null, "message": {
            "role": "assistant", "content": null, "thinking_blocks": blocks,
            "tool_calls": [{"id": "toolu_01", "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]}}]
    }))
    .unwrap();
    let output = to_response(&echo(&req), &answer)["output"].clone();
    let mut next = output.as_array().unwrap().clone();
    next.push(json!({"type": "function_call_output", "call_id": "toolu_01", "output": "18°C"}));
    let t = to_chat(
        &request(json!({"model": "claude-sonnet-4-5", "input": next})),
        &[],
    )
    .unwrap();
    let chat = serde_json::to_value(&t.chat).unwrap();
    assert_eq!(chat["messages"][0]["thinking_blocks"], blocks);
}
