"""Where committed work sends its follow-up jobs.

``JobQueue`` is the protocol a unit of work enqueues to after its commit (never before: a job must
not run against data that was rolled back). ``CeleryJobQueue`` sends to the deployment's broker;
``job_queue_for(settings)`` builds one for a Runtime.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from inboxcrm.jobs.registry import JsonValue, ensure_json_safe

if TYPE_CHECKING:
    from celery import Celery

    from inboxcrm.config import Settings

logger = logging.getLogger(__name__)


class JobQueue(Protocol):
    """Queues a registered task with JSON-safe keyword arguments (ids, not objects)."""

    def enqueue(self, task_name: str, /, **kwargs: JsonValue) -> None: ...


class UnknownTask(LookupError):
    """The task name is not in the task registry (a typo, or a task module not in TASK_MODULES)."""


class CeleryJobQueue:
    """A JobQueue that sends to the broker of ``celery_app``."""

    def __init__(self, celery_app: Celery) -> None:
        self.celery_app = celery_app

    def enqueue(self, task_name: str, /, **kwargs: JsonValue) -> None:
        if task_name not in self.celery_app.tasks:
            raise UnknownTask(f"no task named {task_name!r} is registered")
        ensure_json_safe(kwargs)
        self.celery_app.tasks[task_name].apply_async(kwargs=kwargs)
        logger.debug("queued job %s", task_name)


def job_queue_for(settings: Settings) -> CeleryJobQueue:
    """A Celery job queue for the deployment ``settings`` describe (connects on first send)."""
    from inboxcrm.jobs.celery_app import create_celery

    return CeleryJobQueue(create_celery(settings))
