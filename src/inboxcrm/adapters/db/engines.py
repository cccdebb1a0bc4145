"""Engines for the control plane and for each tenant's own database.

Tenant engines are created lazily on first use and kept in a bounded LRU cache; an engine pushed
out of the cache is disposed, closing its pool. On a database server (PostgreSQL) the tenant
connections of one process are bounded by one total, whatever the number of tenants
(:class:`ConnectionBudget`, ``INBOXCRM_TENANT_CONNECTIONS_TOTAL``):

1. opening a connection takes a slot of the budget, closing it gives the slot back;
2. when no slot is free, the idle pools of other tenants (least recently used first) are closed
   to make room; if every connection is in use, the caller waits up to ``timeout`` seconds and
   then gets :class:`ConnectionBudgetExhausted` (a clear error, never a server refusal);
3. an engine not used for ``INBOXCRM_TENANT_CONNECTION_IDLE_SECONDS`` is disposed, so idle
   connections do not pile up across many tenants.

So one process never holds more than the total to tenant databases, plus its control-plane
pool. Sizing: (processes x (tenant total + control pool)) must stay below the server's
``max_connections`` with room for administration; see docs/tenancy.md. SQLite files are not
server connections and are not counted.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from inboxcrm.adapters.db.tenant_template import clone_from_template

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class ConnectionBudgetExhausted(RuntimeError):
    """Every tenant connection this process may open is in use (see ConnectionBudget)."""


class ConnectionBudget:
    """A process-wide bound on open connections, shared by every tenant engine.

    ``reclaim(engine)`` is called (without the lock) when the budget is full while ``engine``
    connects; it closes idle connections of other engines and returns how many it closed.
    """

    def __init__(self, total: int, *, timeout: float = 30.0) -> None:
        if total < 1:
            raise ValueError("the tenant connection total must be at least 1")
        self.total = total
        self.timeout = timeout
        self._open = 0
        self._cond = threading.Condition()
        self.reclaim: Callable[[Engine | None], int] = lambda _engine: 0

    @property
    def open_connections(self) -> int:
        with self._cond:
            return self._open

    def take(self, engine: Engine | None = None) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            with self._cond:
                if self._open < self.total:
                    self._open += 1
                    return
            if self.reclaim(engine):
                continue
            with self._cond:
                if self._open < self.total:
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConnectionBudgetExhausted(
                        f"all {self.total} tenant database connections of this process are in "
                        "use; raise INBOXCRM_TENANT_CONNECTIONS_TOTAL within the server's "
                        "max_connections (docs/tenancy.md)"
                    )
                self._cond.wait(min(left, 0.5))

    def give_back(self) -> None:
        with self._cond:
            self._open = max(0, self._open - 1)
            self._cond.notify()

    def watch(self, engine: Engine) -> None:
        """Count ``engine``'s connections against the budget."""

        def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            self.take(engine)
            try:
                return dialect.connect(*cargs, **cparams)
            except BaseException:
                self.give_back()
                raise

        def closed(*_args: Any) -> None:
            self.give_back()

        event.listen(engine, "do_connect", connect)
        event.listen(engine.pool, "close", closed)
        event.listen(engine.pool, "close_detached", closed)


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for ``url`` with the settings inboxcrm needs on that backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        # Statement parameters (message bodies, addresses) never reach an error or a log line.
        hide_parameters=True,
    )


def validate_slug(slug: str) -> str:
    """A tenant slug: 3-40 characters, lower-case letters, digits and inner hyphens."""
    if not SLUG_RE.match(slug):
        raise ValueError(
            "a tenant slug is 3-40 characters of a-z, 0-9 and '-', starting with a letter"
        )
    return slug


