"""``/api/v1/users``: a tenant's users and their Mail Integration permission.

``GET /users`` (admins) lists the tenant's users; ``GET /users/{id}`` shows one (admins, or the
user themself); ``PATCH /users/{id}`` with ``{"mail_integration": true | false | null}``
(admins) grants, withdraws or resets to the role's default the permission to connect mailboxes
and send. ``mail_integration`` in answers is the permission in force;
``mail_integration_setting`` is what an admin set (null: the role's default applies).
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from inboxcrm.services import mail_permissions
from inboxcrm.web.api.mail_accounts import client_ip
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import AdminPrincipal, CurrentPrincipal, RuntimeDep

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


class UserOut(BaseModel):
    id: int
    email: str
    display_name: str
    role: str
    mail_integration: bool
    mail_integration_setting: bool | None


class UserListOut(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = None


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mail_integration: bool | None


def _out(user: mail_permissions.TenantUser) -> UserOut:
    return UserOut(**asdict(user))


@router.get("", response_model=UserListOut)
def list_users(principal: AdminPrincipal, runtime: RuntimeDep) -> UserListOut:
    return UserListOut(
        items=[_out(u) for u in mail_permissions.list_tenant_users(runtime, principal)]
    )


@router.get("/{id}", response_model=UserOut)
def read_user(principal: CurrentPrincipal, runtime: RuntimeDep, user_id: ResourceId) -> UserOut:
    return _out(mail_permissions.get_tenant_user(runtime, principal, user_id))


@router.patch("/{id}", response_model=UserOut)
def patch_user(
    request: Request,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    user_id: ResourceId,
    body: UserPatch,
) -> UserOut:
    """Set the user's Mail Integration permission (null: back to the role's default)."""
    return _out(
        mail_permissions.set_mail_integration(
            runtime, principal, user_id, body.mail_integration, ip=client_ip(request)
        )
    )
