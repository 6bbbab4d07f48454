#!/usr/bin/env bash
# PostgreSQL stopped mid-run: the gateway (release build) logs to the machine's real PostgreSQL
# while a fixed-rate load runs in three phases — database up, database STOPPED (pg_ctlcluster),
# database back — and reports per-phase latency, then waits for the log writer to drain and
# counts the rows. Needs root (it stops and starts the local cluster). Not part of CI.
#
#   bash bench/pg_outage.sh [rps] [seconds-per-phase]
set -euo pipefail
cd "$(dirname "$0")/.."
rps=${1:-200}
secs=${2:-10}
cluster_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
cargo build --release --locked --quiet -p heimdall -p heimdall-mock-provider
bin=target/release
work=$(mktemp -d)
db="heimdall_outage_$$"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  pg_ctlcluster "$cluster_version" main start 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$work"
}
pids=()
trap cleanup EXIT
"$bin/heimdall-mock-provider" --port 18291 >"$work/mock.log" 2>&1 &
pids+=($!)
cat >"$work/config.json" <<JSON
{"providers": {"mock": {"type": "custom", "keys": [{"name": "k", "value": "sk", "models": [], "weight": 1}],
   "network_config": {"base_url": "http://127.0.0.1:18291/v1"}}},
 "logs_store": {"enabled": true, "type": "postgres", "max_pending": 100000,
   "config": {"host": "127.0.0.1", "port": 5432, "user": "postgres", "db_name": "$db", "ssl_mode": "disable"}}}
JSON
"$bin/heimdall" serve --config "$work/config.json" --port 18290 --app-dir "$work" --log-level warn >"$work/gw.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -fsS http://127.0.0.1:18290/ready >/dev/null 2>&1 && break; sleep 0.1; done

load() { # phase name → "name sent ok p50 p99 max" (ms)
  python3 - "$1" "$rps" "$secs" <<'PY'
import http.client, json, sys, threading, time
name, rps, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
body = json.dumps({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "hello"}]})
lat, ok, lock = [], [0], threading.Lock()
def worker(k, n):
    c = http.client.HTTPConnection("127.0.0.1", 18290)
    start = time.perf_counter()
    for i in range(n):
        due = start + (i * n_workers + k) / rps
        d = due - time.perf_counter()
        if d > 0: time.sleep(d)
        t = time.perf_counter()
        c.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        r = c.getresponse(); r.read()
        with lock:
            lat.append((time.perf_counter() - t) * 1000)
            ok[0] += r.status == 200
n_workers = 8
per = int(rps * secs / n_workers)
ts = [threading.Thread(target=worker, args=(k, per)) for k in range(n_workers)]
[t.start() for t in ts]; [t.join() for t in ts]
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"| {name} | {len(lat)} | {ok[0]} | {q(0.5):.2f} | {q(0.99):.2f} | {lat[-1]:.2f} |")
PY
}
pending() { curl -s http://127.0.0.1:18290/api/logs/dropped; echo; }

echo "| phase | requests | 200 OK | p50 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|---|"
load "PostgreSQL up"
pg_ctlcluster "$cluster_version" main stop
load "PostgreSQL stopped"
echo "writer while stopped: $(pending)" >&2
pg_ctlcluster "$cluster_version" main start
load "PostgreSQL back"
for _ in $(seq 1 120); do
  p=$(curl -s http://127.0.0.1:18290/api/logs/dropped | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending"])')
  [ "$p" = "0" ] && break
  sleep 0.5
done
echo
echo "writer after: $(pending)"
echo "rows in PostgreSQL: $(psql -tA -h 127.0.0.1 -U postgres -d "$db" -c 'SELECT COUNT(*) FROM logs')"
