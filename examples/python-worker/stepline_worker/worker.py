"""A Stepline worker: long-polls batches of tasks, runs a handler for each in a thread
pool, heartbeats while they run, reports results, and drains on shutdown.

Threads rather than asyncio so that ordinary blocking handler code works unchanged.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import queue as queue_mod
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import grpc

from .pb import pb2, pb2_grpc

log = logging.getLogger("stepline_worker")

# The coordinator no longer knows this token (stale attempt, finished execution).
TOKEN_GONE = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION}
# Worth trying again: the coordinator is restarting, overloaded or unreachable.
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
}
RPC_TIMEOUT = 10.0
# Results per ReportResults call, and bytes of output (gRPC's default limit is 4 MiB).
REPORT_BATCH = 256
REPORT_BATCH_BYTES = 3 * 1024 * 1024
_STOP = object()


class TaskFailed(Exception):
    """Raise from a handler to fail the task with an error name that Retry/Catch match."""

    def __init__(self, error: str, cause: str = ""):
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class TaskCancelled(Exception):
    """Raised by `Task.check_cancelled()`; the task's result is then not reported."""


@dataclass
class Task:
    token: str
    queue: str
    input: Any
    state_name: str
    execution_arn: str
    attempt: int
    timeout_at_ms: int
    heartbeat_seconds: int
    resource: str
    # Set when the coordinator asks to stop (execution stopped, task timed out) or on
    # shutdown after the drain grace. Handlers should check it and return early.
    cancelled: threading.Event = field(default_factory=threading.Event)

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise TaskCancelled(self.token)

    def sleep(self, seconds: float) -> None:
        """Sleeps, but raises TaskCancelled as soon as the task is cancelled."""
        if self.cancelled.wait(seconds):
            raise TaskCancelled(self.token)


Handler = Callable[[Task], Any]


def default_worker_id() -> str:
    return f"py-{socket.gethostname()}-{os.getpid()}"


