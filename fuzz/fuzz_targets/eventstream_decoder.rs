//! Arbitrary bytes through the AWS event-stream decoder and the Bedrock stream translator:
//! nothing may panic.
#![no_main]

use heimdall_dialects::bedrock::stream::{BedrockStream, decode_all, translate_events};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = decode_all(data) {
        let _ = translate_events(&mut BedrockStream::new("id", "m", 0), &events);
    }
});
