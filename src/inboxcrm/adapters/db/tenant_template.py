"""A migrated template database that new tenant databases are cloned from (PostgreSQL).

Creating a tenant's database and running every tenant migration on it costs about 0.6 s of
server and Alembic time; ``CREATE DATABASE ... TEMPLATE`` of a database already at head costs
about what an empty database does (0.06-0.25 s: PostgreSQL copies ``template1`` for an empty
one anyway). So the first tenant database a deployment creates at a given head revision builds
the template once, and every tenant database after it is a copy of that template.

The template is named after the tenant URL template with ``_template_<head>`` in the tenant's
place (a slug starts with a letter, so no tenant can have that name), for example
``inboxcrm_t__template_1301``. It is built under a temporary name and renamed when migrated,
under an advisory lock, so concurrent creators build it once and never clone a half-migrated
one; templates of older heads are dropped when a new one is built. Nothing connects to the
template after it is built (PostgreSQL refuses to copy a database with open sessions); should
the copy fail for any reason, the caller creates the database the plain way and migrates it,
as it would without a template. Callers migrate the copy to head in both cases (a no-op on a
fresh copy).
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from inboxcrm.adapters.db import migrator

logger = logging.getLogger(__name__)

TEMPLATE_SLOT = "_template_"
_BUILDING = "_building"


def template_database_name(url_template: str, revision: str) -> str:
    """The template's database name for the tenant databases of ``url_template``."""
    probe = "slotmarker"
    name = make_url(url_template.replace("{tenant}", probe)).database or ""
    return name.replace(probe, f"{TEMPLATE_SLOT}{revision}")


def _exists(conn: Connection, name: str) -> bool:
    found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    return found.first() is not None


def _lock_key(name: str) -> int:
    return zlib.crc32(name.encode())


def ensure_template(conn: Connection, url_template: str, url: URL) -> str | None:
    """The name of a template at the tenant head for databases like ``url``'s, built if
    missing; None when there are no tenant migrations. ``conn`` is an AUTOCOMMIT connection
    to the server's maintenance database."""
    revision = migrator.head_revision("tenant")
    if revision is None:
        return None
    name = template_database_name(url_template, revision)
    if _exists(conn, name):
        return name
    key = _lock_key(name)
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
    try:
        if _exists(conn, name):
            return name  # another creator built it while this one waited
        building = name[: 63 - len(_BUILDING)] + _BUILDING
        conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{building}"'))
        engine = create_engine(url.set(database=building), poolclass=NullPool)
        try:
            migrator.upgrade(engine, "tenant")
        finally:
            engine.dispose()
        conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
        _drop_older(conn, name)
        logger.info("built the tenant database template %s", name)
        return name
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def _drop_older(conn: Connection, current: str) -> None:
    """Drop templates of other head revisions (left from before an upgrade)."""
    stem = current[: current.rindex(TEMPLATE_SLOT) + len(TEMPLATE_SLOT)]
    pattern = stem.replace("_", "\\_") + "%"
    rows = conn.execute(
        text("SELECT datname FROM pg_database WHERE datname LIKE :p AND datname <> :c"),
        {"p": pattern, "c": current},
    )
    for (old,) in list(rows):
        try:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{old}"'))
        except DBAPIError as exc:  # in use (someone copying from it): dropped next time
            logger.info("older tenant template %s not dropped: %s", old, type(exc).__name__)


def clone_from_template(conn: Connection, url_template: str, url: URL) -> bool:
    """Create ``url``'s database as a copy of the migrated template. False (and nothing
    created) when the template could not be built or copied: the caller creates it plainly."""
    target = url.database or ""
    try:
        template = ensure_template(conn, url_template, url)
        if template is None:
            return False
        conn.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{template}"'))
        return True
    except DBAPIError as exc:
        reason: Any = getattr(exc, "orig", exc)
        logger.warning(
            "tenant database %s not copied from the template (%s); creating it plainly",
            target,
            type(reason).__name__,
        )
        return False
