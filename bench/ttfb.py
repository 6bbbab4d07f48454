#!/usr/bin/env python3
"""Time to first streamed chunk, direct to the mock vs through Heimdall, in the same run.

Sequential requests over keep-alive connections (one per target), stdlib only. For each target
it reports p50/p90/p99 of the time from sending the request to reading the first `data:` line,
and of the total stream time. Usage:

    bench/ttfb.py --direct http://127.0.0.1:9000/v1 --gateway http://127.0.0.1:8080/v1 \
        --model-direct 'gpt-4o;chunks=8;chunk_delay_ms=20' \
        --model-gateway 'mock/gpt-4o;chunks=8;chunk_delay_ms=20' -n 300
"""
import argparse
import http.client
import json
import statistics
import time
from urllib.parse import urlparse


def measure(base: str, model: str, n: int, warmup: int) -> tuple[list[float], list[float]]:
    u = urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    body = json.dumps({
        "model": model,
        "stream": True,
        # Both targets ask for usage: the gateway always asks its upstream for it, so the
        # upstream sends the same frames either way and totals compare like with like.
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "x" * 900}],
    })
    first, total = [], []
    for i in range(n + warmup):
        t0 = time.perf_counter()
        conn.request("POST", u.path + "/chat/completions", body, {"content-type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise SystemExit(f"{base}: HTTP {resp.status}: {resp.read()[:300]!r}")
        t_first = None
        while True:
            line = resp.readline()
            if not line:
                break
            if t_first is None and line.startswith(b"data:"):
                t_first = time.perf_counter() - t0
        t_total = time.perf_counter() - t0
        if i >= warmup and t_first is not None:
            first.append(t_first * 1000)
            total.append(t_total * 1000)
    conn.close()
    return first, total


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--direct", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--model-direct", required=True)
    ap.add_argument("--model-gateway", required=True)
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    a = ap.parse_args()
    rows = []
    for name, base, model in (("direct", a.direct, a.model_direct), ("heimdall", a.gateway, a.model_gateway)):
        f, t = measure(base, model, a.n, a.warmup)
        rows.append((name, f, t))
    print(f"| target | n | TTFB p50 ms | p90 | p99 | total p50 ms |")
    print(f"|---|---|---|---|---|---|")
    for name, f, t in rows:
        print(f"| {name} | {len(f)} | {statistics.median(f):.3f} | {pct(f, 90):.3f} | {pct(f, 99):.3f} | {statistics.median(t):.2f} |")
    d, g = statistics.median(rows[0][1]), statistics.median(rows[1][1])
    print(f"\nadded TTFB p50: {g - d:.3f} ms")


if __name__ == "__main__":
    main()
