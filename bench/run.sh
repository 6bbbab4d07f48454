#!/usr/bin/env bash
# Side-by-side benchmark, one command: the mock provider (a) directly, (b) behind one nginx
# proxy_pass hop with a keep-alive upstream (the floor for any proxy), (c) behind Heimdall —
# same 1 KB chat request, same run, in two CPU layouts (target core 0 / load core 1 on the host
# network; target core 1 / load core 0 in a private network namespace).
#
#   bench/run.sh            # quick: 500 1000 3000 5000 RPS x 15 s, closed loop, streaming
#   RATES="1000" DURATION=5 bench/run.sh     # shorter
#   bench/run.sh soak       # Heimdall only, 1000 RPS for SOAK_MINUTES (default 30): success, latency, RSS per minute
#   BASELINE_BIN=/path/to/older/heimdall bench/run.sh   # also an older build (log on), same run
#   LAYOUTS="0/1 1/0/netns" bench/run.sh                # CPU layouts (target/load[/netns]); default both
#   TARGET_CPUS_FIXED=1 TARGET_CPUS=0,1 LOAD_CPUS=0,1 bench/run.sh   # one layout only (everything shared)
# Targets: direct, nginx, heimdall (defaults), heimdall-nolog, heimdall-governed (a virtual key
# with budgets and rate limits on every request), heimdall-cache-miss (the response cache on,
# every request looked up and missed: its cache key is never stored to, `x-bf-cache-no-store`),
# heimdall-cache-hit (the same gateway, every request an exact hit), and the
# baseline build when given.
#
# Installs what it needs (oha via cargo, nginx and wrk from Debian), writes the table to stdout
# and to bench/results/<timestamp>.md. See docs/benchmarks.md for the method.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mode=${1:-quick}
rates=${RATES:-"500 1000 3000 5000"}
duration=${DURATION:-15}
tcpu=${TARGET_CPUS:-0}
lcpu=${LOAD_CPUS:-1}
export TARGET_CPUS=$tcpu LOAD_CPUS=$lcpu
warmup=${WARMUP:-3}

need() { command -v "$1" >/dev/null 2>&1; }
if [ -z "${BENCH_INNER:-}" ]; then
  need oha || cargo install oha --locked
  need nginx || [ -x /usr/sbin/nginx ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; }
  need python3 || { echo "python3 is required" >&2; exit 1; }
  cargo build --release --locked --quiet -p heimdall -p heimdall-mock-provider
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
bin="${CARGO_TARGET_DIR:-$root/target}/release"

# Every quick run measures each CPU layout of LAYOUTS (target cores / load cores [/netns]),
# by default both: the target on core 0 with the mock and load on core 1 on the host's
# network, and the target on core 1 with mock and load on core 0 inside a private network
# namespace (`unshare -n`, only loopback) — the layout of the independent harness in issue 21.
# Each layout gets its own table; a summary compares the budgets across layouts.
if [ -z "${BENCH_INNER:-}" ] && [ "$mode" = quick ] && [ -z "${TARGET_CPUS_FIXED:-}" ]; then
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p bench/results
  summary=()
  layouts=${LAYOUTS:-0/1 1/0/netns}
  for layout in $layouts; do
    IFS=/ read -r t l ns <<<"$layout"
    name="target-core$t-load-core$l${ns:+-$ns}"
    out="bench/results/$stamp-$name"
    echo "== layout $name"
    if [ "$ns" = netns ]; then
      BENCH_INNER=1 TARGET_CPUS=$t LOAD_CPUS=$l BENCH_OUT=$out \
        unshare -n bash -c 'ip link set lo up && exec bash bench/run.sh quick'
    else
      BENCH_INNER=1 TARGET_CPUS=$t LOAD_CPUS=$l BENCH_OUT=$out bash bench/run.sh quick
    fi
    summary+=("$name" "$out.jsonl" "$out.ttfb")
  done
  python3 bench/report.py summary "${summary[@]}" | tee "bench/results/$stamp-summary.md"
  echo "written: bench/results/$stamp-*.md"
  exit 0
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
mock_port=$(port); nginx_port=$(port); gw_port=$(port); gw2_port=$(port); gw3_port=$(port); gw4_port=$(port)
gw5_port=$(port)

taskset -c "$lcpu" "$bin/heimdall-mock-provider" --port "$mock_port" --worker-threads 1 >"$work/mock.log" 2>&1 &
pids+=($!)

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream mock { server 127.0.0.1:$mock_port; keepalive 256; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
taskset -c "$tcpu" "$nginx_bin" -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)

