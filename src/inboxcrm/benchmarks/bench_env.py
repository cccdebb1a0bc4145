"""What the read-path and scale-out benchmarks share: runtimes on SQLite or PostgreSQL, a tenant
with an API token, the machine's load, and the clean-up of every database a benchmark creates.

PostgreSQL benchmarks use the server of ``INBOXCRM_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, a user with ``CREATEDB``) and name
every database they create ``inboxcrm_bench_<run>_...``; :func:`postgres_runtime` drops them all
on the way out, whatever happened in between.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from inboxcrm.bootstrap import Runtime, build_runtime
from inboxcrm.config import Settings

POSTGRES_URL = os.environ.get(
    "INBOXCRM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("INBOXCRM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
DROPS_AT_ONCE = 4
"""Connections dropping a run's databases side by side."""


class NoJobs:
    """A job sink that drops jobs (benchmarks that measure reads queue nothing they need)."""

    def enqueue(self, task_name: str, /, **kwargs: Any) -> None:
        return None


def load_average() -> float:
    """The machine's one-minute load average (0 where the OS does not say)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time of process ``pid`` (default: this one) so far, to the nanosecond where the OS
    says (``/proc/<pid>/schedstat`` on Linux; clock ticks from ``/proc/<pid>/stat`` else)."""
    if pid is None:
        return time.process_time()
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, poolclass=NullPool)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def sqlite_runtime(data_dir: str, *, jobs: Any = None, **settings: Any) -> Runtime:
    runtime = build_runtime(
        Settings(
            environment="test",
            data_dir=data_dir,
            database_url="",
            tenant_database_url="",
            **settings,
        ),
        jobs=jobs or NoJobs(),
    )
    runtime.upgrade_control_plane()
    return runtime


@dataclass
class PostgresRun:
    """The databases of one benchmark run on the PostgreSQL server."""

    prefix: str
    control_url: str
    tenant_url_template: str

    def admin_execute(self, statement: str) -> None:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with admin.connect() as conn:
                conn.execute(text(statement))
        finally:
            admin.dispose()

    def databases(self) -> list[str]:
        admin = create_engine(POSTGRES_URL, poolclass=NullPool)
        try:
            with admin.connect() as conn:
                rows = conn.execute(
                    text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                    {"p": self.prefix.replace("_", "\\_") + "%"},
                )
                return [r[0] for r in rows]
        finally:
            admin.dispose()

    def drop_all(self, at_once: int = DROPS_AT_ONCE) -> int:
        """Drop every database of the run (``at_once`` connections dropping side by side: a
        run of the tenancy benchmark leaves a thousand); returns how many there were."""
        names = self.databases()

        def drop(group: list[str]) -> None:
            admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            try:
                with admin.connect() as conn:
                    for name in group:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            finally:
                admin.dispose()

        groups = [names[n::at_once] for n in range(at_once) if names[n::at_once]]
        with ThreadPoolExecutor(max(1, len(groups))) as pool:
            list(pool.map(drop, groups))
        return len(names)


@contextmanager
def postgres_run(label: str) -> Iterator[PostgresRun]:
    """A control database for this run; on exit every database of the run is dropped."""
    prefix = f"inboxcrm_bench_{label}_{secrets.token_hex(3)}_"
    url = make_url(POSTGRES_URL)
    run = PostgresRun(
        prefix=prefix,
        control_url=url.set(database=prefix + "control").render_as_string(hide_password=False),
        tenant_url_template=url.set(database=prefix + "t_TENANT")
        .render_as_string(hide_password=False)
        .replace("TENANT", "{tenant}"),
    )
    run.admin_execute(f'CREATE DATABASE "{prefix}control"')
    try:
        yield run
    finally:
        run.drop_all()


def postgres_settings(run: PostgresRun, data_dir: str, **settings: Any) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        database_url=run.control_url,
        tenant_database_url=run.tenant_url_template,
        **settings,
    )


@contextmanager
def temporary_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="inboxcrm-bench-") as path:
        yield path
