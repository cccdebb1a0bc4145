"""Google Contacts import of a mailbox:

- ``POST /api/v1/mail-accounts/{id}/contacts-import`` → 202 and the import's state: the import
  runs in the background (the mailbox's owner; needs Google Contacts enabled for the tenant and
  the contacts scope granted, else 409 with ``google_feature_disabled`` /
  ``google_feature_not_granted``).
- ``GET /api/v1/mail-accounts/{id}/contacts-import``: the latest import's state and counts (its
  progress while it runs).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from inboxcrm.services import contact_import
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import CurrentPrincipal, TenantUow, WriterPrincipal

__all__ = ["ContactImportOut", "router"]

router = APIRouter(prefix="/mail-accounts", tags=["google contacts"])


class ContactImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    mail_account_id: int
    status: str
    """``never``, ``queued``, ``running``, ``done``, ``failed`` or ``interrupted``."""
    mode: str
    """``full`` or ``incremental`` (empty before the first run)."""
    counts: dict[str, int]
    """``seen``, ``created``, ``updated``, ``unchanged``, ``deleted`` (marked, never removed),
    ``skipped`` (no email address, or deleted in the CRM), ``accounts_created``, ``total``."""
    error: str | None
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


@router.post("/{id}/contacts-import", status_code=202, response_model=ContactImportOut)
def start_contacts_import(
    principal: WriterPrincipal, uow: TenantUow, account_id: ResourceId
) -> ContactImportOut:
    """Queue an import of the mailbox's Google contacts into the CRM (one-way, read-only)."""
    found = contact_import.request_contacts_import(uow, principal, account_id)
    return ContactImportOut.model_validate(found)


@router.get("/{id}/contacts-import", response_model=ContactImportOut)
def get_contacts_import(
    principal: CurrentPrincipal, uow: TenantUow, account_id: ResourceId
) -> ContactImportOut:
    return ContactImportOut.model_validate(
        contact_import.contacts_import_status(uow, principal, account_id)
    )
