#!/usr/bin/env bash
# Browser tests of the console: start the mock provider and the gateway (store mode, SQLite,
# an admin user, the reference MCP server, the cache), then Playwright drives Debian's
# Chromium (headless) through the pages. Screenshots of every page land in docs/ui/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium
fi
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
cargo build --locked --quiet -p heimdall -p heimdall-mock-provider
bin="${CARGO_TARGET_DIR:-$root/target}/debug"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
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

"$bin/heimdall-mock-provider" --host 127.0.0.1 --port "$mock_port" >"$work/mock.log" 2>&1 &
pids+=($!)
everything="$root/tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
cat >"$work/config.json" <<JSON
{
  "providers": {},
  "governance": {"auth_config": {"admin_username": "admin", "admin_password": "console-test-pw"}},
  "cache": {"default_cache_key": "default", "ttl": "1h"},
  "pricing": {"default_price": {"input": 5.0, "output": 15.0}},
  "mcp": {"client_configs": [{"name": "everything", "connection_type": "stdio",
    "stdio_config": {"command": "node", "args": ["$everything"]},
    "tools_to_execute": ["echo"], "tools_to_auto_execute": ["echo"]}]}
}
JSON
"$bin/heimdall" serve --config "$work/config.json" --config-mode store --app-dir "$work/app" \
  --host 127.0.0.1 --port "$gw_port" >"$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$gw_port/health" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$gw_port/health" >/dev/null || { cat "$work/gateway.log"; exit 1; }

export HEIMDALL_URL="http://127.0.0.1:$gw_port" MOCK_URL="http://127.0.0.1:$mock_port/v1"
export HEIMDALL_ADMIN=admin HEIMDALL_PASSWORD=console-test-pw
status=0
(cd tests/ui && npx playwright test "$@") || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- gateway log (tail) ---"; tail -n 60 "$work/gateway.log"
fi
# The log must never hold the admin password or a provider key the test typed.
if grep -q -e console-test-pw -e sk-console-secret "$work/gateway.log"; then
  echo "a secret reached the gateway log" >&2
  status=1
fi
exit "$status"
