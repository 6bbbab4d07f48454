#!/usr/bin/env python3
"""Turn the benchmark's raw measurements into the comparison table (bench/run.sh calls it).

    report.py record OHA_JSON TARGET RATE CPU_TICKS HWM_KB   -> one JSON line
    report.py table RESULTS_JSONL TTFB   -> markdown
    report.py summary NAME RESULTS_JSONL TTFB [NAME RESULTS_JSONL TTFB ...]
                                         -> the budgets of issue 21, one row per CPU layout

Ratios are taken within one run (the machine is shared and noisy): added latency is a target's
p50 minus the direct p50 at the same rate; CPU is the target process's user+system time per
successful request, from /proc.
"""
import json
import os
import platform
import re
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
# "heimdall" runs the defaults (request log on: SQLite, content kept); "heimdall-nolog" the same
# with `client.enable_logging: false`, to show what the log costs; "heimdall-governed" the
# defaults plus governance (a virtual key with budgets at three levels and rate limits);
# "heimdall-cache-miss" / "-hit" the defaults plus the response cache, every request a miss
# (never stored) / an exact hit (no upstream call: its "added" latency is negative).
TARGETS = ("direct", "nginx", "heimdall", "heimdall-nolog", "heimdall-governed",
           "heimdall-cache-miss", "heimdall-cache-hit", "heimdall-baseline")
ABORTED = "aborted due to deadline"


def record(path, target, rate, ticks, hwm_kb):
    with open(path) as f:
        data = json.load(f)
    summary = data.get("summary", {})
    pct = data.get("latencyPercentiles", {})
    codes = data.get("statusCodeDistribution", {})
    ok = sum(int(v) for k, v in codes.items() if str(k).startswith("2"))
    # Requests still in flight when the load generator's own run time ends are cut by oha
    # ("aborted due to deadline"): not answered wrongly by the target, so not counted.
    errors = {k: v for k, v in data.get("errorDistribution", {}).items() if k != ABORTED}
    total = sum(int(v) for v in codes.values()) + sum(int(v) for v in errors.values())
    ms = lambda v: None if v is None else float(v) * 1000.0
    cpu_s = int(ticks) / CLK_TCK
    print(json.dumps({
        "target": target,
        "rate": rate,
        "ok": ok,
        "total": total,
        "success": (ok / total) if total else 0.0,
        "p50": ms(pct.get("p50")),
        "p90": ms(pct.get("p90")),
        "p99": ms(pct.get("p99")),
        "max": ms(summary.get("slowest")),
        "rps": summary.get("requestsPerSec"),
        "cpu_us_per_req": (cpu_s * 1e6 / ok) if ok else None,
        "hwm_mb": int(hwm_kb) / 1024.0,
        # What the failures were (status codes other than 2xx, and oha's error kinds).
        "failures": {**{k: v for k, v in codes.items() if not str(k).startswith("2")}, **errors},
        "aborted_at_end": int(data.get("errorDistribution", {}).get(ABORTED, 0)),
    }))


def fmt(v, digits=3):
    return "—" if v is None else f"{v:.{digits}f}"


def ttfb(path):
    text = open(path).read()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 6 and cells[0] in ("direct", "nginx", "heimdall"):
            rows[cells[0]] = cells
    return rows


