//! Drop-in prefixes for clients that keep their SDK and change only `base_url`: the OpenAI
//! routes at every base an SDK appends its paths to (the root, `/v1`, `/openai` with and
//! without `/v1`, `/v1/openai/v1`, `/inference/v1`), the Azure OpenAI SDK's deployment paths,
//! and the same route set re-mounted under `/litellm` and `/langchain` (as Bifrost documents).
//!
//! Why a rewrite and not new handlers: an Azure deployment path names the model in the URL; the
//! handler moves it into the body's `model` (the deployment decides the model, as on Azure) and
//! hands the request to the one OpenAI handler, so every route behaves identically.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use heimdall_schema::error::{ErrorKind, GatewayError};

use crate::openai;
use crate::state::AppState;

/// The OpenAI route set (relative paths).
pub fn openai_routes() -> Router<AppState> {
    Router::new()
        .route("/chat/completions", post(openai::chat_completions))
        .route("/completions", post(openai::completions))
        .route("/embeddings", post(openai::embeddings))
        .route("/audio/speech", post(crate::media_api::speech))
        .route(
            "/audio/transcriptions",
            post(crate::media_api::transcriptions),
        )
        .route("/audio/translations", post(crate::media_api::translations))
        .route(
            "/images/generations",
            post(crate::media_api::image_generations),
        )
        .route("/images/edits", post(crate::media_api::image_edits))
        .route("/rerank", post(crate::media_api::rerank))
        .route("/mcp/tool/execute", post(crate::mcp_api::execute))
        .route("/models", get(openai::list_models))
        .route("/responses", post(crate::responses_api::create))
        .route(
            "/responses/input_tokens",
            post(crate::responses_api::input_tokens),
        )
        .route(
            "/responses/{id}",
            get(crate::responses_api::get_one).delete(crate::responses_api::delete_one),
        )
        .route(
            "/responses/{id}/input_items",
            get(crate::responses_api::input_items),
        )
        .route("/realtime", get(crate::realtime::connect))
        .route("/realtime/sessions", post(crate::realtime::create_session))
        .route(
            "/realtime/client_secrets",
            post(crate::realtime::create_client_secret),
        )
}

/// Where SDKs put the OpenAI route set when pointed at the gateway with their natural base URL
/// (see docs/integrations.md): `/v1` (OpenAI, Together, Mistral's `/v1/…` paths from the root);
/// the root itself (the OpenAI SDK given the bare origin, Perplexity's SDK, LiteLLM's habit);
/// `/openai/v1` (Groq's SDKs given the root); `/v1/openai/v1` (Groq's SDKs given `…/v1`, the
/// base URL every other SDK uses); `/inference/v1` (Fireworks' SDK given the root).
/// Mounted as a whole, so a route added to [`openai_routes`] is served under each of them.
const OPENAI_BASES: [&str; 3] = ["/v1", "/v1/openai/v1", "/inference/v1"];