cat >"$work/heimdall.json" <<JSON
{"providers": {"mock": {"type": "custom",
  "keys": [{"name": "k", "value": "sk-bench", "models": [], "weight": 1}],
  "network_config": {"base_url": "http://127.0.0.1:$mock_port/v1"}}}}
JSON
taskset -c "$tcpu" "$bin/heimdall" --config "$work/heimdall.json" --port "$gw_port" --app-dir "$work/data" \
  --log-level warn >"$work/gw.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)
# The same gateway with the request log off, to show what logging costs.
python3 - "$work/heimdall.json" "$work/heimdall-nolog.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["client"] = {"enable_logging": False}
json.dump(c, open(sys.argv[2], "w"))
PY
taskset -c "$tcpu" "$bin/heimdall" --config "$work/heimdall-nolog.json" --port "$gw2_port" --app-dir "$work/data2" \
  --log-level warn >"$work/gw2.log" 2>&1 &
gw2_pid=$!
pids+=($gw2_pid)
# The same gateway with governance on: the requests carry a virtual key with a budget (and a
# team and customer above it with budgets) and request and token rate limits, counters in
# memory — what governance costs per request.
python3 - "$work/heimdall.json" "$work/heimdall-governed.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
big = {"max_limit": 1e9, "reset_duration": "1M"}
c["pricing"] = {"overrides": {"mock/gpt-4o": {"input": 2.5, "output": 10.0}}}
c["governance"] = {
    "customers": [{"id": "acme", "budget": big}],
    "teams": [{"id": "eng", "customer_id": "acme", "budget": big}],
    "virtual_keys": [{"id": "bench", "value": "sk-bf-bench", "team_id": "eng", "budget": big,
                      "rate_limit": {"request_max_limit": 1000000000, "request_reset_duration": "1m",
                                     "token_max_limit": 1000000000000, "token_reset_duration": "1m"}}]}
json.dump(c, open(sys.argv[2], "w"))
PY
taskset -c "$tcpu" "$bin/heimdall" --config "$work/heimdall-governed.json" --port "$gw4_port" --app-dir "$work/data4" \
  --log-level warn >"$work/gw4.log" 2>&1 &
gw4_pid=$!
pids+=($gw4_pid)
# The same gateway with the response cache on (memory, exact tier, every request cached).
python3 - "$work/heimdall.json" "$work/heimdall-cache.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["cache"] = {"default_cache_key": "bench", "embedding_model": "none", "ttl": "1h"}
json.dump(c, open(sys.argv[2], "w"))
PY
taskset -c "$tcpu" "$bin/heimdall" --config "$work/heimdall-cache.json" --port "$gw5_port" --app-dir "$work/data5" \
  --log-level warn >"$work/gw5.log" 2>&1 &
gw5_pid=$!
pids+=($gw5_pid)
# An older build (BASELINE_BIN), defaults as `heimdall`: before/after in the same run.
gw3_pid=
if [ -n "${BASELINE_BIN:-}" ]; then
  taskset -c "$tcpu" "$BASELINE_BIN" --config "$work/heimdall.json" --port "$gw3_port" --app-dir "$work/data3" \
    --log-level warn >"$work/gw3.log" 2>&1 &
  gw3_pid=$!
  pids+=($gw3_pid)
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$gw3_port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
fi

for u in "http://127.0.0.1:$mock_port/health" "http://127.0.0.1:$gw_port/ready" "http://127.0.0.1:$gw2_port/ready" "http://127.0.0.1:$gw4_port/ready" "http://127.0.0.1:$gw5_port/ready" "http://127.0.0.1:$nginx_port/health"; do
  for _ in $(seq 1 100); do curl -fsS "$u" >/dev/null 2>&1 && break; sleep 0.1; done
done

# The ~1 KB chat body; the gateway addresses the mock as provider/model.
content=$(python3 -c 'print("x" * 900)')
printf '{"model":"gpt-4o","messages":[{"role":"user","content":"%s"}]}' "$content" >"$work/direct.json"
printf '{"model":"mock/gpt-4o","messages":[{"role":"user","content":"%s"}]}' "$content" >"$work/gateway.json"

nginx_worker() { pgrep -P "$(cat "$work/nginx.pid")" | head -1; }
# CPU ticks (user+system) of a process.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

