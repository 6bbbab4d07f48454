#!/usr/bin/env python3
"""Where the time of one proxied request goes, hop by hop, from the kernel's syscall trace.

Why: the sequential latency figures (added p50 at low rates, a stream's first event) are a few
hundred microseconds made of process wake-ups on other cores and the proxy's own work; a CPU
profile shows only the second. This records the syscalls of the client (this script, in a
child process), the proxy and the upstream with `perf record -a` (syscall tracepoints, no
sampling) and splits each request at the points every HTTP/1.1 proxy passes through:

    client send ─► proxy has read the request ─► proxy writes upstream ─► upstream writes its
    answer ─► proxy has read it ─► proxy writes to the client ─► client has read it

and prints the median of each segment as a markdown table row (`--header` prints the head).
"proxy work" segments are the proxy's own CPU from a read to the next write; "hop" segments
include the wake-up of the process on the other side.

    bench/timeline.py --proxy-pid P --upstream-pid U --url http://127.0.0.1:8080/v1 \\
        --model 'mock/gpt-4o;chunks=8;chunk_delay_ms=5' [--stream] [--gap-ms 2] [-n 100]

The proxy and upstream must each be one process whose threads read and write the sockets
(Heimdall, nginx's single worker, the mock provider). Needs root and `perf`.
"""
import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse

from ttfb import chat_body

EVENTS = ["syscalls:sys_enter_sendto", "syscalls:sys_exit_recvfrom", "syscalls:sys_enter_writev"]
SEGMENTS = [
    ("client → proxy has read", "hop"),
    ("proxy: request → upstream write", "proxy work"),
    ("upstream answers", "upstream"),
    ("upstream → proxy has read", "hop"),
    ("proxy: answer → client write", "proxy work"),
    ("proxy → client has read", "hop"),
]


def client(url: str, model: str, stream: bool, gap: float, n: int, pid_file: str) -> None:
    """The measured client: sequential requests on one keep-alive connection."""
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    data = chat_body(model, stream)
    for _ in range(n):
        conn.request("POST", u.path + "/chat/completions", data,
                     {"content-type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            sys.exit(f"HTTP {resp.status}")
        time.sleep(gap)


def parse(script: str, client_pid: int, proxy: int, upstream: int) -> list[list[float]]:
    """Cut the trace into requests; each is six segment durations in microseconds."""
    line = re.compile(r"\s*\S+\s+(\d+)/(\d+)\s+\[\d+\]\s+([\d.]+):\s+(\S+):")
    events = []
    for raw in script.splitlines():
        m = line.match(raw)
        if m:
            events.append((int(m[1]), float(m[3]) * 1e6, m[4].split(":")[1]))
    # A request starts at the client's first send after it has read something (its headers
    # and body are two sends; a stream is many reads).
    starts, last = [], "sys_exit_recvfrom"
    for k, (pid, _, ev) in enumerate(events):
        if pid == client_pid:
            if ev == "sys_enter_sendto" and last == "sys_exit_recvfrom":
                starts.append(k)
            last = ev
    want = [
        (proxy, "sys_enter_writev"), (upstream, "sys_enter_writev"),
        (proxy, "sys_exit_recvfrom"), (proxy, "sys_enter_writev"),
        (client_pid, "sys_exit_recvfrom"),
    ]
    requests = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(events)
        marks, read_at, step = [events[start][1]], None, 0
        for pid, t, ev in events[start + 1:end]:
            if step == 0 and (pid, ev) == (proxy, "sys_exit_recvfrom"):
                read_at = t  # the proxy's last read before its upstream write ends the request
            if step < len(want) and (pid, ev) == want[step] and (step or read_at is not None):
                marks += [read_at, t] if step == 0 else [t]
                step += 1
        if step == len(want):
            requests.append([b - a for a, b in zip(marks, marks[1:])])
    return requests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--header", action="store_true", help="print the table head and exit")
    ap.add_argument("--proxy-pid", type=int)
    ap.add_argument("--upstream-pid", type=int)
    ap.add_argument("--url", help="the proxy's OpenAI base URL (…/v1)")
    ap.add_argument("--model")
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--gap-ms", type=float, default=2.0, help="idle time between requests")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--client-cpu", help="pin the client (taskset list)")
    ap.add_argument("--label", default="")
    ap.add_argument("--client", metavar="PID_FILE", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.header:
        print(header())
        return
    if a.client:
        client(a.url, a.model, a.stream, a.gap_ms / 1000, a.n, a.client)
        return
    if not (a.proxy_pid and a.upstream_pid and a.url and a.model):
        ap.error("--proxy-pid, --upstream-pid, --url and --model are required")
    with tempfile.TemporaryDirectory() as tmp:
        data, pid_file = os.path.join(tmp, "perf.data"), os.path.join(tmp, "client.pid")
        child = [sys.executable, __file__, "--client", pid_file, "--url", a.url,
                 "--model", a.model, "--gap-ms", str(a.gap_ms),
                 "-n", str(a.n)] + (["--stream"] if a.stream else [])
        if a.client_cpu:
            child = ["taskset", "-c", a.client_cpu] + child
        rec = subprocess.Popen(["perf", "record", "-q", "-a", "-o", data]
                               + sum((["-e", e] for e in EVENTS), []) + ["--"] + child)
        if rec.wait() != 0:
            sys.exit("perf record failed")
        script = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,tid,cpu,time,event"],
                                capture_output=True, text=True, check=True).stdout
        with open(pid_file) as f:
            client_pid = int(f.read())
    reqs = parse(script, client_pid, a.proxy_pid, a.upstream_pid)
    if not reqs:
        sys.exit("no complete request found in the trace")
    medians = [statistics.median(r[k] for r in reqs) for k in range(len(SEGMENTS))]
    total = statistics.median(sum(r) for r in reqs)
    label = a.label or f"{'stream' if a.stream else 'whole'} answer, {a.gap_ms:g} ms apart"
    print(f"| {label} | {len(reqs)} | " + " | ".join(f"{m:.0f}" for m in medians)
          + f" | {total:.0f} |")


def header() -> str:
    """The markdown table head the rows printed by main() go under."""
    names = " | ".join(f"{name} ({kind})" for name, kind in SEGMENTS)
    return (f"| proxy, request | n | {names} | total µs |\n"
            + "|---" * (len(SEGMENTS) + 3) + "|")


if __name__ == "__main__":
    main()
