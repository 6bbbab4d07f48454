"""The official Node.js SDKs (`openai`, `@anthropic-ai/sdk`) against the gateway. The cases
live in `tests/sdk/node/cases.mjs` and run under Node itself; pytest starts one process per case
so that each lands in the SDK x mode table."""
import os
import subprocess

import pytest

NODE_DIR = os.path.join(os.path.dirname(__file__), "node")
CASES = {
    "openai": ["plain", "stream", "tool_call", "streamed_tool_call", "claude_streamed_tool_call",
               "embeddings", "errors"],
    "anthropic": ["plain", "stream", "tool_call", "streamed_tool_call",
                  "openai_streamed_tool_call", "errors"],
    "openai-responses": ["plain", "stream", "tool_call", "streamed_tool_call", "errors"],
    "groq": ["plain", "stream", "tool_call", "errors"],
    "openai-media": ["speech", "transcription", "image", "errors"],
}


def run_case(gateway_url: str, sdk: str, case: str) -> None:
    proc = subprocess.run(["node", "cases.mjs", sdk, case], cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "HEIMDALL_URL": gateway_url})
    assert proc.returncode == 0, proc.stderr or proc.stdout


def test_every_case_is_listed() -> None:
    for sdk, cases in CASES.items():
        listed = subprocess.run(["node", "cases.mjs", sdk, "--list"], cwd=NODE_DIR,
                                capture_output=True, text=True, timeout=60, check=True)
        assert listed.stdout.split() == cases


@pytest.mark.parametrize("case", CASES["openai"])
def test_node_openai(gateway_url: str, case: str) -> None:
    run_case(gateway_url, "openai", case)


@pytest.mark.parametrize("case", CASES["anthropic"])
def test_node_anthropic(gateway_url: str, case: str) -> None:
    run_case(gateway_url, "anthropic", case)


@pytest.mark.parametrize("case", CASES["openai-responses"])
def test_node_openai_responses(gateway_url: str, case: str) -> None:
    run_case(gateway_url, "openai-responses", case)


@pytest.mark.parametrize("case", CASES["groq"])
def test_node_groq(gateway_url: str, case: str) -> None:
    run_case(gateway_url, "groq", case)


@pytest.mark.parametrize("case", CASES["openai-media"])
def test_node_openai_media(gateway_url: str, case: str) -> None:
    run_case(gateway_url, "openai-media", case)
