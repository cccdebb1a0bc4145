"""``/api/v1/accounts``: list (search, filters, cursor pages), create, get, update, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
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

router = APIRouter(prefix="/accounts", tags=["accounts"])

DomainFilter = Annotated[str | None, Query(max_length=253)]


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    domain: str | None
    industry: str | None
    phone: str | None
    emails: list[str]
    owner_user_id: int | None
    created_at: datetime
    updated_at: datetime


@router.get("", response_model=PageOut[AccountOut])
def list_accounts(
    _principal: CurrentPrincipal,
    uow: TenantUow,
    q: Search = None,
    domain: DomainFilter = None,
    owner_user_id: IdFilter = None,
    email: EmailFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PageOut[AccountOut]:
    page = records.list_accounts(
        uow,
        q=q,
        domain=domain,
        owner_user_id=owner_user_id,
        email=email,
        cursor=cursor,
        limit=limit,
    )
    return PageOut(
        items=[AccountOut.model_validate(x) for x in page.items], next_cursor=page.next_cursor
    )


@router.post("", status_code=201, response_model=AccountOut)
def create_account(
    principal: WriterPrincipal, uow: TenantUow, body: records.AccountCreate
) -> AccountOut:
    return AccountOut.model_validate(records.create_account(uow, principal, body))


@router.get("/{id}", response_model=AccountOut)
def get_account(_principal: CurrentPrincipal, uow: TenantUow, account_id: ResourceId) -> AccountOut:
    return AccountOut.model_validate(records.get_account(uow, account_id))


@router.patch("/{id}", response_model=AccountOut)
def update_account(
    principal: WriterPrincipal, uow: TenantUow, account_id: ResourceId, body: records.AccountPatch
) -> AccountOut:
    return AccountOut.model_validate(records.update_account(uow, principal, account_id, body))


@router.delete("/{id}", status_code=204, response_class=Response)
def delete_account(principal: WriterPrincipal, uow: TenantUow, account_id: ResourceId) -> Response:
    records.delete_account(uow, principal, account_id)
    return Response(status_code=204)
