"""``/api/v1/contacts``: list (search, filters, cursor pages), create, get, update, delete."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

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

router = APIRouter(prefix="/contacts", tags=["contacts"])


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    first_name: str
    last_name: str
    title: str | None
    phone: str | None
    account_id: int | None
    account_name: str | None
    emails: list[str]
    owner_user_id: int | None
    created_at: datetime
    updated_at: datetime


@router.get("", response_model=PageOut[ContactOut])
def list_contacts(
    _principal: CurrentPrincipal,
    uow: TenantUow,
    q: Search = None,
    account_id: IdFilter = None,
    owner_user_id: IdFilter = None,
    email: EmailFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PageOut[ContactOut]:
    page = records.list_contacts(
        uow,
        q=q,
        account_id=account_id,
        owner_user_id=owner_user_id,
        email=email,
        cursor=cursor,
        limit=limit,
    )
    return PageOut(
        items=[ContactOut.model_validate(x) for x in page.items], next_cursor=page.next_cursor
    )


@router.post("", status_code=201, response_model=ContactOut)
def create_contact(
    principal: WriterPrincipal, uow: TenantUow, body: records.ContactCreate
) -> ContactOut:
    return ContactOut.model_validate(records.create_contact(uow, principal, body))


@router.get("/{id}", response_model=ContactOut)
def get_contact(_principal: CurrentPrincipal, uow: TenantUow, contact_id: ResourceId) -> ContactOut:
    return ContactOut.model_validate(records.get_contact(uow, contact_id))


@router.patch("/{id}", response_model=ContactOut)
def update_contact(
    principal: WriterPrincipal, uow: TenantUow, contact_id: ResourceId, body: records.ContactPatch
) -> ContactOut:
    return ContactOut.model_validate(records.update_contact(uow, principal, contact_id, body))


@router.delete("/{id}", status_code=204, response_class=Response)
def delete_contact(principal: WriterPrincipal, uow: TenantUow, contact_id: ResourceId) -> Response:
    records.delete_contact(uow, principal, contact_id)
    return Response(status_code=204)
