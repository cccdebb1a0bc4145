"""The one place that wires real objects: engines, units of work and the job queue."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from inboxcrm.adapters.db import migrator
from inboxcrm.adapters.db.engines import TenantDatabases, make_engine
from inboxcrm.adapters.db.unit_of_work import JobSink, UnitOfWork
from inboxcrm.config import Settings

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a request, a job or a command needs, built once per process."""

    settings: Settings
    control_engine: Engine
    tenants: TenantDatabases
    jobs: JobSink
    extras: dict[str, Any] = field(default_factory=dict)

    def control_uow(self) -> UnitOfWork:
        """A unit of work on the control-plane database."""
        return UnitOfWork(self.control_engine, self.jobs)

    def tenant_uow(self, slug: str) -> UnitOfWork:
        """A unit of work on tenant ``slug``'s own database."""
        return UnitOfWork(self.tenants.engine(slug), self.jobs, tenant=slug)

    def upgrade_control_plane(self) -> None:
        migrator.upgrade(self.control_engine, "control")

    def close(self) -> None:
        self.tenants.dispose_all()
        self.control_engine.dispose()


class LazyJobQueue:
    """The Celery-backed job queue for ``settings``, connected on first use only.

    Commands that never queue a job (``tenant create``, ``--help``) so never touch the broker.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._queue: JobSink | None = None

    def enqueue(self, task_name: str, /, **kwargs: Any) -> None:
        if self._queue is None:
            from inboxcrm.jobs.queue import job_queue_for

            self._queue = job_queue_for(self._settings)
        self._queue.enqueue(task_name, **kwargs)


def build_runtime(settings: Settings, *, jobs: JobSink | None = None) -> Runtime:
    """Wire a Runtime from settings. Pass ``jobs`` to use another job queue (tests, workers)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Runtime(
        settings=settings,
        control_engine=make_engine(settings.database_url),
        tenants=TenantDatabases(
            settings.tenant_database_url,
            cache_size=settings.tenant_engine_cache_size,
            pool_size=settings.tenant_pool_size,
            max_overflow=settings.tenant_max_overflow,
            connections_total=settings.tenant_connections_total,
            idle_seconds=settings.tenant_connection_idle_seconds,
        ),
        jobs=jobs if jobs is not None else LazyJobQueue(settings),
    )
