"""The scale-out test's driver (started by scripts/scale-out.sh with three instances behind
nginx): a budget spread over the three, config changes propagated, load with half the requests
streamed while one instance is killed with SIGKILL, then the logs checked in PostgreSQL and
through every surviving instance. Prints a table and exits non-zero when a promise fails.

Standard library only (CI runs it before any virtualenv exists).
"""
import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PRICE = 0.01  # $ per request: 8 output tokens at $1,250 per million (see the config)

# Every request of every phase (request id, the instance that answered), to attribute the log
# records in PostgreSQL to instances.
SEEN = []
SEEN_LOCK = threading.Lock()


def post(base, path, body, headers=None, timeout=60):
    """One request; returns a dict: kind, status, request_id, upstream, started."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    out = {"started": time.monotonic(), "status": None, "request_id": None, "upstream": None}
    stream = bool(body.get("stream"))
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"content-type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        out["status"] = resp.status
        out["request_id"] = resp.getheader("x-request-id")
        out["upstream"] = resp.getheader("x-upstream")
        try:
            data = resp.read()
        except (http.client.IncompleteRead, ConnectionError, TimeoutError) as e:
            # The connection ended before the body did: the client sees an error.
            out["kind"] = "stream cut (transport error)" if stream else "body cut (transport error)"
            out["error"] = type(e).__name__
            return out
        text = data.decode("utf-8", "replace")
        if resp.status != 200:
            out["kind"] = f"HTTP {resp.status}"
        elif stream:
            if text.rstrip().endswith("data: [DONE]"):
                out["kind"] = "ok (stream)"
            elif '"error"' in text:
                out["kind"] = "stream ended with an error event"
            else:
                out["kind"] = "TRUNCATED SUCCESS"
        else:
            try:
                json.loads(text)
                out["kind"] = "ok"
            except ValueError:
                out["kind"] = "TRUNCATED SUCCESS"
    except (ConnectionError, TimeoutError, OSError, http.client.HTTPException) as e:
        out["kind"] = "connection error"
        out["error"] = type(e).__name__
    finally:
        conn.close()
    if out["request_id"]:
        upstream = out["upstream"] or f"{host}:{port}"
        with SEEN_LOCK:
            SEEN.append((out["request_id"], upstream))
    return out


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def put_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def chat(model, stream=False):
    return {"model": model, "max_tokens": 8, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}


def budget_phase(lb, instances, failures):
    """$1.00 budget, 300 concurrent requests of $0.01 through the load balancer."""
    auth = {"authorization": "Bearer sk-bf-scaleout-budget"}
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda _: post(lb, "/v1/chat/completions", chat("mock/gpt-4o-mini"), auth),
                                range(300)))
    admitted = sum(1 for r in results if r["kind"] == "ok")
    refused = sum(1 for r in results if r["kind"] == "HTTP 402")
    other = [r["kind"] for r in results if r["kind"] not in ("ok", "HTTP 402")]
    served_by = {r["upstream"] for r in results if r["kind"] == "ok"}
    time.sleep(0.5)
    usages = []
    for port, _ in instances:
        b = get_json(f"http://127.0.0.1:{port}/api/governance/virtual-keys/budgeted")["virtual_key"]["budget"]
        usages.append(round(b["current_usage"], 6))
    spend = admitted * PRICE
    if other:
        failures.append(f"budget phase: answers other than 200/402: {other[:5]}")
    if spend > 1.0 + PRICE + 1e-9:
        failures.append(f"budget overspent: {admitted} admitted = ${spend:.2f} of $1.00")
    if admitted < 95:
        failures.append(f"budget underused: only {admitted} admitted of a $1.00 budget")
    if len(set(usages)) != 1 or abs(usages[0] - spend) > 1e-6:
        failures.append(f"instances disagree on the budget's usage: {usages} (admitted ${spend:.2f})")
    if len(served_by) < 3:
        failures.append(f"the load balancer used {len(served_by)} instance(s) only: {served_by}")
    return {"admitted": admitted, "refused": refused, "spend": spend, "usages": usages,
            "instances_used": len(served_by)}


def propagation_phase(instances, rounds, failures):
    """A model alias added on the first instance; how long until the others route it."""
    first, others = instances[0][0], [p for p, _ in instances[1:]]
    times = []
    for n in range(rounds):
        alias = f"scaleout-alias-{os.getpid()}-{n}"
        view = get_json(f"http://127.0.0.1:{first}/api/config")
        doc = view["config"]
        doc.setdefault("model_aliases", {})[alias] = "mock/gpt-4o-mini"
        put_json(f"http://127.0.0.1:{first}/api/config", doc)
        changed = time.monotonic()
        pending = set(others)
        deadline = changed + 5.0
        while pending and time.monotonic() < deadline:
            for port in list(pending):
                r = post(f"http://127.0.0.1:{port}", "/v1/chat/completions", chat(alias), timeout=5)
                if r["kind"] == "ok":
                    pending.discard(port)
            time.sleep(0.01)
        took = time.monotonic() - changed
        if pending:
            failures.append(f"config change not in effect on {sorted(pending)} after 5 s")
        times.append(took)
    if max(times) > 1.0:
        failures.append(f"config propagation took {max(times) * 1000:.0f} ms (> 1 s)")
    return times


def load_phase(lb, instances, seconds, workers, failures):
    """Half streamed; the second instance is killed with SIGKILL a third of the way in."""
    victim_port, victim_pid = instances[1]
    results, lock = [], threading.Lock()
    stop_at = time.monotonic() + seconds
    auth = {"authorization": "Bearer sk-bf-scaleout-load"}
    kill = {}

    def worker(w):
        i = 0
        while time.monotonic() < stop_at:
            stream = (i + w) % 2 == 0
            model = "mock/gpt-4o-mini;chunks=20;chunk_delay_ms=40" if stream else "mock/gpt-4o-mini"
            r = post(lb, "/v1/chat/completions", chat(model, stream), auth)
            r["stream"] = stream
            with lock:
                results.append(r)
            i += 1

    def killer():
        time.sleep(seconds / 3)
        try:
            kill["written_before"] = get_json(f"http://127.0.0.1:{victim_port}/api/logs/dropped")["written"]
        except Exception:  # the scrape is best effort; the kill is the point
            kill["written_before"] = None
        kill["at"] = time.monotonic()
        os.kill(victim_pid, signal.SIGKILL)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    threads.append(threading.Thread(target=killer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    truncated = [r for r in results if r["kind"] == "TRUNCATED SUCCESS"]
    if truncated:
        failures.append(f"{len(truncated)} response(s) ended as a truncated success")
    after = [r for r in results if r["started"] > kill["at"] + 1.0]
    lost_after = [r for r in after if not r["kind"].startswith("ok")]
    if lost_after:
        kinds = sorted({r["kind"] for r in lost_after})
        failures.append(f"{len(lost_after)} request(s) failed more than 1 s after the kill: {kinds}")
    return results, kill, f"127.0.0.1:{victim_port}"


def pg_ids(db):
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atc", "SELECT id FROM logs"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


def settle(instances, victim, failures):
    """Wait until every surviving instance's log writer holds nothing (all written)."""
    deadline = time.monotonic() + 30
    for port, _ in instances:
        if f"127.0.0.1:{port}" == victim:
            continue
        while True:
            s = get_json(f"http://127.0.0.1:{port}/api/logs/dropped")
            if s["pending"] == 0:
                break
            if time.monotonic() > deadline:
                failures.append(f"instance {port} still holds {s['pending']} log record(s) after 30 s")
                break
            time.sleep(0.1)


