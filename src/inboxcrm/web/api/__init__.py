"""The JSON API, mounted under /api/v1. Each resource module adds its routes here."""

from __future__ import annotations

from fastapi import APIRouter

from inboxcrm.web.api import accounts, contacts, deals, leads, me, notes, timelines

api_router = APIRouter()
api_router.include_router(me.router)
for _resource in (leads, contacts, accounts, deals, notes, timelines):
    api_router.include_router(_resource.router)

from inboxcrm.web.api import mail_accounts  # noqa: E402  (mail accounts + notifications)

api_router.include_router(mail_accounts.router)

from inboxcrm.web.api import mail_sync  # noqa: E402  (sync ledger, mail settings, never-log)

api_router.include_router(mail_sync.router)

from inboxcrm.web.api import mail_sharing  # noqa: E402  (mailbox, thread and tenant sharing)

api_router.include_router(mail_sharing.router)

from inboxcrm.web.api import audit_log  # noqa: E402  (the tenant's audit log, admins)

api_router.include_router(audit_log.router)
from inboxcrm.web.api import messages  # noqa: E402  (compose, reply, send, retry)

api_router.include_router(messages.router)
from inboxcrm.web.api import users  # noqa: E402  (users and their Mail Integration permission)

api_router.include_router(users.router)
from inboxcrm.web.api import email_messages  # noqa: E402  (archive, read/unread, removal)

api_router.include_router(email_messages.messages_router)
api_router.include_router(email_messages.threads_router)
