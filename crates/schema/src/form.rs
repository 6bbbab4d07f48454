//! A `multipart/form-data` request in canonical form: the parts as the client sent them, with
//! the model lifted out (the engine rewrites it per attempt).
//!
//! Why parts and not a typed struct: the OpenAI upload endpoints (transcriptions,
//! translations, image edits) grow fields often (`chunking_strategy`, `include[]`,
//! `input_fidelity`, …) and repeat names (`image[]`, `timestamp_granularities[]`). Keeping
//! every part in order forwards what Heimdall does not model untouched, like the `extra` maps
//! of the JSON types; typed accessors read the few fields the gateway itself needs.

use bytes::Bytes;

use crate::error::GatewayError;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The field name (`file`, `image[]`, `language`, …).
    pub name: String,
    /// The file name, for a file part.
    pub filename: Option<String>,
    /// The part's own content type, when it declared one.
    pub content_type: Option<String>,
    /// The content.
    pub data: Bytes,
}

impl FormPart {
    /// A text field.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            filename: None,
            content_type: None,
            data: Bytes::from(value.into()),
        }
    }

    /// Whether this part is a file (it carries a file name).
    pub fn is_file(&self) -> bool {
        self.filename.is_some()
    }
}

/// A form request: the model and every other part, in the client's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormRequest {
    /// Model, as `provider/model`, a bare name, or an alias (sent upstream as the `model` part).
    pub model: String,
    /// Every part but `model`.
    pub parts: Vec<FormPart>,
}

impl FormRequest {
    /// Split parsed parts into the model and the rest; a missing or empty `model` is a 400
    /// naming it.
    pub fn from_parts(parts: Vec<FormPart>) -> Result<Self, GatewayError> {
        let mut model = None;
        let mut rest = Vec::with_capacity(parts.len());
        for p in parts {
            if p.name == "model" && !p.is_file() {
                model = Some(String::from_utf8_lossy(&p.data).trim().to_owned());
            } else {
                rest.push(p);
            }
        }
        let model = model.filter(|m| !m.is_empty()).ok_or_else(|| {
            GatewayError::invalid_request("model is required", Some("model".into()))
        })?;
        Ok(Self { model, parts: rest })
    }

    /// The first text field called `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|p| p.name == name && !p.is_file())
            .and_then(|p| std::str::from_utf8(&p.data).ok())
    }

    /// The file parts whose name is one of `names`.
    pub fn files<'a>(&'a self, names: &'a [&'a str]) -> impl Iterator<Item = &'a FormPart> + 'a {
        self.parts
            .iter()
            .filter(move |p| p.is_file() && names.contains(&p.name.as_str()))
    }

    /// A 400 naming `field` unless at least one file part is called one of `names`.
    pub fn require_file(&self, field: &str, names: &[&str]) -> Result<(), GatewayError> {
        if self.files(names).next().is_some() {
            return Ok(());
        }
        Err(GatewayError::invalid_request(
            format!("{field} is required (a file part named '{field}')"),
            Some(field.to_owned()),
        ))
    }

    /// A 400 naming `name` unless a non-empty text field of that name is present.
    pub fn require_field(&self, name: &str) -> Result<(), GatewayError> {
        match self.field(name) {
            Some(v) if !v.trim().is_empty() => Ok(()),
            _ => Err(GatewayError::invalid_request(
                format!("{name} is required"),
                Some(name.to_owned()),
            )),
        }
    }

    /// What to record of the request without its file contents: each part's name, and for a
    /// file its name and size; text fields up to 256 bytes.
    pub fn summary(&self) -> serde_json::Value {
        let parts: Vec<serde_json::Value> = self
            .parts
            .iter()
            .map(|p| match &p.filename {
                Some(f) => {
                    serde_json::json!({"name": p.name, "filename": f, "bytes": p.data.len()})
                }
                None => {
                    let text = String::from_utf8_lossy(&p.data);
                    let shown: String = text.chars().take(256).collect();
                    serde_json::json!({"name": p.name, "value": shown})
                }
            })
            .collect();
        serde_json::json!({"model": self.model, "parts": parts})
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file(name: &str, filename: &str, data: &'static [u8]) -> FormPart {
        FormPart {
            name: name.into(),
            filename: Some(filename.into()),
            content_type: Some("audio/wav".into()),
            data: Bytes::from_static(data),
        }
    }

    #[test]
    fn model_is_lifted_out_and_required() {
        let f = FormRequest::from_parts(vec![
            file("file", "a.wav", b"RIFF"),
            FormPart::text("model", " whisper-1 "),
            FormPart::text("language", "en"),
        ])
        .unwrap();
        assert_eq!(f.model, "whisper-1");
        assert_eq!(f.parts.len(), 2);
        assert_eq!(f.field("language"), Some("en"));
        assert!(f.require_file("file", &["file"]).is_ok());
        let e = f.require_file("image", &["image", "image[]"]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("image"));
        let e = FormRequest::from_parts(vec![file("file", "a.wav", b"x")]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
    }

    #[test]
    fn summary_records_file_sizes_not_contents() {
        let f = FormRequest::from_parts(vec![
            FormPart::text("model", "m"),
            file("file", "speech.wav", b"RIFFsecret-audio"),
        ])
        .unwrap();
        let s = f.summary().to_string();
        assert!(s.contains("speech.wav") && s.contains("16"), "{s}");
        assert!(!s.contains("secret-audio"), "{s}");
    }
}
