"""A Python worker for Stepline: poll tasks over gRPC, heartbeat, report results."""

__all__ = ["Task", "TaskCancelled", "TaskFailed", "Worker"]


def __getattr__(name):
    # Lazy, so `python -m stepline_worker.codegen` runs before any stub is imported.
    if name in __all__:
        from . import worker

        return getattr(worker, name)
    raise AttributeError(name)
