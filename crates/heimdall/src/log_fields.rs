//! Text-log fields with control characters escaped.
//!
//! Why: field values come from clients (a model name, a header). A newline inside one would
//! end the log line and let the rest pass for a line the gateway wrote — a forged
//! "request … status=200" in an operator's log. The JSON format escapes by itself; the text
//! format writes values as they are, so its fields go through here: `\n`, `\r`, tab and every
//! other control character become visible escapes. ESC stays only when the log goes to a
//! terminal with colours (the field names' italics are ESC sequences); written to a file or a
//! pipe, colours are off and a client's ESC is escaped like the rest.

use std::fmt::Write as _;

use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};

/// [`DefaultFields`] with control characters escaped.
#[derive(Debug, Default)]
pub struct EscapedFields {
    fields: DefaultFields,
    /// Whether ESC passes through (the log is coloured).
    keep_esc: bool,
}

impl EscapedFields {
    /// Fields for a log written with colours (`ansi`) or without.
    pub fn new(ansi: bool) -> Self {
        Self {
            fields: DefaultFields::default(),
            keep_esc: ansi,
        }
    }
}

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut plain = String::new();
        self.fields.format_fields(Writer::new(&mut plain), fields)?;
        writer.write_str(&escape_controls(&plain, self.keep_esc))
    }
}

/// Whether `text` holds a control character (C0, DEL or C1) other than ESC when `keep_esc`.
/// On bytes: C0 and DEL are single bytes, C1 (U+0080..=U+009F) is 0xC2 0x80..=0x9F in UTF-8;
/// the byte scan is several times faster than decoding chars, and every request's log line
/// passes through here.
fn has_controls(text: &str, keep_esc: bool) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && !(keep_esc && b == 0x1b))
            || b == 0x7f
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

/// `text` with control characters written as escapes (ESC kept when `keep_esc`).
pub fn escape_controls(text: &str, keep_esc: bool) -> std::borrow::Cow<'_, str> {
    if !has_controls(text, keep_esc) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' if keep_esc => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_control_character_is_found_and_esc_only_kept_for_colours() {
        for c in (0u32..0x20).chain([0x7f]).chain(0x80..0xa0) {
            let c = char::from_u32(c).unwrap();
            let text = format!("a{c}b");
            let keep = c == '\u{1b}';
            assert_eq!(has_controls(&text, true), !keep, "{:x}", u32::from(c));
            assert!(has_controls(&text, false), "{:x}", u32::from(c));
            assert!(!escape_controls(&text, false).contains(c));
        }
        // Other non-ASCII text (0xC2 followed by a byte past C1, multi-byte letters) is not.
        for text in ["plain", "caf\u{e9} \u{a0}\u{a9} \u{1f600} \u{e000}"] {
            assert!(!has_controls(text, false), "{text}");
            assert!(matches!(
                escape_controls(text, false),
                std::borrow::Cow::Borrowed(_)
            ));
        }
        assert_eq!(escape_controls("x\u{1b}[31my", true), "x\u{1b}[31my");
        assert_eq!(escape_controls("x\u{1b}[31my", false), "x\\u{1b}[31my");
    }

    #[test]
    fn a_newline_in_a_value_cannot_start_a_line() {
        let buf = Buffer::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .fmt_fields(EscapedFields::new(false))
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let model = "gpt-4o\n2026-12-04T00:00:00Z  INFO request status=200 forged\r\x07";
            tracing::info!(model = %model, "request");
            tracing::info!("message with a\nnewline");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(
            out.contains("gpt-4o\\n2026") && out.contains("forged\\r\\u{7}"),
            "{out}"
        );
    }
}
