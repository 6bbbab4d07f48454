//! The transport of audio, images and rerank for [`OpenAiCompatProvider`]: a body of any
//! content type (a re-encoded form, JSON) posted through reqwest, and an answer read whole as
//! bytes with its content type.
//!
//! Why apart from the JSON path: these answers are audio or text in several formats, not one
//! JSON type, and uploads are forms; none of it is the hot path the direct client serves.

use futures::StreamExt;
use heimdall_config::KeyConfig;
use heimdall_schema::audio::{AudioChunk, BinaryResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::form::FormRequest;
use http::header::HeaderMap;

use super::{Answer, OpenAiCompatProvider};
use crate::direct::read_all;
use crate::http::{read_body, stream_interrupted};
use crate::provider::AudioStream;

impl OpenAiCompatProvider {
    /// POST `body` (of `content_type`) to the operation `path` through reqwest.
    pub(super) async fn post_body(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        model: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Answer, GatewayError> {
        let rb = self
            .base
            .client
            .post(self.url(key, path, model)?)
            .header(http::header::CONTENT_TYPE, content_type)
            .headers(self.auth_headers(key).await?)
            .body(body);
        self.send(rb).await.map(Answer::Reqwest)
    }

    /// POST a form (the model first, then the client's parts) to `path`.
    pub(super) async fn post_form(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        req: &FormRequest,
    ) -> Result<Answer, GatewayError> {
        let (content_type, body) = heimdall_dialects::multipart::encode(&req.model, &req.parts);
        self.post_body(key, path, &req.model, &content_type, body)
            .await
    }

    /// POST a JSON `body` to `path` and stream the answer's bytes as they arrive (speech):
    /// the first chunk names the content type (`fallback` when the upstream names none). The
    /// start is bounded by the backstop timeout; after it, the engine's idle deadline.
    pub(super) async fn audio_stream(
        &self,
        key: Option<&KeyConfig>,
        path: &str,
        model: &str,
        body: Vec<u8>,
        fallback: &str,
    ) -> Result<AudioStream, GatewayError> {
        let answer = tokio::time::timeout(
            self.base.backstop,
            self.post_body(key, path, model, "application/json", body),
        )
        .await
        .map_err(|_| self.timed_out("start answering"))??;
        let name = self.base.name.to_string();
        Ok(match answer {
            Answer::Reqwest(r) => {
                let mut content_type = Some(content_type_of(r.headers(), fallback));
                r.bytes_stream()
                    .map(move |item| match item {
                        Ok(bytes) => Ok(AudioChunk {
                            content_type: content_type.take(),
                            bytes,
                        }),
                        Err(e) => Err(stream_interrupted(&name, &e)),
                    })
                    .boxed()
            }
            // The direct client serves the JSON hot path, not audio; read whole if it ever does.
            Answer::Direct(r) => {
                let content_type = content_type_of(r.headers(), fallback);
                let bytes = read_all(&name, r).await?;
                futures::stream::once(async move {
                    Ok(AudioChunk {
                        content_type: Some(content_type),
                        bytes,
                    })
                })
                .boxed()
            }
        })
    }

    /// A whole answer as bytes with its content type (`fallback` when it names none),
    /// bounded by the backstop timeout and the response cap.
    pub(super) async fn binary(
        &self,
        answer: impl std::future::Future<Output = Result<Answer, GatewayError>>,
        fallback: &str,
    ) -> Result<BinaryResponse, GatewayError> {
        let read = async {
            let response = match answer.await? {
                Answer::Reqwest(r) => r,
                Answer::Direct(r) => {
                    let ct = content_type_of(r.headers(), fallback);
                    return Ok(BinaryResponse {
                        content_type: ct,
                        body: read_all(&self.base.name, r).await?,
                    });
                }
            };
            let content_type = content_type_of(response.headers(), fallback);
            let body = read_body(&self.base.name, response).await?;
            Ok(BinaryResponse { content_type, body })
        };
        tokio::time::timeout(self.base.backstop, read)
            .await
            .map_err(|_| self.timed_out("finish answering"))?
    }
}

/// The content type an upstream named, or `fallback`.
fn content_type_of(headers: &HeaderMap, fallback: &str) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or(fallback)
        .to_owned()
}
