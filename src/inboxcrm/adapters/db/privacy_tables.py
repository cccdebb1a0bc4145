"""Tenant tables of the privacy features: the audit log, exports and erasure requests.

Registered on ``TenantBase`` by one import at the end of ``tenant_tables``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.audit_columns import AuditEntryColumns, AuditHeadColumns
from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.adapters.db.types import utcnow

__all__ = [
    "AuditChainHeadRow",
    "AuditLogRow",
    "ErasureRequestRow",
    "ExportJobRow",
    "RetentionStateRow",
]


class AuditLogRow(AuditEntryColumns, TenantBase):
    """An entry of the tenant's append-only, hash-chained audit log (services.audit)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_occurred_at", "occurred_at"),)


class AuditChainHeadRow(AuditHeadColumns, TenantBase):
    __tablename__ = "audit_chain_head"


class ExportJobRow(TenantBase):
    """A data export (services.export): the whole tenant or one record, built in the background.

    ``status``: ``pending``, ``running``, ``done`` or ``failed``. The file lives under the data
    directory at ``path`` until ``expires_at``; only ``requested_by_user_id`` may download it.
    """

    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_user_id: Mapped[int] = mapped_column(index=True)
    record_kind: Mapped[str | None] = mapped_column(String(10))
    record_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    path: Mapped[str | None] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(300))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class ErasureRequestRow(TenantBase):
    """A deletion on request (services.erasure) and what it deleted.

    The address itself is not kept here (it goes on the never-log list, which must know it);
    ``subject`` names what was asked for without repeating the address: ``address`` or
    ``contact:12``.
    """

    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_user_id: Mapped[int]
    subject: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="done")
    deleted: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RetentionStateRow(TenantBase):
    """The purge's own state (a single row, id 1): whether a vacuum still has to finish."""

    __tablename__ = "retention_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    vacuum_pending: Mapped[bool] = mapped_column(default=False)
    last_purge_at: Mapped[datetime | None]
