"""``GET /api/v1/me``: who the caller is."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from inboxcrm.web.deps import CurrentPrincipal

router = APIRouter(tags=["me"])


class MeOut(BaseModel):
    user_id: int
    email: str
    display_name: str
    tenant: str
    role: str


@router.get("/me", response_model=MeOut)
def get_me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        tenant=principal.tenant_slug,
        role=principal.role.value,
    )
