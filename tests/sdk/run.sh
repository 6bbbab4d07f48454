#!/usr/bin/env bash
# Black-box SDK tests: build the gateway and the mock provider, start both on free loopback
# ports, create the Python venv, and drive the official SDKs against the gateway.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
venv="$root/tests/sdk/.venv"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt

# Node.js SDKs (openai, @anthropic-ai/sdk), pinned by tests/sdk/node/package-lock.json.
if ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
(cd tests/sdk/node && npm ci --no-audit --no-fund --loglevel=error)
# The reference MCP server (tests/sdk/test_mcp_python.py), pinned by tests/mcp/package-lock.json.
(cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
# Codex CLI (its own lock: a large native binary the other Node tests do not need).
(cd tests/sdk/codex && npm ci --no-audit --no-fund --loglevel=error)

cargo build --locked --quiet -p heimdall -p heimdall-mock-provider
bin="${CARGO_TARGET_DIR:-$root/target}/debug"

free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
mock_port=$(free_port)
gw_port=$(free_port)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/heimdall-mock-provider" --host 127.0.0.1 --port "$mock_port" \
  --google-public-key crates/server/tests/fixtures/vertex-test-service-account.pub.pem \
  --aws-credentials AKIDSDKTEST:sdk-test-secret >"$work/mock.log" 2>&1 &
pids+=($!)
cat >"$work/config.json" <<JSON
{
  "providers": {
    "mock": {
      "type": "custom",
      "keys": [{"name": "mock-key", "value": "sk-mock", "models": [], "weight": 1.0}],
      "network_config": {"base_url": "http://127.0.0.1:$mock_port/v1", "default_request_timeout_in_seconds": 10}
    },
    "limited": {
      "type": "custom",
      "keys": [{"name": "limited-key", "value": "sk-limited", "models": [], "weight": 1.0}],
      "network_config": {"base_url": "http://127.0.0.1:$mock_port/v1"}
    },
    "azure": {
      "type": "azure",
      "keys": [{"name": "azure-key", "value": "azure-secret",
                "azure_key_config": {"endpoint": "http://127.0.0.1:$mock_port"}}]
    },
    "gemini": {
      "type": "gemini",
      "keys": [{"name": "gemini-key", "value": "g-mock", "models": [], "weight": 1.0}],
      "network_config": {"base_url": "http://127.0.0.1:$mock_port/v1beta"}
    },
    "bedrock": {
      "type": "bedrock",
      "network_config": {"base_url": "http://127.0.0.1:$mock_port"},
      "keys": [{"name": "bedrock-iam", "bedrock_key_config": {"region": "us-east-1",
        "access_key": "AKIDSDKTEST", "secret_key": "sdk-test-secret"}}]
    },
    "vertex": {
      "type": "vertex",
      "network_config": {"base_url": "http://127.0.0.1:$mock_port"},
      "keys": [{"name": "vertex-sa", "vertex_key_config": {
        "project_id": "heimdall-test", "region": "us-central1",
        "auth_credentials": "$root/crates/server/tests/fixtures/vertex-test-service-account.json",
        "token_url": "http://127.0.0.1:$mock_port/google/token"}}]
    },
    "cohere": {
      "type": "cohere",
      "keys": [{"name": "cohere-key", "value": "co-mock", "models": [], "weight": 1.0}],
      "network_config": {"base_url": "http://127.0.0.1:$mock_port"}
    },
    "openai": {
      "type": "openai",
      "keys": [{"name": "openai-key", "value": "sk-openai-mock", "models": [], "weight": 1.0}],
      "network_config": {"base_url": "http://127.0.0.1:$mock_port/v1", "default_request_timeout_in_seconds": 10}
    },
    "anthropic": {
      "type": "anthropic",
      "keys": [{"name": "anthropic-key", "value": "sk-ant-mock", "models": [], "weight": 1.0}],
      "network_config": {"base_url": "http://127.0.0.1:$mock_port/v1", "default_request_timeout_in_seconds": 10}
    }
  },
  "pricing": {"overrides": {"mock/gpt-4o-mini": {"input": 0.0, "output": 1250.0}}},
  "model_aliases": {"$("$venv/bin/python" -c 'from agents.models import get_default_model; print(get_default_model())')": "mock/gpt-4o-mini"},
  "governance": {"virtual_keys": [
    {"id": "sdk-ok", "value": "sk-bf-sdk-ok"},
    {"id": "sdk-inactive", "value": "sk-bf-sdk-inactive", "is_active": false},
    {"id": "sdk-restricted", "value": "sk-bf-sdk-restricted",
     "provider_configs": [{"provider": "mock", "allowed_models": ["only-this-model"]}]},
    {"id": "sdk-broke", "value": "sk-bf-sdk-broke", "budget": {"max_limit": 0, "reset_duration": "1d"}},
    {"id": "sdk-throttled", "value": "sk-bf-sdk-throttled",
     "rate_limit": {"request_max_limit": 0, "request_reset_duration": "1h"}}
  ]}
}
JSON
export HEIMDALL_BIN="$bin/heimdall" MOCK_BIN="$bin/heimdall-mock-provider" \
  MCP_EVERYTHING="$root/tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
"$bin/heimdall" serve --config "$work/config.json" --port "$gw_port" --log-level warn >"$work/gateway.log" 2>&1 &
pids+=($!)

wait_for() {
  for _ in $(seq 1 100); do
    if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "not up: $1" >&2
  cat "$work"/*.log >&2
  return 1
}
wait_for "http://127.0.0.1:$mock_port/health"
wait_for "http://127.0.0.1:$gw_port/ready"

export HEIMDALL_URL="http://127.0.0.1:$gw_port" MOCK_URL="http://127.0.0.1:$mock_port"
status=0
"$venv/bin/python" -m pytest -q tests/sdk "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- gateway log ---" >&2; tail -50 "$work/gateway.log" >&2
fi
exit "$status"
