"""Black-box SDK tests: a real gateway binary in front of the real mock-provider binary.

The gateway and mock are started by `tests/sdk/run.sh`, which exports their URLs; these tests
only talk HTTP through the official SDKs, exactly as an application would.
"""
import os

import pytest


@pytest.fixture(scope="session")
def gateway_url() -> str:
    url = os.environ.get("HEIMDALL_URL")
    if not url:
        pytest.fail("HEIMDALL_URL is not set: run the SDK tests through tests/sdk/run.sh")
    return url


@pytest.fixture(scope="session")
def mock_url() -> str:
    url = os.environ.get("MOCK_URL")
    if not url:
        pytest.fail("MOCK_URL is not set: run the SDK tests through tests/sdk/run.sh")
    return url


# ---- the SDK x mode matrix, printed after the run and written to docs/integrations.md ----

SDKS = {
    "test_openai_python.py": "openai (Python) → OpenAI-compatible",
    "test_openai_python_providers.py": "openai (Python) → every provider dialect",
    "test_openai_python_azure.py": "openai `AzureOpenAI` (Python), deployment paths",
    "test_openai_responses.py": "openai (Python) Responses API → OpenAI-compatible, Anthropic",
    "test_openai_agents.py": "openai-agents (Python), default agent with a function tool",
    "test_codex_cli.py": "Codex CLI (`codex exec`), Responses API",
    "test_anthropic_python.py": "anthropic (Python), `/anthropic`",
    "test_google_genai.py": "google-genai (Python), `/genai`",
    "test_cohere_python.py": "cohere `ClientV2` (Python), `/cohere`",
    "test_boto3_bedrock.py": "boto3 `bedrock-runtime` (Python), `/bedrock`",
    "test_langchain_openai.py": "langchain-openai `ChatOpenAI` (Python), `/langchain`",
    "test_litellm_client.py": "litellm as a client (Python), `/litellm`",
    "test_openai_realtime.py": "openai (Python) Realtime API: WebSocket, client secrets",
    "test_openai_audio_images.py": "openai (Python) audio, images; cohere / httpx rerank",
    "test_sdk_base_urls.py": "groq / mistralai / openai at the root (Python): base-URL habits",
    "test_mcp_python.py": "mcp (Python) client of `/mcp`; openai (Python) with MCP tools, agent mode",
    "test_node_sdks.py::openai": "openai (Node.js)",
    "test_node_sdks.py::anthropic": "@anthropic-ai/sdk (Node.js), `/anthropic`",
    "test_node_sdks.py::openai_responses": "openai (Node.js) Responses API",
    "test_node_sdks.py::groq": "groq-sdk (Node.js), base `…/v1` and the root",
    "test_node_sdks.py::openai_media": "openai (Node.js) audio, images",
    # Virtual-key refusals (401/403/402/429) and a good key, through every SDK above.
    "test_governance_errors.py": "governance (virtual keys), every SDK above",
}
# Where each SDK puts its paths when given the gateway as its base URL (all served).
BASE_URLS = """## Base URLs: each SDK's path habit

| SDK | base URL its users write | paths it calls | served |
|---|---|---|---|
| OpenAI (Python, Node.js), Together | `http://gw:8080/v1` | `/v1/chat/completions`, … | ✅ |
| OpenAI given the bare origin, Perplexity (`perplexityai`), LiteLLM's habit | `http://gw:8080` | `/chat/completions`, `/models`, … | ✅ (root mount) |
| Groq (`groq`, `groq-sdk`) | `http://gw:8080` | `/openai/v1/chat/completions` | ✅ |
| Groq given the same `…/v1` as every other SDK | `http://gw:8080/v1` | `/v1/openai/v1/chat/completions` | ✅ |
| Mistral (`mistralai`, `server_url`) | `http://gw:8080` | `/v1/chat/completions`, `/v1/embeddings` | ✅ (the gateway adds the `id` its SDK requires on embeddings) |
| Fireworks (`fireworks-ai`) | `http://gw:8080` | `/inference/v1/chat/completions` | ✅ |

The root mount serves only the OpenAI route set's own paths, so `/health`, `/ready`, `/metrics`,
`/api/*` and the drop-in prefixes keep theirs. Tested: `tests/sdk/test_sdk_base_urls.py`
(groq with both bases, openai at the root, mistralai), `tests/sdk/node/cases.mjs` (`groq-sdk`
with both bases), `crates/server/tests/sdk_base_urls.rs` (every base, the gateway's own routes
untouched). `fireworks-ai` and `perplexityai` are not run here: their paths (read from their
sources) are the ones served.
"""
MODES = ["plain", "stream", "tool call", "streamed tool call", "embeddings", "audio", "images",
         "rerank", "realtime", "errors"]