run_target() { # name url body pid rate [header [header]] -> json line
  local name=$1 url=$2 body=$3 pid=$4 rate=$5 extra=${6:-x-bench: 1} extra2=${7:-x-bench: 2}
  taskset -c "$lcpu" oha --no-tui -z "${warmup}s" -q "$rate" -c 64 -m POST -H 'content-type: application/json' -H "$extra" -H "$extra2" -D "$body" "$url" >/dev/null 2>&1 || true
  local t0; t0=$(ticks "$pid")
  taskset -c "$lcpu" oha --no-tui --output-format json -z "${duration}s" -q "$rate" -c 64 --latency-correction \
    -m POST -H 'content-type: application/json' -H "$extra" -H "$extra2" -D "$body" "$url" >"$work/oha.json" 2>/dev/null || true
  local t1; t1=$(ticks "$pid")
  python3 "$root/bench/report.py" record "$work/oha.json" "$name" "$rate" "$((t1 - t0))" "$(hwm_kb "$pid")" >>"$work/results.jsonl"
}

run_closed() { # name url body pid [header [header]]
  local name=$1 url=$2 body=$3 pid=$4 extra=${5:-x-bench: 1} extra2=${6:-x-bench: 2}
  local t0; t0=$(ticks "$pid")
  taskset -c "$lcpu" oha --no-tui --output-format json -z "${duration}s" -c 64 \
    -m POST -H 'content-type: application/json' -H "$extra" -H "$extra2" -D "$body" "$url" >"$work/oha.json" 2>/dev/null || true
  local t1; t1=$(ticks "$pid")
  python3 "$root/bench/report.py" record "$work/oha.json" "$name" max "$((t1 - t0))" "$(hwm_kb "$pid")" >>"$work/results.jsonl"
}

mock_pid=${pids[0]}
if [ "$mode" = soak ]; then
  # Heimdall with its defaults (request log on), 1,000 RPS open loop; per minute: success,
  # latency and resident memory. RSS growth is judged from minute 2 (after the warm-up).
  minutes=${SOAK_MINUTES:-30}
  mkdir -p bench/results
  out="bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ).md"
  {
    echo "Soak: Heimdall (defaults, request log on) at 1000 RPS for $minutes min, $(date -u +%F)"
    echo
    echo "| minute | requests | success | p50 ms | p99 ms | RSS MB | log DB MB | failures |"
    echo "|---|---|---|---|---|---|---|---|"
  } | tee "$out"
  for m in $(seq 1 "$minutes"); do
    taskset -c "$lcpu" oha --no-tui --output-format json -z 60s -q 1000 -c 64 --latency-correction \
      -m POST -H 'content-type: application/json' \
      -D "$work/gateway.json" "http://127.0.0.1:$gw_port/v1/chat/completions" >"$work/soak.json" 2>/dev/null || true
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$gw_pid/status")
    db=$(du -sk "$work/data" | awk '{print $1}')
    python3 - "$work/soak.json" "$m" "$rss" "$db" <<'PY' | tee -a "$out"
