//! Embeddings on Bedrock through InvokeModel (`POST /model/{modelId}/invoke`), whose body is the
//! model family's own: Amazon Titan takes one `inputText` per call; Cohere Embed takes
//! `texts` in one call.
//!
//! Why per family: InvokeModel passes the body to the model unchanged, so the gateway speaks
//! each family's documented format (model ids `amazon.titan-embed-*` and `cohere.embed-*`);
//! other embedding families are refused with a 400 naming the model rather than guessed.

use heimdall_schema::embeddings::{EmbeddingInput, EmbeddingRequest};
use heimdall_schema::error::GatewayError;
use serde_json::{Value, json};

use crate::translate::invalid;

/// An embedding model family Bedrock serves through InvokeModel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedFamily {
    /// `amazon.titan-embed-*`: one text per request.
    Titan,
    /// `cohere.embed-*`: a batch of texts per request.
    Cohere,
}

/// The family of `model_id` (an ARN or inference profile id ends with the model id).
pub fn family(model_id: &str) -> Result<EmbedFamily, GatewayError> {
    let id = model_id.rsplit('/').next().unwrap_or(model_id);
    let id = id.split_once('.').map_or(id, |(prefix, rest)| {
        // Cross-region inference profiles prefix a geography: `us.cohere.embed-…`.
        if prefix.len() == 2 { rest } else { id }
    });
    if id.starts_with("amazon.titan-embed") {
        Ok(EmbedFamily::Titan)
    } else if id.starts_with("cohere.embed") {
        Ok(EmbedFamily::Cohere)
    } else {
        Err(invalid(
            format!(
                "bedrock embeddings support amazon.titan-embed-* and cohere.embed-* models, not '{model_id}'"
            ),
            "model",
        ))
    }
}

/// The texts of a request (token-id input cannot be sent).
pub fn texts(req: &EmbeddingRequest) -> Result<Vec<String>, GatewayError> {
    match &req.input {
        EmbeddingInput::Text(s) => Ok(vec![s.clone()]),
        EmbeddingInput::Texts(v) => Ok(v.clone()),
        _ => Err(invalid(
            "bedrock embeddings take text input, not token ids",
            "input",
        )),
    }
}

/// The InvokeModel bodies for a request: one per text for Titan, one for all texts for Cohere.
pub fn bodies(family: EmbedFamily, req: &EmbeddingRequest, texts: &[String]) -> Vec<Value> {
    match family {
        EmbedFamily::Titan => texts
            .iter()
            .map(|t| {
                let mut b = json!({"inputText": t});
                if let (Some(d), Some(o)) = (req.dimensions, b.as_object_mut()) {
                    o.insert("dimensions".into(), json!(d));
                }
                b
            })
            .collect(),
        EmbedFamily::Cohere => {
            let input_type = req
                .extra
                .get("input_type")
                .cloned()
                .unwrap_or_else(|| json!("search_document"));
            vec![json!({"texts": texts, "input_type": input_type, "embedding_types": ["float"]})]
        }
    }
}

/// Vectors and input-token count from InvokeModel answers (in the order of `bodies`).
pub fn vectors(family: EmbedFamily, answers: &[Value]) -> (Vec<Vec<f32>>, u64) {
    let floats = |v: &Value| -> Vec<f32> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .map(|f| f as f32)
            .collect()
    };
    match family {
        EmbedFamily::Titan => answers.iter().fold((Vec::new(), 0), |(mut vs, n), a| {
            vs.push(floats(&a["embedding"]));
            (vs, n + a["inputTextTokenCount"].as_u64().unwrap_or(0))
        }),
        EmbedFamily::Cohere => {
            let a = answers.first().cloned().unwrap_or(Value::Null);
            let list = a["embeddings"]["float"]
                .as_array()
                .or(a["embeddings"].as_array())
                .cloned()
                .unwrap_or_default();
            (list.iter().map(floats).collect(), 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_recognised_through_profiles_and_arns() {
        assert_eq!(
            family("amazon.titan-embed-text-v2:0").unwrap(),
            EmbedFamily::Titan
        );
        assert_eq!(family("us.cohere.embed-v4:0").unwrap(), EmbedFamily::Cohere);
        assert_eq!(
            family("arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3").unwrap(),
            EmbedFamily::Cohere
        );
        assert_eq!(family("anthropic.claude-3").unwrap_err().status, 400);
    }
}
