"""``/api/v1/deals``: list (filters, cursor pages), create, get, update, delete."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from inboxcrm.domain.records import DealStage, DealStatus
from inboxcrm.services import deals
from inboxcrm.web.api.pages import PageOut, page_out
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, IdFilter, Limit, Search
from inboxcrm.web.api.resource_routes import add_item_routes
from inboxcrm.web.deps import CurrentPrincipal, TenantUow

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
    return page_out(DealOut, page)


add_item_routes(
    router,
    "deal",
    DealOut,
    create_model=deals.DealCreate,
    patch_model=deals.DealPatch,
    create=deals.create_deal,
    get=deals.get_deal,
    update=deals.update_deal,
    delete=deals.delete_deal,
)
