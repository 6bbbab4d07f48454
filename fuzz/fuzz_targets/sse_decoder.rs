//! Arbitrary bytes, split at an arbitrary point, through the SSE decoder and every SSE-based
//! dialect's stream translator: nothing may panic, and splitting must not change the events.
#![no_main]

use heimdall_dialects::anthropic::stream::AnthropicStream;
use heimdall_dialects::cohere::stream::CohereStream;
use heimdall_dialects::gemini::stream::GeminiStream;
use heimdall_dialects::sse::SseDecoder;
use heimdall_dialects::event::translate_transcript;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (whole, mut pieces) = (Vec::new(), Vec::new());
    let mut whole = whole;
    SseDecoder::new().feed(data, &mut whole);
    let mut d = SseDecoder::new();
    d.feed(&data[..split], &mut pieces);
    d.feed(&data[split..], &mut pieces);
    assert_eq!(whole, pieces, "splitting the input changed the events");

    let _ = translate_transcript(&mut AnthropicStream::new("p", 0), data);
    let _ = translate_transcript(&mut CohereStream::new("m", 0), data);
    let _ = translate_transcript(&mut GeminiStream::new("m", 0), data);
});
