"""``/api/v1/accounts``: list (search, filters, cursor pages), create, get, update, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from inboxcrm.services import records
from inboxcrm.web.api.pages import PageOut, page_out
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, EmailFilter, IdFilter, Limit, Search
from inboxcrm.web.api.resource_routes import add_item_routes
from inboxcrm.web.deps import CurrentPrincipal, TenantUow

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
    return page_out(AccountOut, page)


add_item_routes(
    router,
    "account",
    AccountOut,
    create_model=records.AccountCreate,
    patch_model=records.AccountPatch,
    create=records.create_account,
    get=records.get_account,
    update=records.update_account,
    delete=records.delete_account,
)
