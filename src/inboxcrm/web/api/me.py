"""``GET /api/v1/me``: who the caller is, and their own settings; ``PATCH /api/v1/me`` changes
those settings (each member their own): ``customer_mail_alerts`` (a notification when mail from
a customer arrives, off by default; see services.customer_alerts)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictBool

from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.services import customer_alerts
from inboxcrm.services.identity import Principal
from inboxcrm.web.deps import CurrentPrincipal, TenantUow

router = APIRouter(tags=["me"])


class MeOut(BaseModel):
    user_id: int
    email: str
    display_name: str
    tenant: str
    role: str
    customer_mail_alerts: bool


class MeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_mail_alerts: StrictBool | None = None


def _me(principal: Principal, uow: UnitOfWork) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        tenant=principal.tenant_slug,
        role=principal.role.value,
        customer_mail_alerts=customer_alerts.customer_mail_alerts_enabled(uow, principal.user_id),
    )


@router.get("/me", response_model=MeOut)
def get_me(principal: CurrentPrincipal, uow: TenantUow) -> MeOut:
    return _me(principal, uow)


@router.patch("/me", response_model=MeOut)
def patch_me(body: MeIn, principal: CurrentPrincipal, uow: TenantUow) -> MeOut:
    """Change the caller's own settings (only the fields sent change)."""
    if body.customer_mail_alerts is not None:
        customer_alerts.set_customer_mail_alerts(uow, principal, body.customer_mail_alerts)
    return _me(principal, uow)
