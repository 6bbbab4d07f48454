//! Scrubbing a provider's secrets out of text that came back from its upstream.
//!
//! Why: upstreams quote the credential they were sent in their error text (OpenAI's
//! "Incorrect API key provided: sk-…", proxies echoing an `Authorization` header, a URL with
//! `?key=` in a Google error). That text travels to the client's error body, the stored log
//! record, the log line and span events. Scrubbing it once, where an attempt's error leaves the
//! provider (the attempt boundary), covers every later sink. Each secret is searched in the
//! forms an echo takes: as sent, percent-encoded (a key in a query string), base64 (a Basic
//! header), and cut off (an upstream that shortens "sk-abc…" to its first characters).

use base64::Engine;
use heimdall_config::ProviderConfig;
use heimdall_schema::error::GatewayError;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this are not searched: a 3-letter "key" would scrub ordinary words,
/// and a value that short is not a credential anyone can spend.
const MIN_SECRET_LEN: usize = 8;

/// A cut-off secret is recognised from this many leading characters on.
const MIN_PREFIX_LEN: usize = 8;

/// The secrets of one provider, in every form an upstream may echo them.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// Whole forms, longest first (so a longer form is replaced before a form it contains).
    needles: Vec<String>,
    /// The secrets as configured: a cut-off copy (a prefix of at least `MIN_PREFIX_LEN`
    /// characters followed by a non-secret character) is scrubbed too.
    secrets: Vec<String>,
}

impl Redactor {
    /// The secrets of a provider's keys: key values, AWS access/secret/session, Entra client
    /// secrets.
    pub fn for_provider(config: &ProviderConfig) -> Self {
        let mut secrets: Vec<&str> = Vec::new();
        for key in &config.keys {
            secrets.push(key.value.expose());
            if let Some(b) = &key.bedrock {
                secrets.push(b.access_key.expose());
                secrets.push(b.secret_key.expose());
                if let Some(t) = &b.session_token {
                    secrets.push(t.expose());
                }
            }
            if let Some(e) = key.azure.as_ref().and_then(|a| a.entra.as_ref()) {
                secrets.push(e.client_secret.expose());
            }
        }
        if let Some(p) = config.proxy.as_ref().and_then(|p| p.password.as_ref()) {
            secrets.push(p.expose());
        }
        Self::new(secrets)
    }

    /// A redactor for these secrets (short and empty ones are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut out = Self::default();
        for s in secrets {
            let s = s.trim();
            if s.chars().count() < MIN_SECRET_LEN || out.secrets.iter().any(|k| k == s) {
                continue;
            }
            out.secrets.push(s.to_owned());
            let mut forms = vec![
                s.to_owned(),
                percent_encode(s, false, false),
                percent_encode(s, true, false),
                percent_encode(s, false, true),
                percent_encode(s, true, true),
            ];
            forms.extend(base64_cores(s));
            for f in forms {
                if f.len() >= MIN_SECRET_LEN && !out.needles.contains(&f) {
                    out.needles.push(f);
                }
            }
        }
        out.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        out
    }

    /// Whether there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret form replaced by [`REDACTED`]; borrowed when it held none.
    pub fn scrub<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        if self.is_empty() || !self.contains_any(text) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = text.to_owned();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), REDACTED);
            }
        }
        for s in &self.secrets {
            out = scrub_prefixes(&out, s);
        }
        std::borrow::Cow::Owned(out)
    }

    /// Scrub an error's text fields in place.
    pub fn scrub_error(&self, err: &mut GatewayError) {
        if self.is_empty() {
            return;
        }
        scrub_in_place(self, &mut err.message);
        for v in [&mut err.param, &mut err.code].into_iter().flatten() {
            scrub_in_place(self, v);
        }
        if let Some(excerpt) = &mut err.upstream_excerpt {
            scrub_in_place(self, &mut excerpt.0);
        }
    }

    fn contains_any(&self, text: &str) -> bool {
        self.needles.iter().any(|n| text.contains(n.as_str()))
            || self.secrets.iter().any(|s| first_prefix(text, s).is_some())
    }
}

fn scrub_in_place(r: &Redactor, s: &mut String) {
    if let std::borrow::Cow::Owned(clean) = r.scrub(s) {
        *s = clean;
    }
}

