"""``/api/v1/mail-accounts`` (connect Gmail, list, sync, disconnect) and ``/api/v1/notifications``.

Connecting is two steps: ``POST /mail-accounts/gmail/authorize`` returns the Google consent URL;
Google then sends the browser to ``/oauth/google/callback`` (see ``web.oauth_routes``), which
stores the account for the user who asked for the URL, and only in a browser where that user is
signed in to inboxcrm (an API client hands the URL to its user, who finishes it signed in).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from inboxcrm.services import mail_accounts, mail_connect, notifications
from inboxcrm.web.api.pages import PageOut
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, Limit, ResourceId
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow, WriterPrincipal

__all__ = ["MailAccountOut", "NotificationOut", "router"]

accounts_router = APIRouter(prefix="/mail-accounts", tags=["mail accounts"])
notifications_router = APIRouter(prefix="/notifications", tags=["notifications"])


class MailAccountOut(BaseModel):
    """A connected (or disconnected) mailbox, its sync state and progress. Never any token."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    provider: str
    email: str
    status: str
    scopes: list[str]
    features: dict[str, bool]
    missing_scopes: list[str]
    notices: dict[str, str]
    sync_phase: str
    sync_progress: dict[str, Any]
    messages_scanned: int
    messages_stored: int
    last_sync_at: datetime | None
    last_full_sync_at: datetime | None
    last_error: str | None
    watch_expiration: datetime | None
    created_at: datetime
    disconnected_at: datetime | None
    purge_after: datetime | None
    sync_state: str
    """running, stalled, failed, synced, waiting or disconnected: from the lease and last run."""
    sync_status: dict[str, Any]
    """``state``, ``phase``, ``mode``, ``percent``, ``run`` (the running or last run's counts),
    ``totals`` (the account's stored/skipped/pending/conversations), ``error``, ``follow_up``."""
    messages_skipped: int


class AuthorizationOut(BaseModel):
    authorization_url: str


class SyncQueuedOut(BaseModel):
    queued: bool
    full: bool
    account: MailAccountOut


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    read: bool
    link: str | None = None
    """The app page it points at (e.g. ``/contacts/7``), or null."""


def _account_out(account: mail_accounts.MailAccount) -> MailAccountOut:
    return MailAccountOut.model_validate(account)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@accounts_router.post("/gmail/authorize", response_model=AuthorizationOut)
def authorize_gmail(principal: WriterPrincipal, runtime: RuntimeDep) -> AuthorizationOut:
    """Start connecting a Gmail account: send the user's browser to ``authorization_url``.

    The callback completes only in a browser signed in to inboxcrm as the calling user; a
    consent link opened by anyone else connects nothing.
    """
    url = mail_connect.start_gmail_authorization(runtime, principal)
    return AuthorizationOut(authorization_url=url)


@accounts_router.get("", response_model=PageOut[MailAccountOut])
def list_accounts(principal: CurrentPrincipal, uow: TenantUow) -> PageOut[MailAccountOut]:
    """The caller's mail accounts (an admin sees all of the tenant's), in one page."""
    items = [_account_out(a) for a in mail_accounts.list_mail_accounts(uow, principal)]
    return PageOut(items=items, next_cursor=None)


@accounts_router.get("/{id}", response_model=MailAccountOut)
def get_account(
    principal: CurrentPrincipal, uow: TenantUow, account_id: ResourceId
) -> MailAccountOut:
    return _account_out(mail_accounts.get_mail_account(uow, principal, account_id))


@accounts_router.post("/{id}/sync", status_code=202, response_model=SyncQueuedOut)
def sync_account(
    principal: WriterPrincipal,
    uow: TenantUow,
    account_id: ResourceId,
    full: Annotated[bool, Query(description="Re-scan the whole mailbox")] = False,
) -> SyncQueuedOut:
    """Queue a sync of the account now (incremental, or a full re-scan with ``full=true``)."""
    account = mail_accounts.request_account_sync(uow, principal, account_id, full=full)
    return SyncQueuedOut(queued=True, full=full, account=_account_out(account))


@accounts_router.delete("/{id}", response_model=MailAccountOut)
def disconnect_account(
    principal: WriterPrincipal, runtime: RuntimeDep, request: Request, account_id: ResourceId
) -> MailAccountOut:
    """Disconnect: revoke at Google, delete tokens now, purge synced mail after a grace period."""
    account = mail_accounts.disconnect_mail_account(
        runtime,
        principal,
        account_id,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return _account_out(account)


@notifications_router.get("", response_model=PageOut[NotificationOut])
def list_notifications(
    principal: CurrentPrincipal,
    uow: TenantUow,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    unread: Annotated[bool, Query(description="Only unread notifications")] = False,
) -> PageOut[NotificationOut]:
    """The caller's notifications, newest first."""
    page = notifications.list_notifications(
        uow, principal.user_id, cursor=cursor, limit=limit, unread_only=unread
    )
    return PageOut(
        items=[NotificationOut.model_validate(n) for n in page.items], next_cursor=page.next_cursor
    )


@notifications_router.post("/{id}/read", response_model=NotificationOut)
def read_notification(
    principal: CurrentPrincipal, uow: TenantUow, notification_id: ResourceId
) -> NotificationOut:
    return NotificationOut.model_validate(
        notifications.mark_notification_read(uow, principal.user_id, notification_id)
    )


router = APIRouter()
router.include_router(accounts_router)
router.include_router(notifications_router)
