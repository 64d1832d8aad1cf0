import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from stepline_worker import TaskCancelled, TaskFailed, Worker
from stepline_worker.__main__ import install_signal_handlers


def test_task_is_delivered_handled_and_completed(coordinator, start_worker):
    start_worker(lambda task: {"got": task.input, "state": task.state_name})
    coordinator.add("t1", '{"x": 1}')
    coordinator.wait_for(lambda: "t1" in coordinator.completed)
    assert json.loads(coordinator.completed["t1"]) == {"got": {"x": 1}, "state": "S-t1"}
    assert not coordinator.failed


def test_polls_in_batches_and_never_asks_past_free_slots(coordinator, start_worker):
    gate = threading.Event()
    running, peak, lock = [0], [0], threading.Lock()

    def handler(task):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(10)
        with lock:
            running[0] -= 1
        return task.input

    for i in range(5):
        coordinator.add(f"b{i}", json.dumps(i))
    start_worker(handler, concurrency=2)
    coordinator.wait_for(lambda: any(given == 2 for _, given in coordinator.polls))
    time.sleep(0.3)  # give an over-eager worker time to take more than 2
    assert peak[0] == 2
    gate.set()
    coordinator.wait_for(lambda: len(coordinator.completed) == 5)
    assert all(asked <= 2 for asked, _ in coordinator.polls)
    assert {k: json.loads(v) for k, v in coordinator.completed.items()} == {f"b{i}": i for i in range(5)}


def test_one_poll_takes_a_whole_batch(coordinator, start_worker):
    for i in range(5):
        coordinator.add(f"c{i}")
    start_worker(lambda task: "ok", concurrency=8)
    coordinator.wait_for(lambda: len(coordinator.completed) == 5)
    assert (8, 5) in coordinator.polls


def test_failures_are_reported_with_error_and_cause(coordinator, start_worker):
    def handler(task):
        if task.input["kind"] == "named":
            raise TaskFailed("MyError", "boom")
        raise ValueError("bad input")

    start_worker(handler)
    coordinator.add("f1", '{"kind": "named"}')
    coordinator.add("f2", '{"kind": "crash"}')
    coordinator.wait_for(lambda: len(coordinator.failed) == 2)
    assert coordinator.failed == {"f1": ("MyError", "boom"), "f2": ("ValueError", "bad input")}
    assert not coordinator.completed


def test_heartbeats_every_third_of_the_interval(coordinator, start_worker):
    start_worker(lambda task: time.sleep(1.2) or "done")
    coordinator.add("h1", heartbeat_seconds=1)
    coordinator.wait_for(lambda: "h1" in coordinator.completed)
    assert 2 <= coordinator.heartbeats.count("h1") <= 4


def test_heartbeat_cancel_reaches_the_handler_and_nothing_is_reported(coordinator, start_worker):
    saw_cancel = threading.Event()

    def handler(task):
        if task.cancelled.wait(5):
            saw_cancel.set()
        return "too late"

    coordinator.cancel.add("k1")
    start_worker(handler)
    coordinator.add("k1", heartbeat_seconds=1)
    assert saw_cancel.wait(5)
    time.sleep(0.2)
    assert "k1" in coordinator.heartbeats
    assert "k1" not in coordinator.completed and "k1" not in coordinator.failed


def test_unknown_token_or_passed_deadline_cancels_the_task(coordinator, start_worker):
    cancelled = []

    def handler(task):
        try:
            task.sleep(5)
        except TaskCancelled:
            cancelled.append(task.token)
            raise

    coordinator.gone.add("g1")
    start_worker(handler)
    coordinator.add("g1", heartbeat_seconds=1)
    coordinator.add("d1", timeout_at_ms=int(time.time() * 1000) + 300)
    deadline = time.monotonic() + 3
    while len(cancelled) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(cancelled) == ["d1", "g1"]
    assert not coordinator.completed and not coordinator.failed


def test_batched_results_go_through_report_results(coordinator, start_worker):
    def handler(task):
        if task.input == 7:
            raise TaskFailed("Odd", "seven")
        return task.input

    start_worker(handler, batch_results=True)
    for i in range(20):
        coordinator.add(f"r{i}", json.dumps(i))
    coordinator.wait_for(lambda: sum(map(len, coordinator.reported)) == 20)
    results = {r.token: r for batch in coordinator.reported for r in batch}
    assert results["r7"].WhichOneof("outcome") == "failure"
    assert (results["r7"].failure.error, results["r7"].failure.cause) == ("Odd", "seven")
    assert json.loads(results["r3"].output_json) == 3
    assert not coordinator.completed and not coordinator.failed


def test_shutdown_cancels_the_long_poll_and_lets_running_tasks_finish(coordinator, start_worker):
    started = threading.Event()

    def handler(task):
        started.set()
        time.sleep(0.3)
        return "finished"

    # A 30 s long poll: shutdown must not wait for it.
    worker, thread = start_worker(handler, poll_wait=30, drain_grace=5)
    coordinator.add("s1")
    assert started.wait(5)
    t0 = time.monotonic()
    worker.stop()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - t0 < 3
    assert json.loads(coordinator.completed["s1"]) == "finished"
    assert coordinator.released == []


def test_sigterm_stops_polling_and_releases_unfinished_tasks(coordinator):
    started, saw_cancel = threading.Event(), threading.Event()

    def handler(task):
        started.set()
        if task.cancelled.wait(10):
            saw_cancel.set()
        return "never reported"

    worker = Worker(coordinator.address, "q", handler, poll_wait=0.5, drain_grace=0.3)
    old = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    install_signal_handlers(worker)

    def send_sigterm():
        started.wait(5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send_sigterm, daemon=True).start()
    coordinator.add("slow")
    try:
        worker.run()  # on the main thread, where Python runs signal handlers
    finally:
        signal.signal(signal.SIGTERM, old[0])
        signal.signal(signal.SIGINT, old[1])
    polls = len(coordinator.polls)
    assert coordinator.released == ["slow"]
    assert saw_cancel.wait(2)
    coordinator.add("after-stop")
    time.sleep(0.7)
    assert len(coordinator.polls) == polls, "polled after shutdown"
    assert not coordinator.completed


def test_cli_runs_and_exits_cleanly_on_sigterm(coordinator):
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.Popen(
        [sys.executable, "-m", "stepline_worker", "--coordinator", f"http://{coordinator.address}",
         "--queue", "q", "--handler", "echo", "--poll-wait", "1", "--concurrency", "4"],
        env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        coordinator.add("cli1", '{"hello": "world"}')
        coordinator.wait_for(lambda: "cli1" in coordinator.completed, timeout=20)
        assert json.loads(coordinator.completed["cli1"]) == {"hello": "world"}
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out
        assert "draining" in out
    finally:
        if proc.poll() is None:
            proc.kill()
