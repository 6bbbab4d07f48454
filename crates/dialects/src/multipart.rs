//! `multipart/form-data` (RFC 7578), both directions: a client's upload read into
//! [`FormPart`]s, and parts written back out for an upstream.
//!
//! Why our own codec: the upload routes read the whole body first (it is bounded by the upload
//! limit, and the engine may send it more than once: retries, fallbacks), so a parser over one
//! buffer is all that is needed — a few checks, no streaming state machine, no dependency —
//! and `Bytes` slices keep each file part without a copy. Names and file names are written
//! back the way browsers and the OpenAI SDKs write them (`"` as `%22`, line breaks encoded).

use bytes::Bytes;
use heimdall_schema::error::GatewayError;
use heimdall_schema::form::{FormPart, FormRequest};
use memchr::memmem;

/// Most parts one form may hold.
pub const MAX_PARTS: usize = 256;
/// Most bytes of one part's header block.
const MAX_HEADER_BYTES: usize = 8 * 1024;

fn malformed(why: &str) -> GatewayError {
    GatewayError::invalid_request(format!("malformed multipart/form-data body: {why}"), None)
}

/// The boundary of a `multipart/form-data` content type, or why it has none.
pub fn boundary(content_type: &str) -> Result<String, GatewayError> {
    let mut params = split_params(content_type);
    let essence = params
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != "multipart/form-data" {
        return Err(GatewayError::invalid_request(
            format!(
                "expected a multipart/form-data body, got content type '{}'",
                essence.chars().take(100).collect::<String>()
            ),
            None,
        )
        .with_status(415)
        .with_code("unsupported_media_type"));
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| unquote(v.trim()))
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or_else(|| malformed("the content type has no boundary"))
}

/// Read every part of `body` (`content_type` carries the boundary).
pub fn parse(content_type: &str, body: &Bytes) -> Result<Vec<FormPart>, GatewayError> {
    let boundary = boundary(content_type)?;
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut at = if body.starts_with(delimiter.as_bytes()) {
        0
    } else {
        memmem::find(body, next_delimiter.as_bytes())
            .map(|i| i + 2)
            .ok_or_else(|| malformed("no boundary line"))?
    };
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        let rest = body.get(at..).unwrap_or_default();
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding after the boundary, then the line break.
        let pad = rest
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        if !rest.get(pad..).is_some_and(|r| r.starts_with(b"\r\n")) {
            return Err(malformed("a boundary line does not end with CRLF"));
        }
        at += pad + 2;
        let head_len = memmem::find(body.get(at..).unwrap_or_default(), b"\r\n\r\n")
            .filter(|n| *n <= MAX_HEADER_BYTES)
            .ok_or_else(|| malformed("a part's headers do not end (or are too long)"))?;
        let head = body.get(at..at + head_len).unwrap_or_default();
        let content_start = at + head_len + 4;
        let content_len = memmem::find(
            body.get(content_start..).unwrap_or_default(),
            next_delimiter.as_bytes(),
        )
        .ok_or_else(|| malformed("the body ends before its closing boundary"))?;
        if parts.len() == MAX_PARTS {
            return Err(malformed(&format!("more than {MAX_PARTS} parts")));
        }
        let mut part = part_headers(head)?;
        part.data = body.slice(content_start..content_start + content_len);
        parts.push(part);
        at = content_start + content_len + 2;
    }
}

/// Parse a client's form into the canonical request (model lifted out, 400 when missing).
pub fn parse_request(content_type: &str, body: &Bytes) -> Result<FormRequest, GatewayError> {
    FormRequest::from_parts(parse(content_type, body)?)
}

fn part_headers(head: &[u8]) -> Result<FormPart, GatewayError> {
    let head = std::str::from_utf8(head).map_err(|_| malformed("part headers are not UTF-8"))?;
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("content-disposition") {
            let mut params = split_params(value);
            if !params
                .next()
                .is_some_and(|d| d.trim().eq_ignore_ascii_case("form-data"))
            {
                return Err(malformed("a part's disposition is not form-data"));
            }
            for p in params {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(unquote(v.trim())),
                    "filename" => filename = filename.or(Some(unquote(v.trim()))),
                    // RFC 5987 `filename*=utf-8''…` wins over the plain one.
                    "filename*" => filename = ext_value(v.trim()).or(filename),
                    _ => {}
                }
            }
        } else if key.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        }
    }
    Ok(FormPart {
        name: name.ok_or_else(|| malformed("a part has no name"))?,
        filename,
        content_type,
        data: Bytes::new(),
    })
}

