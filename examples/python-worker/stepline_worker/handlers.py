"""Example handlers. A handler takes a Task and returns a JSON-serialisable result,
or raises TaskFailed(error, cause) so that the state's Retry/Catch can match `error`."""

from .worker import Task, TaskFailed


def echo(task: Task):
    """Returns the input unchanged."""
    return task.input


def sleep(task: Task):
    """Sleeps `seconds` (default 1) from the input, stopping early when cancelled."""
    seconds = task.input.get("seconds", 1) if isinstance(task.input, dict) else 1
    task.sleep(float(seconds))  # raises TaskCancelled if the execution is stopped
    return task.input


def fail(task: Task):
    """Fails with `error` and `cause` from the input."""
    data = task.input if isinstance(task.input, dict) else {}
    raise TaskFailed(data.get("error", "Stepline.ExampleError"), data.get("cause", "failed on purpose"))


BUILTIN = {"echo": echo, "sleep": sleep, "fail": fail}
