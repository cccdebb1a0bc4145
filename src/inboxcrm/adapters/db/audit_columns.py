"""The columns of a hash-chained audit log, shared by the tenant and the control-plane schemas.

See :mod:`inboxcrm.services.audit` for how entries are chained and verified. Each database has
one ``audit_log`` table (entries) and one ``audit_chain_head`` table (a single row: the sequence
number and hash of the newest entry). Triggers created by the migrations refuse UPDATE and
DELETE on ``audit_log`` and let the head only move forward onto an existing entry
(:mod:`inboxcrm.adapters.db.audit_triggers`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.types import UTCDateTime

__all__ = ["GENESIS_HASH", "AuditEntryColumns", "AuditHeadColumns"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry of every chain."""


class AuditEntryColumns:
    """One audit entry: who did what to which target, when, from where, and with what outcome."""

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(60), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(10), default="user")
    target: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHeadColumns:
    """The single row (``id`` 1) naming the newest entry of the chain."""

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    entry_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
