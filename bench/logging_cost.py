#!/usr/bin/env python3
"""What request logging + metrics cost per request: two gateways in front of the same mock,
one with the request log on (SQLite, content kept) and one with `client.enable_logging: false`
(metrics stay on in both), measured alternately in the same run over keep-alive connections.
Reports p50/p90 client-side latency and the median of the gateway's own `x-heimdall-overhead-us`.

    bench/logging_cost.py --on http://127.0.0.1:18390 --off http://127.0.0.1:18391 -n 3000
"""
import argparse
import http.client
import json
import statistics
from urllib.parse import urlparse
import time


def conn(base):
    u = urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def once(c, body):
    t = time.perf_counter()
    c.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    return (time.perf_counter() - t) * 1e3, int(r.getheader("x-heimdall-overhead-us", "0"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--on", required=True)
    ap.add_argument("--off", required=True)
    ap.add_argument("--direct", help="the mock itself, for the added latency")
    ap.add_argument("-n", type=int, default=3000)
    a = ap.parse_args()
    body = json.dumps({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "x" * 900}]})
    direct_body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 900}]})
    targets = {"logging on": conn(a.on), "logging off": conn(a.off)}
    if a.direct:
        targets["direct (mock)"] = conn(a.direct)
    res = {k: ([], []) for k in targets}
    for i in range(a.n + 200):
        for name, c in targets.items():
            lat, over = once(c, direct_body if name.startswith("direct") else body)
            if i >= 200:
                res[name][0].append(lat)
                res[name][1].append(over)
    print("| target | p50 ms | p90 ms | gateway overhead p50 µs |")
    print("|---|---|---|---|")
    for name, (lat, over) in res.items():
        lat.sort()
        o = "—" if name.startswith("direct") else f"{statistics.median(over):.0f}"
        print(f"| {name} | {lat[len(lat)//2]:.3f} | {lat[int(len(lat)*0.9)]:.3f} | {o} |")
    # The in-process histogram on /metrics, for comparison with the external difference.
    for name, base in (("logging on", a.on), ("logging off", a.off)):
        c = conn(base)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        vals = {}
        for line in text.splitlines():
            if line.startswith("heimdall_gateway_overhead_seconds_sum") or line.startswith("heimdall_gateway_overhead_seconds_count"):
                k, v = line.rsplit(" ", 1)
                vals[k.split("{")[0].rsplit("_", 1)[1]] = float(v)
        if vals.get("count"):
            print(f"{name}: /metrics gateway_overhead_seconds mean = {vals['sum'] / vals['count'] * 1e6:.0f} µs over {vals['count']:.0f} requests")


if __name__ == "__main__":
    main()
