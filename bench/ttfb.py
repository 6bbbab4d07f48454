#!/usr/bin/env python3
"""Time to first streamed chunk, direct to the mock vs through Heimdall, in the same run.

Sequential requests over keep-alive connections (one per target), interleaved (one request to
each target in turn, so the machine's noise falls on all alike), stdlib only. For each target
it reports p50/p90/p99 of the time from sending the request to reading the first `data:` line,
and of the total stream time. Usage:

    bench/ttfb.py --direct http://127.0.0.1:9000/v1 --gateway http://127.0.0.1:8080/v1 \
        [--nginx http://127.0.0.1:8081/v1] \
        --model-direct 'gpt-4o;chunks=8;chunk_delay_ms=20' \
        --model-gateway 'mock/gpt-4o;chunks=8;chunk_delay_ms=20' -n 300
"""
import argparse
import http.client
import json
import statistics
import time
from urllib.parse import urlparse


def chat_body(model: str, stream: bool) -> str:
    """The ~1 KB chat request the sequential measurements send (bench/timeline.py too)."""
    body = {"model": model, "messages": [{"role": "user", "content": "x" * 900}]}
    if stream:
        # Every target asks for usage: the gateway always asks its upstream for it, so the
        # upstream sends the same frames either way and totals compare like with like.
        body.update(stream=True, stream_options={"include_usage": True})
    return json.dumps(body)


class Target:
    """One keep-alive connection to a target, and its measurements."""

    def __init__(self, name: str, base: str, model: str):
        u = urlparse(base)
        self.name, self.path = name, u.path
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.body = chat_body(model, stream=True)
        self.first: list[float] = []
        self.total: list[float] = []

    def once(self, keep: bool) -> None:
        t0 = time.perf_counter()
        self.conn.request("POST", self.path + "/chat/completions", self.body,
                          {"content-type": "application/json"})
        resp = self.conn.getresponse()
        if resp.status != 200:
            raise SystemExit(f"{self.name}: HTTP {resp.status}: {resp.read()[:300]!r}")
        t_first = None
        while True:
            line = resp.readline()
            if not line:
                break
            if t_first is None and line.startswith(b"data:"):
                t_first = time.perf_counter() - t0
        t_total = time.perf_counter() - t0
        if keep and t_first is not None:
            self.first.append(t_first * 1000)
            self.total.append(t_total * 1000)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--direct", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--nginx", help="also measure this proxy (same model as --direct)")
    ap.add_argument("--model-direct", required=True)
    ap.add_argument("--model-gateway", required=True)
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    a = ap.parse_args()
    targets = [Target("direct", a.direct, a.model_direct)]
    if a.nginx:
        targets.append(Target("nginx", a.nginx, a.model_direct))
    targets.append(Target("heimdall", a.gateway, a.model_gateway))
    # Interleaved, one request per target in turn: the machine's noise falls on all alike.
    for i in range(a.n + a.warmup):
        for t in targets:
            t.once(keep=i >= a.warmup)
    print("| target | n | TTFB p50 ms | p90 | p99 | total p50 ms |")
    print("|---|---|---|---|---|---|")
    for t in targets:
        print(f"| {t.name} | {len(t.first)} | {statistics.median(t.first):.3f} | {pct(t.first, 90):.3f} | "
              f"{pct(t.first, 99):.3f} | {statistics.median(t.total):.2f} |")
    d = statistics.median(targets[0].first)
    print()
    for t in targets[1:]:
        print(f"added TTFB p50 ({t.name}): {statistics.median(t.first) - d:.3f} ms")


if __name__ == "__main__":
    main()
