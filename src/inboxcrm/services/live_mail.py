"""Opening a message stored under the ``live`` storage policy: its content comes from Gmail.

Under ``live`` the database keeps only the Gmail ids and the matching/threading headers of a
message (sync.ingest). When a user opens it (``GET /api/v1/email-messages/{id}/content``):

1. the message must exist, not be deleted, and be visible to the reader at the ``everything``
   detail (mail sharing, services.mail_sharing), else 404 / 403;
2. its mailbox must still be connected: after a disconnect the content is no longer viewable
   (410), as inboxcrm has no tokens any more and keeps nothing to show;
3. the raw message is fetched with the mailbox's own credentials, parsed, and kept in a short
   in-memory cache (:data:`CACHE_SECONDS`, at most :data:`CACHE_SIZE` messages per process) so a
   reader paging back and forth does not refetch; it is never written to the database, a file
   or a log. Messages of other policies answer from the database (``source: "stored"``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, EmailThreadRow, MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import InboxCrmError, NotFound, PermissionDenied
from inboxcrm.domain.mail_parsing import parse_message
from inboxcrm.domain.sharing import Detail
from inboxcrm.services.identity import Principal
from inboxcrm.services.mail_sharing import mail_viewer, read_scope
from inboxcrm.sync.ingest import load_tenant_mail_settings

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_SECONDS",
    "MessageContent",
    "NoLongerViewable",
    "fetch_live_content",
    "message_content",
]

CACHE_SECONDS = 300.0
CACHE_SIZE = 256


class NoLongerViewable(InboxCrmError):
    """The mailbox of a live-policy message was disconnected: its content is gone from here."""

    code = "no_longer_viewable"
    status = 410


@dataclass(frozen=True)
class MessageContent:
    message_id: int
    provider_message_id: str
    subject: str
    body_text: str | None
    body_html: str | None
    source: str  # "live" (fetched from Gmail now or from the short cache) or "stored"


_Key = tuple[str, int, int, str]
"""(tenant database, mail account id, message row id, Gmail message id): unique per message even
when a tenant's database is recreated under the same slug."""


class _Cache:
    """A small, thread-safe, time-limited LRU of fetched contents (process memory only)."""

    def __init__(self) -> None:
        self._items: OrderedDict[_Key, tuple[float, MessageContent]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _Key) -> MessageContent | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: _Key, content: MessageContent) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + CACHE_SECONDS, content)
            self._items.move_to_end(key)
            while len(self._items) > CACHE_SIZE:
                self._items.popitem(last=False)


_cache = _Cache()


def message_content(runtime: Runtime, principal: Principal, message_id: int) -> MessageContent:
    """The subject and bodies of a message the reader may see in full; see the module docstring."""
    tenant = principal.tenant_slug
    viewer = mail_viewer(runtime, principal)
    with runtime.tenant_uow(tenant) as uow:
        found = uow.session.execute(
            select(EmailMessageRow, EmailThreadRow, MailAccountRow)
            .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
            .join(MailAccountRow, MailAccountRow.id == EmailMessageRow.mail_account_id)
            .where(EmailMessageRow.id == message_id, EmailMessageRow.deleted_at.is_(None))
        ).first()
        if found is None:
            raise NotFound(f"no email message {message_id}")
        message, thread, account = found
        detail = read_scope(uow, viewer).detail_for(
            account.id, thread.sharing, thread.sharing_detail
        )
        if detail is None:
            raise NotFound(f"no email message {message_id}")
        if detail is not Detail.EVERYTHING:
            raise PermissionDenied("the mailbox's owner shares only part of this message")
        policy, _, _ = load_tenant_mail_settings(uow.session)
        stored_only = message.body_text is not None or message.body_html is not None
        if policy != "live" or stored_only:
            return MessageContent(
                message.id,
                message.provider_message_id,
                message.subject,
                message.body_text,
                message.body_html,
                "stored",
            )
        if account.status == "disconnected":
            raise NoLongerViewable(
                "this message's mailbox was disconnected, so its content is no longer available"
            )
        account_id, provider_id = account.id, message.provider_message_id
    return fetch_live_content(runtime, tenant, account_id, message_id, provider_id)


def fetch_live_content(
    runtime: Runtime, tenant: str, account_id: int, message_id: int, provider_id: str
) -> MessageContent:
    """Fetch a live-policy message from its mailbox (or the short cache); the caller has
    checked that the reader may see it and that the mailbox is connected."""
    from inboxcrm.services.mail_accounts import open_mailbox

    key = (runtime.tenants.url_for(tenant), account_id, message_id, provider_id)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    client = open_mailbox(runtime, tenant, account_id)
    fetched = client.fetch_messages([provider_id], fmt="raw")
    if not fetched or fetched[0].raw is None:
        raise NotFound(f"email message {message_id} is no longer in the mailbox")
    parsed = parse_message(fetched[0].raw, internal_date=fetched[0].internal_date)
    content = MessageContent(
        message_id, provider_id, parsed.subject or "", parsed.text_body, parsed.html_body, "live"
    )
    _cache.put(key, content)
    logger.debug("live content of message %s fetched in tenant %s", message_id, tenant)
    return content
