#!/usr/bin/env bash
# CPU profile of the gateway under a closed-loop load, as a flame graph (docs/perf/*.svg).
#
#   bench/profile.sh                      # defaults (request log on, info level), 8 s
#   EXTRA='{"client":{"enable_logging":false}}' NAME=closed-loop-nolog bench/profile.sh
#
# The gateway runs alone on core 1 (`--profile profiling`: the release build with line tables),
# the mock provider and oha (64 connections, the ~1 KB chat body) on core 0; `perf record`
# samples the gateway's CPU clock with DWARF call graphs (this VM has no hardware counters);
# inferno folds and draws. Installs linux-perf (Debian) and inferno (crates.io) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${NAME:-closed-loop-defaults}
extra=${EXTRA:-'{}'}
dur=${DURATION:-8}
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-perf; }
command -v inferno-flamegraph >/dev/null || cargo install inferno --locked
command -v oha >/dev/null || cargo install oha --locked
cargo build --profile profiling --locked --quiet -p heimdall -p heimdall-mock-provider
bin="${CARGO_TARGET_DIR:-$(pwd)/target}/profiling"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
mock_port=$(port); gw_port=$(port)
taskset -c 0 "$bin/heimdall-mock-provider" --port "$mock_port" --worker-threads 1 >/dev/null 2>&1 &
pids+=($!)
python3 - "$work/config.json" "$mock_port" "$extra" <<'PY'
import json, sys
c = {"providers": {"mock": {"type": "custom", "keys": [{"name": "k", "value": "sk-bench", "models": [], "weight": 1}],
     "network_config": {"base_url": f"http://127.0.0.1:{sys.argv[2]}/v1"}}}}
c.update(json.loads(sys.argv[3]))
json.dump(c, open(sys.argv[1], "w"))
PY
taskset -c 1 "$bin/heimdall" --config "$work/config.json" --port "$gw_port" --app-dir "$work/data" >"$work/gw.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$gw_port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
printf '{"model":"mock/gpt-4o","messages":[{"role":"user","content":"%s"}]}' "$(python3 -c 'print("x" * 900)')" >"$work/body.json"
taskset -c 0 oha --no-tui -z "$((dur + 4))s" -c 64 -m POST -H 'content-type: application/json' \
  -D "$work/body.json" "http://127.0.0.1:$gw_port/v1/chat/completions" >/dev/null 2>&1 &
pids+=($!)
sleep 2
perf record -e cpu-clock -F 1999 --call-graph dwarf,32768 -p "$gw_pid" -o "$work/perf.data" -- sleep "$dur"
mkdir -p docs/perf
perf script -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf | sed -E 's/::h[0-9a-f]{16}//g' >"$work/folded"
inferno-flamegraph --minwidth 0.3 --title "Heimdall $name, closed loop 64 connections, one core, $(date -u +%F)" \
  "$work/folded" >"docs/perf/$name.svg"
echo "written: docs/perf/$name.svg"
