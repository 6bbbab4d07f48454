//! Property tests: no input panics a stream state machine. Every recorded transcript of every
//! dialect is cut, split and corrupted at seeded random points (thousands of variants) and fed
//! to the decoders and translators; each must end with chunks and a clean end or a typed
//! error. (`fuzz/` runs the same decoders under libFuzzer for open-ended searching.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use golden::Fixtures;
use heimdall_dialects::anthropic::stream::AnthropicStream;
use heimdall_dialects::bedrock::stream::{BedrockStream, decode_all, translate_events};
use heimdall_dialects::cohere::stream::CohereStream;
use heimdall_dialects::event::translate_transcript;
use heimdall_dialects::gemini::stream::GeminiStream;
use heimdall_dialects::sse::SseDecoder;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Variants of `input`: truncated, byte-flipped, bytes inserted, lines dropped or swapped.
fn variants(input: &[u8], rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    let mut out = vec![input.to_vec(), Vec::new()];
    for _ in 0..n {
        let mut v = input.to_vec();
        for _ in 0..=rng.below(4) {
            match rng.below(5) {
                0 => v.truncate(rng.below(v.len() + 1)),
                1 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v[i] ^= 1 << rng.below(8);
                }
                2 => {
                    let i = rng.below(v.len() + 1);
                    let junk = [b'{', b'}', b'"', b'\n', b'\r', b':', 0xff, b'[', b'0'];
                    v.insert(i, junk[rng.below(junk.len())]);
                }
                3 => {
                    let lines: Vec<&[u8]> = v.split(|b| *b == b'\n').collect();
                    let skip = rng.below(lines.len());
                    v = lines
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != skip)
                        .flat_map(|(_, l)| l.iter().copied().chain(std::iter::once(b'\n')))
                        .collect();
                }
                _ => {
                    let a = rng.below(v.len() + 1);
                    let b = rng.below(v.len() + 1);
                    let (a, b) = (a.min(b), a.max(b));
                    v[a..b].reverse();
                }
            }
        }
        out.push(v);
    }
    out
}

fn transcripts(dir: &str, suffix: &str) -> Vec<Vec<u8>> {
    let fx = Fixtures::of(dir);
    fx.cases("stream", suffix)
        .iter()
        .map(|c| fx.read(&format!("stream_{c}{suffix}")).into_bytes())
        .collect()
}

#[test]
fn sse_translators_never_panic_on_mutated_transcripts() {
    let mut rng = Rng(0x5EED_0001);
    let mut inputs = Vec::new();
    for (dir, suffix) in [
        ("anthropic", ".anthropic.sse"),
        ("cohere", ".cohere.sse"),
        ("gemini", ".gemini.sse"),
    ] {
        for t in transcripts(dir, suffix) {
            inputs.extend(variants(&t, &mut rng, 400));
        }
    }
    for input in &inputs {
        // The decoder gives the same events however the bytes are split.
        let split = rng.below(input.len() + 1);
        let mut whole = Vec::new();
        SseDecoder::new().feed(input, &mut whole);
        let mut parts = Vec::new();
        let mut d = SseDecoder::new();
        d.feed(&input[..split], &mut parts);
        d.feed(&input[split..], &mut parts);
        assert_eq!(whole, parts);
        let _ = translate_transcript(&mut AnthropicStream::new("p", 0), input);
        let _ = translate_transcript(&mut CohereStream::new("m", 0), input);
        let _ = translate_transcript(&mut GeminiStream::new("m", 0), input);
    }
    assert!(inputs.len() > 3000);
}

#[test]
fn the_event_stream_decoder_never_panics_on_mutated_frames() {
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let fx = Fixtures::of("bedrock");
    let mut rng = Rng(0x5EED_0002);
    let mut checked = 0;
    for case in fx.cases("stream", ".bedrock.json") {
        let events: Vec<serde_json::Value> =
            serde_json::from_str(&fx.read(&format!("stream_{case}.bedrock.json"))).unwrap();
        let mut bytes = Vec::new();
        for e in &events {
            let kind = e["event"]
                .as_str()
                .or(e["exception"].as_str())
                .unwrap_or("x");
            let m = Message::new(e["payload"].to_string())
                .add_header(Header::new(
                    ":event-type",
                    HeaderValue::String(kind.to_owned().into()),
                ))
                .add_header(Header::new(
                    ":message-type",
                    HeaderValue::String("event".into()),
                ));
            write_message_to(&m, &mut bytes).unwrap();
        }
        for input in variants(&bytes, &mut rng, 500) {
            if let Ok(events) = decode_all(&input) {
                let _ = translate_events(&mut BedrockStream::new("id", "m", 0), &events);
            }
            checked += 1;
        }
    }
    assert!(checked > 1500);
}
