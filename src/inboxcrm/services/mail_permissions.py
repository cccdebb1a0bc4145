"""The Mail Integration permission of a tenant's users: who may connect mailboxes and send.

Each membership holds ``mail_integration``: NULL means the role's default (granted to owner,
admin, manager and rep; never to read-only users, see :func:`inboxcrm.domain.roles.
has_mail_integration`), ``true``/``false`` is what an admin set for that user. The permission is
read into the :class:`~inboxcrm.services.identity.Principal` of every request, and checked by
connect (``start_gmail_authorization``) and send (``send_message``, ``retry_message``).

Mailboxes already connected stay connected when the permission is withdrawn: the user can no
longer connect another one or send, and an admin disconnects the existing ones if wanted.
Every change is recorded in the tenant's audit log as ``user.mail_integration``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from inboxcrm.adapters.db.control_tables import MembershipRow, UserRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import NotFound
from inboxcrm.domain.roles import Role, has_mail_integration, require_admin
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal

logger = logging.getLogger(__name__)

__all__ = ["TenantUser", "get_tenant_user", "list_tenant_users", "set_mail_integration"]


@dataclass(frozen=True)
class TenantUser:
    id: int
    email: str
    display_name: str
    role: str
    mail_integration: bool
    """The permission in force (the setting, else the role's default)."""
    mail_integration_setting: bool | None
    """What an admin set; None when the role's default applies."""


def _view(user: UserRow, membership: MembershipRow) -> TenantUser:
    role = Role(membership.role)
    return TenantUser(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=role.value,
        mail_integration=has_mail_integration(role, membership.mail_integration),
        mail_integration_setting=membership.mail_integration,
    )


def list_tenant_users(runtime: Runtime, principal: Principal) -> list[TenantUser]:
    """The caller's tenant's users with their permission (admins only)."""
    require_admin(principal.role)
    with runtime.control_uow() as uow:
        rows = uow.session.execute(
            select(UserRow, MembershipRow)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .where(MembershipRow.tenant_id == principal.tenant_id)
            .order_by(UserRow.id)
        ).all()
        return [_view(user, membership) for user, membership in rows]


def get_tenant_user(runtime: Runtime, principal: Principal, user_id: int) -> TenantUser:
    """One user of the caller's tenant (admins, or the user themself)."""
    if user_id != principal.user_id:
        require_admin(principal.role)
    with runtime.control_uow() as uow:
        row = uow.session.execute(
            select(UserRow, MembershipRow)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .where(MembershipRow.tenant_id == principal.tenant_id, UserRow.id == user_id)
        ).first()
        if row is None:
            raise NotFound(f"no user {user_id} in this tenant")
        return _view(row[0], row[1])


def set_mail_integration(
    runtime: Runtime,
    principal: Principal,
    user_id: int,
    allowed: bool | None,
    *,
    ip: str | None = None,
) -> TenantUser:
    """Grant (True), withdraw (False) or reset to the role's default (None) the permission of
    ``user_id`` in the caller's tenant; admins only, audited in the tenant's log."""
    require_admin(principal.role)
    with runtime.control_uow() as uow:
        row = uow.session.execute(
            select(UserRow, MembershipRow)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .where(MembershipRow.tenant_id == principal.tenant_id, UserRow.id == user_id)
            .with_for_update(of=MembershipRow)
        ).first()
        if row is None:
            raise NotFound(f"no user {user_id} in this tenant")
        user, membership = row[0], row[1]
        before = membership.mail_integration
        membership.mail_integration = allowed
        view = _view(user, membership)
        uow.commit()
    with runtime.tenant_uow(principal.tenant_slug) as tenant_uow:
        record_event(
            tenant_uow,
            action="user.mail_integration",
            actor_user_id=principal.user_id,
            target=f"user:{user_id}",
            ip=ip,
            details={"before": before, "after": allowed, "effective": view.mail_integration},
        )
        tenant_uow.commit()
    logger.info(
        "mail integration permission of user %s in tenant %s set to %s by user %s",
        user_id,
        principal.tenant_slug,
        allowed,
        principal.user_id,
    )
    return view
