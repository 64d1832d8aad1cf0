"""Drives the Celery side of the comparison and prints one JSON report.

usage: celery_bench.py noop <count> | chain <chains> <length> | idle-chain <chains> <length>
(`idle-chain` runs one chain at a time: the latency of a chain on idle workers.)
The worker must be running (run.sh starts it). Counts are bounded; the wait for
completion stops after a timeout.
"""
import json
import sys
import time

from celery import chain

import celery_tasks as t

TIMEOUT_S = 600


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


def wait_done(expected, first_sent):
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline:
        done = int(t._stats.get("bench:done") or 0)
        if done >= expected:
            break
        time.sleep(0.02)
    done = int(t._stats.get("bench:done") or 0)
    last = float(t._stats.get("bench:last") or time.time())
    lat = sorted(float(x) * 1000.0 for x in t._stats.lrange("bench:lat", 0, -1))
    return done, max(last - first_sent, 1e-9), lat


def reset():
    t._stats.delete("bench:lat", "bench:last", "bench:done")


def main():
    kind = sys.argv[1]
    # Warm-up: one task end to end, so the worker is ready before timing.
    reset()
    t.noop.delay(time.time())
    wait_done(1, time.time())
    reset()
    if kind == "noop":
        n = int(sys.argv[2])
        tasks_per_unit = 1
        first = time.time()
        for _ in range(n):
            t.noop.delay(time.time())
        submitted = time.time() - first
    elif kind == "chain":
        n, length = int(sys.argv[2]), int(sys.argv[3])
        tasks_per_unit = length
        first = time.time()
        for _ in range(n):
            state = {"n": 0, "len": length, "sent": time.time()}
            chain(*([t.step.s(state)] + [t.step.s() for _ in range(length - 1)])).delay()
        submitted = time.time() - first
    elif kind == "idle-chain":
        n, length = int(sys.argv[2]), int(sys.argv[3])
        tasks_per_unit = length
        first = time.time()
        for k in range(n):
            state = {"n": 0, "len": length, "sent": time.time()}
            chain(*([t.step.s(state)] + [t.step.s() for _ in range(length - 1)])).delay()
            # Wait for this chain before sending the next (polled every 0.2 ms).
            while int(t._stats.get("bench:done") or 0) <= k:
                time.sleep(0.0002)
        submitted = time.time() - first
    else:
        sys.exit(__doc__)
    done, elapsed, lat = wait_done(n, first)
    report = {
        "system": "celery",
        "workload": kind,
        "units": n,
        "completed": done,
        "tasks": done * tasks_per_unit,
        "elapsed_s": elapsed,
        "submit_s": submitted,
        "units_per_s": done / elapsed,
        "tasks_per_s": done * tasks_per_unit / elapsed,
        "p50_ms": percentile(lat, 0.5),
        "p99_ms": percentile(lat, 0.99),
        "max_ms": lat[-1] if lat else 0.0,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