def logs_phase(results, kill, victim, instances, db, failures):
    settle(instances, victim, failures)
    ids = pg_ids(db)
    answered = [r for r in results if r["kind"].startswith("ok") and r["request_id"]]
    survivors = [r for r in answered if r["upstream"] != victim]
    on_victim = [r for r in answered if r["upstream"] == victim]
    missing_survivors = [r for r in survivors if r["request_id"] not in ids]
    missing_victim = [r for r in on_victim if r["request_id"] not in ids]
    if missing_survivors:
        failures.append(f"{len(missing_survivors)} record(s) of surviving instances missing in PostgreSQL")
    # What the killed instance's writer had acknowledged (written) before the SIGKILL must all
    # be there; what it still held in its queue died with the process.
    victim_in_pg = sum(1 for rid, up in SEEN if up == victim and rid in ids)
    written = kill.get("written_before")
    if written is None:
        failures.append("the killed instance's writer could not be read before the kill")
    elif victim_in_pg < written:
        failures.append(f"the killed instance acknowledged {written} written record(s), PostgreSQL holds {victim_in_pg}")
    totals = {}
    for port, _ in instances:
        if f"127.0.0.1:{port}" == victim:
            continue
        totals[port] = get_json(f"http://127.0.0.1:{port}/api/logs?limit=1")["total"]
    if len(set(totals.values())) != 1 or next(iter(totals.values())) != len(ids):
        failures.append(f"/api/logs totals {totals} disagree with PostgreSQL's {len(ids)} records")
    return {"answered": len(answered), "survivors": len(survivors), "missing_survivors": len(missing_survivors),
            "on_victim": len(on_victim), "missing_victim": len(missing_victim), "pg_records": len(ids),
            "api_totals": totals, "victim_written": written, "victim_in_pg": victim_in_pg}