/// `;`-separated parameters, `;` inside quotes kept.
fn split_params(s: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    let mut cuts = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                cuts.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    cuts.push((start, s.len()));
    cuts.into_iter().filter_map(move |(a, b)| s.get(a..b))
}

/// A parameter value without its quotes (`\"` unescaped).
fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    c => out.push(c),
                }
            }
            out
        }
        None => v.to_owned(),
    }
}

/// An RFC 5987 `utf-8''percent-encoded` value.
fn ext_value(v: &str) -> Option<String> {
    let (charset, rest) = v.split_once('\'')?;
    let (_, encoded) = rest.split_once('\'')?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A parameter value as browsers write it: quoted, `"` as `%22`, CR and LF encoded.
fn quote(v: &str) -> String {
    let escaped = v
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    format!("\"{escaped}\"")
}

/// The body of a form holding `model` first, then `parts`, and its content type. The boundary
/// is chosen so that it occurs in no part.
pub fn encode(model: &str, parts: &[FormPart]) -> (String, Vec<u8>) {
    let model = FormPart::text("model", model);
    let all = || std::iter::once(&model).chain(parts.iter());
    let mut n = 0u64;
    let boundary = loop {
        let candidate = format!("heimdall-form-{n:016x}");
        if !all().any(|p| memmem::find(&p.data, candidate.as_bytes()).is_some()) {
            break candidate;
        }
        n += 1;
    };
    let size: usize = all().map(|p| p.data.len() + 160).sum();
    let mut body = Vec::with_capacity(size + boundary.len() + 8);
    for p in all() {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name={}", quote(&p.name));
        if let Some(f) = &p.filename {
            disposition.push_str(&format!("; filename={}", quote(f)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = p
            .content_type
            .as_deref()
            .filter(|c| !c.contains(['\r', '\n']))
        {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        } else if p.is_file() {
            body.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What httpx (the OpenAI Python SDK's client) sends for a transcription.
    const HTTPX: &[u8] = b"--b8c1\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n\
--b8c1\r\nContent-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n\r\nword\r\n\
--b8c1\r\nContent-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n\r\nsegment\r\n\
--b8c1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n-b8c1 data\r\n\
--b8c1--\r\n";

    #[test]
    fn parses_fields_files_and_repeated_names() {
        let parts = parse(
            "multipart/form-data; boundary=b8c1",
            &Bytes::from_static(HTTPX),
        )
        .unwrap();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[1].name, "timestamp_granularities[]");
        assert_eq!(&parts[2].data[..], b"segment");
        let file = &parts[3];
        assert_eq!(file.filename.as_deref(), Some("a \"b\".wav"));
        assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
        assert_eq!(
            &file.data[..],
            b"RIFF\r\n-b8c1 data",
            "a boundary-like line inside data stays"
        );
        let req = parse_request(
            "multipart/form-data; boundary=\"b8c1\"",
            &Bytes::from_static(HTTPX),
        )
        .unwrap();
        assert_eq!(req.model, "whisper-1");
    }

    #[test]
    fn round_trips_through_encode() {
        let parts = vec![
            FormPart {
                name: "file".into(),
                filename: Some("x\"y.wav".into()),
                content_type: Some("audio/wav".into()),
                data: Bytes::from_static(b"heimdall-form-0000000000000000 inside\r\n"),
            },
            FormPart::text("language", "en"),
        ];
        let (ct, body) = encode("whisper-1", &parts);
        let back = parse_request(&ct, &Bytes::from(body)).unwrap();
        assert_eq!(back.model, "whisper-1");
        assert_eq!(back.parts[0].data, parts[0].data);
        assert_eq!(back.parts[0].filename.as_deref(), Some("x%22y.wav"));
        assert_eq!(back.field("language"), Some("en"));
    }

    #[test]
    fn refuses_what_is_not_a_form() {
        assert_eq!(boundary("application/json").unwrap_err().status, 415);
        assert!(boundary("multipart/form-data").is_err());
        for body in [
            &b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end"[..],
            b"--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--b--",
            b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
            b"garbage",
        ] {
            assert!(
                parse(
                    "multipart/form-data; boundary=b",
                    &Bytes::copy_from_slice(body)
                )
                .is_err()
            );
        }
        let utf8 = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"; filename*=utf-8''%C3%A9.wav\r\n\r\nx\r\n--b--";
        let p = parse("multipart/form-data; boundary=b", &Bytes::from_static(utf8)).unwrap();
        assert_eq!(p[0].filename.as_deref(), Some("é.wav"));
    }
}
