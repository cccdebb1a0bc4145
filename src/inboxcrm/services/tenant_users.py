"""A tenant's users as its admins manage them: list, invite, change role, deactivate.

Memberships live in the control plane; each change is audited in the tenant's audit log
(``user.invite``, ``user.role_change``, ``user.deactivate``). Rules:

- admins and owners manage users; only an owner may make someone an owner or change an owner;
- nobody changes their own role or deactivates themselves (a tenant cannot lock itself out);
- inviting creates the user with the password given, or a generated one shown once to the admin
  (there is no mail delivery of invitations yet), or adds an existing user of the installation;
- deactivating removes the membership, ends the user's sessions in this tenant and revokes
  their API tokens for it; inviting them again restores access.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from inboxcrm.adapters.db.control_tables import ApiTokenRow, MembershipRow, SessionRow, UserRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import normalize_email
from inboxcrm.domain.errors import InvalidInput, NotFound, PermissionDenied
from inboxcrm.domain.roles import Role, require_admin
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal, create_user

logger = logging.getLogger(__name__)

__all__ = ["Invited", "Member", "change_role", "deactivate_member", "invite_user", "list_members"]


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    display_name: str
    role: str
    team: str | None
    joined_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class Invited:
    member: Member
    generated_password: str | None


def list_members(runtime: Runtime, principal: Principal) -> list[Member]:
    require_admin(principal.role)
    with runtime.control_uow() as uow:
        rows = uow.session.execute(
            select(UserRow, MembershipRow)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .where(MembershipRow.tenant_id == principal.tenant_id)
            .order_by(UserRow.email)
        ).all()
    return [
        Member(u.id, u.email, u.display_name, m.role, m.team, m.created_at, u.last_login_at)
        for u, m in rows
    ]


def _member(runtime: Runtime, principal: Principal, user_id: int) -> Member:
    for member in list_members(runtime, principal):
        if member.user_id == user_id:
            return member
    raise NotFound(f"no user {user_id} in this organisation")


def _audit(
    runtime: Runtime, principal: Principal, action: str, user_id: int, details: dict[str, str]
) -> None:
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        record_event(
            uow,
            action=action,
            actor_user_id=principal.user_id,
            target=f"user:{user_id}",
            details=details,
        )
        uow.commit()


def _check_owner_rule(principal: Principal, *roles: Role) -> None:
    if Role.OWNER in roles and principal.role != Role.OWNER:
        raise PermissionDenied("only an owner may make or change an owner")


def invite_user(
    runtime: Runtime,
    principal: Principal,
    *,
    email: str,
    role: str,
    password: str | None = None,
    display_name: str = "",
) -> Invited:
    """Add a user to the tenant (creating them when new); see the module docstring."""
    require_admin(principal.role)
    parsed = Role.parse(role)
    _check_owner_rule(principal, parsed)
    canonical = normalize_email(email)
    with runtime.control_uow() as uow:
        existed = uow.session.scalar(select(UserRow.id).where(UserRow.email == canonical))
    generated = None
    if not password:  # an existing user keeps their own password; this one is then unused
        password = secrets.token_urlsafe(12)
        generated = None if existed is not None else password
    user = create_user(
        runtime,
        tenant_slug=principal.tenant_slug,
        email=email,
        password=password,
        role=parsed.value,
        display_name=display_name,
    )
    _audit(runtime, principal, "user.invite", user.id, {"role": parsed.value})
    return Invited(_member(runtime, principal, user.id), generated)


def change_role(runtime: Runtime, principal: Principal, user_id: int, role: str) -> Member:
    require_admin(principal.role)
    parsed = Role.parse(role)
    if user_id == principal.user_id:
        raise InvalidInput("you cannot change your own role", field="role")
    current = _member(runtime, principal, user_id)
    _check_owner_rule(principal, parsed, Role(current.role))
    with runtime.control_uow() as uow:
        uow.session.execute(
            update(MembershipRow)
            .where(MembershipRow.tenant_id == principal.tenant_id, MembershipRow.user_id == user_id)
            .values(role=parsed.value)
        )
        uow.commit()
    _audit(
        runtime, principal, "user.role_change", user_id, {"from": current.role, "to": parsed.value}
    )
    return _member(runtime, principal, user_id)


def deactivate_member(runtime: Runtime, principal: Principal, user_id: int) -> None:
    require_admin(principal.role)
    if user_id == principal.user_id:
        raise InvalidInput("you cannot deactivate yourself", field="user_id")
    current = _member(runtime, principal, user_id)
    _check_owner_rule(principal, Role(current.role))
    with runtime.control_uow() as uow:
        tenant = principal.tenant_id
        uow.session.execute(
            delete(MembershipRow).where(
                MembershipRow.tenant_id == tenant, MembershipRow.user_id == user_id
            )
        )
        uow.session.execute(
            delete(SessionRow).where(SessionRow.tenant_id == tenant, SessionRow.user_id == user_id)
        )
        uow.session.execute(
            update(ApiTokenRow)
            .where(
                ApiTokenRow.tenant_id == tenant,
                ApiTokenRow.user_id == user_id,
                ApiTokenRow.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
        uow.commit()
    _audit(runtime, principal, "user.deactivate", user_id, {"role": current.role})
    logger.info("user %s deactivated in tenant %s", user_id, principal.tenant_slug)
