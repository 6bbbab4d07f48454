//! Golden fixtures for the OpenAI Responses API translation (shapes from OpenAI's published API
//! reference and the openai-python types; sources in `fixtures/responses/README.md`): Responses
//! request → canonical chat request, chat answer → `response` object, chat chunks → typed
//! Responses stream events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;
mod responses_support;

use heimdall_dialects::responses::{ResponsesStream, to_chat};
use heimdall_schema::chat::ChatResponse;
use heimdall_schema::error::{ErrorKind, GatewayError};
use responses_support::*;
use serde_json::{Value, json};

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