def table(budget, prop, results, kill, victim, logs, short):
    after = [r for r in results if r["started"] > kill["at"] + 1.0]
    kinds = {}
    for r in results:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    streams_victim = [r for r in results if r["stream"] and r["upstream"] == victim]
    sv = {}
    for r in streams_victim:
        sv[r["kind"]] = sv.get(r["kind"], 0) + 1
    failed = {k: v for k, v in kinds.items() if not k.startswith("ok")}
    lines = [
        "| figure | result |",
        "|---|---|",
        f"| requests sent (load, half streamed{', short form' if short else ''}) | {len(results)} "
        f"({sum(1 for r in results if r['stream'])} streamed) |",
        f"| answered completely | {sum(v for k, v in kinds.items() if k.startswith('ok'))} |",
        "| failed, by kind | " + (", ".join(f"{k}: {v}" for k, v in sorted(failed.items())) or "none") + " |",
        "| streams on the killed instance | " + (", ".join(f"{k}: {v}" for k, v in sorted(sv.items())) or "none") + " |",
        f"| truncated successes | {kinds.get('TRUNCATED SUCCESS', 0)} |",
        f"| requests started > 1 s after the SIGKILL (the load balancer sends them to the others) | "
        f"{sum(1 for r in after if r['kind'].startswith('ok'))} of {len(after)} answered |",
        f"| records in PostgreSQL, surviving instances | {logs['survivors'] - logs['missing_survivors']} of "
        f"{logs['survivors']} answered |",
        f"| records in PostgreSQL, killed instance | {logs['victim_in_pg']} (its writer had acknowledged "
        f"{logs['victim_written']} before the SIGKILL); of the load requests it answered, "
        f"{logs['missing_victim']} of {logs['on_victim']} were still in its log queue and died with it |",
        f"| `/api/logs` total on each survivor = PostgreSQL rows | {sorted(set(logs['api_totals'].values()))} = "
        f"{logs['pg_records']} |",
        f"| budget ($1.00, $0.01 per request, 300 concurrent, {budget['instances_used']} instances) | "
        f"{budget['admitted']} admitted = ${budget['spend']:.2f}, {budget['refused']} refused (402); usage on "
        f"each instance: {', '.join(f'${u:.2f}' for u in budget['usages'])} |",
        f"| config change on one instance in effect on the others | "
        f"{', '.join(f'{t * 1000:.0f} ms' for t in prop)} (max {max(prop) * 1000:.0f} ms) |",
    ]
    return "\n".join(lines)


def write_docs(text, machine):
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "deployment.md")
    with open(path) as f:
        doc = f.read()
    block = (f"<!-- scale-out:begin -->\n{machine}\n\n{text}\n<!-- scale-out:end -->")
    if "<!-- scale-out:begin -->" in doc:
        doc = re.sub(r"<!-- scale-out:begin -->.*?<!-- scale-out:end -->", lambda _: block, doc, flags=re.S)
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(doc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lb", required=True)
    ap.add_argument("--instances", required=True, help="port:pid,port:pid,port:pid")
    ap.add_argument("--pg", required=True, help="the PostgreSQL database of the run")
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args()
    instances = [tuple(int(x) for x in i.split(":")) for i in a.instances.split(",")]
    failures = []
    budget = budget_phase(a.lb, instances, failures)
    prop = propagation_phase(instances, 2 if a.short else 5, failures)
    seconds, workers = (6, 8) if a.short else (20, 16)
    results, kill, victim = load_phase(a.lb, instances, seconds, workers, failures)
    logs = logs_phase(results, kill, victim, instances, a.pg, failures)
    text = table(budget, prop, results, kill, victim, logs, a.short)
    print(text)
    if a.write_docs and not a.short:
        machine = (f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `scripts/scale-out.sh --write-docs` "
                   f"(debug build, {os.cpu_count()} cores, three instances + nginx + the mock on one machine, "
                   f"{seconds} s of load from {workers} clients).")
        write_docs(text, machine)
    if failures:
        print("\nFAILED:\n- " + "\n- ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("\nall scale-out checks passed")


if __name__ == "__main__":
    main()
