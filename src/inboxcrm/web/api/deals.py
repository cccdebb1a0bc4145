"""``/api/v1/deals``: list (filters, cursor pages), create, get, update, delete."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from inboxcrm.domain.records import DealStage, DealStatus
from inboxcrm.services import deals
from inboxcrm.web.api.pages import PageOut
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, IdFilter, Limit, ResourceId, Search
from inboxcrm.web.deps import CurrentPrincipal, TenantUow, WriterPrincipal

router = APIRouter(prefix="/deals", tags=["deals"])


class DealOut(BaseModel):
    """A deal; ``amount`` is a decimal string such as ``"1250.00"``."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    stage: str
    status: str
    amount: Decimal | None
    currency: str
    close_date: date | None
    account_id: int | None
    contact_id: int | None
    owner_user_id: int | None
    created_at: datetime
    updated_at: datetime


@router.get("", response_model=PageOut[DealOut])
def list_deals(
    _principal: CurrentPrincipal,
    uow: TenantUow,
    q: Search = None,
    account_id: IdFilter = None,
    contact_id: IdFilter = None,
    status: DealStatus | None = None,
    stage: DealStage | None = None,
    owner_user_id: IdFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PageOut[DealOut]:
    page = deals.list_deals(
        uow,
        q=q,
        account_id=account_id,
        contact_id=contact_id,
        status=status,
        stage=stage,
        owner_user_id=owner_user_id,
        cursor=cursor,
        limit=limit,
    )
    return PageOut(
        items=[DealOut.model_validate(x) for x in page.items], next_cursor=page.next_cursor
    )


@router.post("", status_code=201, response_model=DealOut)
def create_deal(principal: WriterPrincipal, uow: TenantUow, body: deals.DealCreate) -> DealOut:
    return DealOut.model_validate(deals.create_deal(uow, principal, body))


@router.get("/{id}", response_model=DealOut)
def get_deal(_principal: CurrentPrincipal, uow: TenantUow, deal_id: ResourceId) -> DealOut:
    return DealOut.model_validate(deals.get_deal(uow, deal_id))


@router.patch("/{id}", response_model=DealOut)
def update_deal(
    principal: WriterPrincipal, uow: TenantUow, deal_id: ResourceId, body: deals.DealPatch
) -> DealOut:
    return DealOut.model_validate(deals.update_deal(uow, principal, deal_id, body))


@router.delete("/{id}", status_code=204, response_class=Response)
def delete_deal(principal: WriterPrincipal, uow: TenantUow, deal_id: ResourceId) -> Response:
    deals.delete_deal(uow, principal, deal_id)
    return Response(status_code=204)
