"""Control-plane tables of support access: staff, their tokens, grants, and the staff audit log.

Staff are operators of the inboxcrm installation, not members of any tenant. They see no tenant
data unless a tenant admin grants support access (``support_grants``, time-limited, revocable);
see :mod:`inboxcrm.services.support_access`. Every staff action is also recorded in the control
plane's own audit log (``audit_log`` here, chained like a tenant's).

Registered on ``ControlBase`` by one import at the end of ``control_tables``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.audit_columns import AuditEntryColumns, AuditHeadColumns
from inboxcrm.adapters.db.control_tables import ControlBase
from inboxcrm.adapters.db.types import utcnow

__all__ = [
    "ControlAuditChainHeadRow",
    "ControlAuditLogRow",
    "StaffMemberRow",
    "StaffTokenRow",
    "SupportGrantRow",
]


class StaffMemberRow(ControlBase):
    """A user of the control plane with the staff role (``inboxcrm staff create``)."""

    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deactivated_at: Mapped[datetime | None]


class StaffTokenRow(ControlBase):
    """A staff bearer token (stored as its SHA-256 only)."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class SupportGrantRow(ControlBase):
    """A tenant admin's time-limited, read-only grant of support access to the staff."""

    __tablename__ = "support_grants"
    __table_args__ = (Index("ix_support_grants_tenant_expires", "tenant_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_by_user_id: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_user_id: Mapped[int | None]


class ControlAuditLogRow(AuditEntryColumns, ControlBase):
    """An entry of the control plane's audit log (staff actions, sign-ins of unknown users)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_occurred_at", "occurred_at"),)


class ControlAuditChainHeadRow(AuditHeadColumns, ControlBase):
    __tablename__ = "audit_chain_head"
