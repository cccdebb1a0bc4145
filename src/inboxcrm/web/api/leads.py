"""``/api/v1/leads``: list (search, filters, cursor pages), create, get, update, delete."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from inboxcrm.domain.records import LeadStatus
from inboxcrm.services import records
from inboxcrm.web.api.pages import PageOut, page_out
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, EmailFilter, IdFilter, Limit, Search
from inboxcrm.web.api.resource_routes import add_item_routes
from inboxcrm.web.deps import CurrentPrincipal, TenantUow

router = APIRouter(prefix="/leads", tags=["leads"])


class LeadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    first_name: str
    last_name: str
    company: str | None
    status: str
    source: str | None
    phone: str | None
    emails: list[str]
    owner_user_id: int | None
    created_at: datetime
    updated_at: datetime


@router.get("", response_model=PageOut[LeadOut])
def list_leads(
    _principal: CurrentPrincipal,
    uow: TenantUow,
    q: Search = None,
    status: LeadStatus | None = None,
    owner_user_id: IdFilter = None,
    email: EmailFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PageOut[LeadOut]:
    page = records.list_leads(
        uow,
        q=q,
        status=status,
        owner_user_id=owner_user_id,
        email=email,
        cursor=cursor,
        limit=limit,
    )
    return page_out(LeadOut, page)


add_item_routes(
    router,
    "lead",
    LeadOut,
    create_model=records.LeadCreate,
    patch_model=records.LeadPatch,
    create=records.create_lead,
    get=records.get_lead,
    update=records.update_lead,
    delete=records.delete_lead,
)