/// Every prefix a drop-in client may use, each with the OpenAI routes (with and without `/v1`)
/// and the Azure deployment paths.
pub fn mount(router: Router<AppState>) -> Router<AppState> {
    // The root mount: concrete paths only (no wildcard), so `/api/*`, `/health`, `/ready`,
    // `/metrics` and the drop-in prefixes keep their own routes.
    let mut router = router.merge(openai_routes());
    for base in OPENAI_BASES {
        router = router.nest(base, openai_routes());
    }
    for prefix in ["", "/litellm", "/langchain"] {
        router = router
            .route(
                &format!("{prefix}/anthropic/v1/messages"),
                post(crate::anthropic::messages),
            )
            .route(
                &format!("{prefix}/anthropic/v1/messages/count_tokens"),
                post(crate::anthropic::count_tokens),
            )
            .route(
                &format!("{prefix}/anthropic/v1/models"),
                get(crate::anthropic::list_models),
            )
            .route(
                &format!("{prefix}/cohere/v2/embed"),
                post(crate::cohere::embed),
            )
            .route(
                &format!("{prefix}/cohere/v2/rerank"),
                post(crate::media_api::cohere_rerank),
            )
            .route(
                &format!("{prefix}/cohere/v2/chat"),
                post(crate::cohere::chat),
            )
            .route(
                &format!("{prefix}/bedrock/model/{{*rest}}"),
                post(crate::bedrock::model_operation),
            )
            // DSPy and other clients append `/messages` to the base URL without `/v1`.
            .route(
                &format!("{prefix}/anthropic/messages"),
                post(crate::anthropic::messages),
            )
            .route(
                &format!("{prefix}/anthropic/messages/count_tokens"),
                post(crate::anthropic::count_tokens),
            );
        // google-genai picks the API version (`v1beta`, `v1` with only `base_url` set,
        // `v1alpha` for previews); the Vercel AI SDK drops `models/` for an id holding `/`
        // (`/genai/v1beta/openai/gpt-4o:generateContent`), so any path under the version is
        // a model action.
        for version in ["v1", "v1beta", "v1alpha"] {
            router = router
                .route(
                    &format!("{prefix}/genai/{version}/models"),
                    get(crate::genai::list_models),
                )
                .route(
                    &format!("{prefix}/genai/{version}/{{*rest}}"),
                    post(crate::genai::model_action),
                );
        }
    }
    for prefix in ["/openai", "/litellm", "/langchain"] {
        router = router
            .nest(&format!("{prefix}/v1"), openai_routes())
            .route(
                &format!("{prefix}/deployments/{{*rest}}"),
                post(azure_deployment),
            )
            .nest(prefix, openai_routes());
    }
    router
}

/// The operations under an Azure deployment path, and whether each takes a form upload.
const DEPLOYMENT_OPS: [(&str, bool); 8] = [
    ("/chat/completions", false),
    ("/completions", false),
    ("/embeddings", false),
    ("/audio/speech", false),
    ("/images/generations", false),
    ("/audio/transcriptions", true),
    ("/audio/translations", true),
    ("/images/edits", true),
];

/// `POST /openai/deployments/{deployment}/{operation}` (the Azure OpenAI SDK's paths for chat,
/// completions, embeddings, audio and images; `api-version` is accepted and ignored).
///
/// A JSON body gets the deployment as its `model`; a form upload (transcription, translation,
/// image edit) goes as sent — the SDK puts the deployment in its `model` field too.
async fn azure_deployment(
    state: State<AppState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let Some((deployment, op, form)) = DEPLOYMENT_OPS
        .iter()
        .find_map(|(suffix, form)| {
            rest.strip_suffix(suffix)
                .map(|d| (d.to_owned(), *suffix, *form))
        })
        .filter(|(d, _, _)| !d.is_empty())
    else {
        return openai::reject(
            &headers,
            GatewayError::new(
                ErrorKind::RouteNotFound,
                format!("no such deployment operation: /deployments/{rest}"),
            )
            .with_status(404),
        );
    };
    if form {
        return match op {
            "/audio/transcriptions" => crate::media_api::transcriptions(state, headers, body).await,
            "/audio/translations" => crate::media_api::translations(state, headers, body).await,
            _ => crate::media_api::image_edits(state, headers, body).await,
        };
    }
    let bytes = match axum::body::to_bytes(body, state.body_limit).await {
        Ok(b) => b,
        Err(_) => {
            let e = GatewayError::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "request body is unreadable or larger than the limit of {} bytes",
                    state.body_limit
                ),
            );
            return openai::reject(&headers, e);
        }
    };
    let body = match with_model(&bytes, &deployment) {
        Ok(b) => Ok(b),
        Err(e) => return openai::reject(&headers, e),
    };
    match op {
        "/chat/completions" => openai::chat_completions(state, headers, body).await,
        "/completions" => openai::completions(state, headers, body).await,
        "/embeddings" => openai::embeddings(state, headers, body).await,
        "/audio/speech" => crate::media_api::speech(state, headers, body).await,
        _ => crate::media_api::image_generations(state, headers, body).await,
    }
}

/// The body with `model` set to the deployment.
fn with_model(body: &[u8], deployment: &str) -> Result<Bytes, GatewayError> {
    let mut v: serde_json::Map<String, serde_json::Value> = crate::body::decode_json(body)?;
    v.insert(
        "model".to_owned(),
        serde_json::Value::String(deployment.to_owned()),
    );
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(|e| GatewayError::internal(format!("cannot re-encode the body: {e}")))
}