class Worker:
    def __init__(
        self,
        coordinator: str,
        queue: str,
        handler: Handler,
        *,
        concurrency: int = 8,
        batch_size: int | None = None,
        poll_wait: float = 20.0,
        drain_grace: float = 30.0,
        batch_results: bool = False,
        worker_id: str | None = None,
        channel: grpc.Channel | None = None,
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self.batch_size = max(1, min(batch_size or concurrency, 1000))
        self.poll_wait = min(max(poll_wait, 0.0), 60.0)
        self.drain_grace = drain_grace
        self.batch_results = batch_results
        self.worker_id = worker_id or default_worker_id()
        self._own_channel = channel is None
        if channel is None:
            # Accept the Rust worker's `http://host:port` form too.
            target = coordinator.split("://", 1)[-1].rstrip("/")
            channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 256 << 20)])
        self._channel = channel
        self._stub = pb2_grpc.WorkerStub(channel)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="stepline-task")
        self._slots = threading.Semaphore(concurrency)
        self._stop = threading.Event()
        self._closed = threading.Event()  # drain done: heartbeats may end
        self._lock = threading.Condition()
        # Running tasks by token. Whoever pops an entry owns the task's fate (report or
        # release), so a task is never both reported and released.
        self._inflight: dict[str, Task] = {}
        self._active = 0  # handlers running plus results being reported
        self._timers: list[tuple[float, int, str, str]] = []  # (due, seq, kind, token)
        self._seq = itertools.count()
        self._timer_wake = threading.Event()
        self._results: queue_mod.Queue = queue_mod.Queue()
        self._poll_call = None
        self.stats: Counter = Counter()

    # ---- lifecycle -------------------------------------------------------------------

    def stop(self) -> None:
        """Asks for a graceful shutdown; safe to call from a signal handler."""
        self._stop.set()
        call = self._poll_call  # cancel the long poll so shutdown doesn't wait for it
        if call is not None:
            call.cancel()

    def run(self) -> None:
        """Polls until `stop()`, then drains. Returns when the worker has shut down."""
        log.info("polling queue %r with concurrency %d as %s", self.queue, self.concurrency, self.worker_id)
        poller = threading.Thread(target=self._poll_loop, name="stepline-poll", daemon=True)
        timers = threading.Thread(target=self._timer_loop, name="stepline-heartbeat", daemon=True)
        reporter = threading.Thread(target=self._report_loop, name="stepline-report", daemon=True)
        poller.start()
        timers.start()
        if self.batch_results:
            reporter.start()
        # Short waits keep the calling (main) thread responsive to signals.
        while not self._stop.wait(0.5):
            pass
        poller.join()
        self._drain()
        if self.batch_results:
            self._results.put(_STOP)
            reporter.join(RPC_TIMEOUT)
        self._closed.set()
        self._timer_wake.set()
        timers.join(RPC_TIMEOUT)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._own_channel:
            self._channel.close()
        log.info("worker stopped: %s", dict(self.stats))

    def _drain(self) -> None:
        with self._lock:
            log.info("shutting down: %d task(s) running, grace %.1fs", len(self._inflight), self.drain_grace)
            self._lock.wait_for(lambda: self._active == 0, timeout=self.drain_grace)
            leftover = list(self._inflight.values())
            self._inflight.clear()
        for task in leftover:
            task.cancelled.set()
        if leftover:
            self._release([t.token for t in leftover])
        # Let results already being reported get out before the channel closes; the
        # released tasks' handlers no longer count, as nothing is reported for them.
        with self._lock:
            self._lock.wait_for(lambda: self._active <= len(leftover), timeout=RPC_TIMEOUT)

    def _release(self, tokens: list[str]) -> None:
        try:
            self._stub.ReleaseTasks(pb2.ReleaseTasksRequest(tokens=tokens), timeout=5.0)
            self.stats["released"] += len(tokens)
            log.info("released %d task(s) for other workers", len(tokens))
        except grpc.RpcError as e:
            log.warning("could not release %d task(s) (%s); they return when their lease expires", len(tokens), e.code())

    # ---- polling ---------------------------------------------------------------------

    def _poll_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            # Hold the free slots while polling, and ask for no more tasks than that.
            if not self._slots.acquire(timeout=0.2):
                continue
            held = 1
            while held < self.batch_size and self._slots.acquire(blocking=False):
                held += 1
            started = time.monotonic()
            try:
                tasks = self._poll(held)
                failures = 0
            except grpc.RpcError as e:
                self._give_back(held)
                if self._stop.is_set():
                    break
                failures += 1
                delay = min(5.0, 0.1 * 2 ** min(failures, 6))
                log.warning("poll failed (%s: %s); retrying in %.1fs", e.code(), e.details(), delay)
                self._stop.wait(delay)
                continue
            extra = [t.token for t in tasks[held:]]
            if extra:  # more than asked for: hand them straight back
                self._release(extra)
            for t in tasks[:held]:
                if self._start(t):
                    held -= 1
            self._give_back(held)
            if not tasks and self.poll_wait >= 0.1 and time.monotonic() - started < 0.005:
                # An empty answer at once despite a long wait: don't spin on it.
                self._stop.wait(0.1)

    def _poll(self, max_tasks: int) -> list:
        req = pb2.PollTasksRequest(
            queue=self.queue, max_tasks=max_tasks, wait_time_ms=int(self.poll_wait * 1000), worker_id=self.worker_id
        )
        call = self._stub.PollTasks.future(req, timeout=self.poll_wait + RPC_TIMEOUT)
        self._poll_call = call
        if self._stop.is_set():
            call.cancel()
        try:
            return list(call.result().tasks)
        except grpc.FutureCancelledError:
            # Stopped mid-poll. Tasks the coordinator handed to this cancelled poll are
            # redelivered when their lease expires (delivery is at least once).
            return []
        finally:
            self._poll_call = None

    def _give_back(self, n: int) -> None:
        for _ in range(n):
            self._slots.release()

    def _start(self, t) -> bool:
        """Starts a polled task; False when it takes no slot (skipped)."""
        if not t.token:
            log.warning("coordinator sent a task without a token; ignoring it")
            return False
        task = Task(
            token=t.token,
            queue=t.queue,
            input=None,
            state_name=t.state_name,
            execution_arn=t.execution_arn,
            attempt=t.attempt,
            timeout_at_ms=t.timeout_at_ms,
            heartbeat_seconds=t.heartbeat_seconds,
            resource=t.resource,
        )
        with self._lock:
            if t.token in self._inflight:  # redelivered while running: the running copy reports
                return False
            self._inflight[t.token] = task
            self._active += 1
        self.stats["polled"] += 1
        if task.heartbeat_seconds > 0:
            self._schedule(max(task.heartbeat_seconds / 3, 0.2), "heartbeat", task.token)
        if task.timeout_at_ms > 0:
            self._schedule(max(task.timeout_at_ms / 1000 - time.time(), 0), "deadline", task.token)
        self._pool.submit(self._run_task, task, t.input_json)
        return True

    # ---- running and reporting -------------------------------------------------------

    def _run_task(self, task: Task, input_json: str) -> None:
        reporting = False
        try:
            try:
                task.input = json.loads(input_json) if input_json else None
                outcome = ("ok", json.dumps(self.handler(task)))
            except TaskCancelled:
                outcome = None
            except TaskFailed as e:
                outcome = ("fail", e.error, e.cause)
            except Exception as e:  # noqa: BLE001 - any handler error fails the task
                log.warning("task %s failed: %r", task.state_name, e)
                outcome = ("fail", type(e).__name__, str(e))
            with self._lock:
                owned = self._inflight.pop(task.token, None) is not None
            if not owned:
                return  # released on shutdown: someone else runs it now
            if outcome is None or task.cancelled.is_set():
                self.stats["cancelled"] += 1
                log.info("task %s was cancelled; not reporting it", task.state_name)
                return
            reporting = True
            if self.batch_results:
                self._results.put(self._task_result(task.token, outcome))
            else:
                self._send_one(task.token, outcome)
                reporting = False
        finally:
            self._slots.release()
            if not reporting:
                self._done(1)

    def _done(self, n: int) -> None:
        with self._lock:
            self._active -= n
            self._lock.notify_all()

    def _send_one(self, token: str, outcome: tuple) -> None:
        if outcome[0] == "ok":
            rpc, req = self._stub.CompleteTask, pb2.CompleteTaskRequest(token=token, output_json=outcome[1])
        else:
            rpc, req = self._stub.FailTask, pb2.FailTaskRequest(token=token, error=outcome[1], cause=outcome[2])
        if self._with_retries(lambda: rpc(req, timeout=RPC_TIMEOUT), "report result"):
            self.stats["completed" if outcome[0] == "ok" else "failed"] += 1

    @staticmethod
    def _task_result(token: str, outcome: tuple):
        if outcome[0] == "ok":
            return pb2.TaskResult(token=token, output_json=outcome[1])
        return pb2.TaskResult(token=token, failure=pb2.TaskFailure(error=outcome[1], cause=outcome[2]))

    def _report_loop(self) -> None:
        """Batch mode: sends whatever results are waiting in one ReportResults call."""
        stopping = False
        while not stopping:
            item = self._results.get()
            if item is _STOP:
                return
            batch, size = [item], len(item.output_json)
            while len(batch) < REPORT_BATCH and size < REPORT_BATCH_BYTES:
                try:
                    item = self._results.get_nowait()
                except queue_mod.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
                size += len(item.output_json)
            req = pb2.ReportResultsRequest(results=batch)
            resp = self._with_retries(lambda: self._stub.ReportResults(req, timeout=RPC_TIMEOUT), "report results")
            if resp is not None:
                for result, why in zip(batch, resp.rejections):
                    if why:
                        log.warning("result for %s… rejected: %s", result.token[:12], why)
                self.stats["reported"] += len(batch)
            self._done(len(batch))

    def _with_retries(self, call: Callable[[], Any], what: str, attempts: int = 5):
        for attempt in range(attempts):
            try:
                return call()
            except grpc.RpcError as e:
                if e.code() in RETRYABLE and attempt + 1 < attempts:
                    time.sleep(0.1 * 2**attempt)
                    continue
                log.warning("%s failed: %s: %s", what, e.code(), e.details())
                return None

    # ---- heartbeats and deadlines ----------------------------------------------------

    def _schedule(self, delay: float, kind: str, token: str) -> None:
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), kind, token))
        self._timer_wake.set()

    def _timer_loop(self) -> None:
        # One thread for every task's heartbeats: cheap, and beats are tiny RPCs.
        while not self._closed.is_set():
            with self._lock:
                due = self._timers[0][0] if self._timers else None
            timeout = 0.5 if due is None else max(0.0, min(due - time.monotonic(), 0.5))
            if self._timer_wake.wait(timeout):
                self._timer_wake.clear()
            now = time.monotonic()
            while True:
                with self._lock:
                    if not self._timers or self._timers[0][0] > now:
                        break
                    _, _, kind, token = heapq.heappop(self._timers)
                    task = self._inflight.get(token)
                if task is None or task.cancelled.is_set():
                    continue
                if kind == "deadline":
                    log.warning("task %s passed its timeout; cancelling it", task.state_name)
                    task.cancelled.set()
                else:
                    self._heartbeat(task)

    def _heartbeat(self, task: Task) -> None:
        period = max(task.heartbeat_seconds / 3, 0.2)
        try:
            resp = self._stub.Heartbeat(pb2.HeartbeatRequest(token=task.token), timeout=max(period, 1.0))
        except grpc.RpcError as e:
            if e.code() in TOKEN_GONE:
                log.warning("task %s is no longer valid (%s); cancelling it", task.state_name, e.code())
                task.cancelled.set()
            else:
                # Retry sooner, so one lost beat doesn't cost the task.
                self._schedule(min(period / 2, 1.0), "heartbeat", task.token)
            return
        self.stats["heartbeats"] += 1
        if resp.cancel_requested:
            log.info("coordinator cancelled task %s", task.state_name)
            task.cancelled.set()
        else:
            self._schedule(period, "heartbeat", task.token)
