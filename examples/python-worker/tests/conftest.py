import sys
import threading
from pathlib import Path

import pytest

# Import the package from the source tree without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_coordinator import FakeCoordinator  # noqa: E402


@pytest.fixture
def coordinator():
    fake = FakeCoordinator().start()
    yield fake
    fake.stop()


@pytest.fixture
def start_worker(coordinator):
    """Starts Worker(...).run() in a thread; stops and joins it at the end of the test."""
    from stepline_worker import Worker

    started = []

    def start(handler, **kw):
        kw.setdefault("poll_wait", 0.5)
        kw.setdefault("drain_grace", 2.0)
        worker = Worker(coordinator.address, "q", handler, **kw)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        started.append((worker, thread))
        return worker, thread

    yield start
    for worker, thread in started:
        worker.stop()
        thread.join(15)
        assert not thread.is_alive(), "worker did not shut down"
