#!/usr/bin/env bash
# Hostile-connection soak: 1,000 slowloris clients (heads sent a byte at a time, reconnecting
# when closed) and 1,000 idle keep-alive connections held open against the gateway, beside
# normal chat traffic to the mock provider, for DURATION seconds (default 40). Reports the
# normal traffic's success count and latency percentiles, and fails if any normal request
# failed or p99 >= 50 ms.
#
#   scripts/soak.sh                      # 40 s, 1,000 + 1,000, ~100 normal requests/s
#   DURATION=20 SLOW=500 IDLE=500 scripts/soak.sh
#
# Not part of the test command (it takes a minute); figures in docs/hardening.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-40}
slow=${SLOW:-1000}
idle=${IDLE:-1000}
rate=${RATE:-100}

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --locked --quiet -p heimdall -p heimdall-mock-provider
bin="${CARGO_TARGET_DIR:-$root/target}/release"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
mock_port=$(port); gw_port=$(port)

"$bin/heimdall-mock-provider" --port "$mock_port" >"$work/mock.log" 2>&1 &
pids+=($!)
OPENAI_API_KEY=sk-soak OPENAI_BASE_URL="http://127.0.0.1:$mock_port/v1" \
  "$bin/heimdall" serve --port "$gw_port" --app-dir "$work" --log-level warn >"$work/gw.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $gw_port))" 2>/dev/null && break
  sleep 0.1
done

cat >"$work/soak.py" <<'PY'
import asyncio, json, sys, time

# Two processes: the hostile clients, and the normal traffic measured apart from them (one
# event loop busy with 2,000 sockets would add its own delay to the measured latencies).
role = sys.argv[1]
port, duration, slow, idle, rate = (int(a) for a in sys.argv[2:])
if role == "hostile":
    rate = 0
else:
    slow = idle = 0
body = json.dumps({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hello"}]}).encode()
request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
           b"content-length: %d\r\n\r\n" % len(body)) + body
stop = time.monotonic() + duration
held = {"slow": 0, "idle": 0, "slow_reconnects": 0, "idle_closed": 0}

async def slowloris(i):
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " + b"a" * 10000
    while time.monotonic() < stop:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            held["slow"] += 1
            try:
                for b in head:
                    if time.monotonic() >= stop:
                        break
                    w.write(bytes([b]))
                    await w.drain()
                    await asyncio.sleep(1.0)
            finally:
                held["slow"] -= 1
                w.close()
        except (ConnectionError, OSError):
            held["slow_reconnects"] += 1
            await asyncio.sleep(0.5)

async def idler(i):
    # One request, then silence; when the gateway closes the idle connection, open another.
    while time.monotonic() < stop:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            await w.drain()
            await r.readuntil(b"\r\n\r\n")
            held["idle"] += 1
            try:
                left = max(0.0, stop - time.monotonic())
                while await asyncio.wait_for(r.read(4096), left):
                    left = max(0.0, stop - time.monotonic())
                held["idle_closed"] += 1
            except asyncio.TimeoutError:
                pass
            finally:
                held["idle"] -= 1
                w.close()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.5)

latencies, failures = [], []

async def normal(worker, per_worker_rate):
    r = w = None
    interval = 1.0 / per_worker_rate
    next_at = time.monotonic() + 2.0  # let the hostile connections open first
    while time.monotonic() < stop:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        try:
            if w is None:
                r, w = await asyncio.open_connection("127.0.0.1", port)
            t = time.monotonic()
            w.write(request)
            await w.drain()
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
            length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
            await asyncio.wait_for(r.readexactly(length), 5)
            latencies.append(time.monotonic() - t)
            if not head.startswith(b"HTTP/1.1 200"):
                failures.append(head.split(b"\r\n")[0].decode())
        except Exception as e:  # noqa: BLE001 - every failure counts
            failures.append(repr(e))
            w = None

async def main():
    workers = 10 if rate else 0
    tasks = [asyncio.create_task(slowloris(i)) for i in range(slow)]
    tasks += [asyncio.create_task(idler(i)) for i in range(idle)]
    tasks += [asyncio.create_task(normal(i, rate / workers)) for i in range(workers)]
    async def report():
        while time.monotonic() < stop:
            await asyncio.sleep(10)
            if role == "hostile":
                print(f"  held: slowloris {held['slow']}, idle {held['idle']}", flush=True)
            else:
                print(f"  normal: ok {len(latencies)} failed {len(failures)}", flush=True)
    tasks.append(asyncio.create_task(report()))
    await asyncio.gather(*tasks, return_exceptions=True)

asyncio.run(main())
if role == "hostile":
    print(f"slowloris clients: {slow} (cut off and reconnected: {held['slow_reconnects']}), idle keep-alive: {idle} (closed by the gateway and reopened: {held['idle_closed']}), duration: {duration} s")
    sys.exit(0)
lat = sorted(latencies)
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else float("nan")
print(f"normal requests: {len(latencies)} answered, {len(failures)} failed; latency p50 {pct(50):.2f} ms, p99 {pct(99):.2f} ms, max {pct(100):.2f} ms")
if failures:
    print("first failures:", failures[:5])
ok = not failures and lat and pct(99) < 50
sys.exit(0 if ok else 1)
PY
python3 "$work/soak.py" hostile "$gw_port" "$duration" "$slow" "$idle" "$rate" &
hostile=$!
status=0
python3 "$work/soak.py" normal "$gw_port" "$duration" "$slow" "$idle" "$rate" || status=$?
wait "$hostile"
exit "$status"
