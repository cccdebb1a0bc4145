"""Engines for the control plane and for each tenant's own database.

Tenant engines are created lazily on first use and kept in a bounded LRU cache; an engine pushed
out of the cache is disposed, closing its pool. With the defaults (64 cached engines, pool 2 +
overflow 3) one process holds at most 64 x 5 = 320 PostgreSQL connections, usually far fewer, so
1,000 tenants on one server are served without exhausting ``max_connections`` as long as
(processes x cache size x (pool + overflow)) stays below it. See docs/tenancy.md.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for ``url`` with the settings inboxcrm needs on that backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
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
        self, url_template: str, *, cache_size: int = 64, pool_size: int = 2, max_overflow: int = 3
    ) -> None:
        if "{tenant}" not in url_template:
            raise ValueError("the tenant database URL template needs a {tenant} placeholder")
        self.url_template = url_template
        self.cache_size = cache_size
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self._engines: OrderedDict[str, Engine] = OrderedDict()
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
        with self._lock:
            engine = self._engines.get(slug)
            if engine is not None:
                self._engines.move_to_end(slug)
                return engine
            engine = make_engine(
                self.url_for(slug), pool_size=self.pool_size, max_overflow=self.max_overflow
            )
            self._engines[slug] = engine
            while len(self._engines) > self.cache_size:
                old_slug, old = self._engines.popitem(last=False)
                logger.debug("disposing engine of tenant %s (cache bound)", old_slug)
                old.dispose()
            return engine

    def cached_count(self) -> int:
        with self._lock:
            return len(self._engines)

    def forget(self, slug: str) -> None:
        with self._lock:
            engine = self._engines.pop(slug, None)
        if engine is not None:
            engine.dispose()

    def create_database(self, slug: str) -> bool:
        """Create the physical database of ``slug`` if missing. True when it was created."""
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
