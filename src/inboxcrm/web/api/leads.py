"""``/api/v1/leads``: list (search, filters, cursor pages), create, get, update, delete."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from inboxcrm.domain.records import LeadStatus
from inboxcrm.services import records
from inboxcrm.web.api.pages import PageOut
from inboxcrm.web.api.params import (
    DEFAULT_LIMIT,
    Cursor,
    EmailFilter,
    IdFilter,
    Limit,
    ResourceId,
    Search,
)
from inboxcrm.web.deps import CurrentPrincipal, TenantUow, WriterPrincipal

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
    return PageOut(
        items=[LeadOut.model_validate(x) for x in page.items], next_cursor=page.next_cursor
    )


@router.post("", status_code=201, response_model=LeadOut)
def create_lead(principal: WriterPrincipal, uow: TenantUow, body: records.LeadCreate) -> LeadOut:
    return LeadOut.model_validate(records.create_lead(uow, principal, body))


@router.get("/{id}", response_model=LeadOut)
def get_lead(_principal: CurrentPrincipal, uow: TenantUow, lead_id: ResourceId) -> LeadOut:
    return LeadOut.model_validate(records.get_lead(uow, lead_id))


@router.patch("/{id}", response_model=LeadOut)
def update_lead(
    principal: WriterPrincipal, uow: TenantUow, lead_id: ResourceId, body: records.LeadPatch
) -> LeadOut:
    return LeadOut.model_validate(records.update_lead(uow, principal, lead_id, body))


@router.delete("/{id}", status_code=204, response_class=Response)
def delete_lead(principal: WriterPrincipal, uow: TenantUow, lead_id: ResourceId) -> Response:
    records.delete_lead(uow, principal, lead_id)
    return Response(status_code=204)
