"""The Runtime tasks run with: one per worker process, built on first use.

A worker machine needs only the ``INBOXCRM_*`` environment: the runtime is wired from the
process-wide settings the first time a task asks for it (after any fork of the worker pool, so no
database connection crosses a fork). Tests and in-process runs may install their own.
"""

from __future__ import annotations

import logging
import threading

from inboxcrm.bootstrap import Runtime, build_runtime
from inboxcrm.config import get_settings

logger = logging.getLogger(__name__)


class _RuntimeHolder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runtime: Runtime | None = None


_holder = _RuntimeHolder()


def worker_runtime() -> Runtime:
    """The process-wide Runtime for tasks, built from the environment's settings on first use."""
    with _holder.lock:
        if _holder.runtime is None:
            _holder.runtime = build_runtime(get_settings())
            logger.info("worker runtime ready")
        return _holder.runtime


def use_worker_runtime(runtime: Runtime | None) -> Runtime | None:
    """Install ``runtime`` for this process's tasks (None: build from settings again).

    Returns the runtime it replaced, which the caller owns (and may close).
    """
    with _holder.lock:
        previous, _holder.runtime = _holder.runtime, runtime
    return previous
