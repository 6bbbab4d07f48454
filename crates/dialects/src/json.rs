//! Decoding a client's JSON body with errors that name the offending field (`param`), as an
//! OpenAI-compatible API answers.
//!
//! Why here: every client dialect decodes untrusted bodies the same way; the transport only
//! reads the bytes.

use heimdall_schema::error::GatewayError;
use serde::de::DeserializeOwned;

/// Decode a JSON body into `T`, naming the field path on schema errors.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GatewayError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::invalid_request(
            "request body is empty; expected a JSON object",
            None,
        ));
    }
    // The fast path: plain serde_json. Only a body that fails is decoded again with path
    // tracking, which costs on every field and showed in profiles of the request path.
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                GatewayError::invalid_request(
                    format!("invalid JSON in request body: {inner}"),
                    None,
                )
            }
            serde_json::error::Category::Data | serde_json::error::Category::Io => {
                let message = inner.to_string();
                let param = field_param(&path, &message);
                let shown = param.as_deref().unwrap_or("request body");
                GatewayError::invalid_request(format!("invalid field '{shown}': {message}"), param)
            }
        }
    })?;
    de.end().map_err(|e| {
        GatewayError::invalid_request(format!("invalid JSON in request body: {e}"), None)
    })?;
    Ok(value)
}

/// The field path for `param`: the serde path, or for "missing field `x`" the missing field.
fn field_param(path: &str, message: &str) -> Option<String> {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let base = if path == "." { "" } else { path };
    match (missing, base.is_empty()) {
        (Some(field), true) => Some(field.to_owned()),
        (Some(field), false) => Some(format!("{base}.{field}")),
        (None, false) => Some(base.to_owned()),
        (None, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_missing_and_mistyped_fields() {
        assert_eq!(
            field_param(".", "missing field `messages`"),
            Some("messages".into())
        );
        assert_eq!(
            field_param("messages[0]", "missing field `role`"),
            Some("messages[0].role".into())
        );
        assert_eq!(
            field_param("temperature", "invalid type: string \"hot\", expected f64"),
            Some("temperature".into())
        );
    }
}
