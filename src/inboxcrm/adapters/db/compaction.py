"""Deleting so that content does not linger in a SQLite file's free pages.

Deleting a row only marks its space free. :func:`zero_deleted_content` turns SQLite's
``secure_delete`` on for the connection of a unit of work that deletes mail, so the freed space is
overwritten with zeros as it goes; the rewrite afterwards (``VACUUM``, and on PostgreSQL ``VACUUM
FULL`` of the touched tables) is :mod:`inboxcrm.services.vacuum`.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["zero_deleted_content"]


def zero_deleted_content(session: Session) -> None:
    """On SQLite, make this connection overwrite deleted content with zeros."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete = ON"))
