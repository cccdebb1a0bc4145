"""``/api/v1/contacts``: list (search, filters, cursor pages), create, get, update, delete."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from inboxcrm.services import records
from inboxcrm.web.api.pages import PageOut, page_out
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, EmailFilter, IdFilter, Limit, Search
from inboxcrm.web.api.resource_routes import add_item_routes
from inboxcrm.web.deps import CurrentPrincipal, TenantUow

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
    source: str | None = None
    """``google`` for a contact imported from Google Contacts, else null."""
    source_deleted_at: datetime | None = None
    """When the Google contact it came from was deleted in Google (the CRM keeps it)."""


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
    return page_out(ContactOut, page)


add_item_routes(
    router,
    "contact",
    ContactOut,
    create_model=records.ContactCreate,
    patch_model=records.ContactPatch,
    create=records.create_contact,
    get=records.get_contact,
    update=records.update_contact,
    delete=records.delete_contact,
)
