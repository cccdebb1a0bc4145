"""Units of work: one transaction on one database, and jobs queued only after it commits.

Services do every write inside a unit of work; routes, jobs and the sync loop never commit by
themselves. A tenant's unit of work opens a session on that tenant's own database, so tenant
scoping lives here and nowhere else.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


class JobSink(Protocol):
    """Where committed work sends its follow-up jobs (the job queue)."""

    def enqueue(self, task_name: str, /, **kwargs: Any) -> None: ...


class UnitOfWork:
    """A session plus the jobs to queue once (and only if) it commits.

    Use as a context manager; leaving the block without ``commit()`` rolls back.
    """

    def __init__(self, engine: Engine, jobs: JobSink, *, tenant: str | None = None) -> None:
        self.tenant = tenant
        self._engine = engine
        self._jobs = jobs
        self._pending_jobs: list[tuple[str, dict[str, Any]]] = []
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self._engine, expire_on_commit=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back anything uncommitted and detaches the loaded objects, which stay
        # readable (rollback() would expire them).
        self.session.close()
        self._pending_jobs.clear()

    def enqueue(self, task_name: str, /, **kwargs: Any) -> None:
        """Queue ``task_name`` after the next successful commit."""
        self._pending_jobs.append((task_name, kwargs))

    def commit(self) -> None:
        self.session.commit()
        jobs, self._pending_jobs = self._pending_jobs, []
        for name, kwargs in jobs:
            try:
                self._jobs.enqueue(name, **kwargs)
            except Exception:
                # The data is committed; the periodic jobs pick up what a lost enqueue missed.
                logger.exception("could not queue job %s for tenant %s", name, self.tenant)

    def rollback(self) -> None:
        self.session.rollback()
        self._pending_jobs.clear()
