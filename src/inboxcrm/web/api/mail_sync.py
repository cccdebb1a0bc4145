"""Mail sync API: the sync ledger of an account, per-account sync options, tenant mail settings
and the never-log list.

- ``GET /api/v1/mail-accounts/{id}/ledger?outcome=&cursor=&limit=``: counts (in scope, stored,
  skipped by reason, pending) and a page of entries with the reason per skipped message.
- ``PATCH /api/v1/mail-accounts/{id}/sync-options``: ``labels`` (or ``null`` for the default:
  everything but Spam/Trash) and ``lookback_days``.
- ``GET|PATCH /api/v1/mail-settings``: storage policy, contact auto-creation, the optional
  Google features ``google_contacts_enabled`` / ``google_calendar_enabled`` and
  ``deal_state_labels_enabled`` (admins change).
- ``GET|POST /api/v1/mail-settings/never-log``, ``DELETE /api/v1/mail-settings/never-log/{entry}``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from inboxcrm.services import mail_settings
from inboxcrm.web.api.params import PathId, StrictDigits
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow

__all__ = ["router"]

router = APIRouter(tags=["mail sync"])


class LedgerEntryOut(BaseModel):
    provider_message_id: str
    provider_thread_id: str
    outcome: str
    reason: str | None
    detail: str | None
    labelled: bool


class LedgerOut(BaseModel):
    account_id: int
    in_scope: int
    stored: int
    skipped: int
    pending: int
    labelled: int
    skipped_by_reason: dict[str, int]
    items: list[LedgerEntryOut]
    next_cursor: str | None


@router.get("/mail-accounts/{account_id}/ledger", response_model=LedgerOut)
def get_ledger(
    account_id: PathId,
    principal: CurrentPrincipal,
    uow: TenantUow,
    outcome: Annotated[Literal["pending", "stored", "skipped"] | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^\d+$")] = None,
    limit: Annotated[int, StrictDigits, Query(ge=1, le=500)] = 100,
) -> LedgerOut:
    summary, entries = mail_settings.account_ledger(
        uow, principal, account_id, outcome=outcome, after_id=int(cursor or 0), limit=limit
    )
    next_cursor = str(entries[-1][0]) if len(entries) == limit else None
    return LedgerOut(
        account_id=account_id,
        in_scope=summary.in_scope,
        stored=summary.stored,
        skipped=summary.skipped,
        pending=summary.pending,
        labelled=summary.labelled,
        skipped_by_reason=summary.skipped_by_reason,
        items=[
            LedgerEntryOut(
                provider_message_id=e.provider_message_id,
                provider_thread_id=e.provider_thread_id,
                outcome=e.outcome,
                reason=e.reason,
                detail=e.detail,
                labelled=e.labelled,
            )
            for _, e in entries
        ],
        next_cursor=next_cursor,
    )


class SyncOptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    lookback_days: int | None = Field(default=None, ge=1, le=3650)


class SyncOptionsOut(BaseModel):
    labels: list[str] | None
    lookback_days: int | None


@router.patch("/mail-accounts/{account_id}/sync-options", response_model=SyncOptionsOut)
def patch_sync_options(
    account_id: PathId, body: SyncOptionsIn, principal: CurrentPrincipal, uow: TenantUow
) -> SyncOptionsOut:
    sent = body.model_fields_set
    result = mail_settings.set_account_sync_options(
        uow,
        principal,
        account_id,
        labels=body.labels,
        lookback_days=body.lookback_days,
        clear_labels="labels" in sent and body.labels is None,
    )
    return SyncOptionsOut(**result)


class MailSettingsOut(BaseModel):
    storage_policy: str
    contact_autocreate: str
    google_contacts_enabled: bool
    google_calendar_enabled: bool
    deal_state_labels_enabled: bool


class MailSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    storage_policy: Literal["full", "snippet", "metadata", "live"] | None = None
    contact_autocreate: Literal["off", "sent", "sent_and_received"] | None = None
    google_contacts_enabled: StrictBool | None = None
    google_calendar_enabled: StrictBool | None = None
    deal_state_labels_enabled: StrictBool | None = None


def _settings_out(found: mail_settings.MailSettings) -> MailSettingsOut:
    return MailSettingsOut(
        storage_policy=found.storage_policy,
        contact_autocreate=found.contact_autocreate,
        google_contacts_enabled=found.google_contacts_enabled,
        google_calendar_enabled=found.google_calendar_enabled,
        deal_state_labels_enabled=found.deal_state_labels_enabled,
    )


@router.get("/mail-settings", response_model=MailSettingsOut)
def get_settings(principal: CurrentPrincipal, uow: TenantUow) -> MailSettingsOut:
    return _settings_out(mail_settings.get_mail_settings(uow))


@router.patch("/mail-settings", response_model=MailSettingsOut)
def patch_settings(
    body: MailSettingsIn, principal: CurrentPrincipal, uow: TenantUow
) -> MailSettingsOut:
    found = mail_settings.update_mail_settings(
        uow,
        principal,
        storage_policy=body.storage_policy,
        contact_autocreate=body.contact_autocreate,
        google_contacts_enabled=body.google_contacts_enabled,
        google_calendar_enabled=body.google_calendar_enabled,
        deal_state_labels_enabled=body.deal_state_labels_enabled,
    )
    return _settings_out(found)


class NeverLogOut(BaseModel):
    items: list[str]


class NeverLogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry: str = Field(min_length=3, max_length=320)


class NeverLogAdded(BaseModel):
    entry: str
    removed_messages: int


@router.get("/mail-settings/never-log", response_model=NeverLogOut)
def get_never_log(principal: CurrentPrincipal, uow: TenantUow) -> NeverLogOut:
    return NeverLogOut(items=mail_settings.list_never_log(uow))


@router.post("/mail-settings/never-log", response_model=NeverLogAdded, status_code=201)
async def post_never_log(
    body: NeverLogIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> NeverLogAdded:
    removed = await run_in_threadpool(mail_settings.add_never_log, runtime, principal, body.entry)
    return NeverLogAdded(
        entry=mail_settings.normalize_never_log_entry(body.entry), removed_messages=removed
    )


@router.delete("/mail-settings/never-log/{entry}", status_code=204, response_class=Response)
def delete_never_log(entry: str, principal: CurrentPrincipal, uow: TenantUow) -> Response:
    mail_settings.remove_never_log(uow, principal, entry)
    return Response(status_code=204)