import json, sys
d = json.load(open(sys.argv[1])); p = d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
ok = sum(int(v) for k, v in codes.items() if str(k).startswith("2"))
# Requests in flight when oha's minute ends are cut by oha itself, not failed by the gateway.
errors = {k: v for k, v in d.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
total = sum(int(v) for v in codes.values()) + sum(int(v) for v in errors.values())
fails = {**{k: v for k, v in codes.items() if not str(k).startswith("2")}, **errors}
print(f"| {sys.argv[2]} | {total} | {100 * ok / max(total, 1):.3f}% | {p['p50'] * 1000:.3f} | "
      f"{p['p99'] * 1000:.3f} | {int(sys.argv[3]) / 1024:.1f} | {int(sys.argv[4]) / 1024:.0f} | {fails or ''} |")
PY
  done
  echo "written: $out"
  exit 0
fi

for rate in $rates; do
  run_target direct "http://127.0.0.1:$mock_port/v1/chat/completions" "$work/direct.json" "$mock_pid" "$rate"
  run_target nginx "http://127.0.0.1:$nginx_port/v1/chat/completions" "$work/direct.json" "$(nginx_worker)" "$rate"
  run_target heimdall "http://127.0.0.1:$gw_port/v1/chat/completions" "$work/gateway.json" "$gw_pid" "$rate"
  run_target heimdall-nolog "http://127.0.0.1:$gw2_port/v1/chat/completions" "$work/gateway.json" "$gw2_pid" "$rate"
  run_target heimdall-governed "http://127.0.0.1:$gw4_port/v1/chat/completions" "$work/gateway.json" "$gw4_pid" "$rate" "x-bf-vk: sk-bf-bench"
  run_target heimdall-cache-miss "http://127.0.0.1:$gw5_port/v1/chat/completions" "$work/gateway.json" "$gw5_pid" "$rate" "x-bf-cache-no-store: true" "x-bf-cache-key: never-stored"
  run_target heimdall-cache-hit "http://127.0.0.1:$gw5_port/v1/chat/completions" "$work/gateway.json" "$gw5_pid" "$rate"
  if [ -n "$gw3_pid" ]; then
    run_target heimdall-baseline "http://127.0.0.1:$gw3_port/v1/chat/completions" "$work/gateway.json" "$gw3_pid" "$rate"
  fi
done
run_closed direct "http://127.0.0.1:$mock_port/v1/chat/completions" "$work/direct.json" "$mock_pid"
run_closed nginx "http://127.0.0.1:$nginx_port/v1/chat/completions" "$work/direct.json" "$(nginx_worker)"
run_closed heimdall "http://127.0.0.1:$gw_port/v1/chat/completions" "$work/gateway.json" "$gw_pid"
run_closed heimdall-nolog "http://127.0.0.1:$gw2_port/v1/chat/completions" "$work/gateway.json" "$gw2_pid"
run_closed heimdall-governed "http://127.0.0.1:$gw4_port/v1/chat/completions" "$work/gateway.json" "$gw4_pid" "x-bf-vk: sk-bf-bench"
run_closed heimdall-cache-miss "http://127.0.0.1:$gw5_port/v1/chat/completions" "$work/gateway.json" "$gw5_pid" "x-bf-cache-no-store: true" "x-bf-cache-key: never-stored"
run_closed heimdall-cache-hit "http://127.0.0.1:$gw5_port/v1/chat/completions" "$work/gateway.json" "$gw5_pid"
if [ -n "$gw3_pid" ]; then
  run_closed heimdall-baseline "http://127.0.0.1:$gw3_port/v1/chat/completions" "$work/gateway.json" "$gw3_pid"
fi

# Streaming time to first chunk: 8 chunks, 5 ms apart; direct, nginx and Heimdall interleaved.
taskset -c "$lcpu" python3 bench/ttfb.py --direct "http://127.0.0.1:$mock_port/v1" --nginx "http://127.0.0.1:$nginx_port/v1" \
  --gateway "http://127.0.0.1:$gw_port/v1" \
  --model-direct 'gpt-4o;chunks=8;chunk_delay_ms=5' --model-gateway 'mock/gpt-4o;chunks=8;chunk_delay_ms=5' -n 300 \
  >"$work/ttfb.txt"

# Where a sequential request's time goes, hop by hop (bench/timeline.py: syscall tracepoints of
# client, proxy and mock): a whole answer 2 ms and 45 ms after the previous one, and the stream
# above (each starts ~40 ms after the last, when the previous stream ended). Needs perf.
: >"$work/timeline.txt"
if command -v perf >/dev/null; then
  python3 bench/timeline.py --header >"$work/timeline.txt"
  for proxy in nginx heimdall; do
    if [ "$proxy" = nginx ]; then ppid=$(nginx_worker) url="http://127.0.0.1:$nginx_port/v1" prefix=""
    else ppid=$gw_pid url="http://127.0.0.1:$gw_port/v1" prefix="mock/"; fi
    for spec in "whole 2" "whole 45" "stream 2"; do
      read -r kind gap <<<"$spec"
      model="${prefix}gpt-4o" flag=() label="$proxy, whole answer, $gap ms apart"
      if [ "$kind" = stream ]; then
        model="${prefix}gpt-4o;chunks=8;chunk_delay_ms=5" flag=(--stream) label="$proxy, stream (8 chunks 5 ms apart)"
      fi
      python3 bench/timeline.py --proxy-pid "$ppid" --upstream-pid "$mock_pid" --url "$url" \
        --model "$model" "${flag[@]}" --gap-ms "$gap" -n 100 --client-cpu "$lcpu" --label "$label" \
        >>"$work/timeline.txt" || echo "timeline: $label failed" >&2
    done
  done
else
  echo "perf not installed: no hop-by-hop timeline (apt-get install linux-perf)" >&2
fi

mkdir -p bench/results
base=${BENCH_OUT:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
cp "$work/results.jsonl" "$base.jsonl"
cp "$work/ttfb.txt" "$base.ttfb"
cp "$work/timeline.txt" "$base.timeline"
python3 bench/report.py table "$work/results.jsonl" "$work/ttfb.txt" "$work/timeline.txt" | tee "$base.md"
echo "written: $base.md"
