"""A tiny in-process stand-in for the coordinator's Worker service, recording calls."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc

from stepline_worker.pb import pb2, pb2_grpc


class FakeCoordinator(pb2_grpc.WorkerServicer):
    def __init__(self):
        self.cond = threading.Condition()
        self.ready: list = []  # tasks waiting to be polled
        self.polls: list[tuple[int, int]] = []  # (max_tasks asked, tasks given)
        self.completed: dict[str, str] = {}
        self.failed: dict[str, tuple[str, str]] = {}
        self.reported: list[list] = []  # ReportResults batches
        self.released: list[str] = []
        self.heartbeats: list[str] = []
        self.cancel: set[str] = set()  # tokens whose Heartbeat says cancel_requested
        self.gone: set[str] = set()  # tokens whose Heartbeat fails with NOT_FOUND
        self.server = None
        self.address = None

    # -- test helpers ------------------------------------------------------------------
    def add(self, token, input_json="{}", heartbeat_seconds=0, **kw):
        task = pb2.Task(
            token=token, queue="q", input_json=input_json, state_name=f"S-{token}",
            execution_arn="arn:aws:states:us-east-1:1:execution:m:e", heartbeat_seconds=heartbeat_seconds, **kw,
        )
        with self.cond:
            self.ready.append(task)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                assert left > 0, "timed out waiting for the worker"
                self.cond.wait(min(left, 0.05))

    def _note(self, fn):
        with self.cond:
            fn()
            self.cond.notify_all()

    # -- the service ---------------------------------------------------------------
    def PollTasks(self, request, context):
        deadline = time.monotonic() + request.wait_time_ms / 1000
        with self.cond:
            while not self.ready and context.is_active():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.05))
            n = max(request.max_tasks, 1)
            given, self.ready = self.ready[:n], self.ready[n:]
            self.polls.append((request.max_tasks, len(given)))
            self.cond.notify_all()
        return pb2.PollTasksResponse(tasks=given)

    def Heartbeat(self, request, context):
        self._note(lambda: self.heartbeats.append(request.token))
        if request.token in self.gone:
            context.abort(grpc.StatusCode.NOT_FOUND, "TaskTimedOut: no such task")
        return pb2.HeartbeatResponse(cancel_requested=request.token in self.cancel)

    def CompleteTask(self, request, context):
        self._note(lambda: self.completed.__setitem__(request.token, request.output_json))
        return pb2.CompleteTaskResponse()

    def FailTask(self, request, context):
        self._note(lambda: self.failed.__setitem__(request.token, (request.error, request.cause)))
        return pb2.FailTaskResponse()

    def ReportResults(self, request, context):
        self._note(lambda: self.reported.append(list(request.results)))
        return pb2.ReportResultsResponse(rejections=[""] * len(request.results))

    def ReleaseTasks(self, request, context):
        self._note(lambda: self.released.extend(request.tokens))
        return pb2.ReleaseTasksResponse()

    # -- lifecycle -------------------------------------------------------------------
    def start(self):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        pb2_grpc.add_WorkerServicer_to_server(self, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self):
        self.server.stop(grace=None)
