//! The provider × feature conformance matrix, produced by this test and written into
//! `docs/providers.md` between the `matrix` markers.
//!
//! Live cells run through the real gateway against the mock provider's native face for each
//! dialect (chat, stream, tool call, streamed tool call assembled from deltas, embeddings,
//! usage). Translation cells (vision, JSON schema, cached-token usage, reasoning) are checked
//! against the golden fixtures taken from each provider's published reference: the cell is ✅
//! when that fixture exists (the golden tests in `heimdall-providers` compare it exactly).
//! For the OpenAI dialect those features pass through unchanged and are checked against the
//! schema crate's OpenAI fixtures. "—" means the provider or this gateway does not offer it
//! (documented per provider).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use common::*;
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

const SA: &str = include_str!("fixtures/vertex-test-service-account.json");
const SA_PUBLIC: &str = include_str!("fixtures/vertex-test-service-account.pub.pem");

fn config(m: &MockServer) -> Value {
    let host = format!("http://{}", m.addr());
    let key = |name: &str| json!([{"name": name, "value": format!("{name}-secret"), "models": [], "weight": 1}]);
    json!({"providers": {
        "openai": {"type": "custom", "keys": key("oa"), "network_config": {"base_url": m.base_url()}},
        "azure": {"type": "azure", "keys": [{"name": "az", "value": "az-secret",
            "azure_key_config": {"endpoint": host}}]},
        "anthropic": {"type": "anthropic", "keys": key("an"), "network_config": {"base_url": m.base_url()}},
        "gemini": {"type": "gemini", "keys": key("ge"),
            "network_config": {"base_url": format!("{host}/v1beta")}},
        "vertex": {"type": "vertex", "network_config": {"base_url": host},
            "keys": [{"name": "sa", "vertex_key_config": {"project_id": "p", "region": "us-central1",
                "auth_credentials": SA, "token_url": format!("{host}/google/token")}}]},
        "cohere": {"type": "cohere", "keys": key("co"), "network_config": {"base_url": host}},
        "bedrock": {"type": "bedrock", "network_config": {"base_url": host},
            "keys": [{"name": "iam", "bedrock_key_config": {"region": "us-east-1",
                "access_key": "AKIDCONF", "secret_key": "conf-secret"}}]}
    }})
}

/// A row: display name, chat model, embedding model (if the provider offers embeddings here),
/// and the golden-fixture directory and case names for the translation columns.
struct Row {
    name: &'static str,
    model: &'static str,
    embed_model: Option<&'static str>,
    fixtures: Option<&'static str>,
    vision: &'static [&'static str],
    json_schema: &'static [&'static str],
    cached: &'static [&'static str],
    reasoning: &'static [&'static str],
}

const ROWS: &[Row] = &[
    Row {
        name: "OpenAI-compatible",
        model: "openai/gpt-4o",
        embed_model: Some("openai/text-embedding-3-small"),
        fixtures: Some(OPENAI),
        vision: &["chat_request_full.json"],
        json_schema: &["chat_request_full.json"],
        cached: &["chat_response.json"],
        reasoning: &["chat_response.json"],
    },
    Row {
        name: "Azure OpenAI",
        model: "azure/gpt-4o",
        embed_model: Some("azure/text-embedding-3-small"),
        fixtures: Some(OPENAI),
        vision: &["chat_request_full.json"],
        json_schema: &["chat_request_full.json"],
        cached: &["chat_response.json"],
        reasoning: &["chat_response.json"],
    },
    Row {
        name: "Anthropic",
        model: "anthropic/claude-sonnet-4-5",
        embed_model: None,
        fixtures: Some("anthropic"),
        vision: &["req_images.anthropic.json"],
        json_schema: &["req_json_schema.anthropic.json"],
        cached: &["resp_cache_usage.anthropic.json"],
        reasoning: &[
            "resp_thinking.anthropic.json",
            "stream_thinking.anthropic.sse",
        ],
    },
    Row {
        name: "Gemini",
        model: "gemini/gemini-2.5-flash",
        embed_model: Some("gemini/gemini-embedding-001"),
        fixtures: Some("gemini"),
        vision: &["req_images.gemini.json"],
        json_schema: &["req_json_schema.gemini.json"],
        cached: &["resp_cached.gemini.json"],
        reasoning: &["resp_thinking.gemini.json", "stream_thinking.gemini.sse"],
    },
    Row {
        name: "Vertex AI (Gemini)",
        model: "vertex/gemini-2.5-flash",
        embed_model: Some("vertex/text-embedding-005"),
        fixtures: Some("gemini"),
        vision: &["req_images.gemini.json"],
        json_schema: &["req_json_schema.gemini.json"],
        cached: &["resp_cached.gemini.json"],
        reasoning: &["resp_thinking.gemini.json"],
    },
    Row {
        name: "Vertex AI (Claude)",
        model: "vertex/claude-sonnet-4-5",
        embed_model: None,
        fixtures: Some("anthropic"),
        vision: &["req_images.anthropic.json"],
        json_schema: &["req_json_schema.anthropic.json"],
        cached: &["resp_cache_usage.anthropic.json"],
        reasoning: &["resp_thinking.anthropic.json"],
    },
    Row {
        name: "Cohere",
        model: "cohere/command-a-03-2025",
        embed_model: Some("cohere/embed-v4.0"),
        fixtures: Some("cohere"),
        vision: &["req_images.cohere.json"],
        json_schema: &["req_json_schema.cohere.json"],
        cached: &[],
        reasoning: &[],
    },
    Row {
        name: "AWS Bedrock",
        model: "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
        embed_model: Some("bedrock/amazon.titan-embed-text-v2:0"),
        fixtures: Some("bedrock"),
        vision: &["req_images.bedrock.json"],
        json_schema: &[],
        cached: &["resp_cache_usage.bedrock.json"],
        reasoning: &[
            "resp_reasoning.bedrock.json",
            "stream_reasoning.bedrock.json",
        ],
    },
];

