//! Small serde helpers for the wire quirks of OpenAI-compatible APIs, and JSON text cut to a
//! size without first writing it whole.

use serde::{Deserialize, Deserializer};

/// Keep "absent" and "explicit null" apart: absent → `None` (via `#[serde(default)]`),
/// `null` → `Some(None)`, value → `Some(Some(v))`. Needed where OpenAI sends `null` on some
/// objects and omits the field on others, and a round trip must not change the bytes' meaning.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Read `null` as the type's default (e.g. an empty list).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// `value` as JSON text, at most `cap` bytes (cut on a character boundary): serialisation
/// stops at the cap, so a huge input never exists twice in memory just to be cut.
pub fn capped_json<T: serde::Serialize + ?Sized>(value: &T, cap: usize) -> Option<String> {
    struct Capped {
        buf: Vec<u8>,
        cap: usize,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let room = self.cap - self.buf.len();
            if data.len() > room {
                self.buf.extend_from_slice(&data[..room]);
                return Err(std::io::Error::other("cap reached"));
            }
            self.buf.extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped {
        buf: Vec::with_capacity(cap.min(64 * 1024)),
        cap,
    };
    let finished = serde_json::to_writer(&mut out, value).is_ok();
    let mut buf = out.buf;
    if !finished && buf.len() < cap {
        // Failed for another reason than the cap.
        return None;
    }
    let valid = match std::str::from_utf8(&buf) {
        Ok(_) => buf.len(),
        Err(e) => e.valid_up_to(),
    };
    buf.truncate(valid);
    buf.shrink_to_fit();
    String::from_utf8(buf).ok()
}

/// `text`'s first `cap` bytes at most (cut on a character boundary), copied.
pub fn capped_str(text: &str, cap: usize) -> String {
    text[..text.floor_char_boundary(cap)].to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn capped_str_cuts_on_a_char_boundary() {
        assert_eq!(capped_str("aé", 2), "a");
        assert_eq!(capped_str("aé", 3), "aé");
        assert_eq!(capped_str("aé", 99), "aé");
    }

    #[test]
    fn capped_json_stops_at_the_cap_on_a_char_boundary() {
        let v = vec!["é".repeat(100); 100];
        let full = serde_json::to_string(&v).unwrap();
        assert_eq!(capped_json(&v, 1 << 20).unwrap(), full);
        let cut = capped_json(&v, 101).unwrap();
        assert!(cut.len() <= 101 && full.starts_with(&cut) && cut.len() >= 99);
    }
}