def table(results, ttfb_path, timeline_path=None):
    rows = [json.loads(l) for l in open(results) if l.strip()]
    by = {(r["target"], str(r["rate"])): r for r in rows}
    cpu = platform.processor() or ""
    try:
        model = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    except Exception:
        model = cpu
    try:
        heimdall_version = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                          capture_output=True, text=True).stdout.strip()
    except Exception:
        heimdall_version = "?"
    try:
        nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    except Exception:
        nginx_version = "nginx"
    out = []
    out.append(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} — {os.cpu_count()} vCPU {model}, "
               f"Heimdall {heimdall_version}, {nginx_version}, oha. Targets on cores {os.environ.get('TARGET_CPUS', '0')}; "
               f"mock and load on cores {os.environ.get('LOAD_CPUS', '1')}.\n")
    out.append("| rate | target | success | p50 ms | p90 ms | p99 ms | max ms | added p50 ms | CPU µs/req | peak RSS MB |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    rates = sorted({r["rate"] for r in rows if r["rate"] != "max"}, key=lambda x: int(x))
    ratio_lines = []
    for rate in rates:
        d = by.get(("direct", rate))
        for t in TARGETS:
            r = by.get((t, rate))
            if not r:
                continue
            added = (r["p50"] - d["p50"]) if (d and r["p50"] is not None and d["p50"] is not None) else None
            out.append(f"| {rate} | {t} | {r['success']*100:.2f}% | {fmt(r['p50'])} | {fmt(r['p90'])} | "
                       f"{fmt(r['p99'])} | {fmt(r['max'])} | {fmt(added) if t != 'direct' else ''} | "
                       f"{fmt(r['cpu_us_per_req'], 1)} | {r['hwm_mb']:.1f} |")
        n = by.get(("nginx", rate))
        for variant in ("heimdall", "heimdall-nolog", "heimdall-governed", "heimdall-cache-miss",
                        "heimdall-baseline"):
            h = by.get((variant, rate))
            if not (d and n and h):
                continue
            na, ha = n["p50"] - d["p50"], h["p50"] - d["p50"]
            cpu_ratio = (h["cpu_us_per_req"] / n["cpu_us_per_req"]) if n["cpu_us_per_req"] else None
            ratio_lines.append(f"| {rate} | {variant} | {fmt(na)} | {fmt(ha)} | {fmt(ha / na if na > 0 else None, 2)} | "
                               f"{fmt(h['p99'])} | {h['success']*100:.2f}% | {fmt(cpu_ratio, 2)} |")
    failures = [f"{r['target']} at {r['rate']}: {r['failures']}" for r in rows if r.get("failures")]
    if failures:
        out.append("\nFailures: " + "; ".join(failures))
    aborted = sum(r.get("aborted_at_end", 0) for r in rows)
    out.append(f"\n({aborted} requests in flight when the load generator's run ended were cut by it "
               "and are not counted.)")
    out.append("\n**Budget view (same run)**\n")
    out.append("| rate | Heimdall | nginx added p50 ms | Heimdall added p50 ms | Heimdall/nginx added | Heimdall p99 ms | Heimdall success | CPU Heimdall/nginx |")
    out.append("|---|---|---|---|---|---|---|---|")
    out.extend(ratio_lines)
    out.append("\n**Closed loop (64 connections)**\n")
    out.append("| target | requests/s | ratio to direct | ratio to nginx | CPU µs/req |")
    out.append("|---|---|---|---|---|")
    d, n = by.get(("direct", "max")), by.get(("nginx", "max"))
    for t in TARGETS:
        r = by.get((t, "max"))
        if r and r["rps"]:
            out.append(f"| {t} | {r['rps']:.0f} | {fmt(r['rps'] / d['rps'] if d else None, 2)} | "
                       f"{fmt(r['rps'] / n['rps'] if n else None, 2)} | {fmt(r['cpu_us_per_req'], 1)} |")
    out.append("\n**Streaming (8 chunks, 5 ms apart; 300 requests per target, sequential, interleaved)**\n")
    out.append("| target | TTFB p50 ms | p90 | p99 | total p50 ms | added TTFB p50 ms |")
    out.append("|---|---|---|---|---|---|")
    rows_t = ttfb(ttfb_path)
    base = rows_t.get("direct")
    for name in ("direct", "nginx", "heimdall"):
        c = rows_t.get(name)
        if c:
            added = float(c[2]) - float(base[2]) if base and name != "direct" else None
            out.append(f"| {name} | {c[2]} | {c[3]} | {c[4]} | {c[5]} | {fmt(added) if added is not None else ''} |")
    timeline = open(timeline_path).read().strip() if timeline_path and os.path.exists(timeline_path) else ""
    if timeline:
        out.append("\n**Where a sequential request's time goes (µs, medians; bench/timeline.py)**\n")
        out.append(timeline)
    print("\n".join(out))


def summary(args):
    """One row per layout: each budget of issue 21 with its measured value, pass or miss."""
    out = ["| layout | closed loop ×nginx (log on / off) ≥0.5 | CPU µs/req closed loop Heimdall / nginx (×, ≤2) "
           "| added p50 @1000 ms Heimdall / nginx (×, ≤1.5) | p99 @3000 ms log on (≤1) | success ≤5000 RPS "
           "| stream first event added ms Heimdall / nginx (≤0.2) | peak RSS MB log on (≤64) "
           "| CPU µs/req @3000: bare / governed / cache-miss (≤2× bare) |",
           "|---|---|---|---|---|---|---|---|---|"]
    ok = lambda cond: "✓" if cond else "✗"
    for i in range(0, len(args), 3):
        name, results, ttfb_path = args[i:i + 3]
        rows = [json.loads(l) for l in open(results) if l.strip()]
        by = {(r["target"], str(r["rate"])): r for r in rows}
        g = lambda t, r: by.get((t, r)) or {}
        h, hn, n = g("heimdall", "max"), g("heimdall-nolog", "max"), g("nginx", "max")
        closed = (h.get("rps") or 0) / n["rps"] if n.get("rps") else None
        closed_off = (hn.get("rps") or 0) / n["rps"] if n.get("rps") else None
        cpu_h, cpu_n = h.get("cpu_us_per_req"), n.get("cpu_us_per_req")
        cpu_x = cpu_h / cpu_n if cpu_h and cpu_n else None
        d1, n1, h1 = g("direct", "1000"), g("nginx", "1000"), g("heimdall", "1000")
        add_h = h1["p50"] - d1["p50"] if h1 and d1 else None
        add_n = n1["p50"] - d1["p50"] if n1 and d1 else None
        add_x = add_h / add_n if add_h is not None and add_n and add_n > 0 else None
        p99 = g("heimdall", "3000").get("p99")
        rates = [r for r in rows if r["target"] == "heimdall" and r["rate"] != "max" and int(r["rate"]) <= 5000]
        success = min((r["success"] for r in rates), default=None)
        t = ttfb(ttfb_path)
        st = lambda k: float(t[k][2]) - float(t["direct"][2]) if k in t and "direct" in t else None
        s_h, s_n = st("heimdall"), st("nginx")
        rss = max((r["hwm_mb"] for r in rows if r["target"] == "heimdall"), default=None)
        c3 = lambda tgt: g(tgt, "3000").get("cpu_us_per_req")
        bare, gov, miss = c3("heimdall"), c3("heimdall-governed"), c3("heimdall-cache-miss")
        worst = max(x for x in (gov, miss) if x is not None) / bare if bare and (gov or miss) else None
        out.append(
            f"| {name} | {fmt(closed, 2)} / {fmt(closed_off, 2)} {ok(closed is not None and closed >= 0.5)} "
            f"| {fmt(cpu_h, 1)} / {fmt(cpu_n, 1)} ({fmt(cpu_x, 2)}) {ok(cpu_x is not None and cpu_x <= 2)} "
            f"| {fmt(add_h)} / {fmt(add_n)} ({fmt(add_x, 2)}) {ok(add_x is not None and add_x <= 1.5)} "
            f"| {fmt(p99)} {ok(p99 is not None and p99 <= 1.0)} "
            f"| {fmt(success * 100 if success is not None else None, 2)}% {ok(success == 1.0)} "
            f"| {fmt(s_h)} / {fmt(s_n)} {ok(s_h is not None and s_h <= 0.2)} "
            f"| {fmt(rss, 1)} {ok(rss is not None and rss <= 64)} "
            f"| {fmt(bare, 1)} / {fmt(gov, 1)} / {fmt(miss, 1)} {ok(worst is not None and worst <= 2)} |")
    print("\n".join(out))


if __name__ == "__main__":
    if sys.argv[1] == "record":
        record(*sys.argv[2:7])
    elif sys.argv[1] == "table":
        table(*sys.argv[2:5])
    elif sys.argv[1] == "summary":
        summary(sys.argv[2:])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