/// The OpenAI dialect's own fixtures (the schema crate's golden round trip): these features
/// pass through the OpenAI-compatible providers untouched.
const OPENAI: &str = "../../../schema/tests/fixtures/openai";

const COLUMNS: [&str; 10] = [
    "chat",
    "stream",
    "tools",
    "streamed tool calls",
    "vision",
    "JSON schema",
    "embeddings",
    "usage",
    "cached tokens",
    "reasoning",
];

fn tool_request(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}}],
        "messages": [{"role": "user", "content": "Weather in Paris?"}]})
}

fn fixtures_dir(provider: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../dialects/tests/fixtures")
        .join(provider)
}

fn fixture_cell(row: &Row, cases: &[&str]) -> Option<bool> {
    let dir = fixtures_dir(row.fixtures?);
    if cases.is_empty() {
        return None;
    }
    Some(cases.iter().all(|c| dir.join(c).is_file()))
}

async fn live_cells(h: &Harness, row: &Row) -> Vec<Option<bool>> {
    let chat = h.chat(user_chat(&format!("{};chunks=3", row.model))).await;
    let chat_ok = chat.status() == 200;
    let body: Value = chat.json().await.unwrap_or(Value::Null);
    let chat_cell = chat_ok && body["choices"][0]["message"]["content"] == "Hello from the";
    let usage_cell = body["usage"]["completion_tokens"] == 3
        && body["usage"]["prompt_tokens"].as_u64() > Some(0);

    let mut req = user_chat(&format!("{};chunks=4", row.model));
    req["stream"] = json!(true);
    let text = h.chat(req).await.text().await.unwrap_or_default();
    let events = sse_data(&text);
    let stream_cell = events.last().is_some_and(|e| e == "[DONE]")
        && streamed_text(&done_chunks(&text)) == "Hello from the mock";

    let tool = h.chat(tool_request(row.model, false)).await;
    let tb: Value = tool.json().await.unwrap_or(Value::Null);
    let call = &tb["choices"][0]["message"]["tool_calls"][0]["function"];
    let tools_cell = call["name"] == "get_weather"
        && serde_json::from_str::<Value>(call["arguments"].as_str().unwrap_or("")).ok()
            == Some(json!({"city": "mock"}));

    let text = h
        .chat(tool_request(row.model, true))
        .await
        .text()
        .await
        .unwrap_or_default();
    let streamed_tools_cell = sse_data(&text).last().is_some_and(|e| e == "[DONE]") && {
        let chunks = done_chunks(&text);
        let args: String = chunks
            .iter()
            .flat_map(|c| {
                c["choices"][0]["delta"]["tool_calls"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|d| d["function"]["arguments"].as_str().map(str::to_owned))
            .collect();
        serde_json::from_str::<Value>(&args).ok() == Some(json!({"city": "mock"}))
            && finish_reasons(&chunks) == ["tool_calls"]
    };

    let embed_cell = match row.embed_model {
        None => None,
        Some(m) => {
            let r = h
                .client
                .post(h.url("/v1/embeddings"))
                .json(&json!({"model": m, "input": ["a", "bb"]}))
                .send()
                .await
                .unwrap();
            let ok = r.status() == 200;
            let b: Value = r.json().await.unwrap_or(Value::Null);
            Some(ok && b["data"].as_array().is_some_and(|d| d.len() == 2))
        }
    };
    vec![
        Some(chat_cell),
        Some(stream_cell),
        Some(tools_cell),
        Some(streamed_tools_cell),
        fixture_cell(row, row.vision),
        fixture_cell(row, row.json_schema),
        embed_cell,
        Some(usage_cell),
        fixture_cell(row, row.cached),
        fixture_cell(row, row.reasoning),
    ]
}

fn write_matrix(rows: &[(&str, Vec<Option<bool>>)]) {
    let mut table = format!(
        "| provider | {} |\n|---|{}\n",
        COLUMNS.join(" | "),
        "---|".repeat(COLUMNS.len())
    );
    for (name, cells) in rows {
        let cells: Vec<&str> = cells
            .iter()
            .map(|c| match c {
                Some(true) => "✅",
                Some(false) => "❌",
                None => "—",
            })
            .collect();
        let _ = writeln!(table, "| {name} | {} |", cells.join(" | "));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/providers.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- matrix:start -->\n", "<!-- matrix:end -->");
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        panic!("docs/providers.md lacks the matrix markers");
    };
    let updated = format!("{}{start}{table}{}", &doc[..a], &doc[b..]);
    if updated != doc {
        std::fs::write(&path, updated).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_feature_matrix() {
    let h = start_with(
        MockConfig {
            google_public_key_pem: Some(SA_PUBLIC.to_owned()),
            aws_credentials: vec![("AKIDCONF".into(), "conf-secret".into())],
            ..Default::default()
        },
        config,
        vec![],
    )
    .await;
    let mut rows = Vec::new();
    for row in ROWS {
        rows.push((row.name, live_cells(&h, row).await));
    }
    write_matrix(&rows);
    let failed: Vec<String> = rows
        .iter()
        .flat_map(|(name, cells)| {
            cells
                .iter()
                .zip(COLUMNS)
                .filter(|(c, _)| **c == Some(false))
                .map(move |(_, col)| format!("{name}: {col}"))
        })
        .collect();
    assert!(failed.is_empty(), "failing cells: {failed:?}");
}
