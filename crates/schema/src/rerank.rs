//! Rerank (`POST /v1/rerank`, `/cohere/v2/rerank`): Cohere's v2 shape, which vLLM, Jina,
//! Together and Infinity serve at `{base_url}/rerank` as well.
//!
//! Why documents go upstream as strings: Cohere v2 takes strings only, while clients (and
//! Cohere v1) also send `{"text": …}` objects. The request keeps what the client sent; the
//! upstream gets the text; and when the client asked for `return_documents`, the gateway
//! fills each result's `document` from the request by index (Cohere v2 never returns them,
//! other servers do), so the answer has one shape whoever served it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::GatewayError;

/// A rerank request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankRequest {
    /// Model, as `provider/model`, a bare name, or an alias.
    pub model: String,
    /// The search query.
    pub query: String,
    /// The documents to rank.
    pub documents: Vec<RerankDocument>,
    /// Return only the best N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Include each ranked document in its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_documents: Option<bool>,
    /// Fields not modelled here (`max_tokens_per_doc`, …), forwarded untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One document: text, or an object with a `text` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RerankDocument {
    /// Plain text.
    Text(String),
    /// `{"text": …, …}`.
    Object(Map<String, Value>),
}

impl RerankDocument {
    /// The document's text (`""` for an object without a text `text`).
    pub fn text(&self) -> &str {
        match self {
            Self::Text(t) => t,
            Self::Object(o) => o.get("text").and_then(Value::as_str).unwrap_or(""),
        }
    }
}

impl RerankRequest {
    /// Check the constraints a request must meet before any provider sees it.
    pub fn validate(&self) -> Result<(), GatewayError> {
        let bad = |m: String, p: &str| Err(GatewayError::invalid_request(m, Some(p.to_owned())));
        if self.model.trim().is_empty() {
            return bad("model must not be empty".into(), "model");
        }
        if self.query.trim().is_empty() {
            return bad("query must not be empty".into(), "query");
        }
        if self.documents.is_empty() {
            return bad("documents must not be empty".into(), "documents");
        }
        if let Some(i) = self.documents.iter().position(|d| match d {
            RerankDocument::Text(_) => false,
            RerankDocument::Object(o) => !o.get("text").is_some_and(Value::is_string),
        }) {
            return bad(
                format!("documents[{i}] must be a string or an object with a string 'text'"),
                &format!("documents[{i}]"),
            );
        }
        if self.top_n == Some(0) {
            return bad("top_n must be at least 1".into(), "top_n");
        }
        Ok(())
    }

    /// The body for an upstream: documents as strings, `model` as the upstream names it.
    /// `return_documents` is kept for servers that honour it unless `drop_return_documents`
    /// (Cohere v2 has no such field).
    pub fn upstream_body(&self, drop_return_documents: bool) -> Value {
        let mut body = self.extra.clone();
        body.insert("model".into(), Value::String(self.model.clone()));
        body.insert("query".into(), Value::String(self.query.clone()));
        body.insert(
            "documents".into(),
            Value::Array(
                self.documents
                    .iter()
                    .map(|d| Value::String(d.text().to_owned()))
                    .collect(),
            ),
        );
        if let Some(n) = self.top_n {
            body.insert("top_n".into(), Value::from(n));
        }
        if let (Some(r), false) = (self.return_documents, drop_return_documents) {
            body.insert("return_documents".into(), Value::Bool(r));
        }
        Value::Object(body)
    }

    /// Settle the answer's documents with what the client asked: each result's `document`
    /// from the request (`{"text": …}`) when `return_documents` is true, none otherwise.
    pub fn settle_documents(&self, response: &mut RerankResponse) {
        let wanted = self.return_documents.unwrap_or(false);
        for r in &mut response.results {
            r.document = if wanted {
                self.documents.get(r.index).map(|d| match d {
                    RerankDocument::Text(t) => serde_json::json!({"text": t}),
                    RerankDocument::Object(o) => Value::Object(o.clone()),
                })
            } else {
                None
            };
        }
    }
}

/// A rerank answer (Cohere v2's shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankResponse {
    /// Answer id (servers without one get the gateway's).
    #[serde(default)]
    pub id: String,
    /// Ranked results, most relevant first.
    pub results: Vec<RerankResult>,
    /// Cohere's `meta` (`api_version`, `billed_units`), when the upstream sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// Token usage (vLLM, Jina: `{"total_tokens": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One ranked document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankResult {
    /// Index into the request's `documents`.
    pub index: usize,
    /// Relevance, higher is better.
    pub relevance_score: f64,
    /// The document (when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}

impl RerankResponse {
    /// Tokens the upstream reports (`usage.total_tokens`, or Cohere's
    /// `meta.billed_units.input_tokens`).
    pub fn tokens(&self) -> Option<u64> {
        self.usage
            .as_ref()
            .and_then(|u| u.get("total_tokens"))
            .or_else(|| {
                self.meta
                    .as_ref()
                    .and_then(|m| m.pointer("/billed_units/input_tokens"))
            })
            .and_then(Value::as_u64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(return_documents: Option<bool>) -> RerankRequest {
        serde_json::from_value(serde_json::json!({
            "model": "rerank-v3.5", "query": "capital of France",
            "documents": ["Paris is the capital", {"text": "Berlin", "id": "d2"}],
            "top_n": 2, "return_documents": return_documents, "max_tokens_per_doc": 512}))
        .unwrap()
    }

    #[test]
    fn upstream_gets_strings_and_unknown_fields() {
        let body = request(Some(true)).upstream_body(true);
        assert_eq!(
            body["documents"],
            serde_json::json!(["Paris is the capital", "Berlin"])
        );
        assert_eq!(body["max_tokens_per_doc"], 512);
        assert!(body.get("return_documents").is_none());
        assert_eq!(
            request(Some(true)).upstream_body(false)["return_documents"],
            true
        );
    }

    #[test]
    fn documents_follow_return_documents() {
        let mut answer: RerankResponse = serde_json::from_value(serde_json::json!({
            "id": "r", "results": [{"index": 1, "relevance_score": 0.2, "document": {"text": "Berlin"}},
                                   {"index": 0, "relevance_score": 0.9}]}))
        .unwrap();
        request(Some(true)).settle_documents(&mut answer);
        assert_eq!(
            answer.results[0].document,
            Some(serde_json::json!({"text": "Berlin", "id": "d2"}))
        );
        assert_eq!(
            answer.results[1].document,
            Some(serde_json::json!({"text": "Paris is the capital"}))
        );
        request(None).settle_documents(&mut answer);
        assert!(answer.results.iter().all(|r| r.document.is_none()));
    }

    #[test]
    fn validation_names_the_field() {
        let mut r = request(None);
        r.documents.push(RerankDocument::Object(Map::new()));
        assert_eq!(
            r.validate().unwrap_err().param.as_deref(),
            Some("documents[2]")
        );
        let mut r = request(None);
        r.query.clear();
        assert_eq!(r.validate().unwrap_err().param.as_deref(), Some("query"));
    }
}
