"""Insert-if-absent that stays correct when several workers insert the same rows at once.

``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite share the syntax; SQLAlchemy has a
dialect-specific construct for each). A conflicting row is silently left as it is, so retries,
crashes and overlapping sync runs can never create a second copy, and no transaction is aborted
by a unique violation (which on PostgreSQL would poison the whole transaction).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

__all__ = ["insert_if_absent"]


@functools.lru_cache(maxsize=256)
def _statement(
    dialect: str,
    table: Table,
    conflict_columns: tuple[str, ...],
    returning: tuple[str, ...],
    conflict_where: str | None = None,
) -> Any:
    """The insert-if-absent statement, built once per (dialect, table, columns)."""
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    else:
        raise NotImplementedError(f"insert_if_absent does not support {dialect}")
    where = text(conflict_where) if conflict_where is not None else None
    stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict_columns), index_where=where)
    if returning:
        stmt = stmt.returning(*(table.c[name] for name in returning))
    return stmt


def insert_if_absent(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    *,
    returning: Sequence[str] = (),
    conflict_where: str | None = None,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` into ``table``, skipping any that clash on ``conflict_columns``.

    With ``returning``, the named columns of the rows actually inserted are returned (rows that
    already existed are not). ``conflict_where`` names the condition of a partial unique index
    on ``conflict_columns`` (SQL text, e.g. ``"auto_created"``).
    """
    if not rows:
        return []
    # Parameters go separately (executemany), so the compiled statement is cached and reused.
    dialect = session.get_bind().dialect.name
    stmt = _statement(dialect, table, tuple(conflict_columns), tuple(returning), conflict_where)
    params = [dict(row) for row in rows]
    if returning:
        result = session.execute(stmt, params if len(params) > 1 else params[0])
        return [tuple(row) for row in result.all()]
    session.connection().execute(stmt, params)
    return []
