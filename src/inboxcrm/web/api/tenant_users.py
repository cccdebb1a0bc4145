"""``/api/v1/users``: the organisation's users as its admins manage them (services.tenant_users).

GET    /users        members with their roles
POST   /users        201, invite: {email, role, password?, display_name?} (a generated
                     password is returned once when none is given for a new user)
PATCH  /users/{id}   {role}
DELETE /users/{id}   204, deactivate (membership, sessions and tokens of this tenant end)
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from inboxcrm.services import tenant_users
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import AdminPrincipal, RuntimeDep

router = APIRouter(prefix="/users", tags=["users"])


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    email: str
    display_name: str
    role: str
    team: str | None
    joined_at: datetime
    last_login_at: datetime | None


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


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(max_length=20)


@router.get("", response_model=MemberList)
def list_users(principal: AdminPrincipal, runtime: RuntimeDep) -> MemberList:
    members = tenant_users.list_members(runtime, principal)
    return MemberList(items=[MemberOut.model_validate(m) for m in members])


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
    return InvitedOut(
        **MemberOut.model_validate(invited.member).model_dump(),
        generated_password=invited.generated_password,
    )


@router.patch("/{id}", response_model=MemberOut)
def change_role(
    body: RoleIn, principal: AdminPrincipal, runtime: RuntimeDep, user_id: ResourceId
) -> MemberOut:
    return MemberOut.model_validate(
        tenant_users.change_role(runtime, principal, user_id, body.role)
    )


@router.delete("/{id}", status_code=204, response_class=Response)
def deactivate_user(
    principal: AdminPrincipal, runtime: RuntimeDep, user_id: ResourceId
) -> Response:
    tenant_users.deactivate_member(runtime, principal, user_id)
    return Response(status_code=204)
