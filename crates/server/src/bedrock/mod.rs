//! The Bedrock drop-in route: `POST /bedrock/model/{modelId}/converse` and `/converse-stream`,
//! so boto3's `bedrock-runtime` client (`endpoint_url=…/bedrock`) reaches any configured
//! provider. Streams answer in AWS event-stream framing; errors carry `x-amzn-errortype`.
//! The SigV4 signature a client sends is accepted without checking (the gateway's own provider
//! credentials are used); a virtual key travels as the signature's access key id
//! (`aws_access_key_id=<virtual key>`) and is governed like any other credential.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use heimdall_dialects::bedrock::client::{Converse, ConverseCall, invalid};
use heimdall_schema::error::GatewayError;

use crate::state::AppState;

fn error_response(e: &GatewayError) -> Response {
    crate::chat_route::error::<Converse>(e)
}

/// `POST /bedrock/model/{modelId}/{converse|converse-stream}`
pub async fn model_operation(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // The model id may hold `/` (ARNs, `provider/model`), encoded or not: the operation is
    // the last segment.
    let (model, operation) = rest.rsplit_once('/').unwrap_or((rest.as_str(), ""));
    let model = model.to_owned();
    let stream = match operation {
        "converse" => false,
        "converse-stream" => true,
        other => {
            return error_response(&invalid(
                format!("operation '{other}' is not supported"),
                "operation",
            ));
        }
    };
    let call = ConverseCall { model, stream };
    crate::chat_route::serve::<Converse>(&state, &headers, call, body, None).await
}
