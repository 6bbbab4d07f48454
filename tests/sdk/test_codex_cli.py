"""Codex CLI (`codex exec`, the npm package pinned in tests/sdk/codex) through the gateway: a
custom model provider with `wire_api = "responses"` pointed at the gateway's `/v1`. Codex sends
its whole agent request (instructions, its shell and apply_patch tools, reasoning settings,
`store: false`, `prompt_cache_key`), runs the tool call the mock model makes, sends the result
back, and prints the model's final answer.
"""
import os
import shutil
import subprocess

import pytest

CODEX = os.path.join(os.path.dirname(__file__), "codex", "node_modules", ".bin", "codex")


@pytest.mark.parametrize("model", ["mock/gpt-4o-mini", "anthropic/claude-sonnet-4-5"])
def test_codex_exec_completes_through_the_gateway(gateway_url: str, tmp_path, model: str) -> None:
    if not os.path.exists(CODEX):
        pytest.fail("Codex CLI is not installed: run through tests/sdk/run.sh")
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(f'''
model = "{model}"
model_provider = "heimdall"

[model_providers.heimdall]
name = "Heimdall"
base_url = "{gateway_url}/v1"
env_key = "HEIMDALL_API_KEY"
wire_api = "responses"
''')
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "CODEX_HOME": str(home), "HEIMDALL_API_KEY": "sk-codex-test"}
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run(
        [CODEX, "exec", "--skip-git-repo-check", "--sandbox", "read-only", "Say hello"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The final message is the mock model's answer, after the tool round trip.
    assert "Hello from the mock provider." in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    shutil.rmtree(home, ignore_errors=True)
