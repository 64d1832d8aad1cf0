#!/usr/bin/env bash
# Two coordinator builds, alternated on this machine: for each pair, each build gets a
# fresh Redis and coordinator, then the same four workloads through stepline-loadtest
# (200 idle chains of 10, 20,000 single-task executions started in bulk, 10,000 started
# with one StartExecution call each, 2,000 chains of 10 at concurrency 64). Prints one
# line per run. Alternating is what makes a small difference visible on a shared host.
#
# Usage: loadtest/compare/ab.sh OLD_STEPLINE NEW_STEPLINE   (PAIRS=3 by default;
# LOADTEST picks the stepline-loadtest binary, default target/release's)
set -euo pipefail
OLD="$1"
NEW="$2"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOADTEST="${LOADTEST:-$ROOT/target/release/stepline-loadtest}"
REDIS_PORT="${REDIS_PORT:-16393}"
HTTP_PORT="${HTTP_PORT:-18097}"
GRPC_PORT="${GRPC_PORT:-15065}"

one() {
  local bin="$1" work cp
  work="$(mktemp -d)"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$work" --pidfile "$work/r.pid" --logfile "$work/r.log"
  sleep 0.3
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" STEPLINE_HTTP_ADDR="127.0.0.1:$HTTP_PORT" \
    STEPLINE_GRPC_ADDR="127.0.0.1:$GRPC_PORT" RUST_LOG=warn "$bin" serve > "$work/s.log" 2>&1 &
  cp=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break; sleep 0.1; done
  local lt=("$LOADTEST" run --api "127.0.0.1:$HTTP_PORT" --grpc "http://127.0.0.1:$GRPC_PORT" --quiet)
  "${lt[@]}" --scenario chain -n 200 -c 1 --warmup 20 --json "$work/i.json" > /dev/null 2>&1
  "${lt[@]}" --scenario single -n 20000 --rate 1000000 --bulk-starts --warmup 200 --json "$work/b.json" > /dev/null 2>&1
  "${lt[@]}" --scenario single -n 10000 --rate 1000000 --warmup 200 --json "$work/s.json" > /dev/null 2>&1
  "${lt[@]}" --scenario chain -n 2000 -c 64 --warmup 100 --json "$work/c.json" > /dev/null 2>&1
  python3 - "$work" <<'PY'
import json, sys
def load(name):
    v = json.load(open(f"{sys.argv[1]}/{name}.json"))
    return v[0] if isinstance(v, list) else v
i, b, s, c = (load(n) for n in "ibsc")
failed = sum(r["failed"] for r in (i, b, s, c))
print(f"idle chains p50/p99 {i['duration']['p50_ms']:.2f}/{i['duration']['p99_ms']:.2f} ms, "
      f"dispatch p50 {i['dispatch']['p50_ms']:.2f} ms | bulk {b['tasks_per_s']:.0f} | "
      f"one call each {s['tasks_per_s']:.0f} | chains c=64 {c['tasks_per_s']:.0f} tasks/s | failed {failed}")
PY
  kill "$cp"; wait "$cp" 2> /dev/null || true
  kill "$(cat "$work/r.pid")"; sleep 0.3; rm -rf "$work"
}

for _ in $(seq "${PAIRS:-3}"); do
  echo -n "old: "; one "$OLD"
  echo -n "new: "; one "$NEW"
done