_results: dict = {}


def _mode(name: str) -> str:
    n = name.lower()
    if "error" in n or "cut" in n:
        return "errors"
    if "embed" in n:
        return "embeddings"
    if "realtime" in n:
        return "realtime"
    if any(w in n for w in ("speech", "transcri", "translat")):
        return "audio"
    if "image" in n:
        return "images"
    if "rerank" in n:
        return "rerank"
    tool = "tool" in n or "function" in n
    stream = "stream" in n
    if tool and stream:
        return "streamed tool call"
    if tool:
        return "tool call"
    if stream:
        return "stream"
    return "plain"


def pytest_configure(config):
    # LiteLLM's pydantic models trip a pydantic UserWarning per TypedDict; it says nothing about us.
    config.addinivalue_line("filterwarnings", "ignore::UserWarning:pydantic.*")


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.failed):
        return
    file = report.nodeid.split("::")[0].rsplit("/", 1)[-1]
    if file == "test_node_sdks.py":
        # One pytest file drives both Node SDKs: test_node_<sdk>[<case>].
        func = report.nodeid.split("::")[-1].split("[")[0]
        file = f"{file}::{func.removeprefix('test_node_')}"
    sdk = SDKS.get(file)
    if sdk is None:
        return
    mode = _mode(report.nodeid.split("::")[-1])
    ok, total = _results.get((sdk, mode), (0, 0))
    _results[(sdk, mode)] = (ok + (1 if report.passed else 0), total + 1)


def _table() -> str:
    lines = ["| SDK | " + " | ".join(MODES) + " |", "|---|" + "---|" * len(MODES)]
    for sdk in SDKS.values():
        cells = []
        for mode in MODES:
            ok, total = _results.get((sdk, mode), (0, 0))
            cells.append("—" if total == 0 else f"{'✅' if ok == total else '❌'} {ok}/{total}")
        lines.append(f"| {sdk} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter):
    if not _results:
        return
    table = _table()
    terminalreporter.write_line("")
    terminalreporter.write_line("SDK x mode matrix (passed/run):")
    terminalreporter.write_line(table)
    # Only a full run rewrites the document (a -k selection would leave holes).
    full_run = not terminalreporter.stats.get("deselected")
    if full_run and len({sdk for sdk, _ in _results}) == len(SDKS):
        path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "integrations.md")
        with open(path, "w") as f:
            f.write(
                "# Integrations: the official SDKs against Heimdall\n\n"
                "Written by `tests/sdk/run.sh` (part of `./scripts/test.sh` and CI): each SDK is the\n"
                "official client, unmodified except for its base URL, talking to the gateway binary in\n"
                "front of the mock provider's native faces. Cells are passed/run for that run; — = no\n"
                "test of that mode for that SDK yet. Do not edit by hand.\n\n"
                + table + "\n\n" + BASE_URLS + "\n"
                "Node.js SDKs run under Node's own runtime (`tests/sdk/node`, installed with `npm ci`);\n"
                "pytest starts each case so that they land in this table.\n"
            )
