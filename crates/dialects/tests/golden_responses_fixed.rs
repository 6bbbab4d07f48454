//! Cases the golden fixtures once found to deviate from OpenAI's reference (fixed; the
//! README in `fixtures/responses/` lists them). Each test states what the reference or the
//! openai-python SDK expects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;
mod responses_support;

use heimdall_dialects::responses::{to_chat, to_response};
use heimdall_schema::chat::ChatResponse;
use responses_support::*;
use serde_json::json;

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
