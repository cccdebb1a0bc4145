"""Mail sharing API: who else in the tenant sees a mailbox's mail, and how much.

- ``GET|PATCH /api/v1/mail-accounts/{id}/sharing``: the mailbox owner's choice (owner only).
- ``GET|PATCH /api/v1/email-threads/{id}/sharing``: the owner's override for one thread
  (``id`` is the ``email_thread_id`` of timeline email items).
- ``GET|PATCH /api/v1/mail-settings/sharing``: the tenant maximum (every member reads it,
  admins change it).

A PATCH body holds ``visibility`` (``private`` | ``team`` | ``tenant``) and/or ``detail``
(``metadata`` | ``subject`` | ``everything``); a field left out stays as it is, ``null`` goes
back to the default (mailbox: ``tenant`` / ``everything``; thread: as its mailbox). A choice
above the tenant maximum is refused with 422. Answers show the choice, the level in force
(``effective``: the choice within the maximum) and the maximum.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from inboxcrm.domain.sharing import Detail, SharingLevel, Visibility
from inboxcrm.services import mail_sharing
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import AdminPrincipal, CurrentPrincipal, TenantUow

__all__ = ["router"]

router = APIRouter(tags=["mail sharing"])

VisibilityText = Literal["private", "team", "tenant"]
DetailText = Literal["metadata", "subject", "everything"]


class LevelOut(BaseModel):
    visibility: VisibilityText
    detail: DetailText


class SharingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    visibility: VisibilityText | None = None
    detail: DetailText | None = None


class AccountSharingOut(BaseModel):
    account_id: int
    visibility: VisibilityText | None
    detail: DetailText | None
    effective: LevelOut
    maximum: LevelOut


class ThreadSharingOut(BaseModel):
    thread_id: int
    account_id: int
    visibility: VisibilityText | None
    detail: DetailText | None
    effective: LevelOut
    maximum: LevelOut


def _level(level: SharingLevel) -> LevelOut:
    return LevelOut(visibility=level.visibility.value, detail=level.detail.value)


def _text(value: Visibility | Detail | None) -> str | None:
    return value.value if value is not None else None


def _changes(body: SharingIn) -> dict[str, str | None]:
    """Only the fields the client sent (left-out fields stay as they are)."""
    return {name: getattr(body, name) for name in body.model_fields_set}


def _account_out(found: mail_sharing.AccountSharing) -> AccountSharingOut:
    return AccountSharingOut.model_validate(
        {
            "account_id": found.account_id,
            "visibility": _text(found.visibility),
            "detail": _text(found.detail),
            "effective": _level(found.effective),
            "maximum": _level(found.maximum),
        }
    )


def _thread_out(found: mail_sharing.ThreadSharing) -> ThreadSharingOut:
    return ThreadSharingOut.model_validate(
        {
            "thread_id": found.thread_id,
            "account_id": found.account_id,
            "visibility": _text(found.visibility),
            "detail": _text(found.detail),
            "effective": _level(found.effective),
            "maximum": _level(found.maximum),
        }
    )


@router.get("/mail-accounts/{id}/sharing", response_model=AccountSharingOut)
def get_account_sharing(
    account_id: ResourceId, principal: CurrentPrincipal, uow: TenantUow
) -> AccountSharingOut:
    return _account_out(mail_sharing.account_sharing(uow, principal, account_id))


@router.patch("/mail-accounts/{id}/sharing", response_model=AccountSharingOut)
def patch_account_sharing(
    account_id: ResourceId, body: SharingIn, principal: CurrentPrincipal, uow: TenantUow
) -> AccountSharingOut:
    found = mail_sharing.set_account_sharing(uow, principal, account_id, **_changes(body))
    return _account_out(found)


@router.get("/email-threads/{id}/sharing", response_model=ThreadSharingOut)
def get_thread_sharing(
    thread_id: ResourceId, principal: CurrentPrincipal, uow: TenantUow
) -> ThreadSharingOut:
    return _thread_out(mail_sharing.thread_sharing(uow, principal, thread_id))


@router.patch("/email-threads/{id}/sharing", response_model=ThreadSharingOut)
def patch_thread_sharing(
    thread_id: ResourceId, body: SharingIn, principal: CurrentPrincipal, uow: TenantUow
) -> ThreadSharingOut:
    found = mail_sharing.set_thread_sharing(uow, principal, thread_id, **_changes(body))
    return _thread_out(found)


@router.get("/mail-settings/sharing", response_model=LevelOut)
def get_sharing_maximum(principal: CurrentPrincipal, uow: TenantUow) -> LevelOut:
    return _level(mail_sharing.tenant_maximum(uow))


@router.patch("/mail-settings/sharing", response_model=LevelOut)
def patch_sharing_maximum(body: SharingIn, principal: AdminPrincipal, uow: TenantUow) -> LevelOut:
    return _level(mail_sharing.set_tenant_maximum(uow, principal, **_changes(body)))