/// Where in `text` a cut-off copy of `secret` starts: its first `MIN_PREFIX_LEN` characters.
fn first_prefix(text: &str, secret: &str) -> Option<usize> {
    let head: String = secret.chars().take(MIN_PREFIX_LEN).collect();
    if head.chars().count() < MIN_PREFIX_LEN {
        return None;
    }
    text.find(head.as_str())
}

/// Replace each run that matches the start of `secret` for at least `MIN_PREFIX_LEN` characters.
fn scrub_prefixes(text: &str, secret: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = first_prefix(rest, secret) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let matched: usize = tail
            .char_indices()
            .zip(secret.chars())
            .take_while(|((_, a), b)| a == b)
            .map(|((_, a), _)| a.len_utf8())
            .sum();
        out.push_str(REDACTED);
        rest = &tail[matched..];
    }
    out.push_str(rest);
    out
}

/// The part of the base64 text of `secret` that is the same wherever the secret sits in the
/// encoded input (`user:secret` in a Basic header shifts it by one or two bytes): for each of
/// the three alignments and both alphabets, the characters made of the secret's bits only.
fn base64_cores(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut out = Vec::new();
    for shift in 0..3usize {
        let mut input = vec![0u8; shift];
        input.extend_from_slice(secret.as_bytes());
        // Characters carrying bits of the filler bytes, and a last one carrying padding bits.
        let head = (shift * 8).div_ceil(6);
        let tail = usize::from(input.len() % 3 != 0);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let text = engine.encode(&input);
            if let Some(core) = text.get(head..text.len().saturating_sub(tail)) {
                out.push(core.to_owned());
            }
        }
    }
    out
}

/// Percent-encode `s`, in upper or lower hex: every byte outside RFC 3986's unreserved set,
/// or (`all`) every byte that is not a letter or digit, as over-eager encoders do.
fn percent_encode(s: &str, lower: bool, all: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || (!all && matches!(b, b'-' | b'.' | b'_' | b'~')) {
            out.push(char::from(b));
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-proj-Abc+123/xyz=secretvalue";

    #[test]
    fn scrubs_plain_percent_encoded_and_base64_forms() {
        let r = Redactor::new([KEY]);
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let b64 = STANDARD.encode(KEY);
        let url = URL_SAFE_NO_PAD.encode(KEY);
        let mut texts = vec![
            format!("Incorrect API key provided: {KEY}."),
            format!("GET /v1?key={}", percent_encode(KEY, false, false)),
            format!("GET /v1?key={}", percent_encode(KEY, true, true)),
            format!("Authorization: Basic {b64}"),
            format!("token {url} end"),
        ];
        for user in ["", "u:", "us:", "user:"] {
            texts.push(format!("Basic {}", STANDARD.encode(format!("{user}{KEY}"))));
            texts.push(format!(
                "Basic {}",
                URL_SAFE_NO_PAD.encode(format!("{user}{KEY}"))
            ));
        }
        for text in texts {
            let clean = r.scrub(&text);
            assert!(clean.contains(REDACTED), "{text} → {clean}");
            assert!(!clean.contains("secretvalue"), "{clean}");
            for core in base64_cores(KEY) {
                assert!(!clean.contains(&core), "{text} → {clean}");
            }
            assert!(!clean.contains(&b64) && !clean.contains(&url), "{clean}");
        }
    }

    #[test]
    fn scrubs_a_cut_off_key_but_not_ordinary_text() {
        let r = Redactor::new([KEY]);
        let clean = r.scrub("Incorrect API key provided: sk-proj-Abc+12****alue.");
        assert_eq!(clean, "Incorrect API key provided: [REDACTED]****alue.");
        assert!(matches!(
            r.scrub("the model is overloaded"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn ignores_short_and_empty_values() {
        let r = Redactor::new(["", "abc", "  "]);
        assert!(r.is_empty());
        assert_eq!(r.scrub("abc def"), "abc def");
    }

    #[test]
    fn scrubs_error_fields() {
        let r = Redactor::new([KEY]);
        let mut e = GatewayError::new(
            heimdall_schema::error::ErrorKind::UpstreamAuth,
            format!("provider 'openai': Incorrect API key provided: {KEY}"),
        )
        .with_code(KEY);
        r.scrub_error(&mut e);
        assert!(!e.message.contains(KEY) && e.message.contains(REDACTED));
        assert_eq!(e.code.as_deref(), Some(REDACTED));
    }
}
