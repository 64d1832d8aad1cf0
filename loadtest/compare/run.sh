#!/usr/bin/env bash
# Celery vs Stepline on this machine, on one Redis, with the same workloads:
#   1. 10,000 no-op tasks, all submitted at once;
#   2. 200 chains of 10 no-op tasks, all submitted at once;
#   3. 100 chains of 10 no-op tasks one after the other (latency on idle workers).
# Celery: a venv from PyPI, Redis broker, prefork pool with 2 processes, no-op tasks.
# Stepline: `stepline serve` + stepline-loadtest with in-process echo workers. Workloads 1
# and 2 start their executions in bulk (gRPC StartExecutions, 200 per call); workload 1
# also runs with one AWS API StartExecution call per execution, as boto3 would.
# Prints a table of throughput and latency with the ratios, and keeps the JSON in
# $OUT (default target/compare).
#
# Env: STEPLINE_RUNTIME_THREADS sets the coordinator's runtime threads (default one per
# core; see `stepline serve --runtime-threads`); NO_BUILD=1 skips the release build; BIN_DIR picks the binaries (default
# target/release); REDIS_PORT / HTTP_PORT / GRPC_PORT pick loopback ports;
# TASKS / CHAINS / CHAIN_LEN change the sizes. PIN_CPU=n adds a last workload 3 for both
# systems with every process (Redis, broker or coordinator, workers, driver) on CPU n,
# to compare placements (loadtest/RESULTS.md, rounds 9 and 13). The headline rows stay
# unpinned.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/target/release}"
OUT="${OUT:-$ROOT/target/compare}"
VENV="${VENV:-$ROOT/target/celery-venv}"
REDIS_PORT="${REDIS_PORT:-16380}"
HTTP_PORT="${HTTP_PORT:-18084}"
GRPC_PORT="${GRPC_PORT:-15052}"
TASKS="${TASKS:-10000}"
CHAINS="${CHAINS:-200}"
CHAIN_LEN="${CHAIN_LEN:-10}"
IDLE_CHAINS="${IDLE_CHAINS:-100}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -f "$WORK/redis.pid" ]]; then
    local rp
    rp="$(cat "$WORK/redis.pid")"
    kill "$rp" 2>/dev/null || true
    # Wait for it to let go of its port, so a run straight after this one can bind it.
    for _ in $(seq 1 50); do kill -0 "$rp" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() { # host port seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1:$2" >&2
  return 1
}

