//! Incremental Server-Sent Events decoder.
//!
//! Why our own: upstream bytes arrive in arbitrary pieces (a chunk may end mid-line or hold
//! several events), and we must hand each complete `data:` payload on as soon as its blank line
//! arrives — never buffer the whole stream. The decoder is a pure state machine fed byte slices,
//! so it is tested and fuzzed without IO. It follows the WHATWG event-stream rules that matter for
//! LLM APIs: `\n`, `\r\n` and `\r` line ends, multi-line `data:` joined with `\n`, comments
//! (`:`) ignored, `event:` kept for dialects that use it (Anthropic, Cohere).

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
}

impl SseEvent {
    /// Append the event as SSE frames (`event:` if any, one `data:` per line, a blank line):
    /// what a dialect keeps to forward an upstream stream as it was sent.
    pub fn write_frame(&self, out: &mut String) {
        if let Some(name) = &self.event {
            out.push_str("event: ");
            out.push_str(name);
            out.push('\n');
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
}

/// Feeds bytes in, yields complete events.
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    event: Option<String>,
    last_was_cr: bool,
    /// The largest unfinished event held: an upstream that never ends its event must not
    /// make the gateway buffer without bound.
    cap: usize,
    oversized: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_cap(usize::MAX)
    }
}

impl SseDecoder {
    /// A fresh decoder without a size bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh decoder that refuses an event larger than `cap` bytes (see [`Self::is_oversized`]).
    pub fn with_cap(cap: usize) -> Self {
        Self {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            event: None,
            last_was_cr: false,
            cap,
            oversized: false,
        }
    }

    /// The largest event this decoder holds, in bytes.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Whether an event grew past the cap; the decoder then drops further input.
    pub fn is_oversized(&self) -> bool {
        self.oversized
    }

    /// Feed a slice; complete events are pushed onto `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        if self.oversized {
            return;
        }
        let mut rest = bytes;
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', rest) {
            let (head, tail) = rest.split_at(pos);
            let Some((&terminator, tail)) = tail.split_first() else {
                break;
            };
            if head.is_empty() && terminator == b'\n' && self.last_was_cr && self.line.is_empty() {
                // The `\n` of a `\r\n` pair: already ended the line at `\r`.
                self.last_was_cr = false;
                rest = tail;
                continue;
            }
            self.line.extend_from_slice(head);
            self.last_was_cr = terminator == b'\r';
            self.finish_line(out);
            rest = tail;
        }
        if !rest.is_empty() {
            self.last_was_cr = false;
            self.line.extend_from_slice(rest);
        }
        if self.line.len() + self.data.len() > self.cap {
            self.oversized = true;
            self.line = Vec::new();
            self.data = String::new();
        }
    }

    /// Whether bytes of an unfinished event are pending (a stream that ends here was cut).
    pub fn has_pending(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }

    fn finish_line(&mut self, out: &mut Vec<SseEvent>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                });
                self.has_data = false;
            } else {
                self.event = None;
            }
            self.line = line;
            return;
        }
        if line.first() == Some(&b':') {
            self.line = reuse(line);
            return;
        }
        let (field, value) = match memchr::memchr(b':', &line) {
            Some(i) => {
                let (f, v) = line.split_at(i);
                let v = v.get(1..).unwrap_or_default();
                (f, v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line.as_slice(), &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
        self.line = reuse(line);
    }
}

fn reuse(mut v: Vec<u8>) -> Vec<u8> {
    v.clear();
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            d.feed(chunk, &mut out);
        }
        out
    }

    #[test]
    fn splits_events_whatever_the_piece_size() {
        let input =
            b"data: {\"a\":1}\n\n: keepalive\n\nevent: ping\ndata: x\ndata: y\n\ndata: [DONE]\n\n";
        for piece in 1..input.len() {
            let events = decode_in_pieces(input, piece);
            assert_eq!(events.len(), 3, "piece size {piece}");
            assert_eq!(events[0].data, "{\"a\":1}");
            assert_eq!(events[1].event.as_deref(), Some("ping"));
            assert_eq!(events[1].data, "x\ny");
            assert_eq!(events[2].data, "[DONE]");
        }
    }

    #[test]
    fn handles_crlf_and_cr_line_ends() {
        let events = decode_in_pieces(b"data: a\r\n\r\ndata: b\r\rdata:c\n\n", 3);
        let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["a", "b", "c"]);
    }

    #[test]
    fn refuses_an_event_that_never_ends() {
        let mut d = SseDecoder::with_cap(64);
        let mut out = Vec::new();
        d.feed(b"data: {\"a\":1}\n\n", &mut out);
        assert_eq!(out.len(), 1);
        for _ in 0..10 {
            d.feed(&[b'x'; 32], &mut out);
        }
        assert!(d.is_oversized());
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn reports_a_cut_event_as_pending() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed(b"data: {\"partial\"", &mut out);
        assert!(out.is_empty());
        assert!(d.has_pending());
    }
}
