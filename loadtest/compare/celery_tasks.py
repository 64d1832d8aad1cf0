"""No-op Celery tasks for the Stepline comparison (see run.sh).

Each task records when it ran, so the benchmark can compute throughput and latency
with the same definitions as stepline-loadtest: a task's latency is from its
submission to its end; a chain's is from the submission of its first task to the
end of its last.
"""
import os
import time

import redis
from celery import Celery

BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:16380/1")
app = Celery("celery_tasks", broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
_stats = redis.Redis.from_url(BROKER)


@app.task
def noop(sent):
    """Does nothing; records its latency (seconds since `sent`)."""
    now = time.time()
    pipe = _stats.pipeline(transaction=False)
    pipe.rpush("bench:lat", now - sent)
    pipe.set("bench:last", now)
    pipe.incr("bench:done")
    pipe.execute()


@app.task
def step(state):
    """One link of a chain: increments `n`; the last link records the chain's latency."""
    state = dict(state)
    state["n"] += 1
    if state["n"] == state["len"]:
        now = time.time()
        pipe = _stats.pipeline(transaction=False)
        pipe.rpush("bench:lat", now - state["sent"])
        pipe.set("bench:last", now)
        pipe.incr("bench:done")
        pipe.execute()
    return state