if [[ "${NO_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && cargo build --release -p stepline -p stepline-worker -p stepline-loadtest)
fi
if [[ ! -x "$VENV/bin/celery" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "celery[redis]>=5.3,<6"
fi

echo "== coordinator runtime threads: ${STEPLINE_RUNTIME_THREADS:-one per core}"
echo "== machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(free -g | awk '/Mem:/{print $2}') GiB"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --dir "$WORK" --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
wait_port 127.0.0.1 "$REDIS_PORT" 10

# ---- Celery ------------------------------------------------------------------------
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/1"
(cd "$HERE" && exec "$VENV/bin/celery" -A celery_tasks worker --pool prefork --concurrency 2 \
  --loglevel WARNING --without-gossip --without-mingle --without-heartbeat >"$WORK/celery.log" 2>&1) &
CELERY_PID=$!
PIDS+=("$CELERY_PID")
echo "== celery: $TASKS no-op tasks"
(cd "$HERE" && "$VENV/bin/python" celery_bench.py noop "$TASKS") >"$OUT/celery-noop.json"
echo "== celery: $CHAINS chains of $CHAIN_LEN"
(cd "$HERE" && "$VENV/bin/python" celery_bench.py chain "$CHAINS" "$CHAIN_LEN") >"$OUT/celery-chain.json"
echo "== celery: $IDLE_CHAINS chains of $CHAIN_LEN, one at a time"
(cd "$HERE" && "$VENV/bin/python" celery_bench.py idle-chain "$IDLE_CHAINS" "$CHAIN_LEN") >"$OUT/celery-idle-chain.json"
kill "$CELERY_PID"; wait "$CELERY_PID" 2>/dev/null || true

# ---- Stepline ----------------------------------------------------------------------
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
STEPLINE_HTTP_ADDR="127.0.0.1:$HTTP_PORT" STEPLINE_GRPC_ADDR="127.0.0.1:$GRPC_PORT" RUST_LOG=warn \
  "$BIN_DIR/stepline" serve >"$WORK/stepline.log" 2>&1 &
COORD_PID=$!
PIDS+=("$COORD_PID")
wait_port 127.0.0.1 "$HTTP_PORT" 20
LT=("$BIN_DIR/stepline-loadtest" run --api "127.0.0.1:$HTTP_PORT" --grpc "http://127.0.0.1:$GRPC_PORT" --quiet
  --coordinator-pid "$COORD_PID")
echo "== stepline: $TASKS single-task executions, started in bulk"
"${LT[@]}" --scenario single -n "$TASKS" --rate 1000000 --bulk-starts --warmup 200 --json "$OUT/stepline-single.json"
echo "== stepline: $TASKS single-task executions, one StartExecution call each"
"${LT[@]}" --scenario single -n "$TASKS" --rate 1000000 --warmup 200 --json "$OUT/stepline-single-api.json"
echo "== stepline: $CHAINS chains of 10 tasks, started in bulk"
"${LT[@]}" --scenario chain -n "$CHAINS" --rate 1000000 --bulk-starts --warmup 20 --json "$OUT/stepline-chain.json"
echo "== stepline: $IDLE_CHAINS chains of 10 tasks, one at a time"
"${LT[@]}" --scenario chain -n "$IDLE_CHAINS" -c 1 --warmup 20 --json "$OUT/stepline-idle-chain.json"
rm -f "$OUT/stepline-idle-chain-pinned.json" "$OUT/celery-idle-chain-pinned.json"
if [[ -n "${PIN_CPU:-}" ]]; then
  # `-a` pins every thread the process has; threads it starts later inherit the mask.
  taskset -a -p -c "$PIN_CPU" "$(cat "$WORK/redis.pid")" >/dev/null
  taskset -a -p -c "$PIN_CPU" "$COORD_PID" >/dev/null
  echo "== stepline: $IDLE_CHAINS chains of 10 tasks, one at a time, everything on CPU $PIN_CPU"
  taskset -c "$PIN_CPU" "${LT[@]}" --scenario chain -n "$IDLE_CHAINS" -c 1 --warmup 20 \
    --json "$OUT/stepline-idle-chain-pinned.json"
  kill "$COORD_PID"; wait "$COORD_PID" 2>/dev/null || true
  (cd "$HERE" && exec taskset -c "$PIN_CPU" "$VENV/bin/celery" -A celery_tasks worker --pool prefork \
    --concurrency 2 --loglevel WARNING --without-gossip --without-mingle --without-heartbeat >"$WORK/celery.log" 2>&1) &
  CELERY_PID=$!
  PIDS+=("$CELERY_PID")
  echo "== celery: $IDLE_CHAINS chains of $CHAIN_LEN, one at a time, everything on CPU $PIN_CPU"
  (cd "$HERE" && taskset -c "$PIN_CPU" "$VENV/bin/python" celery_bench.py idle-chain "$IDLE_CHAINS" "$CHAIN_LEN") \
    >"$OUT/celery-idle-chain-pinned.json"
  kill "$CELERY_PID"; wait "$CELERY_PID" 2>/dev/null || true
fi

# ---- Table -------------------------------------------------------------------------
python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import json, os, sys
out = sys.argv[1]
def load(name):
    v = json.load(open(f"{out}/{name}.json"))
    return v[0] if isinstance(v, list) else v
cn, cc, ci = load("celery-noop"), load("celery-chain"), load("celery-idle-chain")
sn, sc, si = load("stepline-single"), load("stepline-chain"), load("stepline-idle-chain")
sa = load("stepline-single-api")
rows = [
    ("10k no-op tasks: tasks/s", cn["tasks_per_s"], sn["tasks_per_s"], True),
    ("10k no-op tasks, one StartExecution call each: tasks/s", cn["tasks_per_s"], sa["tasks_per_s"], True),
    ("10k no-op tasks: latency p50 (ms)", cn["p50_ms"], sn["duration"]["p50_ms"], False),
    ("10k no-op tasks: latency p99 (ms)", cn["p99_ms"], sn["duration"]["p99_ms"], False),
    ("200 chains of 10: tasks/s", cc["tasks_per_s"], sc["tasks_per_s"], True),
    ("200 chains of 10: chains/s", cc["units_per_s"], sc["executions_per_s"], True),
    ("200 chains of 10: chain latency p50 (ms)", cc["p50_ms"], sc["duration"]["p50_ms"], False),
    ("200 chains of 10: chain latency p99 (ms)", cc["p99_ms"], sc["duration"]["p99_ms"], False),
    ("chains of 10, one at a time: latency p50 (ms)", ci["p50_ms"], si["duration"]["p50_ms"], False),
    ("chains of 10, one at a time: latency p99 (ms)", ci["p99_ms"], si["duration"]["p99_ms"], False),
]
pinned = os.path.exists(f"{out}/stepline-idle-chain-pinned.json")
if pinned:
    cp, sp = load("celery-idle-chain-pinned"), load("stepline-idle-chain-pinned")
    rows += [
        ("chains of 10, one at a time, one CPU: latency p50 (ms)", cp["p50_ms"], sp["duration"]["p50_ms"], False),
        ("chains of 10, one at a time, one CPU: latency p99 (ms)", cp["p99_ms"], sp["duration"]["p99_ms"], False),
    ]
print("| workload | Celery (prefork 2) | Stepline | Stepline vs Celery |")
print("| --- | ---: | ---: | ---: |")
for name, c, s, higher_better in rows:
    ratio = (s / c if higher_better else c / s) if c and s else float("nan")
    print(f"| {name} | {c:,.1f} | {s:,.1f} | {ratio:,.1f}x {'faster' if ratio >= 1 else 'slower'} |")
ok = (sn["failed"] == 0 and sa["failed"] == 0 and sc["failed"] == 0 and si["failed"] == 0
      and cn["completed"] == cn["units"] and cc["completed"] == cc["units"] and ci["completed"] == ci["units"])
if pinned:
    ok = ok and sp["failed"] == 0 and cp["completed"] == cp["units"]
print()
print(f"Stepline: {sn['succeeded']}/{sn['executions']}, {sa['succeeded']}/{sa['executions']}, "
      f"{sc['succeeded']}/{sc['executions']} and "
      f"{si['succeeded']}/{si['executions']} executions SUCCEEDED with the expected output; Celery: "
      f"{cn['completed']}/{cn['units']} tasks, {cc['completed']}/{cc['units']} and {ci['completed']}/{ci['units']} chains done.")
if pinned:
    print(f"On one CPU: Stepline {sp['succeeded']}/{sp['executions']} SUCCEEDED, Celery {cp['completed']}/{cp['units']} chains done.")
sys.exit(0 if ok else 1)
PY
