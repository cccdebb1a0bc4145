"""Support access: staff see a tenant's data only through a live, read-only grant.

The whole flow:

1. An operator creates a staff member with ``inboxcrm staff create --email E --password P``:
   a control-plane user with a ``staff_members`` row (no tenant membership) and a staff bearer
   token (``icrmstaff_...``, stored as its SHA-256), printed once.
2. A tenant admin grants support access for some hours with a reason
   (``POST /api/v1/support-grants``, :func:`create_grant`); the grant is in the control plane,
   listed to the tenant's admins (Setup → Privacy) and revocable (``DELETE .../{id}``).
3. Staff call the tenant's API with their token and ``X-Inboxcrm-Tenant: SLUG``.
   :func:`resolve_staff_access` (from ``web.deps``) gives them a read-only principal only while a
   grant of that tenant is live (not expired, not revoked); otherwise 403. Unsafe methods are
   refused (403) even with a grant.
4. Every staff request is audited twice (:func:`audit_staff_request`): ``support.access`` in the
   tenant's audit log, so the tenant sees each one, and in the control plane's, for the operator.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from inboxcrm.adapters.db.control_tables import TenantRow, UserRow
from inboxcrm.adapters.db.staff_tables import StaffMemberRow, StaffTokenRow, SupportGrantRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import normalize_email
from inboxcrm.domain.errors import InvalidInput, NotFound, PermissionDenied
from inboxcrm.domain.roles import Role, require_admin
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal, hash_password

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_GRANT_HOURS",
    "STAFF_TOKEN_PREFIX",
    "SupportGrant",
    "audit_refused_staff_request",
    "audit_staff_request",
    "create_grant",
    "create_staff",
    "list_grants",
    "resolve_staff_access",
    "revoke_grant",
]

STAFF_TOKEN_PREFIX = "icrmstaff_"
TENANT_HEADER = "X-Inboxcrm-Tenant"
MAX_GRANT_HOURS = 168


@dataclass(frozen=True)
class SupportGrant:
    id: int
    reason: str
    created_by_user_id: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _view(row: SupportGrantRow) -> SupportGrant:
    return SupportGrant(
        id=row.id,
        reason=row.reason,
        created_by_user_id=row.created_by_user_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def create_staff(
    runtime: Runtime, *, email: str, password: str, display_name: str = ""
) -> tuple[int, str]:
    """Create a staff member (or give an existing user the staff role) and a staff token.

    Returns (control-plane user id, the plain token, shown once).
    """
    canonical = normalize_email(email)
    password_hash = hash_password(password)
    token = STAFF_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with runtime.control_uow() as uow:
        user = uow.session.scalar(select(UserRow).where(UserRow.email == canonical))
        if user is None:
            user = UserRow(email=canonical, display_name=display_name, password_hash=password_hash)
            uow.session.add(user)
            uow.session.flush()
        staff = uow.session.scalar(select(StaffMemberRow).where(StaffMemberRow.user_id == user.id))
        if staff is None:
            staff = StaffMemberRow(user_id=user.id)
            uow.session.add(staff)
            uow.session.flush()
        uow.session.add(
            StaffTokenRow(staff_id=staff.id, token_hash=_sha256(token), prefix=token[:16])
        )
        record_event(
            uow,
            action="staff.create",
            actor_user_id=None,
            actor_kind="system",
            target=f"user:{user.id}",
        )
        uow.commit()
        user_id = user.id
    logger.info("staff member %s created (user %s)", staff.id, user_id)
    return user_id, token


def _tenant_id(runtime: Runtime, slug: str) -> int:
    with runtime.control_uow() as uow:
        tenant_id = uow.session.scalar(select(TenantRow.id).where(TenantRow.slug == slug))
    if tenant_id is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant_id


def create_grant(
    runtime: Runtime, principal: Principal, *, hours: int, reason: str, ip: str | None = None
) -> SupportGrant:
    """A tenant admin lets the staff read the tenant's data for ``hours`` (1-168)."""
    require_admin(principal.role)
    if not 1 <= hours <= MAX_GRANT_HOURS:
        raise InvalidInput(f"hours must be 1-{MAX_GRANT_HOURS}", field="hours")
    reason = reason.strip()
    if not 3 <= len(reason) <= 500:
        raise InvalidInput("give a reason of 3-500 characters", field="reason")
    now = utcnow()
    with runtime.control_uow() as uow:
        row = SupportGrantRow(
            tenant_id=principal.tenant_id,
            created_by_user_id=principal.user_id,
            reason=reason,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        uow.session.add(row)
        uow.commit()
        grant = _view(row)
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        record_event(
            uow,
            action="support_grant.create",
            actor_user_id=principal.user_id,
            target=f"support_grant:{grant.id}",
            ip=ip,
            details={"hours": hours},
        )
        uow.commit()
    return grant


def revoke_grant(
    runtime: Runtime, principal: Principal, grant_id: int, *, ip: str | None = None
) -> SupportGrant:
    """End a grant now (admins of its tenant)."""
    require_admin(principal.role)
    with runtime.control_uow() as uow:
        row = uow.session.get(SupportGrantRow, grant_id)
        if row is None or row.tenant_id != principal.tenant_id:
            raise NotFound(f"no support grant {grant_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            row.revoked_by_user_id = principal.user_id
            uow.commit()
        grant = _view(row)
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        record_event(
            uow,
            action="support_grant.revoke",
            actor_user_id=principal.user_id,
            target=f"support_grant:{grant_id}",
            ip=ip,
        )
        uow.commit()
    return grant


def list_grants(runtime: Runtime, principal: Principal) -> list[SupportGrant]:
    """The tenant's grants, newest first (admins)."""
    require_admin(principal.role)
    with runtime.control_uow() as uow:
        rows = uow.session.scalars(
            select(SupportGrantRow)
            .where(SupportGrantRow.tenant_id == principal.tenant_id)
            .order_by(SupportGrantRow.id.desc())
            .limit(100)
        ).all()
        return [_view(r) for r in rows]


def resolve_staff_access(runtime: Runtime, token: str, tenant_slug: str | None) -> Principal:
    """The read-only principal of a staff token in ``tenant_slug`` while a grant is live.

    Raises PermissionDenied without a valid staff token, a tenant, or a live grant.
    """
    now = utcnow()
    with runtime.control_uow() as uow:
        found = uow.session.execute(
            select(StaffTokenRow, StaffMemberRow, UserRow)
            .join(StaffMemberRow, StaffMemberRow.id == StaffTokenRow.staff_id)
            .join(UserRow, UserRow.id == StaffMemberRow.user_id)
            .where(StaffTokenRow.token_hash == _sha256(token))
        ).first()
        if found is None:
            raise PermissionDenied("the staff token is not valid")
        token_row, staff, user = found
        if token_row.revoked_at is not None or staff.deactivated_at is not None:
            raise PermissionDenied("the staff token is not valid")
        if not tenant_slug:
            raise PermissionDenied(f"staff name the tenant in the {TENANT_HEADER} header")
        tenant = uow.session.scalar(
            select(TenantRow).where(TenantRow.slug == tenant_slug.strip().lower())
        )
        grant = None
        if tenant is not None and tenant.status == "active":
            grant = uow.session.scalar(
                select(SupportGrantRow.id).where(
                    SupportGrantRow.tenant_id == tenant.id,
                    SupportGrantRow.revoked_at.is_(None),
                    SupportGrantRow.expires_at > now,
                )
            )
        if tenant is None or grant is None:
            raise PermissionDenied("this tenant has granted no live support access")
        return Principal(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name or "inboxcrm support",
            tenant_id=tenant.id,
            tenant_slug=tenant.slug,
            role=Role.READ_ONLY,
            via="staff",
        )


def audit_staff_request(
    runtime: Runtime, principal: Principal, *, method: str, path: str, ip: str | None
) -> None:
    """Record one staff request in the tenant's audit log and in the control plane's."""
    details = {"method": method, "path": path[:200]}
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        record_event(
            uow,
            action="support.access",
            actor_user_id=principal.user_id,
            actor_kind="staff",
            target=f"tenant:{principal.tenant_id}",
            ip=ip,
            details=details,
        )
        uow.commit()
    with runtime.control_uow() as uow:
        record_event(
            uow,
            action="support.access",
            actor_user_id=principal.user_id,
            actor_kind="staff",
            target=f"tenant:{principal.tenant_id}",
            ip=ip,
            details=details,
        )
        uow.commit()


def audit_refused_staff_request(
    runtime: Runtime, *, method: str, path: str, ip: str | None
) -> None:
    """Record a refused staff request in the control plane's audit log."""
    with runtime.control_uow() as uow:
        record_event(
            uow,
            action="support.access",
            actor_user_id=None,
            actor_kind="staff",
            target=None,
            outcome="denied",
            ip=ip,
            details={"method": method, "path": path[:200]},
        )
        uow.commit()
