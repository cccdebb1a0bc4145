"""``GET /api/v1/me``: who the caller is, and their own settings; ``PATCH /api/v1/me`` changes
those settings (each member their own, only the fields sent change):

- ``meeting_prep_enabled`` (default true): whether the caller gets a prep brief by email before
  their meetings in this workspace (services.prep_briefs);
- ``customer_mail_alerts`` (default false): a notification when mail from a customer arrives
  (services.customer_alerts).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictBool

from inboxcrm.services import customer_alerts, prep_briefs
from inboxcrm.web.deps import CurrentPrincipal, TenantUow

router = APIRouter(tags=["me"])


class MeOut(BaseModel):
    user_id: int
    email: str
    display_name: str
    tenant: str
    role: str
    meeting_prep_enabled: bool
    customer_mail_alerts: bool


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meeting_prep_enabled: StrictBool | None = None
    customer_mail_alerts: StrictBool | None = None


def _me(principal: CurrentPrincipal, uow: TenantUow) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        tenant=principal.tenant_slug,
        role=principal.role.value,
        meeting_prep_enabled=prep_briefs.meeting_prep_enabled(uow, principal.user_id),
        customer_mail_alerts=customer_alerts.customer_mail_alerts_enabled(uow, principal.user_id),
    )


@router.get("/me", response_model=MeOut)
def get_me(principal: CurrentPrincipal, uow: TenantUow) -> MeOut:
    return _me(principal, uow)


@router.patch("/me", response_model=MeOut)
def patch_me(body: MePatch, principal: CurrentPrincipal, uow: TenantUow) -> MeOut:
    """Change the caller's own settings (only the fields sent change)."""
    if body.meeting_prep_enabled is not None:
        prep_briefs.set_meeting_prep(uow, principal, body.meeting_prep_enabled)
    if body.customer_mail_alerts is not None:
        customer_alerts.set_customer_mail_alerts(uow, principal, body.customer_mail_alerts)
    return _me(principal, uow)
