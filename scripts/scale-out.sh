#!/usr/bin/env bash
# Three Heimdall instances behind nginx, sharing Redis (governance counters, cache) and
# PostgreSQL (config store, request logs), under load (half streamed); one instance is killed
# with SIGKILL mid-run. The driver (scripts/scale_out.py) prints a table: requests sent,
# answered, failed by kind, records logged, budget spend vs limit, config propagation time,
# `/api/logs` agreement — and fails when one of the promises does not hold.
#
#   scripts/scale-out.sh            # the full run (the table in docs/deployment.md comes from it)
#   scripts/scale-out.sh --short    # the short form CI runs
#   scripts/scale-out.sh --write-docs   # full run, and the table written into docs/deployment.md
#
# Needs: PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres), Redis on 127.0.0.1:6379,
# nginx (installed from Debian when missing), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && apt-get install -y -qq nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --locked --quiet -p heimdall -p heimdall-mock-provider
bin="${CARGO_TARGET_DIR:-$root/target}/debug"

work=$(mktemp -d)
db="heimdall_scaleout_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 -p 6379 --scan --pattern "scaleout-$$:*" 2>/dev/null \
    | xargs -r redis-cli -h 127.0.0.1 -p 6379 del >/dev/null 2>&1 || true
  rm -rf "$work"
}
[ -n "${KEEP_WORK:-}" ] || trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() {
  for _ in $(seq 1 200); do
    if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "not up: $1" >&2
  for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done
  return 1
}

psql -h 127.0.0.1 -U postgres -qAtc "CREATE DATABASE $db" >/dev/null
pg_url="postgres://postgres@127.0.0.1:5432/$db"

mock_port=$(free_port)
"$bin/heimdall-mock-provider" --host 127.0.0.1 --port "$mock_port" >"$work/mock.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$mock_port/health"

# $0.01 per request (8 output tokens at $1,250 per million); one $1.00 budget; one key for
# the load with room to spare. The log writer at `low` priority (nice +10) rather than the
# default `idle`: a replica that can be killed must not let its log queue grow while its CPU
# is busy (SCHED_IDLE gets nothing then), since SIGKILL loses what the queue holds.
cat >"$work/config.json" <<JSON
{
  "providers": {"mock": {"type": "custom",
    "keys": [{"name": "k", "value": "sk-mock", "models": [], "weight": 1.0}],
    "network_config": {"base_url": "http://127.0.0.1:$mock_port/v1", "default_request_timeout_in_seconds": 30}}},
  "pricing": {"overrides": {"mock/gpt-4o-mini": {"input": 0.0, "output": 1250.0}}},
  "redis": {"url": "redis://127.0.0.1:6379/0", "key_prefix": "scaleout-$$:"},
  "config_store": {"enabled": true, "type": "postgres", "config": {"url": "$pg_url"}},
  "logs_store": {"enabled": true, "type": "postgres", "config": {"url": "$pg_url"},
                 "writer_priority": "low"},
  "governance": {"virtual_keys": [
    {"id": "budgeted", "value": "sk-bf-scaleout-budget", "budget": {"max_limit": 1.0, "reset_duration": "1d"}},
    {"id": "load", "value": "sk-bf-scaleout-load", "budget": {"max_limit": 100000.0, "reset_duration": "1d"}}
  ]}
}
JSON

# Replicas share the key that encrypts the stored configuration's secrets.
export HEIMDALL_ENCRYPTION_KEY="scale-out-test-key-$$"
gw_ports=()
gw_pids=()
for i in 1 2 3; do
  port=$(free_port)
  mkdir -p "$work/gw$i"
  "$bin/heimdall" serve --config "$work/config.json" --config-mode store --port "$port" \
    --app-dir "$work/gw$i" --log-level warn >"$work/gw$i.log" 2>&1 &
  pids+=($!)
  gw_pids+=($!)
  gw_ports+=("$port")
  # The first seeds the empty store; the others find it seeded.
  wait_for "http://127.0.0.1:$port/ready"
done

lb_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  upstream heimdall {
    server 127.0.0.1:${gw_ports[0]} max_fails=1 fail_timeout=30s;
    server 127.0.0.1:${gw_ports[1]} max_fails=1 fail_timeout=30s;
    server 127.0.0.1:${gw_ports[2]} max_fails=1 fail_timeout=30s;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$lb_port;
    location / {
      proxy_pass http://heimdall;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # The client's Host: a gateway bound to loopback answers loopback names only.
      proxy_set_header Host \$host;
      proxy_buffering off;
      proxy_read_timeout 60s;
      # A refused connection (the dead instance) is retried on the next one; a request the
      # instance had started is not (it may have spent).
      proxy_next_upstream error timeout;
      add_header X-Upstream \$upstream_addr always;
    }
  }
}
NGINX
"$nginx_bin" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$lb_port/health"

status=0
python3 scripts/scale_out.py \
  --lb "http://127.0.0.1:$lb_port" \
  --instances "${gw_ports[0]}:${gw_pids[0]},${gw_ports[1]}:${gw_pids[1]},${gw_ports[2]}:${gw_pids[2]}" \
  --pg "$db" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  for f in "$work"/gw*.log "$work/nginx-error.log"; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
fi
exit "$status"
