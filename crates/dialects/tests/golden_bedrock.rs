//! Golden fixtures for the Bedrock Converse translators (shapes from the AWS Bedrock Runtime
//! API reference; sources in `fixtures/bedrock/README.md`). Stream transcripts are the decoded
//! event-stream messages; `event_stream_frames_round_trip` covers the binary framing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use golden::Fixtures;
use heimdall_dialects::bedrock::request::to_converse_request;
use heimdall_dialects::bedrock::response::from_converse_response;
use heimdall_dialects::bedrock::stream::{
    BedrockEvent, BedrockStream, decode_all, translate_events,
};
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use serde_json::Value;

const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

fn fx() -> Fixtures {
    Fixtures::of("bedrock")
}

#[test]
fn requests_translate_to_converse_bodies() {
    for case in fx().cases("req", ".openai.json") {
        let req: ChatRequest =
            serde_json::from_value(fx().json(&format!("req_{case}.openai.json"))).unwrap();
        let got = to_converse_request(&req).unwrap();
        let want = fx().json(&format!("req_{case}.bedrock.json"));
        assert_eq!(got, want, "req_{case}\n got: {got:#}\nwant: {want:#}");
    }
}

#[test]
fn responses_translate_to_chat_completions() {
    for case in fx().cases("resp", ".bedrock.json") {
        let got = from_converse_response(
            &fx().json(&format!("resp_{case}.bedrock.json")),
            "test-id",
            MODEL,
            0,
        );
        let want: ChatResponse =
            serde_json::from_value(fx().json(&format!("resp_{case}.openai.json"))).unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "resp_{case}"
        );
    }
}

fn events(case: &str) -> Vec<BedrockEvent> {
    let Value::Array(list) = fx().json(&format!("stream_{case}.bedrock.json")) else {
        panic!("stream_{case}: not an array");
    };
    list.into_iter()
        .map(|e| match (e.get("event"), e.get("exception")) {
            (Some(kind), _) => BedrockEvent {
                kind: kind.as_str().unwrap().to_owned(),
                exception: false,
                payload: e["payload"].clone(),
            },
            (None, Some(kind)) => BedrockEvent {
                kind: kind.as_str().unwrap().to_owned(),
                exception: true,
                payload: e["payload"].clone(),
            },
            _ => panic!("stream_{case}: entry without event or exception"),
        })
        .collect()
}

#[test]
fn stream_transcripts_translate_to_chunk_sequences() {
    for case in fx().cases("stream", ".bedrock.json") {
        let mut t = BedrockStream::new("test-id", MODEL, 0);
        let (chunks, end) = translate_events(&mut t, &events(&case));
        fx().check_stream(&format!("stream_{case}.openai.jsonl"), &chunks, end);
    }
}

fn frame(ev: &BedrockEvent) -> Vec<u8> {
    let headers: Vec<(&str, &str)> = if ev.exception {
        vec![
            (":message-type", "exception"),
            (":exception-type", &ev.kind),
        ]
    } else {
        vec![(":message-type", "event"), (":event-type", &ev.kind)]
    };
    let mut m = Message::new(ev.payload.to_string());
    for (k, v) in headers {
        m = m.add_header(Header::new(
            k.to_owned(),
            HeaderValue::String(v.to_owned().into()),
        ));
    }
    let mut buf = Vec::new();
    write_message_to(&m, &mut buf).unwrap();
    buf
}

#[test]
fn event_stream_frames_round_trip_and_corruption_is_an_error() {
    for case in fx().cases("stream", ".bedrock.json") {
        let evs = events(&case);
        let bytes: Vec<u8> = evs.iter().flat_map(frame).collect();
        assert_eq!(decode_all(&bytes).unwrap(), evs, "stream_{case}");
        let mut corrupt = bytes.clone();
        let mid = corrupt.len() / 2;
        corrupt[mid] ^= 0xff;
        assert!(
            decode_all(&corrupt).is_err(),
            "stream_{case}: a flipped byte fails the CRC"
        );
    }
}