class TenantDatabases:
    """Where each tenant's database lives, and a bounded cache of engines for them."""

    def __init__(
        self,
        url_template: str,
        *,
        cache_size: int = 64,
        pool_size: int = 2,
        max_overflow: int = 3,
        connections_total: int = 20,
        idle_seconds: float = 60.0,
    ) -> None:
        if "{tenant}" not in url_template:
            raise ValueError("the tenant database URL template needs a {tenant} placeholder")
        self.url_template = url_template
        self.cache_size = cache_size
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self.idle_seconds = idle_seconds
        self.budget = ConnectionBudget(connections_total)
        self.budget.reclaim = self._close_idle_pools
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._last_used: dict[str, float] = {}
        self._next_sweep = 0.0
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        return make_url(self.url_template.replace("{tenant}", "x")).get_backend_name()

    def url_for(self, slug: str) -> str:
        validate_slug(slug)
        name = slug if self.backend == "sqlite" else slug.replace("-", "_")
        return self.url_template.replace("{tenant}", name)

    def engine(self, slug: str) -> Engine:
        """The (cached) engine of tenant ``slug``'s database."""
        self._sweep_idle()
        with self._lock:
            self._last_used[slug] = time.monotonic()
            engine = self._engines.get(slug)
            if engine is not None:
                self._engines.move_to_end(slug)
                return engine
            engine = make_engine(
                self.url_for(slug), pool_size=self.pool_size, max_overflow=self.max_overflow
            )
            if self.backend != "sqlite":
                self.budget.watch(engine)
            self._engines[slug] = engine
            while len(self._engines) > self.cache_size:
                old_slug, old = self._engines.popitem(last=False)
                self._last_used.pop(old_slug, None)
                logger.debug("disposing engine of tenant %s (cache bound)", old_slug)
                old.dispose()
            return engine

    def _idle_engines(self, older_than: float) -> list[tuple[str, Engine]]:
        """Engines (least recently used first) with no connection checked out."""
        with self._lock:
            ordered = list(self._engines.items())
            used = dict(self._last_used)
        idle = []
        for slug, engine in ordered:
            pool: Any = engine.pool
            checked_out = pool.checkedout() if hasattr(pool, "checkedout") else 0
            if checked_out == 0 and used.get(slug, 0.0) <= older_than:
                idle.append((slug, engine))
        return idle

    def _sweep_idle(self) -> None:
        """Dispose the engines unused for ``idle_seconds`` (at most every few seconds)."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + max(1.0, self.idle_seconds / 4)
        for slug, engine in self._idle_engines(now - self.idle_seconds):
            pool: Any = engine.pool
            if getattr(pool, "checkedin", lambda: 0)():
                logger.debug("closing the idle connections of tenant %s", slug)
                engine.dispose()

    def _close_idle_pools(self, connecting: Engine | None) -> int:
        """Make room in the budget: close the idle pools of other tenants. How many closed."""
        closed = 0
        for _slug, engine in self._idle_engines(time.monotonic()):
            if engine is connecting:
                continue
            pool: Any = engine.pool
            idle = int(getattr(pool, "checkedin", lambda: 0)())
            if idle:
                engine.dispose()
                closed += idle
                break  # one pool at a time: the least recently used
        return closed

    def cached_count(self) -> int:
        with self._lock:
            return len(self._engines)

    def forget(self, slug: str) -> None:
        with self._lock:
            engine = self._engines.pop(slug, None)
        if engine is not None:
            engine.dispose()

    def create_database(self, slug: str, *, from_template: bool = True) -> bool:
        """Create the physical database of ``slug`` if missing. True when it was created.
        ``from_template``: on PostgreSQL, as a copy of the migrated template (built if missing;
        see tenant_template), else empty."""
        url = make_url(self.url_for(slug))
        if url.get_backend_name() == "sqlite":
            path = Path(url.database or "")
            existed = path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            return not existed
        admin = create_engine(
            url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            with admin.connect() as conn:
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
                ).first()
                if exists:
                    return False
                # A copy of the migrated template where it can be (see tenant_template).
                if not (from_template and clone_from_template(conn, self.url_template, url)):
                    conn.execute(text(f'CREATE DATABASE "{url.database}"'))
                return True
        finally:
            admin.dispose()

    def drop_database(self, slug: str) -> None:
        """Remove the physical database of ``slug`` (closing tenants), if present."""
        self.forget(slug)
        url = make_url(self.url_for(slug))
        if url.get_backend_name() == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{url.database}{suffix}").unlink(missing_ok=True)
            return
        admin = create_engine(
            url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        finally:
            admin.dispose()

    def dispose_all(self) -> None:
        with self._lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for engine in engines:
            engine.dispose()
