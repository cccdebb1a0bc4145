"""``/api/v1/users``: the organisation's users as its admins manage them.

GET    /users        members with their roles and Mail Integration permission (admins)
POST   /users        201, invite: {email, role, password?, display_name?} (a generated
                     password is returned once when none is given for a new user)
GET    /users/{id}   one member (admins, or the user themself)
PATCH  /users/{id}   {role?, mail_integration?}: a new role (services.tenant_users) and/or the
                     Mail Integration permission (services.mail_permissions): true, false, or
                     null for the role's default
DELETE /users/{id}   204, deactivate (membership, sessions and tokens of this tenant end)

In answers ``user_id`` (and its alias ``id``) is the user's id; ``mail_integration`` is the
permission in force and ``mail_integration_setting`` what an admin set (null: the role's default).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from inboxcrm.domain.errors import InvalidInput
from inboxcrm.domain.roles import is_admin
from inboxcrm.services import mail_permissions, tenant_users
from inboxcrm.services.identity import Principal
from inboxcrm.web.api.mail_accounts import client_ip
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import AdminPrincipal, CurrentPrincipal, RuntimeDep

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    id: int = 0
    email: str
    display_name: str
    role: str
    team: str | None = None
    joined_at: datetime | None = None
    last_login_at: datetime | None = None
    mail_integration: bool = False
    mail_integration_setting: bool | None = None


class MemberList(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None = None


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    role: str = Field(max_length=20)
    password: str | None = Field(default=None, max_length=1024)
    display_name: str = Field(default="", max_length=200)


class InvitedOut(MemberOut):
    generated_password: str | None


class MemberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(default=None, max_length=20)
    mail_integration: bool | None = None


def _permissions(
    runtime: RuntimeDep, principal: Principal
) -> dict[int, mail_permissions.TenantUser]:
    return {u.id: u for u in mail_permissions.list_tenant_users(runtime, principal)}


def _out(member: object, permission: mail_permissions.TenantUser | None) -> MemberOut:
    out = MemberOut.model_validate(member)
    out.id = out.user_id
    if permission is not None:
        out.mail_integration = permission.mail_integration
        out.mail_integration_setting = permission.mail_integration_setting
    return out


def _permission_only(user: mail_permissions.TenantUser) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        mail_integration=user.mail_integration,
        mail_integration_setting=user.mail_integration_setting,
    )


def _member(runtime: RuntimeDep, principal: Principal, user_id: int) -> MemberOut:
    permission = mail_permissions.get_tenant_user(runtime, principal, user_id)
    if principal.user_id == user_id and not is_admin(principal.role):
        return _permission_only(permission)
    for member in tenant_users.list_members(runtime, principal):
        if member.user_id == user_id:
            return _out(member, permission)
    return _permission_only(permission)


@router.get("", response_model=MemberList)
def list_users(principal: AdminPrincipal, runtime: RuntimeDep) -> MemberList:
    permissions = _permissions(runtime, principal)
    members = tenant_users.list_members(runtime, principal)
    return MemberList(items=[_out(m, permissions.get(m.user_id)) for m in members])


@router.post("", response_model=InvitedOut, status_code=201)
def invite_user(body: InviteIn, principal: AdminPrincipal, runtime: RuntimeDep) -> InvitedOut:
    invited = tenant_users.invite_user(
        runtime,
        principal,
        email=body.email,
        role=body.role,
        password=body.password,
        display_name=body.display_name,
    )
    permission = _permissions(runtime, principal).get(invited.member.user_id)
    return InvitedOut(
        **_out(invited.member, permission).model_dump(),
        generated_password=invited.generated_password,
    )


@router.get("/{id}", response_model=MemberOut)
def read_user(principal: CurrentPrincipal, runtime: RuntimeDep, user_id: ResourceId) -> MemberOut:
    return _member(runtime, principal, user_id)


@router.patch("/{id}", response_model=MemberOut)
def change_user(
    request: Request,
    body: MemberPatch,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    user_id: ResourceId,
) -> MemberOut:
    """A new role and/or the Mail Integration permission (null: back to the role's default)."""
    fields = body.model_fields_set
    if not fields & {"role", "mail_integration"}:
        raise InvalidInput("give a role or mail_integration to change", field="role")
    if "role" in fields:
        if body.role is None:
            raise InvalidInput("a role is required", field="role")
        tenant_users.change_role(runtime, principal, user_id, body.role)
    if "mail_integration" in fields:
        mail_permissions.set_mail_integration(
            runtime, principal, user_id, body.mail_integration, ip=client_ip(request)
        )
    return _member(runtime, principal, user_id)


@router.delete("/{id}", status_code=204, response_class=Response)
def deactivate_user(
    principal: AdminPrincipal, runtime: RuntimeDep, user_id: ResourceId
) -> Response:
    tenant_users.deactivate_member(runtime, principal, user_id)
    return Response(status_code=204)
