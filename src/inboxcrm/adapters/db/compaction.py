"""Rewriting a tenant database after rows were deleted, so their bytes leave its files.

Deleting a row only marks its space free. After removing mail, :func:`compact_database`:

- **SQLite**: checkpoints and truncates the WAL, ``VACUUM`` rewrites the file without the free
  pages, and the WAL (through which VACUUM wrote) is truncated again. The deletion itself runs
  with ``PRAGMA secure_delete`` on (:func:`zero_deleted_content`), which zeroes content as it goes.
- **PostgreSQL**: a plain ``VACUUM`` of each named table frees the dead row versions for reuse
  without locking the table against readers and writers (a ``VACUUM FULL`` per user action
  would lock a large tenant's mail tables each time). Their bytes leave the files when the
  retention purge next rewrites the tables with ``VACUUM FULL``.

The retention purge has its own, fuller vacuum; this is the light one a single user action
can afford.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

__all__ = ["compact_database", "zero_deleted_content"]


def zero_deleted_content(session: Session) -> None:
    """On SQLite, make this connection overwrite deleted content with zeros."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete = ON"))


def compact_database(engine: Engine, tables: Sequence[str]) -> None:
    """Rewrite the database (SQLite), or vacuum ``tables`` (PostgreSQL), after a deletion."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            return
        for table in tables:
            conn.execute(text(f'VACUUM "{table}"'))
