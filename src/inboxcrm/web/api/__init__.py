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

from inboxcrm.web.api import imap_accounts  # noqa: E402  (connect IMAP/POP3 + SMTP mailboxes)

api_router.include_router(imap_accounts.router)

from inboxcrm.web.api import mail_sync  # noqa: E402  (sync ledger, mail settings, never-log)

api_router.include_router(mail_sync.router)

from inboxcrm.web.api import mail_sharing  # noqa: E402  (mailbox, thread and tenant sharing)

api_router.include_router(mail_sharing.router)

from inboxcrm.web.api import audit_log  # noqa: E402  (the tenant's audit log, admins)

api_router.include_router(audit_log.router)
from inboxcrm.web.api import messages  # noqa: E402  (compose, reply, send, retry)

api_router.include_router(messages.router)
from inboxcrm.web.api import mail_account_grants  # noqa: E402  (grant missing Gmail scopes)

api_router.include_router(mail_account_grants.router)

from inboxcrm.web.api import record_restore  # noqa: E402  (restore within the grace period)

api_router.include_router(record_restore.router)

from inboxcrm.web.api import exports  # noqa: E402  (data exports, admins)

api_router.include_router(exports.router)

from inboxcrm.web.api import erasure_requests  # noqa: E402  (deletion on request, admins)

api_router.include_router(erasure_requests.router)

from inboxcrm.web.api import support_grants  # noqa: E402  (support access grants, admins)

api_router.include_router(support_grants.router)

from inboxcrm.web.api import tenant_users  # noqa: E402  (users and roles, admins)

api_router.include_router(tenant_users.router)

from inboxcrm.web.api import email_content  # noqa: E402  (message content; live from Gmail)

api_router.include_router(email_content.router)

from inboxcrm.web.api import drafts  # noqa: E402  (AI drafts: create, edit, approve, discard)

api_router.include_router(drafts.router)
from inboxcrm.web.api import email_messages  # noqa: E402  (archive, read/unread, removal)

api_router.include_router(email_messages.messages_router)
api_router.include_router(email_messages.threads_router)
from inboxcrm.web.api import meetings  # noqa: E402  (meetings, calendar sync)

api_router.include_router(meetings.router)
from inboxcrm.web.api import support_reads  # noqa: E402  (staff read mail flagged for support)

api_router.include_router(support_reads.router)

from inboxcrm.web.api import contacts_import  # noqa: E402  (Google Contacts import)

api_router.include_router(contacts_import.router)
