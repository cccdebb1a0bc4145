"""A Celery worker in a thread of this process, for benchmarks and tests.

Production runs workers as processes (``inboxcrm worker``, or the embedded child process); a thread
shares this process's objects, which is what a benchmark or a test of the task path wants. Only one
such worker may run in a process at a time: Celery's stop flag is process-wide.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery


@contextmanager
def worker_thread(app: Celery, queues: list[str]) -> Iterator[None]:
    """A solo Celery worker consuming ``queues`` in a thread of this process."""
    from celery.worker import WorkController, state

    ready = threading.Event()

    class _Worker(WorkController):  # type: ignore[misc]
        def on_consumer_ready(self, consumer: Any) -> None:
            ready.set()

    app.finalize()
    controller = _Worker(
        app=app,
        pool_cls="solo",
        concurrency=1,
        queues=queues,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="WARNING",
    )

    def run() -> None:
        app.set_current()  # the solo pool runs tasks through this thread's current app
        controller.start()

    thread = threading.Thread(target=run, name="celery-worker", daemon=True)
    thread.start()
    if not ready.wait(60):
        raise RuntimeError("the worker thread did not become ready")
    try:
        yield
    finally:
        state.should_stop = 0
        thread.join(60)
        state.should_stop = None
