"""``/api/v1/support-grants``: time-limited, read-only support access (services.support_access).

POST   /support-grants        201, {"hours": 1-168, "reason": "..."}
GET    /support-grants        the tenant's grants, newest first, with ``live``
DELETE /support-grants/{id}   revoke now
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from inboxcrm.services import support_access
from inboxcrm.web.api.exports import client_ip
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import AdminPrincipal, RuntimeDep

router = APIRouter(prefix="/support-grants", tags=["privacy"])


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: int = Field(ge=1, le=support_access.MAX_GRANT_HOURS)
    reason: str = Field(min_length=3, max_length=500)


class GrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reason: str
    created_by_user_id: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    live: bool


class GrantList(BaseModel):
    items: list[GrantOut]
    next_cursor: str | None = None


@router.post("", response_model=GrantOut, status_code=201)
def create_grant(
    body: GrantIn, principal: AdminPrincipal, runtime: RuntimeDep, request: Request
) -> GrantOut:
    grant = support_access.create_grant(
        runtime, principal, hours=body.hours, reason=body.reason, ip=client_ip(request)
    )
    return GrantOut.model_validate(grant)


@router.get("", response_model=GrantList)
def list_grants(principal: AdminPrincipal, runtime: RuntimeDep) -> GrantList:
    grants = support_access.list_grants(runtime, principal)
    return GrantList(items=[GrantOut.model_validate(g) for g in grants])


@router.delete("/{id}", response_model=GrantOut)
def revoke_grant(
    principal: AdminPrincipal, runtime: RuntimeDep, grant_id: ResourceId, request: Request
) -> GrantOut:
    grant = support_access.revoke_grant(runtime, principal, grant_id, ip=client_ip(request))
    return GrantOut.model_validate(grant)
