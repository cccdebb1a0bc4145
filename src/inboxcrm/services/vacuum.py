"""Compacting a tenant database after a purge, so deleted bytes leave its files.

Deleting a row only marks its space free: the bytes stay in the database files until they are
overwritten. After a purge, :func:`vacuum_tenant_database` removes them; after a user removes one
message or thread from the CRM (services.message_removal), :func:`vacuum_database` does the same
for the tables that removal touched, with a shorter deadline:

- **SQLite**: the WAL is checkpointed and truncated, ``VACUUM`` rewrites the database file
  without the free pages, and the WAL (through which VACUUM wrote) is truncated again. The purge
  itself runs with ``PRAGMA secure_delete`` on, which zeroes deleted content as it goes.
- **PostgreSQL**: ``VACUUM FULL`` rewrites every table the purge touches (with its TOAST table
  and indexes) into new files and unlinks the old ones. A row version that some transaction
  still running elsewhere might see cannot be removed yet and would be copied into the new file,
  so each table whose VACUUM reports such versions is vacuumed again until none are left (up to
  :data:`PG_CLEAN_DEADLINE_SECONDS`; past it the vacuum reports failure, the purge says so, and
  the next purge tries again; a table locked by another transaction for over 10 s counts the
  same). ``ANALYZE`` refreshes the column
  statistics (which can hold sample values) and ``VACUUM FULL pg_statistic`` drops the old ones;
  a ``CHECKPOINT`` writes the rewritten pages out. VACUUM FULL locks each table while it runs,
  so a large tenant is briefly blocked. Without the privileges for the catalog vacuum and the
  checkpoint (they need a superuser or ``pg_checkpoint``) those two steps are skipped and
  logged; PostgreSQL's write-ahead log keeps old page images until its segments are recycled.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from inboxcrm.bootstrap import Runtime

logger = logging.getLogger(__name__)

__all__ = [
    "PG_CLEAN_DEADLINE_SECONDS",
    "PURGED_TABLES",
    "vacuum_database",
    "vacuum_tenant_database",
]

PG_CLEAN_DEADLINE_SECONDS = 120.0
_POLL_SECONDS = 0.5
_LOCK_TIMEOUT = "10s"
_NOT_REMOVABLE = re.compile(r"(\d+) dead row versions cannot be removed yet")

PURGED_TABLES = (
    "email_messages",
    "email_attachments",
    "email_threads",
    "activities",
    "mail_sync_ledger",
    "mail_accounts",
    "record_emails",
    "notes",
    "deals",
    "leads",
    "contacts",
    "accounts",
    "never_log_entries",
    "export_jobs",
)


@contextmanager
def _notices(conn: Connection) -> Iterator[list[str]]:
    """The server's NOTICE messages while the block runs (psycopg 3 or psycopg2)."""
    raw: Any = conn.connection.dbapi_connection
    seen: list[str] = []
    if hasattr(raw, "add_notice_handler"):  # psycopg 3

        def handler(diagnostic: Any) -> None:
            seen.append(f"{diagnostic.message_primary or ''} {diagnostic.message_detail or ''}")

        raw.add_notice_handler(handler)
        try:
            yield seen
        finally:
            raw.remove_notice_handler(handler)
        return
    before = len(getattr(raw, "notices", []))  # psycopg2 keeps a list
    try:
        yield seen
    finally:
        seen.extend(str(n) for n in getattr(raw, "notices", [])[before:])


def _vacuum_table(conn: Connection, table: str) -> int:
    """VACUUM FULL one table; returns how many dead row versions it had to keep (1 when the
    table's lock was not free within the lock timeout)."""
    with _notices(conn) as notices:
        try:
            conn.execute(text(f'VACUUM (FULL, VERBOSE) "{table}"'))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", getattr(exc.orig, "pgcode", None)) != "55P03":
                raise
            logger.info("VACUUM FULL of %s waits for a lock held by another transaction", table)
            return 1
    return sum(int(m.group(1)) for n in notices for m in _NOT_REMOVABLE.finditer(n))


def _vacuum_postgres(
    conn: Connection,
    slug: str,
    tables: Sequence[str],
    deadline: float,
    sleep: Callable[[float], None],
) -> bool:
    conn.execute(text(f"SET lock_timeout = '{_LOCK_TIMEOUT}'"))
    pending = list(tables)
    while True:
        pending = [t for t in pending if _vacuum_table(conn, t) > 0]
        if not pending:
            break
        if time.monotonic() >= deadline:
            logger.warning(
                "tenant %s: dead rows of %s are still visible to a running transaction; "
                "the next purge vacuums again",
                slug,
                ", ".join(pending),
            )
            return False
        sleep(_POLL_SECONDS)
    conn.execute(text("ANALYZE " + ", ".join(f'"{t}"' for t in tables)))
    for statement in ("VACUUM FULL pg_catalog.pg_statistic", "CHECKPOINT"):
        try:
            conn.execute(text(statement))
        except DBAPIError as exc:
            logger.warning("%s skipped in tenant %s: %s", statement, slug, type(exc.orig).__name__)
    return True


def vacuum_tenant_database(
    runtime: Runtime,
    slug: str,
    *,
    deadline_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Rewrite tenant ``slug``'s database so that deleted rows leave no bytes behind.

    True when that is done; False when PostgreSQL could not drop every deleted row version
    before the deadline (a long transaction still sees them).
    """
    return vacuum_database(
        runtime.tenants.engine(slug),
        slug,
        PURGED_TABLES,
        deadline_seconds=deadline_seconds,
        sleep=sleep,
    )


def vacuum_database(
    engine: Engine,
    slug: str,
    tables: Sequence[str],
    *,
    deadline_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Rewrite the whole database (SQLite) or ``tables`` (PostgreSQL) of tenant ``slug``;
    the answer is as for :func:`vacuum_tenant_database`."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            clean = True
        else:
            wait = PG_CLEAN_DEADLINE_SECONDS if deadline_seconds is None else deadline_seconds
            clean = _vacuum_postgres(conn, slug, tables, time.monotonic() + wait, sleep)
    logger.info("tenant %s database vacuumed%s", slug, "" if clean else " (not yet clean)")
    return clean
