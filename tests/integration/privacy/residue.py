"""Byte scans of a tenant's database files, to prove that purged data left them.

- SQLite: the database file and its ``-wal`` file are read as they are on disk.
- PostgreSQL: after a ``CHECKPOINT`` (so every page is on disk) every file under
  ``<data_directory>/base/<the tenant database's oid>/`` is read: the heap, TOAST and index
  files of every table of that database. The test process must be able to read the data
  directory (it runs as root here); otherwise the scan is skipped with the reason.

Callers first check that a scan *finds* the markers before the purge, so a pass means the bytes
went, not that the scan is blind (markers are short, so PostgreSQL does not compress them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from inboxcrm.bootstrap import Runtime


def _sqlite_files(runtime: Runtime, slug: str) -> list[Path]:
    database = make_url(runtime.tenants.url_for(slug)).database or ""
    return [p for p in (Path(database), Path(database + "-wal")) if p.exists()]


def _postgres_files(runtime: Runtime, slug: str) -> list[Path]:
    engine = runtime.tenants.engine(slug)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
        data_dir = conn.execute(text("SHOW data_directory")).scalar_one()
        oid = conn.execute(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
    base = Path(data_dir) / "base" / str(oid)
    try:
        return [p for p in base.iterdir() if p.is_file()]
    except PermissionError:
        pytest.skip(f"cannot read PostgreSQL's data directory {data_dir} from the tests")


def database_files(runtime: Runtime, slug: str) -> list[Path]:
    if runtime.tenants.backend == "sqlite":
        return _sqlite_files(runtime, slug)
    return _postgres_files(runtime, slug)


def residue(runtime: Runtime, slug: str, markers: list[str]) -> dict[str, list[str]]:
    """Which markers occur in which of the tenant's database files (empty: none anywhere)."""
    found: dict[str, list[str]] = {}
    needles = [(m, m.encode()) for m in markers]
    for path in database_files(runtime, slug):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a file unlinked during the scan
            continue
        for marker, needle in needles:
            if needle in data:
                found.setdefault(marker, []).append(path.name)
    return found


def rows_holding(runtime: Runtime, slug: str, markers: list[str]) -> dict[str, list[str]]:
    """Which markers occur in which ``table.column`` of the tenant's database, reading every
    column of every row of every table (text, JSON and binary values alike)."""
    engine = runtime.tenants.engine(slug)
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        for table in sorted(tables):
            result = conn.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, bytes | bytearray | memoryview):
                        shown = bytes(value).decode("latin-1")
                    else:
                        shown = str(value)
                    for marker in markers:
                        where = f"{table}.{column}"
                        if marker in shown and where not in found.get(marker, []):
                            found.setdefault(marker, []).append(where)
    return found
